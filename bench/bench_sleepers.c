/* W3 sleepers: N tasks alive at once, each sleeps 1.0 s then exits. Wall time
 * from first spawn to last join, and bytes per task =
 * (peak RSS at N - peak RSS at 1) / N. Usage: bench_sleepers [N...] (default
 * 100,000 and 1,000,000; N = 1 always runs first as the baseline). Each N runs
 * in a fresh process so that peak RSS is that run's own.
 * W3-warm: in one process (one loop), N sleepers, all joined, then N sleepers
 * again; the wall of the second wave, which finds the stacks, control blocks
 * and timer heap of the first (what a long-running server sees). */
#include "bench.h"
#include "coio.h"

#include <sys/wait.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    coio_sleep(1.0);
    return arg;
}

struct result { double wall; long rss; };

static double wave(coio_task **t, long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        t[i] = coio_spawn(sleeper, NULL);
    for (long i = 0; i < n; i++) {
        coio_await(t[i], NULL);
        coio_task_release(t[i]);
    }
    return bench_now() - t0;
}

static int warm; /* run two waves, report the second */

static void *sleep_main(void *arg)
{
    long n = *(long *)arg;
    coio_task **t = malloc((size_t)n * sizeof *t);
    double w = wave(t, n);
    if (warm)
        w = wave(t, n);
    *(double *)arg = w;
    free(t);
    return NULL;
}

/* Run one size in a child; report wall and peak RSS through a pipe. */
static struct result run_child(long n)
{
    int p[2];
    struct result r = {0, 0};
    if (pipe(p) < 0)
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        union { long n; double wall; } u = {.n = n};
        coio_run(sleep_main, &u, NULL);
        struct result out = {u.wall, bench_peak_rss()};
        ssize_t w = write(p[1], &out, sizeof out);
        _exit(w == sizeof out ? 0 : 1);
    }
    close(p[1]);
    if (read(p[0], &r, sizeof r) != sizeof r)
        r.wall = -1;
    close(p[0]);
    waitpid(pid, NULL, 0);
    return r;
}

int main(int argc, char **argv)
{
    struct result base = run_child(1);
    static const long defaults[2] = {100000, 1000000};
    int count = argc > 1 ? argc - 1 : 2;
    for (int i = 0; i < count; i++) {
        long n = argc > 1 ? atol(argv[i + 1]) : defaults[i];
        if (n < 1)
            continue;
        struct result r = run_child(n);
        char wl[32];
        snprintf(wl, sizeof wl, "W3-%ldk", n / 1000);
        if (r.wall < 0) {
            bench_row(wl, "coio", "wall", -1, "s (failed)");
            continue;
        }
        bench_row(wl, "coio", "wall", r.wall, "s");
        bench_row(wl, "coio", "bytes per task", (double)(r.rss - base.rss) / (double)n, "B");
        warm = 1;
        r = run_child(n);
        warm = 0;
        snprintf(wl, sizeof wl, "W3-warm-%ldk", n / 1000);
        bench_row(wl, "coio", "wall", r.wall < 0 ? -1 : r.wall, r.wall < 0 ? "s (failed)" : "s");
    }
    return 0;
}
