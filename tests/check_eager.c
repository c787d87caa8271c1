/* check_eager.c — suite "eager": eager tasks, asyncio 3.12's eager_start and
 * eager_task_factory (ASYNCIO-SEMANTICS.md EG1-EG6): coio_task_opts.eager and
 * coio_loop_set_eager. */
#include "helpers.h"

#include "coio_int.h"

static evlog lg;

/* Is r on the loop's ready queue or current batch? */
static int on_queue(coio_loop *l, struct coio__runnable *r)
{
    for (struct coio__runnable *p = l->batch; p; p = p->next)
        if (p == r)
            return 1;
    for (struct coio__runnable *p = l->ready; p; p = p->next)
        if (p == r)
            return 1;
    return 0;
}

/* ---- EG1: the first step runs inside the spawn call --------------------------- */

static void *logs_then_yields(void *arg)
{
    evlog_add(&lg, "%s-start", (const char *)arg);
    coio_sleep(0);
    evlog_add(&lg, "%s-end", (const char *)arg);
    return arg;
}

static void *eg1_main(void *arg)
{
    (void)arg;
    coio_task_opts eager = {.name = "eager", .eager = 1};
    coio_task *t = coio_spawn_opts(&eager, logs_then_yields, "e");
    ck_assert_ptr_nonnull(t);
    evlog_add(&lg, "spawned");
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    /* Without eager (and no loop default) it starts on a later iteration. */
    t = coio_spawn(logs_then_yields, "l");
    evlog_add(&lg, "spawned");
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    /* The loop-wide default (eager_task_factory), and -1 overriding it. */
    ck_assert_int_eq(coio_loop_get_eager(coio_loop_current()), 0);
    ck_assert_int_eq(coio_loop_set_eager(coio_loop_current(), 1), 0);
    ck_assert_int_eq(coio_loop_get_eager(coio_loop_current()), 1);
    t = coio_spawn(logs_then_yields, "d");
    evlog_add(&lg, "spawned");
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    coio_task_opts lazy = {.eager = -1};
    t = coio_spawn_opts(&lazy, logs_then_yields, "n");
    evlog_add(&lg, "spawned");
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_EG1_eager_first_step_runs_inside_spawn)
{
    memset(&lg, 0, sizeof lg);
    ck_assert_int_eq(run_main(eg1_main, NULL, NULL), 0);
    ck_assert_log(&lg, "e-start spawned e-end "
                       "spawned l-start l-end "
                       "d-start spawned d-end "
                       "spawned n-start n-end");
}
END_TEST

/* From the loop context (a callback) it runs inside the spawn too; with the
   loop not running, the task starts lazily (asyncio: only a running loop
   starts a task eagerly). */
static coio_task *from_cb;

static void spawn_in_callback(void *arg)
{
    coio_task_opts o = {.eager = 1};
    from_cb = coio_loop_spawn(arg, &o, logs_then_yields, "cb");
    ck_assert_ptr_nonnull(from_cb);
    evlog_add(&lg, "callback-after-spawn");
}

START_TEST(test_EG1_eager_from_loop_context_and_lazy_when_not_running)
{
    memset(&lg, 0, sizeof lg);
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    coio_task_opts o = {.eager = 1};
    coio_task *t = coio_loop_spawn(l, &o, logs_then_yields, "idle");
    ck_assert_ptr_nonnull(t);
    evlog_add(&lg, "spawned");
    ck_assert_ptr_nonnull(coio_call_soon(l, spawn_in_callback, l));
    ck_assert_int_eq(coio_loop_run_until_complete(l, t, NULL), 0);
    ck_assert_int_eq(coio_loop_run_until_complete(l, from_cb, NULL), 0);
    ck_assert_log(&lg, "spawned idle-start cb-start callback-after-spawn idle-end cb-end");
    coio_task_release(t);
    coio_task_release(from_cb);
    ck_assert_int_eq(coio_loop_close(l), 0);
}
END_TEST

/* ---- EG2: done without suspending: returned done, never queued ------------------ */

static void *returns_at_once(void *arg) { return arg; }

static void *fails_at_once(void *arg)
{
    coio_fail_msg(EIO, "eager failure");
    return arg;
}

static void *eg2_main(void *arg)
{
    coio_loop *l = coio_loop_current();
    coio_task_opts o = {.eager = 1};
    coio_task *t = coio_spawn_opts(&o, returns_at_once, (void *)0x1234);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coio_task_state(t), COIO_FINISHED);
    ck_assert_int_eq(((struct coio__task *)t)->queued, 0);
    ck_assert_int_eq(on_queue(l, &((struct coio__task *)t)->run), 0);
    void *r = NULL;
    ck_assert_int_eq(coio_task_result(t, &r), 0); /* no await needed */
    ck_assert_ptr_eq(r, (void *)0x1234);
    ck_assert_int_eq(coio_await(t, &r), 0);
    coio_task_release(t);
    t = coio_spawn_opts(&o, fails_at_once, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coio_task_state(t), COIO_FAILED);
    ck_assert_int_eq(on_queue(l, &((struct coio__task *)t)->run), 0);
    ck_assert_int_eq(coio_task_error(t), EIO);
    ck_assert_str_eq(coio_task_error_message(t), "eager failure");
    coio_task_release(t);
    return arg;
}

START_TEST(test_EG2_eager_completion_returns_done_task_never_queued)
{
    ck_assert_int_eq(run_main(eg2_main, NULL, NULL), 0);
}
END_TEST

/* ---- EG3: suspending in the first step continues as a scheduled task ------------- */

static void *sleeps_then_returns(void *arg)
{
    evlog_add(&lg, "c1");
    ck_assert_int_eq(coio_sleep(0.01), 0);
    evlog_add(&lg, "c2");
    return arg;
}

static void *sleeps_long(void *arg)
{
    evlog_add(&lg, "s1");
    if (coio_sleep(3600) < 0)
        evlog_add(&lg, "s-%s", errno == ECANCELED ? "cancelled" : "error");
    return arg;
}

static void *eg3_main(void *arg)
{
    coio_task_opts o = {.eager = 1};
    double t0 = now();
    coio_task *t = coio_spawn_opts(&o, sleeps_then_returns, (void *)7);
    ck_assert_ptr_nonnull(t);
    evlog_add(&lg, "p1");
    ck_assert_int_eq(coio_task_state(t), COIO_PENDING);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
    ck_assert_time(now() - t0, 0.01, 2.0);
    evlog_add(&lg, "p2");
    coio_task_release(t);
    /* Cancelled while suspended after its eager step: an ordinary task. */
    t = coio_spawn_opts(&o, sleeps_long, NULL);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_err(coio_await(t, NULL), ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    ck_assert_int_eq(coio_task_state(t), COIO_CANCELLED);
    coio_task_release(t);
    return arg;
}

START_TEST(test_EG3_eager_task_that_suspends_continues_scheduled)
{
    memset(&lg, 0, sizeof lg);
    ck_assert_int_eq(run_main(eg3_main, NULL, NULL), 0);
    ck_assert_log(&lg, "c1 p1 c2 p2 s1 s-cancelled");
}
END_TEST

/* ---- EG4: current_task inside is the new task; the spawner's comes back --------- */

static coio_task *seen_current;
static int seen_in_all;

static void *records_current(void *arg)
{
    seen_current = coio_current_task();
    coio_task *all[16];
    size_t n = coio_all_tasks(all, 16);
    seen_in_all = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        seen_in_all += all[i] == seen_current;
    return arg;
}

static void *eg4_main(void *arg)
{
    coio_task *me = coio_current_task();
    coio_task_opts o = {.eager = 1};
    coio_task *t = coio_spawn_opts(&o, records_current, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(seen_current, t);
    ck_assert_int_eq(seen_in_all, 1);
    ck_assert_ptr_eq(coio_current_task(), me);
    coio_task_release(t);
    return arg;
}

static void eg4_callback(void *arg)
{
    coio_task_opts o = {.eager = 1};
    coio_task *t = coio_loop_spawn(arg, &o, records_current, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(seen_current, t);
    ck_assert_ptr_null(coio_current_task()); /* the loop context again */
    coio_task_release(t);
}

START_TEST(test_EG4_current_task_is_the_new_task_then_restored)
{
    seen_current = NULL;
    ck_assert_int_eq(run_main(eg4_main, NULL, NULL), 0);
    seen_current = NULL;
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(coio_call_soon(l, eg4_callback, l));
    coio_task *t = coio_loop_spawn(l, NULL, returns_at_once, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, t, NULL), 0);
    ck_assert_ptr_nonnull(seen_current);
    coio_task_release(t);
    ck_assert_int_eq(coio_loop_close(l), 0);
}
END_TEST

/* ---- EG5: done callbacks are scheduled with call_soon, never run in spawn -------- */

static int cb_runs;

static void count_cb(coio_task *t, void *arg)
{
    (void)arg;
    ck_assert_int_eq(coio_task_state(t), COIO_FINISHED);
    cb_runs++;
}

static void *adds_own_callback(void *arg)
{
    ck_assert_int_eq(coio_task_add_done_callback(coio_current_task(), count_cb, NULL), 0);
    return arg;
}

static void *eg5_main(void *arg)
{
    coio_task_opts o = {.eager = 1};
    cb_runs = 0;
    coio_task *t = coio_spawn_opts(&o, adds_own_callback, NULL);
    ck_assert_int_eq(coio_task_state(t), COIO_FINISHED);
    ck_assert_int_eq(cb_runs, 0); /* registered during the step, not run in spawn */
    ck_assert_int_eq(coio_task_add_done_callback(t, count_cb, NULL), 0);
    ck_assert_int_eq(cb_runs, 0); /* added to a done task: call_soon too */
    ck_assert_int_eq(coio_sleep(0), 0);
    ck_assert_int_eq(cb_runs, 2);
    coio_task_release(t);
    return arg;
}

START_TEST(test_EG5_done_callbacks_of_eager_task_scheduled_with_call_soon)
{
    ck_assert_int_eq(run_main(eg5_main, NULL, NULL), 0);
}
END_TEST

/* ---- EG6: order: each child's first output before the code after spawn ------------ */

static void *eg6_main(void *arg)
{
    int eager = arg != NULL;
    coio_task_opts o = {.eager = eager ? 1 : -1};
    static const char *names[3] = {"a", "b", "c"};
    coio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = coio_spawn_opts(&o, logs_then_yields, (void *)names[i]);
    evlog_add(&lg, "gather");
    ck_assert_int_eq(coio_gather(t, 3, NULL, NULL, 0), 0);
    for (int i = 0; i < 3; i++)
        coio_task_release(t[i]);
    return NULL;
}

START_TEST(test_EG6_eager_children_start_in_order_before_parent_continues)
{
    memset(&lg, 0, sizeof lg);
    ck_assert_int_eq(run_main(eg6_main, (void *)1, NULL), 0);
    ck_assert_log(&lg, "a-start b-start c-start gather a-end b-end c-end");
    memset(&lg, 0, sizeof lg);
    ck_assert_int_eq(run_main(eg6_main, NULL, NULL), 0);
    ck_assert_log(&lg, "gather a-start b-start c-start a-end b-end c-end");
}
END_TEST

/* Eager spawns nest: a child's eager step spawns an eager grandchild. */
static void *spawns_eager_grandchild(void *arg)
{
    evlog_add(&lg, "child");
    coio_task_opts o = {.eager = 1};
    coio_task *g = coio_spawn_opts(&o, logs_then_yields, "g");
    evlog_add(&lg, "child-after");
    ck_assert_int_eq(coio_await(g, NULL), 0);
    coio_task_release(g);
    return arg;
}

static void *nest_main(void *arg)
{
    coio_task_opts o = {.eager = 1};
    coio_task *t = coio_spawn_opts(&o, spawns_eager_grandchild, NULL);
    evlog_add(&lg, "main");
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    return arg;
}

START_TEST(test_EG6_eager_spawns_nest)
{
    memset(&lg, 0, sizeof lg);
    ck_assert_int_eq(run_main(nest_main, NULL, NULL), 0);
    ck_assert_log(&lg, "child g-start child-after main g-end");
}
END_TEST

/* Task groups with the loop default on: a child done in spawn still leaves the
   group, and one that failed in spawn still fails the group. */
static void *group_main(void *arg)
{
    coio_loop_set_eager(coio_loop_current(), 1);
    coio_taskgroup tg;
    ck_assert_int_eq(coio_taskgroup_enter(&tg), 0);
    coio_task *a = coio_taskgroup_spawn(&tg, NULL, returns_at_once, (void *)1);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(coio_task_state(a), COIO_FINISHED);
    coio_task *b = coio_taskgroup_spawn(&tg, NULL, logs_then_yields, "tg");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(coio_taskgroup_exit(&tg, 0), 0);
    coio_taskgroup_dispose(&tg);
    ck_assert_int_eq(coio_taskgroup_enter(&tg), 0);
    ck_assert_ptr_nonnull(coio_taskgroup_spawn(&tg, NULL, fails_at_once, NULL));
    ck_assert_err(coio_taskgroup_exit(&tg, 0), COIO_EGROUP);
    ck_assert_uint_eq(coio_taskgroup_error_count(&tg), 1);
    coio_taskgroup_dispose(&tg);
    return arg;
}

START_TEST(test_EG2_eager_children_of_task_group)
{
    memset(&lg, 0, sizeof lg);
    ck_assert_int_eq(run_main(group_main, NULL, NULL), 0);
    ck_assert_log(&lg, "tg-start tg-end");
}
END_TEST

START_TEST(test_EG1_set_eager_rejects_bad_loop)
{
    ck_assert_err(coio_loop_set_eager(NULL, 1), EINVAL);
    ck_assert_int_eq(coio_loop_get_eager(NULL), 0);
    /* A closed loop stays allocated while a task handle holds it. */
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    coio_task *t = coio_loop_spawn(l, NULL, returns_at_once, NULL);
    ck_assert_ptr_nonnull(t);
    capture_begin(); /* "Task was destroyed but it is pending!" */
    ck_assert_int_eq(coio_loop_close(l), 0);
    capture_end();
    ck_assert_err(coio_loop_set_eager(l, 1), EINVAL);
    ck_assert_int_eq(coio_loop_get_eager(l), 0);
    coio_task_release(t);
}
END_TEST

static Suite *eager_suite(void)
{
    Suite *s = suite_create("eager");
    TCase *tc = tcase_create("eager");
    tcase_add_test(tc, test_EG1_eager_first_step_runs_inside_spawn);
    tcase_add_test(tc, test_EG1_eager_from_loop_context_and_lazy_when_not_running);
    tcase_add_test(tc, test_EG1_set_eager_rejects_bad_loop);
    tcase_add_test(tc, test_EG2_eager_completion_returns_done_task_never_queued);
    tcase_add_test(tc, test_EG2_eager_children_of_task_group);
    tcase_add_test(tc, test_EG3_eager_task_that_suspends_continues_scheduled);
    tcase_add_test(tc, test_EG4_current_task_is_the_new_task_then_restored);
    tcase_add_test(tc, test_EG5_done_callbacks_of_eager_task_scheduled_with_call_soon);
    tcase_add_test(tc, test_EG6_eager_children_start_in_order_before_parent_continues);
    tcase_add_test(tc, test_EG6_eager_spawns_nest);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(eager_suite)
