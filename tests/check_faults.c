/* check_faults.c — resource exhaustion, injected (built and run only by
 * `make check FAULTS=1`, best with SANITIZE=address; see src/fault.h).
 *
 * Each public operation runs with the Nth injection point failing, for
 * N = 1, 2, ... until the operation gets through without reaching the point
 * that would fail; then again with the Nth and every later point failing
 * ("sticky": the resource stays exhausted). Every run asserts that the
 * operation either failed cleanly (-1 or NULL with one of the errnos its
 * documentation allows) or succeeded with a correct result, that the loop
 * still works afterwards (a task sleeps, yields and returns its value;
 * a callback runs), that closing the loop succeeds, that no fd is left
 * open, and under ASan that nothing leaked (LeakSanitizer, checked after
 * every run, so that the report names the run).
 */
#include "helpers.h"

#define COIO_FAULT_NO_REDIRECT /* the test's own allocations are not points */
#include "fault.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECK 1
#endif
#endif
#ifdef LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

/* ---- the driver --------------------------------------------------------- */

static long g_n;          /* the point that fails */
static bool g_sticky;     /* and every later one */
static long g_fired;      /* failures injected in this run */
static const char *g_last; /* the last point that failed */
static int g_errno;       /* errno when the operation returned */

/* Start counting: the operation under test follows. */
static void arm(void) { coio__fault_arm(g_n, g_sticky); }

/* Stop counting; rc is the operation's result (0 or -1), returned as is,
   with errno saved for the driver. */
static int disarm(int rc)
{
    g_errno = rc < 0 ? errno : 0;
    g_fired += coio__fault_fired();
    if (coio__fault_fired())
        g_last = coio__fault_last();
    coio__fault_arm(0, false);
    return rc;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static void *ret_arg(void *arg)
{
    ck_assert_int_eq(coio_sleep(0.001), 0);
    ck_assert_int_eq(coio_yield(), 0);
    return arg;
}

static void bump(void *arg) { ++*(int *)arg; }

/* The loop the operation ran on still schedules tasks, timers and callbacks. */
static void loop_still_works(void)
{
    coio_task *t = coio_spawn(ret_arg, (void *)(intptr_t)42);
    ck_assert_ptr_nonnull(t);
    int ran = 0;
    coio_handle *h = coio_call_soon(coio_loop_current(), bump, &ran);
    ck_assert_ptr_nonnull(h);
    void *r = NULL;
    ck_assert_int_eq(coio_await(t, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)42);
    ck_assert_int_eq(ran, 1); /* (the handle was the loop's once it ran) */
    coio_task_release(t);
}

typedef int (*fault_op)(void);

static void *op_task(void *arg)
{
    fault_op op = (fault_op)(uintptr_t)arg;
    int rc = op();
    loop_still_works();
    return (void *)(intptr_t)rc;
}

static bool errno_in(int e, const int *errs)
{
    for (; *errs; errs++)
        if (*errs == e)
            return true;
    return false;
}

static const int RESOURCE[] = {ENOMEM, EMFILE, EAGAIN, 0};

enum { IN_TASK, BARE };

/* Drive op with the Nth point failing, one-shot and sticky, for every N until
   op reaches no failing point. Returns the number of points op passes when
   nothing fails. */
static long drive(const char *name, fault_op op, int where, const int *errs)
{
    long points = 0;
    for (int sticky = 0; sticky < 2; sticky++) {
        for (long n = 1;; n++) {
            ck_assert_msg(n < 2000, "%s: no end to the injection points", name);
            g_n = n;
            g_sticky = sticky;
            g_fired = 0;
            g_last = NULL;
            g_errno = 0;
            int fds0 = count_fds();
            int rc;
            if (where == IN_TASK) {
                coio_loop *l = coio_loop_new();
                ck_assert_ptr_nonnull(l);
                coio_task *t = coio_loop_spawn(l, NULL, op_task, (void *)(uintptr_t)op);
                ck_assert_ptr_nonnull(t);
                void *r = NULL;
                ck_assert_int_eq(coio_loop_run_until_complete(l, t, &r), 0);
                rc = (int)(intptr_t)r;
                coio_task_release(t);
                ck_assert_int_eq(coio_loop_close(l), 0);
            } else {
                rc = op();
            }
            ck_assert_msg(count_fds() == fds0, "%s, point %ld%s (%s) failing: %d fds leaked", name, n,
                          sticky ? " and on" : "", g_last ? g_last : "-", count_fds() - fds0);
#ifdef LEAK_CHECK
            ck_assert_msg(__lsan_do_recoverable_leak_check() == 0, "%s, point %ld%s (%s) failing: leak",
                          name, n, sticky ? " and on" : "", g_last ? g_last : "-");
#endif
            if (!g_fired) {
                ck_assert_msg(rc == 0, "%s failed with no fault injected: %s", name, strerror(g_errno));
                if (!sticky)
                    points = n - 1;
                break;
            }
            if (rc != 0)
                ck_assert_msg(errno_in(g_errno, errs), "%s, point %ld%s (%s) failing: errno %d (%s)", name,
                              n, sticky ? " and on" : "", g_last, g_errno, strerror(g_errno));
        }
    }
    if (getenv("COIO_FAULT_VERBOSE"))
        fprintf(stderr, "%s: %ld injection points\n", name, points);
    return points;
}

/* For operations documented to take no resource: they pass no point. */
#define DRIVE0(op, where)                                                                          \
    do {                                                                                           \
        long _p = drive(#op, op, where, RESOURCE);                                                 \
        ck_assert_msg(_p == 0, #op " passes %ld injection points", _p);                           \
    } while (0)

#define DRIVE(op, where, errs)                                                                     \
    do {                                                                                           \
        long _p = drive(#op, op, where, errs);                                                     \
        ck_assert_msg(_p >= 1, #op " passes no injection point");                                  \
    } while (0)

/* ---- loops ----------------------------------------------------------------- */

static int op_loop_new(void)
{
    arm();
    coio_loop *l = coio_loop_new();
    int rc = disarm(l ? 0 : -1);
    if (l) {
        coio_task *t = coio_loop_spawn(l, NULL, ret_arg, (void *)7);
        ck_assert_ptr_nonnull(t);
        void *r = NULL;
        ck_assert_int_eq(coio_loop_run_until_complete(l, t, &r), 0);
        ck_assert_ptr_eq(r, (void *)7);
        coio_task_release(t);
        ck_assert_int_eq(coio_loop_close(l), 0);
    }
    return rc;
}

START_TEST(test_fault_loop_new)
{
    DRIVE(op_loop_new, BARE, RESOURCE);
}
END_TEST

static void *main_body(void *arg)
{
    coio_yield(); /* the points are still armed: nothing here may need one */
    return arg;
}

static int op_run(void)
{
    arm();
    void *r = NULL;
    int rc = coio_run(main_body, (void *)9, &r);
    /* main's own spawns happen with the points still armed */
    rc = disarm(rc);
    if (rc == 0)
        ck_assert_ptr_eq(r, (void *)9);
    return rc;
}

START_TEST(test_fault_run)
{
    DRIVE(op_run, BARE, RESOURCE);
}
END_TEST

/* ---- tasks, callbacks, timers ------------------------------------------------ */

static int op_spawn_many(void)
{
    enum { N = 70 }; /* more than a slab of stacks (64) */
    coio_task *t[N];
    int n = 0;
    arm();
    for (; n < N; n++)
        if (!(t[n] = coio_spawn(ret_arg, (void *)(intptr_t)n)))
            break;
    int rc = disarm(n == N ? 0 : -1);
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        ck_assert_int_eq(coio_await(t[i], &r), 0);
        ck_assert_ptr_eq(r, (void *)(intptr_t)i);
        coio_task_release(t[i]);
    }
    return rc;
}

START_TEST(test_fault_spawn_many)
{
    DRIVE(op_spawn_many, IN_TASK, RESOURCE);
}
END_TEST

static int op_spawn_sized(void)
{
    coio_task_opts o = {.stack_size = 200 * 1024, .name = "sized"};
    arm();
    coio_task *a = coio_spawn_opts(&o, ret_arg, (void *)1);
    coio_task *b = a ? coio_spawn_opts(&o, ret_arg, (void *)2) : NULL;
    int rc = disarm(a && b ? 0 : -1);
    coio_task *v[2] = {a, b};
    for (int i = 0; i < 2; i++)
        if (v[i]) {
            void *r = NULL;
            ck_assert_int_eq(coio_await(v[i], &r), 0);
            ck_assert_ptr_eq(r, (void *)(intptr_t)(i + 1));
            ck_assert_str_eq(coio_task_name(v[i]), "sized");
            coio_task_release(v[i]);
        }
    return rc;
}

START_TEST(test_fault_spawn_own_stack)
{
    DRIVE(op_spawn_sized, IN_TASK, RESOURCE);
}
END_TEST

static int op_call_soon_later(void)
{
    enum { N = 40 };
    coio_handle *h[N];
    int ran = 0, n = 0;
    coio_loop *l = coio_loop_current();
    arm();
    for (; n < N; n++) {
        h[n] = n % 3 == 0 ? coio_call_soon(l, bump, &ran)
             : n % 3 == 1 ? coio_call_later(l, 0.001 * n, bump, &ran)
                          : coio_call_at(l, coio_loop_time(l) + 0.0005 * n, bump, &ran);
        if (!h[n])
            break;
    }
    int rc = disarm(n == N ? 0 : -1);
    ck_assert_int_eq(coio_sleep(0.05), 0);
    ck_assert_int_eq(ran, n); /* every handle made ran, and is gone */
    return rc;
}

START_TEST(test_fault_call_soon_later_at)
{
    DRIVE(op_call_soon_later, IN_TASK, RESOURCE);
}
END_TEST

static void *fail_with_msg(void *arg)
{
    coio_fail_msg(EIO, "it broke");
    return arg;
}

static void *sleep_long(void *arg)
{
    coio_sleep(10);
    return arg;
}

static void done_cb(coio_task *t, void *arg) { ++*(int *)arg; }

/* Futures, messages and done-callbacks: the small allocations. */
static int op_future_msgs(void)
{
    static int calls; /* the callback runs after b is done, on its own */
    calls = 0;
    int added = 0;
    arm();
    int rc = 0;
    coio_future *f = coio_future_new();
    coio_task *a = coio_spawn(fail_with_msg, NULL);
    coio_task *b = coio_spawn(sleep_long, NULL);
    if (!f || !a || !b)
        rc = -1;
    if (f && coio_future_set_error(f, EPIPE, "a message") < 0)
        rc = -1;
    if (b && coio_task_add_done_callback(b, done_cb, &calls) < 0)
        rc = -1;
    else if (b)
        added = 1;
    if (b && coio_cancel_msg(b, "stop now") < 0)
        rc = -1;
    rc = disarm(rc);
    if (f) {
        if (coio_future_done(f)) {
            ck_assert_int_eq(coio_task_error(f), EPIPE);
            const char *m = coio_task_error_message(f);
            ck_assert(m == NULL || strcmp(m, "a message") == 0); /* the message is best effort */
        }
        coio_future_release(f);
    }
    if (a) {
        ck_assert_int_eq(coio_await(a, NULL), -1);
        ck_assert_int_eq(errno, EIO);
        coio_task_release(a);
    }
    if (b) {
        coio_cancel(b);
        ck_assert_int_eq(coio_await(b, NULL), -1);
        ck_assert_int_eq(errno, ECANCELED);
        coio_absorb_cancel(); /* b's cancel, not ours */
        coio_task_release(b);
        ck_assert_int_eq(coio_sleep(0.001), 0); /* the callback's turn */
        ck_assert_int_eq(calls, added);
    }
    return rc;
}

START_TEST(test_fault_futures_messages_callbacks)
{
    DRIVE(op_future_msgs, IN_TASK, RESOURCE);
}
END_TEST

/* ---- combinators ---------------------------------------------------------------- */

enum { NCOMB = 40 }; /* more than the combinators' on-stack arrays */

/* ret_arg for tasks that the test may cancel: no assertion inside. */
static void *ret_arg_soft(void *arg)
{
    if (coio_sleep(0.001) < 0 || coio_yield() < 0)
        return NULL;
    return arg;
}

static int spawn_n(coio_task **t, int n, void *(*fn)(void *))
{
    for (int i = 0; i < n; i++)
        if (!(t[i] = coio_spawn(fn, (void *)(intptr_t)i))) {
            for (int j = 0; j < i; j++)
                coio_task_release(t[j]);
            return -1;
        }
    return 0;
}

static void finish_n(coio_task **t, int n)
{
    for (int i = 0; i < n; i++) {
        coio_cancel(t[i]);
        if (coio_await(t[i], NULL) < 0 && errno == ECANCELED)
            coio_absorb_cancel(); /* the child's cancel is not ours */
        coio_task_release(t[i]);
    }
}

static int op_gather(void)
{
    coio_task *t[NCOMB];
    ck_assert_int_eq(spawn_n(t, NCOMB, ret_arg_soft), 0);
    void *res[NCOMB];
    arm();
    int rc = disarm(coio_gather(t, NCOMB, res, NULL, 0));
    if (rc == 0)
        for (int i = 0; i < NCOMB; i++)
            ck_assert_ptr_eq(res[i], (void *)(intptr_t)i);
    finish_n(t, NCOMB);
    return rc;
}

START_TEST(test_fault_gather)
{
    DRIVE(op_gather, IN_TASK, RESOURCE);
}
END_TEST

static int op_wait(void)
{
    coio_task *t[NCOMB];
    ck_assert_int_eq(spawn_n(t, NCOMB, ret_arg_soft), 0);
    coio_task *done[NCOMB], *pend[NCOMB];
    size_t nd = 0, np = 0;
    arm();
    int rc = disarm(coio_wait(t, NCOMB, 5.0, COIO_ALL_COMPLETED, done, &nd, pend, &np));
    if (rc == 0) {
        ck_assert_uint_eq(nd, NCOMB);
        ck_assert_uint_eq(np, 0);
    }
    finish_n(t, NCOMB);
    return rc;
}

START_TEST(test_fault_wait)
{
    DRIVE(op_wait, IN_TASK, RESOURCE);
}
END_TEST

static int op_wait_for_shield(void)
{
    coio_task *t = coio_spawn(ret_arg, (void *)5);
    ck_assert_ptr_nonnull(t);
    arm();
    coio_future *s = coio_shield(t);
    void *r = NULL;
    int rc = s ? coio_wait_for(s, 5.0, &r) : -1;
    rc = disarm(rc);
    if (rc == 0)
        ck_assert_ptr_eq(r, (void *)5);
    if (s)
        coio_future_release(s);
    ck_assert_int_eq(coio_await(t, &r), 0);
    ck_assert_ptr_eq(r, (void *)5);
    coio_task_release(t);
    return rc;
}

START_TEST(test_fault_shield_wait_for)
{
    DRIVE(op_wait_for_shield, IN_TASK, RESOURCE);
}
END_TEST

static int op_as_completed(void)
{
    coio_task *t[NCOMB];
    ck_assert_int_eq(spawn_n(t, NCOMB, ret_arg_soft), 0);
    arm();
    int rc = 0, got = 0;
    coio_as_completed *it = coio_as_completed_new(t, NCOMB, 5.0);
    if (!it)
        rc = -1;
    for (; it && got < NCOMB; got++) {
        coio_task *d = NULL;
        if (coio_as_completed_next(it, &d) < 0) {
            rc = -1;
            break;
        }
        ck_assert_int_eq(coio_task_done(d), 1);
    }
    rc = disarm(rc);
    if (rc == 0)
        ck_assert_int_eq(got, NCOMB);
    coio_as_completed_free(it);
    finish_n(t, NCOMB);
    return rc;
}

START_TEST(test_fault_as_completed)
{
    DRIVE(op_as_completed, IN_TASK, RESOURCE);
}
END_TEST

/* ---- task groups and timeouts ------------------------------------------------------ */

static void *child_fails(void *arg)
{
    coio_sleep(0.001);
    coio_fail_msg(EIO, "child failed");
    return arg;
}

static int op_taskgroup(void)
{
    coio_taskgroup tg;
    arm();
    int rc = coio_taskgroup_enter(&tg);
    if (rc == 0) {
        int spawned = 0;
        for (int i = 0; i < 5; i++)
            spawned += coio_taskgroup_spawn(&tg, NULL, i == 4 ? child_fails : ret_arg, NULL) != NULL;
        int body = spawned == 5 ? 0 : -1;
        int e = errno;
        rc = coio_taskgroup_exit(&tg, body);
        int xe = errno;
        if (spawned == 5) { /* the failing child makes the group fail */
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(xe == COIO_EGROUP || errno_in(xe, RESOURCE), "errno %d", xe);
            rc = xe == COIO_EGROUP ? 0 : -1;
        } else {
            ck_assert_int_eq(rc, -1);
            errno = xe == COIO_EGROUP || xe == ECANCELED ? e : xe;
        }
        coio_taskgroup_dispose(&tg);
    }
    return disarm(rc);
}

START_TEST(test_fault_taskgroup)
{
    DRIVE(op_taskgroup, IN_TASK, RESOURCE);
}
END_TEST

/* Nested scopes: each holds a deadline in the loop's timer heap, which grows. */
static int op_timeout(void)
{
    enum { N = 100 };
    coio_timeout to[N];
    int n = 0, rc = 0;
    arm();
    for (; n < N; n++)
        if (coio_timeout_enter(&to[n], 0.01 + 0.001 * (N - n)) < 0) {
            rc = -1;
            break;
        }
    int e = errno;
    int body = coio_sleep(n == N ? 1.0 : 0.0);
    for (int i = n - 1; i >= 0; i--) {
        body = coio_timeout_exit(&to[i], body);
        /* The innermost expires first. Scopes that expired together pass the
           cancel outwards (ECANCELED) to the outermost of them, which turns it
           into ETIMEDOUT (asyncio's rule); the scopes outside see that. */
        if (n == N)
            ck_assert_msg(body == -1 && (errno == ETIMEDOUT || (errno == ECANCELED && i > 0)),
                          "scope %d of %d: %d, errno %d", i, n, body, errno);
        else
            ck_assert_int_eq(body, 0);
    }
    errno = e;
    return disarm(rc);
}

START_TEST(test_fault_timeout)
{
    DRIVE(op_timeout, IN_TASK, RESOURCE);
}
END_TEST

/* ---- queues and the sync primitives ---------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    return x < y ? -1 : x > y;
}

static int op_queue(void)
{
    enum { N = 300 }; /* past the initial capacity: it grows */
    arm();
    coio_queue *q[3] = {coio_queue_new(0), coio_lifo_queue_new(0), coio_priority_queue_new(0, cmp_int)};
    int rc = 0, put[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (!q[k]) {
            rc = -1;
            continue;
        }
        for (; put[k] < N; put[k]++)
            if (coio_queue_put(q[k], (void *)(intptr_t)(put[k] + 1)) < 0) {
                rc = -1;
                break;
            }
    }
    rc = disarm(rc);
    for (int k = 0; k < 3; k++) {
        if (!q[k])
            continue;
        if (put[k] < N) { /* a failed put left the queue usable */
            ck_assert_int_eq(coio_queue_put(q[k], (void *)(intptr_t)(put[k] + 1)), 0);
            put[k]++;
        }
        ck_assert_uint_eq(coio_queue_qsize(q[k]), (size_t)put[k]);
        for (int i = 0; i < put[k]; i++) {
            void *item = NULL;
            ck_assert_int_eq(coio_queue_get_nowait(q[k], &item), 0);
            intptr_t want = k == 1 ? put[k] - i : i + 1;
            ck_assert_int_eq((intptr_t)item, want);
        }
        ck_assert_int_eq(coio_queue_free(q[k]), 0);
    }
    return rc;
}

START_TEST(test_fault_queue_growth)
{
    DRIVE(op_queue, IN_TASK, RESOURCE);
}
END_TEST

static coio_lock g_lock;
static coio_semaphore g_sem;
static coio_event g_ev;

static void *contend(void *arg)
{
    if (coio_lock_acquire(&g_lock) < 0)
        return (void *)-1;
    coio_yield();
    coio_lock_release(&g_lock);
    if (coio_semaphore_acquire(&g_sem) < 0)
        return (void *)-1;
    coio_yield();
    coio_semaphore_release(&g_sem);
    return coio_event_wait(&g_ev) < 0 ? (void *)-1 : arg;
}

static int op_sync_waits(void)
{
    coio_lock_init(&g_lock);
    coio_event_init(&g_ev);
    ck_assert_int_eq(coio_semaphore_init(&g_sem, 2), 0);
    coio_task *t[6];
    for (int n = 0; n < 6; n++) /* spawning is driven elsewhere (op_spawn...) */
        ck_assert_ptr_nonnull(t[n] = coio_spawn(contend, (void *)(intptr_t)(n + 1)));
    /* Lock, semaphore and event waits use the caller's storage: contended
       waits, wake-ups and hand-overs pass no injection point at all. */
    arm();
    coio_sleep(0.005);
    coio_event_set(&g_ev);
    for (int i = 0; i < 6; i++) {
        void *r = NULL;
        ck_assert_int_eq(coio_await(t[i], &r), 0);
        ck_assert_ptr_eq(r, (void *)(intptr_t)(i + 1));
    }
    int rc = disarm(0);
    for (int i = 0; i < 6; i++)
        coio_task_release(t[i]);
    return rc;
}

START_TEST(test_fault_lock_semaphore_event_waits)
{
    DRIVE0(op_sync_waits, IN_TASK);
}
END_TEST

/* ---- fds, streams, servers ---------------------------------------------------------------- */

static int op_socket_wait(void)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    arm();
    int s = coio_socket(AF_INET, SOCK_STREAM, 0);
    int rc = s < 0 ? -1 : 0;
    if (rc == 0 && coio_write(sv[0], "x", 1) != 1)
        rc = -1;
    if (rc == 0 && coio_wait_readable(sv[1], 5.0) < 0)
        rc = -1;
    rc = disarm(rc);
    if (s >= 0)
        ck_assert_int_eq(coio_close(s), 0);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

START_TEST(test_fault_socket_and_fd_wait)
{
    DRIVE(op_socket_wait, IN_TASK, RESOURCE);
}
END_TEST

/* An fd far above the loop's table: the table grows. Reads and writes on it. */
static int op_high_fd(void)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int hi = fcntl(sv[1], F_DUPFD_CLOEXEC, 700);
    ck_assert_int_ge(hi, 700);
    close(sv[1]);
    char c = 0;
    arm();
    int rc = 0;
    if (coio_write(hi, "y", 1) != 1 || coio_read(sv[0], &c, 1) != 1)
        rc = -1;
    else
        ck_assert_int_eq(c, 'y');
    if (rc == 0 && coio_wait_writable(hi, 5.0) < 0)
        rc = -1;
    rc = disarm(rc);
    ck_assert_int_eq(coio_close(hi), 0);
    close(sv[0]);
    return rc;
}

START_TEST(test_fault_high_fd_table_growth)
{
    DRIVE(op_high_fd, IN_TASK, RESOURCE);
}
END_TEST

static int op_reader_writer(void)
{
    int pf[2];
    ck_assert_int_eq(pipe(pf), 0);
    coio_reader *r = NULL;
    coio_writer *w = NULL, *w2 = NULL;
    char big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof big - 1] = '\n';
    arm();
    int rc = coio_open_fd(pf[0], NULL, &r, NULL);
    if (rc < 0) { /* an fd passes to its stream only on success */
        close(pf[0]);
        close(pf[1]);
    } else if ((rc = coio_open_fd(pf[1], NULL, NULL, &w)) < 0) {
        close(pf[1]);
    }
    /* more than the pipe takes at once: the writer buffers and grows */
    for (int i = 0; rc == 0 && i < 5; i++)
        rc = coio_writer_write(w, big, sizeof big);
    char *line = malloc(sizeof big);
    ck_assert_ptr_nonnull(line);
    ssize_t got = 0;
    for (int i = 0; rc == 0 && i < 5; i++) {
        got = coio_reader_readline(r, line, sizeof big);
        if (got < 0)
            rc = -1;
        else
            ck_assert_int_eq(memcmp(line, big, sizeof big), 0);
    }
    if (rc == 0)
        rc = coio_writer_drain(w);
    rc = disarm(rc);
    free(line);
    (void)w2;
    if (w) {
        coio_writer_close(w);
        coio_writer_release(w);
    }
    if (r)
        coio_reader_release(r);
    return rc;
}

START_TEST(test_fault_reader_writer_pipe)
{
    static const int errs[] = {ENOMEM, EMFILE, EAGAIN, 0};
    DRIVE(op_reader_writer, IN_TASK, errs);
}
END_TEST

static int op_reader_buffer(void)
{
    arm();
    coio_reader *r = coio_reader_new(1 << 20);
    int rc = r ? 0 : -1;
    for (int i = 0; rc == 0 && i < 200; i++)
        rc = coio_reader_feed_data(r, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64);
    if (rc == 0)
        rc = coio_reader_feed_eof(r);
    void *all = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = coio_reader_read_all(r, &all, &len);
    rc = disarm(rc);
    if (rc == 0) {
        ck_assert_uint_eq(len, 200 * 64);
        free(all);
    }
    if (r)
        coio_reader_release(r);
    return rc;
}

/* writelines and readuntil over a socket pair, the writer's buffer growing. */
static int op_lines(void)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static char piece[3000];
    memset(piece, 'q', sizeof piece);
    coio_bytes v[40];
    for (int i = 0; i < 40; i++)
        v[i] = (coio_bytes){piece, sizeof piece};
    v[39] = (coio_bytes){"\r\n", 2};
    coio_reader *r = NULL;
    coio_writer *w = NULL;
    arm();
    int rc = coio_open_fd(sv[0], NULL, &r, &w);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
    }
    coio_reader *r2 = NULL;
    coio_writer *w2 = NULL;
    coio_stream_opts big = {.limit = 256 * 1024}; /* the line is 117 KB */
    if (rc == 0 && (rc = coio_open_fd(sv[1], &big, &r2, &w2)) < 0)
        close(sv[1]);
    if (rc == 0)
        rc = coio_writer_writelines(w, v, 40);
    static char buf[40 * 3000];
    coio_read_info info;
    ssize_t got = 0;
    if (rc == 0 && (got = coio_reader_readuntil(r2, buf, sizeof buf, "\r\n", 2, &info)) < 0)
        rc = -1;
    if (rc == 0)
        rc = coio_writer_drain(w);
    rc = disarm(rc);
    if (rc == 0) {
        ck_assert_int_eq(got, 39 * 3000 + 2);
        ck_assert_int_eq(buf[got - 1], '\n');
    }
    coio_writer *ws[2] = {w, w2};
    coio_reader *rs[2] = {r, r2};
    for (int i = 0; i < 2; i++) {
        if (ws[i])
            coio_writer_release(ws[i]);
        if (rs[i])
            coio_reader_release(rs[i]);
    }
    return rc;
}

START_TEST(test_fault_writelines_readuntil)
{
    DRIVE(op_lines, IN_TASK, RESOURCE);
}
END_TEST

START_TEST(test_fault_reader_buffer_growth)
{
    DRIVE(op_reader_buffer, IN_TASK, RESOURCE);
}
END_TEST

static int echo_cb(coio_reader *r, coio_writer *w, void *arg)
{
    char buf[256];
    ssize_t n;
    while ((n = coio_reader_readline(r, buf, sizeof buf)) > 0)
        if (coio_writer_write(w, buf, (size_t)n) < 0 || coio_writer_drain(w) < 0)
            break;
    return 0;
}

/* One line through the server and back, within 3 s: over TCP to host:port,
   or (host NULL) over the Unix socket at path. */
static int exchange_to(const char *host, int port, const char *path)
{
    coio_reader *r = NULL;
    coio_writer *w = NULL;
    coio_timeout to;
    ck_assert_int_eq(coio_timeout_enter(&to, 3.0), 0);
    int rc = host ? coio_open_connection(host, port, NULL, &r, &w)
                  : coio_open_unix_connection(path, NULL, &r, &w);
    if (rc == 0)
        rc = coio_writer_write(w, "ping\n", 5);
    if (rc == 0)
        rc = coio_writer_drain(w);
    char buf[16];
    ssize_t n = 0;
    if (rc == 0 && (n = coio_reader_readline(r, buf, sizeof buf)) <= 0) {
        if (n == 0) /* the server dropped the connection */
            errno = ECONNRESET;
        rc = -1;
    }
    int e = errno;
    rc = coio_timeout_exit(&to, rc);
    if (rc < 0 && errno != ETIMEDOUT)
        errno = e;
    if (rc == 0) {
        ck_assert_int_eq(n, 5);
        ck_assert_int_eq(memcmp(buf, "ping\n", 5), 0);
    }
    if (w) {
        coio_writer_close(w);
        coio_writer_wait_closed(w);
        coio_writer_release(w);
    }
    if (r)
        coio_reader_release(r);
    return rc;
}

static int exchange(int port) { return exchange_to("127.0.0.1", port, NULL); }

static int op_server_start(void)
{
    arm();
    coio_server *s = coio_start_server(echo_cb, NULL, "127.0.0.1", 0, NULL);
    int rc = disarm(s ? 0 : -1);
    if (s) {
        ck_assert_int_eq(exchange(coio_server_port(s)), 0);
        coio_server_close(s);
        ck_assert_int_eq(coio_server_wait_closed(s), 0);
        coio_server_release(s);
    }
    return rc;
}

START_TEST(test_fault_start_server)
{
    DRIVE(op_server_start, IN_TASK, RESOURCE);
}
END_TEST

/* The server was started before arming: the faults hit the client's connect
   and the server's accept and client task (the same thread). A one-shot fault
   on the server's side must not lose the connection (the acceptor retries);
   while every later point fails too, the exchange may time out instead. */
static int op_connection(void)
{
    coio_server *s = coio_start_server(echo_cb, NULL, "127.0.0.1", 0, NULL);
    ck_assert_ptr_nonnull(s);
    arm();
    int rc = disarm(exchange(coio_server_port(s)));
    /* Whatever failed, the server serves the next client. */
    ck_assert_int_eq(exchange(coio_server_port(s)), 0);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    coio_server_release(s);
    if (rc < 0 && g_errno == ETIMEDOUT)
        ck_assert_msg(g_sticky, "a single failure lost the connection (%s)", g_last);
    return rc;
}

START_TEST(test_fault_connection_accept_echo)
{
    static const int errs[] = {ENOMEM, EMFILE, EAGAIN, ETIMEDOUT, ECONNRESET, 0};
    DRIVE(op_connection, IN_TASK, errs);
}
END_TEST

static int op_unix_server(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/coio-faults-%d.sock", (int)getpid());
    arm();
    coio_server *s = coio_start_unix_server(echo_cb, NULL, path, NULL);
    int rc = disarm(s ? 0 : -1);
    if (s) {
        coio_server_close(s);
        ck_assert_int_eq(coio_server_wait_closed(s), 0);
        coio_server_release(s);
    }
    unlink(path);
    return rc;
}

START_TEST(test_fault_unix_server)
{
    DRIVE(op_unix_server, IN_TASK, RESOURCE);
}
END_TEST

/* By name: "localhost" is resolved on the thread pool (its thread, its job)
   and may give the server two sockets (127.0.0.1 and ::1). */
static int op_localhost(void)
{
    arm();
    coio_server *s = coio_start_server(echo_cb, NULL, "localhost", 0, NULL);
    int rc = s ? exchange_to("localhost", coio_server_port(s), NULL) : -1;
    rc = disarm(rc);
    if (s) {
        ck_assert_int_eq(exchange_to("localhost", coio_server_port(s), NULL), 0);
        coio_server_close(s);
        ck_assert_int_eq(coio_server_wait_closed(s), 0);
        coio_server_release(s);
    }
    if (rc < 0 && g_errno == ETIMEDOUT)
        ck_assert_msg(g_sticky, "a single failure lost the connection (%s)", g_last);
    return rc;
}

START_TEST(test_fault_localhost_server_and_connection)
{
    static const int errs[] = {ENOMEM, EMFILE, EAGAIN, ETIMEDOUT, ECONNRESET, 0};
    DRIVE(op_localhost, IN_TASK, errs);
}
END_TEST

static int op_unix_connection(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/coio-faults-c%d.sock", (int)getpid());
    coio_server *s = coio_start_unix_server(echo_cb, NULL, path, NULL);
    ck_assert_ptr_nonnull(s);
    arm();
    int rc = disarm(exchange_to(NULL, 0, path));
    ck_assert_int_eq(exchange_to(NULL, 0, path), 0); /* the next client is served */
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    coio_server_release(s);
    unlink(path);
    if (rc < 0 && g_errno == ETIMEDOUT)
        ck_assert_msg(g_sticky, "a single failure lost the connection (%s)", g_last);
    return rc;
}

START_TEST(test_fault_unix_connection)
{
    static const int errs[] = {ENOMEM, EMFILE, EAGAIN, ETIMEDOUT, ECONNRESET, 0};
    DRIVE(op_unix_connection, IN_TASK, errs);
}
END_TEST

/* ---- subprocesses, threads, signals -------------------------------------------------------- */

static int op_subprocess(void)
{
    char *argv[] = {"sh", "-c", "read x; echo got $x; echo err >&2", NULL};
    coio_subprocess_opts o = {.in = {COIO_PIPE, -1}, .out = {COIO_PIPE, -1}, .err = {COIO_DEVNULL, -1}};
    coio_process *p = NULL;
    arm();
    int rc = coio_subprocess_exec(argv, &o, &p);
    void *out = NULL;
    size_t outlen = 0;
    int status = -1;
    if (rc == 0)
        rc = coio_process_communicate(p, "hi\n", 3, &out, &outlen, NULL, NULL);
    if (rc == 0)
        rc = coio_process_wait(p, &status);
    rc = disarm(rc);
    if (rc == 0) {
        ck_assert_uint_eq(outlen, 7);
        ck_assert_int_eq(memcmp(out, "got hi\n", 7), 0);
        ck_assert_int_eq(status, 0);
    }
    free(out);
    if (p) {
        if (rc < 0) {
            coio_process_kill(p);
            coio_process_wait(p, &status);
        }
        coio_process_release(p);
    }
    return rc;
}

START_TEST(test_fault_subprocess)
{
    DRIVE(op_subprocess, IN_TASK, RESOURCE);
}
END_TEST

static void *square(void *arg)
{
    intptr_t i = (intptr_t)arg;
    return (void *)(i * i);
}

static void *offload(void *arg)
{
    void *r = NULL;
    if (coio_to_thread(square, arg, &r) < 0)
        return (void *)-1;
    ck_assert_ptr_eq(r, (void *)((intptr_t)arg * (intptr_t)arg));
    return NULL;
}

static int op_to_thread(void)
{
    coio_task *t[4];
    arm();
    int n = 0;
    for (; n < 4; n++)
        if (!(t[n] = coio_spawn(offload, (void *)(intptr_t)(n + 3))))
            break;
    int rc = n == 4 ? 0 : -1;
    int e = errno;
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        ck_assert_int_eq(coio_await(t[i], &r), 0);
        if (r) {
            rc = -1;
            e = EAGAIN; /* offload's own failure; its errno is in the task */
        }
        coio_task_release(t[i]);
    }
    errno = e;
    rc = disarm(rc);
    void *r = NULL; /* the default pool works afterwards */
    ck_assert_int_eq(coio_to_thread(square, (void *)7, &r), 0);
    ck_assert_ptr_eq(r, (void *)49);
    return rc;
}

START_TEST(test_fault_to_thread)
{
    DRIVE(op_to_thread, IN_TASK, RESOURCE);
}
END_TEST

static int op_executor(void)
{
    arm();
    coio_executor *ex = coio_executor_new(2);
    int rc = ex ? 0 : -1;
    for (intptr_t i = 0; rc == 0 && i < 4; i++) {
        void *r = NULL;
        rc = coio_run_in_executor(ex, square, (void *)i, &r);
        if (rc == 0)
            ck_assert_ptr_eq(r, (void *)(i * i));
    }
    rc = disarm(rc);
    if (ex) { /* the pool works afterwards */
        void *r = NULL;
        ck_assert_int_eq(coio_run_in_executor(ex, square, (void *)9, &r), 0);
        ck_assert_ptr_eq(r, (void *)81);
        ck_assert_int_eq(coio_executor_free(ex), 0);
    }
    return rc;
}

START_TEST(test_fault_executor)
{
    DRIVE(op_executor, IN_TASK, RESOURCE);
}
END_TEST

static void on_usr1(int sig, void *arg) { ++*(int *)arg; }

static int op_signal(void)
{
    static int hits;
    hits = 0;
    arm();
    int rc = coio_add_signal_handler(SIGUSR1, on_usr1, &hits);
    if (rc == 0) {
        kill(getpid(), SIGUSR1);
        for (int i = 0; i < 200 && !hits; i++)
            coio_sleep(0.005);
        ck_assert_int_eq(hits, 1);
        ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), 1);
    }
    return disarm(rc);
}

START_TEST(test_fault_signal_handler)
{
    DRIVE0(op_signal, IN_TASK); /* the handler table is static */
}
END_TEST

/* coio_call_soon_threadsafe from another thread, whose points are armed there. */
struct xarg {
    coio_loop *l;
    int *ran;
    int rc, err, n;
    long fired;
};

static void *other_thread(void *p)
{
    struct xarg *x = p;
    coio__fault_arm(g_n, g_sticky);
    x->rc = 0;
    for (x->n = 0; x->n < 100; x->n++)
        if (coio_call_soon_threadsafe(x->l, bump, x->ran) < 0) {
            x->rc = -1;
            x->err = errno;
            break;
        }
    x->fired = coio__fault_fired();
    coio__fault_arm(0, false);
    return NULL;
}

static void *join_it(void *p)
{
    pthread_join(*(pthread_t *)p, NULL);
    return NULL;
}

static int op_threadsafe_calls(void)
{
    int ran = 0;
    struct xarg x = {coio_loop_current(), &ran, 0, 0, 0, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &x), 0);
    /* join without blocking the loop, which runs the callbacks meanwhile */
    ck_assert_int_eq(coio_to_thread(join_it, &th, NULL), 0);
    for (int i = 0; i < 200 && ran < x.n; i++)
        coio_sleep(0.002);
    ck_assert_int_eq(ran, x.n); /* every accepted call ran, once */
    x.ran = &ran; /* and the queue takes calls again */
    ck_assert_int_eq(coio_call_soon_threadsafe(x.l, bump, &ran), 0);
    ck_assert_int_eq(coio_sleep(0.001), 0);
    ck_assert_int_eq(ran, x.n + 1);
    g_fired += x.fired;
    g_errno = x.err;
    return x.rc;
}

START_TEST(test_fault_call_soon_threadsafe)
{
    DRIVE(op_threadsafe_calls, IN_TASK, RESOURCE);
}
END_TEST

static int op_debug_mode(void)
{
    coio_loop *l = coio_loop_current();
    ck_assert_int_eq(coio_loop_set_debug(l, 1), 0);
    arm();
    coio_task *t = coio_spawn(ret_arg, (void *)3);
    void *r = NULL;
    int rc = t ? coio_await(t, &r) : -1;
    rc = disarm(rc);
    if (t) {
        ck_assert_ptr_eq(r, (void *)3);
        ck_assert_int_gt(coio_task_stack_used(t, NULL), 0);
        coio_task_release(t);
    }
    ck_assert_int_eq(coio_loop_set_debug(l, 0), 0);
    return rc;
}

START_TEST(test_fault_debug_mode_spawn)
{
    DRIVE(op_debug_mode, IN_TASK, RESOURCE);
}
END_TEST

/* One case per test, so that CK_RUN_CASE=test_fault_x runs one (with
   COIO_FAULT_TRACE=1 to see each injected failure's stack). */
#define ADD(s, test)                                                                               \
    do {                                                                                           \
        TCase *tc = tcase_create(#test);                                                           \
        tcase_set_timeout(tc, 300);                                                                \
        tcase_add_test(tc, test);                                                                  \
        suite_add_tcase(s, tc);                                                                    \
    } while (0)

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    ADD(s, test_fault_loop_new);
    ADD(s, test_fault_run);
    ADD(s, test_fault_spawn_many);
    ADD(s, test_fault_spawn_own_stack);
    ADD(s, test_fault_call_soon_later_at);
    ADD(s, test_fault_futures_messages_callbacks);
    ADD(s, test_fault_gather);
    ADD(s, test_fault_wait);
    ADD(s, test_fault_shield_wait_for);
    ADD(s, test_fault_as_completed);
    ADD(s, test_fault_taskgroup);
    ADD(s, test_fault_timeout);
    ADD(s, test_fault_queue_growth);
    ADD(s, test_fault_lock_semaphore_event_waits);
    ADD(s, test_fault_socket_and_fd_wait);
    ADD(s, test_fault_reader_writer_pipe);
    ADD(s, test_fault_reader_buffer_growth);
    ADD(s, test_fault_writelines_readuntil);
    ADD(s, test_fault_high_fd_table_growth);
    ADD(s, test_fault_start_server);
    ADD(s, test_fault_connection_accept_echo);
    ADD(s, test_fault_unix_server);
    ADD(s, test_fault_localhost_server_and_connection);
    ADD(s, test_fault_unix_connection);
    ADD(s, test_fault_subprocess);
    ADD(s, test_fault_to_thread);
    ADD(s, test_fault_executor);
    ADD(s, test_fault_signal_handler);
    ADD(s, test_fault_call_soon_threadsafe);
    ADD(s, test_fault_debug_mode_spawn);
    return s;
}

COIO_TEST_MAIN(faults_suite)
