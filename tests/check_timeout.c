/* check_timeout.c — Suite "timeout": timeout scopes (group TO): expiry into
 * ETIMEDOUT, nesting, foreign errors and cancels, reschedule and its invalid
 * states, and scopes left behind by a failing or destroyed task. */
#include "helpers.h"
#include "coio_int.h" /* white-box: heap size, no allocation */

#include <malloc.h>
#include <math.h>

/* ---- TO1: deadlines ------------------------------------------------------- */

static void *to1_main(void *arg)
{
    coio_timeout to;
    double t0 = now();
    ck_assert_int_eq(coio_timeout_enter(&to, 0.2), 0);
    double w = coio_timeout_when(&to);
    ck_assert(w >= t0 + 0.2 && w <= now() + 0.2);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    ck_assert(coio_timeout_when(&to) == w); /* still readable after exit */

    double at = now() + 100.0;
    ck_assert_int_eq(coio_timeout_enter_at(&to, at), 0);
    ck_assert(coio_timeout_when(&to) == at);
    ck_assert_int_eq(coio_timeout_exit(&to, 9), 9);

    /* No deadline: INFINITY and NAN, relative or absolute. */
    double none[] = {INFINITY, NAN};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(coio_timeout_enter(&to, none[i]), 0);
        ck_assert(isinf(coio_timeout_when(&to)) && coio_timeout_when(&to) > 0);
        ck_assert_int_eq(coio_sleep(0.03), 0);
        ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
        ck_assert_int_eq(coio_timeout_expired(&to), 0);
        ck_assert_int_eq(coio_timeout_enter_at(&to, none[i]), 0);
        ck_assert(isinf(coio_timeout_when(&to)));
        ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    }
    /* A deadline far enough away does not fire during a short body. */
    ck_assert_int_eq(coio_timeout_enter(&to, 0.5), 0);
    ck_assert_int_eq(coio_sleep(0.02), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    return NULL;
}

START_TEST(test_TO1_deadline_relative_absolute_disabled)
{
    ck_assert_int_eq(run_main(to1_main, NULL, NULL), 0);
}
END_TEST

/* ---- TO2: expiry ------------------------------------------------------------ */

static void *to2_main(void *arg)
{
    coio_timeout to;
    double t0 = now();
    ck_assert_int_eq(coio_timeout_enter(&to, 0.05), 0);
    int rc = coio_sleep(10);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_cancelling(), 1); /* the scope's cancel */
    ck_assert_int_eq(coio_timeout_expired(&to), 1);
    rc = coio_timeout_exit(&to, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_time(now() - t0, 0.05, 0.5);
    ck_assert_int_eq(coio_cancelling(), 0);
    ck_assert_int_eq(coio_timeout_expired(&to), 1);
    /* The task is not cancelled: it goes on and ends FINISHED. */
    ck_assert_int_eq(coio_sleep(0.01), 0);
    return (void *)42;
}

START_TEST(test_TO2_expiry_gives_etimedout_task_not_cancelled)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(to2_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)42);
}
END_TEST

static void *to2_after_main(void *arg)
{
    /* An earlier cancel that was absorbed without uncancel: the count stays 1. */
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_int_eq(coio_sleep(1), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_int_eq(coio_cancelling(), 1);

    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 0.02), 0);
    int rc = coio_sleep(10);
    ck_assert_int_eq(coio_cancelling(), 2);
    rc = coio_timeout_exit(&to, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT); /* compared with the entry level, 1 */
    ck_assert_int_eq(coio_cancelling(), 1);
    return (void *)7;
}

START_TEST(test_TO2_after_earlier_swallowed_cancel)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(to2_after_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
}
END_TEST

/* ---- TO3: deadline already reached -------------------------------------------- */

static void *to3_main(void *arg)
{
    coio_timeout to;
    /* 0, negative, and an absolute time in the past. */
    for (int k = 0; k < 3; k++) {
        int rc = k == 0   ? coio_timeout_enter(&to, 0)
                 : k == 1 ? coio_timeout_enter(&to, -5)
                          : coio_timeout_enter_at(&to, now() - 1.0);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(coio_timeout_expired(&to), 0); /* next iteration, not now */
        ck_assert_int_eq(coio_cancelling(), 0);
        rc = coio_yield();
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(errno, ECANCELED);
        rc = coio_timeout_exit(&to, rc);
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(errno, ETIMEDOUT);
        ck_assert_int_eq(coio_cancelling(), 0);
    }
    return (void *)1;
}

START_TEST(test_TO3_past_deadline_fires_next_iteration_even_for_yield)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(to3_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)1);
}
END_TEST

/* ---- TO4: foreign errors pass ------------------------------------------------------ */

static void *fail_epipe(void *arg)
{
    coio_sleep(0.01);
    coio_fail(EPIPE);
    return NULL;
}

static void *to4_main(void *arg)
{
    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    errno = EIO;
    int rc = coio_timeout_exit(&to, -1);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, EIO);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);

    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 5), 5);

    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    coio_task *t = coio_spawn(fail_epipe, NULL);
    rc = coio_await(t, NULL);
    coio_task_release(t);
    rc = coio_timeout_exit(&to, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    return NULL;
}

START_TEST(test_TO4_foreign_error_passes_unexpired)
{
    ck_assert_int_eq(run_main(to4_main, NULL, NULL), 0);
}
END_TEST

/* ---- TO5: a cancel from elsewhere ------------------------------------------------------ */

static int to5_rc, to5_errno, to5_expired;

static void *to5_worker(void *arg)
{
    coio_timeout to;
    coio_timeout_enter(&to, 10);
    int rc = coio_sleep(10);
    to5_rc = coio_timeout_exit(&to, rc);
    to5_errno = errno;
    to5_expired = coio_timeout_expired(&to);
    return (void *)1; /* dropped: the cancel was not absorbed */
}

static void *to5_main(void *arg)
{
    coio_task *w = coio_spawn(to5_worker, NULL);
    ck_assert_int_eq(coio_sleep(0.02), 0);
    ck_assert_int_eq(coio_cancel(w), 1);
    ck_assert_int_eq(coio_await(w, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1); /* w's cancel is not ours (T11) */
    ck_assert(coio_task_cancelled(w));
    ck_assert_int_eq(coio_task_cancelling(w), 1);
    coio_task_release(w);
    ck_assert_int_eq(to5_rc, -1);
    ck_assert_int_eq(to5_errno, ECANCELED);
    ck_assert_int_eq(to5_expired, 0);
    return NULL;
}

START_TEST(test_TO5_foreign_cancel_propagates)
{
    ck_assert_int_eq(run_main(to5_main, NULL, NULL), 0);
}
END_TEST

/* ---- TO6: the body swallows the scope's cancel ----------------------------------------- */

static void *to6_main(void *arg)
{
    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 0.02), 0);
    ck_assert_int_eq(coio_sleep(10), -1);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0); /* nothing raised */
    ck_assert_int_eq(coio_timeout_expired(&to), 1);
    ck_assert_int_eq(coio_cancelling(), 0);

    /* Another error while expiring propagates as it is; the scope's cancel
       ends at exit even though the body did not absorb it. */
    ck_assert_int_eq(coio_timeout_enter(&to, 0.02), 0);
    ck_assert_int_eq(coio_sleep(10), -1);
    errno = EIO;
    ck_assert_int_eq(coio_timeout_exit(&to, -1), -1);
    ck_assert_int_eq(errno, EIO);
    ck_assert_int_eq(coio_timeout_expired(&to), 1);
    ck_assert_int_eq(coio_cancelling(), 0);

    /* A body that ignores the scope's cancel: nothing raised, and the task
       is not left cancelled (it returns a value below). */
    ck_assert_int_eq(coio_timeout_enter(&to, 0.01), 0);
    (void)coio_sleep(10);
    ck_assert_int_eq(coio_timeout_exit(&to, 1), 1);
    ck_assert_int_eq(coio_timeout_expired(&to), 1);

    /* Exited before the due expiry ran: it never runs. */
    ck_assert_int_eq(coio_timeout_enter(&to, 0), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    ck_assert_int_eq(coio_sleep(0.01), 0);
    ck_assert_int_eq(coio_cancelling(), 0);
    return (void *)3;
}

START_TEST(test_TO6_swallowed_cancel_and_other_error)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(to6_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)3);
}
END_TEST

/* A deadline that passes while the task computes: as a call_at handle, the
   expiry runs after what was already ready, so the task's yield completes
   and the cancel hits its next wait. */
static void *to3_busy_main(void *arg)
{
    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 0.02), 0);
    double t0 = now();
    while (now() - t0 < 0.03) /* past the deadline without suspending */
        ;
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    ck_assert_int_eq(coio_yield(), 0); /* queued before the expiry */
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    int rc = coio_sleep(10);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_time(now() - t0, 0.03, 0.3);
    rc = coio_timeout_exit(&to, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    return NULL;
}

START_TEST(test_TO3_expiry_runs_after_entries_already_ready)
{
    ck_assert_int_eq(run_main(to3_busy_main, NULL, NULL), 0);
}
END_TEST

/* ---- TO7: nested scopes ------------------------------------------------------------------ */

static void *to7_inner_main(void *arg)
{
    coio_timeout outer, inner;
    ck_assert_int_eq(coio_timeout_enter(&outer, 10), 0);
    ck_assert_int_eq(coio_timeout_enter(&inner, 0.02), 0);
    int rc = coio_sleep(10);
    rc = coio_timeout_exit(&inner, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    rc = coio_timeout_exit(&outer, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT); /* passes through the unexpired outer */
    ck_assert_int_eq(coio_timeout_expired(&outer), 0);
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

static void *to7_outer_main(void *arg)
{
    coio_timeout outer, inner;
    ck_assert_int_eq(coio_timeout_enter(&outer, 0.02), 0);
    ck_assert_int_eq(coio_timeout_enter(&inner, 10), 0);
    int rc = coio_sleep(10);
    rc = coio_timeout_exit(&inner, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED); /* not the inner's */
    ck_assert_int_eq(coio_timeout_expired(&inner), 0);
    rc = coio_timeout_exit(&outer, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_int_eq(coio_cancelling(), 0);
    return (void *)2;
}

static void *to7_both_main(void *arg)
{
    /* Both due in the same iteration: two cancels, count 2. */
    double at = now() + 0.03;
    for (int k = 0; k < 2; k++) {
        coio_timeout outer, inner;
        if (k == 0) {
            ck_assert_int_eq(coio_timeout_enter(&outer, 0), 0);
            ck_assert_int_eq(coio_timeout_enter(&inner, 0), 0);
        } else {
            ck_assert_int_eq(coio_timeout_enter_at(&outer, at), 0);
            ck_assert_int_eq(coio_timeout_enter_at(&inner, at), 0);
        }
        int rc = coio_sleep(10);
        ck_assert_int_eq(coio_cancelling(), 2);
        rc = coio_timeout_exit(&inner, rc);
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(errno, ECANCELED); /* 2 -> 1: not back at its entry level */
        ck_assert_int_eq(coio_timeout_expired(&inner), 1);
        ck_assert_int_eq(coio_cancelling(), 1);
        rc = coio_timeout_exit(&outer, rc);
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(errno, ETIMEDOUT);
        ck_assert_int_eq(coio_cancelling(), 0);
    }
    return (void *)5; /* the outer absorbed the cancel: FINISHED */
}

START_TEST(test_TO7_nested_inner_expires)
{
    ck_assert_int_eq(run_main(to7_inner_main, NULL, NULL), 0);
}
END_TEST

START_TEST(test_TO7_nested_outer_expires)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(to7_outer_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)2);
}
END_TEST

START_TEST(test_TO7_nested_both_expire_same_iteration)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(to7_both_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)5);
}
END_TEST

/* ---- TO8: reschedule ----------------------------------------------------------------------- */

static coio_timeout *shared_to;

static void *rescheduler(void *arg)
{
    ck_assert_int_eq(coio_sleep(0.02), 0);
    ck_assert_int_eq(coio_timeout_reschedule(shared_to, now() + 0.02), 0);
    return NULL;
}

static void *to8_main(void *arg)
{
    coio_timeout to;
    /* From none to a deadline. */
    ck_assert_int_eq(coio_timeout_enter(&to, INFINITY), 0);
    double t0 = now(), at = t0 + 0.05;
    ck_assert_int_eq(coio_timeout_reschedule(&to, at), 0);
    ck_assert(coio_timeout_when(&to) == at);
    int rc = coio_sleep(10);
    ck_assert_time(now() - t0, 0.05, 0.5);
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);

    /* Disabled: no expiry. */
    ck_assert_int_eq(coio_timeout_enter(&to, 0.02), 0);
    ck_assert_int_eq(coio_timeout_reschedule(&to, INFINITY), 0);
    ck_assert(isinf(coio_timeout_when(&to)));
    ck_assert_int_eq(coio_sleep(0.06), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);

    /* Moved later. */
    t0 = now();
    ck_assert_int_eq(coio_timeout_enter(&to, 0.02), 0);
    ck_assert_int_eq(coio_timeout_reschedule(&to, t0 + 0.08), 0);
    rc = coio_sleep(10);
    ck_assert_time(now() - t0, 0.08, 0.6);
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);

    /* Into the past: fires on the next iteration. */
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() - 1), 0);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    rc = coio_yield();
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);

    /* Past, then moved away again before it ran: no expiry. */
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() - 1), 0);
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() + 10), 0);
    ck_assert_int_eq(coio_yield(), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);

    /* From another task. */
    t0 = now();
    shared_to = &to;
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    coio_task *r = coio_spawn(rescheduler, NULL);
    rc = coio_sleep(10);
    ck_assert_time(now() - t0, 0.04, 0.5);
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_int_eq(coio_await(r, NULL), 0);
    coio_task_release(r);
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

START_TEST(test_TO8_reschedule_moves_disables_and_fires)
{
    ck_assert_int_eq(run_main(to8_main, NULL, NULL), 0);
}
END_TEST

static void *exit_other(void *arg)
{
    errno = 0;
    ck_assert_int_eq(coio_timeout_exit(shared_to, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    return NULL;
}

static void *to8_states_main(void *arg)
{
    coio_timeout to;
    memset(&to, 0, sizeof to);
    /* Never entered. */
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() + 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(isnan(coio_timeout_when(&to)));
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    /* NULL. */
    ck_assert_int_eq(coio_timeout_enter(NULL, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_timeout_enter_at(NULL, 1), -1);
    ck_assert_int_eq(coio_timeout_reschedule(NULL, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_timeout_exit(NULL, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(isnan(coio_timeout_when(NULL)));
    ck_assert_int_eq(coio_timeout_expired(NULL), 0);

    /* Entered twice; exited by another task. */
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    ck_assert_int_eq(coio_timeout_enter(&to, 10), -1);
    ck_assert_int_eq(errno, EINVAL);
    shared_to = &to;
    coio_task *o = coio_spawn(exit_other, NULL);
    ck_assert_int_eq(coio_await(o, NULL), 0);
    coio_task_release(o);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    /* Exited (not expired). */
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() + 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), -1);
    ck_assert_int_eq(errno, EINVAL);

    /* Expiring: fired, not exited. */
    ck_assert_int_eq(coio_timeout_enter(&to, 0), 0);
    int rc = coio_yield();
    ck_assert_int_eq(coio_timeout_expired(&to), 1);
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() + 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = ECANCELED; /* the body's error, which the failed call overwrote */
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    /* Expired. */
    ck_assert_int_eq(coio_timeout_reschedule(&to, now() + 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* The storage can be entered again. */
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0);
    ck_assert_int_eq(coio_timeout_expired(&to), 0);
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    return NULL;
}

START_TEST(test_TO8_invalid_states_einval)
{
    ck_assert_int_eq(run_main(to8_states_main, NULL, NULL), 0);
    /* Outside any task. */
    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_timeout_enter_at(&to, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ---- scopes left behind ------------------------------------------------------------------ */

static void *fail_in_scope(void *arg)
{
    coio_timeout to;
    coio_timeout_enter(&to, (double)(long)arg / 1000.0);
    coio_timeout inner;
    coio_timeout_enter(&inner, INFINITY);
    coio_fail(EIO); /* neither scope is exited */
    return NULL;
}

static void *abandon_main(void *arg)
{
    coio_loop *l = coio_loop_current();
    coio_task *t = coio_spawn(fail_in_scope, (void *)30L);
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, EIO);
    coio_task_release(t); /* its stack goes back to the pool */
    ck_assert_uint_eq(l->heap.n, 0); /* the scope's timer went with the task */
    coio_task *again = coio_spawn(fail_in_scope, (void *)0L); /* reuses the stack */
    ck_assert_int_eq(coio_await(again, NULL), -1);
    coio_task_release(again);
    ck_assert_int_eq(coio_sleep(0.06), 0); /* past the first deadline: nothing fires */
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

START_TEST(test_timeout_task_failing_inside_scope_drops_it)
{
    ck_assert_int_eq(run_main(abandon_main, NULL, NULL), 0);
}
END_TEST

static void *sleep_in_scope(void *arg)
{
    coio_timeout to;
    coio_timeout_enter(&to, 5); /* armed, far beyond the loop's short run */
    coio_sleep(10);
    return NULL;
}

static void *short_main(void *arg)
{
    coio_sleep(0.005);
    return NULL;
}

START_TEST(test_timeout_loop_closed_with_task_inside_scope)
{
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    coio_task *w = coio_loop_spawn(l, NULL, sleep_in_scope, NULL);
    coio_task *m = coio_loop_spawn(l, NULL, short_main, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, m, NULL), 0);
    ck_assert(!coio_task_done(w)); /* parked inside the scope, timer armed */
    ck_assert_int_eq(coio_loop_close(l), 0); /* reports w as destroyed pending */
    ck_assert(coio_task_cancelled(w));
    coio_task_release(m);
    coio_task_release(w);
}
END_TEST

/* ---- no allocation -------------------------------------------------------------------------- */

static size_t malloc_bytes(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void *noalloc_main(void *arg)
{
    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 10), 0); /* warm: heap capacity */
    ck_assert_int_eq(coio_timeout_exit(&to, 0), 0);
    size_t m0 = malloc_bytes();
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(coio_timeout_enter(&to, i % 2 ? 0 : 10), 0);
        ck_assert_int_eq(coio_timeout_reschedule(&to, i % 2 ? now() + 10 : now() - 1), 0);
        int rc = coio_yield();
        rc = coio_timeout_exit(&to, rc);
        ck_assert_int_eq(rc, i % 2 ? 0 : -1);
    }
    ck_assert_uint_eq(malloc_bytes(), m0);
    return NULL;
}

START_TEST(test_timeout_scope_allocates_nothing)
{
    ck_assert_int_eq(run_main(noalloc_main, NULL, NULL), 0);
}
END_TEST

static Suite *timeout_suite(void)
{
    Suite *s = suite_create("timeout");
    TCase *tc = tcase_create("timeout");
    tcase_add_test(tc, test_TO1_deadline_relative_absolute_disabled);
    tcase_add_test(tc, test_TO2_expiry_gives_etimedout_task_not_cancelled);
    tcase_add_test(tc, test_TO2_after_earlier_swallowed_cancel);
    tcase_add_test(tc, test_TO3_past_deadline_fires_next_iteration_even_for_yield);
    tcase_add_test(tc, test_TO3_expiry_runs_after_entries_already_ready);
    tcase_add_test(tc, test_TO4_foreign_error_passes_unexpired);
    tcase_add_test(tc, test_TO5_foreign_cancel_propagates);
    tcase_add_test(tc, test_TO6_swallowed_cancel_and_other_error);
    tcase_add_test(tc, test_TO7_nested_inner_expires);
    tcase_add_test(tc, test_TO7_nested_outer_expires);
    tcase_add_test(tc, test_TO7_nested_both_expire_same_iteration);
    tcase_add_test(tc, test_TO8_reschedule_moves_disables_and_fires);
    tcase_add_test(tc, test_TO8_invalid_states_einval);
    tcase_add_test(tc, test_timeout_task_failing_inside_scope_drops_it);
    tcase_add_test(tc, test_timeout_loop_closed_with_task_inside_scope);
    tcase_add_test(tc, test_timeout_scope_allocates_nothing);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(timeout_suite)
