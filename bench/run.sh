#!/bin/sh
# bench/run.sh BUILD_DIR — run coio's eight workloads and every peer that was
# built (bench/peers/build.sh), REPEAT times each, pinned with taskset; print
# the median with min-max per figure, the coio/peer ratios and the goals of
# issue 5, and write bench/results.csv (workload,impl,metric,value,unit,runs,min,max).
#
# Environment:
#   REPEAT=N          runs per figure (default 3; 1 with BENCH_QUICK)
#   BENCH_QUICK=1     smoke run: BENCH_SCALE=0.1, W3 at 10,000 tasks, W5 0.2+1 s,
#                     W7 0+1 s, CSV to BUILD_DIR/bench/results-quick.csv
#   BENCH_CSV=FILE    where to write the CSV
#   BENCH_SCALE=F     multiply iteration counts (W1, W2, W4, W6)
#   BENCH_IMPLS="coio go ..."   only these implementations (coio-streams: W5's
#                     server on coio_start_server streams, beside coio's raw fds)
#   BENCH_WORKLOADS="W1 W5 ..." only these workloads
#   W3_SIZES="100000 1000000"   W3 task counts;  W5_WARM=1 W5_SECS=10 W5_CONNS=50
#   W7_WARM=1 W7_SECS=5 W7_CONNS=100   W7 HTTP: wrk -t1 against examples/http_server,
#                     bench/peers/http_epoll and uv_bench http (whole seconds: wrk's
#                     -d takes no fractions; W7_WARM=0 skips the warm-up run; 5 s
#                     keeps W7's three servers within a minute for three repeats)
#                     W7 also runs nginx (bench/nginx_server.sh: 1 worker, return 200),
#                     and W7-TLS runs examples/https_server and nginx over TLS 1.3 with
#                     the same certificate (made here with openssl), wrk over https
#   W8_MIB=256        W8's file size (32 with BENCH_QUICK); made in the temporary
#                     directory (under /tmp) and removed at exit; W8 implementations:
#                     coio (io_uring), coio-pool (COIO_BACKEND=epoll), pread, libuv,
#                     asyncio (asyncio.to_thread: os.pread, os.write, os.fdatasync)
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
    hwarm=${W7_WARM:-0}
    hsecs=${W7_SECS:-1}
    csv=${BENCH_CSV:-$bin/results-quick.csv} # smoke figures stay out of the tree
    w8mib=${W8_MIB:-32}
else
    repeat=${REPEAT:-3}
    sizes=${W3_SIZES:-100000 1000000}
    warm=${W5_WARM:-1}
    secs=${W5_SECS:-10}
    hwarm=${W7_WARM:-1}
    hsecs=${W7_SECS:-5}
fi
conns=${W5_CONNS:-50}
hconns=${W7_CONNS:-100}
impls=${BENCH_IMPLS:-coio coio-streams coio-pool pread ucontext fcontext epoll libuv go asyncio nginx}
workloads=${BENCH_WORKLOADS:-W1 W2 W3 W4 W5 W6 W7 W7-TLS W8}
w8mib=${w8mib:-${W8_MIB:-256}}
export GOMAXPROCS=1

# Everything runs on CPU 0; the load clients of W5 and W7 run on CPU 1.
pin0="" pin1=""
if command -v taskset >/dev/null 2>&1; then
    pin0="taskset -c 0"
    pin1="taskset -c 0"
    [ "$(nproc)" -ge 2 ] && pin1="taskset -c 1"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
raw=$tmp/raw
w8file=$tmp/w8.dat

# One job per line: IMPL WORKLOAD COMMAND... (W5 commands are echo servers,
# W7 commands HTTP servers).
job_list() {
    cat <<EOF
coio W1 $bin/bench_switch
coio W2 $bin/bench_spawn
coio W3 $bin/bench_sleepers $sizes
coio W4 $bin/bench_queue
coio W5 $bin/echo_server
coio-streams W5 $bin/echo_server_streams
coio W6 $bin/bench_timers
coio W7 $build/examples/http_server
epoll W7 $peers/http_epoll
ucontext W1 $peers/ucontext_switch
fcontext W1 $peers/fcontext_switch
epoll W5 $peers/echo_epoll
libuv W5 $peers/uv_bench echo
libuv W6 $peers/uv_bench timers
libuv W7 $peers/uv_bench http
nginx W7 bench/nginx_server.sh plain
coio W7-TLS $build/examples/https_server
nginx W7-TLS bench/nginx_server.sh
coio W8 $bin/bench_files coio $w8file
coio-pool W8 $bin/bench_files coio-pool $w8file
pread W8 $bin/bench_files pread $w8file
libuv W8 $peers/uv_bench files $w8file
asyncio W8 $peers/asyncio_bench files $w8file
EOF
    for p in go:go_bench asyncio:asyncio_bench; do
        i=${p%%:*} b=$peers/${p#*:}
        printf '%s W1 %s switch\n%s W2 %s spawn\n%s W3 %s sleepers %s\n' "$i" "$b" "$i" "$b" "$i" "$b" "$sizes"
        printf '%s W4 %s queue\n%s W5 %s echo\n%s W6 %s timers\n' "$i" "$b" "$i" "$b" "$i" "$b"
    done
}

# Start a server on a free port, pinned to CPU 0, and set port to what it
# printed (the last word of its first line: "N" or "listening on HOST port N");
# port stays empty if it did not start. stop_server ends it.
start_server() { # IMPL SERVER...
    impl=$1
    shift
    # Empty it first: the background child truncates it only when it gets to
    # run, and the loop below could read the previous server's port meanwhile.
    : >"$tmp/port"
    $pin0 "$@" 0 $sargs </dev/null >"$tmp/port" 2>"$tmp/server.err" &
    spid=$!
    port="" n=0
    while [ $n -lt 200 ]; do
        port=$(head -n 1 "$tmp/port" | awk '{ print $NF }')
        [ -n "$port" ] && break
        kill -0 $spid 2>/dev/null || break
        sleep 0.05
        n=$((n + 1))
    done
    [ -n "$port" ] || echo "bench: $impl server did not start: $(cat "$tmp/server.err")" >&2
}
stop_server() {
    kill $spid 2>/dev/null
    wait $spid 2>/dev/null
}

# W5: drive an echo server with echo_client.
run_echo() { # IMPL SERVER...
    start_server "$@"
    if [ -n "$port" ]; then
        $pin1 "$bin/echo_client" "$1" "$port" "$conns" "$warm" "$secs" </dev/null >>"$raw" ||
            echo "bench: W5 $1 failed" >&2
    fi
    stop_server
}

# W7: wrk, one thread on CPU 1, keep-alive GET / over hconns connections; a
# warm-up run is thrown away. Its Requests/sec and latency percentiles become
# rows; non-2xx answers or socket errors fail the run.
run_http() { # IMPL SERVER...
    start_server "$@"
    if [ -n "$port" ]; then
        url=$scheme://127.0.0.1:$port/
        [ "$hwarm" -gt 0 ] && $pin1 wrk -t1 -c"$hconns" -d"${hwarm}s" "$url" >/dev/null 2>&1
        if $pin1 wrk -t1 -c"$hconns" -d"${hsecs}s" --latency "$url" </dev/null >"$tmp/wrk" 2>&1 &&
           awk -v impl="$1" -v wl="$wl" '
function us(t,   v) { # wrk prints times as 12.34us, 1.20ms, 2.00s, 1.00m
    v = t + 0
    if (t ~ /us$/) return v
    if (t ~ /ms$/) return v * 1e3
    if (t ~ /m$/) return v * 6e7
    if (t ~ /h$/) return v * 3.6e9
    return v * 1e6
}
$1 == "Requests/sec:" { rps = $2 }
$1 == "50%" { p50 = us($2) }
$1 == "99%" { p99 = us($2) }
/Non-2xx/ || /Socket errors/ { bad = $0 }
END {
    if (bad != "" || rps == "") { print "bench: " wl " " impl ": " (bad != "" ? bad : "no Requests/sec from wrk") > "/dev/stderr"; exit 1 }
    printf "%s,%s,requests/s,%.3f,req/s\n", wl, impl, rps
    printf "%s,%s,p50 latency,%.3f,us\n", wl, impl, p50
    printf "%s,%s,p99 latency,%.3f,us\n", wl, impl, p99
}' "$tmp/wrk" >>"$raw"; then
            :
        else
            echo "bench: $wl $1 failed: $(tail -n 3 "$tmp/wrk")" >&2
        fi
    fi
    stop_server
}

want() { # WORD LIST...
    w=$1
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

: >"$raw"
start=$(date +%s)
if want W7 $workloads && ! command -v wrk >/dev/null 2>&1; then
    echo "bench: W7 skipped: wrk is missing; to run it: apt-get install -y wrk" >&2
    workloads=$(echo " $workloads " | sed 's/ W7 / /')
fi
# W7-TLS: one certificate for both servers (EC P-256, as a CA-signed server's
# usually is today), made here; no key is kept.
sargs="" scheme=http
if want W7-TLS $workloads; then
    if command -v openssl >/dev/null 2>&1 &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
            -out "$tmp/cert.pem" -subj /CN=localhost -days 2 >/dev/null 2>&1; then
        :
    else
        echo "bench: W7-TLS skipped: no openssl command to make a certificate" >&2
        workloads=$(echo " $workloads " | sed 's/ W7-TLS / /')
    fi
fi
# W8's file, written once and left in the page cache for every run.
if want W8 $workloads; then
    dd if=/dev/zero of="$w8file" bs=1M count="$w8mib" status=none ||
        { echo "bench: W8 skipped: could not write $w8file" >&2; workloads=$(echo " $workloads " | sed 's/ W8 / /'); }
fi
r=1
while [ $r -le "$repeat" ]; do
    job_list | while read -r impl wl cmd; do
        want "$impl" $impls && want "$wl" $workloads || continue
        set -- $cmd
        [ -x "$1" ] || continue
        echo "bench: run $r/$repeat: $impl $wl" >&2
        if [ "$wl" = W5 ]; then
            run_echo "$impl" "$@"
        elif [ "$wl" = W7 ]; then
            sargs="" scheme=http run_http "$impl" "$@"
        elif [ "$wl" = W7-TLS ]; then
            # https_server PORT CERT KEY; nginx_server.sh tls CERT KEY PORT
            if [ "$impl" = nginx ]; then
                sargs="" scheme=https run_http "$impl" "$@" tls "$tmp/cert.pem" "$tmp/key.pem"
            else
                sargs="$tmp/cert.pem $tmp/key.pem" scheme=https run_http "$impl" "$@"
            fi
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
# A goal on a coio/peer ratio: "<=" for times, ">=" for throughput. The peer
# figure is its row of the same metric, or of pmetric when given.
function goal(wl, metric, peer, op, bound, pmetric,   r, ok, label) {
    if (pmetric == "") pmetric = metric
    label = (pmetric == metric) ? peer : (peer " " pmetric)
    if (!has(wl, "coio", metric) || !has(wl, peer, pmetric) || get(wl, peer, pmetric) == 0) {
        printf "  %-8s %-16s coio/%-9s %8s   %s %.2f   n/a (not measured)\n", wl, metric, label, "-", op, bound
        return
    }
    r = get(wl, "coio", metric) / get(wl, peer, pmetric)
    ok = (op == "<=") ? (r <= bound) : (r >= bound)
    printf "  %-8s %-16s coio/%-9s %8.3f   %s %.2f   %s\n", wl, metric, label, r, op, bound, ok ? "met" : "MISSED"
}
# coio/peer of one metric, without a goal.
function ratio(wl, metric, peer) {
    if (!has(wl, "coio", metric) || !has(wl, peer, metric) || get(wl, peer, metric) == 0)
        printf "  %-8s %-16s coio/%-9s %8s\n", wl, metric, peer, "n/a (not measured)"
    else
        printf "  %-8s %-16s coio/%-9s %8.3f\n", wl, metric, peer, get(wl, "coio", metric) / get(wl, peer, metric)
}
# A figure the closing note of issue 6 quotes: requests/s of impl and its ratio to peer.
function rps(wl, impl, peer) {
    if (!has(wl, impl, "requests/s")) {
        printf "  %-8s %-14s requests/s   n/a (not measured)\n", wl, impl
        return
    }
    printf "  %-8s %-14s %10.0f req/s", wl, impl, get(wl, impl, "requests/s")
    if (has(wl, peer, "requests/s") && get(wl, peer, "requests/s") != 0)
        printf "   %s/%s %.3f", impl, peer, get(wl, impl, "requests/s") / get(wl, peer, "requests/s")
    print ""
}
{
    if (NF != 5 || $4 !~ /^-?[0-9.]+$/) next
    key = $1 SUBSEP $2 SUBSEP $3
    if (!(key in n)) order[++k] = key
    unit[key] = $5
    v[key, ++n[key]] = $4
}
END {
    printf "%-8s %-12s %-16s %12s %-10s %s\n", "workload", "impl", "metric", "median", "unit", "min - max"
    print "workload,impl,metric,value,unit,runs,min,max" > csv
    for (i = 1; i <= k; i++) {
        key = order[i]
        split(key, f, SUBSEP)
        m = med_of(key)
        med[key] = m
        printf "%-8s %-12s %-16s %12.2f %-10s %.2f - %.2f\n", f[1], f[2], f[3], m, unit[key], lo, hi
        printf "%s,%s,%s,%.3f,%s,%d,%.3f,%.3f\n", f[1], f[2], f[3], m, unit[key], n[key], lo, hi > csv
    }
    np = split("ucontext fcontext epoll libuv go asyncio nginx pread", peer, " ")
    print ""
    print "coio/peer, medians of this run (times: < 1 means coio is faster; requests/s: > 1)"
    printf "%-8s %-12s %-16s", "workload", "coio", "metric"
    for (p = 1; p <= np; p++) printf " %9s", peer[p]
    print ""
    for (i = 1; i <= k; i++) {
        split(order[i], f, SUBSEP)
        if (f[2] != "coio" && f[2] != "coio-streams") continue
        line = sprintf("%-8s %-12s %-16s", f[1], f[2], f[3]); any = 0
        for (p = 1; p <= np; p++) {
            if (has(f[1], peer[p], f[3]) && get(f[1], peer[p], f[3]) != 0) {
                line = line sprintf(" %9.3f", get(f[1], f[2], f[3]) / get(f[1], peer[p], f[3])); any = 1
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
    print ""
    print "goals (issue 11): raw switches against the fcontext symmetric switch, asym against the Boost asym"
    goal("W1", "raw switch asym", "fcontext", "<=", 1.0, "raw switch")
    goal("W1", "asym fp flags", "fcontext", "<=", 1.0, "raw switch")
    goal("W1", "raw switch asym", "fcontext", "<=", 0.1)
    print ""
    print "goals (issue 11: eager tasks, warm sleepers)"
    if (has("W2", "coio", "eager spawn+join")) {
        e = get("W2", "coio", "eager spawn+join")
        printf "  %-8s %-16s %-14s %8.1f   <= 40 ns   %s\n", "W2", "eager spawn+join", "coio", e, (e > 0 && e <= 40) ? "met" : "MISSED"
    }
    goal("W2", "spawn+join", "go", "<=", 0.3)
    goal("W3-100k", "wall", "go", "<=", 0.9)
    goal("W3-warm-100k", "wall", "go", "<=", 0.7)
    goal("W3-warm-1000k", "wall", "go", "<=", 0.7)
    print ""
    print "goals (issue 15: files; W8a/W8c coio on io_uring, coio-pool on its thread pool)"
    goal("W8a", "random 4k reads", "libuv", ">=", 3.0)
    goal("W8a", "random 4k reads", "pread", ">=", 0.8)
    goal("W8b", "sequential 1m reads", "pread", ">=", 0.9)
    goal("W8c", "append 4k+fdatasync/64", "libuv", ">=", 1.5)
    print "  (CPU per operation, all threads; moves less with the load than ops/s: coio/peer < 1 is cheaper)"
    goal("W8a", "cpu per read", "libuv", "<=", 0.333)
    goal("W8a", "cpu per read", "pread", "<=", 1.25)
    goal("W8c", "cpu per write", "libuv", "<=", 0.667)
    print "  (asyncio: files through asyncio.to_thread; no goal, the ratios only)"
    ratio("W8a", "random 4k reads", "asyncio")
    ratio("W8a", "cpu per read", "asyncio")
    ratio("W8b", "sequential 1m reads", "asyncio")
    ratio("W8c", "append 4k+fdatasync/64", "asyncio")
    ratio("W8c", "cpu per write", "asyncio")
    print ""
    print "streams (issue 6)"
    rps("W5", "coio-streams", "epoll")
    rps("W7", "coio", "epoll")
    print ""
    print "goals (issue 14): W7 plain and over TLS 1.3 against nginx (1 worker)"
    goal("W7", "requests/s", "nginx", ">=", 1.0)
    goal("W7", "p99 latency", "nginx", "<=", 1.2)
    goal("W7-TLS", "requests/s", "nginx", ">=", 1.0)
    goal("W7-TLS", "p99 latency", "nginx", "<=", 1.2)
}' "$raw"
echo
echo "written: $csv"
