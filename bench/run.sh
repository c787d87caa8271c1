#!/bin/sh
# bench/run.sh BUILD_DIR — run coio's six workloads and every peer that was
# built (bench/peers/build.sh), REPEAT times each, pinned with taskset; print
# the median with min-max per figure, the coio/peer ratios and the goals of
# issue 5, and write bench/results.csv (workload,impl,metric,value,unit,runs,min,max).
#
# Environment:
#   REPEAT=N          runs per figure (default 3; 1 with BENCH_QUICK)
#   BENCH_QUICK=1     smoke run: BENCH_SCALE=0.1, W3 at 10,000 tasks, W5 0.2+1 s,
#                     CSV to BUILD_DIR/bench/results-quick.csv
#   BENCH_CSV=FILE    where to write the CSV
#   BENCH_SCALE=F     multiply iteration counts (W1, W2, W4, W6)
#   BENCH_IMPLS="coio go ..."   only these implementations
#   BENCH_WORKLOADS="W1 W5 ..." only these workloads
#   W3_SIZES="100000 1000000"   W3 task counts;  W5_WARM=1 W5_SECS=10 W5_CONNS=50
build=$1
bin=$build/bench
peers=$bin/peers
csv=${BENCH_CSV:-bench/results.csv}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    repeat=${REPEAT:-1}
    BENCH_SCALE=${BENCH_SCALE:-0.1}
    export BENCH_SCALE
    sizes=${W3_SIZES:-10000}
    warm=${W5_WARM:-0.2}
    secs=${W5_SECS:-1}
    csv=${BENCH_CSV:-$bin/results-quick.csv} # smoke figures stay out of the tree
else
    repeat=${REPEAT:-3}
    sizes=${W3_SIZES:-100000 1000000}
    warm=${W5_WARM:-1}
    secs=${W5_SECS:-10}
fi
conns=${W5_CONNS:-50}
impls=${BENCH_IMPLS:-coio ucontext fcontext epoll libuv go asyncio}
workloads=${BENCH_WORKLOADS:-W1 W2 W3 W4 W5 W6}
export GOMAXPROCS=1

# Everything runs on CPU 0; W5's load client runs on CPU 1.
pin0="" pin1=""
if command -v taskset >/dev/null 2>&1; then
    pin0="taskset -c 0"
    pin1="taskset -c 0"
    [ "$(nproc)" -ge 2 ] && pin1="taskset -c 1"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
raw=$tmp/raw

# One job per line: IMPL WORKLOAD COMMAND... (W5 commands are echo servers).
job_list() {
    cat <<EOF
coio W1 $bin/bench_switch
coio W2 $bin/bench_spawn
coio W3 $bin/bench_sleepers $sizes
coio W4 $bin/bench_queue
coio W5 $bin/echo_server
coio W6 $bin/bench_timers
ucontext W1 $peers/ucontext_switch
fcontext W1 $peers/fcontext_switch
epoll W5 $peers/echo_epoll
libuv W5 $peers/uv_bench echo
libuv W6 $peers/uv_bench timers
EOF
    for p in go:go_bench asyncio:asyncio_bench; do
        i=${p%%:*} b=$peers/${p#*:}
        printf '%s W1 %s switch\n%s W2 %s spawn\n%s W3 %s sleepers %s\n' "$i" "$b" "$i" "$b" "$i" "$b" "$sizes"
        printf '%s W4 %s queue\n%s W5 %s echo\n%s W6 %s timers\n' "$i" "$b" "$i" "$b" "$i" "$b"
    done
}

# Start an echo server on a free port (it prints the port), drive it with
# echo_client, stop it.
run_echo() { # IMPL SERVER...
    impl=$1
    shift
    $pin0 "$@" 0 </dev/null >"$tmp/port" 2>"$tmp/server.err" &
    spid=$!
    port="" n=0
    while [ $n -lt 200 ]; do
        port=$(head -n 1 "$tmp/port")
        [ -n "$port" ] && break
        kill -0 $spid 2>/dev/null || break
        sleep 0.05
        n=$((n + 1))
    done
    if [ -z "$port" ]; then
        echo "bench: $impl echo server did not start: $(cat "$tmp/server.err")" >&2
    else
        $pin1 "$bin/echo_client" "$impl" "$port" "$conns" "$warm" "$secs" </dev/null >>"$raw" ||
            echo "bench: W5 $impl failed" >&2
    fi
    kill $spid 2>/dev/null
    wait $spid 2>/dev/null
}

want() { # WORD LIST...
    w=$1
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

: >"$raw"
start=$(date +%s)
r=1
while [ $r -le "$repeat" ]; do
    job_list | while read -r impl wl cmd; do
        want "$impl" $impls && want "$wl" $workloads || continue
        set -- $cmd
        [ -x "$1" ] || continue
        echo "bench: run $r/$repeat: $impl $wl" >&2
        if [ "$wl" = W5 ]; then
            run_echo "$impl" "$@"
        else
            $pin0 "$@" </dev/null >>"$raw" || echo "bench: $impl $wl failed" >&2
        fi
    done
    r=$((r + 1))
done

echo
echo "coio benchmarks — $(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%d), median of $repeat run(s), $(($(date +%s) - start)) s"
[ "${BENCH_QUICK:-0}" = 1 ] && echo "(BENCH_QUICK smoke run: shortened workloads, not comparable figures)"
awk -F, -v csv="$csv" '
function med_of(key,   m, a, b, t) {
    m = n[key]
    for (a = 1; a <= m; a++) s[a] = v[key, a] + 0
    for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
    lo = s[1]; hi = s[m]
    return (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
}
function has(wl, impl, metric) { return ((wl SUBSEP impl SUBSEP metric) in med) }
function get(wl, impl, metric) { return med[wl, impl, metric] }
# A goal on a coio/peer ratio: "<=" for times, ">=" for throughput.
function goal(wl, metric, peer, op, bound,   r, ok) {
    if (!has(wl, "coio", metric) || !has(wl, peer, metric) || get(wl, peer, metric) == 0) {
        printf "  %-8s %-16s coio/%-9s %8s   %s %.2f   n/a (not measured)\n", wl, metric, peer, "-", op, bound
        return
    }
    r = get(wl, "coio", metric) / get(wl, peer, metric)
    ok = (op == "<=") ? (r <= bound) : (r >= bound)
    printf "  %-8s %-16s coio/%-9s %8.3f   %s %.2f   %s\n", wl, metric, peer, r, op, bound, ok ? "met" : "MISSED"
}
{
    if (NF != 5 || $4 !~ /^-?[0-9.]+$/) next
    key = $1 SUBSEP $2 SUBSEP $3
    if (!(key in n)) order[++k] = key
    unit[key] = $5
    v[key, ++n[key]] = $4
}
END {
    printf "%-8s %-9s %-16s %12s %-10s %s\n", "workload", "impl", "metric", "median", "unit", "min - max"
    print "workload,impl,metric,value,unit,runs,min,max" > csv
    for (i = 1; i <= k; i++) {
        key = order[i]
        split(key, f, SUBSEP)
        m = med_of(key)
        med[key] = m
        printf "%-8s %-9s %-16s %12.2f %-10s %.2f - %.2f\n", f[1], f[2], f[3], m, unit[key], lo, hi
        printf "%s,%s,%s,%.3f,%s,%d,%.3f,%.3f\n", f[1], f[2], f[3], m, unit[key], n[key], lo, hi > csv
    }
    np = split("ucontext fcontext epoll libuv go asyncio", peer, " ")
    print ""
    print "coio/peer, medians of this run (times: < 1 means coio is faster; requests/s: > 1)"
    printf "%-8s %-16s", "workload", "metric"
    for (p = 1; p <= np; p++) printf " %9s", peer[p]
    print ""
    for (i = 1; i <= k; i++) {
        split(order[i], f, SUBSEP)
        if (f[2] != "coio") continue
        line = sprintf("%-8s %-16s", f[1], f[3]); any = 0
        for (p = 1; p <= np; p++) {
            if (has(f[1], peer[p], f[3]) && get(f[1], peer[p], f[3]) != 0) {
                line = line sprintf(" %9.3f", get(f[1], "coio", f[3]) / get(f[1], peer[p], f[3])); any = 1
            } else line = line sprintf(" %9s", "-")
        }
        if (any) print line
    }
    print ""
    print "goals (issue 5)"
    goal("W1", "raw switch", "fcontext", "<=", 1.0)
    goal("W1", "scheduled yield", "go", "<=", 0.2)
    goal("W2", "spawn+join", "go", "<=", 0.06)
    goal("W3-100k", "wall", "go", "<=", 0.8)
    if (has("W3-100k", "coio", "bytes per task")) {
        b = get("W3-100k", "coio", "bytes per task")
        printf "  %-8s %-16s %-14s %8.0f   <= 4608 B  %s\n", "W3-100k", "bytes per task", "coio", b, b <= 4608 ? "met" : "MISSED"
    }
    if (has("W3-1000k", "coio", "wall")) {
        w = get("W3-1000k", "coio", "wall")
        printf "  %-8s %-16s %-14s %8.2f   completes  %s\n", "W3-1000k", "wall (s)", "coio", w, (w > 0) ? "met" : "MISSED"
    }
    goal("W4", "cap 1", "go", "<=", 0.5)
    goal("W4", "cap 1024", "go", "<=", 1.0)
    goal("W5", "requests/s", "epoll", ">=", 0.95)
    goal("W5", "requests/s", "go", ">=", 1.05)
    goal("W6", "schedule+cancel", "libuv", "<=", 1.0)
}' "$raw"
echo
echo "written: $csv"
