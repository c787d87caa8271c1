#!/bin/sh
# tests/run.sh BIN... — run each libcheck suite (under $RUNNER if set), show
# its output, and end with one total line "check: N passed, M failed".
passed=0; failed=0; bad=""
for t in "$@"; do
    out=$($RUNNER "$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        passed=$((passed + n - f - e)); failed=$((failed + f + e))
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        bad="$bad $(basename "$t")"
        [ -z "$line" ] && failed=$((failed + 1))
    fi
done
echo "check: $passed passed, $failed failed"
[ -z "$bad" ] || { echo "failing suites:$bad"; exit 1; }
