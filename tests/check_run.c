/* check_run.c — Suite "run": coio_run (R1, R2: result, errors, shutdown of the
 * tasks left over) and two threads each running their own loop at once. */
#include "helpers.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

static evlog ev;

static void reset(void) { memset(&ev, 0, sizeof ev); }

static void *ret_arg(void *arg) { return arg; }

/* ---- R1 -------------------------------------------------------------------------- */

static void *fail_body(void *arg)
{
    coio_sleep(0.001);
    coio_fail((int)(intptr_t)arg);
    return NULL;
}

static void *self_cancelling_main(void *arg)
{
    coio_cancel(coio_current_task());
    coio_sleep(10);
    return (void *)1;
}

static void *nested_run_main(void *arg)
{
    void *r = (void *)5;
    ck_assert_err(coio_run(ret_arg, NULL, &r), EBUSY);
    ck_assert_ptr_eq(r, (void *)5); /* untouched */
    return (void *)6;
}

START_TEST(test_R1_run_result_and_errors)
{
    reset();
    void *r = NULL;
    ck_assert_int_eq(coio_run(ret_arg, (void *)7, &r), 0);
    ck_assert_ptr_eq(r, (void *)7);
    ck_assert_int_eq(coio_run(ret_arg, (void *)7, NULL), 0); /* result may be NULL */
    ck_assert_err(coio_run(fail_body, (void *)(intptr_t)EIO, &r), EIO);
    ck_assert_err(coio_run(fail_body, (void *)(intptr_t)ECONNRESET, NULL), ECONNRESET);
    ck_assert_err(coio_run(self_cancelling_main, NULL, &r), ECANCELED);
    ck_assert_err(coio_run(NULL, NULL, &r), EINVAL);
    ck_assert_int_eq(coio_run(nested_run_main, NULL, &r), 0); /* EBUSY inside */
    ck_assert_ptr_eq(r, (void *)6);
    /* Each run made and closed its own loop: none is left current. */
    errno = 0;
    ck_assert_ptr_null(coio_loop_current());
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static coio_loop *user_loop;

static void *check_fresh_loop(void *arg)
{
    ck_assert_ptr_ne(coio_loop_current(), user_loop);
    return NULL;
}

START_TEST(test_R1_run_uses_fresh_loop_and_restores_current)
{
    reset();
    user_loop = coio_loop_new();
    ck_assert_ptr_eq(coio_loop_current(), user_loop);
    ck_assert_int_eq(coio_run(check_fresh_loop, NULL, NULL), 0);
    ck_assert_ptr_eq(coio_loop_current(), user_loop);
    ck_assert_int_eq(coio_loop_close(user_loop), 0);
}
END_TEST

static void *close_user_loop(void *arg)
{
    ck_assert_int_eq(coio_loop_close(user_loop), 0); /* the loop current before the run */
    return NULL;
}

START_TEST(test_R1_run_main_closes_previous_current_loop)
{
    reset();
    user_loop = coio_loop_new();
    ck_assert_int_eq(coio_run(close_user_loop, NULL, NULL), 0);
    errno = 0;
    ck_assert_ptr_null(coio_loop_current()); /* not the freed loop */
    ck_assert_int_eq(errno, EINVAL);
    /* The same with a loop run by hand. */
    user_loop = coio_loop_new();
    coio_loop *l = coio_loop_new();
    coio_task *t = coio_loop_spawn(l, NULL, close_user_loop, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, t, NULL), 0);
    coio_task_release(t);
    ck_assert_ptr_eq(coio_loop_current(), l);
    ck_assert_int_eq(coio_loop_close(l), 0);
}
END_TEST

START_TEST(test_R1_run_and_loop_new_emfile)
{
    reset();
    int fd = dup(0); /* the lowest free descriptor number */
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    struct rlimit low = {(rlim_t)fd, rl.rlim_max}; /* no descriptor left */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    errno = 0;
    coio_loop *l = coio_loop_new();
    int e = errno;
    errno = 0;
    int rc = coio_run(ret_arg, NULL, NULL);
    int e2 = errno;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_ptr_null(l);
    ck_assert_int_eq(e, EMFILE);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(e2, EMFILE);
    errno = 0;
    ck_assert_ptr_null(coio_loop_current()); /* nothing half-made was left current */
    ck_assert_int_eq(errno, EINVAL);
    /* Room for the poller but not for what comes after it. */
    low.rlim_cur = (rlim_t)fd + 1;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    l = coio_loop_new();
    e = errno;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    if (l) /* this build's loop needs one descriptor only */
        ck_assert_int_eq(coio_loop_close(l), 0);
    else
        ck_assert_int_eq(e, EMFILE);
    ck_assert_int_eq(coio_run(ret_arg, NULL, NULL), 0);
}
END_TEST

/* ---- R2 -------------------------------------------------------------------------- */

static int dtor_calls;
static void free_dtor(void *p)
{
    dtor_calls++;
    free(p);
}

/* Spawned as main returns, or by a leftover during shutdown: each either never
   runs (its arg_dtor frees arg) or starts and is cancelled at its first wait. */
static int late_cancelled, late_other;
static void *late_body(void *arg)
{
    int rc = coio_sleep(100);
    if (rc < 0 && errno == ECANCELED)
        late_cancelled++;
    else
        late_other++;
    free(arg);
    return NULL;
}

static void *leftover(void *arg)
{
    const char *name = arg;
    int rc = coio_sleep(100);
    evlog_add(&ev, "%s:%s", name, rc < 0 && errno == ECANCELED ? "ECANCELED" : "?");
    ck_assert_int_eq(coio_sleep(0.005), 0); /* cleanup may still wait */
    evlog_add(&ev, "%s:cleanup", name);
    if (!strcmp(name, "spawner")) { /* spawning during shutdown: that one is cancelled too */
        coio_task_opts o = {.arg_dtor = free_dtor};
        coio_task_release(coio_spawn_opts(&o, late_body, malloc(4)));
    }
    if (!strcmp(name, "failer"))
        coio_fail_msg(EIO, "during shutdown");
    if (!strcmp(name, "absorber"))
        coio_absorb_cancel();
    return NULL;
}

static coio_task *kept;

static void *r2_main(void *arg)
{
    coio_task_release(coio_spawn(leftover, "a"));
    coio_task_release(coio_spawn(leftover, "spawner"));
    coio_task_release(coio_spawn(leftover, "failer"));
    kept = coio_spawn(leftover, "absorber");
    ck_assert_int_eq(coio_sleep(0.01), 0); /* all four are parked in sleep(100) */
    coio_task_opts o = {.arg_dtor = free_dtor};
    coio_task_release(coio_spawn_opts(&o, late_body, malloc(4)));
    return (void *)11;
}

START_TEST(test_R2_leftovers_cancelled_and_awaited)
{
    reset();
    dtor_calls = 0;
    late_cancelled = late_other = 0;
    void *r = NULL;
    fflush(stderr);
    FILE *cap = tmpfile();
    int saved = dup(2);
    dup2(fileno(cap), 2);
    double t0 = now();
    int rc = coio_run(r2_main, NULL, &r);
    double el = now() - t0;
    dup2(saved, 2);
    close(saved);
    char out[1024];
    rewind(cap);
    out[fread(out, 1, sizeof out - 1, cap)] = 0;
    fclose(cap);

    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_eq(r, (void *)11);
    ck_assert_time(el, 0.015, 2.0); /* not the leftovers' 100 s */
    ck_assert_log(&ev, "a:ECANCELED spawner:ECANCELED failer:ECANCELED absorber:ECANCELED "
                       "a:cleanup spawner:cleanup failer:cleanup absorber:cleanup");
    ck_assert_int_eq(late_cancelled + dtor_calls, 2);
    ck_assert_int_eq(late_other, 0);
    /* A leftover that failed while shutting down is reported. */
    ck_assert_msg(strstr(out, "Task exception was never retrieved") && strstr(out, "during shutdown"),
                  "stderr: '%s'", out);
    ck_assert_msg(!strstr(out, "destroyed but it is pending"), "stderr: '%s'", out);
    ck_assert_int_eq(coio_task_state(kept), COIO_FINISHED); /* it absorbed the cancel */
    coio_task_release(kept);
}
END_TEST

/* ---- two threads, two loops ------------------------------------------------------------ */

enum { STEPS = 3 };
static pthread_barrier_t start_bar, mid_bar;
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static char order[64];
static int norder;

struct thr {
    char id;          /* 'A' or 'B' */
    double start;     /* common time origin */
    coio_loop *loop;  /* the loop that ran in this thread */
    evlog log;        /* this thread's own event log */
    int rc;
    void *result;
    coio_event xd[STEPS], yd[STEPS]; /* x's / y's step k is logged */
};

struct step_arg {
    struct thr *th;
    char who;         /* 'x' or 'y' */
    double offset;    /* first wake-up, then every 0.06 s */
};

/* Sleep to absolute instants so that errors do not accumulate;
   x and y take turns (x1 y1 x2 ...): each waits for the other's previous
   step, so a late wake-up (a sleep whose target has passed is a plain yield)
   cannot reorder them. */
static void *stepper(void *p)
{
    struct step_arg *a = p;
    struct thr *th = a->th;
    for (int k = 0; k < STEPS; k++) {
        if (a->who == 'y')
            ck_assert_int_eq(coio_event_wait(&th->xd[k]), 0);
        else if (k > 0)
            ck_assert_int_eq(coio_event_wait(&th->yd[k - 1]), 0);
        double target = th->start + a->offset + 0.06 * k;
        ck_assert_int_eq(coio_sleep(target - now()), 0);
        evlog_add(&th->log, "%c%d", a->who, k + 1);
        coio_event_set(a->who == 'x' ? &th->xd[k] : &th->yd[k]);
        pthread_mutex_lock(&order_mu);
        order[norder++] = a->th->id;
        pthread_mutex_unlock(&order_mu);
    }
    return NULL;
}

static void *thread_main(void *p)
{
    struct thr *th = p;
    th->loop = coio_loop_current();
    for (int k = 0; k < STEPS; k++) {
        coio_event_init(&th->xd[k]);
        coio_event_init(&th->yd[k]);
    }
    /* Both loops run at once: each waits here, inside its coio_run, for the
       other (a loop that ran only after the other had ended hangs, and the
       case timeout fails the test). This replaces counting how often the
       threads' events interleave, which valgrind's one-thread-at-a-time
       scheduling made BBAAAAAABBBB. */
    pthread_barrier_wait(&mid_bar);
    struct step_arg x = {th, 'x', th->id == 'A' ? 0.015 : 0.030};
    struct step_arg y = {th, 'y', th->id == 'A' ? 0.045 : 0.060};
    coio_task *tx = coio_spawn(stepper, &x);
    coio_task *ty = coio_spawn(stepper, &y);
    ck_assert_int_eq(coio_await(tx, NULL), 0);
    ck_assert_int_eq(coio_await(ty, NULL), 0);
    coio_task_release(tx);
    coio_task_release(ty);
    return (void *)(intptr_t)th->id;
}

static void *thread_fn(void *p)
{
    struct thr *th = p;
    pthread_barrier_wait(&start_bar);
    th->rc = coio_run(thread_main, th, &th->result);
    return NULL;
}

START_TEST(test_two_threads_two_loops)
{
    reset();
    struct thr th[2];
    memset(th, 0, sizeof th);
    th[0].id = 'A';
    th[1].id = 'B';
    th[0].start = th[1].start = now() + 0.02;
    pthread_barrier_init(&start_bar, NULL, 2);
    pthread_barrier_init(&mid_bar, NULL, 2);
    pthread_t pt[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&pt[i], NULL, thread_fn, &th[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(pt[i], NULL);
    pthread_barrier_destroy(&start_bar);
    pthread_barrier_destroy(&mid_bar);
    double el = now() - th[0].start;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(th[i].rc, 0);
        ck_assert_ptr_eq(th[i].result, (void *)(intptr_t)th[i].id);
        ck_assert_log(&th[i].log, "x1 y1 x2 y2 x3 y3");
    }
    ck_assert_ptr_ne(th[0].loop, th[1].loop);
    ck_assert_int_eq(norder, 4 * STEPS);
    ck_assert_time(el, 0.06 * (STEPS - 1) + 0.06, 1.0);
    errno = 0;
    ck_assert_ptr_null(coio_loop_current()); /* this thread never had a loop */
}
END_TEST

static Suite *run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_add_test(tc, test_R1_run_result_and_errors);
    tcase_add_test(tc, test_R1_run_uses_fresh_loop_and_restores_current);
    tcase_add_test(tc, test_R1_run_main_closes_previous_current_loop);
    tcase_add_test(tc, test_R1_run_and_loop_new_emfile);
    tcase_add_test(tc, test_R2_leftovers_cancelled_and_awaited);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, test_two_threads_two_loops);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(run_suite)
