/* check_future.c — Suite "future": plain futures completed by hand (group F of
 * ASYNCIO-SEMANTICS.md): one completion only (EALREADY afterwards), awaiting from one
 * task while another completes, cancel, done-callbacks, the never-retrieved report, and
 * the short-name await on a future. */
#include "helpers.h"

#include <stdint.h>
#include <unistd.h>

static evlog ev;

/* ---- capturing stderr (fd 2) ------------------------------------------------------- */


/* ---- F1: one completion ---------------------------------------------------------------- */

static void *ret_arg(void *arg) { return arg; }

static void *f1_main(void *arg)
{
    void *r = NULL;
    coio_future *f = coio_future_new();
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(coio_task_name(f), "Future-1");
    ck_assert_int_eq(coio_task_state(f), COIO_PENDING);
    ck_assert_int_eq(coio_future_done(f), 0);
    ck_assert_err(coio_future_result(f, &r), EAGAIN);
    ck_assert_err(coio_task_error(f), EAGAIN);
    ck_assert_int_eq(coio_future_set_result(f, (void *)5), 0);
    ck_assert_int_eq(coio_task_state(f), COIO_FINISHED);
    ck_assert_err(coio_future_set_result(f, (void *)6), EALREADY);
    ck_assert_err(coio_future_set_error(f, EIO, NULL), EALREADY);
    ck_assert_int_eq(coio_future_cancel(f), 0);
    ck_assert_int_eq(coio_future_cancelled(f), 0);
    ck_assert_int_eq(coio_future_result(f, &r), 0);
    ck_assert_ptr_eq(r, (void *)5);

    coio_future *g = coio_future_new();
    ck_assert_err(coio_future_set_error(g, 0, NULL), EINVAL);
    ck_assert_err(coio_future_set_error(g, -3, NULL), EINVAL);
    ck_assert_int_eq(coio_task_state(g), COIO_PENDING);
    ck_assert_int_eq(coio_future_set_error(g, ENOENT, "gone"), 0);
    ck_assert_int_eq(coio_task_state(g), COIO_FAILED);
    ck_assert_err(coio_future_set_result(g, NULL), EALREADY);
    ck_assert_err(coio_future_result(g, &r), ENOENT);
    ck_assert_int_eq(coio_task_error(g), ENOENT);
    ck_assert_str_eq(coio_task_error_message(g), "gone");

    coio_future *h = coio_future_new();
    ck_assert_int_eq(coio_future_cancel(h), 1);
    ck_assert_int_eq(coio_future_cancelled(h), 1);
    ck_assert_int_eq(coio_future_cancel(h), 0); /* done: False, changes nothing */
    ck_assert_err(coio_future_set_result(h, NULL), EALREADY);
    ck_assert_err(coio_future_result(h, &r), ECANCELED);

    /* Not futures: a task (T14), NULL. */
    coio_task *t = coio_spawn(ret_arg, NULL);
    ck_assert_err(coio_future_set_result(t, NULL), EINVAL);
    ck_assert_err(coio_future_set_error(t, EIO, NULL), EINVAL);
    ck_assert_err(coio_future_set_result(NULL, NULL), EINVAL);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    coio_future_release(f);
    coio_future_release(g);
    coio_future_release(h);
    return NULL;
}

START_TEST(test_F1_one_completion_then_ealready)
{
    ck_assert_int_eq(run_main(f1_main, NULL, NULL), 0);
    /* No loop: EINVAL. */
    errno = 0;
    ck_assert_ptr_null(coio_future_new());
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ---- F2: done-callbacks ------------------------------------------------------------------ */

static void cb_log(coio_future *f, void *arg)
{
    void *r = NULL;
    int rc = coio_future_result(f, &r);
    evlog_add(&ev, "%s:%d:%ld", (const char *)arg, rc, (long)(intptr_t)r);
}

static void *f2_main(void *arg)
{
    coio_future *f = coio_future_new();
    ck_assert_int_eq(coio_future_add_done_callback(f, cb_log, "a"), 0);
    ck_assert_int_eq(coio_future_add_done_callback(f, cb_log, "b"), 0);
    ck_assert_int_eq(coio_future_add_done_callback(f, cb_log, "x"), 0);
    ck_assert_int_eq(coio_future_add_done_callback(f, cb_log, "c"), 0);
    ck_assert_int_eq(coio_future_add_done_callback(f, cb_log, "x"), 0);
    ck_assert_int_eq(coio_future_remove_done_callback(f, cb_log, "x"), 2);
    ck_assert_int_eq(coio_future_remove_done_callback(f, cb_log, "x"), 0);
    ck_assert_int_eq(coio_future_set_result(f, (void *)3), 0);
    evlog_add(&ev, "set");                  /* never synchronous */
    ck_assert_int_eq(coio_future_add_done_callback(f, cb_log, "late"), 0);
    evlog_add(&ev, "added");                /* not even on a done future */
    ck_assert_int_eq(coio_yield(), 0);
    ck_assert_log(&ev, "set added a:0:3 b:0:3 c:0:3 late:0:3");
    ck_assert_err(coio_future_add_done_callback(f, NULL, NULL), EINVAL);
    ck_assert_err(coio_future_add_done_callback(NULL, cb_log, NULL), EINVAL);
    coio_future_release(f); /* the callbacks held their own references meanwhile */
    return NULL;
}

START_TEST(test_F2_future_done_callbacks_scheduled_in_order)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(f2_main, NULL, NULL), 0);
}
END_TEST

/* ---- F3: await ------------------------------------------------------------------------------- */

typedef struct {
    coio_future *f;
    double delay;
    int mode;  /* 0 set_result, 1 set_error, 2 cancel */
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    coio_sleep(p->delay);
    evlog_add(&ev, "produce");
    if (p->mode == 0)
        ck_assert_int_eq(coio_future_set_result(p->f, (void *)42), 0);
    else if (p->mode == 1)
        ck_assert_int_eq(coio_future_set_error(p->f, EPROTO, "bad frame"), 0);
    else
        ck_assert_int_eq(coio_cancel_msg(p->f, "stop"), 1);
    evlog_add(&ev, "produced");
    return NULL;
}

static void *consume(void *arg)
{
    void *r = NULL;
    int rc = coio_future_await(arg, &r);
    int e = rc < 0 ? errno : 0;
    evlog_add(&ev, "consumed:%d:%d:%ld", rc, e, (long)(intptr_t)r);
    coio_absorb_cancel();
    return r;
}

static void *f3_main(void *arg)
{
    for (int mode = 0; mode < 3; mode++) {
        memset(&ev, 0, sizeof ev);
        producer p = {coio_future_new(), 0.05, mode};
        double t0 = now();
        coio_task *c = coio_spawn(consume, p.f);
        coio_task *q = coio_spawn(produce, &p);
        ck_assert_int_eq(coio_await(c, NULL), 0);
        ck_assert_time(now() - t0, 0.05, 1.0);
        ck_assert_int_eq(coio_await(q, NULL), 0);
        /* The consumer resumes after the producer's step: completion only queues it. */
        char want[64];
        if (mode == 0)
            snprintf(want, sizeof want, "produce produced consumed:0:0:42");
        else
            snprintf(want, sizeof want, "produce produced consumed:-1:%d:0",
                     mode == 1 ? EPROTO : ECANCELED);
        ck_assert_log(&ev, want);
        if (mode == 2)
            ck_assert_str_eq(coio_task_cancel_message(p.f), "stop");
        coio_task_release(c);
        coio_task_release(q);
        coio_future_release(p.f);
    }
    /* A done future: no suspension, the result at once. */
    coio_future *d = coio_future_new();
    coio_future_set_result(d, (void *)7);
    ck_assert_ptr_eq(coio_await_value(d), (void *)7);
    coio_future_release(d);
    return NULL;
}

START_TEST(test_F3_awaited_by_one_task_completed_by_another)
{
    ck_assert_int_eq(run_main(f3_main, NULL, NULL), 0);
}
END_TEST

/* Several awaiters on one future: all woken, in the order they started waiting. */
typedef struct {
    coio_future *f;
    const char *name;
} named;

static void *waiter_named(void *arg)
{
    named *w = arg;
    void *r = NULL;
    int rc = coio_await(w->f, &r);
    evlog_add(&ev, "%s:%d:%ld", w->name, rc, (long)(intptr_t)r);
    return NULL;
}

static void *f3_many_main(void *arg)
{
    coio_future *f = coio_future_new();
    named args[3] = {{f, "a"}, {f, "b"}, {f, "c"}};
    coio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = coio_spawn(waiter_named, &args[i]);
    coio_yield();
    ck_assert_log(&ev, "");
    coio_future_set_result(f, (void *)1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(coio_await(t[i], NULL), 0);
        coio_task_release(t[i]);
    }
    ck_assert_log(&ev, "a:0:1 b:0:1 c:0:1");
    coio_future_release(f);
    return NULL;
}

START_TEST(test_F3_several_awaiters_woken_in_order)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(f3_many_main, NULL, NULL), 0);
}
END_TEST

/* Cancelling the task awaiting a future cancels the future (asyncio forwards to the
   fut_waiter); the awaiter ends cancelled unless it absorbs. */
static void *await_plain(void *arg)
{
    int rc = coio_await(arg, NULL);
    evlog_add(&ev, "await:%d:%d", rc, rc < 0 ? errno : 0);
    return NULL;
}

static void *f3_cancel_main(void *arg)
{
    coio_future *f = coio_future_new();
    coio_task *t = coio_spawn(await_plain, f);
    coio_yield();
    ck_assert_int_eq(coio_cancel_msg(t, "bye"), 1);
    ck_assert_int_eq(coio_future_cancelled(f), 1); /* at once: a future has no body */
    ck_assert_str_eq(coio_task_cancel_message(f), "bye");
    ck_assert_err(coio_await(t, NULL), ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    char want[32];
    snprintf(want, sizeof want, "await:-1:%d", ECANCELED);
    ck_assert_log(&ev, want);
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_err(coio_future_set_result(f, NULL), EALREADY); /* producer comes too late */
    coio_task_release(t);
    coio_future_release(f);
    return NULL;
}

START_TEST(test_F3_cancel_awaiter_cancels_future)
{
    memset(&ev, 0, sizeof ev);
    ck_assert_int_eq(run_main(f3_cancel_main, NULL, NULL), 0);
}
END_TEST

/* ---- F4: never-retrieved report ------------------------------------------------------------ */

static void *f4_main(void *arg)
{
    int which = (int)(intptr_t)arg;
    coio_future *f = coio_future_new();
    coio_task_set_name(f, "probe");
    coio_future_set_error(f, EPIPE, "peer went away");
    if (which == 1)
        coio_future_result(f, NULL);        /* fetched */
    else if (which == 2)
        ck_assert_int_eq(coio_future_cancel(f), 0); /* cancel() on the done future */
    else if (which == 3)
        ck_assert_int_eq(coio_task_error(f), EPIPE);
    else if (which == 4)
        ck_assert_err(coio_await(f, NULL), EPIPE);
    coio_future_release(f);
    coio_future *ok = coio_future_new();
    coio_future_set_result(ok, (void *)1);  /* results are never reported */
    coio_future_release(ok);
    coio_future *c = coio_future_new();
    coio_future_cancel(c);                  /* nor cancellations */
    coio_future_release(c);
    return NULL;
}

START_TEST(test_F4_never_retrieved_future_reported)
{
    capture_begin();
    ck_assert_int_eq(run_main(f4_main, (void *)0, NULL), 0);
    const char *out = capture_end();
    ck_assert_msg(strstr(out, "Future exception was never retrieved") != NULL, "got: %s", out);
    ck_assert_msg(strstr(out, "'probe'") && strstr(out, "peer went away"), "got: %s", out);
    ck_assert_msg(strstr(out, "\n") == strrchr(out, '\n'), "one line only: %s", out);
}
END_TEST

START_TEST(test_F4_retrieved_or_cancelled_not_reported)
{
    for (int which = 1; which <= 4; which++) {
        capture_begin();
        ck_assert_int_eq(run_main(f4_main, (void *)(intptr_t)which, NULL), 0);
        const char *out = capture_end();
        ck_assert_msg(out[0] == 0, "case %d printed: %s", which, out);
    }
}
END_TEST

/* ---- the short-name await works on futures (the same type as tasks) --------------------- */

#define COIO_SHORT_NAMES
#include "coio.h"

static void *complete_later(void *arg)
{
    coio_sleep(0.01);
    coio_future_set_result(arg, (void *)99);
    return NULL;
}

static void *short_main(void *arg)
{
    coio_future *f = coio_future_new();
    coio_task *t = async(complete_later, f);
    void *r = await(f);
    ck_assert_ptr_eq(r, (void *)99);
    ck_assert_ptr_null(await(t));
    coio_future *g = coio_future_new();
    coio_future_set_error(g, ENOSPC, NULL);
    errno = 0;
    ck_assert_ptr_null(await(g));
    ck_assert_int_eq(errno, ENOSPC);
    coio_task_release(t);
    coio_future_release(f);
    coio_future_release(g);
    return NULL;
}

START_TEST(test_short_name_await_on_future)
{
    ck_assert_int_eq(run_main(short_main, NULL, NULL), 0);
}
END_TEST

static Suite *future_suite(void)
{
    Suite *s = suite_create("future");
    TCase *tc = tcase_create("future");
    tcase_add_test(tc, test_F1_one_completion_then_ealready);
    tcase_add_test(tc, test_F2_future_done_callbacks_scheduled_in_order);
    tcase_add_test(tc, test_F3_awaited_by_one_task_completed_by_another);
    tcase_add_test(tc, test_F3_several_awaiters_woken_in_order);
    tcase_add_test(tc, test_F3_cancel_awaiter_cancels_future);
    tcase_add_test(tc, test_F4_never_retrieved_future_reported);
    tcase_add_test(tc, test_F4_retrieved_or_cancelled_not_reported);
    tcase_add_test(tc, test_short_name_await_on_future);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(future_suite)
