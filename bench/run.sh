#!/bin/sh
# bench/run.sh BUILD_DIR — run every bench program REPEAT times (default 3),
# pinned to CPU 0 when taskset exists, and print the median with min-max per
# figure; also write bench/results.csv (workload,impl,metric,value,unit,runs,min,max).
build=$1
repeat=${REPEAT:-3}
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for b in "$build"/bench/bench_*; do
    [ -x "$b" ] || continue
    i=0
    while [ $i -lt "$repeat" ]; do
        $pin "$b" >> "$raw" || echo "bench: $(basename "$b") failed" >&2
        i=$((i + 1))
    done
done
echo "coio benchmarks — $(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%d), median of $repeat runs"
awk -F, '
{ key = $1 SUBSEP $2 SUBSEP $3 SUBSEP $5
  if (!(key in n)) { order[++k] = key }
  v[key, ++n[key]] = $4 }
END {
  printf "%-8s %-6s %-18s %12s %-10s %s\n", "workload", "impl", "metric", "median", "unit", "min - max"
  print "workload,impl,metric,value,unit,runs,min,max" > "bench/results.csv"
  for (i = 1; i <= k; i++) {
    key = order[i]; m = n[key]
    for (a = 1; a <= m; a++) s[a] = v[key, a] + 0
    for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
    med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
    split(key, f, SUBSEP)
    printf "%-8s %-6s %-18s %12.2f %-10s %.2f - %.2f\n", f[1], f[2], f[3], med, f[4], s[1], s[m]
    printf "%s,%s,%s,%.3f,%s,%d,%.3f,%.3f\n", f[1], f[2], f[3], med, f[4], m, s[1], s[m] > "bench/results.csv"
  }
}' "$raw"
