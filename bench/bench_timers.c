/* W6 timers: schedule 1,000,000 coio_call_later timers with random deadlines
 * within 100 s, cancel every other one, then the rest; ns per schedule+cancel.
 * The random delays are drawn before the clock starts, from [10 s, 100 s) so that
 * no timer can come due while scheduling, even on a slow machine (Go's runtime
 * fires its timers on its own; the same draw for every peer). */
#include "bench.h"
#include "coio.h"

#include <stdint.h>

static void never(void *arg) { (void)arg; abort(); }

static void *timers_main(void *arg)
{
    long n = bench_n(1000000);
    double *delay = malloc((size_t)n * sizeof *delay);
    coio_handle **h = malloc((size_t)n * sizeof *h);
    if (!delay || !h)
        return (void *)-1;
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        delay[i] = 10.0 + (double)(x >> 11) * (90.0 / 9007199254740992.0); /* [10, 100) s */
    }
    coio_loop *loop = coio_loop_current();
    long cancelled = 0;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (!(h[i] = coio_call_later(loop, delay[i], never, NULL)))
            return (void *)-1;
    for (long i = 0; i < n; i += 2)
        cancelled += coio_handle_cancel(h[i]);
    for (long i = 1; i < n; i += 2)
        cancelled += coio_handle_cancel(h[i]);
    double t1 = bench_now();
    free(delay);
    free(h);
    if (cancelled != n)
        return (void *)-1;
    *(double *)arg = (t1 - t0) * 1e9 / (double)n;
    return NULL;
}

int main(void)
{
    double ns = 0;
    void *res = NULL;
    if (coio_run(timers_main, &ns, &res) < 0 || res)
        return 1;
    bench_row("W6", "coio", "schedule+cancel", ns, "ns/timer");
    return 0;
}
