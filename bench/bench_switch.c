/* W1 switch: two contexts handing control to each other, ns per one-way
 * switch. Measured twice: the raw arch switch (coio__switch between two
 * stacks, no scheduler) and the scheduled yield (two tasks looping
 * coio_yield()). */
#include "bench.h"
#include "coio.h"
#include "arch.h"

#include <stdint.h>
#include <sys/mman.h>

static void *main_sp, *sp[2];
static long iters;

/* Symmetric: two coroutines run this same loop, so both switch from the same
   call site, as tasks in coio's scheduler do. */
static void pingpong(void *arg)
{
    long me = (long)arg;
    for (long i = 0; i < iters; i++)
        coio__switch(&sp[me], sp[!me], (void *)(long)!me); /* arg: the other side's index on its first entry */
    coio__switch(&sp[me], main_sp, NULL);
    for (;;) /* never resumed */
        ;
}

static double raw_switch(long n)
{
    size_t sz = 64 * 1024;
    char *stk = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sp[0] = coio__arch_init_frame(stk + sz, pingpong);
    sp[1] = coio__arch_init_frame(stk + 2 * sz, pingpong);
    iters = n;
    double t0 = bench_now();
    coio__switch(&main_sp, sp[0], (void *)0);
    double t1 = bench_now();
    munmap(stk, 2 * sz);
    return (t1 - t0) * 1e9 / (double)(2 * n);
}

/* Asymmetric: the main program against one coroutine (different call sites). */
static void *co_sp;
static void co_entry(void *arg)
{
    (void)arg;
    for (;;)
        coio__switch(&co_sp, main_sp, NULL);
}

static double raw_switch_asym(long n)
{
    size_t sz = 64 * 1024;
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    co_sp = coio__arch_init_frame(stk + sz, co_entry);
    coio__switch(&main_sp, co_sp, NULL);
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        coio__switch(&main_sp, co_sp, NULL);
    double t1 = bench_now();
    munmap(stk, sz);
    return (t1 - t0) * 1e9 / (double)(2 * n);
}

static void *yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++)
        coio_yield();
    return NULL;
}

static void *yield_main(void *arg)
{
    double *out = arg;
    coio_task *a = coio_spawn(yielder, NULL), *b = coio_spawn(yielder, NULL);
    double t0 = bench_now();
    coio_await(a, NULL);
    coio_await(b, NULL);
    double t1 = bench_now();
    coio_task_release(a);
    coio_task_release(b);
    *out = (t1 - t0) * 1e9 / (double)(2 * iters); /* one switch per yield */
    return NULL;
}

int main(void)
{
    long n = bench_n(10000000);
    bench_row("W1", "coio", "raw switch", raw_switch(n / 2), "ns/switch");
    bench_row("W1", "coio", "raw switch asym", raw_switch_asym(n / 2), "ns/switch");
    iters = n / 2;
    double ns = 0;
    coio_run(yield_main, &ns, NULL);
    bench_row("W1", "coio", "scheduled yield", ns, "ns/switch");
    return 0;
}
