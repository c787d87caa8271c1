/* loop.c — the event loop and the scheduler: the ready queue, one iteration
 * (poll, due timers, the batch), parking and waking tasks, switching between
 * task stacks and the loop context, run/stop/close and call_soon/later/at.
 * The task API (spawn, await, cancel, results) is in task.c; fds in io.c.
 *
 * One iteration, as asyncio's _run_once: poll for I/O (not blocking if
 * anything is ready), move due timers to the ready queue in deadline order,
 * then run exactly the entries that were ready at that point (the "batch");
 * whatever they schedule waits for the next iteration.
 *
 * Control flow: a task that parks hands control straight to the next task of
 * the batch when there is one, without passing through the loop context; the
 * loop context runs callbacks and does the polling. When the batch runs out
 * and the loop would do nothing but start the next batch (nothing to poll, no
 * timers, not stopping), the parking task starts it itself.
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"
#include "poller.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Thread_local coio_loop *coio__tls_loop;
_Thread_local coio_loop *coio__tls_running;

_Noreturn void coio__panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "coio: internal error at %s:%d: %s\n", file, line, what);
    abort();
}

int64_t coio__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t coio__deadline_ns(double seconds)
{
    int64_t now = coio__now_ns();
    if (seconds <= 0)
        return now;
    if (seconds >= 9.0e9) /* ~285 years: never */
        return INT64_MAX;
    return now + (int64_t)(seconds * 1e9);
}

double coio_loop_time(coio_loop *loop)
{
    (void)loop;
    return (double)coio__now_ns() / 1e9;
}

/* ---- the registry of live loops ---------------------------------------------
   Every loop from coio_loop_new until its memory is freed, as a sorted array of
   addresses: a pointer to a loop already freed (a second coio_loop_close, a
   stale pointer from another thread) is found missing without reading freed
   memory, and gets EINVAL. The loop running on the calling thread is alive by
   definition and skips the lookup, so the hot paths (spawn, call_soon from a
   task) take no lock. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *reg_v;
static size_t reg_n, reg_cap;

/* Under reg_mu: the index of the first entry >= key. */
static size_t reg_find(uintptr_t key)
{
    size_t lo = 0, hi = reg_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (reg_v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int reg_add(const coio_loop *l)
{
    uintptr_t key = (uintptr_t)l;
    pthread_mutex_lock(&reg_mu);
    if (reg_n == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 16;
        uintptr_t *v = realloc(reg_v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&reg_mu);
            errno = ENOMEM;
            return -1;
        }
        reg_v = v;
        reg_cap = cap;
    }
    size_t i = reg_find(key);
    memmove(reg_v + i + 1, reg_v + i, (reg_n - i) * sizeof *reg_v);
    reg_v[i] = key;
    reg_n++;
    pthread_mutex_unlock(&reg_mu);
    return 0;
}

static void reg_del(const coio_loop *l)
{
    uintptr_t key = (uintptr_t)l;
    pthread_mutex_lock(&reg_mu);
    size_t i = reg_find(key);
    if (i < reg_n && reg_v[i] == key) {
        memmove(reg_v + i, reg_v + i + 1, (reg_n - i - 1) * sizeof *reg_v);
        reg_n--;
    }
    if (reg_n == 0) { /* no loop left: give the array back (leak checkers) */
        free(reg_v);
        reg_v = NULL;
        reg_cap = 0;
    }
    pthread_mutex_unlock(&reg_mu);
}

bool coio__loop_valid(const coio_loop *l)
{
    if (!l)
        return false;
    if (l == coio__tls_running)
        return true;
    pthread_mutex_lock(&reg_mu);
    size_t i = reg_find((uintptr_t)l);
    bool live = i < reg_n && reg_v[i] == (uintptr_t)l;
    pthread_mutex_unlock(&reg_mu);
    return live && l->magic == COIO__LOOP_MAGIC;
}

void coio__loop_unref(coio_loop *l)
{
    if (--l->refs == 0) {
        reg_del(l);
        l->magic = 0;
        coio__xq_unref(l->xq);
        free(l);
    }
}

/* ---- ready queue --------------------------------------------------------- */

static bool remove_from(struct coio__runnable **pp, struct coio__runnable *r)
{
    for (; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return true;
        }
    return false;
}

bool coio__ready_remove(coio_loop *l, struct coio__runnable *r)
{
    if (remove_from(&l->batch, r))
        return true;
    if (!remove_from(&l->ready, r))
        return false;
    /* Fix the tail if r was last. */
    l->ready_tail = &l->ready;
    while (*l->ready_tail)
        l->ready_tail = &(*l->ready_tail)->next;
    return true;
}

static inline void take_ready_as_batch(coio_loop *l)
{
    l->batch = l->ready;
    l->ready = NULL;
    l->ready_tail = &l->ready;
}

/* ---- switching, parking ---------------------------------------------------- */

/* The switch, next_task and park are inline in coio_int.h (coio__ctx_switch,
   coio__next_task, coio__park_inline): queues and coio_yield park from other
   files on every operation. */

static void release_zombie(coio_loop *l)
{
    struct coio__task *z = l->zombie;
    if (z) {
        l->zombie = NULL;
        coio__task_release_loopref(z);
    }
}

int coio__wait_cancel_unlink(struct coio__wait *w, struct coio__task *t)
{
    if (w->unlink)
        w->unlink(w);
    coio__wake(t, ECANCELED);
    return 1;
}

int coio__park(struct coio__task *self, struct coio__wait *w, int64_t deadline, int timer_code)
{
    return coio__park_inline(self, w, deadline, timer_code);
}

int coio__yield(struct coio__task *self)
{
    return coio__yield_inline(self);
}

_Noreturn void coio__task_exit(struct coio__task *t)
{
    coio_loop *l = t->f.loop;
    coio__check_canary(t);
    if (COIO_UNLIKELY(t->dbg_stack)) /* before awaiters can ask for it */
        coio__debug_stack_measure(t);
    /* Scopes left entered (coio_fail inside one) must not outlive the task. */
    coio__scopes_abandon(t);
    if (t->timer.index != COIO_NOT_IN_HEAP)
        coio__heap_remove(&l->heap, &t->timer);
    coio__list_del(&t->all_link);
    l->ntasks--;
    coio__future_complete(&t->f);
    /* This stack stays mapped until the loop's reference is dropped, which
       must happen on another stack: leave the task as the loop's zombie. */
    release_zombie(l);
    l->zombie = t;
    coio__ctx_switch(l, t, coio__next_task(l), true);
    coio__panic(__FILE__, __LINE__, "a finished task was resumed");
}

/* ---- handles -------------------------------------------------------------- */

coio_handle *coio__handle_alloc(coio_loop *l)
{
    coio_handle *h = l->free_handles;
    if (h) {
        l->free_handles = h->free_next;
        l->nfree_handles--;
    } else if (!(h = malloc(sizeof *h))) {
        return NULL;
    }
    memset(h, 0, sizeof *h);
    h->loop = l;
    h->refs = 1;
    h->timer.index = COIO_NOT_IN_HEAP;
    h->timer.kind = COIO__TIMER_HANDLE;
    h->run.kind = COIO__RUN_HANDLE;
    coio__list_init(&h->cnode.link);
    h->cnode.kind = COIO__CN_CALLBACK;
    h->ctx = coio__ctx_capture(); /* CV4: runs in the context current now */
    l->refs++;
    return h;
}

void coio__handle_unref(coio_handle *h)
{
    if (--h->refs > 0)
        return;
    coio_loop *l = h->loop;
    coio__ctx_release(h->ctx);
    h->ctx = NULL;
    if (!l->closed && l->nfree_handles < 4096) {
        h->free_next = l->free_handles;
        l->free_handles = h;
        l->nfree_handles++;
    } else {
        free(h);
    }
    coio__loop_unref(l);
}

static void run_handle(coio_loop *l, coio_handle *h)
{
    (void)l;
    h->done = 1;
    if (!h->cancelled) {
        coio__tls_cbslot = &h->ctx;
        if (COIO_UNLIKELY(l->debug))
            coio__debug_run_handle(l, h);
        else if (h->type == COIO__H_CALL)
            h->u.call.cb(h->u.call.arg);
        else
            coio__run_done_callback(h);
        coio__tls_cbslot = NULL;
    } else if (h->type == COIO__H_DONE_CB) {
        coio_task_release(h->u.done_cb.fut);
    }
    coio__handle_unref(h);
}

static coio_handle *schedule(coio_loop *l, int64_t when, void (*cb)(void *), void *arg)
{
    if (!coio__loop_valid(l) || l->closed || !cb) {
        errno = EINVAL;
        return NULL;
    }
    if (COIO_UNLIKELY(l->debug) && coio__debug_foreign(l))
        return NULL;
    coio_handle *h = coio__handle_alloc(l);
    if (!h)
        return NULL;
    h->type = COIO__H_CALL;
    h->u.call.cb = cb;
    h->u.call.arg = arg;
    if (when < 0) {
        coio__ready_push(l, &h->run);
        return h;
    }
    if (coio__heap_reserve(&l->heap, l->heap_need + 1) < 0) {
        coio__handle_unref(h);
        errno = ENOMEM;
        return NULL;
    }
    l->heap_need++;
    h->timer.when = when;
    h->timer.seq = l->timer_seq++;
    coio__heap_push(&l->heap, &h->timer);
    return h;
}

coio_handle *coio_call_soon(coio_loop *loop, void (*cb)(void *), void *arg)
{
    return schedule(loop, -1, cb, arg);
}

coio_handle *coio_call_later(coio_loop *loop, double delay, void (*cb)(void *), void *arg)
{
    if (isnan(delay)) {
        errno = EINVAL;
        return NULL;
    }
    if (delay > 0)
        return schedule(loop, coio__deadline_ns(delay), cb, arg);
    /* A negative delay keeps its distance into the past, so that due timers
       run by deadline: call_later(-2) before call_later(-1) (L4). */
    int64_t now = coio__now_ns();
    int64_t ns = delay * 1e9 <= (double)-now ? 0 : now + (int64_t)(delay * 1e9);
    return schedule(loop, ns, cb, arg);
}

coio_handle *coio_call_at(coio_loop *loop, double when, void (*cb)(void *), void *arg)
{
    if (isnan(when)) {
        errno = EINVAL;
        return NULL;
    }
    int64_t ns = when <= 0 ? 0 : when >= 9.0e9 ? INT64_MAX : (int64_t)(when * 1e9);
    return schedule(loop, ns, cb, arg);
}

int coio_handle_cancel(coio_handle *h)
{
    if (!h) {
        errno = EINVAL;
        return -1;
    }
    if (h->cancelled || h->done)
        return 0;
    h->cancelled = 1;
    if (h->timer.index != COIO_NOT_IN_HEAP) {
        /* Still waiting in the heap: drop it now, nothing is left behind. */
        coio_loop *l = h->loop;
        coio__heap_remove(&l->heap, &h->timer);
        l->heap_need--;
        h->done = 1;
        coio__handle_unref(h);
    }
    /* A queued one is skipped (and released) when its turn comes. */
    return 1;
}

int coio_handle_cancelled(const coio_handle *h) { return h && h->cancelled; }

double coio_handle_when(const coio_handle *h)
{
    /* call_soon handles keep when == 0 (the first timer of a loop has seq 0). */
    return h && h->type == COIO__H_CALL ? (double)h->timer.when / 1e9 : 0.0;
}

coio_handle *coio_handle_retain(coio_handle *h)
{
    if (h)
        h->refs++;
    return h;
}

void coio_handle_release(coio_handle *h)
{
    if (h)
        coio__handle_unref(h);
}

/* ---- one iteration ------------------------------------------------------- */

static void fire_timer(coio_loop *l, struct coio__timer *tm)
{
    if (tm->kind == COIO__TIMER_HANDLE) {
        coio_handle *h = coio__container_of(tm, coio_handle, timer);
        l->heap_need--;
        coio__ready_push(l, &h->run);
        return;
    }
    if (tm->kind == COIO__TIMER_ICB) {
        struct coio__icb *cb = coio__container_of(tm, struct coio__icb, timer);
        cb->queued = 1;
        coio__ready_push(l, &cb->run);
        return;
    }
    struct coio__task *t = coio__container_of(tm, struct coio__task, timer);
    if (t->wait && t->wait->unlink)
        t->wait->unlink(t->wait);
    coio__wake(t, t->timer_code);
}

static void run_once(coio_loop *l)
{
    /* File operations queued by the last batch go to the kernel in one
       io_uring_enter; those it completed right away are taken too. */
    bool ring_stalled = l->ring && coio__file_submit(l);
    int64_t timeout;
    struct coio__timer *top = coio__heap_top(&l->heap);
    if (l->ready || l->stopping)
        timeout = 0;
    else if (top)
        timeout = top->when == INT64_MAX ? -1 : top->when - coio__now_ns();
    else
        timeout = -1;
    if (timeout < 0 && top && top->when != INT64_MAX)
        timeout = 0;
    /* SQEs the kernel refused for now (no memory): try again within 1 ms. */
    if (COIO_UNLIKELY(ring_stalled) && (timeout < 0 || timeout > 1000000))
        timeout = 1000000;
    /* A zero-timeout poll with no task waiting on an fd can find nothing to
       wake: skip the system call. */
    if (timeout != 0 || l->io_waiters > l->ring_ops) {
        struct coio__pollev ev[128];
        int n = coio__poll_wait(l->poller, timeout, ev, 128);
        for (int i = 0; i < n; i++)
            coio__io_event(l, ev[i].fd, ev[i].events, ev[i].err);
    }
    /* The ring's fd is in the poller only to end a blocking wait; its
       completions are read from memory. */
    if (l->ring_ops)
        coio__file_reap(l);
    /* Work from other threads or signal handlers runs in this batch. */
    if (atomic_load_explicit(&l->xpending, memory_order_relaxed))
        coio__xq_schedule(l);
    /* The dump signal (dump.c), checked on every pass: its handler does not
       wake the poll when xpending is already set, and xpending may be set
       by a post whose drain is queued but has not run (it clears xpending). */
    if (COIO_UNLIKELY(atomic_load_explicit(&l->dump_req, memory_order_relaxed)))
        coio__dump_requested(l);
    if (l->heap.n) {
        int64_t now = coio__now_ns();
        while ((top = coio__heap_top(&l->heap)) && top->when <= now) {
            coio__heap_pop(&l->heap);
            fire_timer(l, top);
        }
    }
    take_ready_as_batch(l);
    struct coio__runnable *r;
    while ((r = l->batch)) {
        l->batch = r->next;
        if (r->kind == COIO__RUN_TASK) {
            struct coio__task *t = coio__container_of(r, struct coio__task, run);
            t->queued = 0;
            coio__ctx_switch(l, NULL, t, false);
            release_zombie(l);
        } else if (r->kind == COIO__RUN_ICB) {
            struct coio__icb *cb = coio__container_of(r, struct coio__icb, run);
            cb->queued = 0;
            if (COIO_UNLIKELY(l->debug))
                coio__debug_run_icb(l, cb);
            else
                cb->fn(cb);
        } else {
            run_handle(l, coio__container_of(r, coio_handle, run));
        }
    }
    release_zombie(l);
}

/* ---- run / stop / close ------------------------------------------------------ */

coio_loop *coio_loop_new(void)
{
    coio_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (coio__poll_open(&l->poller) < 0) {
        int e = errno;
        free(l);
        errno = e;
        return NULL;
    }
    if (coio__xq_open(l) < 0) {
        int e = errno;
        coio__poll_close(l->poller);
        free(l);
        errno = e;
        return NULL;
    }
    if (reg_add(l) < 0) {
        coio__xq_unref(l->xq);
        coio__poll_close(l->poller);
        free(l);
        errno = ENOMEM;
        return NULL;
    }
    l->magic = COIO__LOOP_MAGIC;
    l->refs = 1;
    l->ready_tail = &l->ready;
    coio__list_init(&l->tasks);
    coio__list_init(&l->futures);
    l->pool.max = 16384;
    coio__debug_loop_init(l);
    coio__overflow_guard_acquire();
    coio__dump_loop_init(l);
    if (!coio__tls_loop)
        coio__tls_loop = l;
    return l;
}

coio_loop *coio_loop_current(void)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if (!l)
        errno = EINVAL;
    return l;
}

int coio_loop_set_current(coio_loop *loop)
{
    if (loop && !coio__loop_valid(loop)) {
        errno = EINVAL;
        return -1;
    }
    if (coio__tls_running && coio__tls_running != loop) {
        errno = EBUSY;
        return -1;
    }
    coio__tls_loop = loop;
    return 0;
}

int coio_loop_is_running(coio_loop *loop)
{
    return coio__loop_valid(loop) && loop->running;
}

static int begin_run(coio_loop *l)
{
    if (!coio__loop_valid(l) || l->closed) {
        errno = EINVAL;
        return -1;
    }
    if (coio__tls_running) {
        errno = EBUSY;
        return -1;
    }
    l->running = 1;
    l->thread = pthread_self(); /* the owner thread for debug mode's EPERM check */
    l->prev_current = coio__tls_loop;
    coio__tls_loop = l;
    coio__tls_running = l;
#ifdef COIO_ASAN
    if (!l->thread_stack_bottom) {
        pthread_attr_t a;
        void *addr = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            pthread_attr_getstack(&a, &addr, &size);
            pthread_attr_destroy(&a);
        }
        l->thread_stack_bottom = addr;
        l->thread_stack_size = size;
    }
#endif
#ifdef COIO_TSAN
    l->tsan_fiber = __tsan_get_current_fiber(); /* the loop context's */
#endif
    return 0;
}

static void end_run(coio_loop *l)
{
    l->running = 0;
    l->stopping = 0;
    l->until = NULL;
    coio__tls_running = NULL;
    coio__tls_loop = l->prev_current && coio__loop_valid(l->prev_current) ? l->prev_current : l;
}

int coio_loop_run_forever(coio_loop *loop)
{
    if (begin_run(loop) < 0)
        return -1;
    for (;;) {
        run_once(loop);
        if (loop->stopping)
            break;
    }
    end_run(loop);
    return 0;
}

int coio_loop_run_until_complete(coio_loop *loop, coio_task *t, void **result)
{
    if (!coio__future_valid(t) || !coio__loop_valid(loop) || t->loop != loop) {
        errno = EINVAL;
        return -1;
    }
    if (begin_run(loop) < 0)
        return -1;
    loop->until = t;
    coio_task_retain(t);
    while (t->state == COIO_PENDING) {
        run_once(loop);
        if (loop->stopping)
            break;
    }
    /* asyncio stops the run from a done-callback of t, which call_soon queues:
       what was ready when t finished (t's own done-callbacks, the first step of
       a task t spawned) still runs in one more iteration before the run ends. */
    if (t->state != COIO_PENDING && !loop->stopping) {
        loop->stopping = 1;
        run_once(loop);
    }
    end_run(loop);
    int rc = coio__outcome(t, result);
    int e = errno;
    coio_task_release(t);
    if (rc < 0)
        errno = e;
    return rc;
}

int coio_loop_stop(coio_loop *loop)
{
    if (!coio__loop_valid(loop)) {
        errno = EINVAL;
        return -1;
    }
    if (COIO_UNLIKELY(loop->debug) && coio__debug_foreign(loop))
        return -1;
    loop->stopping = 1;
    return 0;
}

/* asyncio.run's _cancel_all_tasks: cancel every pending task (those spawned
   meanwhile too, once each) and run until none is left. */
static void shutdown_tasks(coio_loop *l)
{
    if (begin_run(l) < 0)
        return;
    while (l->ntasks) {
        struct coio__list *n;
        for (n = l->tasks.next; n != &l->tasks; n = n->next) {
            struct coio__task *t = coio__container_of(n, struct coio__task, all_link);
            if (!t->shutdown_cancelled) {
                t->shutdown_cancelled = 1;
                coio_cancel(&t->f);
            }
        }
        run_once(l);
    }
    end_run(l);
}

int coio_run(void *(*main)(void *), void *arg, void **result)
{
    if (!main) {
        errno = EINVAL;
        return -1;
    }
    if (coio__tls_running) {
        errno = EBUSY;
        return -1;
    }
    coio_loop *prev = coio__tls_loop;
    coio_loop *l = coio_loop_new();
    if (!l)
        return -1;
    /* l is not made current: while it runs it is the running loop, and the
       runs' end_run gives the thread back prev (unless main closed prev). */
    coio_task *t = coio_loop_spawn(l, NULL, main, arg);
    if (!t) {
        int e = errno;
        coio_loop_close(l);
        coio__tls_loop = prev;
        errno = e;
        return -1;
    }
    /* R3: the first SIGINT cancels main, the second ends the process. */
    struct coio__run_sigint rs = {t, 0, 0};
    coio__sigint_run_begin(l, &rs);
    int rc = coio_loop_run_until_complete(l, t, result);
    int e = errno;
    coio__sigint_run_end(l, &rs);
    /* KeyboardInterrupt replaces CancelledError when the SIGINT's cancel was
       the only one (asyncio: uncancel() == 0). */
    if (rc < 0 && e == ECANCELED && rs.interrupted && coio_task_cancelling(t) <= 1)
        e = EINTR;
    shutdown_tasks(l);
    coio_task_release(t);
    coio_loop_close(l);
    if (rc < 0)
        errno = e;
    return rc;
}

int coio_loop_close(coio_loop *l)
{
    if (!coio__loop_valid(l)) {
        errno = EINVAL;
        return -1;
    }
    if (l->running) {
        errno = EBUSY;
        return -1;
    }
    if (l->closed)
        return 0;
    l->closed = 1;
    /* The running loop must not restore a freed loop as current when it ends. */
    if (coio__tls_running && coio__tls_running->prev_current == l)
        coio__tls_running->prev_current = NULL;
    release_zombie(l);
    /* Queued entries first: tasks on the ready queue may be freed below. */
    struct coio__runnable *lists[2] = {l->batch, l->ready};
    l->batch = l->ready = NULL;
    l->ready_tail = &l->ready;
    for (int i = 0; i < 2; i++) {
        struct coio__runnable *r = lists[i], *next;
        for (; r; r = next) {
            next = r->next;
            if (r->kind == COIO__RUN_TASK) {
                coio__container_of(r, struct coio__task, run)->queued = 0;
            } else if (r->kind == COIO__RUN_ICB) {
                coio__container_of(r, struct coio__icb, run)->queued = 0;
            } else {
                coio_handle *h = coio__container_of(r, coio_handle, run);
                h->done = 1;
                if (h->type == COIO__H_DONE_CB)
                    coio_task_release(h->u.done_cb.fut);
                coio__handle_unref(h);
            }
        }
    }
    while (!coio__list_empty(&l->tasks)) {
        struct coio__task *t = coio__container_of(l->tasks.next, struct coio__task, all_link);
        coio__task_destroy_pending(t);
    }
    coio__futures_loop_close(l);
    struct coio__timer *tm;
    while ((tm = coio__heap_pop(&l->heap))) {
        if (tm->kind == COIO__TIMER_ICB) /* owners disarm their own (scope abandon) */
            continue;
        coio__assert(tm->kind == COIO__TIMER_HANDLE);
        coio_handle *h = coio__container_of(tm, coio_handle, timer);
        h->done = 1;
        coio__handle_unref(h);
    }
    coio__heap_free(&l->heap);
    coio__threads_loop_close(l);
    coio__file_loop_close(l);
    coio__io_close_all(l);
    coio__poll_close(l->poller);
    l->poller = NULL;
    coio__task_cache_drain(l);
    coio__stack_pool_drain(&l->pool);
    while (l->free_handles) {
        coio_handle *h = l->free_handles;
        l->free_handles = h->free_next;
        free(h);
    }
    l->nfree_handles = 0;
    coio__dump_loop_close(l);
    coio__overflow_guard_release();
    if (coio__tls_loop == l)
        coio__tls_loop = NULL;
    coio__loop_unref(l);
    return 0;
}
