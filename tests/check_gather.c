/* check_gather.c — Suite "gather": coio_gather against group G of ASYNCIO-SEMANTICS.md
 * and C-port decisions 10-12: argument order, duplicates, the first failure returned
 * while siblings run on, RETURN_EXCEPTIONS, cancellation broadcast and its races, and
 * the calls' own errors. */
#include "helpers.h"

#include <stdint.h>
#include <unistd.h>

static evlog ev;

/* ---- capturing stderr (fd 2) ------------------------------------------------------- */


/* ---- child bodies ------------------------------------------------------------------------- */

/* What a child does: sleep, then return value, fail with err, or (absorb >= 0) on a
   cancel sleep `absorb` seconds of cleanup and then return value anyway. */
typedef struct {
    const char *name;
    double delay;
    long value;
    int err;          /* fail with this after the delay (0: return value) */
    double absorb;    /* < 0: let a cancel end the task CANCELLED */
    int runs;         /* how often the body started */
    int cancelled;    /* saw ECANCELED */
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
        c->cancelled = 1;
        evlog_add(&ev, "%s:cancelled", c->name);
        if (c->absorb < 0)
            return NULL; /* ends CANCELLED */
        coio_absorb_cancel();
        coio_sleep(c->absorb);
        evlog_add(&ev, "%s:cleaned", c->name);
        if (c->err)
            coio_fail(c->err);
        return (void *)c->value;
    }
    evlog_add(&ev, "%s:done", c->name);
    if (c->err)
        coio_fail(c->err);
    return (void *)c->value;
}

static void release_all(coio_task **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        coio_task_release(t[i]);
}

/* ---- G1: argument order --------------------------------------------------------------------- */

static void *g1_main(void *arg)
{
    child c[3];
    child_init(&c[0], "a", 0.10, 1, 0);
    child_init(&c[1], "b", 0.02, 2, 0);
    child_init(&c[2], "c", 0.15, 3, 0);
    coio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = coio_spawn(child_body, &c[i]);
    void *res[3] = {0};
    int codes[3] = {-1, -1, -1};
    double t0 = now();
    ck_assert_int_eq(coio_gather(t, 3, res, codes, 0), 0);
    ck_assert_time(now() - t0, 0.15, 1.5);
    ck_assert_log(&ev, "b:done a:done c:done"); /* completion order b, a, c */
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_eq(res[i], (void *)(intptr_t)(i + 1)); /* results in argument order */
        ck_assert_int_eq(codes[i], 0);
    }
    release_all(t, 3);
    return NULL;
}

static void set_10(void *arg) { coio_future_set_result(arg, (void *)10); }

/* Plain futures too; results and codes may be NULL. */
static void *g1_futures_main(void *arg)
{
    coio_future *f[2] = {coio_future_new(), coio_future_new()};
    coio_future_set_result(f[1], (void *)20);
    ck_assert_ptr_nonnull(coio_call_later(coio_loop_current(), 0.02, set_10, f[0]));
    void *res[2] = {0};
    ck_assert_int_eq(coio_gather(f, 2, res, NULL, 0), 0);
    ck_assert_ptr_eq(res[0], (void *)10);
    ck_assert_ptr_eq(res[1], (void *)20);
    ck_assert_int_eq(coio_gather(f, 2, NULL, NULL, 0), 0);
    release_all(f, 2);
    return NULL;
}

START_TEST(test_G1_results_in_argument_order)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g1_main, NULL, NULL), 0);
    ck_assert_int_eq(run_main(g1_futures_main, NULL, NULL), 0);
}
END_TEST

/* ---- G2: nothing to gather ---------------------------------------------------------------- */

static void *log_ran(void *arg)
{
    evlog_add(&ev, "ran");
    return NULL;
}

static void *g2_main(void *arg)
{
    coio_task *t = coio_spawn(log_ran, NULL);
    ck_assert_int_eq(coio_gather(NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(coio_gather(NULL, 0, NULL, NULL, COIO_RETURN_EXCEPTIONS), 0);
    ck_assert_log(&ev, ""); /* returned at once, nothing else ran */
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_G2_empty_gather_returns_at_once)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g2_main, NULL, NULL), 0);
}
END_TEST

/* ---- G3: duplicates -------------------------------------------------------------------------- */

static void *g3_main(void *arg)
{
    child a, b;
    child_init(&a, "a", 0.01, 7, 0);
    child_init(&b, "b", 0.02, 8, 0);
    coio_task *ta = coio_spawn(child_body, &a), *tb = coio_spawn(child_body, &b);
    coio_task *aws[3] = {ta, ta, tb};
    void *res[3];
    ck_assert_int_eq(coio_gather(aws, 3, res, NULL, 0), 0);
    ck_assert_ptr_eq(res[0], (void *)7);
    ck_assert_ptr_eq(res[1], (void *)7);
    ck_assert_ptr_eq(res[2], (void *)8);
    ck_assert_int_eq(a.runs, 1);

    /* More than 8 entries (the allocating path), duplicates and a failure included. */
    child c[5];
    coio_task *t[5];
    for (int i = 0; i < 5; i++) {
        child_init(&c[i], "c", 0.005 * (5 - i), 100 + i, i == 2 ? EBADMSG : 0);
        t[i] = coio_spawn(child_body, &c[i]);
    }
    coio_task *many[20];
    void *mres[20];
    int mcodes[20];
    for (int i = 0; i < 20; i++)
        many[i] = t[(i * 3) % 5];
    ck_assert_int_eq(coio_gather(many, 20, mres, mcodes, COIO_RETURN_EXCEPTIONS), 0);
    for (int i = 0; i < 20; i++) {
        int k = (i * 3) % 5;
        ck_assert_int_eq(mcodes[i], k == 2 ? EBADMSG : 0);
        ck_assert_ptr_eq(mres[i], k == 2 ? NULL : (void *)(intptr_t)(100 + k));
    }
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(c[i].runs, 1);
    release_all(t, 5);
    coio_task_release(ta);
    coio_task_release(tb);
    return NULL;
}

START_TEST(test_G3_duplicate_runs_once_fills_every_position)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g3_main, NULL, NULL), 0);
}
END_TEST

/* ---- G4: first failure returned at once, siblings keep running ------------------------------- */

static void *g4_main(void *arg)
{
    child a, b, c;
    child_init(&b, "b", 0.3, 2, 0);
    child_init(&a, "a", 0.03, 0, EIO);
    child_init(&c, "c", 0.2, 0, ENOSPC);
    coio_task *t[3] = {coio_spawn(child_body, &b), coio_spawn(child_body, &a),
                       coio_spawn(child_body, &c)};
    void *res[3] = {(void *)1, (void *)1, (void *)1};
    int codes[3] = {-1, -1, -1};
    double t0 = now();
    ck_assert_err(coio_gather(t, 3, res, codes, 0), EIO);
    ck_assert_time(now() - t0, 0.03, 0.15);
    ck_assert_int_eq(coio_cancelling(), 0);
    ck_assert_int_eq(coio_absorb_cancel(), 0); /* a failure is not a cancel */
    /* The others are still running and were not cancelled. */
    ck_assert_int_eq(codes[0], EAGAIN);
    ck_assert_int_eq(codes[1], EIO);
    ck_assert_int_eq(codes[2], EAGAIN);
    ck_assert_ptr_null(res[0]);
    ck_assert_ptr_null(res[1]);
    ck_assert_int_eq(coio_task_done(t[0]), 0);
    ck_assert_int_eq(coio_task_cancelling(t[0]), 0);
    ck_assert_int_eq(coio_task_cancelling(t[2]), 0);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t[0], &r), 0);
    ck_assert_ptr_eq(r, (void *)2);
    ck_assert_int_eq(coio_task_state(t[2]), COIO_FAILED);
    ck_assert_log(&ev, "a:done c:done b:done");
    release_all(t, 3); /* c's later error was marked retrieved by the gather */
    return NULL;
}

START_TEST(test_G4_first_error_returns_siblings_keep_running)
{
    memset(&ev, 0, sizeof ev);
    capture_begin();
    int rc = run_main(g4_main, NULL, NULL);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(out[0] == 0, "unexpected report: %s", out);
}
END_TEST

/* An already failed child: returned without suspending (no cancellation point). */
static void *g4_done_main(void *arg)
{
    coio_future *f[3] = {coio_future_new(), coio_future_new(), coio_future_new()};
    coio_future_set_error(f[1], ENOENT, NULL);
    coio_future_set_error(f[2], EPERM, NULL);
    coio_cancel(coio_current_task()); /* pending: would be delivered at a suspension */
    int codes[3];
    ck_assert_err(coio_gather(f, 3, NULL, codes, 0), ENOENT); /* argument order */
    ck_assert_int_eq(codes[0], EAGAIN);
    ck_assert_int_eq(codes[2], EPERM);
    ck_assert_err(coio_yield(), ECANCELED); /* the cancel was still pending */
    coio_absorb_cancel();
    coio_uncancel();
    coio_future_set_result(f[0], NULL);
    release_all(f, 3);
    return (void *)1;
}

START_TEST(test_G4_already_failed_child_returns_without_suspending)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(g4_done_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
}
END_TEST

/* ---- G5: a cancelled child ------------------------------------------------------------------- */

typedef struct {
    coio_task **aws;
    size_t n;
    int flags;
    int absorb;   /* the gathering task absorbs an ECANCELED */
    int rc, err;
    int codes[16];
    void *res[16];
    double took;
} gatherer;

static void *gather_body(void *arg)
{
    gatherer *g = arg;
    double t0 = now();
    g->rc = coio_gather(g->aws, g->n, g->res, g->codes, g->flags);
    g->err = g->rc < 0 ? errno : 0;
    g->took = now() - t0;
    const char *what = g->rc == 0 ? "ok" : g->err == ECANCELED ? "ECANCELED" : "err";
    evlog_add(&ev, "gather:%d:%s", g->rc, what);
    if (g->absorb)
        ck_assert_int_eq(coio_absorb_cancel(), g->err == ECANCELED);
    return (void *)5;
}

static void *cancel_later(void *arg)
{
    coio_sleep(0.02);
    evlog_add(&ev, "cancel");
    ck_assert_int_eq(coio_cancel(arg), 1);
    return NULL;
}

static void *g5_main(void *arg)
{
    for (int absorb = 0; absorb < 2; absorb++) {
        memset(&ev, 0, sizeof ev);
        /* The sibling is a plain future completed by the test: a 0.1 s child
           could finish before the gather saw a's cancel on a stalled process. */
        child a;
        child_init(&a, "a", 10, 1, 0);
        coio_task *t[2] = {coio_spawn(child_body, &a), coio_future_new()};
        gatherer g = {.aws = t, .n = 2, .absorb = absorb};
        coio_task *gt = coio_spawn(gather_body, &g);
        coio_task *k = coio_spawn(cancel_later, t[0]);
        void *r = NULL;
        int rc = coio_await(gt, &r);
        ck_assert_int_eq(g.rc, -1);
        ck_assert_int_eq(g.err, ECANCELED);
        ck_assert_time(g.took, 0.02, 1.0);
        ck_assert_int_eq(g.codes[0], ECANCELED);
        ck_assert_int_eq(g.codes[1], EAGAIN);
        ck_assert_int_eq(coio_task_cancelling(gt), 0); /* the gather was not cancelled */
        if (absorb) {
            ck_assert_int_eq(rc, 0); /* the ECANCELED was caught: the task goes on */
            ck_assert_ptr_eq(r, (void *)5);
        } else {
            ck_assert_int_eq(rc, -1); /* it propagated: the task ended cancelled (T11) */
            ck_assert_int_eq(coio_task_cancelled(gt), 1);
            coio_absorb_cancel();
        }
        /* The sibling is untouched and finishes normally. */
        ck_assert_int_eq(coio_task_cancelling(t[1]), 0);
        ck_assert(!coio_future_done(t[1]));
        ck_assert_int_eq(coio_future_set_result(t[1], (void *)2), 0);
        ck_assert_int_eq(coio_await(t[1], &r), 0);
        ck_assert_ptr_eq(r, (void *)2);
        ck_assert_log(&ev, "cancel a:cancelled gather:-1:ECANCELED");
        release_all(t, 2);
        coio_task_release(gt);
        coio_task_release(k);
    }
    return NULL;
}

START_TEST(test_G5_cancelled_child_ecanceled_siblings_untouched)
{
    ck_assert_int_eq(run_main(g5_main, NULL, NULL), 0);
}
END_TEST

/* ---- G6: RETURN_EXCEPTIONS ------------------------------------------------------------------- */

static void *g6_main(void *arg)
{
    child a, b, c;
    child_init(&a, "a", 0.02, 0, EIO);
    child_init(&b, "b", 10, 0, 0);
    child_init(&c, "c", 0.08, 3, 0);
    coio_task *t[3] = {coio_spawn(child_body, &a), coio_spawn(child_body, &b),
                       coio_spawn(child_body, &c)};
    coio_task *k = coio_spawn(cancel_later, t[1]);
    void *res[3] = {(void *)1, (void *)1, (void *)1};
    int codes[3] = {-1, -1, -1};
    double t0 = now();
    ck_assert_int_eq(coio_gather(t, 3, res, codes, COIO_RETURN_EXCEPTIONS), 0);
    ck_assert_time(now() - t0, 0.08, 0.5);
    ck_assert_int_eq(codes[0], EIO);
    ck_assert_int_eq(codes[1], ECANCELED);
    ck_assert_int_eq(codes[2], 0);
    ck_assert_ptr_null(res[0]);
    ck_assert_ptr_null(res[1]);
    ck_assert_ptr_eq(res[2], (void *)3);
    ck_assert_int_eq(coio_absorb_cancel(), 0); /* a cancelled child is just a value here */
    ck_assert_log(&ev, "a:done cancel b:cancelled c:done");
    release_all(t, 3); /* a's error was reported through codes: retrieved */
    coio_task_release(k);
    return NULL;
}

START_TEST(test_G6_return_exceptions_waits_for_all)
{
    memset(&ev, 0, sizeof ev);
    capture_begin();
    int rc = run_main(g6_main, NULL, NULL);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(out[0] == 0, "unexpected report: %s", out);
}
END_TEST

/* ---- G7: cancelling the gathering task ------------------------------------------------------- */

static void *g7_main(void *arg)
{
    int flags = (int)(intptr_t)arg;
    child a, b, c;
    child_init(&a, "a", 10, 1, 0);
    child_init(&b, "b", 10, 2, 0);
    b.absorb = 0.05; /* swallows the cancel, cleans up, returns 2 */
    child_init(&c, "c", 0, 3, 0);
    coio_task *t[3] = {coio_spawn(child_body, &a), coio_spawn(child_body, &b),
                       coio_spawn(child_body, &c)};
    coio_yield();
    coio_yield(); /* c is done before the gather starts */
    ck_assert_int_eq(coio_task_done(t[2]), 1);
    gatherer g = {.aws = t, .n = 3, .flags = flags};
    coio_task *gt = coio_spawn(gather_body, &g);
    coio_task *k = coio_spawn(cancel_later, gt);
    ck_assert_err(coio_await(gt, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_int_eq(coio_task_cancelled(gt), 1); /* the gatherer did not absorb */
    ck_assert_int_eq(g.err, ECANCELED);
    ck_assert_time(g.took, 0.07, 0.5); /* waited for b's cleanup */
    ck_assert_int_eq(coio_task_cancelled(t[0]), 1);
    ck_assert_int_eq(coio_task_state(t[1]), COIO_FINISHED);
    ck_assert_int_eq(g.codes[0], ECANCELED);
    ck_assert_int_eq(g.codes[1], 0);
    ck_assert_ptr_eq(g.res[1], (void *)2);
    ck_assert_int_eq(g.codes[2], 0);
    ck_assert_int_eq(coio_task_cancelling(t[2]), 0); /* done children are left alone */
    ck_assert_log(&ev, "c:done cancel a:cancelled b:cancelled b:cleaned gather:-1:ECANCELED");
    release_all(t, 3);
    coio_task_release(gt);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_G7_cancel_broadcast_waits_for_children)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g7_main, (void *)0, NULL), 0);
}
END_TEST

START_TEST(test_G7_cancel_with_return_exceptions_still_ecanceled)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g7_main, (void *)COIO_RETURN_EXCEPTIONS, NULL), 0);
}
END_TEST

/* Every child swallows the cancel: still ECANCELED (bpo-32684); more than 8 children and
   a plain future among them (cancelled, and so done, at once). */
static void *g7_all_absorb_main(void *arg)
{
    child c[10];
    coio_task *t[11];
    for (int i = 0; i < 10; i++) {
        child_init(&c[i], "x", 10, i, 0);
        c[i].absorb = 0.001 * i;
        t[i] = coio_spawn(child_body, &c[i]);
    }
    t[10] = coio_future_new();
    gatherer g = {.aws = t, .n = 11, .flags = COIO_RETURN_EXCEPTIONS, .absorb = 1};
    coio_task *gt = coio_spawn(gather_body, &g);
    coio_task *k = coio_spawn(cancel_later, gt);
    void *r = NULL;
    ck_assert_int_eq(coio_await(gt, &r), 0); /* the gatherer absorbed */
    ck_assert_ptr_eq(r, (void *)5);
    ck_assert_int_eq(g.err, ECANCELED);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(g.codes[i], 0);
        ck_assert_ptr_eq(g.res[i], (void *)(intptr_t)i);
        ck_assert_int_eq(c[i].cancelled, 1);
    }
    ck_assert_int_eq(g.codes[10], ECANCELED);
    ck_assert_int_eq(coio_future_cancelled(t[10]), 1);
    release_all(t, 11);
    coio_task_release(gt);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_G7_all_children_absorb_still_ecanceled)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g7_all_absorb_main, NULL, NULL), 0);
}
END_TEST

/* A cancel requested before the gather suspends is delivered by cancelling the children. */
static void *g7_pending_main(void *arg)
{
    child a;
    child_init(&a, "a", 10, 1, 0);
    coio_task *t = coio_spawn(child_body, &a);
    coio_future *f = coio_future_new();
    coio_task *aws[2] = {t, f};
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_err(coio_gather(aws, 2, NULL, NULL, 0), ECANCELED);
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_int_eq(a.runs, 0); /* cancelled before it first ran (T6) */
    ck_assert_int_eq(coio_future_cancelled(f), 1);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_int_eq(coio_uncancel(), 0);
    coio_task_release(t);
    coio_future_release(f);
    return NULL;
}

START_TEST(test_G7_cancel_pending_when_gather_starts)
{
    ck_assert_int_eq(run_main(g7_pending_main, NULL, NULL), 0);
}
END_TEST

/* ---- G8: a cancel after the gather completed touches no child -------------------------------- */

typedef struct {
    coio_future *f;
    coio_task *gt;
} g8_ctx;

/* The sibling runs until the test opens its gate (after the gather has
   returned), so the order below does not depend on timers racing. */
static coio_event g8_gate;

static void *g8_sibling(void *arg)
{
    (void)arg;
    coio_event_wait(&g8_gate);
    evlog_add(&ev, "s:done");
    return (void *)9;
}

static void *g8_killer(void *arg)
{
    g8_ctx *x = arg;
    coio_sleep(0); /* spawned after the gatherer: it is parked in the gather by now */
    coio_future_set_error(x->f, EIO, NULL); /* completes the gather: the gatherer is queued */
    ck_assert_int_eq(coio_cancel(x->gt), 1); /* ... and cancelled before it resumes */
    evlog_add(&ev, "killed");
    return NULL;
}

static void *g8_main(void *arg)
{
    coio_event_init(&g8_gate);
    coio_task *t[2] = {coio_future_new(), coio_spawn(g8_sibling, NULL)};
    gatherer g = {.aws = t, .n = 2, .absorb = 1};
    coio_task *gt = coio_spawn(gather_body, &g);
    g8_ctx x = {t[0], gt};
    coio_task *k = coio_spawn(g8_killer, &x);
    ck_assert_int_eq(coio_await(gt, NULL), 0);
    ck_assert_int_eq(g.err, ECANCELED); /* the cancel wins over the completed gather */
    ck_assert_int_eq(g.codes[0], EIO);
    ck_assert_int_eq(coio_task_cancelling(t[1]), 0); /* the sibling was not touched */
    ck_assert_int_eq(coio_cancel(gt), 0);
    ck_assert_int_eq(coio_future_done(t[1]), 0);
    coio_event_set(&g8_gate);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t[1], &r), 0);
    ck_assert_ptr_eq(r, (void *)9);
    ck_assert_log(&ev, "killed gather:-1:ECANCELED s:done");
    release_all(t, 2);
    coio_task_release(gt);
    coio_task_release(k);
    return NULL;
}

START_TEST(test_G8_cancel_after_completion_leaves_siblings)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(g8_main, NULL, NULL), 0);
}
END_TEST

/* ---- the calls' own errors ------------------------------------------------------------------- */

static void *bad_args_main(void *arg)
{
    coio_future *f = coio_future_new();
    coio_task *self = coio_current_task();
    coio_task *withnull[2] = {f, NULL};
    coio_task *withself[2] = {f, self};
    ck_assert_err(coio_gather(NULL, 1, NULL, NULL, 0), EINVAL);
    ck_assert_err(coio_gather(withnull, 2, NULL, NULL, 0), EINVAL);
    ck_assert_err(coio_gather(withself, 2, NULL, NULL, 0), EDEADLK);
    ck_assert_err(coio_gather(&f, 1, NULL, NULL, 8), EINVAL);
    /* A task of another loop. */
    coio_loop *other = coio_loop_new();
    ck_assert_ptr_nonnull(other);
    coio_task *foreign = coio_loop_spawn(other, NULL, log_ran, NULL);
    ck_assert_err(coio_gather(&foreign, 1, NULL, NULL, 0), EINVAL);
    coio_task_release(foreign);
    ck_assert_int_eq(coio_loop_close(other), 0);
    ck_assert_int_eq(coio_future_done(f), 0); /* nothing was touched */
    coio_future_release(f);
    return NULL;
}

START_TEST(test_gather_bad_arguments)
{
    coio_task *none[1] = {NULL};
    ck_assert_err(coio_gather(none, 0, NULL, NULL, 0), EINVAL); /* not in a task */
    capture_begin(); /* closing the other loop reports its pending task */
    int rc = run_main(bad_args_main, NULL, NULL);
    capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_log(&ev, "");
}
END_TEST

static Suite *gather_suite(void)
{
    Suite *s = suite_create("gather");
    TCase *tc = tcase_create("gather");
    tcase_add_test(tc, test_G1_results_in_argument_order);
    tcase_add_test(tc, test_G2_empty_gather_returns_at_once);
    tcase_add_test(tc, test_G3_duplicate_runs_once_fills_every_position);
    tcase_add_test(tc, test_G4_first_error_returns_siblings_keep_running);
    tcase_add_test(tc, test_G4_already_failed_child_returns_without_suspending);
    tcase_add_test(tc, test_G5_cancelled_child_ecanceled_siblings_untouched);
    tcase_add_test(tc, test_G6_return_exceptions_waits_for_all);
    tcase_add_test(tc, test_G7_cancel_broadcast_waits_for_children);
    tcase_add_test(tc, test_G7_cancel_with_return_exceptions_still_ecanceled);
    tcase_add_test(tc, test_G7_all_children_absorb_still_ecanceled);
    tcase_add_test(tc, test_G7_cancel_pending_when_gather_starts);
    tcase_add_test(tc, test_G8_cancel_after_completion_leaves_siblings);
    tcase_add_test(tc, test_gather_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(gather_suite)
