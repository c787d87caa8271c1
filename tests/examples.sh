#!/bin/sh
# tests/examples.sh DIR [EXPECTED] — run every example that has an expected output in
# EXPECTED (default examples/expected), built in DIR, most of them at once; compare
# each one's output and exit status with what is expected and its elapsed time with
# the bounds given there; end with one line "examples: N passed, M failed".
#
# EXPECTED/NAME.out holds directives, then the expected stdout; NAME.err (optional)
# the expected stderr. NAME is the program's name, optionally followed by @TAG to
# run one program several ways. Each line of either file is one of
#   text            the output line, exactly
#   ~ERE            a line matching this extended regular expression (whole line)
#   #sorted .. #end these exact lines in any order: documented non-determinism,
#                   e.g. the iteration order of a Python set
#   #any            any number of lines, up to the next expected line
#   # comment       ignored
# Directives (NAME.out only):
#   #time LO HI     elapsed wall seconds; HI is multiplied by COIO_TEST_SLACK, LO not
#   #args ...       command-line arguments; @PORT@ is the example server's port
#   #exit N         the expected exit status (default 0)
#   #server         the HTTP server the network examples use: started first with
#                   argument 0 (a free port, read from its first line), stopped with
#                   SIGTERM once the others are done
# Environment: RUNNER (prefix command, e.g. qemu-aarch64), COIO_TEST_SLACK,
# EXAMPLE_JOBS (how many examples run at once; default 16 — they mostly sleep).

dir=${1:?usage: tests/examples.sh DIR [EXPECTED]}
exp=${2:-examples/expected}
slack=${COIO_TEST_SLACK:-1}
jobs=${EXAMPLE_JOBS:-16}
tmp=$(mktemp -d)
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT

if [ "$(date +%N)" != N ] && [ "$(date +%N)" != "%N" ]; then
    now() { date +%s.%N; }
else                                    # BSD date has no %N
    now() { perl -MTime::HiRes=time -e 'printf "%.6f\n", time'; }
fi

# The value of directive $2 in file $1 (empty if absent).
directive() { sed -n "s/^#$2 *//p" "$1" | head -n 1; }
has_directive() { grep -q "^#$2\$" "$1" || grep -q "^#$2 " "$1"; }

# Compare expected file $1 (directives skipped) with actual output $2; prints why
# on a mismatch and exits 1.
compare() {
    LC_ALL=C awk '
    function match_line(x, y) {
        if (substr(x, 1, 1) == "~")
            return y ~ ("^(" substr(x, 2) ")$")
        return x == y
    }
    function fail(msg) { print "    " msg; exit 1 }
    function isort(arr, n,    i, k, v) {
        for (i = 2; i <= n; i++) {
            v = arr[i]
            for (k = i - 1; k >= 1 && arr[k] > v; k--)
                arr[k + 1] = arr[k]
            arr[k + 1] = v
        }
    }
    FNR == NR {
        if ($0 ~ /^#(time|args|exit|server)( |$)/ || $0 ~ /^# / || $0 == "#")
            next
        e[++ne] = $0
        next
    }
    { a[++na] = $0 }
    END {
        i = 1; j = 1
        while (i <= ne) {
            x = e[i]
            if (x == "#sorted") {
                k = 0
                for (i++; i <= ne && e[i] != "#end"; i++)
                    se[++k] = e[i]
                i++
                if (j + k - 1 > na)
                    fail(sprintf("output ended inside a #sorted block (%d lines from line %d)", k, j))
                for (m = 1; m <= k; m++)
                    sa[m] = a[j + m - 1]
                isort(se, k); isort(sa, k)
                for (m = 1; m <= k; m++)
                    if (se[m] != sa[m])
                        fail(sprintf("lines %d-%d differ as a set: expected \"%s\", got \"%s\"", j, j + k - 1, se[m], sa[m]))
                j += k
                continue
            }
            if (x == "#any") {
                i++
                if (i > ne) { j = na + 1; continue }
                while (j <= na && !match_line(e[i], a[j]))
                    j++
                if (j > na)
                    fail("expected line not found: \"" e[i] "\"")
                continue
            }
            if (j > na)
                fail("output ended; expected line " j ": \"" x "\"")
            if (!match_line(x, a[j]))
                fail(sprintf("line %d: expected \"%s\", got \"%s\"", j, x, a[j]))
            i++; j++
        }
        if (j <= na)
            fail(sprintf("line %d: unexpected output \"%s\"", j, a[j]))
    }' "$1" "$2"
}

# Run example $1 (file name without .out) in the background: stdout, stderr, exit
# status and start/end times go to $tmp/$1.*.
run_one() {
    name=$1
    bin=$dir/${name%%@*}
    args=$(directive "$exp/$name.out" args | sed "s/@PORT@/$port/g")
    (
        t0=$(now)
        # shellcheck disable=SC2086  # args are split on purpose
        $RUNNER "$bin" $args > "$tmp/$name.stdout" 2> "$tmp/$name.stderr" < /dev/null
        echo $? > "$tmp/$name.rc"
        echo "$t0 $(now)" > "$tmp/$name.time"
    ) &
}

names=""
server=""
for f in "$exp"/*.out; do
    [ -f "$f" ] || continue
    n=$(basename "$f" .out)
    if has_directive "$f" server; then server=$n; else names="$names $n"; fi
done

# The server first: its first line names the port.
port=0
if [ -n "$server" ]; then
    t0=$(now)
    $RUNNER "$dir/${server%%@*}" 0 > "$tmp/$server.stdout" 2> "$tmp/$server.stderr" < /dev/null &
    spid=$!
    tries=0
    maxtries=$(awk -v s="$slack" 'BEGIN { n = int(100 * s); print n < 100 ? 100 : n }')
    while :; do
        port=$(sed -n 's/.* port \([0-9][0-9]*\) .*/\1/p' "$tmp/$server.stdout" | head -n 1)
        [ -n "$port" ] && break
        tries=$((tries + 1))
        if [ "$tries" -gt "$maxtries" ] || ! kill -0 "$spid" 2>/dev/null; then
            port=0
            break
        fi
        sleep 0.1
    done
fi

# The others, $jobs at a time.
running=0
pids=""
for n in $names; do
    run_one "$n"
    pids="$pids $!"
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        set -- $pids
        wait "$1"
        shift
        pids="$*"
        running=$((running - 1))
    fi
done
wait $pids

if [ -n "$server" ]; then
    kill -TERM "$spid" 2>/dev/null
    wait "$spid"
    echo $? > "$tmp/$server.rc"
    echo "$t0 $(now)" > "$tmp/$server.time"
    spid=""
fi

passed=0
failed=0
bad=""
for n in $server $names; do
    f=$exp/$n.out
    why=""
    if [ ! -x "$dir/${n%%@*}" ]; then
        why="    not built: $dir/${n%%@*}"
    else
        rc=$(cat "$tmp/$n.rc" 2>/dev/null || echo "?")
        want=$(directive "$f" exit)
        [ "$rc" = "${want:-0}" ] || why="    exit status $rc, expected ${want:-0}"
        bounds=$(directive "$f" time)
        el=$(awk '{ printf "%.2f", $2 - $1 }' "$tmp/$n.time")
        if [ -n "$bounds" ]; then
            msg=$(echo "$bounds" | awk -v el="$el" -v s="$slack" \
                '{ if (el < $1 || el > $2 * s) printf "    took %.2f s, expected %s to %.2f s", el, $1, $2 * s }')
            [ -n "$msg" ] && why="$why${why:+
}$msg"
        fi
        if ! msg=$(compare "$f" "$tmp/$n.stdout"); then
            why="$why${why:+
}    stdout:
$msg"
        fi
        if [ -f "$exp/$n.err" ] && ! msg=$(compare "$exp/$n.err" "$tmp/$n.stderr"); then
            why="$why${why:+
}    stderr:
$msg"
        fi
    fi
    if [ -z "$why" ]; then
        echo "ok   $n (${el} s)"
        passed=$((passed + 1))
    else
        echo "FAIL $n"
        echo "$why"
        for s in stdout stderr; do
            if [ -s "$tmp/$n.$s" ]; then
                echo "    --- $s (first 30 lines):"
                head -n 30 "$tmp/$n.$s" | sed 's/^/    | /'
            fi
        done
        failed=$((failed + 1))
        bad="$bad $n"
    fi
done

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failing examples:$bad"; exit 1; }
