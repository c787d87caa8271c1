#!/bin/sh
# tests/run.sh BIN... — run each libcheck suite (under $RUNNER if set), JOBS at a
# time (default 1), show each suite's output in argument order, and end with one
# total line "check: N passed, M failed".
jobs=${JOBS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Start suite number $1 ($2 is the binary) in the background; its output goes to
# $tmp/$1.out and its exit status to $tmp/$1.rc.
# SUITE_TIMEOUT (seconds; the qemu targets set it) bounds a whole suite on
# top of libcheck's per-test timeouts, which a wedged parent would escape.
bound=""
if [ -n "${SUITE_TIMEOUT:-}" ] && command -v timeout >/dev/null; then
    bound="timeout -k 10 $SUITE_TIMEOUT"
fi
start() {
    ( $bound $RUNNER "$2" > "$tmp/$1.out" 2>&1; echo $? > "$tmp/$1.rc" ) &
}

all="$*"
i=0; pids=""; running=0
for t in "$@"; do
    i=$((i + 1))
    start "$i" "$t"
    pids="$pids $!"; running=$((running + 1))
    # Keep at most $jobs suites running: wait for the oldest one.
    if [ "$running" -ge "$jobs" ]; then
        set -- $pids
        wait "$1"
        shift
        pids="$*"; running=$((running - 1))
        set -- $all
    fi
done
wait

passed=0; failed=0; bad=""
i=0
for t in "$@"; do
    i=$((i + 1))
    out=$(cat "$tmp/$i.out"); rc=$(cat "$tmp/$i.rc" 2>/dev/null || echo 1)
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        passed=$((passed + n - f - e)); failed=$((failed + f + e))
    fi
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        bad="$bad $(basename "$t")"
        [ -z "$line" ] && failed=$((failed + 1))
    fi
done
echo "check: $passed passed, $failed failed"
[ -z "$bad" ] || { echo "failing suites:$bad"; exit 1; }
