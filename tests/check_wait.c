/* check_wait.c — Suite "wait": coio_wait (group W), coio_wait_for (WF), coio_shield (S)
 * and the as_completed iterator (AC) of ASYNCIO-SEMANTICS.md, with C-port decisions
 * 13, 14 and 16: the done/pending split, timeouts that cancel nothing, cancel-and-wait
 * on expiry, the completion/timeout race, shielding and completion order. */
#include "helpers.h"

#include <math.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static evlog ev;

/* ---- capturing stderr (fd 2) ------------------------------------------------------- */


/* ---- child bodies ------------------------------------------------------------------------- */

/* Sleep delay, then return value or fail with err. On a cancel: with absorb < 0 end
   CANCELLED; else clean up for absorb seconds and return value (or fail with err). */
typedef struct {
    const char *name;
    double delay;
    long value;
    int err;
    double absorb;    /* >= 0: on a cancel, clean up this long ... */
    int reraise;      /* ... and then end CANCELLED anyway (not absorbing) */
    int runs;
    int cancelled;
} child;

static void child_init(child *c, const char *name, double delay, long value, int err)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->delay = delay;
    c->value = value;
    c->err = err;
    c->absorb = -1;
}

static void *child_body(void *arg)
{
    child *c = arg;
    c->runs++;
    if (coio_sleep(c->delay) < 0) {
        c->cancelled++;
        evlog_add(&ev, "%s:cancelled", c->name);
        if (c->absorb < 0)
            return NULL;
        int had = coio_absorb_cancel();
        coio_sleep(c->absorb);
        evlog_add(&ev, "%s:cleaned", c->name);
        if (c->reraise)
            coio_fail(had ? ECANCELED : EINVAL);
        if (c->err)
            coio_fail(c->err);
        return (void *)c->value;
    }
    evlog_add(&ev, "%s:done", c->name);
    if (c->err)
        coio_fail(c->err);
    return (void *)c->value;
}

static coio_task *spawn_child(child *c) { return coio_spawn(child_body, c); }

static void release_all(coio_task **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        coio_task_release(t[i]);
}

static void *cancel_after(void *arg)
{
    coio_sleep(0.02);
    evlog_add(&ev, "cancel");
    ck_assert_int_eq(coio_cancel(arg), 1);
    return NULL;
}

static void *cancel_now(void *arg)
{
    evlog_add(&ev, "cancel");
    ck_assert_int_eq(coio_cancel(arg), 1);
    return NULL;
}

/* Block the whole loop (no task or callback runs) for s seconds. */
static void busy(void *arg)
{
    double s = *(double *)arg, end = now() + s;
    while (now() < end)
        ;
}

/* ======================================================================== */
/* wait                                                                     */
/* ======================================================================== */

static void *w1_main(void *arg)
{
    child a, b, c;
    child_init(&a, "a", 0.09, 1, 0);
    child_init(&b, "b", 0.01, 0, EIO);
    child_init(&c, "c", 0.05, 3, 0);
    coio_task *t[3] = {spawn_child(&a), spawn_child(&b), spawn_child(&c)};
    coio_task *aws[5] = {t[0], t[1], t[0], t[2], t[1]};
    coio_task *done[5] = {0}, *pending[5] = {0};
    size_t nd = 99, np = 99;
    ck_assert_int_eq(coio_wait(aws, 5, -1, COIO_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 3); /* duplicates collapsed, input order, the very handles */
    ck_assert_uint_eq(np, 0);
    ck_assert_ptr_eq(done[0], t[0]);
    ck_assert_ptr_eq(done[1], t[1]);
    ck_assert_ptr_eq(done[2], t[2]);
    ck_assert_int_eq(coio_task_state(t[1]), COIO_FAILED); /* not fetched: see the report */
    ck_assert_log(&ev, "b:done c:done a:done");
    /* Arrays and counts are optional. */
    ck_assert_int_eq(coio_wait(aws, 5, -1, COIO_ALL_COMPLETED, NULL, NULL, NULL, &np), 0);
    ck_assert_uint_eq(np, 0);
    release_all(t, 3);
    return NULL;
}

START_TEST(test_W1_done_pending_split_duplicates_errors_not_fetched)
{
    memset(&ev, 0, sizeof ev);
    capture_begin();
    int rc = run_main(w1_main, NULL, NULL);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "exception was never retrieved"), "wait fetched the error: %s", out);
}
END_TEST

/* More than 8 entries (the allocating path) with duplicates. */
static void *w1_many_main(void *arg)
{
    child c[6];
    coio_task *t[6];
    for (int i = 0; i < 6; i++) {
        child_init(&c[i], "x", i < 3 ? 0.01 : 10, i, 0);
        t[i] = spawn_child(&c[i]);
    }
    coio_task *aws[30];
    for (int i = 0; i < 30; i++)
        aws[i] = t[(i * 7) % 6];
    coio_task *done[30], *pending[30];
    size_t nd, np;
    ck_assert_int_eq(coio_wait(aws, 30, 0.1, COIO_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 3);
    ck_assert_uint_eq(np, 3);
    /* First occurrences in input order: i*7%6 = 0,1,2,3,4,5,... */
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_eq(done[i], t[i]);
        ck_assert_ptr_eq(pending[i], t[3 + i]);
    }
    for (int i = 3; i < 6; i++)
        coio_cancel(t[i]);
    ck_assert_int_eq(coio_wait(aws, 30, -1, COIO_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 6);
    release_all(t, 6);
    return NULL;
}

START_TEST(test_W1_many_entries_with_duplicates)
{
    ck_assert_int_eq(run_main(w1_many_main, NULL, NULL), 0);
}
END_TEST

/* b runs until the test opens its gate, so that it is still pending at the
   wait's deadline however slowly the machine runs; a is done long before
   (its sleep(0) is a yield, which runs ahead of any timer). */
static coio_event w2_gate;

static void *w2_gated(void *arg)
{
    (void)arg;
    coio_event_wait(&w2_gate);
    evlog_add(&ev, "b:done");
    return (void *)2;
}

static void *w2_main(void *arg)
{
    child a;
    child_init(&a, "a", 0, 1, 0);
    coio_event_init(&w2_gate);
    coio_task *t[2] = {spawn_child(&a), coio_spawn(w2_gated, NULL)};
    coio_task *done[2], *pending[2];
    size_t nd, np;
    double t0 = now();
    ck_assert_int_eq(coio_wait(t, 2, 0.05, COIO_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_time(now() - t0, 0.05, 0.12);
    ck_assert_uint_eq(nd, 1);
    ck_assert_uint_eq(np, 1);
    ck_assert_ptr_eq(done[0], t[0]);
    ck_assert_ptr_eq(pending[0], t[1]);
    ck_assert_int_eq(coio_task_cancelling(t[1]), 0); /* not cancelled, still running */
    ck_assert_int_eq(coio_future_done(t[1]), 0);
    coio_event_set(&w2_gate);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t[1], &r), 0);
    ck_assert_ptr_eq(r, (void *)2);
    ck_assert_log(&ev, "a:done b:done");
    /* timeout 0 with nothing done: one loop iteration, everything pending. */
    coio_future *f = coio_future_new();
    ck_assert_int_eq(coio_wait(&f, 1, 0, COIO_FIRST_COMPLETED, NULL, &nd, NULL, &np), 0);
    ck_assert_uint_eq(nd, 0);
    ck_assert_uint_eq(np, 1);
    ck_assert_int_eq(coio_future_done(f), 0);
    coio_future_release(f);
    release_all(t, 2);
    return NULL;
}

START_TEST(test_W2_timeout_cancels_nothing)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(w2_main, NULL, NULL), 0);
}
END_TEST

/* The future completes in the same loop iteration as the wait's deadline, by a
   callback that runs before the waiting task resumes: it still lands in done. */
static void set_result_cb(void *arg) { coio_future_set_result(arg, (void *)1); }

static void *w3_main(void *arg)
{
    static double block = 0.08;
    coio_loop *l = coio_loop_current();
    coio_future *f = coio_future_new();
    coio_future *g = coio_future_new();
    coio_task *aws[2] = {f, g};
    /* Both deadlines pass while the loop is blocked, so both fire in one iteration:
       the callback's first (scheduled first), then the wait's. */
    ck_assert_ptr_nonnull(coio_call_later(l, 0.01, busy, &block));
    ck_assert_ptr_nonnull(coio_call_later(l, 0.05, set_result_cb, f));
    coio_task *done[2], *pending[2];
    size_t nd, np;
    double t0 = now();
    ck_assert_int_eq(coio_wait(aws, 2, 0.05, COIO_ALL_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_time(now() - t0, 0.08, 0.5);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(done[0], f);
    ck_assert_uint_eq(np, 1);
    ck_assert_ptr_eq(pending[0], g);
    coio_future_cancel(g);
    coio_future_release(f);
    coio_future_release(g);
    return NULL;
}

START_TEST(test_W3_completion_at_timeout_instant_counts_as_done)
{
    ck_assert_int_eq(run_main(w3_main, NULL, NULL), 0);
}
END_TEST

static void set_both_cb(void *arg)
{
    coio_future **f = arg;
    coio_future_set_result(f[0], NULL);
    coio_future_set_error(f[1], EIO, NULL);
}

static void *w4_main(void *arg)
{
    child a, b, c;
    child_init(&a, "a", 0.1, 1, 0);
    child_init(&b, "b", 0.02, 2, 0);
    child_init(&c, "c", 0.15, 3, 0);
    coio_task *t[3] = {spawn_child(&a), spawn_child(&b), spawn_child(&c)};
    coio_task *done[3], *pending[3];
    size_t nd, np;
    double t0 = now();
    ck_assert_int_eq(coio_wait(t, 3, -1, COIO_FIRST_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_time(now() - t0, 0.02, 0.08);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(done[0], t[1]);
    ck_assert_uint_eq(np, 2);
    ck_assert_ptr_eq(pending[0], t[0]);
    ck_assert_ptr_eq(pending[1], t[2]);
    /* Already one done: returns at once. */
    ck_assert_int_eq(coio_wait(t, 3, -1, COIO_FIRST_COMPLETED, done, &nd, NULL, NULL), 0);
    ck_assert_uint_eq(nd, 1);
    /* Two completing before the waiter resumes: both in done. */
    coio_future *f[3] = {coio_future_new(), coio_future_new(), coio_future_new()};
    ck_assert_ptr_nonnull(coio_call_later(coio_loop_current(), 0.01, set_both_cb, f));
    ck_assert_int_eq(coio_wait(f, 3, -1, COIO_FIRST_COMPLETED, done, &nd, pending, &np), 0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_ptr_eq(done[0], f[0]);
    ck_assert_ptr_eq(done[1], f[1]);
    ck_assert_uint_eq(np, 1);
    coio_task_error(f[1]);
    coio_future_cancel(f[2]);
    release_all(f, 3);
    for (int i = 0; i < 3; i++) { /* the bodies use this stack: end them before returning */
        coio_cancel(t[i]);
        coio_await(t[i], NULL);
    }
    coio_absorb_cancel();
    release_all(t, 3);
    return NULL;
}

START_TEST(test_W4_first_completed)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(w4_main, NULL, NULL), 0);
}
END_TEST

static void *w5_main(void *arg)
{
    child a, b, c, d;
    child_init(&a, "a", 10, 1, 0);
    child_init(&b, "b", 0.1, 0, EIO);
    child_init(&c, "c", 0.4, 3, 0);
    child_init(&d, "d", 0.05, 4, 0);
    double t_spawn = now();
    coio_task *t[4] = {spawn_child(&a), spawn_child(&b), spawn_child(&c), spawn_child(&d)};
    /* a is cancelled in the batch in which the children start, so its cancel is
       queued before d's timer can be due however late the loop runs (a
       cancel_after sleeping 0.02 lost to d's 0.05 on a stalled process). */
    coio_task *k = coio_spawn(cancel_now, t[0]); /* a cancelled: no count */
    coio_task *done[4], *pending[4];
    size_t nd, np;
    double t0 = now();
    ck_assert_int_eq(coio_wait(t, 4, -1, COIO_FIRST_EXCEPTION, done, &nd, pending, &np), 0);
    ck_assert_time(now() - t0, 0.1, 1.0); /* pending[] shows c was not awaited */
    ck_assert_uint_eq(nd, 3);
    ck_assert_ptr_eq(done[0], t[0]);
    ck_assert_ptr_eq(done[1], t[1]);
    ck_assert_ptr_eq(done[2], t[3]);
    ck_assert_uint_eq(np, 1);
    ck_assert_ptr_eq(pending[0], t[2]);
    ck_assert_log(&ev, "cancel a:cancelled d:done b:done");
    /* One has failed already: at once, without suspending. */
    coio_task *again[2] = {t[2], t[1]};
    ck_assert_int_eq(coio_wait(again, 2, -1, COIO_FIRST_EXCEPTION, done, &nd, NULL, &np), 0);
    ck_assert_uint_eq(nd, 1);
    ck_assert_ptr_eq(done[0], t[1]);
    ck_assert_log(&ev, "cancel a:cancelled d:done b:done");
    /* No errors at all: the same as ALL_COMPLETED. */
    coio_task *ok[2] = {t[2], t[3]};
    ck_assert_int_eq(coio_wait(ok, 2, -1, COIO_FIRST_EXCEPTION, done, &nd, NULL, &np), 0);
    /* until c's 0.4 s have passed since the spawn (not "0.25 s from now",
       which assumed the first wait returned on time) */
    ck_assert_time(now() - t_spawn, 0.4, 1.0);
    ck_assert_uint_eq(nd, 2);
    ck_assert_uint_eq(np, 0);
    coio_task_error(t[1]);
    release_all(t, 4);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_W5_first_exception_ignores_cancelled)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(w5_main, NULL, NULL), 0);
}
END_TEST

static void *w6_main(void *arg)
{
    coio_future *f = coio_future_new();
    coio_task *self = coio_current_task();
    coio_task *withnull[2] = {f, NULL}, *withself[2] = {f, self};
    size_t nd, np;
    ck_assert_err(coio_wait(&f, 0, -1, COIO_ALL_COMPLETED, NULL, &nd, NULL, &np), EINVAL);
    ck_assert_err(coio_wait(NULL, 1, -1, COIO_ALL_COMPLETED, NULL, &nd, NULL, &np), EINVAL);
    ck_assert_err(coio_wait(&f, 1, -1, 0, NULL, &nd, NULL, &np), EINVAL);
    ck_assert_err(coio_wait(&f, 1, -1, 3, NULL, &nd, NULL, &np), EINVAL);
    ck_assert_err(coio_wait(&f, 1, NAN, COIO_ALL_COMPLETED, NULL, &nd, NULL, &np), EINVAL);
    ck_assert_err(coio_wait(withnull, 2, -1, COIO_ALL_COMPLETED, NULL, &nd, NULL, &np), EINVAL);
    ck_assert_err(coio_wait(withself, 2, -1, COIO_ALL_COMPLETED, NULL, &nd, NULL, &np), EDEADLK);
    coio_future_release(f);
    return NULL;
}

START_TEST(test_W6_wait_bad_arguments)
{
    coio_task *none[1] = {NULL};
    size_t nd;
    ck_assert_err(coio_wait(none, 1, -1, COIO_ALL_COMPLETED, NULL, &nd, NULL, NULL), EINVAL);
    ck_assert_int_eq(run_main(w6_main, NULL, NULL), 0);
}
END_TEST

typedef struct {
    coio_task **aws;
    size_t n;
    int rc, err;
} waiter;

static void *wait_body(void *arg)
{
    waiter *w = arg;
    size_t nd = 99, np = 99;
    w->rc = coio_wait(w->aws, w->n, 10, COIO_ALL_COMPLETED, NULL, &nd, NULL, &np);
    w->err = w->rc < 0 ? errno : 0;
    evlog_add(&ev, "wait:%d:%zu", w->rc, nd);
    return NULL;
}

static void *w7_main(void *arg)
{
    child a;
    child_init(&a, "a", 0.08, 1, 0);
    coio_task *t[2] = {spawn_child(&a), coio_future_new()};
    waiter w = {t, 2, 0, 0};
    coio_task *wt = coio_spawn(wait_body, &w);
    /* wt is cancelled in the batch in which it starts waiting: a's timer cannot
       be due before its cancel is queued (cancel_after's 0.02 once lost to a's
       0.08 on a stalled process). */
    coio_task *k = coio_spawn(cancel_now, wt);
    ck_assert_err(coio_await(wt, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(coio_task_cancelled(wt), 1);
    ck_assert_int_eq(coio_task_cancelling(t[0]), 0); /* the tasks waited on go on */
    ck_assert_int_eq(coio_future_done(t[1]), 0);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t[0], &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
    ck_assert_log(&ev, "cancel wait:-1:99 a:done");
    coio_future_set_result(t[1], NULL);
    release_all(t, 2);
    coio_task_release(wt);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_W7_cancelling_waiter_leaves_tasks_running)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(w7_main, NULL, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* wait_for                                                                 */
/* ======================================================================== */

static const char *rcs(int rc, int err)
{
    static char buf[32];
    if (rc == 0)
        return "ok";
    snprintf(buf, sizeof buf, "%s",
             err == ECANCELED ? "ECANCELED" : err == ETIMEDOUT ? "ETIMEDOUT" : strerror(err));
    return buf;
}

static void *wf1_main(void *arg)
{
    child a, b;
    child_init(&a, "a", 0.03, 7, 0);
    child_init(&b, "b", 0.05, 8, 0);
    coio_task *ta = spawn_child(&a), *tb = spawn_child(&b);
    void *r = NULL;
    double t0 = now();
    ck_assert_int_eq(coio_wait_for(ta, 1.0, &r), 0);
    ck_assert_time(now() - t0, 0.03, 0.5);
    ck_assert_ptr_eq(r, (void *)7);
    ck_assert_int_eq(coio_wait_for(tb, -1, &r), 0); /* no limit */
    ck_assert_ptr_eq(r, (void *)8);
    coio_future *f = coio_future_new();
    ck_assert_ptr_nonnull(coio_call_later(coio_loop_current(), 0.02, set_result_cb, f));
    ck_assert_int_eq(coio_wait_for(f, INFINITY, &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
    coio_future *g = coio_future_new();
    coio_future_set_error(g, EPROTO, NULL);
    ck_assert_err(coio_wait_for(g, 1.0, &r), EPROTO); /* done: its outcome, at once */
    coio_future_release(f);
    coio_future_release(g);
    coio_task_release(ta);
    coio_task_release(tb);
    return NULL;
}

START_TEST(test_WF1_result_in_time_and_no_limit)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(wf1_main, NULL, NULL), 0);
}
END_TEST

static void *wf2_main(void *arg)
{
    child x;
    child_init(&x, "x", 10, 1, 0);
    x.absorb = 0.05;
    x.reraise = 1; /* cleans up for 0.05 s, then ends CANCELLED */
    coio_task *t = spawn_child(&x);
    double t0 = now();
    int rc = coio_wait_for(t, 0.05, NULL);
    evlog_add(&ev, "wf:%s", rcs(rc, errno));
    ck_assert_time(now() - t0, 0.10, 0.5); /* waited for the real end */
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_log(&ev, "x:cancelled x:cleaned wf:ETIMEDOUT");
    ck_assert_int_eq(coio_cancelling(), 0);
    ck_assert_int_eq(coio_absorb_cancel(), 0); /* a timeout is not a cancel of ours */
    coio_task_release(t);
    return NULL;
}

START_TEST(test_WF2_timeout_cancels_and_waits_for_real_end)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(wf2_main, NULL, NULL), 0);
}
END_TEST

static void *wf3_main(void *arg)
{
    child x, y;
    child_init(&x, "x", 10, 7, 0);
    x.absorb = 0.02; /* swallows the cancel and returns 7 */
    child_init(&y, "y", 10, 0, EPROTO);
    y.absorb = 0.02; /* fails with another error while being cancelled */
    coio_task *tx = spawn_child(&x), *ty = spawn_child(&y);
    void *r = NULL;
    ck_assert_int_eq(coio_wait_for(tx, 0.03, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
    ck_assert_int_eq(coio_task_state(tx), COIO_FINISHED);
    ck_assert_err(coio_wait_for(ty, 0.03, &r), EPROTO);
    ck_assert_int_eq(coio_cancelling(), 0);
    ck_assert_int_eq(coio_absorb_cancel(), 0);
    ck_assert_log(&ev, "x:cancelled x:cleaned y:cancelled y:cleaned");
    coio_task_release(tx);
    coio_task_release(ty); /* its error was returned: retrieved */
    return NULL;
}

START_TEST(test_WF3_absorbed_cancel_value_or_other_error)
{
    memset(&ev, 0, sizeof ev);
    capture_begin();
    int rc = run_main(wf3_main, NULL, NULL);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(out[0] == 0, "unexpected report: %s", out);
}
END_TEST

static void *wf4_main(void *arg)
{
    void *r = NULL;
    coio_future *d = coio_future_new();
    coio_future_set_result(d, (void *)3);
    coio_cancel(coio_current_task()); /* a done x: no suspension, no delivery */
    ck_assert_int_eq(coio_wait_for(d, 0, &r), 0);
    ck_assert_ptr_eq(r, (void *)3);
    ck_assert_int_eq(coio_uncancel(), 0);

    child a, b, c;
    child_init(&a, "a", 10, 1, 0);
    child_init(&b, "b", 10, 2, 0);
    child_init(&c, "c", 10, 9, 0);
    c.absorb = 0.01;
    coio_task *ta = spawn_child(&a);
    ck_assert_err(coio_wait_for(ta, 0, &r), ETIMEDOUT); /* never started: never runs */
    ck_assert_int_eq(a.runs, 0);
    ck_assert_int_eq(coio_task_cancelled(ta), 1);
    coio_task *tb = spawn_child(&b), *tc = spawn_child(&c);
    coio_yield(); /* both started */
    ck_assert_err(coio_wait_for(tb, -0.0, &r), ETIMEDOUT);
    ck_assert_int_eq(b.cancelled, 1);
    ck_assert_int_eq(coio_wait_for(tc, 0, &r), 0); /* absorbed: its value */
    ck_assert_ptr_eq(r, (void *)9);
    coio_future *p = coio_future_new();
    ck_assert_err(coio_wait_for(p, 0, &r), ETIMEDOUT);
    ck_assert_int_eq(coio_future_cancelled(p), 1);
    coio_future_release(p);
    coio_future_release(d);
    coio_task_release(ta);
    coio_task_release(tb);
    coio_task_release(tc);
    return NULL;
}

START_TEST(test_WF4_zero_timeout)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(wf4_main, NULL, NULL), 0);
}
END_TEST

typedef struct {
    coio_task *t;
    double timeout;
    int rc, err;
    void *r;
} wf_call;

static void *wait_for_body(void *arg)
{
    wf_call *w = arg;
    w->rc = coio_wait_for(w->t, w->timeout, &w->r);
    w->err = w->rc < 0 ? errno : 0;
    evlog_add(&ev, "wf:%s", rcs(w->rc, w->err));
    return NULL;
}

typedef struct {
    coio_event in_cleanup, release;
    coio_task *target;
} y_ctx;

/* Cancelled in its wait: cleans up until released (or cancelled again), then
   ends cancelled. */
static void *y_body(void *arg)
{
    y_ctx *c = arg;
    ck_assert_int_eq(coio_sleep(10), -1);
    evlog_add(&ev, "y:cancelled");
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    coio_event_set(&c->in_cleanup);
    coio_event_wait(&c->release); /* or the cancel wait_for forwards to y */
    evlog_add(&ev, "y:cleaned");
    coio_fail(ECANCELED);
    return NULL;
}

static void *y_canceller(void *arg)
{
    y_ctx *c = arg;
    ck_assert_int_eq(coio_event_wait(&c->in_cleanup), 0);
    evlog_add(&ev, "cancel");
    ck_assert_int_eq(coio_cancel(c->target), 1);
    coio_event_set(&c->release);
    return NULL;
}

static void *wf5_main(void *arg)
{
    /* Cancelled while waiting: x is cancelled too, ECANCELED after x's end. */
    child x;
    child_init(&x, "x", 10, 1, 0);
    x.absorb = 0.03;
    x.reraise = 1;
    wf_call w = {.t = spawn_child(&x), .timeout = 10};
    coio_task *wt = coio_spawn(wait_for_body, &w);
    coio_task *k = coio_spawn(cancel_after, wt);
    double t0 = now();
    ck_assert_err(coio_await(wt, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_time(now() - t0, 0.05, 0.5);
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(coio_task_cancelled(wt), 1);
    ck_assert_int_eq(coio_task_cancelled(w.t), 1);
    ck_assert_log(&ev, "cancel x:cancelled x:cleaned wf:ECANCELED");
    coio_task_release(w.t);
    coio_task_release(wt);
    coio_task_release(k);

    /* Cancelled during the cancellation that follows a timeout: still ECANCELED.
       y's cleanup lasts until the canceller is done, and the canceller starts
       once y is in its cleanup: the order is fixed by events, not by a 0.05 s
       sleep racing y's 0.01 s timeout (which a stalled process reordered). */
    memset(&ev, 0, sizeof ev);
    y_ctx yc;
    coio_event_init(&yc.in_cleanup);
    coio_event_init(&yc.release);
    wf_call v = {.t = coio_spawn(y_body, &yc), .timeout = 0.01};
    wt = coio_spawn(wait_for_body, &v);
    yc.target = wt;
    k = coio_spawn(y_canceller, &yc); /* during y's cleanup */
    ck_assert_err(coio_await(wt, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_int_eq(v.err, ECANCELED);
    ck_assert_log(&ev, "y:cancelled cancel y:cleaned wf:ECANCELED");
    coio_task_release(v.t);
    coio_task_release(wt);
    coio_task_release(k);

    /* x absorbs the forwarded cancel and returns: the waiter gets the value (T10). */
    memset(&ev, 0, sizeof ev);
    child z;
    child_init(&z, "z", 10, 4, 0);
    z.absorb = 0.01;
    wf_call u = {.t = spawn_child(&z), .timeout = 10};
    wt = coio_spawn(wait_for_body, &u);
    k = coio_spawn(cancel_after, wt);
    ck_assert_int_eq(coio_await(wt, NULL), 0);
    ck_assert_int_eq(u.rc, 0);
    ck_assert_ptr_eq(u.r, (void *)4);
    ck_assert_int_eq(coio_task_cancelling(wt), 1);
    ck_assert_log(&ev, "cancel z:cancelled z:cleaned wf:ok");
    coio_task_release(u.t);
    coio_task_release(wt);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_WF5_caller_cancel_forwards_and_propagates)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(wf5_main, NULL, NULL), 0);
}
END_TEST

static void *wf6_main(void *arg)
{
    static double block = 0.08;
    coio_loop *l = coio_loop_current();
    void *r = NULL;
    /* f completes in the iteration where the deadline fires, before the waiter resumes:
       the timeout wins and f keeps its result (it was done, so not cancelled). */
    coio_future *f = coio_future_new();
    ck_assert_ptr_nonnull(coio_call_later(l, 0.01, busy, &block));
    ck_assert_ptr_nonnull(coio_call_later(l, 0.05, set_result_cb, f));
    ck_assert_err(coio_wait_for(f, 0.05, &r), ETIMEDOUT);
    ck_assert_int_eq(coio_task_state(f), COIO_FINISHED);
    /* A completion the waiter resumed from wins, however close to the deadline. */
    coio_future *g = coio_future_new();
    ck_assert_ptr_nonnull(coio_call_later(l, 0.02, set_result_cb, g));
    ck_assert_int_eq(coio_wait_for(g, 0.1, &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
    /* A pending future is cancelled under its producer, whose set_result then fails. */
    coio_future *h = coio_future_new();
    ck_assert_err(coio_wait_for(h, 0.02, &r), ETIMEDOUT);
    ck_assert_int_eq(coio_future_cancelled(h), 1);
    ck_assert_err(coio_future_set_result(h, NULL), EALREADY);
    coio_future_release(f);
    coio_future_release(g);
    coio_future_release(h);
    return NULL;
}

START_TEST(test_WF6_completion_timeout_race)
{
    ck_assert_int_eq(run_main(wf6_main, NULL, NULL), 0);
}
END_TEST

static void *wf_bad_main(void *arg)
{
    coio_future *f = coio_future_new();
    ck_assert_err(coio_wait_for(NULL, 1, NULL), EINVAL);
    ck_assert_err(coio_wait_for(f, NAN, NULL), EINVAL);
    ck_assert_err(coio_wait_for(coio_current_task(), 1, NULL), EDEADLK);
    ck_assert_int_eq(coio_future_done(f), 0);
    coio_future_release(f);
    return NULL;
}

START_TEST(test_wait_for_bad_arguments)
{
    ck_assert_int_eq(run_main(wf_bad_main, NULL, NULL), 0);
    ck_assert_err(coio_wait_for(NULL, 1, NULL), EINVAL); /* not in a task */
}
END_TEST

/* ======================================================================== */
/* shield                                                                   */
/* ======================================================================== */

static void *await_body(void *arg)
{
    int rc = coio_await(arg, NULL);
    evlog_add(&ev, "await:%s", rcs(rc, errno));
    return NULL;
}

/* x is a plain future completed by the test at the end, so that it cannot
   finish during the waits below however late the loop runs (a 0.1 s child
   once finished before a stalled process checked it was still running). */
static void *s1_main(void *arg)
{
    coio_task *t = coio_future_new();
    coio_future *s = coio_shield(t);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_ne(s, t);
    coio_task *a = coio_spawn(await_body, s);
    coio_task *k = coio_spawn(cancel_after, a);
    ck_assert_err(coio_await(a, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_int_eq(coio_future_cancelled(s), 1);
    ck_assert_int_eq(coio_task_done(t), 0);         /* x runs on, untouched */
    ck_assert_int_eq(coio_task_cancelling(t), 0);
    /* wait_for(shield(x), t): ETIMEDOUT, x still untouched; also with t = 0. */
    coio_future *s2 = coio_shield(t);
    ck_assert_err(coio_wait_for(s2, 0.02, NULL), ETIMEDOUT);
    coio_future *s3 = coio_shield(t);
    ck_assert_err(coio_wait_for(s3, 0, NULL), ETIMEDOUT);
    ck_assert_int_eq(coio_task_cancelling(t), 0);
    ck_assert_int_eq(coio_task_done(t), 0);
    ck_assert_int_eq(coio_future_set_result(t, (void *)5), 0);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t, &r), 0);
    ck_assert_ptr_eq(r, (void *)5);
    ck_assert_log(&ev, "cancel await:ECANCELED");
    coio_future_release(s);
    coio_future_release(s2);
    coio_future_release(s3);
    coio_task_release(t);
    coio_task_release(a);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_S1_cancelling_outer_leaves_inner_running)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(s1_main, NULL, NULL), 0);
}
END_TEST

static void *s2_main(void *arg)
{
    void *r = NULL;
    child x, y;
    child_init(&x, "x", 10, 1, 0);
    child_init(&y, "y", 0.01, 6, 0);
    coio_task *tx = spawn_child(&x), *ty = spawn_child(&y);
    coio_future *sx = coio_shield(tx), *sy = coio_shield(ty);
    coio_task *k = coio_spawn(cancel_after, tx); /* x cancelled by someone else */
    ck_assert_err(coio_await(sx, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_int_eq(coio_future_cancelled(sx), 1);
    ck_assert_int_eq(coio_await(sy, &r), 0); /* result copied */
    ck_assert_ptr_eq(r, (void *)6);
    /* An error with its message, from a future. */
    coio_future *f = coio_future_new();
    coio_future *sf = coio_shield(f);
    coio_future_set_error(f, ECONNRESET, "reset by peer");
    ck_assert_err(coio_await(sf, NULL), ECONNRESET);
    ck_assert_str_eq(coio_task_error_message(sf), "reset by peer");
    coio_future_release(sx);
    coio_future_release(sy);
    coio_future_release(sf);
    coio_future_release(f); /* its error moved to sf: retrieved */
    coio_task_release(tx);
    coio_task_release(ty);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_S2_inner_outcome_copied_to_outer)
{
    memset(&ev, 0, sizeof ev);
    capture_begin();
    int rc = run_main(s2_main, NULL, NULL);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(out[0] == 0, "unexpected report: %s", out);
}
END_TEST

static void *s3_main(void *arg)
{
    coio_future *f = coio_future_new();
    coio_future_set_result(f, (void *)2);
    coio_future *s = coio_shield(f);
    ck_assert_ptr_eq(s, f); /* itself, with a reference for the caller */
    coio_future_release(s);
    ck_assert_int_eq(coio_future_done(f), 1); /* still alive: our reference remains */
    coio_future_release(f);
    errno = 0;
    ck_assert_ptr_null(coio_shield(NULL));
    ck_assert_int_eq(errno, EINVAL);
    return NULL;
}

START_TEST(test_S3_done_inner_returned_itself)
{
    ck_assert_int_eq(run_main(s3_main, NULL, NULL), 0);
}
END_TEST

static void *s4_main(void *arg)
{
    /* Outer cancelled, then the inner fails: no never-retrieved report for it. */
    coio_future *f = coio_future_new();
    coio_future *s = coio_shield(f);
    coio_future_cancel(s);
    coio_future_set_error(f, EIO, NULL);
    coio_future_release(f);
    coio_future_release(s);
    /* Cancelling a gather of shields cancels the shields, not the children. */
    /* The children are futures completed after the cancel (0.06/0.08 s
       children could finish first on a stalled process). */
    coio_task *t[2] = {coio_future_new(), coio_future_new()};
    coio_future *sh[2] = {coio_shield(t[0]), coio_shield(t[1])};
    int codes[2];
    coio_task *gk = coio_spawn(cancel_after, coio_current_task());
    ck_assert_err(coio_gather(sh, 2, NULL, codes, 0), ECANCELED);
    coio_absorb_cancel();
    coio_uncancel();
    ck_assert_int_eq(codes[0], ECANCELED);
    ck_assert_int_eq(codes[1], ECANCELED);
    ck_assert_int_eq(coio_task_cancelling(t[0]), 0);
    ck_assert_int_eq(coio_task_cancelling(t[1]), 0);
    ck_assert(!coio_future_done(t[0]) && !coio_future_done(t[1]));
    ck_assert_int_eq(coio_future_set_result(t[0], (void *)1), 0);
    ck_assert_int_eq(coio_future_set_result(t[1], (void *)2), 0);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t[0], &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
    ck_assert_int_eq(coio_await(t[1], &r), 0);
    ck_assert_ptr_eq(r, (void *)2);
    release_all(sh, 2);
    release_all(t, 2);
    coio_task_release(gk);
    return NULL;
}

START_TEST(test_S4_cancelled_outer_retrieves_inner_error_gather_of_shields)
{
    memset(&ev, 0, sizeof ev);
    capture_begin();
    int rc = run_main(s4_main, NULL, NULL);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(out[0] == 0, "unexpected report: %s", out);
}
END_TEST

/* ======================================================================== */
/* as_completed                                                             */
/* ======================================================================== */

static void *ac1_main(void *arg)
{
    child c[3];
    child_init(&c[0], "a", 0.09, 0, 0);
    child_init(&c[1], "b", 0.03, 1, 0);
    child_init(&c[2], "c", 0.06, 2, EIO);
    coio_task *t[4] = {spawn_child(&c[0]), spawn_child(&c[1]), spawn_child(&c[2]),
                       coio_future_new()};
    coio_future_set_result(t[3], NULL); /* done before: yielded first */
    coio_as_completed *it = coio_as_completed_new(t, 4, -1);
    ck_assert_ptr_nonnull(it);
    coio_task *got = NULL;
    static const int order[4] = {3, 1, 2, 0};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
        ck_assert_ptr_eq(got, t[order[i]]); /* the very tasks, in completion order */
        ck_assert_int_eq(coio_task_done(got), 1);
    }
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    ck_assert_int_eq(coio_task_error(t[2]), EIO); /* errors are the caller's to fetch */
    coio_as_completed_free(it);
    release_all(t, 4);
    return NULL;
}

START_TEST(test_AC1_yields_tasks_in_completion_order)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(ac1_main, NULL, NULL), 0);
}
END_TEST

/* What completes when is set by the test itself, not by racing sleeps against
   the deadline (a stalled process once saw a's 0.01 s timer lose to the 0.05 s
   deadline): a is finished before the iterator exists, b and the d/e/f of the
   second part are plain futures completed at chosen points, c sleeps for 10 s. */
static void *ac2_main(void *arg)
{
    child ca, cc;
    child_init(&ca, "a", 0.01, 0, 0);
    child_init(&cc, "c", 10, 2, 0);
    coio_task *t[3] = {spawn_child(&ca), coio_future_new(), spawn_child(&cc)};
    ck_assert_int_eq(coio_await(t[0], NULL), 0);
    double t0 = now();
    coio_as_completed *it = coio_as_completed_new(t, 3, 0.05);
    coio_task *got = NULL;
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, t[0]);
    ck_assert_err(coio_as_completed_next(it, &got), ETIMEDOUT);
    ck_assert_time(now() - t0, 0.05, 1.0);
    ck_assert_int_eq(coio_future_set_result(t[1], (void *)1), 0); /* b finishes after the deadline */
    ck_assert_int_eq(coio_sleep(0.01), 0);                        /* its callbacks have run */
    ck_assert_err(coio_as_completed_next(it, &got), ETIMEDOUT); /* never yielded: one per task left */
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    ck_assert_int_eq(coio_task_cancelling(t[2]), 0); /* nothing was cancelled */
    ck_assert(!coio_task_done(t[2]));
    ck_assert(!coio_future_cancelled(t[1]));
    coio_as_completed_free(it);
    coio_cancel(t[2]);
    ck_assert_err(coio_await(t[2], NULL), ECANCELED);
    coio_absorb_cancel();

    /* Finished before the deadline but asked for later: still yielded first. */
    coio_task *u[3] = {coio_future_new(), coio_future_new(), coio_future_new()};
    it = coio_as_completed_new(u, 3, 0.05);
    ck_assert_int_eq(coio_future_set_result(u[0], NULL), 0); /* no suspension since new: */
    ck_assert_int_eq(coio_future_set_result(u[1], NULL), 0); /* both before the deadline */
    ck_assert_int_eq(coio_sleep(0.08), 0);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, u[0]);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, u[1]);
    ck_assert_err(coio_as_completed_next(it, &got), ETIMEDOUT);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    ck_assert(!coio_future_done(u[2])); /* not cancelled either */
    coio_as_completed_free(it);
    release_all(t, 3);
    release_all(u, 3);
    return arg;
}

START_TEST(test_AC2_timeout_each_step_cancels_nothing)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(ac2_main, NULL, NULL), 0);
}
END_TEST

static void *ac3_main(void *arg)
{
    coio_task *got = NULL;
    /* Empty: nothing to yield, at once. */
    coio_as_completed *it = coio_as_completed_new(NULL, 0, -1);
    ck_assert_ptr_nonnull(it);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    coio_as_completed_free(it);
    /* Duplicates collapse (more than 8 entries: the sorting path). */
    child c[3];
    coio_task *t[3];
    for (int i = 0; i < 3; i++) {
        child_init(&c[i], "x", 0.04 * (2 - i) + 0.01, i, 0);
        t[i] = spawn_child(&c[i]);
    }
    coio_task *aws[12];
    for (int i = 0; i < 12; i++)
        aws[i] = t[i % 3];
    it = coio_as_completed_new(aws, 12, -1);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, t[2]);
    /* Break off, do something else, resume where we left. */
    coio_sleep(0.1);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, t[1]);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, t[0]);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    coio_as_completed_free(it);
    coio_task *dup[2] = {t[0], t[0]};
    it = coio_as_completed_new(dup, 2, -1);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_int_eq(coio_as_completed_next(it, &got), 0);
    coio_as_completed_free(it);
    release_all(t, 3);
    return NULL;
}

START_TEST(test_AC3_duplicates_empty_and_resume)
{
    ck_assert_int_eq(run_main(ac3_main, NULL, NULL), 0);
}
END_TEST

typedef struct {
    coio_as_completed *it;
    int rc, err;
} ac_call;

static void *next_body(void *arg)
{
    ac_call *a = arg;
    coio_task *got = NULL;
    a->rc = coio_as_completed_next(a->it, &got);
    a->err = a->rc < 0 ? errno : 0;
    evlog_add(&ev, "next:%d:%s", a->rc, rcs(a->rc < 0 ? -1 : 0, a->err));
    coio_absorb_cancel();
    return NULL;
}

static void *ac_misc_main(void *arg)
{
    coio_future *f = coio_future_new();
    coio_task *withnull[2] = {f, NULL};
    errno = 0;
    ck_assert_ptr_null(coio_as_completed_new(withnull, 2, -1));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_as_completed_new(&f, 1, NAN));
    ck_assert_ptr_null(coio_as_completed_new(NULL, 1, -1));
    /* A second concurrent consumer: EBUSY; a cancelled consumer: ECANCELED, and the
       iterator stays usable. */
    coio_as_completed *it = coio_as_completed_new(&f, 1, -1);
    ac_call a = {it, 0, 0}, b = {it, 0, 0};
    coio_task *ta = coio_spawn(next_body, &a);
    coio_yield();
    coio_task *tb = coio_spawn(next_body, &b);
    coio_await(tb, NULL);
    ck_assert_int_eq(b.err, EBUSY);
    coio_cancel(ta);
    coio_await(ta, NULL);
    ck_assert_int_eq(a.err, ECANCELED);
    ck_assert_int_eq(coio_future_done(f), 0); /* the cancel was not forwarded */
    coio_future_set_result(f, NULL);
    coio_task *got = NULL;
    ck_assert_int_eq(coio_as_completed_next(it, &got), 1);
    ck_assert_ptr_eq(got, f);
    coio_as_completed_free(it);
    coio_task_release(ta);
    coio_task_release(tb);
    /* Freed while a task waits in next(): that task gets EBADF. */
    coio_future *g = coio_future_new();
    it = coio_as_completed_new(&g, 1, -1);
    ac_call c = {it, 0, 0};
    coio_task *tc = coio_spawn(next_body, &c);
    coio_yield();
    coio_as_completed_free(it);
    coio_await(tc, NULL);
    ck_assert_int_eq(c.err, EBADF);
    coio_task_release(tc);
    coio_future_cancel(g);
    coio_future_release(g);
    coio_future_release(f);
    char want[160];
    snprintf(want, sizeof want, "next:-1:%s next:-1:ECANCELED next:-1:%s", strerror(EBUSY),
             strerror(EBADF));
    ck_assert_log(&ev, want);
    return NULL;
}

START_TEST(test_as_completed_errors_and_misuse)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(ac_misc_main, NULL, NULL), 0);
    coio_task *got;
    errno = 0;
    ck_assert_int_eq(coio_as_completed_next(NULL, &got), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_as_completed_free(NULL);
}
END_TEST

/* ======================================================================== */
/* A loop closed under waiting tasks: nothing leaks (valgrind/ASan check)   */
/* ======================================================================== */

static coio_future *lc_f[12];

static void *lc_gather(void *arg)
{
    coio_gather(lc_f, 12, NULL, NULL, 0); /* more than 8: the allocating path */
    ck_abort_msg("resumed after the loop closed");
    return NULL;
}

static void *lc_wait(void *arg)
{
    coio_wait(lc_f, 3, 10, COIO_ALL_COMPLETED, NULL, NULL, NULL, NULL);
    ck_abort_msg("resumed after the loop closed");
    return NULL;
}

static void *lc_wait_for(void *arg)
{
    coio_wait_for(lc_f[0], 10, NULL);
    ck_abort_msg("resumed after the loop closed");
    return NULL;
}

static void *lc_next(void *arg)
{
    coio_as_completed_next(arg, NULL);
    ck_abort_msg("resumed after the loop closed");
    return NULL;
}

static void *lc_short(void *arg)
{
    coio_sleep(0.01);
    return NULL;
}

START_TEST(test_loop_closed_under_waiters_frees_everything)
{
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    for (int i = 0; i < 12; i++)
        lc_f[i] = coio_future_new();
    coio_as_completed *it = coio_as_completed_new(lc_f, 12, -1);
    coio_future *sh = coio_shield(lc_f[1]);
    coio_task *t[4] = {coio_spawn(lc_gather, NULL), coio_spawn(lc_wait, NULL),
                       coio_spawn(lc_wait_for, NULL), coio_spawn(lc_next, it)};
    coio_task *s = coio_spawn(lc_short, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, s, NULL), 0);
    capture_begin();
    ck_assert_int_eq(coio_loop_close(l), 0);
    const char *out = capture_end();
    ck_assert_msg(strstr(out, "Task was destroyed but it is pending"), "got: %s", out);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(coio_task_cancelled(t[i]), 1);
    release_all(t, 4);
    coio_task_release(s);
    coio_as_completed_free(it);
    coio_future_release(sh);
    /* The shield's link is completed by hand so that it lets go of both futures. */
    coio_future_set_result(lc_f[1], NULL);
    release_all(lc_f, 12);
    memset(lc_f, 0, sizeof lc_f); /* a reference still held anywhere is now a leak */
}
END_TEST

static Suite *wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("wait");
    tcase_add_test(tc, test_W1_done_pending_split_duplicates_errors_not_fetched);
    tcase_add_test(tc, test_W1_many_entries_with_duplicates);
    tcase_add_test(tc, test_W2_timeout_cancels_nothing);
    tcase_add_test(tc, test_W3_completion_at_timeout_instant_counts_as_done);
    tcase_add_test(tc, test_W4_first_completed);
    tcase_add_test(tc, test_W5_first_exception_ignores_cancelled);
    tcase_add_test(tc, test_W6_wait_bad_arguments);
    tcase_add_test(tc, test_W7_cancelling_waiter_leaves_tasks_running);
    suite_add_tcase(s, tc);
    tc = tcase_create("wait_for");
    tcase_add_test(tc, test_WF1_result_in_time_and_no_limit);
    tcase_add_test(tc, test_WF2_timeout_cancels_and_waits_for_real_end);
    tcase_add_test(tc, test_WF3_absorbed_cancel_value_or_other_error);
    tcase_add_test(tc, test_WF4_zero_timeout);
    tcase_add_test(tc, test_WF5_caller_cancel_forwards_and_propagates);
    tcase_add_test(tc, test_WF6_completion_timeout_race);
    tcase_add_test(tc, test_wait_for_bad_arguments);
    suite_add_tcase(s, tc);
    tc = tcase_create("shield");
    tcase_add_test(tc, test_S1_cancelling_outer_leaves_inner_running);
    tcase_add_test(tc, test_S2_inner_outcome_copied_to_outer);
    tcase_add_test(tc, test_S3_done_inner_returned_itself);
    tcase_add_test(tc, test_S4_cancelled_outer_retrieves_inner_error_gather_of_shields);
    suite_add_tcase(s, tc);
    tc = tcase_create("as_completed");
    tcase_add_test(tc, test_AC1_yields_tasks_in_completion_order);
    tcase_add_test(tc, test_AC2_timeout_each_step_cancels_nothing);
    tcase_add_test(tc, test_AC3_duplicates_empty_and_resume);
    tcase_add_test(tc, test_as_completed_errors_and_misuse);
    suite_add_tcase(s, tc);
    tc = tcase_create("loop_close");
    tcase_add_test(tc, test_loop_closed_under_waiters_frees_everything);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(wait_suite)
