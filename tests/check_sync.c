/* check_sync.c — Lock, Event, Condition, Semaphore/BoundedSemaphore and Barrier:
 * the LK, EV, CD, SM and BR ids of ASYNCIO-SEMANTICS.md, with the races where a
 * waiter is woken and then cancelled before it runs, and the fast paths that
 * must not be cancellation points (T8, L10). */
#include "helpers.h"

#include <stdint.h>

/* Let every other ready task run n times over. */
static void spin(int n)
{
    for (int i = 0; i < n; i++)
        coio_yield();
}

/* Await t, which must have finished normally, and drop the handle. */
static void join_ok(coio_task *t)
{
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
}

/* One worker of a test: what it did, for the main task to check. */
typedef struct ctx ctx;
typedef struct {
    ctx *c;
    const char *name;
    int hold;      /* yields while holding what was acquired */
    int rc, err;   /* the operation's outcome */
    int done;      /* the operation has returned */
    int locked_at_return; /* Condition: the lock was held when wait returned */
} worker;

struct ctx {
    coio_lock lock;
    coio_event ev;
    coio_condition cond;
    coio_semaphore sem;
    coio_barrier bar;
    evlog log;
    int holders, max_holders;
    int value;      /* Condition predicate state */
    int pred_calls;
};

static void worker_init(worker *w, ctx *c, const char *name, int hold)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->name = name;
    w->hold = hold;
    w->rc = 99;
}

/* Record the outcome; a cancelled worker absorbs the cancel so it ends
   FINISHED and the test can await it without inheriting ECANCELED. */
static void *finish(worker *w, int rc)
{
    w->err = rc < 0 ? errno : 0;
    w->rc = rc;
    w->done = 1;
    coio_absorb_cancel();
    return NULL;
}

static void hold_for(worker *w)
{
    ctx *c = w->c;
    c->holders++;
    if (c->holders > c->max_holders)
        c->max_holders = c->holders;
    spin(w->hold);
    c->holders--;
}

/* ======================================================================== */
/* Lock                                                                     */
/* ======================================================================== */

static void *lock_worker(void *arg)
{
    worker *w = arg;
    int rc = coio_lock_acquire(&w->c->lock);
    int e = errno;
    if (rc == 0) {
        evlog_add(&w->c->log, "%s", w->name);
        hold_for(w);
        ck_assert_int_eq(coio_lock_release(&w->c->lock), 0);
    }
    errno = e;
    return finish(w, rc);
}

static void *lk1_main(void *arg)
{
    ctx *c = arg;
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 0);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 1);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 0);
    errno = 0;
    ck_assert_int_eq(coio_lock_release(&c->lock), -1);
    ck_assert_int_eq(errno, EPERM);
    errno = 0;
    ck_assert_int_eq(coio_lock_acquire(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_lock_release(NULL), -1);
    ck_assert_int_eq(coio_lock_locked(NULL), 0);
    return NULL;
}

START_TEST(test_LK1_acquire_release_eperm)
{
    ctx c;
    ck_assert_int_eq(run_main(lk1_main, &c, NULL), 0);
    /* Outside a task acquire is EINVAL; release/locked work anywhere. */
    coio_lock l;
    coio_lock_init(&l);
    errno = 0;
    ck_assert_int_eq(coio_lock_acquire(&l), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_lock_release(&l), -1);
    ck_assert_int_eq(errno, EPERM);
}
END_TEST

static void *lk1_releaser(void *arg)
{
    ctx *c = arg;
    ck_assert_int_eq(coio_lock_locked(&c->lock), 1);
    return (void *)(intptr_t)coio_lock_release(&c->lock);
}

static void *lk1_owner_main(void *arg)
{
    ctx *c = arg;
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    coio_task *t = coio_spawn(lk1_releaser, c);
    void *r = (void *)1;
    ck_assert_int_eq(coio_await(t, &r), 0);
    coio_task_release(t);
    ck_assert_ptr_eq(r, NULL);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 0);
    return NULL;
}

START_TEST(test_LK1_no_owner_any_task_releases)
{
    ctx c;
    ck_assert_int_eq(run_main(lk1_owner_main, &c, NULL), 0);
}
END_TEST

static void *lk2_main(void *arg)
{
    ctx *c = arg;
    static const char *names[] = {"a", "b", "c", "d", "e"};
    worker w[5];
    coio_task *t[5];
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    for (int i = 0; i < 5; i++) {
        worker_init(&w[i], c, names[i], 2);
        t[i] = coio_spawn(lock_worker, &w[i]);
        coio_yield(); /* each queues before the next is spawned */
    }
    spin(3);
    ck_assert_str_eq(c->log.buf, "");
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    for (int i = 0; i < 5; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, 0);
    }
    ck_assert_log(&c->log, "a b c d e");
    ck_assert_int_eq(c->max_holders, 1);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 0);
    return NULL;
}

START_TEST(test_LK2_fifo_order)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(lk2_main, &c, NULL), 0);
}
END_TEST

static void *lk3_main(void *arg)
{
    ctx *c = arg;
    worker w;
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    worker_init(&w, c, "waiter", 1);
    coio_task *t = coio_spawn(lock_worker, &w);
    spin(2);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    /* Free, yet the woken waiter goes first: this acquire queues. */
    ck_assert_int_eq(coio_lock_locked(&c->lock), 0);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    evlog_add(&c->log, "barger");
    ck_assert_int_eq(w.done, 1);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    join_ok(t);
    ck_assert_log(&c->log, "waiter barger");
    return NULL;
}

START_TEST(test_LK3_no_barging)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(lk3_main, &c, NULL), 0);
}
END_TEST

static void *lk3_cancelled_main(void *arg)
{
    ctx *c = arg;
    worker w;
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    worker_init(&w, c, "waiter", 1);
    coio_task *t = coio_spawn(lock_worker, &w);
    spin(2);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    /* Every waiter is cancelled: the newcomer passes without suspending
       (the cancelled waiter has not even run yet). */
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    ck_assert_int_eq(w.done, 0);
    join_ok(t);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 1); /* still ours */
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    ck_assert_log(&c->log, "");
    return NULL;
}

START_TEST(test_LK3_newcomer_passes_cancelled_waiters)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(lk3_cancelled_main, &c, NULL), 0);
}
END_TEST

/* LK4 with n waiters: cancel waiter `victim` (before or after the release
   that wakes the head), then check the order and that at most one task ever
   held the lock. */
typedef struct {
    int victim;          /* index of the waiter to cancel */
    int cancel_after;    /* cancel after the release (woken-then-cancelled if head) */
    const char *expect;  /* acquisition order */
} lk4_case;

static ctx *lk4_ctx;

static void *lk4_main(void *arg)
{
    const lk4_case *k = arg;
    ctx *c = lk4_ctx;
    static const char *names[] = {"a", "b", "c", "d"};
    worker w[4];
    coio_task *t[4];
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    for (int i = 0; i < 4; i++) {
        worker_init(&w[i], c, names[i], 3);
        t[i] = coio_spawn(lock_worker, &w[i]);
        coio_yield();
    }
    if (!k->cancel_after)
        ck_assert_int_eq(coio_cancel(t[k->victim]), 1);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    if (k->cancel_after)
        ck_assert_int_eq(coio_cancel(t[k->victim]), 1);
    for (int i = 0; i < 4; i++)
        join_ok(t[i]);
    ck_assert_int_eq(w[k->victim].rc, -1);
    ck_assert_int_eq(w[k->victim].err, ECANCELED);
    for (int i = 0; i < 4; i++)
        if (i != k->victim)
            ck_assert_int_eq(w[i].rc, 0);
    ck_assert_log(&c->log, k->expect);
    ck_assert_int_eq(c->max_holders, 1);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 0);
    /* The lock is usable afterwards. */
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    return NULL;
}

static void run_lk4(int victim, int cancel_after, const char *expect)
{
    ctx c;
    memset(&c, 0, sizeof c);
    lk4_ctx = &c;
    lk4_case k = {victim, cancel_after, expect};
    ck_assert_int_eq(run_main(lk4_main, &k, NULL), 0);
}

START_TEST(test_LK4_cancelled_waiter_leaves_queue)
{
    run_lk4(2, 0, "a b d");
}
END_TEST

START_TEST(test_LK4_woken_then_cancelled_passes_lock_on)
{
    /* The release wakes a; a is cancelled before it runs: b gets the lock. */
    run_lk4(0, 1, "b c d");
}
END_TEST

START_TEST(test_LK4_cancel_racing_release_one_holder)
{
    /* b is cancelled, then the release wakes a; b runs first and finds the
       lock free with a already woken: it must not wake c as well. */
    run_lk4(1, 0, "a c d");
}
END_TEST

START_TEST(test_LK4_cancelled_head_racing_release_one_holder)
{
    /* The head a is cancelled (leaves at once), the release wakes b, then a
       runs and finds the lock free: c must stay queued behind b. */
    run_lk4(0, 0, "b c d");
}
END_TEST

START_TEST(test_LK4_waiter_cancelled_after_release_not_head)
{
    /* The release woke a; cancelling c (not woken) changes nothing else. */
    run_lk4(2, 1, "a b d");
}
END_TEST

/* T8/L10: the uncontended acquire is not a cancellation point. */
static void *lk_fast_main(void *arg)
{
    ctx *c = arg;
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    errno = 0;
    ck_assert_int_eq(coio_yield(), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_int_eq(coio_uncancel(), 0);
    return (void *)7;
}

START_TEST(test_LK_T8_uncontended_acquire_not_cancellation_point)
{
    ctx c;
    void *r = NULL;
    ck_assert_int_eq(run_main(lk_fast_main, &c, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
}
END_TEST

/* A contended acquire is a real suspension: a pending cancel is delivered
   there and the waiter never gets the lock. */
static void *lk_contended_cancel_main(void *arg)
{
    ctx *c = arg;
    worker w;
    coio_lock_init(&c->lock);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    worker_init(&w, c, "w", 0);
    coio_task *t = coio_spawn(lock_worker, &w);
    ck_assert_int_eq(coio_cancel(t), 1); /* before its first step: never runs */
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(w.done, 0);

    /* Now one that runs, holds a pending cancel and then blocks. */
    worker_init(&w, c, "w", 0);
    t = coio_spawn(lock_worker, &w);
    coio_yield(); /* w is queued on the lock */
    ck_assert_int_eq(w.done, 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    join_ok(t);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(coio_lock_locked(&c->lock), 1);
    ck_assert_int_eq(coio_lock_release(&c->lock), 0);
    ck_assert_log(&c->log, "");
    return NULL;
}

START_TEST(test_LK_contended_acquire_is_cancellation_point)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(lk_contended_cancel_main, &c, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* Event                                                                    */
/* ======================================================================== */

static void *event_worker(void *arg)
{
    worker *w = arg;
    if (w->hold < 0) /* EV3: log on start, before waiting */
        evlog_add(&w->c->log, "%s", w->name);
    int rc = coio_event_wait(&w->c->ev);
    if (rc == 0 && w->hold >= 0)
        evlog_add(&w->c->log, "%s", w->name);
    return finish(w, rc);
}

static void *ev1_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    coio_event_init(&c->ev);
    ck_assert_int_eq(coio_event_is_set(&c->ev), 0);
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"1", "2", "3"}[i], 0);
        t[i] = coio_spawn(event_worker, &w[i]);
    }
    spin(3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(w[i].done, 0);
    coio_event_set(&c->ev);
    ck_assert_int_eq(coio_event_is_set(&c->ev), 1);
    for (int i = 0; i < 3; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, 0);
    }
    ck_assert_log(&c->log, "1 2 3");
    /* Set: returns at once. */
    ck_assert_int_eq(coio_event_wait(&c->ev), 0);
    coio_event_set(&c->ev); /* idempotent */
    coio_event_clear(&c->ev);
    ck_assert_int_eq(coio_event_is_set(&c->ev), 0);
    /* Cleared: a new waiter blocks again. */
    worker_init(&w[0], c, "4", 0);
    t[0] = coio_spawn(event_worker, &w[0]);
    spin(3);
    ck_assert_int_eq(w[0].done, 0);
    coio_event_set(&c->ev);
    join_ok(t[0]);
    ck_assert_int_eq(w[0].rc, 0);
    errno = 0;
    ck_assert_int_eq(coio_event_wait(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_event_is_set(NULL), 0);
    coio_event_set(NULL); /* ignored, no crash */
    coio_event_clear(NULL);
    return NULL;
}

START_TEST(test_EV1_wait_set_clear)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(ev1_main, &c, NULL), 0);
    coio_event e;
    coio_event_init(&e);
    coio_event_set(&e);
    errno = 0;
    ck_assert_int_eq(coio_event_wait(&e), -1); /* not in a task */
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static void *ev1_cancel_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    coio_event_init(&c->ev);
    for (int i = 0; i < 2; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b"}[i], 0);
        t[i] = coio_spawn(event_worker, &w[i]);
    }
    spin(2);
    ck_assert_int_eq(coio_cancel(t[0]), 1);
    join_ok(t[0]); /* its stack goes back to the pool: a stale waiter would be hit below */
    ck_assert_int_eq(w[0].rc, -1);
    ck_assert_int_eq(w[0].err, ECANCELED);
    worker_init(&w[2], c, "c", 0);
    t[2] = coio_spawn(event_worker, &w[2]); /* likely on a's old stack */
    spin(2);
    coio_event_set(&c->ev);
    join_ok(t[1]);
    join_ok(t[2]);
    ck_assert_int_eq(w[1].rc, 0);
    ck_assert_int_eq(w[2].rc, 0);
    ck_assert_log(&c->log, "b c");
    return NULL;
}

START_TEST(test_EV1_cancelled_wait_removes_waiter)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(ev1_cancel_main, &c, NULL), 0);
}
END_TEST

static void *ev2_main(void *arg)
{
    ctx *c = arg;
    worker w[2];
    coio_task *t[2];
    coio_event_init(&c->ev);
    for (int i = 0; i < 2; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b"}[i], 0);
        t[i] = coio_spawn(event_worker, &w[i]);
    }
    spin(2);
    coio_event_set(&c->ev);
    coio_event_clear(&c->ev);
    for (int i = 0; i < 2; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, 0);
    }
    ck_assert_int_eq(coio_event_is_set(&c->ev), 0);
    return NULL;
}

START_TEST(test_EV2_set_then_clear_does_not_unwake)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(ev2_main, &c, NULL), 0);
}
END_TEST

static void *ev3_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    coio_event_init(&c->ev);
    worker_init(&w[0], c, "1", 0);
    worker_init(&w[1], c, "2", 0);
    worker_init(&w[2], c, "3", -1); /* logs as it starts */
    t[0] = coio_spawn(event_worker, &w[0]);
    t[1] = coio_spawn(event_worker, &w[1]);
    spin(2);
    t[2] = coio_spawn(event_worker, &w[2]); /* first step queued before set() */
    coio_event_set(&c->ev);
    for (int i = 0; i < 3; i++)
        join_ok(t[i]);
    ck_assert_log(&c->log, "3 1 2");
    return NULL;
}

START_TEST(test_EV3_woken_waiters_resume_behind_queued)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(ev3_main, &c, NULL), 0);
}
END_TEST

static void *ev_fast_main(void *arg)
{
    ctx *c = arg;
    coio_event_init(&c->ev);
    coio_event_set(&c->ev);
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_int_eq(coio_event_wait(&c->ev), 0);
    coio_event_clear(&c->ev);
    errno = 0;
    ck_assert_int_eq(coio_event_wait(&c->ev), -1); /* real wait: delivered */
    ck_assert_int_eq(errno, ECANCELED);
    coio_absorb_cancel();
    coio_uncancel();
    return NULL;
}

START_TEST(test_EV_T8_wait_on_set_event_not_cancellation_point)
{
    ctx c;
    ck_assert_int_eq(run_main(ev_fast_main, &c, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* Condition                                                                */
/* ======================================================================== */

/* Acquire, wait once, note whether the lock is held on return, release. */
static void *cond_worker(void *arg)
{
    worker *w = arg;
    ctx *c = w->c;
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    int rc = coio_condition_wait(&c->cond);
    int e = errno;
    w->locked_at_return = coio_lock_locked(coio_condition_lock(&c->cond));
    evlog_add(&c->log, "%s:%d", w->name, rc == 0 ? 0 : e);
    spin(w->hold);
    if (w->locked_at_return)
        ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    errno = e;
    return finish(w, rc);
}

static void *cd1_main(void *arg)
{
    ctx *c = arg;
    coio_condition_init(&c->cond, NULL);
    errno = 0;
    ck_assert_int_eq(coio_condition_wait(&c->cond), -1);
    ck_assert_int_eq(errno, EPERM);
    errno = 0;
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), -1);
    ck_assert_int_eq(errno, EPERM);
    errno = 0;
    ck_assert_int_eq(coio_condition_notify_all(&c->cond), -1);
    ck_assert_int_eq(errno, EPERM);
    errno = 0;
    ck_assert_int_eq(coio_condition_release(&c->cond), -1);
    ck_assert_int_eq(errno, EPERM);
    /* With the lock held they work. */
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 3), 0);
    ck_assert_int_eq(coio_condition_notify_all(&c->cond), 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    /* NULL */
    errno = 0;
    ck_assert_int_eq(coio_condition_wait(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_condition_notify(NULL, 1), -1);
    ck_assert_int_eq(coio_condition_acquire(NULL), -1);
    ck_assert_int_eq(coio_condition_wait_for(NULL, NULL, NULL), -1);
    ck_assert_ptr_null(coio_condition_lock(NULL));
    return NULL;
}

START_TEST(test_CD1_unlocked_use_is_eperm)
{
    ctx c;
    ck_assert_int_eq(run_main(cd1_main, &c, NULL), 0);
}
END_TEST

static void *cd2_main(void *arg)
{
    ctx *c = arg;
    coio_lock user;
    coio_lock_init(&user);
    coio_condition_init(&c->cond, &user);
    ck_assert_ptr_eq(coio_condition_lock(&c->cond), &user);
    worker w;
    worker_init(&w, c, "w", 0);
    coio_task *t = coio_spawn(cond_worker, &w);
    spin(2);
    /* The waiter released the lock while waiting: uncontended for us. */
    ck_assert_int_eq(coio_lock_locked(&user), 0);
    ck_assert_int_eq(coio_lock_acquire(&user), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), 0);
    spin(3);
    ck_assert_int_eq(w.done, 0); /* notified, but we hold the lock */
    evlog_add(&c->log, "release");
    ck_assert_int_eq(coio_lock_release(&user), 0);
    join_ok(t);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(w.locked_at_return, 1);
    ck_assert_log(&c->log, "release w:0");
    ck_assert_int_eq(coio_lock_locked(&user), 0);
    return NULL;
}

START_TEST(test_CD2_wait_releases_and_reacquires)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd2_main, &c, NULL), 0);
}
END_TEST

static void *cd3_main(void *arg)
{
    ctx *c = arg;
    static const char *names[] = {"a", "b", "c", "d", "e"};
    worker w[5];
    coio_task *t[5];
    coio_condition_init(&c->cond, NULL);
    for (int i = 0; i < 5; i++) {
        worker_init(&w[i], c, names[i], 0);
        t[i] = coio_spawn(cond_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 2), 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    spin(4);
    ck_assert_log(&c->log, "a:0 b:0");
    ck_assert_int_eq(w[2].done, 0);
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    spin(4);
    ck_assert_log(&c->log, "a:0 b:0 c:0");
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 100), 0); /* more than wait */
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    for (int i = 0; i < 5; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, 0);
        ck_assert_int_eq(w[i].locked_at_return, 1);
    }
    ck_assert_log(&c->log, "a:0 b:0 c:0 d:0 e:0");
    return NULL;
}

START_TEST(test_CD3_notify_n_fifo)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd3_main, &c, NULL), 0);
}
END_TEST

static void *cd3_all_main(void *arg)
{
    ctx *c = arg;
    worker w[4];
    coio_task *t[4];
    coio_condition_init(&c->cond, NULL);
    for (int i = 0; i < 4; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c", "d"}[i], 1);
        t[i] = coio_spawn(cond_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify_all(&c->cond), 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    for (int i = 0; i < 4; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, 0);
        ck_assert_int_eq(w[i].locked_at_return, 1);
    }
    ck_assert_log(&c->log, "a:0 b:0 c:0 d:0");
    return NULL;
}

START_TEST(test_CD3_notify_all)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd3_all_main, &c, NULL), 0);
}
END_TEST

static int pred_value_ge3(void *arg)
{
    ctx *c = arg;
    c->pred_calls++;
    return c->value >= 3;
}

static void *cd3_wait_for_worker(void *arg)
{
    worker *w = arg;
    ctx *c = w->c;
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    int rc = coio_condition_wait_for(&c->cond, pred_value_ge3, c);
    int e = errno;
    w->locked_at_return = coio_lock_locked(coio_condition_lock(&c->cond));
    w->hold = c->value; /* the value seen on return */
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    errno = e;
    return finish(w, rc);
}

static void *cd3_wait_for_main(void *arg)
{
    ctx *c = arg;
    worker w;
    coio_condition_init(&c->cond, NULL);
    worker_init(&w, c, "w", 0);
    coio_task *t = coio_spawn(cd3_wait_for_worker, &w);
    spin(2);
    ck_assert_int_eq(c->pred_calls, 1);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
        c->value = i;
        ck_assert_int_eq(coio_condition_notify_all(&c->cond), 0);
        ck_assert_int_eq(coio_condition_release(&c->cond), 0);
        spin(3);
        ck_assert_int_eq(c->pred_calls, 1 + i);
        ck_assert_int_eq(w.done, i == 3);
    }
    join_ok(t);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(w.hold, 3);
    ck_assert_int_eq(w.locked_at_return, 1);
    /* A true predicate returns at once. */
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_wait_for(&c->cond, pred_value_ge3, c), 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    errno = 0;
    ck_assert_int_eq(coio_condition_wait_for(&c->cond, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    return NULL;
}

START_TEST(test_CD3_wait_for_rewaits_until_true)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd3_wait_for_main, &c, NULL), 0);
}
END_TEST

static void *cd4_main(void *arg)
{
    ctx *c = arg;
    worker w;
    coio_condition_init(&c->cond, NULL);
    worker_init(&w, c, "w", 0);
    coio_task *t = coio_spawn(cond_worker, &w);
    spin(2);
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0); /* we hold it */
    ck_assert_int_eq(coio_cancel_msg(t, "stop"), 1);
    spin(4);
    ck_assert_int_eq(w.done, 0); /* cancelled, but must re-acquire first */
    evlog_add(&c->log, "release");
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(w.locked_at_return, 1);
    ck_assert_str_eq(coio_task_cancel_message(t), "stop");
    coio_task_release(t);
    return NULL;
}

START_TEST(test_CD4_cancelled_wait_reacquires_lock)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd4_main, &c, NULL), 0);
    char exp[32];
    snprintf(exp, sizeof exp, "release w:%d", ECANCELED);
    ck_assert_log(&c.log, exp);
}
END_TEST

/* Cancelled while re-acquiring (after the notify), even twice: still
   returns with the lock held. */
static void *cd4_reacquire_main(void *arg)
{
    ctx *c = arg;
    worker w;
    coio_condition_init(&c->cond, NULL);
    worker_init(&w, c, "w", 0);
    coio_task *t = coio_spawn(cond_worker, &w);
    spin(2);
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), 0);
    spin(2); /* w now waits for the lock */
    ck_assert_int_eq(coio_cancel(t), 1);
    spin(2);
    ck_assert_int_eq(coio_cancel(t), 1);
    spin(2);
    ck_assert_int_eq(w.done, 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    join_ok(t);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(w.locked_at_return, 1);
    ck_assert_int_eq(coio_lock_locked(coio_condition_lock(&c->cond)), 0);
    return NULL;
}

START_TEST(test_CD4_cancel_during_reacquire_keeps_retrying)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd4_reacquire_main, &c, NULL), 0);
}
END_TEST

static void *cd5_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    coio_condition_init(&c->cond, NULL);
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c"}[i], 0);
        t[i] = coio_spawn(cond_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), 0); /* wakes a */
    ck_assert_int_eq(coio_cancel(t[0]), 1);                  /* before a runs */
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    join_ok(t[0]);
    join_ok(t[1]); /* b got a's notification: no second notify needed */
    ck_assert_int_eq(w[0].rc, -1);
    ck_assert_int_eq(w[0].err, ECANCELED);
    ck_assert_int_eq(w[1].rc, 0);
    spin(3);
    ck_assert_int_eq(w[2].done, 0); /* only one notification was passed on */
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), 0);
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    join_ok(t[2]);
    ck_assert_int_eq(w[2].rc, 0);
    return NULL;
}

START_TEST(test_CD5_notified_then_cancelled_passes_notification)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd5_main, &c, NULL), 0);
    char exp[64];
    snprintf(exp, sizeof exp, "a:%d b:0 c:0", ECANCELED);
    ck_assert_log(&c.log, exp);
}
END_TEST

static void *cd5_before_main(void *arg)
{
    ctx *c = arg;
    worker w[2];
    coio_task *t[2];
    coio_condition_init(&c->cond, NULL);
    for (int i = 0; i < 2; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b"}[i], 0);
        t[i] = coio_spawn(cond_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_cancel(t[0]), 1); /* not notified yet: leaves the queue */
    join_ok(t[0]);
    ck_assert_int_eq(w[0].err, ECANCELED);
    ck_assert_int_eq(coio_condition_acquire(&c->cond), 0);
    ck_assert_int_eq(coio_condition_notify(&c->cond, 1), 0); /* goes to b */
    ck_assert_int_eq(coio_condition_release(&c->cond), 0);
    join_ok(t[1]);
    ck_assert_int_eq(w[1].rc, 0);
    return NULL;
}

START_TEST(test_CD5_cancelled_before_notify_leaves_queue)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(cd5_before_main, &c, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* Semaphore                                                                */
/* ======================================================================== */

static void *sem_worker(void *arg)
{
    worker *w = arg;
    int rc = coio_semaphore_acquire(&w->c->sem);
    int e = errno;
    if (rc == 0) {
        evlog_add(&w->c->log, "%s", w->name);
        hold_for(w);
        ck_assert_int_eq(coio_semaphore_release(&w->c->sem), 0);
    }
    errno = e;
    return finish(w, rc);
}

static void *sm1_main(void *arg)
{
    ctx *c = arg;
    worker w[6];
    coio_task *t[6];
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 2), 0);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 2);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 0);
    for (int i = 0; i < 6; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c", "d", "e", "f"}[i], 3);
        t[i] = coio_spawn(sem_worker, &w[i]);
    }
    coio_yield();
    ck_assert_int_eq(c->holders, 2);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 1);
    for (int i = 0; i < 6; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, 0);
    }
    ck_assert_int_eq(c->max_holders, 2);
    ck_assert_log(&c->log, "a b c d e f");
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 2);
    /* Value 0: acquire blocks until a release. */
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 0), 0);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 1);
    worker_init(&w[0], c, "z", 0);
    t[0] = coio_spawn(sem_worker, &w[0]);
    spin(3);
    ck_assert_int_eq(w[0].done, 0);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    join_ok(t[0]);
    ck_assert_int_eq(w[0].rc, 0);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 1); /* z released it */
    return NULL;
}

START_TEST(test_SM1_admits_at_most_n)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(sm1_main, &c, NULL), 0);
    coio_semaphore s;
    errno = 0;
    ck_assert_int_eq(coio_semaphore_init(&s, -1), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_bounded_semaphore_init(&s, -3), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_semaphore_init(NULL, 1), -1);
    ck_assert_int_eq(coio_semaphore_init(&s, 1), 0);
    errno = 0;
    ck_assert_int_eq(coio_semaphore_acquire(&s), -1); /* not in a task */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_semaphore_release(NULL), -1);
    ck_assert_int_eq(coio_semaphore_locked(NULL), 0);
    ck_assert_int_eq(coio_semaphore_value(NULL), 0);
}
END_TEST

/* locked() is 1 while a granted (uncancelled) waiter exists even though the
   value is above 0, and a newcomer then queues. */
static void *sm1_locked_main(void *arg)
{
    ctx *c = arg;
    worker w;
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 0), 0);
    worker_init(&w, c, "w", 0);
    coio_task *t = coio_spawn(sem_worker, &w);
    spin(2);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0); /* reserved for w */
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 1);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 1);
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), 0); /* queues behind w */
    evlog_add(&c->log, "main");
    ck_assert_int_eq(w.done, 1);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    join_ok(t);
    ck_assert_log(&c->log, "w main");
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 2);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 0);
    return NULL;
}

START_TEST(test_SM1_locked_with_granted_waiter)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(sm1_locked_main, &c, NULL), 0);
}
END_TEST

static void *sm2_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 1), 0);
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), 0);
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c"}[i], 1);
        t[i] = coio_spawn(sem_worker, &w[i]);
        coio_yield();
    }
    /* Release and re-acquire at once: behind a, b and c. */
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), 0);
    evlog_add(&c->log, "main");
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    for (int i = 0; i < 3; i++)
        join_ok(t[i]);
    ck_assert_log(&c->log, "a b c main");
    ck_assert_int_eq(c->max_holders, 1);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 1);
    return NULL;
}

START_TEST(test_SM2_strict_fifo_release_reacquire_goes_behind)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(sm2_main, &c, NULL), 0);
}
END_TEST

/* Releases of several permits at once go to the first waiters in order. */
static void *sm2_multi_main(void *arg)
{
    ctx *c = arg;
    worker w[4];
    coio_task *t[4];
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 0), 0);
    for (int i = 0; i < 4; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c", "d"}[i], 4);
        t[i] = coio_spawn(sem_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 0); /* both reserved */
    coio_yield();
    ck_assert_log(&c->log, "a b");
    for (int i = 0; i < 4; i++)
        join_ok(t[i]);
    ck_assert_log(&c->log, "a b c d");
    ck_assert_int_eq(c->max_holders, 2);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 2);
    return NULL;
}

START_TEST(test_SM2_permits_reserved_in_order)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(sm2_multi_main, &c, NULL), 0);
}
END_TEST

static void *sm3_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 0), 0);
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c"}[i], 1);
        t[i] = coio_spawn(sem_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0); /* granted to a */
    ck_assert_int_eq(coio_cancel(t[0]), 1);               /* before a runs */
    join_ok(t[0]);
    ck_assert_int_eq(w[0].rc, -1);
    ck_assert_int_eq(w[0].err, ECANCELED);
    join_ok(t[1]); /* b got the permit a gave back */
    ck_assert_int_eq(w[1].rc, 0);
    join_ok(t[2]); /* and c the same permit after b */
    ck_assert_int_eq(w[2].rc, 0);
    ck_assert_log(&c->log, "b c");
    ck_assert_int_eq(c->max_holders, 1); /* one permit only */
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 1);
    return NULL;
}

START_TEST(test_SM3_granted_then_cancelled_gives_permit_back)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(sm3_main, &c, NULL), 0);
}
END_TEST

static void *sm3_all_cancelled_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 1), 0);
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), 0);
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c"}[i], 0);
        t[i] = coio_spawn(sem_worker, &w[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_cancel(t[1]), 1); /* not granted: leaves at once */
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0); /* granted to a */
    ck_assert_int_eq(coio_cancel(t[0]), 1);
    ck_assert_int_eq(coio_cancel(t[2]), 1);
    for (int i = 0; i < 3; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, -1);
        ck_assert_int_eq(w[i].err, ECANCELED);
    }
    /* Nothing stranded: the permit is back and a newcomer passes. */
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 1);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    ck_assert_log(&c->log, "");
    return NULL;
}

START_TEST(test_SM3_cancelled_waiters_never_strand_permits)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(sm3_all_cancelled_main, &c, NULL), 0);
}
END_TEST

static void *sm4_main(void *arg)
{
    ctx *c = arg;
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 1), 0);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0); /* plain: above initial */
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 2);
    coio_semaphore b;
    ck_assert_int_eq(coio_bounded_semaphore_init(&b, 2), 0);
    errno = 0;
    ck_assert_int_eq(coio_semaphore_release(&b), -1);
    ck_assert_int_eq(errno, EOVERFLOW);
    ck_assert_int_eq(coio_semaphore_value(&b), 2);
    ck_assert_int_eq(coio_semaphore_acquire(&b), 0);
    ck_assert_int_eq(coio_semaphore_acquire(&b), 0);
    ck_assert_int_eq(coio_semaphore_release(&b), 0);
    ck_assert_int_eq(coio_semaphore_release(&b), 0);
    errno = 0;
    ck_assert_int_eq(coio_semaphore_release(&b), -1);
    ck_assert_int_eq(errno, EOVERFLOW);
    ck_assert_int_eq(coio_semaphore_value(&b), 2);
    /* A plain one stops at INT_MAX rather than overflowing. */
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 2147483646), 0);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    errno = 0;
    ck_assert_int_eq(coio_semaphore_release(&c->sem), -1);
    ck_assert_int_eq(errno, EOVERFLOW);
    return NULL;
}

START_TEST(test_SM4_bounded_over_release_eoverflow)
{
    ctx c;
    ck_assert_int_eq(run_main(sm4_main, &c, NULL), 0);
}
END_TEST

static void *sm_fast_main(void *arg)
{
    ctx *c = arg;
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 1), 0);
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), 0);
    errno = 0;
    ck_assert_int_eq(coio_semaphore_acquire(&c->sem), -1); /* would wait: delivered */
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_locked(&c->sem), 1);
    ck_assert_int_eq(coio_semaphore_release(&c->sem), 0);
    ck_assert_int_eq(coio_semaphore_value(&c->sem), 1);
    coio_absorb_cancel();
    coio_uncancel();
    return NULL;
}

START_TEST(test_SM_T8_uncontended_acquire_not_cancellation_point)
{
    ctx c;
    ck_assert_int_eq(run_main(sm_fast_main, &c, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* Barrier                                                                  */
/* ======================================================================== */

static void *bar_worker(void *arg)
{
    worker *w = arg;
    evlog_add(&w->c->log, "%s>", w->name);
    int rc = coio_barrier_wait(&w->c->bar);
    int e = errno;
    if (rc >= 0)
        evlog_add(&w->c->log, "%s<%d", w->name, rc);
    else
        evlog_add(&w->c->log, "%s!%s", w->name, e == EPIPE ? "EPIPE" : e == ECANCELED ? "ECANCELED" : "?");
    errno = e;
    return finish(w, rc);
}

static void *br1_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    ck_assert_int_eq(coio_barrier_init(&c->bar, 3), 0);
    ck_assert_int_eq(coio_barrier_parties(&c->bar), 3);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 0);
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b", "c"}[i], 0);
        t[i] = coio_spawn(bar_worker, &w[i]);
        spin(2);
        if (i < 2)
            ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), i + 1);
    }
    for (int i = 0; i < 3; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, i);
    }
    /* Nobody passes before the third arrives; then all do. */
    ck_assert_log(&c->log, "a> b> c> c<2 a<0 b<1");
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 0);
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 0);
    /* parties == 1 never blocks. */
    coio_barrier one;
    ck_assert_int_eq(coio_barrier_init(&one, 1), 0);
    ck_assert_int_eq(coio_barrier_wait(&one), 0);
    ck_assert_int_eq(coio_barrier_wait(&one), 0);
    return NULL;
}

START_TEST(test_BR1_trips_with_arrival_indices)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(br1_main, &c, NULL), 0);
    coio_barrier b;
    errno = 0;
    ck_assert_int_eq(coio_barrier_init(&b, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_barrier_init(&b, -2), -1);
    ck_assert_int_eq(coio_barrier_init(NULL, 2), -1);
    ck_assert_int_eq(coio_barrier_init(&b, 2), 0);
    errno = 0;
    ck_assert_int_eq(coio_barrier_wait(&b), -1); /* not in a task */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_barrier_reset(NULL), -1);
    ck_assert_int_eq(coio_barrier_abort(NULL), -1);
    ck_assert_int_eq(coio_barrier_broken(NULL), 0);
    ck_assert_int_eq(coio_barrier_n_waiting(NULL), 0);
    ck_assert_int_eq(coio_barrier_parties(NULL), 0);
}
END_TEST

/* The last arrival of a round waits again at once: it must block until the
   others have left (draining), then start the next round. */
static void *br2_again_worker(void *arg)
{
    worker *w = arg;
    ctx *c = w->c;
    int first = coio_barrier_wait(&c->bar);
    evlog_add(&c->log, "%s<%d", w->name, first);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 0); /* draining */
    int rc = coio_barrier_wait(&c->bar);
    int e = errno;
    evlog_add(&c->log, "%s<<%d", w->name, rc);
    errno = e;
    return finish(w, rc);
}

static void *br2_main(void *arg)
{
    ctx *c = arg;
    worker a, b, d;
    ck_assert_int_eq(coio_barrier_init(&c->bar, 2), 0);
    worker_init(&a, c, "a", 0);
    worker_init(&b, c, "b", 0);
    worker_init(&d, c, "d", 0);
    coio_task *ta = coio_spawn(bar_worker, &a);
    spin(2);
    coio_task *tb = coio_spawn(br2_again_worker, &b); /* trips, then waits again */
    coio_task *td = NULL;
    spin(4);
    ck_assert_int_eq(a.done, 1);
    ck_assert_int_eq(b.done, 0);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 1); /* b in round 2 */
    td = coio_spawn(bar_worker, &d);
    join_ok(ta);
    join_ok(tb);
    join_ok(td);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(b.rc, 0); /* first in round 2 */
    ck_assert_int_eq(d.rc, 1);
    ck_assert_log(&c->log, "a> b<1 a<0 d> d<1 b<<0");
    return NULL;
}

START_TEST(test_BR2_newcomer_blocks_while_draining)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(br2_main, &c, NULL), 0);
}
END_TEST

static void *br3_main(void *arg)
{
    ctx *c = arg;
    worker w[4];
    coio_task *t[4];
    ck_assert_int_eq(coio_barrier_init(&c->bar, 3), 0);
    for (int i = 0; i < 2; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b"}[i], 0);
        t[i] = coio_spawn(bar_worker, &w[i]);
    }
    spin(2);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 2);
    ck_assert_int_eq(coio_cancel(t[0]), 1);
    join_ok(t[0]);
    ck_assert_int_eq(w[0].rc, -1);
    ck_assert_int_eq(w[0].err, ECANCELED);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 1);
    for (int i = 2; i < 4; i++) {
        worker_init(&w[i], c, (const char *[]){"", "", "c", "d"}[i], 0);
        t[i] = coio_spawn(bar_worker, &w[i]);
    }
    spin(2);
    for (int i = 1; i < 4; i++) {
        join_ok(t[i]);
        ck_assert_int_ge(w[i].rc, 0);
    }
    ck_assert_int_eq(w[3].rc, 2); /* the trip */
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 0);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 0);
    return NULL;
}

START_TEST(test_BR3_cancelled_waiter_leaves_count)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(br3_main, &c, NULL), 0);
}
END_TEST

static void *br4_reset_main(void *arg)
{
    ctx *c = arg;
    worker w[3];
    coio_task *t[3];
    ck_assert_int_eq(coio_barrier_init(&c->bar, 3), 0);
    for (int i = 0; i < 2; i++) {
        worker_init(&w[i], c, (const char *[]){"a", "b"}[i], 0);
        t[i] = coio_spawn(bar_worker, &w[i]);
    }
    spin(2);
    ck_assert_int_eq(coio_barrier_reset(&c->bar), 0);
    for (int i = 0; i < 2; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, -1);
        ck_assert_int_eq(w[i].err, EPIPE);
    }
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 0);
    ck_assert_int_eq(coio_barrier_n_waiting(&c->bar), 0);
    /* Refilled: a full round works again. */
    for (int i = 0; i < 3; i++) {
        worker_init(&w[i], c, (const char *[]){"x", "y", "z"}[i], 0);
        t[i] = coio_spawn(bar_worker, &w[i]);
    }
    for (int i = 0; i < 3; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(w[i].rc, i);
    }
    ck_assert_log(&c->log, "a> b> a!EPIPE b!EPIPE x> y> z> z<2 x<0 y<1");
    /* A reset with nobody inside just refills. */
    ck_assert_int_eq(coio_barrier_reset(&c->bar), 0);
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 0);
    return NULL;
}

START_TEST(test_BR4_reset_breaks_current_waiters_then_refills)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(br4_reset_main, &c, NULL), 0);
}
END_TEST

static void *br4_abort_main(void *arg)
{
    ctx *c = arg;
    worker w[2];
    coio_task *t[2];
    ck_assert_int_eq(coio_barrier_init(&c->bar, 2), 0);
    worker_init(&w[0], c, "a", 0);
    t[0] = coio_spawn(bar_worker, &w[0]);
    spin(2);
    ck_assert_int_eq(coio_barrier_abort(&c->bar), 0);
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 1);
    join_ok(t[0]);
    ck_assert_int_eq(w[0].rc, -1);
    ck_assert_int_eq(w[0].err, EPIPE);
    /* Later waits fail at once until a reset. */
    errno = 0;
    ck_assert_int_eq(coio_barrier_wait(&c->bar), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 1);
    ck_assert_int_eq(coio_barrier_reset(&c->bar), 0);
    ck_assert_int_eq(coio_barrier_broken(&c->bar), 0);
    worker_init(&w[0], c, "b", 0);
    t[0] = coio_spawn(bar_worker, &w[0]);
    spin(2);
    ck_assert_int_eq(coio_barrier_wait(&c->bar), 1);
    join_ok(t[0]);
    ck_assert_int_eq(w[0].rc, 0);
    return NULL;
}

START_TEST(test_BR4_abort_breaks_until_reset)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(br4_abort_main, &c, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* Leftover waiters at shutdown                                             */
/* ======================================================================== */

/* main returns while workers still wait on a lock, an event and a semaphore
   held in static storage: coio_run's shutdown cancels them cleanly. */
static ctx shutdown_ctx;

static void *shutdown_main(void *arg)
{
    ctx *c = &shutdown_ctx;
    static worker w[3];
    coio_lock_init(&c->lock);
    coio_event_init(&c->ev);
    ck_assert_int_eq(coio_semaphore_init(&c->sem, 0), 0);
    ck_assert_int_eq(coio_lock_acquire(&c->lock), 0);
    worker_init(&w[0], c, "l", 0);
    worker_init(&w[1], c, "e", 0);
    worker_init(&w[2], c, "s", 0);
    coio_task_release(coio_spawn(lock_worker, &w[0]));
    coio_task_release(coio_spawn(event_worker, &w[1]));
    coio_task_release(coio_spawn(sem_worker, &w[2]));
    spin(2);
    return arg;
}

START_TEST(test_leftover_waiters_cancelled_by_run)
{
    memset(&shutdown_ctx, 0, sizeof shutdown_ctx);
    ck_assert_int_eq(run_main(shutdown_main, NULL, NULL), 0);
    ck_assert_log(&shutdown_ctx.log, "");
}
END_TEST

/* Many waiters: Event.set wakes every one, in arrival order. */
#define MANY 1000

static ctx *many_ctx;

static void *many_event_worker(void *arg)
{
    ctx *c = many_ctx;
    ck_assert_int_eq(coio_event_wait(&c->ev), 0);
    ck_assert_int_eq(c->value, (int)(intptr_t)arg); /* FIFO */
    c->value++;
    return NULL;
}

static void *many_main(void *arg)
{
    ctx *c = arg;
    many_ctx = c;
    coio_event_init(&c->ev);
    for (int i = 0; i < MANY; i++) {
        coio_task_opts o = {.stack_size = COIO_STACK_MIN};
        coio_task *t = coio_spawn_opts(&o, many_event_worker, (void *)(intptr_t)i);
        ck_assert_ptr_nonnull(t);
        coio_task_release(t);
    }
    coio_yield();
    ck_assert_int_eq(c->value, 0);
    coio_event_set(&c->ev);
    spin(2);
    ck_assert_int_eq(c->value, MANY);
    return NULL;
}

START_TEST(test_EV1_set_wakes_many_waiters)
{
    ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(run_main(many_main, &c, NULL), 0);
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("lock");
    tcase_add_test(tc, test_LK1_acquire_release_eperm);
    tcase_add_test(tc, test_LK1_no_owner_any_task_releases);
    tcase_add_test(tc, test_LK2_fifo_order);
    tcase_add_test(tc, test_LK3_no_barging);
    tcase_add_test(tc, test_LK3_newcomer_passes_cancelled_waiters);
    tcase_add_test(tc, test_LK4_cancelled_waiter_leaves_queue);
    tcase_add_test(tc, test_LK4_woken_then_cancelled_passes_lock_on);
    tcase_add_test(tc, test_LK4_cancel_racing_release_one_holder);
    tcase_add_test(tc, test_LK4_cancelled_head_racing_release_one_holder);
    tcase_add_test(tc, test_LK4_waiter_cancelled_after_release_not_head);
    tcase_add_test(tc, test_LK_T8_uncontended_acquire_not_cancellation_point);
    tcase_add_test(tc, test_LK_contended_acquire_is_cancellation_point);
    suite_add_tcase(s, tc);

    tc = tcase_create("event");
    tcase_add_test(tc, test_EV1_wait_set_clear);
    tcase_add_test(tc, test_EV1_cancelled_wait_removes_waiter);
    tcase_add_test(tc, test_EV1_set_wakes_many_waiters);
    tcase_add_test(tc, test_EV2_set_then_clear_does_not_unwake);
    tcase_add_test(tc, test_EV3_woken_waiters_resume_behind_queued);
    tcase_add_test(tc, test_EV_T8_wait_on_set_event_not_cancellation_point);
    suite_add_tcase(s, tc);

    tc = tcase_create("condition");
    tcase_add_test(tc, test_CD1_unlocked_use_is_eperm);
    tcase_add_test(tc, test_CD2_wait_releases_and_reacquires);
    tcase_add_test(tc, test_CD3_notify_n_fifo);
    tcase_add_test(tc, test_CD3_notify_all);
    tcase_add_test(tc, test_CD3_wait_for_rewaits_until_true);
    tcase_add_test(tc, test_CD4_cancelled_wait_reacquires_lock);
    tcase_add_test(tc, test_CD4_cancel_during_reacquire_keeps_retrying);
    tcase_add_test(tc, test_CD5_notified_then_cancelled_passes_notification);
    tcase_add_test(tc, test_CD5_cancelled_before_notify_leaves_queue);
    suite_add_tcase(s, tc);

    tc = tcase_create("semaphore");
    tcase_add_test(tc, test_SM1_admits_at_most_n);
    tcase_add_test(tc, test_SM1_locked_with_granted_waiter);
    tcase_add_test(tc, test_SM2_strict_fifo_release_reacquire_goes_behind);
    tcase_add_test(tc, test_SM2_permits_reserved_in_order);
    tcase_add_test(tc, test_SM3_granted_then_cancelled_gives_permit_back);
    tcase_add_test(tc, test_SM3_cancelled_waiters_never_strand_permits);
    tcase_add_test(tc, test_SM4_bounded_over_release_eoverflow);
    tcase_add_test(tc, test_SM_T8_uncontended_acquire_not_cancellation_point);
    suite_add_tcase(s, tc);

    tc = tcase_create("barrier");
    tcase_add_test(tc, test_BR1_trips_with_arrival_indices);
    tcase_add_test(tc, test_BR2_newcomer_blocks_while_draining);
    tcase_add_test(tc, test_BR3_cancelled_waiter_leaves_count);
    tcase_add_test(tc, test_BR4_reset_breaks_current_waiters_then_refills);
    tcase_add_test(tc, test_BR4_abort_breaks_until_reset);
    tcase_add_test(tc, test_leftover_waiters_cancelled_by_run);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(sync_suite)
