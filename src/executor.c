/* executor.c — thread pools: coio_run_in_executor / coio_to_thread. A call is a job
 * on the pool's FIFO; the task parks on it and is woken through threadsafe.c. X2: a
 * queued job cancelled never runs; a running one is waited for, never interrupted. */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_CANCELLED };

struct coio_executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* workers wait here for a job or the shutdown */
    struct coio__list queue;    /* struct job, not started, FIFO; under mu */
    size_t nqueued;             /* under mu */
    size_t max;                 /* the pool's size */
    size_t nidle;               /* workers waiting on cv; under mu */
    pthread_t *tids;            /* started threads, joined by coio_executor_free; under mu */
    size_t nthreads, tids_cap;
    bool shutdown;              /* under mu */
    atomic_int refs;            /* the owner's + one per job alive */
};

struct job {
    struct coio__list link;     /* on ex->queue while JOB_QUEUED */
    struct coio__wait w;        /* the awaiting task's wait record (task->wait) */
    int state;                  /* JOB_*; under ex->mu */
    void *(*fn)(void *);
    void *arg;
    void *result;               /* written by the worker before the completion is posted */
    bool finished;              /* fn returned (worker writes it before posting) */
    bool cancel_requested;      /* loop thread: the task was cancelled while fn ran */
    bool delivered;             /* loop thread: job_done woke the task; j is its own */
    bool close_waits;           /* fn writes to the task's memory: a loop close that
                                   finds it running waits for it (file.c) */
    void (*result_dtor)(void *);
    struct coio__task *task;    /* loop thread: the awaiting task, NULL once the loop
                                   closed under it */
    coio_executor *ex;          /* a reference */
    struct coio__xq *xq;        /* a reference: where the completion goes */
    _Atomic int64_t t_state;    /* when it was queued, then when it started running
                                   (CLOCK_MONOTONIC ns): for task dumps (dump.c) */
    struct coio__ctx *ctx;      /* fn's context, owned: coio_to_thread's a private copy of
                                   the caller's (CV5), run_in_executor's empty at first */
};

static void ex_unref(coio_executor *ex)
{
    if (atomic_fetch_sub(&ex->refs, 1) != 1)
        return;
    pthread_cond_destroy(&ex->cv);
    pthread_mutex_destroy(&ex->mu);
    free(ex->tids);
    free(ex);
}

static void job_free(struct job *j)
{
    coio__ctx_release(j->ctx);
    coio__xq_unref(j->xq);
    ex_unref(j->ex);
    free(j);
}

/* Nobody will take the result: give it to the destructor. Any thread. */
static void job_drop(void *p)
{
    struct job *j = p;
    if (j->finished && j->result_dtor)
        j->result_dtor(j->result);
    job_free(j);
}

/* Loop thread: fn has returned. */
static void job_done(void *p)
{
    struct job *j = p;
    if (!j->task) {
        job_drop(j);
        return;
    }
    j->delivered = true;
    coio__wake(j->task, j->cancel_requested ? ECANCELED : 0);
}

static void *worker(void *p)
{
    coio_executor *ex = p;
    pthread_mutex_lock(&ex->mu);
    for (;;) {
        ex->nidle++;
        while (coio__list_empty(&ex->queue) && !ex->shutdown)
            pthread_cond_wait(&ex->cv, &ex->mu);
        ex->nidle--;
        if (coio__list_empty(&ex->queue))
            break; /* shut down, and nothing left to run */
        struct job *j = coio__container_of(ex->queue.next, struct job, link);
        coio__list_del(&j->link);
        ex->nqueued--;
        j->state = JOB_RUNNING;
        atomic_store_explicit(&j->t_state, coio__now_ns(), memory_order_relaxed);
        pthread_mutex_unlock(&ex->mu);
        coio__tls_cbslot = &j->ctx; /* to_thread: a copy of the caller's; else empty */
        j->result = j->fn(j->arg);
        coio__tls_cbslot = NULL;
        __atomic_store_n(&j->finished, true, __ATOMIC_RELEASE);
        /* The loop has closed: nobody waits any more. */
        if (coio__xq_post(j->xq, job_done, job_drop, j) < 0)
            job_drop(j);
        pthread_mutex_lock(&ex->mu);
    }
    pthread_mutex_unlock(&ex->mu);
    return NULL;
}

/* Under ex->mu. Workers start with the asynchronous signals blocked, so that
   these go to the threads that expect them and fn's system calls see no EINTR.
   Fault signals stay open so a crash in fn is reported (sanitizers, debuggers). */
static int spawn_worker(coio_executor *ex)
{
    if (ex->nthreads == ex->tids_cap) {
        size_t cap = ex->tids_cap ? ex->tids_cap * 2 : 4;
        pthread_t *v = realloc(ex->tids, cap * sizeof *v);
        if (!v)
            return ENOMEM;
        ex->tids = v;
        ex->tids_cap = cap;
    }
    sigset_t all, old;
    sigfillset(&all);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&ex->tids[ex->nthreads], NULL, worker, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e == 0)
        ex->nthreads++;
    return e;
}

coio_executor *coio_executor_new(size_t nthreads)
{
    if (nthreads == 0) {
        errno = EINVAL;
        return NULL;
    }
    coio_executor *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    if (pthread_mutex_init(&ex->mu, NULL) != 0) {
        free(ex);
        errno = ENOMEM;
        return NULL;
    }
    if (pthread_cond_init(&ex->cv, NULL) != 0) {
        pthread_mutex_destroy(&ex->mu);
        free(ex);
        errno = ENOMEM;
        return NULL;
    }
    coio__list_init(&ex->queue);
    ex->max = nthreads;
    atomic_init(&ex->refs, 1);
    return ex;
}

int coio_executor_free(coio_executor *ex)
{
    if (!ex) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&ex->mu);
    for (size_t i = 0; i < ex->nthreads; i++)
        if (pthread_equal(ex->tids[i], pthread_self())) {
            pthread_mutex_unlock(&ex->mu);
            errno = EDEADLK;
            return -1;
        }
    ex->shutdown = true;
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    /* No thread starts after shutdown, so tids is stable now. */
    for (size_t i = 0; i < ex->nthreads; i++)
        pthread_join(ex->tids[i], NULL);
    ex_unref(ex);
    return 0;
}

static int submit(coio_executor *ex, struct job *j)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->shutdown) {
        pthread_mutex_unlock(&ex->mu);
        return ESHUTDOWN;
    }
    j->state = JOB_QUEUED;
    atomic_store_explicit(&j->t_state, coio__now_ns(), memory_order_relaxed);
    coio__list_push(&ex->queue, &j->link);
    ex->nqueued++;
    /* A thread per call while none is idle, up to the size (Python's rule). */
    if (ex->nqueued > ex->nidle && ex->nthreads < ex->max) {
        int e = spawn_worker(ex);
        if (e && ex->nthreads == 0) {
            coio__list_del(&j->link);
            ex->nqueued--;
            pthread_mutex_unlock(&ex->mu);
            return e == ENOMEM ? ENOMEM : EAGAIN;
        }
    }
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    return 0;
}

/* The awaiting task is being cancelled. */
static int job_cancel(struct coio__wait *w, struct coio__task *t)
{
    struct job *j = coio__container_of(w, struct job, w);
    coio_executor *ex = j->ex;
    pthread_mutex_lock(&ex->mu);
    if (j->state == JOB_QUEUED) {
        coio__list_del(&j->link);
        ex->nqueued--;
        j->state = JOB_CANCELLED;
        pthread_mutex_unlock(&ex->mu);
        coio__wake(t, ECANCELED); /* fn never runs */
        return 1;
    }
    pthread_mutex_unlock(&ex->mu);
    /* Running: the cancel is taken, but the task is woken only when fn
       returns, and then with ECANCELED. */
    j->cancel_requested = true;
    return 1;
}

/* The loop is closing with the task still waiting. */
static void job_unlink(struct coio__wait *w)
{
    struct job *j = coio__container_of(w, struct job, w);
    coio_executor *ex = j->ex;
    pthread_mutex_lock(&ex->mu);
    if (j->state == JOB_QUEUED) {
        coio__list_del(&j->link);
        ex->nqueued--;
        j->state = JOB_CANCELLED;
        pthread_mutex_unlock(&ex->mu);
        job_free(j);
        return;
    }
    bool woken = j->state == JOB_CANCELLED || j->delivered;
    pthread_mutex_unlock(&ex->mu);
    if (!woken && j->close_waits) {
        /* fn may still write to the task's stack, which goes away when we
           return: wait for it (the completion it posts is dropped). */
        while (!__atomic_load_n(&j->finished, __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    if (woken) {
        /* Woken by job_cancel or job_done but destroyed before it ran: no thread
           and no completion refers to j, and the caller never takes the result. */
        job_drop(j);
        return;
    }
    j->task = NULL; /* the completion (or the closed loop's drop) frees it */
}

static size_t default_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return (size_t)n + 4 < COIO_EXECUTOR_DEFAULT_MAX ? (size_t)n + 4 : COIO_EXECUTOR_DEFAULT_MAX;
}

static int run_job(coio_executor *ex, const coio_executor_opts *opts, void *(*fn)(void *),
                   void *arg, void **result, bool copy_ctx, bool close_waits)
{
    struct coio__task *self = coio__self();
    if (!self || !fn) {
        errno = EINVAL;
        return -1;
    }
    if (self->must_cancel) {
        /* A cancel is waiting for our suspension: deliver it before a thread
           could take fn (as coio__park would, but without the race). */
        self->must_cancel = 0;
        self->cancel_delivered = 1;
        errno = ECANCELED;
        return -1;
    }
    coio_loop *l = self->f.loop;
    if (!ex) {
        if (!l->default_ex && !(l->default_ex = coio_executor_new(default_size())))
            return -1;
        ex = l->default_ex;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    if (copy_ctx)
        j->ctx = coio__ctx_clone();
    j->result_dtor = opts ? opts->result_dtor : NULL;
    j->close_waits = close_waits;
    j->w.cancel = job_cancel;
    j->w.unlink = job_unlink;
    j->task = self;
    atomic_fetch_add(&ex->refs, 1);
    j->ex = ex;
    j->xq = coio__xq_ref(l->xq);
    int e = submit(ex, j);
    if (e) {
        job_free(j);
        errno = e;
        return -1;
    }
    int code = coio__park(self, &j->w, -1, 0);
    /* Woken by job_done (fn returned) or by job_cancel (fn never ran): no
       thread refers to j any more. */
    if (code == 0) {
        if (result)
            *result = j->result;
        job_free(j);
        return 0;
    }
    job_drop(j);
    errno = code;
    return -1;
}

int coio_run_in_executor_opts(coio_executor *ex, const coio_executor_opts *opts,
                              void *(*fn)(void *), void *arg, void **result)
{
    return run_job(ex, opts, fn, arg, result, false, false);
}

int coio__to_thread_waited(void *(*fn)(void *), void *arg)
{
    return run_job(NULL, NULL, fn, arg, NULL, false, true);
}

int coio_run_in_executor(coio_executor *ex, void *(*fn)(void *), void *arg, void **result)
{
    return coio_run_in_executor_opts(ex, NULL, fn, arg, result);
}

COIO_SUSPENDS int coio_to_thread(void *(*fn)(void *), void *arg, void **result)
{
    return run_job(NULL, NULL, fn, arg, result, true, false); /* CV5: in a copy of our context */
}

void coio__executor_loop_close(coio_loop *l)
{
    coio_executor *ex = l->default_ex;
    if (ex) {
        l->default_ex = NULL;
        coio_executor_free(ex);
    }
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_executor(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                             struct coio__dbuf *b)
{
    (void)t;
    if (w->unlink != job_unlink)
        return false;
    const struct job *j = coio__container_of(w, struct job, w);
    /* Read without the pool's mutex (a dump may be made in a signal handler):
       the state may be a moment old. */
    int st = __atomic_load_n(&j->state, __ATOMIC_RELAXED);
    int64_t since = atomic_load_explicit(&j->t_state, memory_order_relaxed);
    coio__db_str(b, "thread-pool call ");
    coio__db_hex(b, (uintptr_t)(void *)j->fn);
    coio__db_str(b, " (");
    coio__db_symbol(b, (const void *)(uintptr_t)j->fn);
    coio__db_str(b, st == JOB_QUEUED ? ") queued for " : ") running for ");
    coio__db_secs(b, now - since);
    return true;
}
