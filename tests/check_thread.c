/* check_thread.c — crossing threads: coio_call_soon_threadsafe (X1) and the
 * thread pools behind coio_run_in_executor / coio_to_thread (X2), with their
 * cancellation rules, result passing and lifetimes.
 */
#include "helpers.h"

#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

/* Thread ids of this process, from /proc/self/task, into v (at most max);
   returns how many. */
static int list_threads(long *v, int max)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            ck_assert_int_lt(n, max);
            v[n++] = strtol(e->d_name, NULL, 10);
        }
    closedir(d);
    return n;
}

enum { MAX_TIDS = 256 };
static long base_tids[MAX_TIDS];
static int nbase = -1;

static void *no_op(void *arg) { return arg; }

/* Remember the threads that exist now, after creating and joining one:
   a sanitizer may start a helper thread of its own with the first
   pthread_create (ThreadSanitizer does), and libcheck or libc may have
   theirs. count_threads() counts only threads started after this. */
static void threads_baseline(void)
{
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, no_op, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    nbase = list_threads(base_tids, MAX_TIDS);
}

/* Threads that did not exist at threads_baseline() (a joined thread that
   lingers in /proc a moment is in the baseline, and is not counted). */
static int count_threads(void)
{
    ck_assert_int_ge(nbase, 0);
    long v[MAX_TIDS];
    int n = list_threads(v, MAX_TIDS), fresh = 0;
    for (int i = 0; i < n; i++) {
        int old = 0;
        for (int j = 0; j < nbase && !old; j++)
            old = v[i] == base_tids[j];
        fresh += !old;
    }
    return fresh;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

/* The thread count once it has come down to n (a joined thread may linger in
   /proc for a moment, under qemu-user especially); gives up after 2 s. */
static int threads_settle(int n)
{
    int c = count_threads();
    for (int i = 0; i < 200 && c > n; i++) {
        sleep_ms(10);
        c = count_threads();
    }
    return c;
}

/* Wait in a task until *flag is non-zero (polling: the flag is set by another
   thread that knows nothing of the loop). */
static void wait_flag(atomic_int *flag)
{
    double end = now() + 5 * slack();
    while (!atomic_load(flag) && now() < end)
        coio_sleep(0.002);
    ck_assert_int_ne(atomic_load(flag), 0);
}

/* ---- X1: call_soon_threadsafe --------------------------------------------------- */

static pthread_t loop_thread;

struct wake_ctx {
    coio_loop *loop;
    coio_future *fut;
    int in_task;            /* coio_current_task() was not NULL in the callback */
    int on_loop_thread;
    int post_rc;            /* the other thread's coio_call_soon_threadsafe */
};

static void complete_fut(void *arg)
{
    struct wake_ctx *c = arg;
    c->in_task = coio_current_task() != NULL;
    c->on_loop_thread = pthread_equal(pthread_self(), loop_thread);
    coio_future_set_result(c->fut, (void *)(intptr_t)7);
}

static void *poster_50ms(void *arg)
{
    struct wake_ctx *c = arg;
    sleep_ms(50);
    c->post_rc = coio_call_soon_threadsafe(c->loop, complete_fut, c);
    return NULL;
}

static void *main_wakes_blocked(void *arg)
{
    struct wake_ctx c = {coio_loop_current(), coio_future_new(), 0, 0, -1};
    loop_thread = pthread_self();
    /* Before the thread starts: on a loaded machine it may sleep its 50 ms
       before this thread runs again. */
    double t0 = now();
    pthread_t th;
    /* t0 before the thread exists: its 50 ms cannot start earlier (a t0 taken
       after pthread_create measured less when this thread was descheduled). */
    double t0 = now();
    ck_assert_int_eq(pthread_create(&th, NULL, poster_50ms, &c), 0);
    /* Nothing else is scheduled: the loop blocks in its poll with no timeout
       until the other thread's call wakes it. */
    void *r = NULL;
    ck_assert_int_eq(coio_await(c.fut, &r), 0);
    ck_assert_time(now() - t0, 0.045, 2.0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)7);
    ck_assert_int_eq(c.in_task, 0);
    ck_assert_int_eq(c.on_loop_thread, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(c.post_rc, 0);
    coio_future_release(c.fut);
    return NULL;
}

START_TEST(test_X1_threadsafe_wakes_loop_blocked_in_poll)
{
    ck_assert_int_eq(run_main(main_wakes_blocked, NULL, NULL), 0);
}
END_TEST

#define NPROD 4
#define PER_PROD 100000

struct flood {
    coio_loop *loop;
    coio_event done;
    long next[NPROD];       /* loop thread: the sequence number expected next */
    long total;
    long out_of_order;
    atomic_int go;
};

static struct flood *flood_ctx;

static void flood_cb(void *arg)
{
    struct flood *f = flood_ctx;
    uintptr_t v = (uintptr_t)arg;
    int who = (int)(v % NPROD);
    long seq = (long)(v / NPROD);
    if (seq != f->next[who])
        f->out_of_order++;
    f->next[who] = seq + 1;
    if (++f->total == (long)NPROD * PER_PROD)
        coio_event_set(&f->done);
}

struct producer {
    struct flood *f;
    int id;
    int failures;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    while (!atomic_load(&p->f->go))
        ;
    for (long i = 0; i < PER_PROD; i++) {
        uintptr_t v = (uintptr_t)i * NPROD + (uintptr_t)p->id;
        if (coio_call_soon_threadsafe(p->f->loop, flood_cb, (void *)v) != 0)
            p->failures++;
        if (i % 8192 == 0)
            sched_yield(); /* let the loop catch up and block now and then */
    }
    return NULL;
}

static void *main_flood(void *arg)
{
    static struct flood f;
    memset(&f, 0, sizeof f);
    f.loop = coio_loop_current();
    coio_event_init(&f.done);
    flood_ctx = &f;
    pthread_t th[NPROD];
    struct producer p[NPROD];
    for (int i = 0; i < NPROD; i++) {
        p[i] = (struct producer){&f, i, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    atomic_store(&f.go, 1);
    ck_assert_int_eq(coio_event_wait(&f.done), 0);
    for (int i = 0; i < NPROD; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(p[i].failures, 0);
    }
    /* Every call arrived exactly once, in each producer's order, and no
       extra one comes later. */
    coio_sleep(0.01);
    ck_assert_int_eq(f.total, (long)NPROD * PER_PROD);
    ck_assert_int_eq(f.out_of_order, 0);
    for (int i = 0; i < NPROD; i++)
        ck_assert_int_eq(f.next[i], PER_PROD);
    return NULL;
}

START_TEST(test_X1_4_threads_x_100000_each_call_exactly_once_in_order)
{
    ck_assert_int_eq(run_main(main_flood, NULL, NULL), 0);
}
END_TEST

static void log_cb(void *arg) { evlog_add(arg, "%s", coio_current_task() ? "task?" : "ts"); }
static void log_soon(void *arg) { evlog_add(arg, "soon"); }

static void *main_same_thread(void *arg)
{
    evlog *log = arg;
    coio_loop *l = coio_loop_current();
    ck_assert_ptr_nonnull(coio_call_soon(l, log_soon, log));
    ck_assert_int_eq(coio_call_soon_threadsafe(l, log_cb, log), 0);
    evlog_add(log, "posted");
    coio_sleep(0.01);
    evlog_add(log, "end");
    return NULL;
}

START_TEST(test_X1_threadsafe_from_the_loop_thread_itself)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(main_same_thread, &log, NULL), 0);
    /* Never synchronous; runs as a plain callback after what was queued. */
    ck_assert_log(&log, "posted soon ts end");
}
END_TEST

static void never(void *arg) { ck_abort_msg("callback of a closed loop ran"); }

START_TEST(test_X1_threadsafe_errors)
{
    errno = 0;
    ck_assert_int_eq(coio_call_soon_threadsafe(NULL, never, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    errno = 0;
    ck_assert_int_eq(coio_call_soon_threadsafe(l, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* A future keeps the closed loop's memory: the call must see it is
       closed. */
    coio_future *f = coio_future_new();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(coio_loop_close(l), 0);
    errno = 0;
    ck_assert_int_eq(coio_call_soon_threadsafe(l, never, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_future_release(f);
}
END_TEST

static int ran_count;
static void count_cb(void *arg) { ran_count++; }

START_TEST(test_X1_calls_pending_at_close_are_dropped)
{
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    ran_count = 0;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(coio_call_soon_threadsafe(l, count_cb, NULL), 0);
    ck_assert_int_eq(coio_loop_close(l), 0);
    ck_assert_int_eq(ran_count, 0);
}
END_TEST

START_TEST(test_X1_calls_posted_before_run_run_in_the_first_iteration)
{
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    ran_count = 0;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(coio_call_soon_threadsafe(l, count_cb, NULL), 0);
    ck_assert_int_eq(coio_loop_stop(l), 0); /* run exactly one iteration */
    ck_assert_int_eq(coio_loop_run_forever(l), 0);
    ck_assert_int_eq(ran_count, 3);
    ck_assert_int_eq(coio_loop_close(l), 0);
}
END_TEST

/* ---- X2: executors --------------------------------------------------------------- */

static void *plus_one_on(void *arg)
{
    pthread_t *where = arg;
    *where = pthread_self();
    return (void *)((intptr_t)41 + 1);
}

static void *main_to_thread(void *arg)
{
    pthread_t where = pthread_self(), me = pthread_self();
    void *r = NULL;
    ck_assert_int_eq(coio_to_thread(plus_one_on, &where, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)42);
    ck_assert(!pthread_equal(where, me));
    /* result may be NULL */
    ck_assert_int_eq(coio_to_thread(plus_one_on, &where, NULL), 0);
    return NULL;
}

START_TEST(test_X2_to_thread_runs_fn_on_another_thread_and_returns_result)
{
    ck_assert_int_eq(run_main(main_to_thread, NULL, NULL), 0);
}
END_TEST

struct gate {
    sem_t open;
    atomic_int started;
    atomic_int finished;
};

static void *blocker(void *arg)
{
    struct gate *g = arg;
    atomic_store(&g->started, 1);
    sem_wait(&g->open);
    atomic_store(&g->finished, 1);
    return (void *)(intptr_t)5;
}

static atomic_int marker_ran;
static void *marker(void *arg)
{
    atomic_store(&marker_ran, 1);
    return NULL;
}

struct exec_arg {
    coio_executor *ex;
    void *(*fn)(void *);
    void *arg;
    int rc, err;
    void *result;
};

static void *call_in_executor(void *p)
{
    struct exec_arg *a = p;
    a->rc = coio_run_in_executor(a->ex, a->fn, a->arg, &a->result);
    a->err = a->rc < 0 ? errno : 0;
    return NULL;
}

static void *main_cancel_queued(void *arg)
{
    coio_executor *ex = arg;
    static struct gate g;
    sem_init(&g.open, 0, 0);
    atomic_store(&g.started, 0);
    atomic_store(&marker_ran, 0);
    struct exec_arg a = {ex, blocker, &g, 0, 0, NULL};
    struct exec_arg b = {ex, marker, NULL, 0, 0, NULL};
    coio_task *ta = coio_spawn(call_in_executor, &a);
    wait_flag(&g.started);                  /* the only thread is busy */
    coio_task *tb = coio_spawn(call_in_executor, &b);
    coio_sleep(0.01);                       /* b's call is queued behind a's */
    ck_assert_int_eq(coio_task_done(tb), 0);
    ck_assert_int_eq(coio_cancel(tb), 1);
    ck_assert_int_eq(coio_await(tb, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1); /* tb's cancel, not ours */
    ck_assert_int_eq(b.rc, -1);
    ck_assert_int_eq(b.err, ECANCELED);
    sem_post(&g.open);
    ck_assert_int_eq(coio_await(ta, NULL), 0);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_ptr_eq(a.result, (void *)(intptr_t)5);
    coio_task_release(ta);
    coio_task_release(tb);
    sem_destroy(&g.open);
    return NULL;
}

START_TEST(test_X2_cancel_before_start_fn_never_runs)
{
    coio_executor *ex = coio_executor_new(1);
    ck_assert_ptr_nonnull(ex);
    ck_assert_int_eq(run_main(main_cancel_queued, ex, NULL), 0);
    ck_assert_int_eq(coio_executor_free(ex), 0); /* joins: nothing runs after this */
    ck_assert_int_eq(atomic_load(&marker_ran), 0);
}
END_TEST

static void *main_cancel_self_then_offload(void *arg)
{
    atomic_store(&marker_ran, 0);
    /* A cancel pending when the call suspends is delivered there, before any
       thread could take fn. */
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_int_eq(coio_to_thread(marker, NULL, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    return (void *)(intptr_t)3;
}

START_TEST(test_X2_pending_cancel_delivered_at_submission_fn_never_runs)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(main_cancel_self_then_offload, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)3);
    /* coio_run joined the default pool: marker had every chance to run. */
    ck_assert_int_eq(atomic_load(&marker_ran), 0);
}
END_TEST

static atomic_int slow_started, slow_finished, dtor_calls;

static void *slow_alloc(void *arg)
{
    atomic_store(&slow_started, 1);
    sleep_ms(150);
    int *v = malloc(sizeof *v);
    *v = 99;
    atomic_store(&slow_finished, 1);
    return v;
}

static atomic_int dtor_bad_value;

/* May run on a pool thread: records, never asserts. */
static void count_free(void *p)
{
    atomic_fetch_add(&dtor_calls, 1);
    if (*(int *)p != 99)
        atomic_store(&dtor_bad_value, 1);
    free(p);
}

struct honest {
    double returned_at;
    int finished_at_return;
    int rc, err;
};

static void *offload_slow(void *arg)
{
    struct honest *h = arg;
    coio_executor_opts o = {.result_dtor = count_free};
    void *r = NULL;
    h->rc = coio_run_in_executor_opts(NULL, &o, slow_alloc, NULL, &r);
    h->err = errno;
    h->returned_at = now();
    h->finished_at_return = atomic_load(&slow_finished);
    ck_assert_ptr_null(r); /* untouched on failure */
    return NULL;
}

static void *main_cancel_running(void *arg)
{
    atomic_store(&slow_started, 0);
    atomic_store(&slow_finished, 0);
    atomic_store(&dtor_calls, 0);
    struct honest h = {0, 0, 0, 0};
    coio_task *t = coio_spawn(offload_slow, &h);
    wait_flag(&slow_started);
    double t0 = now();
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_cancel(t), 1); /* still pending: every request counts */
    coio_sleep(0.03);
    ck_assert_int_eq(coio_task_done(t), 0); /* waits for fn, honestly */
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1); /* t's cancel, not ours */
    ck_assert_int_eq(coio_task_cancelled(t), 1);
    ck_assert_int_eq(h.rc, -1);
    ck_assert_int_eq(h.err, ECANCELED);
    ck_assert_int_eq(h.finished_at_return, 1);
    ck_assert_time(h.returned_at - t0, 0.05, 3.0);
    ck_assert_int_eq(atomic_load(&dtor_calls), 1);
    ck_assert_int_eq(atomic_load(&dtor_bad_value), 0);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_X2_cancel_while_running_waits_for_fn_then_ecanceled)
{
    ck_assert_int_eq(run_main(main_cancel_running, NULL, NULL), 0);
}
END_TEST

static void *main_leaves_offload_running(void *arg)
{
    atomic_store(&slow_started, 0);
    atomic_store(&slow_finished, 0);
    atomic_store(&dtor_calls, 0);
    static struct honest h;
    coio_task *t = coio_spawn(offload_slow, &h);
    coio_task_release(t);
    wait_flag(&slow_started);
    return NULL; /* coio_run's shutdown cancels t, which waits for fn */
}

START_TEST(test_X2_coio_run_shutdown_waits_for_running_call)
{
    ck_assert_int_eq(run_main(main_leaves_offload_running, NULL, NULL), 0);
    ck_assert_int_eq(atomic_load(&slow_finished), 1);
    ck_assert_int_eq(atomic_load(&dtor_calls), 1);
    ck_assert_int_eq(atomic_load(&dtor_bad_value), 0);
}
END_TEST

static void *offload_slow_plain(void *arg)
{
    void *r = NULL;
    coio_executor_opts o = {.result_dtor = count_free};
    coio_run_in_executor_opts(NULL, &o, slow_alloc, NULL, &r);
    return r;
}

START_TEST(test_X2_loop_close_with_call_running_joins_and_frees_result)
{
    atomic_store(&slow_started, 0);
    atomic_store(&slow_finished, 0);
    atomic_store(&dtor_calls, 0);
    coio_loop *l = coio_loop_new();
    ck_assert_ptr_nonnull(l);
    coio_task *t = coio_loop_spawn(l, NULL, offload_slow_plain, NULL);
    ck_assert_ptr_nonnull(t);
    coio_task_release(t);
    while (!atomic_load(&slow_started)) {
        coio_loop_stop(l);
        coio_loop_run_forever(l);
    }
    /* The task is destroyed pending; close joins the default pool and the
       result nobody will take goes to the destructor. */
    ck_assert_int_eq(coio_loop_close(l), 0);
    ck_assert_int_eq(atomic_load(&slow_finished), 1);
    ck_assert_int_eq(atomic_load(&dtor_calls), 1);
    ck_assert_int_eq(atomic_load(&dtor_bad_value), 0);
}
END_TEST

static atomic_int active, max_active;

static void *busy_10ms(void *arg)
{
    int a = atomic_fetch_add(&active, 1) + 1;
    int m = atomic_load(&max_active);
    while (a > m && !atomic_compare_exchange_weak(&max_active, &m, a))
        ;
    sleep_ms(10);
    atomic_fetch_sub(&active, 1);
    return (void *)((intptr_t)arg * 3);
}

static void *offload_busy(void *arg)
{
    void *r = NULL;
    if (coio_to_thread(busy_10ms, arg, &r) < 0)
        return (void *)(intptr_t)-1;
    return r;
}

#define NCALLS 100

static void *main_many(void *arg)
{
    coio_task *t[NCALLS];
    for (intptr_t i = 0; i < NCALLS; i++)
        ck_assert_ptr_nonnull(t[i] = coio_spawn(offload_busy, (void *)i));
    void *res[NCALLS];
    ck_assert_int_eq(coio_gather(t, NCALLS, res, NULL, 0), 0);
    for (intptr_t i = 0; i < NCALLS; i++) {
        ck_assert_ptr_eq(res[i], (void *)(i * 3));
        coio_task_release(t[i]);
    }
    return NULL;
}

START_TEST(test_X2_many_concurrent_to_thread_calls)
{
    atomic_store(&active, 0);
    atomic_store(&max_active, 0);
    threads_baseline();
    ck_assert_int_eq(run_main(main_many, NULL, NULL), 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long size = cpus + 4 < 32 ? cpus + 4 : 32;
    ck_assert_int_ge(atomic_load(&max_active), 2);
    ck_assert_int_le(atomic_load(&max_active), size);
    ck_assert_int_eq(threads_settle(0), 0); /* the default pool was joined */
}
END_TEST

static void *count_in_fn(void *arg)
{
    return (void *)(intptr_t)count_threads();
}

static void *main_lazy(void *arg)
{
    ck_assert_int_eq(count_threads(), 0); /* a loop starts no thread */
    void *r = NULL;
    ck_assert_int_eq(coio_to_thread(count_in_fn, NULL, &r), 0);
    ck_assert_int_eq((int)(intptr_t)r, 1); /* one call, one thread */
    return NULL;
}

START_TEST(test_X2_default_pool_starts_on_first_use_and_is_joined_by_coio_run)
{
    threads_baseline();
    ck_assert_int_eq(run_main(main_lazy, NULL, NULL), 0);
    ck_assert_int_eq(threads_settle(0), 0);
}
END_TEST

static void *sum_sq(void *arg)
{
    intptr_t i = (intptr_t)arg;
    sleep_ms(1);
    return (void *)(i * i);
}

static void *offload_user_pool(void *arg)
{
    struct exec_arg *a = arg;
    a->rc = coio_run_in_executor(a->ex, sum_sq, a->arg, &a->result);
    return NULL;
}

static void *main_user_pool(void *arg)
{
    coio_executor *ex = arg;
    struct exec_arg a[20];
    coio_task *t[20];
    for (intptr_t i = 0; i < 20; i++) {
        a[i] = (struct exec_arg){ex, sum_sq, (void *)i, -1, 0, NULL};
        t[i] = coio_spawn(offload_user_pool, &a[i]);
    }
    ck_assert_int_eq(coio_gather(t, 20, NULL, NULL, 0), 0);
    for (intptr_t i = 0; i < 20; i++) {
        ck_assert_int_eq(a[i].rc, 0);
        ck_assert_ptr_eq(a[i].result, (void *)(i * i));
        coio_task_release(t[i]);
    }
    return NULL;
}

START_TEST(test_X2_user_pool_results_and_free_joins)
{
    threads_baseline();
    coio_executor *ex = coio_executor_new(3);
    ck_assert_ptr_nonnull(ex);
    ck_assert_int_eq(count_threads(), 0);
    ck_assert_int_eq(run_main(main_user_pool, ex, NULL), 0);
    int n1 = count_threads();
    ck_assert_int_ge(n1, 1);
    ck_assert_int_le(n1, 3);              /* the pool never exceeds its size */
    ck_assert_int_eq(coio_executor_free(ex), 0);
    ck_assert_int_eq(threads_settle(0), 0);
}
END_TEST

static void *free_own_pool(void *arg)
{
    errno = 0;
    int rc = coio_executor_free(arg);
    return (void *)(intptr_t)(rc == -1 && errno == EDEADLK);
}

static void *main_errors(void *arg)
{
    coio_executor *ex = arg;
    errno = 0;
    ck_assert_int_eq(coio_to_thread(NULL, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_run_in_executor(ex, NULL, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    void *r = NULL;
    ck_assert_int_eq(coio_run_in_executor(ex, free_own_pool, ex, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)1);
    return NULL;
}

START_TEST(test_X2_executor_errors)
{
    errno = 0;
    ck_assert_ptr_null(coio_executor_new(0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_executor_free(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_executor *ex = coio_executor_new(2);
    ck_assert_ptr_nonnull(ex);
    /* Outside a task. */
    errno = 0;
    ck_assert_int_eq(coio_to_thread(marker, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_run_in_executor(ex, marker, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(run_main(main_errors, ex, NULL), 0);
    ck_assert_int_eq(coio_executor_free(ex), 0);
}
END_TEST

static void *post_from_pool(void *arg)
{
    struct wake_ctx *c = arg;
    return (void *)(intptr_t)coio_call_soon_threadsafe(c->loop, complete_fut, c);
}

static void *main_pool_posts(void *arg)
{
    struct wake_ctx c = {coio_loop_current(), coio_future_new(), 0, 0, -1};
    loop_thread = pthread_self();
    void *rc = (void *)(intptr_t)-1;
    ck_assert_int_eq(coio_to_thread(post_from_pool, &c, &rc), 0);
    ck_assert_ptr_eq(rc, NULL);
    void *r = NULL;
    ck_assert_int_eq(coio_await(c.fut, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)7);
    ck_assert_int_eq(c.on_loop_thread, 1);
    coio_future_release(c.fut);
    return NULL;
}

START_TEST(test_X1_pool_thread_posts_back_to_the_loop)
{
    ck_assert_int_eq(run_main(main_pool_posts, NULL, NULL), 0);
}
END_TEST

/* ---- ThreadSanitizer sees tasks (built with SANITIZE=thread only) ----------- */

#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif

#ifdef TSAN_BUILD
#include <sys/wait.h>

/* TSan exits with this status from a process in which it reported. */
enum { TSAN_REPORTED = 66 };

/* Run fn in a child process; its exit status. The child's stderr (TSan's
   report) goes to /dev/null unless COIO_TSAN_SHOW is set. */
static int child_status(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!getenv("COIO_TSAN_SHOW"))
            freopen("/dev/null", "w", stderr);
        fn();
        exit(0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static long tsan_shared;         /* plain memory the tasks write */
static atomic_int tsan_arrived;  /* relaxed only: no happens-before for TSan */

static void *tsan_writer(void *arg)
{
    for (int i = 0; i < 20; i++) {
        tsan_shared++;
        if (coio_yield() < 0)
            return NULL;
    }
    return arg;
}

static void *tsan_loop_main(void *arg)
{
    coio_task *t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_ptr_nonnull(t[i] = coio_spawn(tsan_writer, NULL));
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(coio_await(t[i], NULL), 0);
        coio_task_release(t[i]);
    }
    return arg;
}

/* Two tasks of one loop write the same memory, switching between writes:
   the switches order them, so no report. */
static void one_loop_two_tasks(void)
{
    ck_assert_int_eq(run_main(tsan_loop_main, NULL, NULL), 0);
    ck_assert_int_eq(run_main(tsan_loop_main, NULL, NULL), 0);
    ck_assert_int_eq(tsan_shared, 80);
}

START_TEST(test_tsan_tasks_of_one_loop_do_not_race)
{
    ck_assert_int_eq(child_status(one_loop_two_tasks), 0);
}
END_TEST

/* A task on each of two threads' loops writes the same memory; the threads
   meet through relaxed atomics only, so nothing orders the writes. */
static void *tsan_racer(void *arg)
{
    tsan_shared++;
    atomic_fetch_add_explicit(&tsan_arrived, 1, memory_order_relaxed);
    while (atomic_load_explicit(&tsan_arrived, memory_order_relaxed) < 2)
        coio_sleep(0.001);
    tsan_shared++;
    return arg;
}

static void *tsan_racer_thread(void *arg)
{
    coio_run(tsan_racer, NULL, NULL);
    return arg;
}

static void two_loops_two_threads(void)
{
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, tsan_racer_thread, NULL), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
}

START_TEST(test_tsan_tasks_of_loops_on_two_threads_race)
{
    ck_assert_int_eq(child_status(two_loops_two_threads), TSAN_REPORTED);
}
END_TEST

/* A task hands memory to a thread-pool function and reads it back: the pool's
   queue and the loop's wake-up order the accesses, so no report. */
static void *tsan_pool_fn(void *arg)
{
    long *p = arg;
    *p = *p * 2 + 1;
    return arg;
}

static void *tsan_pool_main(void *arg)
{
    static long v;
    for (int i = 0; i < 10; i++) {
        v = i;
        void *r = NULL;
        ck_assert_int_eq(coio_to_thread(tsan_pool_fn, &v, &r), 0);
        ck_assert_int_eq(v, i * 2 + 1);
    }
    return arg;
}

static void task_and_pool(void)
{
    ck_assert_int_eq(run_main(tsan_pool_main, NULL, NULL), 0);
}

START_TEST(test_tsan_task_and_pool_function_do_not_race)
{
    ck_assert_int_eq(child_status(task_and_pool), 0);
}
END_TEST
#endif /* TSAN_BUILD */

static Suite *thread_suite(void)
{
    Suite *s = suite_create("thread");
    TCase *tc = tcase_create("threadsafe");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_X1_threadsafe_wakes_loop_blocked_in_poll);
    tcase_add_test(tc, test_X1_4_threads_x_100000_each_call_exactly_once_in_order);
    tcase_add_test(tc, test_X1_threadsafe_from_the_loop_thread_itself);
    tcase_add_test(tc, test_X1_threadsafe_errors);
    tcase_add_test(tc, test_X1_calls_pending_at_close_are_dropped);
    tcase_add_test(tc, test_X1_calls_posted_before_run_run_in_the_first_iteration);
    tcase_add_test(tc, test_X1_pool_thread_posts_back_to_the_loop);
    suite_add_tcase(s, tc);
    tc = tcase_create("executor");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_X2_to_thread_runs_fn_on_another_thread_and_returns_result);
    tcase_add_test(tc, test_X2_cancel_before_start_fn_never_runs);
    tcase_add_test(tc, test_X2_pending_cancel_delivered_at_submission_fn_never_runs);
    tcase_add_test(tc, test_X2_cancel_while_running_waits_for_fn_then_ecanceled);
    tcase_add_test(tc, test_X2_coio_run_shutdown_waits_for_running_call);
    tcase_add_test(tc, test_X2_loop_close_with_call_running_joins_and_frees_result);
    tcase_add_test(tc, test_X2_many_concurrent_to_thread_calls);
    tcase_add_test(tc, test_X2_default_pool_starts_on_first_use_and_is_joined_by_coio_run);
    tcase_add_test(tc, test_X2_user_pool_results_and_free_joins);
    tcase_add_test(tc, test_X2_executor_errors);
    suite_add_tcase(s, tc);
#ifdef TSAN_BUILD
    tc = tcase_create("tsan");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_tsan_tasks_of_one_loop_do_not_race);
    tcase_add_test(tc, test_tsan_tasks_of_loops_on_two_threads_race);
    tcase_add_test(tc, test_tsan_task_and_pool_function_do_not_race);
    suite_add_tcase(s, tc);
#endif
    return s;
}

COIO_TEST_MAIN(thread_suite)
