/* W4 queue: one producer task sends 1,000,000 integers to one consumer task
 * through a coio_queue of capacity 1, then of capacity 1024; ns per item
 * (wall time from the first put to the last get, divided by the count). */
#include "bench.h"
#include "coio.h"

#include <stdint.h>

struct run { coio_queue *q; long n; long sum; };

static void *producer(void *arg)
{
    struct run *r = arg;
    for (long i = 0; i < r->n; i++)
        if (coio_queue_put(r->q, (void *)(intptr_t)i) < 0)
            return (void *)-1;
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    for (long i = 0; i < r->n; i++) {
        void *item;
        if (coio_queue_get(r->q, &item) < 0)
            return (void *)-1;
        r->sum += (long)(intptr_t)item; /* checked below: every item arrived once */
    }
    return NULL;
}

static void *queue_main(void *arg)
{
    long cap = *(long *)arg;
    struct run r = {coio_queue_new(cap), bench_n(1000000), 0};
    if (!r.q)
        return (void *)-1;
    double t0 = bench_now();
    coio_task *c = coio_spawn(consumer, &r), *p = coio_spawn(producer, &r);
    void *rp = NULL, *rc = NULL;
    coio_await(p, &rp);
    coio_await(c, &rc);
    double t1 = bench_now();
    coio_task_release(p);
    coio_task_release(c);
    coio_queue_free(r.q);
    if (rp || rc || r.sum != r.n * (r.n - 1) / 2) {
        fprintf(stderr, "bench_queue: items lost (sum %ld)\n", r.sum);
        return (void *)-1;
    }
    *(double *)arg = (t1 - t0) * 1e9 / (double)r.n;
    return NULL;
}

int main(void)
{
    static const long caps[2] = {1, 1024};
    for (int i = 0; i < 2; i++) {
        union { long cap; double ns; } u = {.cap = caps[i]};
        void *res = NULL;
        if (coio_run(queue_main, &u, &res) < 0 || res)
            return 1;
        char metric[32];
        snprintf(metric, sizeof metric, "cap %ld", caps[i]);
        bench_row("W4", "coio", metric, u.ns, "ns/item");
    }
    return 0;
}
