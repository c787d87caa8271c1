#!/bin/sh
# tests/gdb.sh BIN — tools/coio-gdb.py (`coio tasks`, `coio bt`) against
# examples/hang_demo (BIN), with gdb -batch:
#  1. the process stopped in the loop context (a breakpoint in the demo's
#     `ready` callback): every task's name, state and wait, and the functions
#     of each suspended task's backtrace, down to coio__trampoline;
#  2. a core file of that process (gcore), read with no process: the same;
#     2b. the core the kernel wrote for the demo's crashing task (-c), when
#     core_pattern writes a file in the working directory;
#  3. the process stopped inside a task that never yields (spin_step): that
#     task is RUNNING, the others still unwind, and gdb's own frames are as
#     they were (no register written, the selected frame kept).
# Natively with gdb. With RUNNER=qemu-ARCH (make check-aarch64), the demo runs
# under qemu's gdbstub (qemu-ARCH -g PORT) and gdb-multiarch connects to it:
# steps 1 and 3 (a core file of a qemu-user guest is qemu's, not the guest's).
# SANITIZE=address (set by make check) skips step 2: see there.
# Prints "skipped: gdb not installed" when the gdb it needs is missing.
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../tools/coio-gdb.py
RUNNER=${RUNNER:-}
slack=${COIO_TEST_SLACK:-1}
gdb=gdb
case "$RUNNER" in
"") ;;
*qemu-*) gdb=gdb-multiarch ;;
*) echo "gdb: FAILED: RUNNER '$RUNNER' is neither empty nor qemu"; exit 1 ;;
esac
if ! command -v "$gdb" >/dev/null 2>&1; then
    echo "gdb: skipped: gdb not installed ($gdb; apt-get install gdb gdb-multiarch)"
    exit 0
fi

tmp=$(mktemp -d)
qpid=""
cleanup() {
    [ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
fail() { echo "gdb: FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "gdb: ok: $*"; }

# session OUT BREAK ARGS -- GDBCMD...: run the demo with ARGS until BREAK, then
# run each GDBCMD; all output to OUT. Natively gdb starts the demo; under qemu
# the demo waits for gdb on a free port (a few ports are tried).
session() {
    out=$1
    brk=$2
    shift 2
    args=""
    while [ "$1" != "--" ]; do
        args="$args $1"
        shift
    done
    shift
    set -- -batch -nx -ex 'set pagination off' -ex 'set width 0' -ex "source $script" "$@"
    if [ -z "$RUNNER" ]; then
        timeout $((120 * slack)) "$gdb" -ex "break $brk" -ex run "$@" -ex kill --args "$bin" $args \
            > "$out" 2>&1
        return
    fi
    for attempt in 1 2 3 4 5; do
        port=$((30000 + ($$ * 7 + attempt * 1543 + $(date +%s)) % 30000))
        $RUNNER -g "$port" "$bin" $args > "$out.prog" 2>&1 &
        qpid=$!
        timeout $((120 * slack)) "$gdb" -ex 'set tcp connect-timeout 10' -ex "target remote 127.0.0.1:$port" \
            -ex "break $brk" -ex continue "$@" -ex kill "$bin" > "$out" 2>&1
        kill -KILL "$qpid" 2>/dev/null
        wait "$qpid" 2>/dev/null
        qpid=""
        grep -q '^Breakpoint 1, ' "$out" && return
        grep -q 'Address already in use\|bind' "$out.prog" || return
    done
}

# after FILE PATTERN: the line after the first line matching PATTERN (grep -E).
after() { awk -v p="$2" 'f { print; exit } $0 ~ p { f = 1 }' "$1"; }

# bt_block FILE HEADER: the frames `coio bt` printed after HEADER.
bt_block() { awk -v h="$2" 'index($0, h) == 1 { on = 1; next } on && /^#/ { print; next } { on = 0 }' "$1"; }

# expect_bt FILE HEADER FUNCTION...: each function is a frame of that backtrace,
# which ends in coio__trampoline (the whole task stack was walked).
expect_bt() {
    f=$1
    h=$2
    shift 2
    b=$(bt_block "$f" "$h")
    [ -n "$b" ] || { fail "no backtrace '$h' in $f"; return; }
    # gdb names the clang-assembled trampoline coio.trampoline (it reads the
    # "__" as a language's scope separator); gcc's is coio__trampoline.
    for fn in "$@" 'coio(__|\.)trampoline'; do
        printf '%s\n' "$b" | grep -Eq "^#[0-9]+ .*[ ]$fn \(" || fail "'$h' backtrace lacks $fn: $b"
    done
}

# expect_tasks FILE [N]: the `coio tasks` listing of the demo (N tasks, 8 by default).
expect_tasks() {
    f=$1
    grep -Eq "^loop 0x[0-9a-f]+: ${2:-8} tasks" "$f" || fail "$f: no 'loop ...: ${2:-8} tasks' line"
    t() { # ID NAME WAITS
        grep -Eq "^  $1 +'$2' +suspended" "$f" || fail "$f: task $1 '$2' not listed as suspended"
        after "$f" "^  $1 +'$2' " | grep -Eq "^ +waits on: $3" || fail "$f: task $1 '$2' does not wait on /$3/"
    }
    t 1 main 'sleep, wakes (in [0-9.]+s|at monotonic [0-9.]+s)$'
    t 2 cache-refresh 'sleep, wakes (in 3[0-9]{3}\.[0-9]{3}s|at monotonic)'
    t 3 'request 1' "lock at 0x[0-9a-f]+, held by task 'cache-refresh' \(id 2\)$"
    t 4 'request 2' "lock at 0x[0-9a-f]+, held by task 'cache-refresh' \(id 2\)$"
    t 5 worker 'queue get on 0x[0-9a-f]+ \(qsize 0, maxsize 16\)$'
    t 6 acceptor 'fd [0-9]+ readable$'
    t 7 'conn 1' 'fd [0-9]+ readable$'
    t 8 reporter "await of task 'cache-refresh' \(id 2\)$"
}

expect_bts() {
    f=$1
    expect_bt "$f" "task 'main' (id 1), suspended:" coio_sleep main_task
    expect_bt "$f" "task 'cache-refresh' (id 2), suspended:" coio_sleep refresh_cache
    expect_bt "$f" "task 'request 1' (id 3), suspended:" coio_lock_acquire handle_request
    expect_bt "$f" "task 'worker' (id 5), suspended:" coio_queue_get run_worker
    expect_bt "$f" "task 'acceptor' (id 6), suspended:" coio_accept accept_clients
    expect_bt "$f" "task 'conn 1' (id 7), suspended:" coio_read read_conn
    expect_bt "$f" "task 'reporter' (id 8), suspended:" coio_await report_when_refreshed
}

bts="-ex 'coio bt 1' -ex 'coio bt 2' -ex 'coio bt 3' -ex 'coio bt 5' -ex 'coio bt 6' -ex 'coio bt 7' -ex 'coio bt 8'"
where=${RUNNER:-native}

# 1. Stopped in the loop context; a core file of it on the way. Not under
# ASan: its shadow mappings (terabytes reserved) make gcore write tens of GB.
# gdb's gcore (13) cannot read memory behind the guard regions coio puts in
# its stack slabs (Linux 6.13+) and writes those stacks as zeros: the demo
# runs with guard pages then (COIO_STACK_GUARD=page). Step 2b checks a core
# the kernel wrote, which has them.
core=""
[ -z "$RUNNER" ] && [ "${SANITIZE:-}" != address ] && [ "${SANITIZE:-}" != thread ] &&
    core="-ex 'gcore $tmp/demo.core'"
export COIO_STACK_GUARD=page
eval "session \"$tmp/live\" ready 60 -- -ex 'coio tasks' $bts $core"
unset COIO_STACK_GUARD
n=$failed
expect_tasks "$tmp/live"
expect_bts "$tmp/live"
[ $failed -eq $n ] && pass "$where, stopped in the loop: coio tasks (8 tasks, waits) and coio bt of 7 tasks" ||
    { echo "--- gdb output:"; cat "$tmp/live"; }

# 2. The core file.
if [ "${SANITIZE:-}" = address ] || [ "${SANITIZE:-}" = thread ]; then
    echo "gdb: core file step not run under ASan or TSan (gcore would write their shadow memory: tens of GB)"
elif [ -z "$RUNNER" ]; then
    if [ -s "$tmp/demo.core" ]; then
        eval "timeout $((120 * slack)) gdb -batch -nx -ex 'set width 0' -ex 'source $script' -ex 'coio tasks' \
            $bts \"$bin\" \"$tmp/demo.core\"" > "$tmp/core" 2>&1
        n=$failed
        expect_tasks "$tmp/core"
        expect_bts "$tmp/core"
        [ $failed -eq $n ] && pass "core file: coio tasks and coio bt as on the live process" ||
            { echo "--- gdb output:"; cat "$tmp/core"; }
    else
        fail "gcore wrote no core file: $(grep -i core "$tmp/live")"
    fi
fi

# 2b. The core the kernel writes when a task crashes (hang_demo -c), if it
# writes one into the working directory (core_pattern not piped to a handler).
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
if [ -n "$RUNNER" ]; then
    :
elif [ "${SANITIZE:-}" = address ] || [ "${SANITIZE:-}" = thread ]; then
    echo "gdb: kernel core step not run under ASan or TSan (they exit instead of dumping core)"
else
    case "$pattern" in
    "|"* | */*)
        echo "gdb: kernel core step not run: core_pattern is '$pattern' (not a file in the working directory)" ;;
    *)
        mkdir "$tmp/kc"
        (cd "$tmp/kc" && ulimit -c unlimited && exec "$bin" -c 60) > "$tmp/kc.out" 2>&1
        kcore=$(ls "$tmp/kc" | head -n 1)
        if [ -z "$kcore" ]; then
            fail "the crashing demo left no core in $tmp/kc (core_pattern '$pattern', ulimit -c $(ulimit -c))"
        else
            eval "timeout $((120 * slack)) gdb -batch -nx -ex 'set width 0' -ex 'source $script' -ex 'coio tasks' \
                $bts -ex 'coio bt 9' \"$bin\" \"$tmp/kc/$kcore\"" > "$tmp/kcore" 2>&1
            n=$failed
            expect_tasks "$tmp/kcore" 9
            grep -Eq "^  9 +'crasher' +RUNNING" "$tmp/kcore" || fail "crasher not RUNNING in the kernel's core"
            grep -Eq "^task 'crasher' \(id 9\) is RUNNING" "$tmp/kcore" || fail "coio bt 9: crasher not RUNNING"
            expect_bts "$tmp/kcore"
            [ $failed -eq $n ] && pass "kernel core of a crash: coio tasks (crasher RUNNING) and coio bt" ||
                { echo "--- gdb output:"; cat "$tmp/kcore"; }
        fi ;;
    esac
fi

# 3. Stopped inside a task that never yields.
session "$tmp/spin" spin_step -s 60 -- -ex 'coio tasks' -ex 'coio bt 9' -ex 'up 1' -ex 'coio bt 4' \
    -ex 'echo @@frame\n' -ex 'frame' -ex 'echo @@bt\n' -ex 'bt 2'
n=$failed
s="$tmp/spin"
grep -Eq "^  9 +'spinner' +RUNNING" "$s" || fail "spinner not RUNNING in coio tasks"
grep -Eq "^task 'spinner' \(id 9\) is RUNNING( on thread 1)?:" "$s" || fail "coio bt 9 does not say RUNNING"
expect_bt "$s" "task 'request 2' (id 4), suspended:" coio_lock_acquire handle_request
# `frame` after `up 1` + `coio bt`: still frame #1, in spin; `bt 2` from spin_step.
after "$s" '^@@frame$' | grep -Eq '^#1 +(0x[0-9a-f]+ in )?spin \(' || fail "the selected frame was not kept (#1 spin)"
after "$s" '^@@bt$' | grep -Eq '^#0 +(0x[0-9a-f]+ in )?spin_step \(' || fail "the thread's own bt changed (#0 spin_step)"
[ $failed -eq $n ] && pass "$where, stopped in a spinning task: RUNNING, others unwind, gdb's frames untouched" ||
    { echo "--- gdb output:"; cat "$s"; }

[ $failed -eq 0 ] || { echo "gdb: $failed failed"; exit 1; }
echo "gdb: all passed"
