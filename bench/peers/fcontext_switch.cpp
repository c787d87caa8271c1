// W1 peer: Boost.Context's fcontext (jump_fcontext/make_fcontext, the layer
// under boost::context::fiber). Two contexts hand control to each other, the
// same symmetric ping-pong as coio's raw switch; then the asymmetric case
// (the main program against one fiber, as coio's "raw switch asym"); ns per
// one-way switch.
#include "bench.h"

#include <boost/context/detail/fcontext.hpp>

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

static fcontext_t main_ctx, ctx[2];
static long iters;

static void pingpong(transfer_t t)
{
    long me = (long)t.data;
    // Whoever jumped here first: main (for 0) or context 0 (for 1).
    if (me == 0)
        main_ctx = t.fctx;
    else
        ctx[0] = t.fctx;
    for (long i = 0; i < iters; i++) {
        // The only context that ever jumps back to us is the other one.
        transfer_t back = jump_fcontext(ctx[!me], (void *)(long)!me);
        ctx[!me] = back.fctx;
    }
    jump_fcontext(main_ctx, nullptr);
    abort(); // never resumed
}

// Asymmetric: main jumps into the fiber, which jumps straight back.
static fcontext_t co_ctx;
static void co_entry(transfer_t t)
{
    for (;;)
        t = jump_fcontext(t.fctx, nullptr);
}

static double asym(long n)
{
    std::size_t sz = 64 * 1024;
    char *stk = (char *)malloc(sz);
    co_ctx = make_fcontext(stk + sz, sz, co_entry);
    co_ctx = jump_fcontext(co_ctx, nullptr).fctx;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        co_ctx = jump_fcontext(co_ctx, nullptr).fctx;
    double t1 = bench_now();
    free(stk);
    return (t1 - t0) * 1e9 / (double)(2 * n);
}

int main()
{
    long n = bench_n(10000000);
    std::size_t sz = 64 * 1024;
    char *stk = (char *)malloc(2 * sz);
    ctx[0] = make_fcontext(stk + sz, sz, pingpong);
    ctx[1] = make_fcontext(stk + 2 * sz, sz, pingpong);
    iters = n / 2;
    double t0 = bench_now();
    jump_fcontext(ctx[0], (void *)0L);
    double t1 = bench_now();
    bench_row("W1", "fcontext", "raw switch", (t1 - t0) * 1e9 / (double)(2 * iters), "ns/switch");
    free(stk);
    bench_row("W1", "fcontext", "raw switch asym", asym(n / 2), "ns/switch");
    return 0;
}
