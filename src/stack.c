/* stack.c — coroutine stacks: carved from per-loop slabs (default size) or
 * mapped one by one, each with a guard below it, reused through the slabs'
 * free lists and the pool, registered with valgrind, and watched by a SIGSEGV
 * handler (on an alternate stack) that names the task whose stack overflowed.
 * Task bookkeeping lives in task.c; this file only maps, unmaps and reports.
 *
 * Two guard schemes; the process uses the first that works (README "Stacks",
 * coio_stack_guard_scheme()):
 *
 * - Guard regions (Linux 6.13+, madvise(MADV_GUARD_INSTALL)): the lowest
 *   COIO__GUARD_REGION_BYTES (64 KiB) of every stack slot fault on access.
 *   They split no mapping and cost no VMA, so every stack is guarded at any
 *   task count; 64 KiB is as large as the default stack, so a frame of up to
 *   64 KiB cannot jump it. A slab's 64 guards are installed with one
 *   process_madvise(2) call where the kernel allows it (6.15+: PIDFD_SELF),
 *   else with one madvise(2) per slot. The guards stay through reuse.
 *
 * - Fallback (older kernels, emulators that ignore the advice, or
 *   COIO_STACK_GUARD=page): a PROT_NONE guard page while the process has VMA
 *   budget left. Every guard page splits its stack into a separate VMA, so a
 *   guarded stack costs two of the kernel's vm.max_map_count (65530 by
 *   default) mappings. The first max_map_count/4 stacks of the process get
 *   guard pages; later ones get none (a slab of them stays one VMA); their
 *   lowest word serves as a canary: nothing writes it, so the scheduler
 *   treats a non-zero value, checked whenever the task suspends or ends, as
 *   an overflow.
 *
 * The overflow handler also attributes a fault to the running task when its
 * stack pointer has left the bottom of its stack (a runaway recursion through
 * an unguarded stack and its neighbours ends in such a fault).
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define COIO_VALGRIND 1
#endif
#endif

#ifdef COIO_ASAN
#include <sanitizer/asan_interface.h>
#endif

size_t coio__page_size(void)
{
    static atomic_size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!p) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}

/* ---- guard-page budget (process-wide) ---------------------------------- */

static atomic_long guarded_now;     /* stacks with a guard page mapped right now */
static atomic_long guard_limit = -1;

static long read_guard_limit(void)
{
    long lim = atomic_load(&guard_limit);
    if (lim >= 0)
        return lim;
    long maps = 65530;
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[32];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            long v = strtol(buf, NULL, 10);
            if (v > 0)
                maps = v;
        }
        close(fd);
    }
    const char *env = getenv("COIO_GUARDED_STACKS");
    lim = env && *env ? strtol(env, NULL, 10) : maps / 4;
    if (lim < 0)
        lim = 0;
    atomic_store(&guard_limit, lim);
    return lim;
}

/* ---- guard scheme (process-wide) ------------------------------------------- */

#define COIO__GUARD_REGION_BYTES ((size_t)64 * 1024)
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define COIO__PIDFD_SELF (-10000) /* PIDFD_SELF_THREAD, Linux 6.15+ */

static atomic_int guard_scheme; /* 0 until probed, then COIO_STACK_GUARD_REGION/_PAGE */
static atomic_int batch_ok = 1; /* process_madvise on ourselves works (until it fails) */

static bool on_valgrind(void)
{
#ifdef COIO_VALGRIND
    return RUNNING_ON_VALGRIND;
#else
    return false;
#endif
}

/* Guard regions are in force only if the kernel takes the advice and a guarded
   page then really faults: an emulator (qemu-user) answers 0 and does nothing.
   The check asks the kernel to read the page (a write(2) from it into a pipe),
   which fails with EFAULT on a guard region and never raises a signal. */
static int probe_guard_scheme(void)
{
#if defined(__linux__)
    const char *env = getenv("COIO_STACK_GUARD");
    if (env && strcmp(env, "page") == 0)
        return COIO_STACK_GUARD_PAGE;
    size_t page = coio__page_size();
    char *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return COIO_STACK_GUARD_PAGE;
    int scheme = COIO_STACK_GUARD_PAGE;
    int p[2];
    if (madvise(m, page, MADV_GUARD_INSTALL) == 0 && pipe(p) == 0) {
        if (write(p[1], m, 1) < 0 && errno == EFAULT)
            scheme = COIO_STACK_GUARD_REGION;
        close(p[0]);
        close(p[1]);
    }
    munmap(m, page);
    return scheme;
#else
    return COIO_STACK_GUARD_PAGE;
#endif
}

static int scheme_now(void)
{
    int s = atomic_load_explicit(&guard_scheme, memory_order_relaxed);
    if (COIO_UNLIKELY(!s)) {
        int e = errno;
        s = probe_guard_scheme();
        errno = e;
        atomic_store(&guard_scheme, s);
    }
    return s;
}

static size_t region_bytes(void)
{
    size_t page = coio__page_size();
    return (COIO__GUARD_REGION_BYTES + page - 1) & ~(page - 1);
}

int coio_stack_guard_scheme(size_t *guard_bytes)
{
    int s = scheme_now();
    if (guard_bytes)
        *guard_bytes = s == COIO_STACK_GUARD_REGION ? region_bytes() : coio__page_size();
    return s;
}

/* Install guard regions of len bytes at each of n slot bottoms. 0 or -1. */
static int install_guards(char *base, size_t stride, unsigned n, size_t len)
{
#if defined(__linux__) && defined(SYS_process_madvise)
    if (n > 1 && atomic_load_explicit(&batch_ok, memory_order_relaxed) && !on_valgrind()) {
        struct iovec v[64];
        unsigned k = n < 64 ? n : 64;
        for (unsigned i = 0; i < k; i++) {
            v[i].iov_base = base + stride * i;
            v[i].iov_len = len;
        }
        long r = syscall(SYS_process_madvise, COIO__PIDFD_SELF, v, (unsigned long)k,
                         MADV_GUARD_INSTALL, 0UL);
        if (r == (long)(len * k)) {
            if (k == n)
                return 0;
            return install_guards(base + stride * k, stride, n - k, len);
        }
        atomic_store(&batch_ok, 0); /* before 6.15: no PIDFD_SELF */
    }
#endif
    for (unsigned i = 0; i < n; i++)
        if (madvise(base + stride * i, len, MADV_GUARD_INSTALL) != 0)
            return -1;
    return 0;
}

/* ---- mapping ----------------------------------------------------------- */

/* A freed stack in the pool keeps its description at its top. */
struct pooled {
    void *next;
    struct coio__stack st;
};

static inline struct pooled *pooled_of(const struct coio__stack *st)
{
    return (struct pooled *)((char *)st->map + st->map_size - sizeof(struct pooled));
}

static int map_stack(size_t size, struct coio__stack *st)
{
    size_t page = coio__page_size();
    size = (size + page - 1) & ~(page - 1);
    if (scheme_now() == COIO_STACK_GUARD_REGION) {
        size_t g = region_bytes();
        if (size > SIZE_MAX - g) { /* fits size_t, but not with its guard region */
            errno = ENOMEM;
            return -1;
        }
        void *m = mmap(NULL, size + g, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED) {
            /* EINVAL for a page-aligned, non-zero length: a length the kernel
               will not map at all, so no memory for it (as below). */
            errno = errno == ENOMEM || errno == EINVAL ? ENOMEM : EAGAIN;
            return -1;
        }
        if (install_guards(m, 0, 1, g) == 0) {
            st->map = m;
            st->map_size = size + g;
            st->size = size;
            st->guarded = COIO__GUARD_REGION;
            st->guard = g;
            st->slab = NULL;
#ifdef COIO_VALGRIND
            st->vg_id = VALGRIND_STACK_REGISTER((char *)m + g, (char *)m + size + g);
#else
            st->vg_id = 0;
#endif
            return 0;
        }
        munmap(m, size + g); /* refused after all: the page scheme below */
    }
    bool guard = atomic_fetch_add(&guarded_now, 1) < read_guard_limit();
    if (!guard)
        atomic_fetch_sub(&guarded_now, 1);
    size_t map_size = size + (guard ? page : 0);
    void *m = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        if (guard)
            atomic_fetch_sub(&guarded_now, 1);
        /* EINVAL for a page-aligned, non-zero length means a length the kernel
           (or valgrind) will not map at all: no memory for it, as ENOMEM. */
        errno = e == ENOMEM || e == EINVAL ? ENOMEM : EAGAIN;
        return -1;
    }
    if (guard && mprotect(m, page, PROT_NONE) != 0) {
        /* Out of VMAs after all: keep the stack, unguarded. */
        atomic_fetch_sub(&guarded_now, 1);
        guard = false;
    }
    st->map = m;
    st->map_size = map_size;
    st->size = size;
    st->guarded = guard ? COIO__GUARD_PAGE : COIO__GUARD_NONE;
    st->guard = guard ? page : 0;
    st->slab = NULL;
#ifdef COIO_VALGRIND
    st->vg_id = VALGRIND_STACK_REGISTER((char *)m + (guard ? page : 0), (char *)m + map_size);
#else
    st->vg_id = 0;
#endif
    return 0;
}

static void unmap_stack(struct coio__stack *st)
{
#ifdef COIO_VALGRIND
    VALGRIND_STACK_DEREGISTER(st->vg_id);
#endif
    if (st->guarded == COIO__GUARD_PAGE)
        atomic_fetch_sub(&guarded_now, 1);
    munmap(st->map, st->map_size);
}

/* ---- slabs --------------------------------------------------------------- */

/* Default-size stacks are carved from slabs of SLAB_STACKS stacks: one mmap
   instead of one per stack, and a finished stack goes back to its slab's free
   list instead of being unmapped. A slab is unmapped in one call once all its
   stacks are free and the pool holds enough free stacks without it, or when
   the loop has closed and its last stack is freed. Each stack has a guard
   slot at its bottom: with guard regions 64 KiB, all installed when the slab
   is mapped; otherwise one page, made PROT_NONE when the stack is carved
   while the guard budget lasts, else ordinary stack memory with the canary
   at its lowest word. */
enum { SLAB_STACKS = 64 };

struct coio__slab {
    char *base;
    size_t stride;              /* bytes per stack, guard slot included */
    size_t guard;               /* guard region bytes per slot (installed), or 0 */
    size_t size;                /* usable bytes requested (the pool key) */
    unsigned carved;            /* stacks handed out so far (from the bottom) */
    unsigned nfree;             /* carved stacks that are free */
    uint64_t freemask;          /* bit i: slot i is carved and free. Kept here, not in
                                   the free stacks, so that their pages may be given
                                   back to the kernel (MADV_FREE) */
    uint64_t pagemask;          /* bit i: slot i has a PROT_NONE guard page */
    unsigned vg[SLAB_STACKS];   /* valgrind stack ids, by slot */
    struct coio__stack_pool *pool; /* NULL once the loop has closed */
    struct coio__slab *next, *prev;       /* pool->slabs */
    struct coio__slab *pnext, *pprev;     /* pool->partial while nfree > 0 */
    uint8_t on_partial;
};

static size_t slab_stack_size(void)
{
    size_t page = coio__page_size();
    size_t s = COIO_STACK_DEFAULT;
#ifdef COIO_ASAN
    s *= 4; /* as task.c's stack_size_for */
#endif
    return (s + page - 1) & ~(page - 1);
}

static void partial_add(struct coio__stack_pool *pool, struct coio__slab *s)
{
    s->on_partial = 1;
    s->pprev = NULL;
    s->pnext = pool->partial;
    if (pool->partial)
        pool->partial->pprev = s;
    pool->partial = s;
}

static void partial_del(struct coio__stack_pool *pool, struct coio__slab *s)
{
    s->on_partial = 0;
    if (s->pprev)
        s->pprev->pnext = s->pnext;
    else
        pool->partial = s->pnext;
    if (s->pnext)
        s->pnext->pprev = s->pprev;
}

/* Unmap a slab whose carved stacks are all on its free list. */
static void slab_destroy(struct coio__slab *s)
{
    for (unsigned i = 0; i < s->carved; i++) {
#ifdef COIO_VALGRIND
        VALGRIND_STACK_DEREGISTER(s->vg[i]);
#endif
        if (s->pagemask >> i & 1)
            atomic_fetch_sub(&guarded_now, 1);
    }
    munmap(s->base, s->stride * SLAB_STACKS);
    free(s);
}

static void slab_unlink(struct coio__stack_pool *pool, struct coio__slab *s)
{
    if (s->on_partial)
        partial_del(pool, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        pool->slabs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (pool->cur == s)
        pool->cur = NULL;
    pool->slab_free -= s->nfree;
}

static int slab_new(struct coio__stack_pool *pool, size_t size)
{
    size_t page = coio__page_size();
    struct coio__slab *s = malloc(sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return -1;
    }
    size_t guard = scheme_now() == COIO_STACK_GUARD_REGION ? region_bytes() : 0;
    size_t stride = size + (guard ? guard : page);
    void *m = mmap(NULL, stride * SLAB_STACKS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        free(s);
        errno = e == ENOMEM ? ENOMEM : EAGAIN;
        return -1;
    }
#ifdef MADV_NOHUGEPAGE
    /* With THP "always" a touched stack top would pull in a 2 MiB page. */
    madvise(m, stride * SLAB_STACKS, MADV_NOHUGEPAGE);
#endif
    if (guard && install_guards(m, stride, SLAB_STACKS, guard) != 0) {
        munmap(m, stride * SLAB_STACKS); /* refused after all: one-page slots */
        guard = 0;
        stride = size + page;
        m = mmap(NULL, stride * SLAB_STACKS, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            free(s);
            errno = e == ENOMEM ? ENOMEM : EAGAIN;
            return -1;
        }
#ifdef MADV_NOHUGEPAGE
        madvise(m, stride * SLAB_STACKS, MADV_NOHUGEPAGE);
#endif
    }
    memset(s, 0, sizeof *s);
    s->base = m;
    s->stride = stride;
    s->guard = guard;
    s->size = size;
    s->pool = pool;
    s->next = pool->slabs;
    if (pool->slabs)
        pool->slabs->prev = s;
    pool->slabs = s;
    pool->cur = s;
    return 0;
}

static int slab_get(struct coio__stack_pool *pool, size_t size, struct coio__stack *st)
{
    struct coio__slab *s = pool->partial;
    if (s) {
        unsigned i = (unsigned)__builtin_ctzll(s->freemask);
        s->freemask &= s->freemask - 1;
        if (--s->nfree == 0)
            partial_del(pool, s);
        pool->slab_free--;
        st->map = s->base + s->stride * i;
        st->map_size = s->stride;
        st->size = s->size;
        st->slab = s;
        st->vg_id = s->vg[i];
        if (s->guard) {
            st->guarded = COIO__GUARD_REGION;
            st->guard = s->guard;
        } else if (s->pagemask >> i & 1) {
            st->guarded = COIO__GUARD_PAGE;
            st->guard = coio__page_size();
        } else {
            st->guarded = COIO__GUARD_NONE;
            st->guard = 0;
        }
        return 0;
    }
    s = pool->cur;
    if (!s || s->carved == SLAB_STACKS) {
        if (slab_new(pool, size) < 0)
            return -1;
        s = pool->cur;
    }
    size_t page = coio__page_size();
    unsigned slot = s->carved++;
    char *m = s->base + s->stride * slot;
    size_t g = s->guard;
    if (g) {
        st->guarded = COIO__GUARD_REGION;
    } else {
        bool guard = atomic_fetch_add(&guarded_now, 1) < read_guard_limit();
        if (guard && mprotect(m, page, PROT_NONE) != 0)
            guard = false; /* out of VMAs after all: keep the stack, unguarded */
        if (!guard)
            atomic_fetch_sub(&guarded_now, 1);
        st->guarded = guard ? COIO__GUARD_PAGE : COIO__GUARD_NONE;
        g = guard ? page : 0;
        if (guard)
            s->pagemask |= (uint64_t)1 << slot;
    }
    st->map = m;
    st->map_size = s->stride;
    st->size = size;
    st->guard = g;
    st->slab = s;
#ifdef COIO_VALGRIND
    st->vg_id = VALGRIND_STACK_REGISTER(m + g, m + s->stride);
#else
    st->vg_id = 0;
#endif
    s->vg[slot] = st->vg_id;
    return 0;
}

static void slab_put(struct coio__stack *st)
{
    struct coio__slab *s = st->slab;
    struct coio__stack_pool *pool = s->pool;
    unsigned slot = (unsigned)(((char *)st->map - s->base) / s->stride);
    s->freemask |= (uint64_t)1 << slot;
    s->nfree++;
    if (!pool) { /* the loop has closed */
        if (s->nfree == s->carved)
            slab_destroy(s);
        return;
    }
    pool->slab_free++;
    if (!s->on_partial)
        partial_add(pool, s);
    if (s->nfree == SLAB_STACKS && pool->slab_free - SLAB_STACKS >= pool->max && pool->trim) {
        slab_unlink(pool, s);
        slab_destroy(s);
    }
    /* Otherwise an idle slab stays mapped, pages and all, for the next burst:
       a server's next wave of connections finds its stacks and control blocks
       without faulting a page in (W3-warm). Lending the pages back with
       MADV_FREE was measured and rejected: the advice leaves every page table
       entry old and clean, and the first touch after it trapped to the
       hypervisor on the VM of the README's table, which made the warm wave 3.3
       times slower. The loop's close unmaps them. */
}

int coio__stack_get(struct coio__stack_pool *pool, size_t size, struct coio__stack *st)
{
    size_t page = coio__page_size();
    /* Rounding up to pages and adding the guard page must not wrap (a wrapped
       size mapped only the guard page, and the control block was written past
       it). A size that fits but is too large to map is ENOMEM from mmap. */
    if (size > SIZE_MAX - 2 * page) {
        errno = EINVAL;
        return -1;
    }
    size_t want = (size + page - 1) & ~(page - 1);
    if (pool && want == slab_stack_size())
        return slab_get(pool, want, st);
    if (pool && pool->head) {
        struct pooled *p = pool->head;
        if (p->st.size == want) {
            pool->head = p->next;
            pool->n--;
            *st = p->st;
            return 0;
        }
    }
    return map_stack(size, st);
}

void coio__stack_put(struct coio__stack_pool *pool, struct coio__stack *st)
{
#ifdef COIO_ASAN
    /* Frames abandoned on this stack (a finished task never returns through
       them) leave poisoned redzones behind; the next user starts clean. */
    size_t g = st->guard;
    __asan_unpoison_memory_region((char *)st->map + g, st->map_size - g);
#endif
    if (st->slab) {
        slab_put(st);
        return;
    }
    if (pool && pool->n < pool->max && (!pool->head || ((struct pooled *)pool->head)->st.size == st->size)) {
        struct pooled *p = pooled_of(st);
        p->st = *st;
        p->next = pool->head;
        pool->head = p;
        pool->n++;
        return;
    }
    unmap_stack(st);
}

void coio__stack_pool_drain(struct coio__stack_pool *pool)
{
    while (pool->head) {
        struct pooled *p = pool->head;
        pool->head = p->next;
        struct coio__stack st = p->st;
        unmap_stack(&st);
    }
    pool->n = 0;
    /* Slabs with stacks still in use (finished tasks whose handles are still
       held) are unmapped when their last stack is freed. */
    struct coio__slab *s, *next;
    for (s = pool->slabs; s; s = next) {
        next = s->next;
        bool idle = s->nfree == s->carved;
        slab_unlink(pool, s);
        s->pool = NULL;
        if (idle)
            slab_destroy(s);
    }
}

/* ---- overflow reporting ------------------------------------------------- */

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int sig_users;                       /* open loops in the process */
static struct sigaction old_segv, old_bus;  /* what we chain to and restore */
static _Thread_local int alt_users;         /* open loops on this thread */
static _Thread_local void *alt_mem;         /* our alternate stack, if we installed one */
static _Thread_local size_t alt_size;

static size_t fmt_dec(char *p, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static size_t fmt_hex(char *p, uintptr_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[2 * sizeof v];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    p[0] = '0';
    p[1] = 'x';
    for (size_t i = 0; i < n; i++)
        p[2 + i] = tmp[n - 1 - i];
    return n + 2;
}

static size_t put_str(char *p, const char *s, size_t max)
{
    size_t n = 0;
    while (s[n] && n < max)
        n++;
    memcpy(p, s, n);
    return n;
}

/* Async-signal-safe: formats by hand and uses write(2) and abort() only. */
_Noreturn void coio__stack_overflow(struct coio__task *t, const void *addr)
{
    char msg[256];
    size_t n = 0;
    n += put_str(msg + n, "coio: stack overflow in task '", 64);
    n += put_str(msg + n, t->f.name, 63);
    n += put_str(msg + n, "' (stack ", 16);
    n += fmt_dec(msg + n, t->stack.size);
    n += put_str(msg + n, " bytes, ", 16);
    n += put_str(msg + n, t->stack.guarded == COIO__GUARD_REGION ? "guard region"
                          : t->stack.guarded ? "guard page" : "no guard page, canary", 32);
    n += put_str(msg + n, ", fault address ", 20);
    n += fmt_hex(msg + n, (uintptr_t)addr);
    n += put_str(msg + n, ")\n", 4);
    ssize_t r = write(2, msg, n);
    (void)r;
    coio__fault_reported = 1; /* the SIGABRT that follows needs no second report */
    abort();
}

static void chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: reinstate it; the faulting instruction runs again and
       the kernel applies it. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/* The stack pointer of the interrupted context, or 0 where unknown. */
static uintptr_t fault_sp(void *uc)
{
#if defined(__linux__) && defined(__x86_64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__linux__) && defined(__aarch64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.sp;
#elif defined(__linux__) && defined(__riscv)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.__gregs[REG_SP];
#elif defined(__linux__) && defined(__i386__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_ESP];
#elif defined(__linux__) && defined(__powerpc64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gp_regs[1];
#elif defined(__linux__) && defined(__arm__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.arm_sp;
#elif defined(__linux__) && defined(__s390x__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[15];
#else
    (void)uc;
    return 0;
#endif
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    struct coio__task *t = coio__self();
    if (t) {
        uintptr_t a = (uintptr_t)si->si_addr;
        uintptr_t lo = (uintptr_t)t->stack.map;
        uintptr_t guard_hi = lo + t->stack.guard;
        /* The guard itself, or up to 64 KiB below the mapping for a frame
           large enough to jump over it. */
        if (a < guard_hi + (t->stack.guard ? 0 : 256) && a + 65536 >= lo)
            coio__stack_overflow(t, si->si_addr);
        /* Or the task's stack pointer is below its stack (not on a signal
           stack): it ran through what lay below before anything faulted. */
        uintptr_t sp = fault_sp(uc);
        stack_t ss;
        if (sp && sp < guard_hi &&
            !(sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) &&
              sp >= (uintptr_t)ss.ss_sp && sp - (uintptr_t)ss.ss_sp < ss.ss_size))
            coio__stack_overflow(t, si->si_addr);
    }
    if (t)
        coio__fault_report(t, sig, si, uc); /* dump.c: "coio: SIGSEGV in task ..." */
    chain(sig == SIGBUS ? &old_bus : &old_segv, sig, si, uc);
}

int coio__overflow_guard_acquire(void)
{
    /* Per thread: an alternate signal stack unless the thread has one. */
    if (alt_users++ == 0) {
        stack_t cur;
        if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
            size_t sz = 64 * 1024;
            void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m != MAP_FAILED) {
                stack_t ss = {.ss_sp = m, .ss_size = sz, .ss_flags = 0};
                if (sigaltstack(&ss, NULL) == 0) {
                    alt_mem = m;
                    alt_size = sz;
                } else {
                    munmap(m, sz);
                }
            }
        }
    }
    /* Per process: the handler, chaining to what was there. */
    pthread_mutex_lock(&sig_lock);
    if (sig_users++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &old_segv);
        sigaction(SIGBUS, &sa, &old_bus);
    }
    pthread_mutex_unlock(&sig_lock);
    return 0;
}

static void restore_if_ours(int sig, const struct sigaction *old)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault)
        sigaction(sig, old, NULL);
}

void coio__overflow_guard_release(void)
{
    pthread_mutex_lock(&sig_lock);
    if (--sig_users == 0) {
        restore_if_ours(SIGSEGV, &old_segv);
        restore_if_ours(SIGBUS, &old_bus);
    }
    pthread_mutex_unlock(&sig_lock);
    if (--alt_users == 0 && alt_mem) {
        stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        stack_t cur;
        /* Only remove it if it is still ours and we are not running on it. */
        if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == alt_mem && !(cur.ss_flags & SS_ONSTACK)) {
            sigaltstack(&ss, NULL);
            munmap(alt_mem, alt_size);
        }
        alt_mem = NULL;
    }
}
