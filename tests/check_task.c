/* check_task.c — Suite "task": spawning, results, cancellation (group T),
 * done-callbacks and never-retrieved errors (F2, F4/D3), sleep (SL), task
 * handles, names and introspection, and the opt-in short names. */
#include "helpers.h"
#include "coio_int.h" /* white-box: the loop's timer heap */

#include <math.h>
#include <stdint.h>
#include <unistd.h>

static evlog ev;

static void reset(void) { memset(&ev, 0, sizeof ev); }

static const char *rcs(int rc) /* a wait's outcome as a word, for event logs */
{
    return rc == 0 ? "ok" : errno == ECANCELED ? "ECANCELED" : strerror(errno);
}

/* ---- capturing stderr (fd 2) --------------------------------------------------- */



/* ---- task bodies used by several tests ----------------------------------------- */

static void *ret_arg(void *arg) { return arg; }

static void *logger(void *arg)
{
    evlog_add(&ev, "%s", (const char *)arg);
    return arg;
}

static void *sleep_long(void *arg)
{
    int rc = coio_sleep(100);
    evlog_add(&ev, "%s:%s", arg ? (const char *)arg : "sleeper", rcs(rc));
    return NULL;
}

/* Await t, which must end cancelled, and absorb the ECANCELED that awaiting it
   delivers to the caller too (asyncio: try: await t / except CancelledError). */
static void await_cancelled(coio_task *t, void **result)
{
    errno = 0;
    ck_assert_int_eq(coio_await(t, result), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
}

static void *run_in_loop(void *(*fn)(void *), void *arg)
{
    void *r = NULL;
    int rc = coio_run(fn, arg, &r);
    ck_assert_msg(rc == 0, "coio_run: %d, errno %d (%s)", rc, errno, strerror(errno));
    return r;
}

/* ---- T1: spawn --------------------------------------------------------------------- */

static void *t1_main(void *arg)
{
    ck_assert_str_eq(coio_task_name(coio_current_task()), "Task-1");
    coio_task *a = coio_spawn(logger, "a");
    ck_assert_ptr_nonnull(a);
    evlog_add(&ev, "spawned");
    ck_assert_int_eq(coio_task_done(a), 0);
    ck_assert_str_eq(coio_task_name(a), "Task-2");
    ck_assert_int_eq(coio_sleep(0), 0);
    evlog_add(&ev, "yielded");
    ck_assert_int_eq(coio_task_done(a), 1);
    coio_task *b = coio_spawn(ret_arg, NULL);
    ck_assert_str_eq(coio_task_name(b), "Task-3");
    ck_assert_err(coio_spawn(NULL, NULL) ? 0 : -1, EINVAL);
    ck_assert_int_eq(coio_await(b, NULL), 0);
    coio_task_release(a);
    coio_task_release(b);
    return NULL;
}

START_TEST(test_T1_spawn_starts_later_default_names)
{
    reset();
    ck_assert_err(coio_spawn(ret_arg, NULL) ? 0 : -1, EINVAL); /* no loop */
    run_in_loop(t1_main, NULL);
    ck_assert_log(&ev, "spawned a yielded");
}
END_TEST

/* ---- T2: done / result / error ---------------------------------------------------- */

static void *fail_msg_body(void *arg)
{
    coio_sleep(0.001);
    coio_fail_msg(EIO, (const char *)arg);
    return (void *)1; /* not reached */
}

static void *t2_main(void *arg)
{
    void *r = NULL;
    coio_task *ok = coio_spawn(ret_arg, (void *)9);
    coio_task *bad = coio_spawn(fail_msg_body, "disk");
    coio_task *can = coio_spawn(sleep_long, NULL);
    ck_assert_int_eq(coio_task_state(ok), COIO_PENDING);
    ck_assert_int_eq(coio_task_done(ok), 0);
    ck_assert_err(coio_task_result(ok, &r), EAGAIN);
    ck_assert_err(coio_task_error(ok), EAGAIN);
    while (!coio_task_done(bad) || !coio_task_done(ok)) /* no retrieval, no timing bet */
        ck_assert_int_eq(coio_sleep(0.001), 0);
    coio_cancel(can);
    await_cancelled(can, NULL);

    ck_assert_int_eq(coio_task_state(ok), COIO_FINISHED);
    ck_assert_int_eq(coio_task_done(ok), 1);
    ck_assert_int_eq(coio_task_cancelled(ok), 0);
    ck_assert_int_eq(coio_task_result(ok, &r), 0);
    ck_assert_ptr_eq(r, (void *)9);
    ck_assert_int_eq(coio_task_error(ok), 0);
    ck_assert_ptr_null(coio_task_error_message(ok));

    ck_assert_int_eq(coio_task_state(bad), COIO_FAILED);
    ck_assert_int_eq(coio_task_done(bad), 1);
    ck_assert_err(coio_task_result(bad, &r), EIO);
    ck_assert_int_eq(coio_task_error(bad), EIO);
    ck_assert_str_eq(coio_task_error_message(bad), "disk");

    ck_assert_int_eq(coio_task_state(can), COIO_CANCELLED);
    ck_assert_int_eq(coio_task_done(can), 1);
    ck_assert_int_eq(coio_task_cancelled(can), 1);
    ck_assert_err(coio_task_result(can, &r), ECANCELED);
    ck_assert_int_eq(coio_task_error(can), 0);

    coio_task_release(ok);
    coio_task_release(bad);
    coio_task_release(can);
    return NULL;
}

START_TEST(test_T2_done_result_error)
{
    reset();
    run_in_loop(t2_main, NULL);
}
END_TEST

/* ---- T3, T4: cancel is a request ---------------------------------------------------- */

static void *cleanup_then_return(void *arg)
{
    int rc = coio_sleep(100);
    evlog_add(&ev, "got:%s", rcs(rc));
    ck_assert_int_eq(coio_sleep(0.005), 0); /* cleanup can still wait */
    evlog_add(&ev, "cleaned");
    return (void *)1;
}

static void *t3_main(void *arg)
{
    coio_task *t = coio_spawn(cleanup_then_return, NULL);
    ck_assert_int_eq(coio_sleep(0.01), 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_cancel(t), 1); /* true every time while pending */
    ck_assert_int_eq(coio_task_cancelling(t), 3);
    ck_assert_int_eq(coio_task_cancelled(t), 0); /* T4: only a request so far */
    ck_assert_int_eq(coio_sleep(0), 0);
    ck_assert_int_eq(coio_task_done(t), 0); /* still cleaning up */
    await_cancelled(t, NULL);
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_int_eq(coio_cancel(t), 0); /* done: false, nothing changes */
    ck_assert_int_eq(coio_task_state(t), COIO_CANCELLED);
    ck_assert_err(coio_cancel(NULL), EINVAL);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T3_cancel_true_every_time)
{
    reset();
    run_in_loop(t3_main, NULL);
    ck_assert_log(&ev, "got:ECANCELED cleaned");
}
END_TEST

static void *fail_ecanceled(void *arg)
{
    coio_sleep(0.001);
    coio_fail(ECANCELED);
    return NULL;
}

static void *t4_main(void *arg)
{
    coio_task *t = coio_spawn(fail_ecanceled, NULL);
    await_cancelled(t, NULL);
    ck_assert_int_eq(coio_task_cancelled(t), 1); /* cancelled with no cancel() at all */
    ck_assert_int_eq(coio_task_cancelling(t), 0);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T4_cancelled_only_when_body_ends)
{
    reset();
    run_in_loop(t4_main, NULL);
}
END_TEST

/* ---- T5: delivery ----------------------------------------------------------------------- */

static void *t5_runnable(void *arg)
{
    int rc = coio_sleep(0); /* parked on the ready queue when the cancel comes */
    evlog_add(&ev, "first:%s", rcs(rc));
    rc = coio_sleep(0);
    evlog_add(&ev, "second:%s", rcs(rc)); /* delivered once only */
    return NULL;
}

static void *t5_main(void *arg)
{
    coio_task *t = coio_spawn(cleanup_then_return, NULL);
    ck_assert_int_eq(coio_sleep(0.01), 0);
    ck_assert_int_eq(coio_cancel_msg(t, "bye"), 1);
    await_cancelled(t, NULL);
    ck_assert_str_eq(coio_task_cancel_message(t), "bye"); /* readable after completion */
    coio_task_release(t);

    t = coio_spawn(t5_runnable, NULL);
    ck_assert_int_eq(coio_sleep(0), 0); /* t runs and re-queues itself */
    ck_assert_int_eq(coio_cancel(t), 1);
    await_cancelled(t, NULL);
    ck_assert_ptr_null(coio_task_cancel_message(t));
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T5_delivery_once_and_message)
{
    reset();
    run_in_loop(t5_main, NULL);
    ck_assert_log(&ev, "got:ECANCELED cleaned first:ECANCELED second:ok");
}
END_TEST

/* ---- T6: cancelled before the first step ---------------------------------------------- */

static int dtor_calls;
static void *dtor_arg;
static void count_dtor(void *arg)
{
    dtor_calls++;
    dtor_arg = arg;
    free(arg);
}

static void done_log(coio_task *t, void *arg)
{
    ck_assert_int_eq(coio_task_done(t), 1);
    evlog_add(&ev, "%s", (const char *)arg);
}

static void *t6_main(void *arg)
{
    void *payload = malloc(32);
    coio_task_opts o = {.name = "never", .arg_dtor = count_dtor};
    coio_task *t = coio_spawn_opts(&o, logger, payload);
    ck_assert_int_eq(coio_task_add_done_callback(t, done_log, "cb"), 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    await_cancelled(t, NULL);
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_int_eq(dtor_calls, 1);
    ck_assert_ptr_eq(dtor_arg, payload);
    ck_assert_int_eq(coio_sleep(0), 0);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T6_cancel_before_start_never_runs)
{
    reset();
    dtor_calls = 0;
    run_in_loop(t6_main, NULL);
    ck_assert_log(&ev, "cb"); /* the body never logged; done-callbacks still ran */
}
END_TEST

/* ---- T7: a task cancels itself ---------------------------------------------------------- */

static void *self_cancel_sleep(void *arg)
{
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    double t0 = now();
    int rc = coio_sleep(100);
    evlog_add(&ev, "sleep:%s", rcs(rc));
    ck_assert_time(now() - t0, 0, 2.0); /* at once, not after 100 s */
    return (void *)1;
}

static void *self_cancel_return(void *arg)
{
    coio_cancel(coio_current_task());
    return (void *)2; /* never suspended: the value is dropped */
}

static void *t7_main(void *arg)
{
    void *r = NULL;
    coio_task *t = coio_spawn(self_cancel_sleep, NULL);
    await_cancelled(t, &r);
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    coio_task_release(t);
    t = coio_spawn(self_cancel_return, NULL);
    await_cancelled(t, &r);
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_ptr_null(r);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T7_self_cancel)
{
    reset();
    run_in_loop(t7_main, NULL);
    ck_assert_log(&ev, "sleep:ECANCELED");
}
END_TEST

/* ---- T8, L10: fast paths are not suspension points --------------------------------------- */

static coio_task *done_task;

static void *t8_body(void *arg)
{
    coio_event e;
    coio_event_init(&e);
    coio_event_set(&e);
    coio_lock lk;
    coio_lock_init(&lk);
    coio_cancel(coio_current_task());
    void *r = NULL;
    ck_assert_int_eq(coio_await(done_task, &r), 0); /* done: returns, no delivery */
    ck_assert_ptr_eq(r, (void *)4);
    ck_assert_int_eq(coio_event_wait(&e), 0);
    ck_assert_int_eq(coio_lock_acquire(&lk), 0);
    ck_assert_int_eq(coio_lock_release(&lk), 0);
    ck_assert_int_eq(coio_cancelling(), 1); /* still pending */
    int rc = coio_sleep(0); /* the next true yield delivers it */
    evlog_add(&ev, "yield:%s", rcs(rc));
    return NULL;
}

static void *t8_main(void *arg)
{
    done_task = coio_spawn(ret_arg, (void *)4);
    ck_assert_int_eq(coio_await(done_task, NULL), 0);
    /* L10: awaiting a done task does not let c run first. */
    coio_task *c = coio_spawn(logger, "c");
    ck_assert_int_eq(coio_await(done_task, NULL), 0);
    evlog_add(&ev, "fast");
    ck_assert_int_eq(coio_sleep(0), 0);
    coio_task *t = coio_spawn(t8_body, NULL);
    await_cancelled(t, NULL);
    coio_task_release(t);
    coio_task_release(c);
    coio_task_release(done_task);
    return NULL;
}

START_TEST(test_T8_L10_cancel_delivered_only_at_real_suspension)
{
    reset();
    run_in_loop(t8_main, NULL);
    ck_assert_log(&ev, "fast c yield:ECANCELED");
}
END_TEST

/* ---- T9, T13: catching the cancel ----------------------------------------------------------- */

static void *absorb_and_return(void *arg)
{
    ck_assert_int_eq(coio_absorb_cancel(), 0); /* nothing delivered yet */
    int rc = coio_sleep(100);
    evlog_add(&ev, "got:%s", rcs(rc));
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_int_eq(coio_cancelling(), 1); /* T13: absorbing does not uncancel */
    ck_assert_int_eq(coio_sleep(0.001), 0); /* later waits work normally */
    if (arg)
        coio_fail((int)(intptr_t)arg);
    return (void *)99;
}

static void *t9_main(void *arg)
{
    void *r = NULL;
    coio_task *t = coio_spawn(absorb_and_return, NULL);
    coio_sleep(0.005);
    coio_cancel(t);
    ck_assert_int_eq(coio_await(t, &r), 0);
    ck_assert_ptr_eq(r, (void *)99);
    ck_assert_int_eq(coio_task_state(t), COIO_FINISHED);
    ck_assert_int_eq(coio_task_cancelling(t), 1);
    coio_task_release(t);

    t = coio_spawn(absorb_and_return, (void *)(intptr_t)EPROTO);
    coio_sleep(0.005);
    coio_cancel(t);
    ck_assert_err(coio_await(t, &r), EPROTO); /* ends with its own error */
    ck_assert_int_eq(coio_task_state(t), COIO_FAILED);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T9_T13_catch_cancel_and_continue)
{
    reset();
    run_in_loop(t9_main, NULL);
    ck_assert_log(&ev, "got:ECANCELED got:ECANCELED");
    ck_assert_err(coio_absorb_cancel(), EINVAL); /* outside a task */
}
END_TEST

/* ---- T10: cancel forwarding ------------------------------------------------------------------- */

static coio_task *inner;

static void *inner_body(void *arg)
{
    int rc = coio_sleep(100);
    evlog_add(&ev, "inner:%s", rcs(rc));
    if (arg)
        coio_absorb_cancel();
    return (void *)5;
}

static void *outer_body(void *arg)
{
    void *r = NULL;
    int rc = coio_await(inner, &r);
    evlog_add(&ev, "outer:%s", rcs(rc));
    ck_assert_int_eq(coio_cancelling(), 1);
    return r;
}

static void *t10_main(void *arg)
{
    for (int absorb = 1; absorb >= 0; absorb--) {
        inner = coio_spawn(inner_body, absorb ? (void *)1 : NULL);
        coio_task *outer = coio_spawn(outer_body, NULL);
        ck_assert_int_eq(coio_sleep(0.005), 0);
        ck_assert_int_eq(coio_cancel_msg(outer, "stop"), 1);
        void *r = NULL;
        int rc = coio_await(outer, &r);
        if (absorb) { /* the inner task swallowed it: the outer await got the value */
            ck_assert_int_eq(rc, 0);
            ck_assert_ptr_eq(r, (void *)5);
            ck_assert_int_eq(coio_task_state(inner), COIO_FINISHED);
        } else {
            ck_assert_int_eq(rc, -1);
            ck_assert_int_eq(errno, ECANCELED);
            ck_assert_int_eq(coio_absorb_cancel(), 1);
            ck_assert_int_eq(coio_task_cancelled(inner), 1);
        }
        ck_assert_int_eq(coio_task_cancelling(outer), 1);
        ck_assert_int_eq(coio_task_cancelling(inner), 1);
        ck_assert_str_eq(coio_task_cancel_message(inner), "stop"); /* forwarded */
        coio_task_release(outer);
        coio_task_release(inner);
    }
    return NULL;
}

START_TEST(test_T10_cancel_forwarded_to_awaited_task)
{
    reset();
    run_in_loop(t10_main, NULL);
    ck_assert_log(&ev, "inner:ECANCELED outer:ok inner:ECANCELED outer:ECANCELED");
}
END_TEST

/* ---- T11: the awaited task is cancelled by a third party --------------------------------------- */

static void *awaiter_body(void *arg)
{
    int rc = coio_await(inner, NULL);
    evlog_add(&ev, "awaiter:%s", rcs(rc));
    ck_assert_int_eq(coio_cancelling(), 0); /* not itself cancelled */
    if (arg) {
        ck_assert_int_eq(coio_absorb_cancel(), 1);
        ck_assert_int_eq(coio_sleep(0.001), 0);
        return (void *)3;
    }
    return (void *)4; /* lets ECANCELED escape */
}

static void *t11_main(void *arg)
{
    for (int absorb = 1; absorb >= 0; absorb--) {
        inner = coio_spawn(sleep_long, "inner");
        coio_task *w = coio_spawn(awaiter_body, absorb ? (void *)1 : NULL);
        ck_assert_int_eq(coio_sleep(0.005), 0);
        ck_assert_int_eq(coio_cancel(inner), 1);
        void *r = NULL;
        int rc = coio_await(w, &r);
        if (absorb) {
            ck_assert_int_eq(rc, 0);
            ck_assert_ptr_eq(r, (void *)3);
        } else {
            ck_assert_int_eq(rc, -1);
            ck_assert_int_eq(errno, ECANCELED);
            ck_assert_int_eq(coio_absorb_cancel(), 1);
            ck_assert_int_eq(coio_task_cancelled(w), 1);
        }
        ck_assert_int_eq(coio_task_cancelling(w), 0);
        coio_task_release(w);
        coio_task_release(inner);
    }
    return NULL;
}

START_TEST(test_T11_awaited_task_cancelled_by_third_party)
{
    reset();
    run_in_loop(t11_main, NULL);
    ck_assert_log(&ev, "inner:ECANCELED awaiter:ECANCELED inner:ECANCELED awaiter:ECANCELED");
}
END_TEST

/* ---- T12: uncancel ------------------------------------------------------------------------------- */

static void *uncancel_body(void *arg)
{
    coio_task *me = coio_current_task();
    coio_cancel(me);
    coio_cancel(me);
    ck_assert_int_eq(coio_cancelling(), 2);
    ck_assert_int_eq(coio_uncancel(), 1);
    ck_assert_int_eq(coio_uncancel(), 0); /* withdraws the undelivered cancel */
    ck_assert_int_eq(coio_uncancel(), 0); /* never below 0 */
    int rc = coio_sleep(0.001);
    evlog_add(&ev, "withdrawn:%s", rcs(rc));
    /* A delivered cancel is not undone by uncancel: only absorbing catches it. */
    coio_cancel(me);
    rc = coio_sleep(0.001);
    evlog_add(&ev, "delivered:%s", rcs(rc));
    ck_assert_int_eq(coio_uncancel(), 0);
    return (void *)1;
}

static void *t12_main(void *arg)
{
    coio_task *t = coio_spawn(uncancel_body, NULL);
    await_cancelled(t, NULL);
    ck_assert_int_eq(coio_task_cancelling(t), 0);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_T12_uncancel_withdraws_undelivered_cancel)
{
    reset();
    run_in_loop(t12_main, NULL);
    ck_assert_log(&ev, "withdrawn:ok delivered:ECANCELED");
    ck_assert_err(coio_uncancel(), EINVAL);
    ck_assert_int_eq(coio_cancelling(), 0);
}
END_TEST

/* ---- T14: self-await and set_* on a task ---------------------------------------------------------- */

static coio_loop *foreign;
static coio_task *foreign_task;

static void *t14_main(void *arg)
{
    coio_task *me = coio_current_task();
    ck_assert_err(coio_await(me, NULL), EDEADLK);
    ck_assert_ptr_null(coio_await_value(me));
    ck_assert_int_eq(errno, EDEADLK);
    ck_assert_err(coio_future_set_result(me, NULL), EINVAL);
    ck_assert_err(coio_future_set_error(me, EIO, NULL), EINVAL);
    ck_assert_err(coio_await(NULL, NULL), EINVAL);
    ck_assert_err(coio_await(foreign_task, NULL), EINVAL); /* a task of another loop */
    ck_assert_int_eq(coio_task_state(me), COIO_PENDING);
    return (void *)1;
}

START_TEST(test_T14_self_await_edeadlk_and_bad_awaits)
{
    reset();
    foreign = coio_loop_new();
    foreign_task = coio_loop_spawn(foreign, NULL, ret_arg, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(foreign, foreign_task, NULL), 0);
    ck_assert_err(coio_await(foreign_task, NULL), EINVAL); /* not in a task */
    ck_assert_ptr_eq(run_in_loop(t14_main, NULL), (void *)1);
    coio_task_release(foreign_task);
    ck_assert_int_eq(coio_loop_close(foreign), 0);
}
END_TEST

/* ---- T15: current_task and all_tasks --------------------------------------------------------------- */

static coio_task *slots[2];
static coio_task *seen_in_callback = (coio_task *)1;

static void *check_current(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int k = 0; k < 3; k++) {
        ck_assert_ptr_eq(coio_current_task(), slots[i]);
        evlog_add(&ev, "%c%d", 'a' + i, k);
        ck_assert_int_eq(coio_sleep(0), 0);
    }
    ck_assert_ptr_eq(coio_current_task(), slots[i]);
    return NULL;
}

static void record_current(void *arg) { seen_in_callback = coio_current_task(); }

static void *t15_main(void *arg)
{
    coio_task *me = coio_current_task();
    ck_assert_ptr_nonnull(me);
    coio_task *all[8];
    ck_assert_uint_eq(coio_all_tasks(all, 8), 1);
    ck_assert_ptr_eq(all[0], me);
    for (int i = 0; i < 2; i++)
        slots[i] = coio_spawn(check_current, (void *)(intptr_t)i);
    coio_task *sl = coio_spawn(sleep_long, "bg");
    memset(all, 0, sizeof all);
    ck_assert_uint_eq(coio_all_tasks(all, 2), 4); /* the count, with only cap filled */
    ck_assert_ptr_nonnull(all[0]);
    ck_assert_ptr_nonnull(all[1]);
    ck_assert_ptr_null(all[2]);
    ck_assert_uint_eq(coio_all_tasks(NULL, 0), 4);
    ck_assert_uint_eq(coio_all_tasks(all, 8), 4);
    int found = 0;
    for (int i = 0; i < 4; i++)
        found += all[i] == me || all[i] == slots[0] || all[i] == slots[1] || all[i] == sl;
    ck_assert_int_eq(found, 4);
    coio_call_soon(coio_loop_current(), record_current, NULL);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(coio_await(slots[i], NULL), 0);
        coio_task_release(slots[i]);
    }
    ck_assert_ptr_null(seen_in_callback);
    ck_assert_ptr_eq(coio_current_task(), me);
    ck_assert_uint_eq(coio_all_tasks(all, 8), 2); /* done ones are gone */
    coio_cancel(sl);
    await_cancelled(sl, NULL);
    coio_task_release(sl);
    ck_assert_uint_eq(coio_all_tasks(all, 8), 1);
    return NULL;
}

START_TEST(test_T15_current_task_and_all_tasks)
{
    reset();
    ck_assert_ptr_null(coio_current_task());
    ck_assert_uint_eq(coio_all_tasks(NULL, 0), 0);
    run_in_loop(t15_main, NULL);
    ck_assert_log(&ev, "a0 b0 a1 b1 a2 b2 bg:ECANCELED");
    ck_assert_ptr_null(coio_current_task());
}
END_TEST

/* ---- T16: loop closed with pending tasks ---------------------------------------------------------- */

static void *awaits_inner(void *arg)
{
    coio_await(inner, NULL);
    evlog_add(&ev, "must not run");
    return NULL;
}

START_TEST(test_T16_close_reports_pending_tasks)
{
    reset();
    dtor_calls = 0;
    coio_loop *l = coio_loop_new();
    coio_task_opts o = {.name = "sleepy"};
    inner = coio_loop_spawn(l, &o, sleep_long, NULL);
    o.name = "waiter";
    coio_task *w = coio_loop_spawn(l, &o, awaits_inner, NULL);
    ck_assert_int_eq(coio_task_add_done_callback(inner, done_log, "cb"), 0);
    ck_assert_int_eq(coio_loop_stop(l), 0);
    ck_assert_int_eq(coio_loop_run_forever(l), 0); /* both start and park */
    o.name = "unstarted";
    o.arg_dtor = count_dtor;
    coio_task *u = coio_loop_spawn(l, &o, logger, malloc(8));
    coio_task_release(coio_loop_spawn(l, NULL, logger, "detached"));
    capture_begin();
    int rc = coio_loop_close(l);
    const char *out = capture_end();
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "Task was destroyed but it is pending! (task 'sleepy')"), "%s", out);
    ck_assert_msg(strstr(out, "Task was destroyed but it is pending! (task 'waiter')"), "%s", out);
    ck_assert_msg(strstr(out, "Task was destroyed but it is pending! (task 'unstarted')"), "%s", out);
    ck_assert_msg(strstr(out, "Task was destroyed but it is pending! (task 'Task-4')"), "%s", out);
    ck_assert_int_eq(coio_task_state(inner), COIO_CANCELLED);
    ck_assert_int_eq(coio_task_state(w), COIO_CANCELLED);
    ck_assert_int_eq(coio_task_state(u), COIO_CANCELLED);
    ck_assert_int_eq(dtor_calls, 1); /* the unstarted task's arg is freed */
    ck_assert_log(&ev, "");          /* nothing ran again, no callback */
    coio_task_release(inner);
    coio_task_release(w);
    coio_task_release(u);
}
END_TEST

/* ---- F2: done callbacks ------------------------------------------------------------------------------ */

static coio_task *cb_expect;

static void done_check(coio_task *t, void *arg)
{
    ck_assert_ptr_eq(t, cb_expect);
    done_log(t, arg);
}

static void other_cb(coio_task *t, void *arg) { evlog_add(&ev, "other"); }

static void soon_log(void *arg) { evlog_add(&ev, "%s", (const char *)arg); }

static void *f2_main(void *arg)
{
    coio_task *t = coio_spawn(ret_arg, (void *)1);
    cb_expect = t;
    ck_assert_int_eq(coio_task_add_done_callback(t, done_check, "1"), 0);
    ck_assert_int_eq(coio_task_add_done_callback(t, done_check, "r"), 0);
    ck_assert_int_eq(coio_task_add_done_callback(t, done_check, "2"), 0);
    ck_assert_int_eq(coio_task_add_done_callback(t, done_check, "r"), 0);
    ck_assert_int_eq(coio_task_add_done_callback(t, done_check, "3"), 0);
    ck_assert_int_eq(coio_task_remove_done_callback(t, done_check, "r"), 2);
    ck_assert_int_eq(coio_task_remove_done_callback(t, done_check, "zz"), 0);
    ck_assert_int_eq(coio_task_remove_done_callback(t, other_cb, "1"), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    evlog_add(&ev, "awaited");
    coio_call_soon(coio_loop_current(), soon_log, "soon");
    ck_assert_int_eq(coio_task_add_done_callback(t, done_check, "late"), 0);
    evlog_add(&ev, "added"); /* never synchronous, also when t is done */
    ck_assert_int_eq(coio_task_remove_done_callback(t, done_check, "late"), 0); /* scheduled */
    ck_assert_int_eq(coio_sleep(0), 0);
    ck_assert_err(coio_task_add_done_callback(NULL, done_check, NULL), EINVAL);
    ck_assert_err(coio_task_add_done_callback(t, NULL, NULL), EINVAL);
    ck_assert_err(coio_task_remove_done_callback(NULL, done_check, NULL), EINVAL);
    coio_task_release(t); /* the scheduled callback held its own reference */
    return NULL;
}

START_TEST(test_F2_done_callbacks_order_and_remove)
{
    reset();
    run_in_loop(f2_main, NULL);
    ck_assert_log(&ev, "1 2 3 awaited added soon late");
}
END_TEST

/* ---- F4 / D3: never retrieved --------------------------------------------------------------------------- */

static void *fail_eio_now(void *arg)
{
    coio_fail_msg(EIO, "boom");
    return NULL;
}

static coio_task *failed_task(void)
{
    coio_task *t = coio_spawn(fail_eio_now, NULL);
    while (!coio_task_done(t)) /* coio_task_done does not retrieve */
        coio_sleep(0);
    coio_sleep(0.001); /* back through the loop, which drops its reference */
    ck_assert_int_eq(coio_task_state(t), COIO_FAILED);
    return t;
}

static void *f4_main(void *arg)
{
    coio_task *t = failed_task();
    char buf[160];
    coio_task_describe(t, buf, sizeof buf); /* describing does not retrieve */
    capture_begin();
    coio_task_release(t);
    const char *out = capture_end();
    ck_assert_msg(strstr(out, "Task exception was never retrieved"), "got '%s'", out);
    ck_assert_msg(strstr(out, "boom"), "got '%s'", out);

    /* Detached: reported when the loop drops the last reference. A finished
       task's stack is freed, and the loop's reference dropped, once the loop
       context runs again (loop.c, release_zombie). The first sleep lets the
       task run and fail; but when its timer has expired by the time the loop
       next looks at timers (a stall of 1 ms there: under load), this task is
       queued right behind the new one, which on finishing hands over straight
       to this one, before the loop context runs. The second sleep parks on a
       timer, which always passes through the loop context. */
    capture_begin();
    coio_task_release(coio_spawn(fail_eio_now, NULL));
    coio_sleep(0.001);
    coio_sleep(0.001);
    out = capture_end();
    ck_assert_msg(strstr(out, "Task exception was never retrieved"), "got '%s'", out);

    /* Every way of looking at the error silences it. */
    capture_begin();
    t = failed_task();
    coio_task_result(t, NULL);
    coio_task_release(t);
    t = failed_task();
    coio_task_error(t);
    coio_task_release(t);
    t = failed_task();
    coio_await(t, NULL);
    coio_task_release(t);
    t = failed_task();
    ck_assert_int_eq(coio_cancel(t), 0); /* cancel() on a done task, as CPython */
    coio_task_release(t);
    t = coio_spawn(ret_arg, NULL); /* results are never reported */
    coio_await(t, NULL);
    coio_task_release(t);
    out = capture_end();
    ck_assert_msg(out[0] == 0, "unexpected report '%s'", out);
    return NULL;
}

START_TEST(test_F4_D3_never_retrieved_report)
{
    reset();
    run_in_loop(f4_main, NULL);
}
END_TEST

/* ---- SL1, SL2: sleep ------------------------------------------------------------------------------------ */

static void *round_robin(void *arg)
{
    for (int i = 1; i <= 3; i++) {
        evlog_add(&ev, "%s%d", (const char *)arg, i);
        ck_assert_int_eq(coio_sleep(i == 2 ? -1 : 0), 0); /* any delay <= 0 */
    }
    return NULL;
}

static void *sl1_main(void *arg)
{
    coio_task *a = coio_spawn(round_robin, "a");
    coio_task *b = coio_spawn(round_robin, "b");
    ck_assert_int_eq(coio_await(a, NULL), 0);
    ck_assert_int_eq(coio_await(b, NULL), 0);
    coio_task_release(a);
    coio_task_release(b);
    /* No timer: the task goes before a zero-delay timer scheduled earlier, and
       after callbacks queued earlier. */
    coio_loop *l = coio_loop_current();
    coio_call_later(l, 0, soon_log, "timer");
    coio_call_soon(l, soon_log, "soon");
    ck_assert_int_eq(coio_sleep(0), 0);
    evlog_add(&ev, "task");
    ck_assert_int_eq(coio_yield(), 0);
    return NULL;
}

START_TEST(test_SL1_sleep0_round_robin)
{
    reset();
    run_in_loop(sl1_main, NULL);
    ck_assert_log(&ev, "a1 b1 a2 b2 a3 b3 soon task timer");
}
END_TEST

static void *sl2_main(void *arg)
{
    struct coio_loop *l = (struct coio_loop *)coio_loop_current();
    ck_assert_err(coio_sleep(NAN), EINVAL);
    double t0 = now();
    ck_assert_int_eq(coio_sleep(0.03), 0);
    ck_assert_time(now() - t0, 0.03, 1.0);
    coio_task *t = coio_spawn(sleep_long, NULL);
    ck_assert_int_eq(coio_sleep(0), 0);
    ck_assert_uint_eq(l->heap.n, 1); /* t's timer */
    t0 = now();
    coio_cancel(t);
    await_cancelled(t, NULL);
    ck_assert_time(now() - t0, 0, 2.0);
    ck_assert_uint_eq(l->heap.n, 0); /* the cancel removed the timer */
    coio_task_release(t);
    return NULL;
}

START_TEST(test_SL2_sleep_nan_einval_cancel_removes_timer)
{
    reset();
    ck_assert_err(coio_sleep(0.01), EINVAL); /* not in a task */
    ck_assert_err(coio_yield(), EINVAL);
    run_in_loop(sl2_main, NULL);
    ck_assert_log(&ev, "sleeper:ECANCELED");
}
END_TEST

/* ---- coio_fail ------------------------------------------------------------------------------------------- */

static int deep(int n)
{
    char pad[64];
    memset(pad, n, sizeof pad);
    if (n == 0) {
        coio_fail_msg(EPROTO, "deep failure"); /* never returns in a task */
        return -1;
    }
    return deep(n - 1) + pad[3]; /* not a tail call */
}

static void *deep_body(void *arg)
{
    deep(200);
    evlog_add(&ev, "not reached");
    return NULL;
}

static void *fail_bad_codes(void *arg)
{
    ck_assert_err(coio_fail(0), EINVAL); /* does not end the task */
    ck_assert_err(coio_fail(-3), EINVAL);
    char big[400];
    memset(big, 'm', sizeof big);
    big[399] = 0;
    coio_fail_msg(ENOSPC, big);
    return NULL;
}

static void *fail_main(void *arg)
{
    coio_task *t = coio_spawn(deep_body, NULL);
    ck_assert_err(coio_await(t, NULL), EPROTO);
    ck_assert_str_eq(coio_task_error_message(t), "deep failure");
    coio_task_release(t);
    t = coio_spawn(fail_bad_codes, NULL);
    ck_assert_err(coio_await(t, NULL), ENOSPC);
    ck_assert_uint_eq(strlen(coio_task_error_message(t)), 255);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_fail_from_deep_call_depth_and_message)
{
    reset();
    ck_assert_err(coio_fail(EIO), EINVAL); /* outside a task */
    ck_assert_err(coio_fail_msg(EIO, "x"), EINVAL);
    run_in_loop(fail_main, NULL);
    ck_assert_log(&ev, "");
}
END_TEST

/* ---- handles -------------------------------------------------------------------------------------------- */

static void *detached_body(void *arg)
{
    coio_sleep(0.01);
    evlog_add(&ev, "detached ran");
    return NULL;
}

static void *handles_main(void *arg)
{
    coio_task_release(coio_spawn(detached_body, NULL)); /* the loop keeps its own ref */
    ck_assert_uint_eq(coio_all_tasks(NULL, 0), 2);
    while (coio_all_tasks(NULL, 0) > 1)
        ck_assert_int_eq(coio_sleep(0.005), 0);
    evlog_add(&ev, "main");

    coio_task *t = coio_spawn(ret_arg, (void *)8);
    ck_assert_ptr_eq(coio_task_retain(t), t);
    coio_task_release(t); /* still one reference */
    ck_assert_int_eq(coio_await(t, NULL), 0);
    void *r = NULL;
    ck_assert_int_eq(coio_task_result(t, &r), 0); /* done, the loop's ref is gone: ours keeps it */
    ck_assert_ptr_eq(r, (void *)8);
    coio_task_release(t);

    /* NULL handles: errors, never a crash. */
    ck_assert_err(coio_task_result(NULL, &r), EINVAL);
    ck_assert_err(coio_task_error(NULL), EINVAL);
    ck_assert_err(coio_task_set_name(NULL, "x"), EINVAL);
    ck_assert_int_eq(coio_task_done(NULL), 0);
    ck_assert_int_eq(coio_task_cancelled(NULL), 0);
    ck_assert_int_eq(coio_task_state(NULL), COIO_PENDING);
    ck_assert_int_eq(coio_task_cancelling(NULL), 0);
    ck_assert_ptr_null(coio_task_cancel_message(NULL));
    ck_assert_ptr_null(coio_task_error_message(NULL));
    ck_assert_str_eq(coio_task_name(NULL), "");
    ck_assert_ptr_null(coio_task_retain(NULL));
    coio_task_release(NULL);
    ck_assert_ptr_null(coio_await_value(NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_loop_spawn(NULL, NULL, ret_arg, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_loop_spawn(coio_loop_current(), NULL, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    return NULL;
}

START_TEST(test_handles_detached_and_null)
{
    reset();
    run_in_loop(handles_main, NULL);
    ck_assert_log(&ev, "detached ran main");
}
END_TEST

/* ---- names and describe ------------------------------------------------------------------------------------ */

static void *fail_timeout(void *arg)
{
    coio_fail_msg(ETIMEDOUT, "slow");
    return NULL;
}

static void *names_main(void *arg)
{
    char buf[200], want[200];
    char name[16] = "worker";
    coio_task_opts o = {.name = name, .stack_size = 1}; /* tiny: rounded up to the minimum */
    coio_task *w = coio_spawn_opts(&o, ret_arg, (void *)0x2a);
    strcpy(name, "changed"); /* the name was copied */
    ck_assert_str_eq(coio_task_name(w), "worker");
    coio_task_describe(w, buf, sizeof buf);
    ck_assert_str_eq(buf, "<Task pending name='worker'>");
    coio_task *d = coio_spawn(ret_arg, NULL);
    ck_assert_str_eq(coio_task_name(d), "Task-3");
    ck_assert_int_eq(coio_await(w, NULL), 0);
    coio_task_describe(w, buf, sizeof buf);
    ck_assert_str_eq(buf, "<Task finished name='worker' result=0x2a>");
    int n = coio_task_describe(w, buf, 5); /* snprintf rules */
    ck_assert_int_eq(n, (int)strlen("<Task finished name='worker' result=0x2a>"));
    ck_assert_str_eq(buf, "<Tas");

    o.name = "x";
    o.stack_size = 0;
    coio_task *f = coio_spawn_opts(&o, fail_timeout, NULL);
    coio_await(f, NULL);
    coio_task_describe(f, buf, sizeof buf);
    snprintf(want, sizeof want, "<Task failed name='x' error=%d (%s) msg='slow'>", ETIMEDOUT,
             strerror(ETIMEDOUT));
    ck_assert_str_eq(buf, want);
    coio_task *c = coio_spawn(sleep_long, NULL);
    ck_assert_int_eq(coio_task_set_name(c, "y"), 0);
    coio_sleep(0);
    coio_cancel(c);
    await_cancelled(c, NULL);
    coio_task_describe(c, buf, sizeof buf);
    ck_assert_str_eq(buf, "<Task cancelled name='y'>");
    coio_task_describe(NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "<invalid>");

    char longname[100];
    memset(longname, 'n', sizeof longname);
    longname[99] = 0;
    ck_assert_int_eq(coio_task_set_name(d, longname), 0);
    ck_assert_uint_eq(strlen(coio_task_name(d)), 63);
    ck_assert_err(coio_task_set_name(d, NULL), EINVAL);
    ck_assert_uint_eq(strlen(coio_task_name(d)), 63);
    coio_await(d, NULL);
    coio_task_release(w);
    coio_task_release(d);
    coio_task_release(f);
    coio_task_release(c);
    return NULL;
}

START_TEST(test_task_names_and_describe)
{
    reset();
    run_in_loop(names_main, NULL);
}
END_TEST

/* ---- the opt-in short names: a section of this file defines COIO_SHORT_NAMES ------------------------------- */

#define COIO_SHORT_NAMES
#include "coio.h"

static void *twice(void *p)
{
    coio_sleep(0.001);
    return (void *)(*(long *)p * 2);
}

static void *short_main(void *arg)
{
    long v = 21;
    coio_task *t = async(twice, &v);
    void *r = await(t);
    ck_assert_ptr_eq(r, (void *)42);
    coio_task_release(t);
    t = async(fail_eio_now, NULL);
    ck_assert_ptr_null(await(t));
    ck_assert_int_eq(errno, EIO);
    coio_task_release(t);
    return r;
}

START_TEST(test_short_names_async_await)
{
    reset();
    ck_assert_ptr_eq(run_in_loop(short_main, NULL), (void *)42);
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("lifecycle");
    tcase_add_test(tc, test_T1_spawn_starts_later_default_names);
    tcase_add_test(tc, test_T2_done_result_error);
    tcase_add_test(tc, test_T14_self_await_edeadlk_and_bad_awaits);
    tcase_add_test(tc, test_T15_current_task_and_all_tasks);
    tcase_add_test(tc, test_T16_close_reports_pending_tasks);
    tcase_add_test(tc, test_fail_from_deep_call_depth_and_message);
    tcase_add_test(tc, test_handles_detached_and_null);
    tcase_add_test(tc, test_task_names_and_describe);
    tcase_add_test(tc, test_short_names_async_await);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_add_test(tc, test_T3_cancel_true_every_time);
    tcase_add_test(tc, test_T4_cancelled_only_when_body_ends);
    tcase_add_test(tc, test_T5_delivery_once_and_message);
    tcase_add_test(tc, test_T6_cancel_before_start_never_runs);
    tcase_add_test(tc, test_T7_self_cancel);
    tcase_add_test(tc, test_T8_L10_cancel_delivered_only_at_real_suspension);
    tcase_add_test(tc, test_T9_T13_catch_cancel_and_continue);
    tcase_add_test(tc, test_T10_cancel_forwarded_to_awaited_task);
    tcase_add_test(tc, test_T11_awaited_task_cancelled_by_third_party);
    tcase_add_test(tc, test_T12_uncancel_withdraws_undelivered_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("callbacks");
    tcase_add_test(tc, test_F2_done_callbacks_order_and_remove);
    tcase_add_test(tc, test_F4_D3_never_retrieved_report);
    suite_add_tcase(s, tc);

    tc = tcase_create("sleep");
    tcase_add_test(tc, test_SL1_sleep0_round_robin);
    tcase_add_test(tc, test_SL2_sleep_nan_einval_cancel_removes_timer);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(task_suite)
