/* debug.c — asyncio's debug mode: COIO_DEBUG and the setters (D1), slow callback and
 * task-step warnings (D2), the foreign-thread check (D5) and stack high-water marks.
 * The loop and task code call in here only after testing loop->debug.
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define COIO_VALGRIND 1
#endif
#endif

#if defined(COIO_ASAN) && defined(__GNUC__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

#define SLOW_DEFAULT_NS 100000000 /* asyncio's slow_callback_duration: 0.1 s */

void coio__debug_loop_init(coio_loop *l)
{
    /* Read once per loop, as asyncio reads PYTHONASYNCIODEBUG once. */
    const char *e = getenv("COIO_DEBUG");
    l->debug = e && *e && strcmp(e, "0") != 0;
    l->slow_ns = SLOW_DEFAULT_NS;
    l->step_start = coio__now_ns();
}

int coio_loop_set_debug(coio_loop *loop, int enabled)
{
    if (!coio__loop_valid(loop) || loop->closed) {
        errno = EINVAL;
        return -1;
    }
    if (enabled && !loop->debug)
        loop->step_start = coio__now_ns(); /* the running step is timed from here */
    loop->debug = enabled != 0;
    return 0;
}

int coio_loop_get_debug(coio_loop *loop)
{
    return coio__loop_valid(loop) && !loop->closed && loop->debug;
}

int coio_loop_set_slow_callback_duration(coio_loop *loop, double seconds)
{
    if (!coio__loop_valid(loop) || loop->closed || !(seconds >= 0)) {
        errno = EINVAL;
        return -1;
    }
    loop->slow_ns = seconds >= 9.0e9 ? INT64_MAX : (int64_t)(seconds * 1e9);
    return 0;
}

double coio_loop_get_slow_callback_duration(coio_loop *loop)
{
    if (!coio__loop_valid(loop) || loop->closed) {
        errno = EINVAL;
        return -1.0;
    }
    return (double)loop->slow_ns / 1e9;
}

/* ---- D2: slow steps -------------------------------------------------------- */

/* The reports are formatted into a local buffer and written with one write(2):
   stdio's unbuffered stderr path puts an 8 KiB buffer on the stack, which a
   task stack should not pay for (nor count in its high-water mark). */
static void say(const char *buf, int n)
{
    if (n <= 0)
        return;
    size_t len = (size_t)n;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

static void say_slow(const char *what, int64_t ns)
{
    char buf[192];
    int e = errno; /* a report must not change what the caller sees */
    int n = snprintf(buf, sizeof buf, "coio: Executing %s took %.3f seconds\n", what,
                     (double)ns / 1e9);
    say(buf, n < (int)sizeof buf ? n : (int)sizeof buf - 1);
    errno = e;
}

struct coio__task *coio__debug_switch(coio_loop *l, struct coio__task *from, struct coio__task *to)
{
    int64_t now = coio__now_ns();
    if (from && now - l->step_start >= l->slow_ns) {
        char what[96];
        snprintf(what, sizeof what, "<task '%s'>", coio_task_name(&from->f));
        say_slow(what, now - l->step_start);
    }
    l->step_start = now;
    return to;
}

/* "<callback SYMBOL>" when the dynamic symbol table has fn itself, else
   "<callback NAME+0x0 (module)>" from the module's symbol table (static
   functions, statically linked programs) or "<callback module+0xOFF>", which
   addr2line resolves (dump.c's resolver). */
static void callback_name(void *fn, char *buf, size_t len)
{
    Dl_info info;
    if (dladdr(fn, &info) && info.dli_sname && info.dli_saddr == fn) {
        snprintf(buf, len, "<callback %s>", info.dli_sname);
        return;
    }
    struct coio__dbuf b;
    b.f = NULL;
    b.fd = -1;
    b.n = 0;
    coio__db_symbol(&b, fn);
    size_t n = b.n < sizeof b.b ? b.n : sizeof b.b - 1;
    snprintf(buf, len, "<callback %.*s>", (int)n, b.b);
}

static void check_callback(coio_loop *l, void *fn, int64_t t0)
{
    int64_t ns = coio__now_ns() - t0;
    if (ns >= l->slow_ns) {
        char what[160];
        callback_name(fn, what, sizeof what);
        say_slow(what, ns);
    }
}

void coio__debug_run_handle(coio_loop *l, coio_handle *h)
{
    int64_t t0 = coio__now_ns();
    void *fn;
    if (h->type == COIO__H_CALL) {
        fn = (void *)(uintptr_t)h->u.call.cb;
        h->u.call.cb(h->u.call.arg);
    } else {
        fn = (void *)(uintptr_t)h->u.done_cb.cb;
        coio__run_done_callback(h);
    }
    check_callback(l, fn, t0);
}

void coio__debug_run_icb(coio_loop *l, struct coio__icb *cb)
{
    int64_t t0 = coio__now_ns();
    void *fn = (void *)(uintptr_t)cb->fn;
    cb->fn(cb); /* may end the owner's storage: cb is not used after this */
    check_callback(l, fn, t0);
}

/* ---- D5: thread check ---------------------------------------------------------- */

bool coio__debug_foreign(const coio_loop *l)
{
    /* As asyncio's _check_thread: only a running loop has an owner thread. */
    if (l->running && !pthread_equal(l->thread, pthread_self())) {
        errno = EPERM;
        return true;
    }
    return false;
}

/* ---- stack high-water marks ----------------------------------------------------- */

/* The usable part of t's stack: [lo, top). The control block is at the top. */
static char *stack_lo(const struct coio__task *t)
{
    return (char *)t->stack.map + t->stack.guard;
}

static char *stack_top(const struct coio__task *t)
{
    return (char *)t->stack.map + t->stack.map_size;
}

#if defined(__linux__)
typedef unsigned char mincore_vec;
#else
typedef char mincore_vec;
#endif

/* Store zeros through a volatile pointer: the compiler must not turn the loop
   into a memset call, which ASan would check against the shadow left by the
   stack's previous user. */
static NO_ASAN void zero_words(char *p, char *end)
{
    for (volatile uint64_t *w = (volatile uint64_t *)p; (char *)w < end; w++)
        *w = 0;
}

/* Spawn in debug mode: make everything below the task's first frame read as
   zero, so that the lowest non-zero word at the end marks the deepest use.
   MADV_DONTNEED both zeroes and returns the pages (no resident cost); a page
   still resident afterwards (a system where the advice does not zero: BSD,
   macOS, some emulators) is zeroed by hand, which costs nothing extra. */
void coio__debug_stack_prepare(struct coio__task *t)
{
    size_t page = coio__page_size();
    char *lo = stack_lo(t);
    char *sp = (char *)((uintptr_t)t->sp & ~(uintptr_t)7);
    char *mid = (char *)((uintptr_t)sp & ~(uintptr_t)(page - 1));
#ifdef COIO_VALGRIND
    VALGRIND_DISABLE_ERROR_REPORTING; /* earlier users' frames are "noaccess" */
#endif
    if (mid > lo) {
        (void)madvise(lo, (size_t)(mid - lo), MADV_DONTNEED);
        mincore_vec vec[64];
        for (char *p = lo; p < mid;) {
            size_t n = (size_t)(mid - p) / page;
            if (n > sizeof vec)
                n = sizeof vec;
            if (mincore(p, n * page, vec) != 0) {
                zero_words(p, mid); /* cannot tell: zero the rest */
                break;
            }
            for (size_t i = 0; i < n; i++)
                if (vec[i] & 1)
                    zero_words(p + i * page, p + (i + 1) * page);
            p += n * page;
        }
    }
    zero_words(mid > lo ? mid : lo, sp);
#ifdef COIO_VALGRIND
    VALGRIND_ENABLE_ERROR_REPORTING;
#endif
    t->dbg_stack = 1;
}

/* The lowest non-zero word of [lo, end), skipping pages that are not resident
   (they were never written: reading them would only map the zero page). */
static NO_ASAN char *lowest_written(char *lo, char *end)
{
    size_t page = coio__page_size();
    mincore_vec vec[64];
    char *p = lo;
    while (p < end) {
        size_t n = ((size_t)(end - p) + page - 1) / page;
        if (n > sizeof vec)
            n = sizeof vec;
        bool known = mincore(p, n * page, vec) == 0;
        for (size_t i = 0; i < n && p < end; i++, p += page) {
            if (known && !(vec[i] & 1))
                continue;
            char *stop = p + page < end ? p + page : end;
            for (volatile uint64_t *w = (volatile uint64_t *)p; (char *)w < stop; w++)
                if (*w != 0)
                    return (char *)w;
        }
    }
    return end;
}

void coio__debug_stack_measure(struct coio__task *t)
{
    char *lo = stack_lo(t);
    char *top = stack_top(t);
#ifdef COIO_VALGRIND
    /* Below the stack pointer memcheck sees "noaccess" and undefined words. */
    VALGRIND_DISABLE_ERROR_REPORTING;
#endif
    char *low = lowest_written(lo, (char *)t);
#ifdef COIO_VALGRIND
    VALGRIND_ENABLE_ERROR_REPORTING;
#endif
    t->stack_used = (size_t)(top - low);
    size_t size = (size_t)(top - lo);
    if (t->stack_used * 4 > size * 3) {
        char buf[160];
        int e = errno;
        int n = snprintf(buf, sizeof buf, "coio: task '%s' used %zu of %zu stack bytes\n",
                         coio_task_name(&t->f), t->stack_used, size);
        say(buf, n < (int)sizeof buf ? n : (int)sizeof buf - 1);
        errno = e;
    }
}

long coio_task_stack_used(const coio_task *t, size_t *stack_size)
{
    struct coio__task *k = coio__future_valid(t) ? coio__as_task((coio_future *)t) : NULL;
    if (!k) {
        errno = EINVAL;
        return -1;
    }
    if (stack_size)
        *stack_size = (size_t)(stack_top(k) - stack_lo(k));
    if (t->state == COIO_PENDING) {
        errno = EAGAIN;
        return -1;
    }
    if (!k->stack_used) {
        errno = ENOTSUP;
        return -1;
    }
    return (long)k->stack_used;
}
