/* bench/bench.h — helpers for the benchmark programs: a monotonic clock,
 * peak RSS, and the one output format run.sh aggregates:
 *   workload,impl,metric,value,unit            (one line per figure) */
#ifndef COIO_BENCH_H
#define COIO_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident set size of this process, in bytes. */
static inline long bench_peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024L;
}

static inline void bench_row(const char *workload, const char *impl, const char *metric,
                             double value, const char *unit)
{
    printf("%s,%s,%s,%.3f,%s\n", workload, impl, metric, value, unit);
    fflush(stdout);
}

/* Iteration counts can be scaled down for quick runs: BENCH_SCALE=0.1 */
static inline long bench_n(long n)
{
    const char *s = getenv("BENCH_SCALE");
    double f = s ? atof(s) : 1.0;
    long v = (long)((double)n * (f > 0 ? f : 1.0));
    return v > 0 ? v : 1;
}

#endif
