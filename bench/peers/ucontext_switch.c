/* W1 peer: glibc ucontext. Two contexts hand control to each other with
 * swapcontext (which also saves and restores the signal mask: a system call
 * per switch); ns per one-way switch. */
#define _GNU_SOURCE
#include "bench.h"

#include <ucontext.h>

static ucontext_t main_ctx, ctx[2];
static long iters;

static void pingpong(int me)
{
    for (long i = 0; i < iters; i++)
        swapcontext(&ctx[me], &ctx[!me]);
    swapcontext(&ctx[me], &main_ctx);
}

int main(void)
{
    size_t sz = 64 * 1024;
    char *stk = malloc(2 * sz);
    for (int i = 0; i < 2; i++) {
        getcontext(&ctx[i]);
        ctx[i].uc_stack.ss_sp = stk + (size_t)i * sz;
        ctx[i].uc_stack.ss_size = sz;
        ctx[i].uc_link = NULL;
        makecontext(&ctx[i], (void (*)(void))pingpong, 1, i);
    }
    iters = bench_n(10000000) / 2;
    double t0 = bench_now();
    swapcontext(&main_ctx, &ctx[0]);
    double t1 = bench_now();
    bench_row("W1", "ucontext", "raw switch", (t1 - t0) * 1e9 / (double)(2 * iters), "ns/switch");
    free(stk);
    return 0;
}
