/* signal.c — coio_add/remove_signal_handler and coio_run's SIGINT (R3). The real
 * handler only counts the delivery and wakes the owning loop; the callback runs
 * later in the loop thread (from threadsafe.c's batch), never in signal context. */
#define _GNU_SOURCE
#include "coio_int.h"
#include "poller.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#ifndef NSIG
#define NSIG 65
#endif

/* One per signal number. Fields the handler reads are atomic; the rest belong
   to the owning loop's thread, and change only under table_mu. */
struct slot {
    _Atomic(coio_loop *) loop;  /* owner; NULL: not ours */
    atomic_uint pending;        /* deliveries not yet dispatched */
    atomic_int run_mode;        /* coio_run's SIGINT: the second delivery ends the process */
    atomic_int hits;            /* deliveries seen in run mode */
    void (*cb)(int, void *);
    void *arg;
    struct sigaction old;       /* the disposition before ours */
};

static struct slot slots[NSIG];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int nowned;       /* slots with an owner: dispatch skips the scan at 0 */
static atomic_int in_flight;    /* handlers running now, on any thread */

/* Async-signal-safe: atomics, write(2)/kevent(2) in the wake-up, and for the
   second SIGINT under coio_run, sigaction(2) and raise(3). */
static void on_signal(int sig)
{
    int saved = errno;
    atomic_fetch_add(&in_flight, 1);
    struct slot *s = &slots[sig];
    coio_loop *l = atomic_load(&s->loop);
    if (l) {
        if (atomic_load(&s->run_mode) && atomic_fetch_add(&s->hits, 1) > 0) {
            /* A second SIGINT: the loop may be stuck, so act here. Back to
               the default action and re-raise; sig is blocked while this
               handler runs, so it is delivered (and ends the process) as soon
               as the handler returns. */
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            sigaction(sig, &dfl, NULL);
            raise(sig);
        } else {
            atomic_fetch_add(&s->pending, 1);
            if (!atomic_exchange(&l->xpending, 1))
                coio__poll_wakeup(l->poller);
        }
    }
    atomic_fetch_sub(&in_flight, 1);
    errno = saved;
}

static bool bad_signal(int sig)
{
    return sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP ||
           /* Returning from these re-executes the fault: they cannot wait. */
           sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

/* Under table_mu: make l the owner of sig with our handler installed. */
static int claim(struct slot *s, int sig, coio_loop *l, void (*cb)(int, void *), void *arg,
                 int run_mode)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    s->cb = cb;
    s->arg = arg;
    atomic_store(&s->pending, 0);
    atomic_store(&s->hits, 0);
    atomic_store(&s->run_mode, run_mode);
    atomic_store(&s->loop, l); /* before the handler can see a delivery */
    if (sigaction(sig, &sa, &s->old) < 0) {
        atomic_store(&s->loop, NULL);
        return -1;
    }
    atomic_fetch_add(&nowned, 1);
    return 0;
}

/* Under table_mu: give sig back. After this no handler refers to the loop. */
static void release(struct slot *s, int sig)
{
    sigaction(sig, &s->old, NULL);
    atomic_store(&s->loop, NULL);
    /* A handler that started before the store may still be using the loop
       (on another thread: one on this thread has finished by now). */
    while (atomic_load(&in_flight))
        sched_yield();
    atomic_store(&s->pending, 0);
    atomic_store(&s->run_mode, 0);
    s->cb = NULL;
    s->arg = NULL;
    atomic_fetch_sub(&nowned, 1);
}

static coio_loop *current_loop(void)
{
    return coio__tls_running ? coio__tls_running : coio__tls_loop;
}

int coio_add_signal_handler(int sig, void (*cb)(int sig, void *arg), void *arg)
{
    coio_loop *l = current_loop();
    if (!l || l->closed || !cb || bad_signal(sig)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&table_mu);
    struct slot *s = &slots[sig];
    coio_loop *owner = atomic_load(&s->loop);
    int rc = 0;
    if (owner == l) {
        /* Replace, as asyncio does; coio_run's SIGINT handling yields to it. */
        s->cb = cb;
        s->arg = arg;
        atomic_store(&s->run_mode, 0);
    } else if (owner) {
        errno = EBUSY;
        rc = -1;
    } else {
        rc = claim(s, sig, l, cb, arg, 0);
    }
    pthread_mutex_unlock(&table_mu);
    return rc;
}

int coio_remove_signal_handler(int sig)
{
    coio_loop *l = current_loop();
    if (!l || sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&table_mu);
    struct slot *s = &slots[sig];
    int removed = atomic_load(&s->loop) == l && !atomic_load(&s->run_mode);
    if (removed)
        release(s, sig);
    pthread_mutex_unlock(&table_mu);
    return removed;
}

void coio__signal_dispatch(coio_loop *l)
{
    if (!atomic_load_explicit(&nowned, memory_order_relaxed))
        return;
    for (int sig = 1; sig < NSIG; sig++) {
        struct slot *s = &slots[sig];
        if (atomic_load_explicit(&s->loop, memory_order_relaxed) != l)
            continue;
        unsigned n = atomic_exchange(&s->pending, 0);
        /* A callback may remove or replace the handler: look again each time. */
        while (n-- > 0 && atomic_load(&s->loop) == l)
            s->cb(sig, s->arg);
    }
}

void coio__signal_loop_close(coio_loop *l)
{
    if (!atomic_load(&nowned))
        return;
    pthread_mutex_lock(&table_mu);
    for (int sig = 1; sig < NSIG; sig++)
        if (atomic_load(&slots[sig].loop) == l)
            release(&slots[sig], sig);
    pthread_mutex_unlock(&table_mu);
}

/* ---- coio_run's SIGINT (R3) -------------------------------------------------- */

static void run_sigint(int sig, void *arg)
{
    struct coio__run_sigint *rs = arg;
    if (!coio_task_done(rs->main)) {
        rs->interrupted = 1;
        coio_cancel(rs->main);
    }
}

void coio__sigint_run_begin(coio_loop *l, struct coio__run_sigint *rs)
{
    /* As asyncio.Runner: only over the default disposition, so a program that
       handles SIGINT itself (or ignores it) keeps doing so. */
    pthread_mutex_lock(&table_mu);
    struct slot *s = &slots[SIGINT];
    struct sigaction cur;
    if (!atomic_load(&s->loop) && sigaction(SIGINT, NULL, &cur) == 0 &&
        !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL)
        rs->installed = claim(s, SIGINT, l, run_sigint, rs, 1) == 0;
    pthread_mutex_unlock(&table_mu);
}

void coio__sigint_run_end(coio_loop *l, struct coio__run_sigint *rs)
{
    if (!rs->installed)
        return;
    pthread_mutex_lock(&table_mu);
    struct slot *s = &slots[SIGINT];
    if (atomic_load(&s->loop) == l && atomic_load(&s->run_mode) && s->arg == rs)
        release(s, SIGINT);
    pthread_mutex_unlock(&table_mu);
}
