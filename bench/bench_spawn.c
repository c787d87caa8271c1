/* W2 spawn: create and join 1,000,000 trivial tasks in batches of 10,000
 * spawned, then awaited; ns per spawn+join and peak RSS. Then the eager row:
 * 1,000,000 times spawn an eager task that returns at once (it runs inside
 * the spawn call, asyncio's eager_start) and await it; ns per spawn+join. */
#include "bench.h"
#include "coio.h"

static void *trivial(void *arg) { return arg; }

static void *spawn_main(void *arg)
{
    double *out = arg;
    long total = bench_n(1000000), batch = 10000;
    if (batch > total)
        batch = total;
    coio_task **t = malloc((size_t)batch * sizeof *t);
    long done = 0;
    double t0 = bench_now();
    while (done < total) {
        for (long i = 0; i < batch; i++)
            t[i] = coio_spawn(trivial, (void *)i);
        for (long i = 0; i < batch; i++) {
            coio_await(t[i], NULL);
            coio_task_release(t[i]);
        }
        done += batch;
    }
    *out = (bench_now() - t0) * 1e9 / (double)done;
    free(t);
    return NULL;
}

static void *eager_main(void *arg)
{
    double *out = arg;
    long total = bench_n(1000000);
    coio_task_opts o = {.eager = 1};
    long sum = 0;
    double t0 = bench_now();
    for (long i = 0; i < total; i++) {
        coio_task *t = coio_spawn_opts(&o, trivial, (void *)i);
        void *r = NULL;
        coio_await(t, &r);
        coio_task_release(t);
        sum += (long)r;
    }
    *out = (bench_now() - t0) * 1e9 / (double)total;
    if (sum != total * (total - 1) / 2)
        *out = -1;
    return NULL;
}

int main(void)
{
    double ns = 0;
    coio_run(spawn_main, &ns, NULL);
    bench_row("W2", "coio", "spawn+join", ns, "ns/task");
    bench_row("W2", "coio", "peak RSS", (double)bench_peak_rss() / 1048576.0, "MiB");
    coio_run(eager_main, &ns, NULL);
    bench_row("W2", "coio", "eager spawn+join", ns, "ns/task");
    return 0;
}
