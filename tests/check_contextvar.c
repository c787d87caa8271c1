/* check_contextvar.c — context variables (CV1-CV6): get/default/lookup, set and reset
 * with tokens, a copy per task, callbacks in the context of their scheduling,
 * coio_to_thread in a copy and run_in_executor without it, and O(1) copies.
 */
#include "helpers.h"

#include <malloc.h>
#include <stdint.h>

typedef void (*body_fn)(void);

static void *run_body(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

#define RUN(body) ck_assert_int_eq(run_main(run_body, (void *)(body), NULL), 0)

static coio_contextvar *var, *var2;

static void setup(void)
{
    var = coio_contextvar_new("request_id", (void *)"none");
    var2 = coio_contextvar_new(NULL, NULL);
    ck_assert_ptr_nonnull(var);
    ck_assert_ptr_nonnull(var2);
}

static void teardown(void)
{
    coio_contextvar_free(var);
    coio_contextvar_free(var2);
}

/* ---- CV1, CV2 ---------------------------------------------------------------------------- */

static void cv1(void)
{
    ck_assert_str_eq(coio_contextvar_name(var), "request_id");
    ck_assert_str_eq(coio_contextvar_get(var), "none");
    void *v = (void *)1;
    ck_assert_int_eq(coio_contextvar_lookup(var2, &v), 0); /* LookupError */
    ck_assert_ptr_null(v);
    ck_assert_int_eq(coio_contextvar_set(var, "a", NULL), 0);
    ck_assert_int_eq(coio_contextvar_lookup(var, &v), 1);
    ck_assert_str_eq(v, "a");
    ck_assert_err(coio_contextvar_lookup(NULL, &v), EINVAL);
    ck_assert_ptr_null(coio_contextvar_get(NULL));
    ck_assert_err(coio_contextvar_set(NULL, "x", NULL), EINVAL);
}

START_TEST(test_CV1_get_default_and_lookup) { RUN(cv1); }
END_TEST

static void *reset_elsewhere(void *arg)
{
    coio_contextvar_token *tok = arg;
    return (void *)(intptr_t)(coio_contextvar_reset(var, tok) < 0 ? errno : 0);
}

static void cv2(void)
{
    coio_contextvar_token t1, t2;
    ck_assert_int_eq(coio_contextvar_set(var, "one", &t1), 0);
    ck_assert_int_eq(coio_contextvar_set(var, "two", &t2), 0);
    ck_assert_str_eq(coio_contextvar_get(var), "two");
    ck_assert_int_eq(coio_contextvar_reset(var, &t2), 0);
    ck_assert_str_eq(coio_contextvar_get(var), "one");
    ck_assert_err(coio_contextvar_reset(var, &t2), EPERM); /* used twice */
    ck_assert_int_eq(coio_contextvar_reset(var, &t1), 0);
    ck_assert_int_eq(coio_contextvar_lookup(var, NULL), 0); /* unset again */
    ck_assert_str_eq(coio_contextvar_get(var), "none");
    /* A token from another context. */
    coio_contextvar_token t3;
    coio_contextvar_set(var, "three", &t3);
    coio_task *t = coio_spawn(reset_elsewhere, &t3);
    void *res;
    ck_assert_int_eq(coio_await(t, &res), 0);
    ck_assert_int_eq((intptr_t)res, EINVAL);
    coio_task_release(t);
    ck_assert_err(coio_contextvar_reset(var2, &t3), EINVAL); /* another variable */
    ck_assert_err(coio_contextvar_reset(var, NULL), EINVAL);
    ck_assert_int_eq(coio_contextvar_reset(var, &t3), 0);
}

START_TEST(test_CV2_set_reset_tokens) { RUN(cv2); }
END_TEST

/* ---- CV3: a copy per task ------------------------------------------------------------------- */

static evlog lg;

static void *child(void *arg)
{
    evlog_add(&lg, "%s:%s", (char *)arg, (char *)coio_contextvar_get(var));
    coio_contextvar_set(var, arg, NULL);
    coio_sleep(0.01);
    evlog_add(&lg, "%s:%s", (char *)arg, (char *)coio_contextvar_get(var));
    return NULL;
}

static void *grandparent(void *arg)
{
    coio_contextvar_set(var, "gp", NULL);
    coio_task *t = coio_spawn(child, "c3");
    coio_await(t, NULL);
    coio_task_release(t);
    return NULL;
}

static void cv3(void)
{
    memset(&lg, 0, sizeof lg);
    coio_contextvar_set(var, "parent", NULL);
    coio_task *a = coio_spawn(child, "c1");
    coio_task *b = coio_spawn(child, "c2");
    /* Set after spawning: the children keep the value they were spawned with. */
    coio_contextvar_set(var, "parent2", NULL);
    coio_await(a, NULL);
    coio_await(b, NULL);
    coio_task_release(a);
    coio_task_release(b);
    ck_assert_log(&lg, "c1:parent c2:parent c1:c1 c2:c2");
    ck_assert_str_eq(coio_contextvar_get(var), "parent2");
    /* Grandchildren get their parent's context. */
    memset(&lg, 0, sizeof lg);
    coio_task *g = coio_spawn(grandparent, NULL);
    coio_await(g, NULL);
    coio_task_release(g);
    ck_assert_log(&lg, "c3:gp c3:c3");
    ck_assert_str_eq(coio_contextvar_get(var), "parent2");
}

START_TEST(test_CV3_task_runs_in_a_copy_of_the_spawners_context)
{
    /* The thread's own context is where coio_run's main task starts from. */
    coio_contextvar_set(var, "thread", NULL);
    RUN(cv3);
    ck_assert_str_eq(coio_contextvar_get(var), "thread");
}
END_TEST

/* ---- CV4: callbacks ---------------------------------------------------------------------------- */

static void cb(void *arg)
{
    evlog_add(&lg, "%s:%s", (char *)arg, (char *)coio_contextvar_get(var));
    coio_contextvar_set(var, "set-in-cb", NULL); /* the callback's copy only */
}

static void done_cb(coio_task *t, void *arg)
{
    evlog_add(&lg, "done:%s", (char *)coio_contextvar_get(var));
}

static void *noop(void *arg) { return NULL; }

static void *cb_spawner(void *arg)
{
    coio_contextvar_set(var, "task", NULL);
    ck_assert_ptr_nonnull(coio_call_soon(coio_loop_current(), cb, "soon"));
    ck_assert_ptr_nonnull(coio_call_later(coio_loop_current(), 0.04, cb, "later"));
    return NULL;
}

static void cv4(void)
{
    memset(&lg, 0, sizeof lg);
    coio_contextvar_set(var, "main", NULL);
    ck_assert_ptr_nonnull(coio_call_soon(coio_loop_current(), cb, "a"));
    coio_contextvar_set(var, "main2", NULL);
    ck_assert_ptr_nonnull(coio_call_later(coio_loop_current(), 0.02, cb, "b"));
    coio_task *t = coio_spawn(noop, NULL);
    coio_contextvar_set(var, "main3", NULL);
    coio_task_add_done_callback(t, done_cb, NULL);
    coio_contextvar_set(var, "main4", NULL);
    coio_task *s = coio_spawn(cb_spawner, NULL);
    coio_await(t, NULL);
    coio_await(s, NULL);
    coio_sleep(0.1 * slack());
    /* Each callback saw the context of its scheduling (the order of the first three
       is the loop's business; the timers come after them, in their order). */
    ck_assert_msg(strstr(lg.buf, "a:main ") && strstr(lg.buf, "done:main3 ") &&
                  strstr(lg.buf, "soon:task "), "log: %s", lg.buf);
    ck_assert_msg(strstr(lg.buf, " b:main2 later:task") != NULL, "log: %s", lg.buf);
    ck_assert_str_eq(coio_contextvar_get(var), "main4");
    coio_task_release(t);
    coio_task_release(s);
}

START_TEST(test_CV4_callbacks_run_in_the_context_they_were_scheduled_in) { RUN(cv4); }
END_TEST

/* ---- CV5: threads --------------------------------------------------------------------------------- */

static void *in_thread(void *arg)
{
    void *v = NULL;
    int found = coio_contextvar_lookup(var, &v);
    coio_contextvar_set(var, "thread-set", NULL);
    static char out[2][64];
    int i = arg != NULL;
    snprintf(out[i], sizeof out[i], "%d:%s", found, found ? (char *)v : "-");
    return out[i];
}

static void cv5(void)
{
    coio_contextvar_set(var, "caller", NULL);
    void *res;
    ck_assert_int_eq(coio_to_thread(in_thread, NULL, &res), 0);
    ck_assert_str_eq(res, "1:caller");
    ck_assert_str_eq(coio_contextvar_get(var), "caller"); /* the thread set its copy */
    coio_executor *ex = coio_executor_new(1);
    ck_assert_int_eq(coio_run_in_executor(ex, in_thread, (void *)1, &res), 0);
    ck_assert_str_eq(res, "0:-"); /* not propagated */
    coio_executor_free(ex);
}

START_TEST(test_CV5_to_thread_copies_the_context_run_in_executor_does_not) { RUN(cv5); }
END_TEST

/* ---- CV6: copies are O(1) ------------------------------------------------------------------------ */

#define NVARS 200
#define NTASKS 1000

static void *read_all(void *arg)
{
    coio_contextvar **vs = arg;
    for (int i = 0; i < NVARS; i++)
        if (coio_contextvar_get(vs[i]) != (void *)(intptr_t)(i + 1))
            return (void *)1;
    return NULL;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void cv6(void)
{
    static coio_contextvar *vs[NVARS];
    for (int i = 0; i < NVARS; i++) {
        vs[i] = coio_contextvar_new(NULL, NULL);
        coio_contextvar_set(vs[i], (void *)(intptr_t)(i + 1), NULL);
    }
    static coio_task *ts[NTASKS];
    /* Warm the allocator's and loop's own structures first. */
    coio_task *w = coio_spawn(read_all, vs);
    coio_await(w, NULL);
    coio_task_release(w);
    size_t before = heap_in_use();
    for (int i = 0; i < NTASKS; i++)
        ts[i] = coio_spawn(read_all, vs);
    size_t after = heap_in_use();
    /* A deep copy would be NVARS * 16 bytes per task: 3.2 MB here. */
    ck_assert_msg(after < before + 64 * 1024, "spawning grew the heap by %zu bytes",
                  after - before);
    for (int i = 0; i < NTASKS; i++) {
        void *res = (void *)1;
        ck_assert_int_eq(coio_await(ts[i], &res), 0);
        ck_assert_ptr_null(res);
        coio_task_release(ts[i]);
    }
    for (int i = 0; i < NVARS; i++)
        coio_contextvar_free(vs[i]);
}

START_TEST(test_CV6_spawning_does_not_copy_values) { RUN(cv6); }
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("contextvar");
    TCase *tc = tcase_create("contextvar");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_CV1_get_default_and_lookup);
    tcase_add_test(tc, test_CV2_set_reset_tokens);
    tcase_add_test(tc, test_CV3_task_runs_in_a_copy_of_the_spawners_context);
    tcase_add_test(tc, test_CV4_callbacks_run_in_the_context_they_were_scheduled_in);
    tcase_add_test(tc, test_CV5_to_thread_copies_the_context_run_in_executor_does_not);
    tcase_add_test(tc, test_CV6_spawning_does_not_copy_values);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(make_suite)
