/* task.c — futures and tasks: spawning (the control block lives at the top of
 * the task's own stack), the entry and exit of a task, await, cancellation as
 * asyncio does it, failure, results, names, references and done-callbacks.
 * Scheduling itself (park, wake, switching) is in loop.c.
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef COIO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

bool coio__future_valid(const coio_future *f)
{
    return f && f->magic == COIO__FUT_MAGIC;
}

static char *dup_msg(const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t n = strnlen(s, max);
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static void set_name(coio_future *f, const char *name)
{
    size_t n = strnlen(name, sizeof f->name - 1);
    memcpy(f->name, name, n);
    f->name[n] = 0;
}

/* ---- spawning ----------------------------------------------------------- */

static void task_entry(void *p);

static size_t stack_size_for(const coio_task_opts *opts)
{
    size_t s = opts && opts->stack_size ? opts->stack_size : COIO_STACK_DEFAULT;
    if (s < COIO_STACK_MIN)
        s = COIO_STACK_MIN;
#ifdef COIO_ASAN
    /* instrumented frames are several times larger; a size this would wrap is
       refused by coio__stack_get (SIZE_MAX: EINVAL) */
    s = s > SIZE_MAX / 4 ? SIZE_MAX : s * 4;
#endif
    return s;
}

/* EG1: run t's first step now, from the running context (a task or the loop
   context), and come back here when it first suspends or ends. The way back is
   put at the head of the current batch, which is what a suspending or ending
   task takes its successor from (coio__next_task): the spawning task itself,
   or for the loop context a marker that makes next_task answer "the loop
   context". An eager step that spawns eagerly nests the same way. t is never
   put on the ready queue here: if it suspends, whatever woke it queues it
   (EG3); if it ends, it is done (EG2). */
static void eager_start(coio_loop *l, struct coio__task *t)
{
    struct coio__task *self = l->current;
    struct coio__runnable back;
    if (self) {
        self->queued = 1;
        self->run.next = l->batch;
        l->batch = &self->run;
    } else {
        back.kind = COIO__RUN_EAGER;
        back.next = l->batch;
        l->batch = &back;
    }
    coio__ctx_switch(l, self, t, false);
    if (!self) {
        coio__assert(l->batch == &back);
        l->batch = back.next;
    }
}

coio_task *coio_loop_spawn(coio_loop *l, const coio_task_opts *opts, void *(*fn)(void *), void *arg)
{
    /* (the running loop is valid: no call to ask) */
    if ((l != coio__tls_running && !coio__loop_valid(l)) || l->closed || !fn) {
        errno = EINVAL;
        return NULL;
    }
    if (COIO_UNLIKELY(l->debug) && coio__debug_foreign(l))
        return NULL;
    if (COIO_UNLIKELY(l->heap_need + 1 > l->heap.cap) &&
        coio__heap_reserve(&l->heap, l->heap_need + 1) < 0) {
        errno = ENOMEM;
        return NULL;
    }
    struct coio__task *t;
    size_t size = stack_size_for(opts);
    if (COIO_LIKELY(l->hot != NULL) && size == stack_size_for(NULL)) {
        /* The most recently finished task's block, on its default-size stack:
           stack and canary are still in it, and its lines are likely cached. */
        t = l->hot;
        l->hot = t->run.next ? coio__container_of(t->run.next, struct coio__task, run) : NULL;
        l->nhot--;
    } else {
        struct coio__stack st;
        if (coio__stack_get(&l->pool, size, &st) < 0)
            return NULL;
        /* The control block sits at the top of the stack, cache-line aligned;
           the first frame goes right below it. */
        uintptr_t top = (uintptr_t)st.map + st.map_size;
        t = (struct coio__task *)((top - sizeof *t) & ~(uintptr_t)63);
        t->stack = st;
        /* the lowest word of an unguarded stack must stay zero; it is never
           written, so the bottom page is never made resident */
        t->canary = st.guarded ? NULL : (uint64_t *)st.map;
    }
#if defined(COIO_ASAN) || defined(COIO_POISON_SPAWN)
    {
        /* Sanitizer builds fill the block (but its stack) with garbage first,
           so a field the stores below forget shows in the suites as a wild
           pointer or a wrong value instead of passing on a fresh zero page. */
        struct coio__stack st = t->stack;
        uint64_t *canary = t->canary;
        memset(t, 0xa5, sizeof *t);
        t->stack = st;
        t->canary = canary;
    }
#endif
    /* Every field is written once, by name; of the name buffer only the first
       byte matters. (A memset of the block cost more than these stores: GCC
       makes it `rep stos`, whose start-up is a third of an eager spawn+join,
       and a loop of word stores was ~150 instructions; W2.) */
    t->f.magic = COIO__FUT_MAGIC;
    t->f.kind = COIO__FUT_TASK;
    t->f.state = COIO_PENDING;
    t->f.retrieved = 0;
    t->f.refs = 2; /* the caller's and the loop's */
    t->f.loop = l;
    t->f.result = NULL;
    t->f.err = 0;
    t->f.errmsg = NULL;
    t->f.cancel_msg = NULL;
    coio__list_init(&t->f.cnodes);
    t->f.id = ++l->task_seq;
    t->f.name[0] = 0;
    t->run.next = NULL;
    t->run.kind = COIO__RUN_TASK;
    t->fn = fn;
    t->arg = arg;
    t->arg_dtor = opts ? opts->arg_dtor : NULL;
    t->wait = NULL;
    t->parked_on = NULL;
    t->timer.when = 0;
    t->timer.seq = 0;
    t->timer.index = COIO_NOT_IN_HEAP;
    t->timer.kind = COIO__TIMER_TASK;
    t->timer_code = 0;
    t->wake_code = 0;
    t->cancelling = 0;
    t->must_cancel = 0;
    t->cancel_delivered = 0;
    t->started = 0;
    t->queued = 0;
    t->shutdown_cancelled = 0;
    t->group_error = NULL;
    t->scopes = NULL;
    t->stack_used = 0;
    t->dbg_stack = 0;
    t->spawn_site = NULL;
#ifdef COIO_ASAN
    t->asan_fake = NULL;
#endif
    if (opts && opts->name)
        set_name(&t->f, opts->name);
    /* CV3: a copy of the spawner's context (O(1)); none if the spawning task
       has none (no call needed to say so) */
    struct coio__task *self = coio__self();
    t->ctx = self && !self->ctx ? NULL : coio__ctx_capture();
    t->born = coio__coarse_now_ns();
    void *first = t;
    if (COIO_UNLIKELY(l->debug)) /* the spawn site, below the control block */
        first = coio__dump_spawn_site(t);
    t->sp = coio__arch_init_frame(first, task_entry);
#ifdef COIO_TSAN
    t->tsan_fiber = __tsan_create_fiber(0); /* each task is its own logical thread */
    __tsan_set_fiber_name(t->tsan_fiber, t->f.name[0] ? t->f.name : "coio task");
#endif
    if (COIO_UNLIKELY(l->debug)) /* for the stack high-water mark */
        coio__debug_stack_prepare(t);
    l->refs++;
    l->heap_need++;
    coio__list_push(&l->tasks, &t->all_link);
    l->ntasks++;
    int eager = opts && opts->eager ? opts->eager > 0 : l->eager;
    if (eager && coio__tls_running == l) {
        eager_start(l, t);
        return &t->f;
    }
    t->queued = 1;
    coio__ready_push(l, &t->run);
    return &t->f;
}

int coio_loop_set_eager(coio_loop *loop, int on)
{
    if (!coio__loop_valid(loop) || loop->closed) {
        errno = EINVAL;
        return -1;
    }
    loop->eager = on != 0;
    return 0;
}

int coio_loop_get_eager(coio_loop *loop)
{
    return coio__loop_valid(loop) && !loop->closed && loop->eager;
}

coio_task *coio_spawn_opts(const coio_task_opts *opts, void *(*fn)(void *), void *arg)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if (!l) {
        errno = EINVAL;
        return NULL;
    }
    return coio_loop_spawn(l, opts, fn, arg);
}

coio_task *coio_spawn(void *(*fn)(void *), void *arg)
{
    return coio_spawn_opts(NULL, fn, arg);
}

/* First code of every task, called by the arch trampoline on the new stack. */
static void task_entry(void *p)
{
    struct coio__task *t = p;
#ifdef COIO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    if (t->must_cancel) {
        /* Cancelled before its first step: the function never runs (T6). */
        t->must_cancel = 0;
        t->f.state = COIO_CANCELLED;
        if (t->arg_dtor)
            t->arg_dtor(t->arg);
    } else {
        t->started = 1;
        void *r = t->fn(t->arg);
        if (t->cancel_delivered || t->must_cancel) {
            t->f.state = COIO_CANCELLED; /* the return value is dropped (T7) */
        } else {
            t->f.result = r;
            t->f.state = COIO_FINISHED;
        }
    }
    coio__task_exit(t);
}

int coio_fail_msg(int err, const char *msg)
{
    struct coio__task *t = coio__self();
    if (!t || err <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (err == ECANCELED) {
        t->f.state = COIO_CANCELLED;
    } else {
        t->f.state = COIO_FAILED;
        t->f.err = err;
        free(t->f.errmsg);
        t->f.errmsg = dup_msg(msg, 255);
    }
    coio__task_exit(t);
}

int coio_fail(int err)
{
    return coio_fail_msg(err, NULL);
}

/* ---- plain futures -------------------------------------------------------------- */

/* A plain future and its link on the loop's list, which loop close walks to drop
   what a still pending one holds: nothing else would ever unlink that. */
struct plain_future {
    coio_future f; /* must be first */
    struct coio__list link;
};

coio_future *coio__future_new(coio_loop *l)
{
    struct plain_future *pf = calloc(1, sizeof *pf);
    if (!pf)
        return NULL;
    coio_future *f = &pf->f;
    coio__list_push(&l->futures, &pf->link);
    f->magic = COIO__FUT_MAGIC;
    f->kind = COIO__FUT_PLAIN;
    f->state = COIO_PENDING;
    f->refs = 1;
    f->loop = l;
    f->id = ++l->fut_seq;
    coio__list_init(&f->cnodes);
    l->refs++;
    return f;
}

coio_future *coio_future_new(void)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if (!l || l->closed) {
        errno = EINVAL;
        return NULL;
    }
    return coio__future_new(l);
}

static int check_settable(coio_future *f)
{
    if (!coio__future_valid(f) || f->kind != COIO__FUT_PLAIN || f->loop->closed) {
        errno = EINVAL;
        return -1;
    }
    if (f->state != COIO_PENDING) {
        errno = EALREADY;
        return -1;
    }
    return 0;
}

int coio_future_set_result(coio_future *f, void *result)
{
    if (check_settable(f) < 0)
        return -1;
    f->result = result;
    f->state = COIO_FINISHED;
    coio__future_complete(f);
    return 0;
}

int coio_future_set_error(coio_future *f, int err, const char *msg)
{
    if (err <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (check_settable(f) < 0)
        return -1;
    f->err = err;
    f->errmsg = dup_msg(msg, 255);
    f->state = COIO_FAILED;
    coio__future_complete(f);
    return 0;
}

/* ---- completion --------------------------------------------------------------- */

void coio__future_complete(coio_future *f)
{
    coio_loop *l = f->loop;
    /* A notify may drop the last reference it held (shield does): keep f alive until
       the list is drained. A task's loop reference makes this a no-op for tasks. */
    f->refs++;
    /* Awaiters and done-callbacks, in the order they registered. */
    while (!coio__list_empty(&f->cnodes)) {
        struct coio__cnode *n = coio__container_of(f->cnodes.next, struct coio__cnode, link);
        coio__list_del(&n->link);
        if (n->kind == COIO__CN_AWAIT) {
            coio__wake(n->task, 0);
        } else if (n->kind == COIO__CN_NOTIFY || n->kind == COIO__CN_NOTIFY_DROP) {
            n->notify(n, f);
        } else {
            coio_handle *h = coio__container_of(n, coio_handle, cnode);
            coio__ready_push(l, &h->run);
        }
    }
    coio_task_release(f);
}

void coio__run_done_callback(coio_handle *h)
{
    coio_future *f = h->u.done_cb.fut;
    h->u.done_cb.cb(f, h->u.done_cb.arg);
    coio_task_release(f);
}

/* ---- await -------------------------------------------------------------------------- */

/* An awaiting task's record on the awaited future's completion list. */
struct await_wait {
    struct coio__cnode node;
    struct coio__wait w;
    coio_future *fut;
};

static int await_cancel(struct coio__wait *w, struct coio__task *t)
{
    /* asyncio forwards: cancelling the awaiter cancels what it awaits; the
       awaiter is woken when that one completes. */
    struct await_wait *aw = coio__container_of(w, struct await_wait, w);
    return coio_cancel_msg(aw->fut, t->f.cancel_msg) == 1;
}

static void await_unlink(struct coio__wait *w)
{
    struct await_wait *aw = coio__container_of(w, struct await_wait, w);
    coio__list_del(&aw->node.link);
    /* Unlinked by loop close: coio_await never resumes to drop its reference. */
    if (aw->fut->loop->closed)
        coio_task_release(aw->fut);
}

COIO_SUSPENDS int coio_await(coio_task *f, void **result)
{
    struct coio__task *self = coio__self();
    if (!coio__future_valid(f) || !self || f->loop != self->f.loop || f->loop->closed) {
        errno = EINVAL;
        return -1;
    }
    if (f == &self->f) {
        errno = EDEADLK;
        return -1;
    }
    if (f->state == COIO_PENDING) {
        struct await_wait aw;
        aw.node.kind = COIO__CN_AWAIT;
        aw.node.task = self;
        aw.w.cancel = await_cancel;
        aw.w.unlink = await_unlink;
        aw.fut = f;
        coio__list_push(&f->cnodes, &aw.node.link);
        coio_task_retain(f);
        int code = coio__park(self, &aw.w, -1, 0);
        coio__list_del(&aw.node.link); /* harmless if completion removed it */
        if (code == ECANCELED) {
            coio_task_release(f);
            errno = ECANCELED;
            return -1;
        }
        if (f->state == COIO_PENDING) { /* cannot happen: only completion wakes us */
            coio_task_release(f);
            errno = EINTR;
            return -1;
        }
        coio_task_release(f);
    }
    if (COIO_LIKELY(f->state == COIO_FINISHED)) { /* coio__outcome's first case */
        if (result)
            *result = f->result;
        return 0;
    }
    if (f->state == COIO_CANCELLED)
        /* CancelledError propagates into the awaiter, which ends cancelled
           unless it absorbs it (T11). */
        self->cancel_delivered = 1;
    return coio__outcome(f, result);
}

void *coio_await_value(coio_task *t)
{
    void *r = NULL;
    return coio_await(t, &r) == 0 ? r : NULL;
}

COIO_SUSPENDS int coio_sleep(double seconds)
{
    struct coio__task *self = coio__self();
    if (!self || seconds != seconds) {
        errno = EINVAL;
        return -1;
    }
    int code;
    if (seconds <= 0) {
        code = coio__yield(self); /* sleep(0): no timer (SL1) */
    } else {
        struct coio__wait w = {coio__wait_cancel_unlink, NULL};
        code = coio__park(self, &w, coio__deadline_ns(seconds), 0);
    }
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

COIO_SUSPENDS int coio_yield(void)
{
    /* coio_sleep(0) without the double checks: the hot path of W1. */
    struct coio__task *self = coio__self();
    if (!self) {
        errno = EINVAL;
        return -1;
    }
    int code = coio__yield_inline(self); /* inline: no call into loop.c */
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

/* ---- cancellation ------------------------------------------------------------ */

static int future_cancel(coio_future *f, const char *msg)
{
    if (f->state != COIO_PENDING)
        return 0;
    free(f->cancel_msg);
    f->cancel_msg = dup_msg(msg, 255);
    f->state = COIO_CANCELLED;
    coio__future_complete(f);
    return 1;
}

int coio_cancel_msg(coio_task *f, const char *msg)
{
    if (!coio__future_valid(f)) {
        errno = EINVAL;
        return -1;
    }
    if (f->state != COIO_PENDING) {
        f->retrieved = 1; /* as CPython: cancel() on a done future silences F4 */
        return 0;
    }
    struct coio__task *t = coio__as_task(f);
    if (!t) {
        if (f->loop->closed) { /* nothing can run its callbacks: it stays pending */
            errno = EINVAL;
            return -1;
        }
        return future_cancel(f, msg);
    }
    t->cancelling++;
    if (msg != f->cancel_msg) {
        free(f->cancel_msg);
        f->cancel_msg = dup_msg(msg, 255);
    }
    if (t->wait && t->wait->cancel(t->wait, t))
        return 1;
    t->must_cancel = 1;
    return 1;
}

int coio_cancel(coio_task *t)
{
    return coio_cancel_msg(t, NULL);
}

int coio_cancelling(void)
{
    struct coio__task *t = coio__self();
    return t ? t->cancelling : 0;
}

int coio_uncancel(void)
{
    struct coio__task *t = coio__self();
    if (!t) {
        errno = EINVAL;
        return -1;
    }
    if (t->cancelling > 0 && --t->cancelling == 0)
        t->must_cancel = 0; /* withdraw a cancel not yet delivered (3.13) */
    return t->cancelling;
}

int coio_absorb_cancel(void)
{
    struct coio__task *t = coio__self();
    if (!t) {
        errno = EINVAL;
        return -1;
    }
    int had = t->cancel_delivered;
    t->cancel_delivered = 0;
    return had;
}

/* ---- queries --------------------------------------------------------------------- */

int coio_task_done(const coio_task *t)
{
    return coio__future_valid(t) && t->state != COIO_PENDING;
}

int coio_task_cancelled(const coio_task *t)
{
    return coio__future_valid(t) && t->state == COIO_CANCELLED;
}

coio_state coio_task_state(const coio_task *t)
{
    return coio__future_valid(t) ? (coio_state)t->state : COIO_PENDING;
}

int coio__outcome(coio_future *f, void **result)
{
    switch (f->state) {
    case COIO_FINISHED:
        if (result)
            *result = f->result;
        return 0;
    case COIO_FAILED:
        f->retrieved = 1;
        errno = f->err;
        return -1;
    case COIO_CANCELLED:
        errno = ECANCELED;
        return -1;
    default:
        errno = EAGAIN;
        return -1;
    }
}

int coio_task_result(coio_task *t, void **result)
{
    if (!coio__future_valid(t)) {
        errno = EINVAL;
        return -1;
    }
    return coio__outcome(t, result);
}

int coio_task_error(coio_task *t)
{
    if (!coio__future_valid(t)) {
        errno = EINVAL;
        return -1;
    }
    if (t->state == COIO_PENDING) {
        errno = EAGAIN;
        return -1;
    }
    if (t->state == COIO_FAILED) {
        t->retrieved = 1;
        return t->err;
    }
    return 0;
}

const char *coio_task_error_message(const coio_task *t)
{
    return coio__future_valid(t) && t->state == COIO_FAILED ? t->errmsg : NULL;
}

const char *coio_task_cancel_message(const coio_task *t)
{
    return coio__future_valid(t) ? t->cancel_msg : NULL;
}

const char *coio_task_name(const coio_task *t)
{
    if (!coio__future_valid(t))
        return "";
    coio_future *f = (coio_future *)t;
    if (!f->name[0]) /* default names are made on demand: spawning stays cheap */
        snprintf(f->name, sizeof f->name, "%s-%llu", f->kind == COIO__FUT_TASK ? "Task" : "Future",
                 (unsigned long long)f->id);
    return f->name;
}

int coio_task_set_name(coio_task *t, const char *name)
{
    if (!coio__future_valid(t) || !name) {
        errno = EINVAL;
        return -1;
    }
    set_name(t, name);
    if (!t->name[0]) /* an empty name would be replaced by the default */
        snprintf(t->name, sizeof t->name, " ");
    return 0;
}

int coio_task_cancelling(const coio_task *t)
{
    struct coio__task *k = coio__future_valid(t) ? coio__as_task((coio_future *)t) : NULL;
    return k ? k->cancelling : 0;
}

int coio_task_describe(const coio_task *t, char *buf, size_t len)
{
    if (!coio__future_valid(t))
        return snprintf(buf, len, "<invalid>");
    const char *kind = t->kind == COIO__FUT_TASK ? "Task" : "Future";
    const char *name = coio_task_name(t);
    switch (t->state) {
    case COIO_FINISHED:
        return snprintf(buf, len, "<%s finished name='%s' result=%p>", kind, name, t->result);
    case COIO_FAILED:
        if (t->errmsg)
            return snprintf(buf, len, "<%s failed name='%s' error=%d (%s) msg='%s'>", kind, name,
                            t->err, strerror(t->err), t->errmsg);
        return snprintf(buf, len, "<%s failed name='%s' error=%d (%s)>", kind, name, t->err,
                        strerror(t->err));
    case COIO_CANCELLED:
        return snprintf(buf, len, "<%s cancelled name='%s'>", kind, name);
    default:
        return snprintf(buf, len, "<%s pending name='%s'>", kind, name);
    }
}

/* ---- references -------------------------------------------------------------------- */

coio_task *coio_task_retain(coio_task *t)
{
    if (coio__future_valid(t))
        t->refs++;
    return t;
}

void coio__future_free(coio_future *f)
{
    coio_loop *l = f->loop;
    if (f->state == COIO_FAILED && !f->retrieved) {
        if (f->errmsg)
            fprintf(stderr, "coio: %s exception was never retrieved: '%s' failed with error %d (%s): %s\n",
                    f->kind == COIO__FUT_TASK ? "Task" : "Future", coio_task_name(f), f->err,
                    strerror(f->err), f->errmsg);
        else
            fprintf(stderr, "coio: %s exception was never retrieved: '%s' failed with error %d (%s)\n",
                    f->kind == COIO__FUT_TASK ? "Task" : "Future", coio_task_name(f), f->err,
                    strerror(f->err));
    }
    if (f->errmsg) /* (both NULL for nearly every task: no calls then) */
        free(f->errmsg);
    if (f->cancel_msg)
        free(f->cancel_msg);
    f->magic = COIO__DEAD_MAGIC;
    struct coio__task *t = coio__as_task(f);
    if (t) {
        if (t->group_error)
            coio__group_error_release(t->group_error);
        if (t->ctx)
            coio__ctx_release(t->ctx);
#ifdef COIO_TSAN
        __tsan_destroy_fiber(t->tsan_fiber); /* never the running one: a finished
                                                task is freed from another stack */
#endif
        l->heap_need--;
        if (t->stack.slab && !l->closed && l->nhot < (l->pool.trim ? COIO__HOT_MAX : l->pool.max)) {
#ifdef COIO_ASAN
            /* as coio__stack_put: abandoned frames' redzones go */
            __asan_unpoison_memory_region((char *)t->stack.map + t->stack.guard,
                                          t->stack.map_size - t->stack.guard);
#endif
            t->run.next = l->hot ? &l->hot->run : NULL;
            l->hot = t;
            l->nhot++;
        } else {
            struct coio__stack st = t->stack; /* t lives on this stack */
            coio__stack_put(l->closed ? NULL : &l->pool, &st);
        }
    } else {
        struct plain_future *pf = (struct plain_future *)f;
        coio__list_del(&pf->link);
        free(pf);
    }
    coio__loop_unref(l);
}

void coio__task_cache_drain(coio_loop *l)
{
    while (l->hot) {
        struct coio__task *t = l->hot;
        l->hot = t->run.next ? coio__container_of(t->run.next, struct coio__task, run) : NULL;
        struct coio__stack st = t->stack; /* t lives on this stack */
        coio__stack_put(&l->pool, &st);
    }
    l->nhot = 0;
}

void coio_task_release(coio_task *t)
{
    if (!coio__future_valid(t))
        return;
    if (--t->refs == 0)
        coio__future_free(t);
}

void coio__task_release_loopref(struct coio__task *t)
{
    coio_task_release(&t->f);
}

void coio__task_destroy_pending(struct coio__task *t)
{
    coio_loop *l = t->f.loop;
    fprintf(stderr, "coio: Task was destroyed but it is pending! (task '%s')\n", coio_task_name(&t->f));
    if (!t->started && t->arg_dtor) /* its function never saw arg (T6) */
        t->arg_dtor(t->arg);
    /* parked_on, not wait: a task woken but not yet run still owns its record
       (a lock handed to it stays on the lock's list, an awaited future's
       reference is still held), and unlink lets it hand that on or drop it. */
    struct coio__wait *w = t->parked_on;
    t->wait = t->parked_on = NULL;
    if (w && w->unlink)
        w->unlink(w);
    if (t->queued) { /* woken meanwhile (a lock handed on by another's unlink) */
        coio__ready_remove(l, &t->run);
        t->queued = 0;
    }
    if (t->timer.index != COIO_NOT_IN_HEAP)
        coio__heap_remove(&l->heap, &t->timer);
    coio__scopes_abandon(t);
    /* Nothing more runs on this loop: drop awaiters and callbacks unrun. */
    while (!coio__list_empty(&t->f.cnodes)) {
        struct coio__cnode *n = coio__container_of(t->f.cnodes.next, struct coio__cnode, link);
        coio__list_del(&n->link);
        if (n->kind == COIO__CN_CALLBACK) {
            coio_handle *h = coio__container_of(n, coio_handle, cnode);
            h->done = 1;
            coio_task_release(h->u.done_cb.fut);
            coio__handle_unref(h);
        } else if (n->kind == COIO__CN_NOTIFY_DROP) {
            n->notify(n, NULL); /* frees what the node owns (a shield's link) */
        }
    }
    coio__list_del(&t->all_link);
    l->ntasks--;
    t->f.state = COIO_CANCELLED;
    coio_task_release(&t->f); /* the loop's reference */
}

void coio__futures_loop_close(coio_loop *l)
{
    /* The tasks are gone, and with them their awaits and multi-waits; what a pending
       future still lists are done-callbacks (a handle holding a reference to it: a
       cycle) and shield links (references to it and its outer future). Drop those;
       an as_completed iterator's nodes are left to their owner's _free. Each future
       leaves the list here; it stays valid, and pending, until its handles go. */
    while (!coio__list_empty(&l->futures)) {
        struct plain_future *pf = coio__container_of(l->futures.next, struct plain_future, link);
        coio_future *f = &pf->f;
        coio__list_del(&pf->link);
        f->refs++; /* what is dropped may hold the last references */
        struct coio__list *p = f->cnodes.next;
        while (p != &f->cnodes) {
            struct coio__list *next = p->next;
            struct coio__cnode *n = coio__container_of(p, struct coio__cnode, link);
            if (n->kind == COIO__CN_CALLBACK) {
                coio__list_del(p);
                coio_handle *h = coio__container_of(n, coio_handle, cnode);
                h->done = 1;
                coio_task_release(h->u.done_cb.fut);
                coio__handle_unref(h);
            } else if (n->kind == COIO__CN_NOTIFY_DROP) {
                coio__list_del(p);
                n->notify(n, NULL);
            }
            p = next;
        }
        coio_task_release(f);
    }
}

/* ---- done callbacks ------------------------------------------------------------- */

int coio_task_add_done_callback(coio_task *t, void (*cb)(coio_task *, void *), void *arg)
{
    if (!coio__future_valid(t) || !cb || t->loop->closed) {
        errno = EINVAL;
        return -1;
    }
    coio_handle *h = coio__handle_alloc(t->loop);
    if (!h)
        return -1;
    h->type = COIO__H_DONE_CB;
    h->u.done_cb.cb = cb;
    h->u.done_cb.arg = arg;
    h->u.done_cb.fut = coio_task_retain(t);
    if (t->state == COIO_PENDING)
        coio__list_push(&t->cnodes, &h->cnode.link);
    else
        coio__ready_push(t->loop, &h->run);
    return 0;
}

int coio_task_remove_done_callback(coio_task *t, void (*cb)(coio_task *, void *), void *arg)
{
    if (!coio__future_valid(t)) {
        errno = EINVAL;
        return -1;
    }
    int n = 0;
    struct coio__list *p = t->cnodes.next;
    while (p != &t->cnodes) {
        struct coio__list *next = p->next;
        struct coio__cnode *c = coio__container_of(p, struct coio__cnode, link);
        if (c->kind == COIO__CN_CALLBACK) {
            coio_handle *h = coio__container_of(c, coio_handle, cnode);
            if (h->u.done_cb.cb == cb && h->u.done_cb.arg == arg) {
                coio__list_del(p);
                h->done = 1;
                coio_task_release(h->u.done_cb.fut);
                coio__handle_unref(h);
                n++;
            }
        }
        p = next;
    }
    return n;
}

/* ---- introspection ---------------------------------------------------------------- */

coio_task *coio_current_task(void)
{
    struct coio__task *t = coio__self();
    return t ? &t->f : NULL;
}

size_t coio_all_tasks(coio_task **out, size_t cap)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if (!l)
        return 0;
    size_t i = 0;
    for (struct coio__list *n = l->tasks.next; n != &l->tasks; n = n->next, i++)
        if (out && i < cap)
            out[i] = &coio__container_of(n, struct coio__task, all_link)->f;
    return i;
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_await(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                          struct coio__dbuf *b)
{
    (void)t;
    (void)now;
    if (w->unlink != await_unlink)
        return false;
    const struct await_wait *aw = coio__container_of(w, struct await_wait, w);
    coio__db_str(b, "await of ");
    if (aw->fut->kind == COIO__FUT_TASK)
        coio__db_task(b, aw->fut);
    else {
        coio__db_str(b, "future ");
        coio__db_hex(b, (uintptr_t)aw->fut);
    }
    return true;
}
