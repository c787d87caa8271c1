/* threadsafe.c — coio_call_soon_threadsafe: producers append to a locked array and
 * wake the poller; the loop swaps the array out and runs it in order as one
 * ready-queue entry. Pool completions and signals come in the same way. */
#define _GNU_SOURCE
#include "coio_int.h"
#include "poller.h"

#include <pthread.h>
#include <stdlib.h>

struct xcall {
    void (*cb)(void *);
    void (*drop)(void *); /* instead of cb if the loop closes first; may be NULL */
    void *arg;
};

struct coio__xq {
    pthread_mutex_t mu;
    atomic_int refs;        /* the loop's (until its memory is freed) + one per pool call */
    int closed;             /* under mu: the loop is closed, posts fail */
    coio_loop *loop;        /* valid while !closed (the loop clears closed under mu) */
    struct xcall *v;        /* posted, not yet taken; under mu; owned */
    size_t n, cap;
    struct xcall *run;      /* loop thread: the array being run (swapped with v); owned */
    size_t run_cap;
    coio_handle drain;      /* an embedded call_soon handle whose callback runs the batch;
                               it holds a reference of its own so it is never freed */
    bool drain_queued;      /* loop thread: drain is on the ready queue */
};

static void drain(void *arg);

int coio__xq_open(coio_loop *l)
{
    struct coio__xq *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    int e = pthread_mutex_init(&q->mu, NULL);
    if (e) {
        free(q);
        errno = e;
        return -1;
    }
    atomic_init(&q->refs, 1);
    q->loop = l;
    /* Not from coio__handle_alloc: this handle takes no loop reference and
       must survive the loop's handle recycling. */
    q->drain.loop = l;
    q->drain.refs = 1;
    q->drain.type = COIO__H_CALL;
    q->drain.run.kind = COIO__RUN_HANDLE;
    q->drain.timer.index = COIO_NOT_IN_HEAP;
    q->drain.timer.kind = COIO__TIMER_HANDLE;
    coio__list_init(&q->drain.cnode.link);
    q->drain.u.call.cb = drain;
    q->drain.u.call.arg = q;
    l->xq = q;
    return 0;
}

struct coio__xq *coio__xq_ref(struct coio__xq *q)
{
    atomic_fetch_add(&q->refs, 1);
    return q;
}

void coio__xq_unref(struct coio__xq *q)
{
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&q->mu);
    free(q->v);
    free(q->run);
    free(q);
}

int coio__xq_post(struct coio__xq *q, void (*cb)(void *), void (*drop)(void *), void *arg)
{
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        errno = EINVAL;
        return -1;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct xcall *v = realloc(q->v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&q->mu);
            errno = ENOMEM;
            return -1;
        }
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = (struct xcall){cb, drop, arg};
    /* Only the first post after the loop took the batch needs a system call.
       Done under mu: the loop cannot close (and free its poller) meanwhile. */
    if (!atomic_exchange(&q->loop->xpending, 1))
        coio__poll_wakeup(q->loop->poller);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void coio__xq_schedule(coio_loop *l)
{
    struct coio__xq *q = l->xq;
    if (q->drain_queued)
        return;
    q->drain_queued = true;
    q->drain.refs++;    /* the queue's; run_handle drops it */
    q->drain.done = 0;
    coio__ready_push(l, &q->drain.run);
}

/* The batch: every call posted so far, in order, then due signal callbacks. */
static void drain(void *arg)
{
    struct coio__xq *q = arg;
    coio_loop *l = q->loop;
    q->drain_queued = false;
    /* Cleared before taking the array: a post that the swap misses sees 0
       and wakes the loop again. */
    atomic_store(&l->xpending, 0);
    pthread_mutex_lock(&q->mu);
    struct xcall *v = q->v;
    size_t n = q->n, cap = q->cap;
    q->v = q->run;
    q->cap = q->run_cap;
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
    q->run = v;
    q->run_cap = cap;
    for (size_t i = 0; i < n; i++)
        v[i].cb(v[i].arg);
    coio__signal_dispatch(l);
}

int coio_call_soon_threadsafe(coio_loop *loop, void (*cb)(void *), void *arg)
{
    if (!coio__loop_valid(loop) || !cb || !loop->xq) {
        errno = EINVAL;
        return -1;
    }
    return coio__xq_post(loop->xq, cb, NULL, arg);
}

void coio__threads_loop_close(coio_loop *l)
{
    /* The pool first: its running calls post their completions here. */
    coio__executor_loop_close(l);
    coio__signal_loop_close(l);
    struct coio__xq *q = l->xq;
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    struct xcall *v = q->v;
    size_t n = q->n;
    q->v = NULL;
    q->n = q->cap = 0;
    pthread_mutex_unlock(&q->mu);
    for (size_t i = 0; i < n; i++)
        if (v[i].drop)
            v[i].drop(v[i].arg);
    free(v);
    free(q->run);
    q->run = NULL;
    q->run_cap = 0;
    atomic_store(&l->xpending, 0);
}
