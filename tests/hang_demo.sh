#!/bin/sh
# tests/hang_demo.sh BIN — examples/hang_demo (BIN), under $RUNNER if set:
#  - it exits by itself, status 0, once its bound has passed;
#  - SIGQUIT prints the task dump and it carries on: each task's name, what it
#    waits on and the functions of its suspended stack;
#  - with -s, SIGQUIT while a task spins without yielding: the dump is made in
#    the signal handler, says so, and shows the spinning task RUNNING in spin;
#  - with -c, the fault report of the crashing task, with its stack.
set -u
bin=$1
slack=${COIO_TEST_SLACK:-1}
RUNNER=${RUNNER:-}
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
fail() { echo "hang_demo: FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "hang_demo: ok: $*"; }

# run NAME ARGS...: start the demo in the background; wait for its "ready" line.
run() {
    name=$1
    shift
    $RUNNER "$bin" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" &
    pid=$!
    i=0
    while [ $i -lt $((100 * slack)) ]; do
        grep -q '^ready pid' "$tmp/$name.out" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    fail "$name: no ready line: $(cat "$tmp/$name.err")"
    return 1
}

# wait_for FILE PATTERN: until PATTERN appears in FILE (bounded).
wait_for() {
    i=0
    while [ $i -lt $((100 * slack)) ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# finish: wait for the demo to exit; sets $rc.
finish() {
    wait "$pid" 2>/dev/null
    rc=$?
    pid=""
}

# block FILE HEADER: the lines of one task's block in a dump, from the line
# starting with HEADER to the next task.
block() {
    awk -v h="$2" 'index($0, h) == 1 { on = 1; print; next } /^--- |^coio: end/ { on = 0 } on' "$1"
}

# expect_block FILE HEADER PATTERN...: each PATTERN (grep -E) is in the block.
expect_block() {
    f=$1
    h=$2
    shift 2
    b=$(block "$f" "$h")
    [ -n "$b" ] || { fail "no block '$h' in $f"; return; }
    for p in "$@"; do
        printf '%s\n' "$b" | grep -Eq -- "$p" || fail "block '$h' lacks /$p/"
    done
}

# 1. The bound: exits by itself, status 0.
bound=$((2 * slack))
start=$(date +%s)
$RUNNER "$bin" "$bound" > "$tmp/bound.out" 2> "$tmp/bound.err"
rc=$?
took=$(($(date +%s) - start))
if [ $rc -eq 0 ] && grep -q '^bound reached' "$tmp/bound.out" && [ $took -ge $((bound - 1)) ] &&
   [ $took -le $((bound + 10 * slack)) ]; then
    pass "exits by itself after ${bound}s (took ${took}s)"
else
    fail "bound ${bound}s: status $rc after ${took}s: $(cat "$tmp/bound.out" "$tmp/bound.err")"
fi

# 2. SIGQUIT: the dump, and the program goes on to its bound.
if run quit $((5 * slack)); then
    kill -QUIT "$pid"
    if wait_for "$tmp/quit.err" '^coio: end of task dump'; then
        d="$tmp/quit.err"
        grep -q '^coio: task dump of loop 0x[0-9a-f]*, 8 tasks$' "$d" || fail "dump header: $(head -1 "$d")"
        expect_block "$d" "--- task 'main' (id 1): suspended" 'waits on: sleep, wakes in [0-9.]+s' \
            ' in coio_sleep\+' ' in main_task\+'
        expect_block "$d" "--- task 'cache-refresh' (id 2): suspended" \
            'waits on: sleep, wakes in 3[0-9]{3}\.[0-9]{3}s' ' in coio_sleep\+' ' in refresh_cache\+'
        for r in "request 1' (id 3)" "request 2' (id 4)"; do
            expect_block "$d" "--- task '$r: suspended" \
                "waits on: lock at 0x[0-9a-f]+, held by task 'cache-refresh' \(id 2\)" \
                ' in coio_lock_acquire\+' ' in handle_request\+'
        done
        expect_block "$d" "--- task 'worker' (id 5): suspended" \
            'waits on: queue get on 0x[0-9a-f]+ \(qsize 0, maxsize 16\)' ' in coio_queue_get\+' ' in run_worker\+'
        expect_block "$d" "--- task 'acceptor' (id 6): suspended" 'waits on: fd [0-9]+ readable$' \
            ' in coio_accept\+' ' in accept_clients\+'
        expect_block "$d" "--- task 'conn 1' (id 7): suspended" 'waits on: fd [0-9]+ readable$' \
            ' in coio_read\+' ' in read_conn\+'
        expect_block "$d" "--- task 'reporter' (id 8): suspended" \
            "waits on: await of task 'cache-refresh' \(id 2\)" ' in coio_await\+' ' in report_when_refreshed\+'
    else
        fail "no dump after SIGQUIT: $(cat "$tmp/quit.err")"
    fi
    finish
    if [ $rc -eq 0 ] && grep -q '^bound reached' "$tmp/quit.out"; then
        pass "SIGQUIT dump: names, waits and stacks of 8 tasks; the program carried on"
    else
        fail "after the dump: status $rc, $(cat "$tmp/quit.out")"
    fi
fi

# 3. SIGQUIT while a task spins: the dump is made in the handler.
if run spin -s $((5 * slack)); then
    kill -QUIT "$pid"
    if wait_for "$tmp/spin.err" '^coio: end of task dump'; then
        d="$tmp/spin.err"
        grep -q '^coio: task dump of loop 0x[0-9a-f]*, 9 tasks (made in a signal handler while a task ran: possibly inconsistent)$' "$d" ||
            fail "spin dump header: $(head -1 "$d")"
        expect_block "$d" "--- task 'spinner' (id 9): RUNNING" 'stack \(running\):' ' in (spin_step|spin)\+'
        expect_block "$d" "--- task 'request 1' (id 3): suspended" "held by task 'cache-refresh'" \
            ' in handle_request\+'
    else
        fail "no dump after SIGQUIT while spinning: $(cat "$tmp/spin.err")"
    fi
    finish
    [ $rc -eq 0 ] && pass "SIGQUIT while a task spins: dump from the handler, spinner RUNNING" ||
        fail "spinning demo: status $rc"
fi

# 4. The fault report of a crashing task.
if run crash -c $((20 * slack)); then
    finish
    e="$tmp/crash.err"
    if [ $rc -ne 0 ] && grep -q "^coio: SIGSEGV in task 'crasher' (id 9) at 0x[0-9a-f]*$" "$e" &&
       grep -Eq '^ +#0 0x[0-9a-f]+ in store_to\+' "$e" && grep -Eq '^ +#1 0x[0-9a-f]+ in crash\+' "$e"; then
        pass "fault report: SIGSEGV in task 'crasher', stack store_to < crash (status $rc)"
    else
        fail "fault report (status $rc): $(cat "$e")"
    fi
fi

[ $failed -eq 0 ] || { echo "hang_demo: $failed failed"; exit 1; }
echo "hang_demo: all passed"
