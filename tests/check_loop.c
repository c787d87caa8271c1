/* check_loop.c — Suite "loop": callback ordering and the loop's life cycle
 * (group L), call handles, loop time, and the timer heap under load. Tasks are
 * in check_task.c, coio_run and threads in check_run.c. */
#include "helpers.h"
#include "coio_int.h" /* white-box: the timer heap's size, capacity and order */

#include <math.h>
#include <pthread.h>
#include <malloc.h>
#include <stdint.h>

static evlog ev;
static coio_loop *L;

static void reset(void)
{
    memset(&ev, 0, sizeof ev);
    L = NULL;
}

static void log_cb(void *arg) { evlog_add(&ev, "%s", (const char *)arg); }

static void stop_cb(void *arg)
{
    evlog_add(&ev, "%s", arg ? (const char *)arg : "stop");
    coio_loop_stop(L);
}

/* Run exactly one iteration (L7: stop before run_forever). */
static void one_iteration(coio_loop *l)
{
    ck_assert_int_eq(coio_loop_stop(l), 0);
    ck_assert_int_eq(coio_loop_run_forever(l), 0);
}

/* ---- L1, L2: call_soon ---------------------------------------------------- */

START_TEST(test_L1_call_soon_fifo_once)
{
    reset();
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    static const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        ck_assert_ptr_nonnull(coio_call_soon(l, log_cb, (void *)names[i]));
    ck_assert_log(&ev, ""); /* never synchronous */
    one_iteration(l);
    ck_assert_log(&ev, "a b c d e");
    one_iteration(l); /* each ran exactly once */
    ck_assert_log(&ev, "a b c d e");
    ck_assert_int_eq(coio_loop_close(l), 0);
}
END_TEST

static void a_then_schedule_c(void *arg)
{
    evlog_add(&ev, "a");
    ck_assert_ptr_nonnull(coio_call_soon(L, log_cb, "c"));
    ck_assert_ptr_nonnull(coio_call_later(L, 0, log_cb, "t0"));
}

START_TEST(test_L2_iteration_runs_only_ready_batch)
{
    reset();
    L = coio_loop_new();
    coio_call_soon(L, a_then_schedule_c, NULL);
    coio_call_soon(L, log_cb, "b");
    one_iteration(L);
    ck_assert_log(&ev, "a b"); /* c was scheduled during the batch */
    one_iteration(L);
    ck_assert_log(&ev, "a b c t0");
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

/* ---- L3, L4: timers --------------------------------------------------------- */

static double t_start;
static double t_fired[8];
static int n_fired;

static void timed_cb(void *arg)
{
    t_fired[n_fired++] = coio_loop_time(L) - t_start;
    evlog_add(&ev, "%s", (const char *)arg);
}

START_TEST(test_L3_call_later_call_at_deadline_order)
{
    reset();
    n_fired = 0;
    L = coio_loop_new();
    t_start = coio_loop_time(L);
    coio_handle *hx = coio_call_later(L, 0.06, timed_cb, "x");
    double after = coio_loop_time(L);
    coio_handle *hy = coio_call_later(L, 0.02, timed_cb, "y");
    coio_handle *hz = coio_call_at(L, t_start + 0.04, timed_cb, "z");
    ck_assert_ptr_nonnull(hx);
    ck_assert_ptr_nonnull(hy);
    ck_assert_ptr_nonnull(hz);
    ck_assert(coio_handle_when(hx) >= t_start + 0.06 - 1e-6);
    ck_assert(coio_handle_when(hx) <= after + 0.06 + 1e-6);
    ck_assert(fabs(coio_handle_when(hz) - (t_start + 0.04)) < 1e-6);
    coio_call_later(L, 0.08, stop_cb, NULL);
    /* They fire in deadline order. The deadlines are y z x unless this thread
       was descheduled for 20 ms between reading t_start and scheduling y
       (valgrind); the expected order is taken from the handles' deadlines. */
    struct due { double when; const char *name; };
    struct due by[3] = {{coio_handle_when(hx), "x"}, {coio_handle_when(hy), "y"},
                        {coio_handle_when(hz), "z"}};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (by[j].when < by[i].when) {
                struct due tmp = by[i];
                by[i] = by[j];
                by[j] = tmp;
            }
    char expect[32];
    snprintf(expect, sizeof expect, "%s %s %s stop", by[0].name, by[1].name, by[2].name);
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_log(&ev, expect);
    for (int i = 0; i < 3; i++) /* never early; late by at most 0.5 s */
        ck_assert_time(t_fired[i], by[i].when - t_start - 1e-6, 0.5);
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

START_TEST(test_L3_equal_deadlines_fifo)
{
    reset();
    L = coio_loop_new();
    double when = coio_loop_time(L) + 0.01;
    static const char *names[] = {"p", "q", "r", "s"};
    coio_call_later(L, 0.02, stop_cb, NULL);
    for (int i = 0; i < 4; i++)
        coio_call_at(L, when, log_cb, (void *)names[i]);
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_log(&ev, "p q r s stop");
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

START_TEST(test_L4_due_timers_after_queued_callbacks_by_deadline)
{
    reset();
    L = coio_loop_new();
    double now0 = coio_loop_time(L);
    /* Scheduled out of deadline order on purpose. */
    coio_call_soon(L, log_cb, "soon1");
    coio_call_later(L, 0, log_cb, "later0");
    coio_call_later(L, -1, log_cb, "m1");
    coio_call_later(L, -2, log_cb, "m2");
    coio_call_at(L, now0 - 10, log_cb, "at_past");
    coio_call_soon(L, log_cb, "soon2");
    ck_assert_log(&ev, ""); /* nothing runs synchronously */
    one_iteration(L);
    ck_assert_log(&ev, "soon1 soon2 at_past m2 m1 later0");
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

/* ---- L5: cancel and handles --------------------------------------------------- */

static coio_handle *victim;

static void cancel_victim(void *arg)
{
    evlog_add(&ev, "a");
    ck_assert_int_eq(coio_handle_cancel(victim), 1);
}

START_TEST(test_L5_cancelled_handles_are_skipped)
{
    reset();
    L = coio_loop_new();
    coio_handle *ha = coio_call_soon(L, log_cb, "a0");
    coio_handle *hb = coio_call_soon(L, log_cb, "b0");
    coio_handle *hc = coio_call_later(L, 0.01, log_cb, "c0");
    coio_handle *hd = coio_call_later(L, 0.02, stop_cb, "d0");
    ck_assert_ptr_nonnull(ha);
    ck_assert_ptr_nonnull(hd);
    ck_assert_int_eq(((struct coio_loop *)L)->heap.n, 2);
    ck_assert_int_eq(coio_handle_cancel(hb), 1);
    ck_assert_int_eq(coio_handle_cancelled(hb), 1);
    ck_assert_int_eq(coio_handle_cancel(hb), 0); /* only the first cancel counts */
    ck_assert_int_eq(coio_handle_cancel(hc), 1);
    ck_assert_int_eq(((struct coio_loop *)L)->heap.n, 1); /* a cancelled timer leaves the heap */
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_log(&ev, "a0 d0");

    /* A callback cancels one queued behind it in the same batch. */
    memset(&ev, 0, sizeof ev);
    coio_call_soon(L, cancel_victim, NULL);
    victim = coio_call_soon(L, log_cb, "victim");
    coio_call_soon(L, log_cb, "b");
    one_iteration(L);
    ck_assert_log(&ev, "a b");
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

START_TEST(test_L5_bad_arguments_einval)
{
    reset();
    L = coio_loop_new();
    errno = 0;
    ck_assert_ptr_null(coio_call_soon(NULL, log_cb, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_soon(L, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_later(L, NAN, log_cb, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_at(L, NAN, log_cb, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_later(NULL, 1, log_cb, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_handle_cancel(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_handle_cancelled(NULL), 0);
    ck_assert(coio_handle_when(NULL) == 0.0);
    ck_assert_ptr_null(coio_handle_retain(NULL));
    coio_handle_release(NULL); /* ignored */
    /* Infinite delays are accepted: never due, dropped at close. */
    ck_assert_ptr_nonnull(coio_call_later(L, INFINITY, log_cb, "never"));
    ck_assert_ptr_nonnull(coio_call_later(L, -INFINITY, log_cb, "now"));
    one_iteration(L);
    ck_assert_log(&ev, "now");
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

START_TEST(test_handle_retain_release_when)
{
    reset();
    L = coio_loop_new();
    coio_handle *soon = coio_handle_retain(coio_call_soon(L, log_cb, "s"));
    double t0 = coio_loop_time(L);
    coio_handle *later = coio_handle_retain(coio_call_later(L, 0.01, log_cb, "l"));
    coio_handle *c = coio_handle_retain(coio_call_later(L, 10, log_cb, "never"));
    ck_assert(coio_handle_when(soon) == 0.0);
    double w = coio_handle_when(later);
    ck_assert(w >= t0 + 0.01 - 1e-6 && w <= coio_loop_time(L) + 0.01 + 1e-6);
    ck_assert_int_eq(coio_handle_cancel(c), 1);
    coio_call_later(L, 0.02, stop_cb, NULL);
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_log(&ev, "s l stop");
    /* Retained handles outlive their callbacks: readable, no longer cancellable. */
    ck_assert_int_eq(coio_handle_cancel(soon), 0);
    ck_assert_int_eq(coio_handle_cancelled(soon), 0);
    ck_assert_int_eq(coio_handle_cancel(later), 0);
    ck_assert(coio_handle_when(later) == w);
    ck_assert_int_eq(coio_handle_cancelled(c), 1);
    coio_handle_release(soon);
    coio_handle_release(later);
    /* A retained handle keeps the closed loop's memory until released. */
    ck_assert_int_eq(coio_loop_close(L), 0);
    ck_assert_int_eq(coio_handle_cancel(c), 0);
    coio_handle_release(c);
}
END_TEST

/* ---- L7: stop ----------------------------------------------------------------- */

static void a_stop_schedule_c(void *arg)
{
    evlog_add(&ev, "a");
    ck_assert_int_eq(coio_loop_is_running(L), 1);
    coio_loop_stop(L);
    coio_call_soon(L, log_cb, "c");
}

START_TEST(test_L7_stop_lets_batch_finish)
{
    reset();
    L = coio_loop_new();
    coio_call_soon(L, a_stop_schedule_c, NULL);
    coio_call_soon(L, log_cb, "b");
    ck_assert_int_eq(coio_loop_is_running(L), 0);
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_log(&ev, "a b"); /* b still ran; c waits for the next run */
    ck_assert_int_eq(coio_loop_is_running(L), 0);
    one_iteration(L);
    ck_assert_log(&ev, "a b c");
    ck_assert_int_eq(coio_loop_stop(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_loop_is_running(NULL), 0);
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

START_TEST(test_L7_stop_before_run_forever_one_iteration)
{
    reset();
    L = coio_loop_new();
    coio_call_soon(L, a_then_schedule_c, NULL);
    coio_call_later(L, 30, log_cb, "timer"); /* must not block the iteration */
    double t0 = now();
    ck_assert_int_eq(coio_loop_stop(L), 0);
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_log(&ev, "a");
    ck_assert_time(now() - t0, 0, 2.0);
    ck_assert_int_eq(coio_loop_close(L), 0); /* drops c, t0 and the timer */
}
END_TEST

/* ---- L8: run_until_complete --------------------------------------------------- */

static void *ret_arg(void *arg) { return arg; }

static void *fail_eio(void *arg)
{
    coio_sleep(0.001);
    coio_fail(EIO);
    return NULL;
}

static void *stop_then_finish(void *arg)
{
    coio_loop_stop(coio_loop_current());
    ck_assert_int_eq(coio_sleep(0.01), 0);
    return (void *)7;
}

START_TEST(test_L8_run_until_complete_result_error_stopped)
{
    reset();
    L = coio_loop_new();
    coio_task *t = coio_loop_spawn(L, NULL, ret_arg, (void *)42);
    void *r = NULL;
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, &r), 0);
    ck_assert_ptr_eq(r, (void *)42);
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, NULL), 0); /* already done */
    coio_task_release(t);

    t = coio_loop_spawn(L, NULL, fail_eio, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, &r), -1);
    ck_assert_int_eq(errno, EIO);
    coio_task_release(t);

    t = coio_loop_spawn(L, NULL, ret_arg, NULL);
    coio_cancel(t);
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, &r), -1);
    ck_assert_int_eq(errno, ECANCELED);
    coio_task_release(t);

    /* Stopped early: EAGAIN, the task is still pending and can be finished. */
    t = coio_loop_spawn(L, NULL, stop_then_finish, NULL);
    r = NULL;
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, &r), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(coio_task_done(t), 0);
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
    coio_task_release(t);
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

START_TEST(test_L8_run_until_complete_einval)
{
    reset();
    coio_loop *a = coio_loop_new();
    coio_loop *b = coio_loop_new();
    coio_task *ta = coio_loop_spawn(a, NULL, ret_arg, NULL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_until_complete(NULL, ta, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_until_complete(a, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_until_complete(b, ta, NULL), -1); /* foreign task */
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_forever(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_loop_run_until_complete(a, ta, NULL), 0);
    coio_task_release(ta);
    ck_assert_int_eq(coio_loop_close(a), 0);
    ck_assert_int_eq(coio_loop_close(b), 0);
}
END_TEST

static coio_loop *other_loop;

static void *nested_runs(void *arg)
{
    coio_loop *self = coio_loop_current();
    coio_task *me = coio_current_task();
    coio_task *sib = coio_loop_spawn(self, NULL, ret_arg, NULL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_forever(self), -1);
    ck_assert_int_eq(errno, EBUSY);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_until_complete(self, sib, NULL), -1);
    ck_assert_int_eq(errno, EBUSY);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_until_complete(self, me, NULL), -1);
    ck_assert_int_eq(errno, EBUSY);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_forever(other_loop), -1); /* another loop: EBUSY too */
    ck_assert_int_eq(errno, EBUSY);
    errno = 0;
    ck_assert_int_eq(coio_loop_set_current(other_loop), -1);
    ck_assert_int_eq(errno, EBUSY);
    errno = 0;
    ck_assert_int_eq(coio_loop_close(self), -1); /* close while running */
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(coio_loop_is_running(self), 1);
    ck_assert_ptr_eq(coio_loop_current(), self);
    ck_assert_int_eq(coio_await(sib, NULL), 0);
    coio_task_release(sib);
    return (void *)1;
}

static void close_in_callback(void *arg)
{
    errno = 0;
    ck_assert_int_eq(coio_loop_close(L), -1);
    ck_assert_int_eq(errno, EBUSY);
    evlog_add(&ev, "busy");
}

START_TEST(test_L8_nested_run_ebusy_and_close_while_running)
{
    reset();
    other_loop = coio_loop_new();
    L = coio_loop_new();
    coio_task *t = coio_loop_spawn(L, NULL, nested_runs, NULL);
    void *r = NULL;
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
    coio_task_release(t);
    coio_call_soon(L, close_in_callback, NULL);
    one_iteration(L);
    ck_assert_log(&ev, "busy");
    ck_assert_int_eq(coio_loop_close(L), 0);
    ck_assert_int_eq(coio_loop_close(other_loop), 0);
}
END_TEST

/* ---- L9: close ------------------------------------------------------------------ */

START_TEST(test_L9_close_drops_callbacks_and_timers)
{
    reset();
    L = coio_loop_new();
    coio_handle *soon = coio_handle_retain(coio_call_soon(L, log_cb, "soon"));
    coio_handle *later = coio_handle_retain(coio_call_later(L, 0.001, log_cb, "later"));
    coio_call_soon(L, log_cb, "soon2");
    coio_call_at(L, 0, log_cb, "at");
    ck_assert_int_eq(coio_loop_close(L), 0);
    ck_assert_log(&ev, ""); /* nothing ran */
    ck_assert_int_eq(coio_handle_cancel(soon), 0); /* dropped: no longer cancellable */
    ck_assert_int_eq(coio_handle_cancel(later), 0);
    coio_handle_release(soon);
    coio_handle_release(later);
    errno = 0;
    ck_assert_int_eq(coio_loop_close(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static void done_cb_noop(coio_task *t, void *arg) { (void)t; (void)arg; }

START_TEST(test_L9_close_idempotent_use_after_close_einval)
{
    reset();
    L = coio_loop_new();
    ck_assert_ptr_eq(coio_loop_current(), L);
    coio_task *t = coio_loop_spawn(L, NULL, ret_arg, (void *)5);
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, NULL), 0);
    ck_assert_int_eq(coio_loop_close(L), 0);
    /* t still refers to the loop, so its memory is alive and misuse is observable. */
    ck_assert_int_eq(coio_loop_close(L), 0);
    errno = 0;
    ck_assert_ptr_null(coio_loop_current());
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_soon(L, log_cb, "x"));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_later(L, 0.1, log_cb, "x"));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_at(L, 1, log_cb, "x"));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_loop_spawn(L, NULL, ret_arg, NULL));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_spawn(ret_arg, NULL)); /* no current loop any more */
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_forever(L), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_run_until_complete(L, t, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_task_add_done_callback(t, done_cb_noop, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_loop_is_running(L), 0);
    /* The task's outcome stays readable. */
    void *r = NULL;
    ck_assert_int_eq(coio_task_result(t, &r), 0);
    ck_assert_ptr_eq(r, (void *)5);
    coio_task_release(t); /* frees the loop */
}
END_TEST

START_TEST(test_loop_current_and_set_current)
{
    reset();
    errno = 0;
    ck_assert_ptr_null(coio_loop_current());
    ck_assert_int_eq(errno, EINVAL);
    coio_loop *a = coio_loop_new();
    coio_loop *b = coio_loop_new();
    ck_assert_ptr_eq(coio_loop_current(), a); /* the first one became current */
    ck_assert_int_eq(coio_loop_set_current(b), 0);
    ck_assert_ptr_eq(coio_loop_current(), b);
    coio_task *t = coio_spawn(ret_arg, (void *)3); /* spawns on b */
    ck_assert_int_eq(coio_loop_run_until_complete(a, t, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    void *r = NULL;
    ck_assert_int_eq(coio_loop_run_until_complete(b, t, &r), 0);
    ck_assert_ptr_eq(r, (void *)3);
    coio_task_release(t);
    ck_assert_int_eq(coio_loop_set_current(NULL), 0);
    errno = 0;
    ck_assert_ptr_null(coio_loop_current());
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_loop_close(a), 0);
    ck_assert_int_eq(coio_loop_close(b), 0);
}
END_TEST

/* ---- loop time ------------------------------------------------------------------- */

START_TEST(test_loop_time_monotonic)
{
    reset();
    L = coio_loop_new();
    double prev = coio_loop_time(L);
    ck_assert(prev > 0 && isfinite(prev));
    for (int i = 0; i < 100000; i++) {
        double t = coio_loop_time(i & 1 ? L : NULL); /* the same clock with or without a loop */
        if (t < prev)
            ck_abort_msg("loop time went back: %.9f after %.9f", t, prev);
        prev = t;
    }
    double t0 = coio_loop_time(L);
    coio_call_later(L, 0.03, stop_cb, NULL);
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_time(coio_loop_time(L) - t0, 0.03, 1.0);
    ck_assert_int_eq(coio_loop_close(L), 0);
}
END_TEST

/* ---- the timer heap ---------------------------------------------------------------- */

#define NTIMERS 100000

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void shuffle(int *p, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1));
        int x = p[i];
        p[i] = p[j];
        p[j] = x;
    }
}

static void check_heap(const struct coio__heap *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct coio__timer *t = h->v[i];
        if (t->index != i)
            ck_abort_msg("heap slot %zu holds a timer indexed %zu", i, t->index);
        if (i) {
            const struct coio__timer *p = h->v[(i - 1) / 2];
            if (!(p->when < t->when || (p->when == t->when && p->seq < t->seq)))
                ck_abort_msg("heap order broken at %zu", i);
        }
    }
}

static double *whens;
static int *fired;
static int nfired_total, nexpect;

static void record_cb(void *arg)
{
    fired[nfired_total++] = (int)(intptr_t)arg;
    if (nfired_total == nexpect)
        coio_loop_stop(L);
}

static void schedule_all(coio_handle **h)
{
    double base = coio_loop_time(L);
    for (int i = 0; i < NTIMERS; i++) {
        if (rnd() & 1) {
            double d = (double)(rnd() % 50000) * 1e-6; /* [0, 50 ms) */
            h[i] = coio_call_later(L, d, record_cb, (void *)(intptr_t)i);
        } else { /* few distinct instants: many equal deadlines */
            h[i] = coio_call_at(L, base + (double)(rnd() % 50) * 1e-3, record_cb, (void *)(intptr_t)i);
        }
        if (!h[i])
            ck_abort_msg("timer %d not scheduled", i);
        whens[i] = coio_handle_when(h[i]);
    }
}

START_TEST(test_timers_100k_random_cancel_heap_order)
{
    reset();
    L = coio_loop_new();
    struct coio_loop *li = (struct coio_loop *)L;
    coio_handle **h = malloc(NTIMERS * sizeof *h);
    int *perm = malloc(NTIMERS * sizeof *perm);
    char *gone = calloc(NTIMERS, 1);
    whens = malloc(NTIMERS * sizeof *whens);
    fired = malloc(NTIMERS * sizeof *fired);
    ck_assert(h && perm && gone && whens && fired);

    /* Everything cancelled in random order: the heap ends empty. */
    schedule_all(h);
    ck_assert_uint_eq(li->heap.n, NTIMERS);
    check_heap(&li->heap);
    for (int i = 0; i < NTIMERS; i++)
        perm[i] = i;
    shuffle(perm, NTIMERS);
    for (int k = 0; k < NTIMERS; k++) {
        if (coio_handle_cancel(h[perm[k]]) != 1)
            ck_abort_msg("cancel of timer %d failed", perm[k]);
        if (k % 10000 == 0)
            check_heap(&li->heap);
    }
    ck_assert_uint_eq(li->heap.n, 0);
    ck_assert_uint_eq(li->heap_need, 0);

    /* Half cancelled in random order; the rest fire in (deadline, FIFO) order. */
    schedule_all(h);
    shuffle(perm, NTIMERS);
    int ncancel = NTIMERS / 2;
    for (int k = 0; k < ncancel; k++) {
        if (coio_handle_cancel(h[perm[k]]) != 1)
            ck_abort_msg("cancel of timer %d failed", perm[k]);
        gone[perm[k]] = 1;
        if (k % 10000 == 0)
            check_heap(&li->heap);
    }
    check_heap(&li->heap);
    ck_assert_uint_eq(li->heap.n, NTIMERS - ncancel);
    nfired_total = 0;
    nexpect = NTIMERS - ncancel;
    ck_assert_int_eq(coio_loop_run_forever(L), 0);
    ck_assert_int_eq(nfired_total, nexpect);
    ck_assert_uint_eq(li->heap.n, 0);
    ck_assert_uint_eq(li->heap_need, 0);
    for (int k = 0; k < nfired_total; k++) {
        int i = fired[k];
        if (gone[i])
            ck_abort_msg("cancelled timer %d fired", i);
        int p = k ? fired[k - 1] : -1;
        if (k && !(whens[p] < whens[i] || (whens[p] == whens[i] && p < i)))
            ck_abort_msg("timer %d (%.9f) fired after %d (%.9f)", i, whens[i], p, whens[p]);
    }
    ck_assert_int_eq(coio_loop_close(L), 0);
    free(h);
    free(perm);
    free(gone);
    free(whens);
    free(fired);
}
END_TEST

/* A sleeping task allocates nothing: spawning reserved its heap slot. */
static void *long_sleeper(void *arg)
{
    ck_assert_int_eq(coio_sleep(100), -1);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    return NULL;
}

static size_t malloc_bytes(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void *sleep_alloc_main(void *arg)
{
    struct coio_loop *l = (struct coio_loop *)coio_loop_current();
    enum { N = 300 };
    coio_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = coio_spawn(long_sleeper, NULL);
    ck_assert_int_eq(coio_sleep(0), 0); /* every sleeper has started and parked */
    ck_assert_uint_eq(l->heap.n, N);
    void *v = l->heap.v;
    size_t cap = l->heap.cap;
    size_t m0 = malloc_bytes();
    for (int k = 0; k < 3; k++) /* this task's own timer, N times over */
        ck_assert_int_eq(coio_sleep(0.001), 0);
    ck_assert_uint_eq(l->heap.n, N);
    ck_assert_ptr_eq(l->heap.v, v); /* never reallocated */
    ck_assert_uint_eq(l->heap.cap, cap);
    ck_assert_uint_eq(malloc_bytes(), m0);
    for (int i = 0; i < N; i++) {
        coio_cancel(t[i]);
        ck_assert_int_eq(coio_await(t[i], NULL), 0);
        coio_task_release(t[i]);
    }
    return NULL;
}

START_TEST(test_task_sleep_allocates_nothing)
{
    reset();
    ck_assert_int_eq(coio_run(sleep_alloc_main, NULL, NULL), 0);
}
END_TEST

/* A loop whose memory was freed (closed, no task handle left) is found missing
   in the registry of live loops: a second close and every other call taking it
   give EINVAL without reading the freed memory (ASan/valgrind runs of this test
   would report a use after free). */
static void *close_twice_thread(void *arg)
{
    coio_loop *l = arg;
    errno = 0;
    int rc = coio_call_soon_threadsafe(l, log_cb, "x");
    return (void *)(intptr_t)(rc == -1 && errno == EINVAL);
}

START_TEST(test_L9_double_close_after_free_einval_without_reading_freed_memory)
{
    reset();
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(coio_loop_close(l), 0); /* no handle refers to it: freed here */
    ck_assert_err(coio_loop_close(l), EINVAL);
    ck_assert_err(coio_loop_set_current(l), EINVAL);
    ck_assert_int_eq(coio_loop_is_running(l), 0);
    ck_assert_err(coio_loop_stop(l), EINVAL);
    ck_assert_err(coio_loop_run_forever(l), EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_call_soon(l, log_cb, "x"));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(coio_loop_spawn(l, NULL, ret_arg, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_err(coio_call_soon_threadsafe(l, log_cb, "x"), EINVAL);
    pthread_t th;
    void *ok = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, close_twice_thread, l), 0);
    ck_assert_int_eq(pthread_join(th, &ok), 0);
    ck_assert_ptr_eq(ok, (void *)1);

    /* The same after the last task handle let go of a closed loop; other live
       loops are unaffected. */
    coio_loop *a = coio_loop_new(), *b = coio_loop_new();
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    coio_task *t = coio_loop_spawn(a, NULL, ret_arg, (void *)3);
    ck_assert_int_eq(coio_loop_run_until_complete(a, t, NULL), 0);
    ck_assert_int_eq(coio_loop_close(a), 0);
    ck_assert_int_eq(coio_loop_close(a), 0); /* closed, still held by t: valid */
    coio_task_release(t);                    /* frees a */
    ck_assert_err(coio_loop_close(a), EINVAL);
    ck_assert_ptr_nonnull(coio_call_soon(b, log_cb, "b"));
    one_iteration(b);
    ck_assert_log(&ev, "b");
    ck_assert_int_eq(coio_loop_close(b), 0);
    ck_assert_err(coio_loop_close(b), EINVAL);
    ck_assert_log(&ev, "b");
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("callbacks");
    tcase_add_test(tc, test_L1_call_soon_fifo_once);
    tcase_add_test(tc, test_L2_iteration_runs_only_ready_batch);
    tcase_add_test(tc, test_L3_call_later_call_at_deadline_order);
    tcase_add_test(tc, test_L3_equal_deadlines_fifo);
    tcase_add_test(tc, test_L4_due_timers_after_queued_callbacks_by_deadline);
    tcase_add_test(tc, test_L5_cancelled_handles_are_skipped);
    tcase_add_test(tc, test_L5_bad_arguments_einval);
    tcase_add_test(tc, test_handle_retain_release_when);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_test(tc, test_L7_stop_lets_batch_finish);
    tcase_add_test(tc, test_L7_stop_before_run_forever_one_iteration);
    tcase_add_test(tc, test_L8_run_until_complete_result_error_stopped);
    tcase_add_test(tc, test_L8_run_until_complete_einval);
    tcase_add_test(tc, test_L8_nested_run_ebusy_and_close_while_running);
    tcase_add_test(tc, test_L9_close_drops_callbacks_and_timers);
    tcase_add_test(tc, test_L9_close_idempotent_use_after_close_einval);
    tcase_add_test(tc, test_L9_double_close_after_free_einval_without_reading_freed_memory);
    tcase_add_test(tc, test_loop_current_and_set_current);
    tcase_add_test(tc, test_loop_time_monotonic);
    suite_add_tcase(s, tc);

    tc = tcase_create("timers");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_timers_100k_random_cancel_heap_order);
    tcase_add_test(tc, test_task_sleep_allocates_nothing);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(loop_suite)
