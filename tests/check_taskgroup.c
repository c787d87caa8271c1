/* check_taskgroup.c — Suite "taskgroup": task groups (group TG): waiting for
 * children, abort on the first failure, the failure list and nested groups,
 * outside cancellation, rejected spawns, the parent's cancel count, and
 * groups left behind by a failing or destroyed parent; finished children are
 * dropped at once (bounded memory, retained handles). TG8 (KeyboardInterrupt
 * and SystemExit inside a group) has no C analogue. */
#include "helpers.h"

static evlog ev;

/* A child: sleeps `delay`; then returns `result`, or fails with `fail`. If
   its sleep is cancelled it fails with `fail_on_cancel` (after `cleanup`
   more seconds) or ends cancelled. */
typedef struct {
    const char *name;
    double delay;
    int fail;
    int fail_on_cancel;
    double cleanup;
    long result;
} spec;

static void *child(void *arg)
{
    const spec *s = arg;
    if (coio_sleep(s->delay) < 0) {
        evlog_add(&ev, "%s:cancelled", s->name);
        if (s->fail_on_cancel) {
            if (s->cleanup > 0)
                coio_sleep(s->cleanup);
            coio_fail_msg(s->fail_on_cancel, s->name);
        }
        return NULL;
    }
    evlog_add(&ev, "%s:done", s->name);
    if (s->fail)
        coio_fail_msg(s->fail, s->name);
    return (void *)s->result;
}

static void check_entry(const coio_taskgroup *g, size_t i, coio_task *task, int code,
                        const char *msg)
{
    coio_group_failure f;
    ck_assert_int_eq(coio_taskgroup_error_get(g, i, &f), 0);
    ck_assert_ptr_eq(f.task, task);
    ck_assert_int_eq(f.code, code);
    if (msg)
        ck_assert_str_eq(f.message, msg);
    else
        ck_assert_ptr_null(f.message);
}

/* ---- TG1: exit waits for every child ------------------------------------------- */

static void *tg1_main(void *arg)
{
    static const spec a = {"a", 0.01, 0, 0, 0, 1}, b = {"b", 0.05, 0, 0, 0, 2},
                      c = {"c", 0.03, 0, 0, 0, 3};
    coio_taskgroup tg;
    double t0 = now();
    ck_assert_int_eq(coio_taskgroup_enter(&tg), 0);
    coio_task *t[3];
    t[0] = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&a));
    t[1] = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&b));
    t[2] = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&c));
    ck_assert(t[0] && t[1] && t[2]);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    ck_assert_time(now() - t0, 0.05, 0.5);
    ck_assert_log(&ev, "a:done c:done b:done");
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 0);
    coio_taskgroup_dispose(&tg);
    for (int i = 0; i < 3; i++) { /* retained handles outlive the group */
        void *r;
        ck_assert_int_eq(coio_task_result(t[i], &r), 0);
        ck_assert_ptr_eq(r, (void *)(long)(i + 1));
        coio_task_release(t[i]);
    }
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

START_TEST(test_TG1_exit_waits_for_all_children)
{
    ck_assert_int_eq(run_main(tg1_main, NULL, NULL), 0);
}
END_TEST

static coio_taskgroup *shared_tg;

static void *spawns_sibling(void *arg)
{
    static const spec late = {"late", 0.03, 0, 0, 0, 0};
    coio_sleep(0.02); /* the parent is in exit by now */
    evlog_add(&ev, "spawner");
    ck_assert_ptr_nonnull(coio_taskgroup_spawn(shared_tg, NULL, child, (void *)&late));
    return NULL;
}

static void *tg1_late_main(void *arg)
{
    coio_taskgroup tg;
    shared_tg = &tg;
    double t0 = now();
    coio_taskgroup_enter(&tg);
    coio_taskgroup_spawn(&tg, NULL, spawns_sibling, NULL);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    ck_assert_time(now() - t0, 0.05, 0.5);
    ck_assert_log(&ev, "spawner late:done");
    coio_taskgroup_dispose(&tg);
    return NULL;
}

START_TEST(test_TG1_children_spawned_while_exit_waits)
{
    ck_assert_int_eq(run_main(tg1_late_main, NULL, NULL), 0);
}
END_TEST

/* ---- TG2: the first failure cancels siblings and the body ----------------------------- */

static void *tg2_main(void *arg)
{
    static const spec a = {"a", 0.02, EBADMSG, 0, 0, 0}, b = {"b", 10, 0, 0, 0, 0};
    coio_taskgroup tg;
    double t0 = now();
    coio_taskgroup_enter(&tg);
    coio_task *ta = coio_taskgroup_spawn(&tg, NULL, child, (void *)&a);
    coio_task *tb = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&b));
    int rc = coio_sleep(10); /* the body, cancelled by the group */
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_cancelling(), 1);
    evlog_add(&ev, "body:cancelled");
    rc = coio_taskgroup_exit(&tg, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_time(now() - t0, 0.02, 0.5);
    ck_assert_log(&ev, "a:done b:cancelled body:cancelled");
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 1); /* even one is wrapped */
    check_entry(&tg, 0, ta, EBADMSG, "a");
    coio_group_failure f;
    coio_taskgroup_error_get(&tg, 0, &f);
    ck_assert_ptr_null(f.group);
    ck_assert(coio_task_cancelled(tb));
    coio_task_release(tb);
    coio_taskgroup_dispose(&tg);
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 0);
    ck_assert_int_eq(coio_cancelling(), 0);
    ck_assert_int_eq(coio_sleep(0.01), 0); /* not cancelled any more */
    return (void *)9;
}

START_TEST(test_TG2_first_failure_cancels_siblings_and_body)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(tg2_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)9); /* the exit absorbed the group's cancel */
}
END_TEST

/* ---- TG3, TG4: the failure list ---------------------------------------------------------- */

static void *tg3_main(void *arg)
{
    static const spec a = {"a", 0.01, EBADMSG, 0, 0, 0},
                      b = {"b", 10, 0, EIO, 0, 0},
                      c = {"c", 10, 0, EPIPE, 0.02, 0};
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    coio_task *tc_ = coio_taskgroup_spawn(&tg, NULL, child, (void *)&c);
    coio_task *ta = coio_taskgroup_spawn(&tg, NULL, child, (void *)&a);
    coio_task *tb = coio_taskgroup_spawn(&tg, NULL, child, (void *)&b);
    int rc = coio_sleep(10);
    ck_assert_int_eq(rc, -1);
    errno = EPERM; /* the body fails in its own way after the cancel */
    rc = coio_taskgroup_exit(&tg, -1);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 4);
    check_entry(&tg, 0, ta, EBADMSG, "a"); /* completion order */
    check_entry(&tg, 1, tb, EIO, "b");
    check_entry(&tg, 2, tc_, EPIPE, "c");
    check_entry(&tg, 3, NULL, EPERM, NULL); /* the body last */
    coio_group_failure f;
    ck_assert_int_eq(coio_taskgroup_error_get(&tg, 4, &f), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_taskgroup_error_get(&tg, 0, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_taskgroup_dispose(&tg);
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

START_TEST(test_TG3_errors_in_completion_order_then_body)
{
    ck_assert_int_eq(run_main(tg3_main, NULL, NULL), 0);
}
END_TEST

static void *tg4_main(void *arg)
{
    static const spec a = {"a", 10, 0, 0, 0, 0}, b = {"b", 10, 0, 0, 0, 0};
    coio_taskgroup tg;
    double t0 = now();
    coio_taskgroup_enter(&tg);
    coio_task *ta = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&a));
    coio_task *tb = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&b));
    ck_assert_int_eq(coio_yield(), 0); /* both children are sleeping */
    errno = EIO;
    int rc = coio_taskgroup_exit(&tg, -1);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_time(now() - t0, 0, 0.5);
    ck_assert_log(&ev, "a:cancelled b:cancelled");
    ck_assert(coio_task_cancelled(ta) && coio_task_cancelled(tb));
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 1);
    check_entry(&tg, 0, NULL, EIO, NULL);
    coio_task_release(ta);
    coio_task_release(tb);
    coio_taskgroup_dispose(&tg);
    /* A body error with no child at all is still a group error. */
    coio_taskgroup_enter(&tg);
    errno = ENOENT;
    ck_assert_int_eq(coio_taskgroup_exit(&tg, -1), -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    check_entry(&tg, 0, NULL, ENOENT, NULL);
    coio_taskgroup_dispose(&tg);
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

START_TEST(test_TG4_body_error_cancels_children_and_is_listed)
{
    ck_assert_int_eq(run_main(tg4_main, NULL, NULL), 0);
}
END_TEST

/* ---- TG5: a child cancelled on its own ---------------------------------------------------- */

static void *tg5_main(void *arg)
{
    static const spec a = {"a", 0.04, 0, 0, 0, 5}, b = {"b", 10, 0, 0, 0, 0};
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    coio_task *ta = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&a));
    coio_task *tb = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&b));
    /* Cancel b as soon as both children have started: b's cancel then runs on
       the next iteration, before a's timer can be due however late this
       process is scheduled. (A sleep(0.01) here let a stalled process see a's
       deadline pass in the same iteration as this task's, and a ran first.) */
    ck_assert_int_eq(coio_sleep(0), 0);
    ck_assert_int_eq(coio_cancel(tb), 1);
    ck_assert_int_eq(coio_sleep(0.01), 0); /* the group carries on */
    ck_assert(coio_task_cancelled(tb)); /* the group dropped it: our reference keeps it */
    coio_task_release(tb);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    ck_assert_log(&ev, "b:cancelled a:done");
    void *r;
    ck_assert_int_eq(coio_task_result(ta, &r), 0);
    ck_assert_ptr_eq(r, (void *)5);
    coio_task_release(ta);
    coio_taskgroup_dispose(&tg);
    return NULL;
}

START_TEST(test_TG5_child_cancelled_alone_is_not_an_error)
{
    ck_assert_int_eq(run_main(tg5_main, NULL, NULL), 0);
}
END_TEST

/* ---- TG6, TG11: cancelled from outside ----------------------------------------------------- */

static const spec long_a = {"a", 10, 0, 0, 0, 0}, long_b = {"b", 10, 0, 0, 0, 0};
static const spec failing_a = {"a", 10, 0, EIO, 0, 0}, failing_b = {"b", 10, 0, EPIPE, 0.01, 0};
static coio_task *kids[2];
static int w_rc, w_errno, w_cancelling, w_after_rc, w_after_errno;
static size_t w_nerr;

/* arg: 0 cancelled in the body, 1 cancelled while exit waits, 2 children
   fail when cancelled. */
static void *group_worker(void *arg)
{
    long mode = (long)arg;
    const spec *sa = mode == 2 ? &failing_a : &long_a, *sb = mode == 2 ? &failing_b : &long_b;
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    kids[0] = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)sa));
    kids[1] = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)sb));
    int rc = mode == 1 ? 0 : coio_sleep(10);
    w_rc = coio_taskgroup_exit(&tg, rc);
    w_errno = errno;
    w_nerr = coio_taskgroup_error_count(&tg);
    w_cancelling = coio_cancelling();
    coio_taskgroup_dispose(&tg);
    if (mode == 2) { /* the outside cancel is still pending (TG11) */
        w_after_rc = coio_sleep(10);
        w_after_errno = errno;
    }
    return (void *)1;
}

static void *tg6_main(void *arg)
{
    coio_task *w = coio_spawn(group_worker, arg);
    double t0 = now();
    ck_assert_int_eq(coio_sleep(0.02), 0);
    ck_assert_int_eq(coio_cancel(w), 1);
    ck_assert_int_eq(coio_await(w, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_time(now() - t0, 0.02, 0.5);
    ck_assert(coio_task_cancelled(w));
    ck_assert_int_eq(coio_task_cancelling(w), 1);
    for (int i = 0; i < 2; i++) {
        ck_assert(coio_task_done(kids[i]));
        coio_task_release(kids[i]);
    }
    coio_task_release(w);
    return NULL;
}

START_TEST(test_TG6_outside_cancel_in_body_cancels_children)
{
    ck_assert_int_eq(run_main(tg6_main, (void *)0L, NULL), 0);
    ck_assert_int_eq(w_rc, -1);
    ck_assert_int_eq(w_errno, ECANCELED);
    ck_assert_uint_eq(w_nerr, 0);
    ck_assert_int_eq(w_cancelling, 1);
    ck_assert_log(&ev, "a:cancelled b:cancelled");
}
END_TEST

START_TEST(test_TG6_outside_cancel_while_exit_waits)
{
    ck_assert_int_eq(run_main(tg6_main, (void *)1L, NULL), 0);
    ck_assert_int_eq(w_rc, -1);
    ck_assert_int_eq(w_errno, ECANCELED);
    ck_assert_uint_eq(w_nerr, 0);
    ck_assert_int_eq(w_cancelling, 1);
    ck_assert_log(&ev, "a:cancelled b:cancelled");
}
END_TEST

START_TEST(test_TG6_TG11_children_failing_under_cancel_win_and_cancel_stays)
{
    ck_assert_int_eq(run_main(tg6_main, (void *)2L, NULL), 0);
    ck_assert_int_eq(w_rc, -1);
    ck_assert_int_eq(w_errno, COIO_EGROUP); /* the failures win over ECANCELED */
    ck_assert_uint_eq(w_nerr, 2);
    ck_assert_int_eq(w_cancelling, 1); /* still being cancelled from outside */
    ck_assert_int_eq(w_after_rc, -1); /* and the next wait delivers it */
    ck_assert_int_eq(w_after_errno, ECANCELED);
}
END_TEST

/* asyncio's test_error_and_cancel: a child fails and the parent is then
   cancelled from outside before the group's exit has run. */
static coio_event ready_ev;
static int i_in_rc, i_in_errno, i_cnt_in, i_cnt_after, i_sleep_rc, i_sleep_errno;

static void *raise_error(void *arg)
{
    coio_event_set(&ready_ev);
    coio_yield();
    coio_fail(EBADMSG);
    return NULL;
}

static void *tg11_inner(void *arg)
{
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    coio_taskgroup_spawn(&tg, NULL, raise_error, NULL);
    int rc = coio_sleep(1);
    i_in_rc = coio_taskgroup_exit(&tg, rc);
    i_in_errno = errno;
    i_cnt_in = coio_cancelling();
    coio_taskgroup_dispose(&tg); /* "except* RuntimeError" */
    i_cnt_after = coio_cancelling();
    i_sleep_rc = coio_sleep(1);
    i_sleep_errno = errno;
    return NULL;
}

static void *tg11_main(void *arg)
{
    coio_event_init(&ready_ev);
    coio_task *t = coio_spawn(tg11_inner, NULL);
    ck_assert_int_eq(coio_event_wait(&ready_ev), 0);
    ck_assert_int_eq(coio_task_cancelling(t), 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_task_cancelling(t), 1);
    double t0 = now();
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_time(now() - t0, 0, 0.5);
    ck_assert(coio_task_cancelled(t));
    coio_task_release(t);
    return NULL;
}

START_TEST(test_TG11_error_and_outside_cancel)
{
    ck_assert_int_eq(run_main(tg11_main, NULL, NULL), 0);
    ck_assert_int_eq(i_in_rc, -1);
    ck_assert_int_eq(i_in_errno, COIO_EGROUP);
    ck_assert_int_eq(i_cnt_in, 1);
    ck_assert_int_eq(i_cnt_after, 1);
    ck_assert_int_eq(i_sleep_rc, -1);
    ck_assert_int_eq(i_sleep_errno, ECANCELED);
}
END_TEST

/* ---- TG7: nested groups -------------------------------------------------------------------- */

static coio_task *inner_y;

static void *runs_inner_group(void *arg)
{
    static const spec y = {"y", 0.01, EBADMSG, 0, 0, 0}, z = {"z", 10, 0, 0, 0, 0};
    coio_taskgroup inner;
    coio_taskgroup_enter(&inner);
    inner_y = coio_taskgroup_spawn(&inner, NULL, child, (void *)&y);
    coio_taskgroup_spawn(&inner, NULL, child, (void *)&z);
    int rc = coio_taskgroup_exit(&inner, 0);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    coio_taskgroup_dispose(&inner); /* the task keeps its own copy */
    coio_fail(COIO_EGROUP);
    return NULL;
}

static void *tg7_child_main(void *arg)
{
    static const spec other = {"other", 10, 0, 0, 0, 0};
    coio_taskgroup outer;
    coio_taskgroup_enter(&outer);
    coio_task *x = coio_task_retain(coio_taskgroup_spawn(&outer, NULL, runs_inner_group, NULL));
    coio_taskgroup_spawn(&outer, NULL, child, (void *)&other);
    int rc = coio_taskgroup_exit(&outer, coio_sleep(10));
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&outer), 1);
    coio_group_failure f;
    ck_assert_int_eq(coio_taskgroup_error_get(&outer, 0, &f), 0);
    ck_assert_ptr_eq(f.task, x);
    ck_assert_int_eq(f.code, COIO_EGROUP);
    ck_assert_ptr_nonnull(f.group);
    ck_assert_ptr_eq(f.group, coio_task_group_error(x));
    ck_assert_uint_eq(coio_taskgroup_error_count(f.group), 1);
    check_entry(f.group, 0, inner_y, EBADMSG, "y");
    coio_taskgroup_dispose(&outer);
    /* x still carries its group's failures while referenced. */
    const coio_taskgroup *g = coio_task_group_error(x);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(coio_taskgroup_error_count(g), 1);
    check_entry(g, 0, inner_y, EBADMSG, "y");
    ck_assert_int_eq(coio_task_error(x), COIO_EGROUP);
    coio_task_release(x);
    ck_assert_log(&ev, "y:done z:cancelled other:cancelled");
    ck_assert_int_eq(coio_cancelling(), 0);
    return NULL;
}

START_TEST(test_TG7_child_failing_with_its_group)
{
    ck_assert_int_eq(run_main(tg7_child_main, NULL, NULL), 0);
}
END_TEST

static void *tg7_body_main(void *arg)
{
    static const spec foo1 = {"foo1", 1, 0, 0, 0, 0}, foo2 = {"foo2", 0.01, EDOM, 0, 0, 0};
    coio_taskgroup g1, g2;
    coio_taskgroup_enter(&g1);
    coio_taskgroup_enter(&g2);
    coio_taskgroup_spawn(&g2, NULL, child, (void *)&foo1);
    coio_task *t2 = coio_taskgroup_spawn(&g2, NULL, child, (void *)&foo2);
    int rc = coio_taskgroup_exit(&g2, 0);
    ck_assert_int_eq(errno, COIO_EGROUP);
    rc = coio_taskgroup_exit(&g1, rc); /* the inner group error escapes the body */
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&g1), 1);
    coio_group_failure f;
    coio_taskgroup_error_get(&g1, 0, &f);
    ck_assert_ptr_null(f.task);
    ck_assert_int_eq(f.code, COIO_EGROUP);
    ck_assert_ptr_nonnull(f.group);
    coio_taskgroup_dispose(&g2); /* the nested list stays with g1's entry */
    ck_assert_uint_eq(coio_taskgroup_error_count(f.group), 1);
    check_entry(f.group, 0, t2, EDOM, "foo2");
    coio_taskgroup_dispose(&g1);
    ck_assert_int_eq(coio_cancelling(), 0);
    /* The task reports the outer group if it fails with it. */
    coio_fail(COIO_EGROUP);
    return NULL;
}

static void *await_body_group(void *arg)
{
    coio_task *t = coio_spawn(tg7_body_main, NULL);
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    const coio_taskgroup *g = coio_task_group_error(t);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(coio_taskgroup_error_count(g), 1);
    coio_group_failure f;
    coio_taskgroup_error_get(g, 0, &f);
    ck_assert_int_eq(f.code, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(f.group), 1);
    coio_task_release(t);
    ck_assert_ptr_null(coio_task_group_error(coio_current_task())); /* pending */
    ck_assert_ptr_null(coio_task_group_error(NULL));
    return NULL;
}

START_TEST(test_TG7_inner_group_error_escaping_the_body)
{
    ck_assert_int_eq(run_main(await_body_group, NULL, NULL), 0);
}
END_TEST

/* ---- TG9: rejected spawns and misuse ---------------------------------------------- */

static int dtor_calls, ran;
static void count_dtor(void *arg)
{
    ck_assert_ptr_eq(arg, (void *)&dtor_calls);
    dtor_calls++;
}
static void *must_not_run(void *arg)
{
    ran++;
    return NULL;
}

static void *exit_from_other(void *arg)
{
    ck_assert_int_eq(coio_taskgroup_exit(shared_tg, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    return NULL;
}

static void *tg9_main(void *arg)
{
    static const spec a = {"a", 0.01, EBADMSG, 0, 0, 0}, b = {"b", 10, 0, 0, 0, 0};
    coio_task_opts o = {.arg_dtor = count_dtor};
    void *p = &dtor_calls;
    coio_taskgroup tg;
    memset(&tg, 0, sizeof tg);
    /* Not entered; NULL group; NULL fn. */
    ck_assert_ptr_null(coio_taskgroup_spawn(&tg, &o, must_not_run, p));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_taskgroup_spawn(NULL, &o, must_not_run, p));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_taskgroup_enter(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(dtor_calls, 2);

    ck_assert_int_eq(coio_taskgroup_enter(&tg), 0);
    ck_assert_int_eq(coio_taskgroup_enter(&tg), -1); /* twice */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_taskgroup_spawn(&tg, &o, NULL, p));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(dtor_calls, 3);
    shared_tg = &tg;
    coio_task *o_t = coio_spawn(exit_from_other, NULL);
    ck_assert_int_eq(coio_await(o_t, NULL), 0);
    coio_task_release(o_t);

    /* While aborting after a failure. */
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&a);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&b);
    int rc = coio_sleep(10);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(coio_taskgroup_spawn(&tg, &o, must_not_run, p));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(dtor_calls, 4);
    errno = ECANCELED;
    ck_assert_int_eq(coio_taskgroup_exit(&tg, rc), -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    /* Finished. */
    ck_assert_ptr_null(coio_taskgroup_spawn(&tg, &o, must_not_run, p));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), -1); /* exited twice */
    ck_assert_int_eq(errno, EINVAL);
    coio_taskgroup_dispose(&tg);
    coio_taskgroup_dispose(&tg); /* harmless */
    ck_assert_int_eq(dtor_calls, 5);

    /* A group that finished without error rejects spawns too. */
    ck_assert_int_eq(coio_taskgroup_enter(&tg), 0);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    ck_assert_ptr_null(coio_taskgroup_spawn(&tg, &o, must_not_run, p));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(dtor_calls, 6);
    coio_taskgroup_dispose(&tg);
    ck_assert_int_eq(coio_sleep(0.01), 0);
    ck_assert_int_eq(ran, 0);
    return NULL;
}

START_TEST(test_TG9_spawn_rejected_arg_freed_and_misuse_einval)
{
    ck_assert_int_eq(run_main(tg9_main, NULL, NULL), 0);
    coio_taskgroup tg;
    ck_assert_int_eq(coio_taskgroup_enter(&tg), -1); /* no task */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_task_group_error(NULL));
}
END_TEST

/* ---- TG10: the parent's cancel count ------------------------------------------------ */

static void *tg10_main(void *arg)
{
    static const spec inner_fail = {"in", 0, EBADMSG, 0, 0, 0},
                      outer_fail = {"out", 0, EDOM, 0, 0, 0};
    /* One group, from level 0. */
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&inner_fail);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, coio_sleep(10)), -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_int_eq(coio_cancelling(), 0);
    coio_taskgroup_dispose(&tg);

    /* asyncio's test_nested_groups_both_cancelled. */
    coio_taskgroup outer_tg, inner_tg;
    coio_taskgroup_enter(&outer_tg);
    coio_taskgroup_enter(&inner_tg);
    coio_taskgroup_spawn(&inner_tg, NULL, child, (void *)&inner_fail);
    coio_taskgroup_spawn(&outer_tg, NULL, child, (void *)&outer_fail);
    ck_assert_int_eq(coio_taskgroup_exit(&inner_tg, 0), -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&inner_tg), 1);
    coio_taskgroup_dispose(&inner_tg); /* handled: "except* RuntimeError" */
    ck_assert_int_eq(coio_cancelling(), 1); /* the outer group's cancel */
    ck_assert_int_eq(coio_taskgroup_exit(&outer_tg, 0), -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&outer_tg), 1);
    coio_group_failure f;
    coio_taskgroup_error_get(&outer_tg, 0, &f);
    ck_assert_int_eq(f.code, EDOM);
    coio_taskgroup_dispose(&outer_tg);
    ck_assert_int_eq(coio_cancelling(), 0);
    ck_assert_int_eq(coio_sleep(0.01), 0);
    return (void *)4;
}

START_TEST(test_TG10_cancelling_level_restored_nested_included)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(tg10_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)4);
}
END_TEST

/* ---- groups left behind ------------------------------------------------------------ */

static coio_task *orphan;

static void *fail_in_group(void *arg)
{
    static const spec s = {"orphan", 10, 0, 0, 0, 0};
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    orphan = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&s));
    coio_sleep(0.01);
    coio_fail(EIO); /* no exit */
    return NULL;
}

static void *abandon_main(void *arg)
{
    double t0 = now();
    coio_task *t = coio_spawn(fail_in_group, NULL);
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, EIO);
    coio_task_release(t); /* the group's storage is gone with its stack */
    ck_assert_int_eq(coio_await(orphan, NULL), -1); /* cancelled, finished detached */
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_time(now() - t0, 0.01, 0.5);
    coio_task_release(orphan);
    return NULL;
}

START_TEST(test_taskgroup_parent_failing_inside_group_cancels_children)
{
    ck_assert_int_eq(run_main(abandon_main, NULL, NULL), 0);
    ck_assert_log(&ev, "orphan:cancelled");
}
END_TEST

static void *exit_waiter(void *arg)
{
    static const spec s = {"kid", 10, 0, 0, 0, 0};
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&s);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&s);
    coio_taskgroup_exit(&tg, 0); /* parked here when the loop closes */
    return NULL;
}

static void *short_main(void *arg)
{
    coio_sleep(0.01);
    return NULL;
}

START_TEST(test_taskgroup_loop_closed_while_exit_waits)
{
    coio_loop *l = coio_loop_new();
    coio_task *w = coio_loop_spawn(l, NULL, exit_waiter, NULL);
    coio_task *m = coio_loop_spawn(l, NULL, short_main, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, m, NULL), 0);
    ck_assert(!coio_task_done(w));
    ck_assert_int_eq(coio_loop_close(l), 0);
    ck_assert(coio_task_cancelled(w));
    coio_task_release(m);
    coio_task_release(w);
}
END_TEST

/* asyncio's "async with timeout(): async with TaskGroup()": the deadline
   cancels the body, the group cancels its children and reports ECANCELED,
   and the scope turns that into ETIMEDOUT. */
static void *timeout_around_group_main(void *arg)
{
    coio_timeout to;
    coio_taskgroup tg;
    double t0 = now();
    ck_assert_int_eq(coio_timeout_enter(&to, 0.03), 0);
    coio_taskgroup_enter(&tg);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&long_a);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&long_b);
    int rc = coio_taskgroup_exit(&tg, 0); /* cancelled while it waits */
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED);
    coio_taskgroup_dispose(&tg);
    rc = coio_timeout_exit(&to, rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_time(now() - t0, 0.03, 0.5);
    ck_assert_log(&ev, "a:cancelled b:cancelled");
    ck_assert_int_eq(coio_cancelling(), 0);
    return (void *)8;
}

START_TEST(test_timeout_scope_around_taskgroup)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(timeout_around_group_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)8);
}
END_TEST

/* Many children over a group's life: records and stacks are returned. */
static void *quick(void *arg) { return arg; }

static void *many_main(void *arg)
{
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    for (long i = 0; i < 500; i++) {
        ck_assert_ptr_nonnull(coio_taskgroup_spawn(&tg, NULL, quick, (void *)i));
        if (i % 100 == 99)
            coio_yield();
    }
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    coio_taskgroup_dispose(&tg);
    return NULL;
}

START_TEST(test_taskgroup_many_children)
{
    ck_assert_int_eq(run_main(many_main, NULL, NULL), 0);
}
END_TEST

/* A long-lived group forgets finished children (asyncio's _on_task_done
   discards them): an accept-loop-like body spawning 20,000 short children
   keeps the live task count and the process's memory flat, and the
   children run on a few reused stacks (a task's handle lives on its stack,
   so distinct handles count stacks in use at once). */
enum { MAX_STACKS_SEEN = 64 };
static coio_task *stacks_seen[MAX_STACKS_SEEN];
static size_t nstacks_seen, stacks_overflow;

static void *short_child(void *arg)
{
    coio_task *self = coio_current_task();
    size_t i = 0;
    while (i < nstacks_seen && stacks_seen[i] != self)
        i++;
    if (i == nstacks_seen) {
        if (nstacks_seen < MAX_STACKS_SEEN)
            stacks_seen[nstacks_seen++] = self;
        else
            stacks_overflow++;
    }
    coio_yield();
    return arg;
}

/* Resident and total pages of this process, from /proc/self/statm. */
static void statm(long *size, long *resident)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", size, resident), 2);
    fclose(f);
}

enum { LONG_LIVED_CHILDREN = 20000, LONG_LIVED_WARMUP = 2000 };
static size_t max_live;

static void *long_lived_main(void *arg)
{
    long page = sysconf(_SC_PAGESIZE), size0 = 0, rss0 = 0, size1, rss1;
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    for (long i = 0; i < LONG_LIVED_CHILDREN; i++) {
        if (i == LONG_LIVED_WARMUP)
            statm(&size0, &rss0);
        ck_assert_ptr_nonnull(coio_taskgroup_spawn(&tg, NULL, short_child, (void *)i));
        if (i % 4 == 3) { /* the body keeps running: a few children at a time */
            ck_assert_int_eq(coio_yield(), 0);
            size_t n = coio_all_tasks(NULL, 0);
            if (n > max_live)
                max_live = n;
        }
    }
    statm(&size1, &rss1);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    coio_taskgroup_dispose(&tg);
    /* 18,000 children kept would hold at least a page of stack each (over
       70 MB resident, gigabytes mapped); forgotten ones reuse a few stacks.
       The resident bound leaves room for valgrind's queue of freed blocks. */
    ck_assert_uint_eq(stacks_overflow, 0);
    ck_assert_uint_le(nstacks_seen, 32);
    long grew_rss = (rss1 - rss0) * page, grew_size = (size1 - size0) * page;
#ifndef COIO_TEST_TSAN /* TSan adds ~2 KB resident per finished fiber (34 MB for these 18,000) */
    ck_assert_msg(grew_rss < 32L << 20, "resident memory grew by %ld bytes", grew_rss);
#endif
    ck_assert_msg(grew_size < 64L << 20, "mapped memory grew by %ld bytes", grew_size);
    return NULL;
}

START_TEST(test_taskgroup_long_lived_group_memory_bounded)
{
    ck_assert_int_eq(run_main(long_lived_main, NULL, NULL), 0);
    ck_assert_uint_ge(max_live, 1); /* the body itself */
    ck_assert_uint_le(max_live, 16);
}
END_TEST

/* spawn's handle is borrowed while the child is pending; a retained one
   outlives the group's reference. A failed child stays in the error list
   until dispose without a retain. */
static void *retained_main(void *arg)
{
    static const spec a = {"a", 0, 0, 0, 0, 42}, b = {"b", 10, 0, 0, 0, 0},
                      c = {"c", 0.02, EBADMSG, 0, 0, 0};
    coio_taskgroup tg;
    coio_taskgroup_enter(&tg);
    coio_task *ta = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&a));
    coio_task *tb = coio_task_retain(coio_taskgroup_spawn(&tg, NULL, child, (void *)&b));
    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(tb);
    ck_assert_int_eq(coio_sleep(0.005), 0); /* a finished and was processed */
    ck_assert_int_eq(coio_cancel(tb), 1);
    ck_assert_int_eq(coio_sleep(0.005), 0); /* b ended cancelled and was processed */
    ck_assert(coio_task_done(ta));
    void *r = NULL;
    ck_assert_int_eq(coio_task_result(ta, &r), 0);
    ck_assert_ptr_eq(r, (void *)42);
    ck_assert_ptr_nonnull(coio_task_name(ta));
    ck_assert(coio_task_cancelled(tb));
    coio_task_release(tb);
    coio_taskgroup_spawn(&tg, NULL, child, (void *)&c); /* not retained */
    int rc = coio_taskgroup_exit(&tg, coio_sleep(10));
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 1);
    coio_group_failure f;
    ck_assert_int_eq(coio_taskgroup_error_get(&tg, 0, &f), 0);
    ck_assert_ptr_nonnull(f.task);
    ck_assert(coio_task_done(f.task)); /* the group keeps a failed child */
    ck_assert_int_eq(coio_task_error(f.task), EBADMSG);
    ck_assert_str_eq(coio_task_error_message(f.task), "c");
    coio_taskgroup_dispose(&tg);
    /* ta still valid after the group is gone. */
    ck_assert_int_eq(coio_task_result(ta, &r), 0);
    ck_assert_ptr_eq(r, (void *)42);
    coio_task_release(ta);
    ck_assert_log(&ev, "a:done b:cancelled c:done");
    return NULL;
}

START_TEST(test_taskgroup_retained_child_valid_after_it_finished)
{
    ck_assert_int_eq(run_main(retained_main, NULL, NULL), 0);
}
END_TEST

static Suite *taskgroup_suite(void)
{
    Suite *s = suite_create("taskgroup");
    TCase *tc = tcase_create("taskgroup");
    tcase_add_test(tc, test_TG1_exit_waits_for_all_children);
    tcase_add_test(tc, test_TG1_children_spawned_while_exit_waits);
    tcase_add_test(tc, test_TG2_first_failure_cancels_siblings_and_body);
    tcase_add_test(tc, test_TG3_errors_in_completion_order_then_body);
    tcase_add_test(tc, test_TG4_body_error_cancels_children_and_is_listed);
    tcase_add_test(tc, test_TG5_child_cancelled_alone_is_not_an_error);
    tcase_add_test(tc, test_TG6_outside_cancel_in_body_cancels_children);
    tcase_add_test(tc, test_TG6_outside_cancel_while_exit_waits);
    tcase_add_test(tc, test_TG6_TG11_children_failing_under_cancel_win_and_cancel_stays);
    tcase_add_test(tc, test_TG7_child_failing_with_its_group);
    tcase_add_test(tc, test_TG7_inner_group_error_escaping_the_body);
    tcase_add_test(tc, test_TG9_spawn_rejected_arg_freed_and_misuse_einval);
    tcase_add_test(tc, test_TG10_cancelling_level_restored_nested_included);
    tcase_add_test(tc, test_TG11_error_and_outside_cancel);
    tcase_add_test(tc, test_taskgroup_parent_failing_inside_group_cancels_children);
    tcase_add_test(tc, test_taskgroup_loop_closed_while_exit_waits);
    tcase_add_test(tc, test_taskgroup_many_children);
    tcase_add_test(tc, test_taskgroup_long_lived_group_memory_bounded);
    tcase_add_test(tc, test_taskgroup_retained_child_valid_after_it_finished);
    tcase_add_test(tc, test_timeout_scope_around_taskgroup);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(taskgroup_suite)
