#!/bin/sh
# tests/fuzz/run.sh DIR SECONDS NAME... — run each libFuzzer target DIR/fuzz_NAME
# for SECONDS from its committed seed corpus tests/fuzz/corpus/NAME/ (read only:
# new inputs go to DIR/corpus-NAME/, crash inputs to DIR/crash-NAME-*). Prints
# each target's total runs and exec/s; exits non-zero if any target found a
# crash, a sanitizer report, a leak or a failed check (its log is printed).
set -u
dir=$1
secs=$2
shift 2
failed=0
for name in "$@"; do
    bin=$dir/fuzz_$name
    seeds=tests/fuzz/corpus/$name
    work=$dir/corpus-$name
    log=$dir/fuzz_$name.log
    mkdir -p "$work"
    if [ ! -d "$seeds" ]; then
        echo "fuzz: FAIL: $name has no seed corpus $seeds"
        failed=1
        continue
    fi
    "$bin" -max_total_time="$secs" -max_len=4096 -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/crash-$name-" "$work" "$seeds" > "$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    if [ $rc -ne 0 ]; then
        echo "fuzz: FAIL: $name (exit $rc); the end of $log:"
        tail -n 60 "$log"
        failed=1
    else
        echo "fuzz: ok: $name: ${runs:-?} runs in ${secs} s (${rate:-?} exec/s), corpus $(ls "$work" | wc -l) + $(ls "$seeds" | wc -l) seeds"
    fi
done
exit $failed
