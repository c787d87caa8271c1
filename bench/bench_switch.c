/* W1 switch: two contexts handing control to each other, ns per one-way
 * switch. The raw arch switch (coio__switch between two stacks, no
 * scheduler): symmetric, asymmetric (main program against one coroutine),
 * asymmetric with the two sides' FP status flags differing (main does an
 * inexact division between switches) and asymmetric with a different
 * rounding mode in the coroutine (the one case that must reload the FP
 * control state on every switch); then the scheduled yield (two tasks
 * looping coio_yield()), also with one task doing double arithmetic every
 * step. */
#include "bench.h"
#include "coio.h"
#include "arch.h"

#include <fenv.h>
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

/* Asymmetric: the main program against one coroutine (different call sites).
   Mode 0: nothing else. Mode 1: the main side raises the inexact flag between
   switches, so its MXCSR status bits differ from the coroutine's. Mode 2: the
   coroutine runs with another rounding mode, so every switch crosses a
   control-word difference. */
static void *co_sp;
static volatile double fp_sink, fp_num = 1.0, fp_den = 3.0;
static void co_entry(void *arg)
{
    if ((long)arg == 2)
        fesetround(FE_UPWARD);
    for (;;)
        coio__switch(&co_sp, main_sp, NULL);
}

static double raw_switch_asym(long n, long mode)
{
    size_t sz = 64 * 1024;
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    co_sp = coio__arch_init_frame(stk + sz, co_entry);
    coio__switch(&main_sp, co_sp, (void *)mode);
    double t0 = bench_now();
    if (mode == 1) {
        for (long i = 0; i < n; i++) {
            fp_sink = fp_num / fp_den; /* inexact: sets the sticky flag */
            coio__switch(&main_sp, co_sp, NULL);
        }
    } else {
        for (long i = 0; i < n; i++)
            coio__switch(&main_sp, co_sp, NULL);
    }
    double t1 = bench_now();
    munmap(stk, sz);
    feclearexcept(FE_ALL_EXCEPT);
    return (t1 - t0) * 1e9 / (double)(2 * n);
}

static void *yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++)
        coio_yield();
    return NULL;
}

/* The same, with a double division every step (inexact: sticky status flag). */
static void *yielder_fp(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++) {
        fp_sink = fp_num / (fp_den + (double)i);
        coio_yield();
    }
    return NULL;
}

static void *yield_main(void *arg)
{
    double *out = arg;
    coio_task *a = coio_spawn(*out ? yielder_fp : yielder, NULL), *b = coio_spawn(yielder, NULL);
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
    bench_row("W1", "coio", "raw switch asym", raw_switch_asym(n / 2, 0), "ns/switch");
    bench_row("W1", "coio", "asym fp flags", raw_switch_asym(n / 2, 1), "ns/switch");
    bench_row("W1", "coio", "asym rounding", raw_switch_asym(n / 2, 2), "ns/switch");
    iters = n / 2;
    double ns = 0;
    coio_run(yield_main, &ns, NULL);
    bench_row("W1", "coio", "scheduled yield", ns, "ns/switch");
    ns = 1; /* the first task divides every step */
    coio_run(yield_main, &ns, NULL);
    bench_row("W1", "coio", "yield fp", ns, "ns/switch");
    return 0;
}
