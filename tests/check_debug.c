/* check_debug.c — debug mode: COIO_DEBUG and the setters (D1), slow callback and
 * task-step reports (D2), never-retrieved task errors in both modes (D3), stack
 * high-water marks, and EPERM for loop calls from a foreign thread (D5).
 */
#include "helpers.h"

#include <stdbool.h>

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

/* ---- stderr capture ------------------------------------------------------------ */


static int count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The duration of the report "coio: Executing WHAT took N.NNN seconds", or -1. */
static double reported(const char *out, const char *what)
{
    char key[256];
    snprintf(key, sizeof key, "coio: Executing %s took ", what);
    const char *p = strstr(out, key);
    double v;
    if (!p || sscanf(p + strlen(key), "%lf seconds", &v) != 1)
        return -1;
    return v;
}

/* Seconds this thread has waited on a CPU run queue so far (runnable but
   preempted): the second field of /proc/thread-self/schedstat; 0 where that is
   unavailable (then the checks below are strict). */
static double run_delay(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long run = 0, wait = 0;
    int n = f ? fscanf(f, "%llu %llu", &run, &wait) : 0;
    if (f)
        fclose(f);
    return n == 2 ? (double)wait / 1e9 : 0;
}

/* Check every "coio: Executing X took N seconds" report in out: those naming
   one of want[0..nwant) with N >= lo are the expected ones and are counted;
   any other is a fast step or callback during which the process was
   preempted (debug mode times wall clock, as asyncio), so N may be at most
   the run-queue delay of the run (delay) plus 5 ms. Returns the count. */
static int check_reports(const char *out, const char *const *want, int nwant, double lo, double delay)
{
    const char *key = "coio: Executing ";
    int count = 0;
    for (const char *p = out; (p = strstr(p, key)); p += strlen(key)) {
        const char *eol = strchr(p, '\n');
        const char *took = strstr(p, " took ");
        double v;
        ck_assert_msg(took && (!eol || took < eol) && sscanf(took, " took %lf seconds", &v) == 1,
                      "%s", out);
        bool expected = false;
        for (int i = 0; i < nwant; i++) {
            const char *w = strstr(p, want[i]);
            if (w && w < took && v >= lo)
                expected = true;
        }
        if (expected)
            count++;
        else
            ck_assert_msg(v <= delay + 0.005, "unexpected report (run-queue delay %.4f s): %s", delay, out);
    }
    return count;
}

/* The slow-callback threshold of these tests; busy steps take twice as long. */
static double thr(void) { return 0.02 * slack(); }

static void spin(double s)
{
    double end = now() + s;
    while (now() < end)
        ;
}

/* ---- D1 ------------------------------------------------------------------------ */

static void *d1_main(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)coio_loop_get_debug(coio_loop_current());
}

START_TEST(test_D1_env_var_and_setter)
{
    const char *vals[] = {"1", "yes", "0", ""};
    const int want[] = {1, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        setenv("COIO_DEBUG", vals[i], 1);
        coio_loop *l = coio_loop_new();
        ck_assert_ptr_nonnull(l);
        ck_assert_msg(coio_loop_get_debug(l) == want[i], "COIO_DEBUG='%s'", vals[i]);
        coio_loop_close(l);
    }
    unsetenv("COIO_DEBUG");
    coio_loop *l = coio_loop_new();
    ck_assert_int_eq(coio_loop_get_debug(l), 0);
    /* Read at creation only: a later change does not reach this loop. */
    setenv("COIO_DEBUG", "1", 1);
    ck_assert_int_eq(coio_loop_get_debug(l), 0);
    /* coio_run's loop is created with the variable set. */
    void *r = NULL;
    ck_assert_int_eq(run_main(d1_main, NULL, &r), 0);
    ck_assert_int_eq((int)(intptr_t)r, 1);
    unsetenv("COIO_DEBUG");
    ck_assert_int_eq(run_main(d1_main, NULL, &r), 0);
    ck_assert_int_eq((int)(intptr_t)r, 0);

    ck_assert_int_eq(coio_loop_set_debug(l, 1), 0);
    ck_assert_int_eq(coio_loop_get_debug(l), 1);
    ck_assert_int_eq(coio_loop_set_debug(l, 0), 0);
    ck_assert_int_eq(coio_loop_get_debug(l), 0);
    errno = 0;
    ck_assert_int_eq(coio_loop_set_debug(NULL, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_loop_get_debug(NULL), 0);

    ck_assert(fabs(coio_loop_get_slow_callback_duration(l) - 0.1) < 1e-9);
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(l, 0.025), 0);
    ck_assert(fabs(coio_loop_get_slow_callback_duration(l) - 0.025) < 1e-9);
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(l, 0), 0);
    ck_assert(coio_loop_get_slow_callback_duration(l) == 0);
    errno = 0;
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(l, -0.5), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(l, NAN), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(NULL, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert(coio_loop_get_slow_callback_duration(NULL) < 0);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(fabs(coio_loop_get_slow_callback_duration(l) - 0) < 1e-9);
    coio_loop_close(l);
}
END_TEST

/* ---- D2 ------------------------------------------------------------------------ */

static int fast_ran, slow_ran;

static void slow_cb(void *arg)
{
    (void)arg;
    slow_ran++;
    spin(2 * thr());
}

static void fast_cb(void *arg)
{
    (void)arg;
    fast_ran++;
}

static void slow_done_cb(coio_task *t, void *arg)
{
    (void)t;
    (void)arg;
    spin(2 * thr());
}

static void *noop_task(void *arg) { return arg; }

/* What the loop prints for fn (named sym in the source), worked out as the
   implementation documents it: the dynamic symbol when dladdr has fn itself,
   else the name from the program's symbol table, "SYM+0x0 (check_debug)". */
static void cb_name(void *fn, const char *sym, char *buf, size_t len)
{
    Dl_info info;
    if (dladdr(fn, &info) && info.dli_sname && info.dli_saddr == fn)
        snprintf(buf, len, "<callback %s>", info.dli_sname);
    else
        snprintf(buf, len, "<callback %s+0x0 (check_debug)>", sym);
}

/* arg: debug on (1) or off (0). */
static void *d2_callbacks_main(void *arg)
{
    coio_loop *l = coio_loop_current();
    ck_assert_int_eq(coio_loop_set_debug(l, (int)(intptr_t)arg), 0);
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(l, thr()), 0);
    ck_assert_ptr_nonnull(coio_call_soon(l, fast_cb, NULL));
    ck_assert_ptr_nonnull(coio_call_soon(l, slow_cb, NULL));
    ck_assert_ptr_nonnull(coio_call_later(l, 0.001, fast_cb, NULL));
    coio_task *t = coio_spawn(noop_task, NULL);
    ck_assert_int_eq(coio_task_add_done_callback(t, slow_done_cb, NULL), 0);
    ck_assert_int_eq(coio_sleep(0.01), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_yield(); /* the done-callback runs */
    coio_yield();
    coio_task_release(t);
    return NULL;
}

START_TEST(test_D2_slow_callback_reported)
{
    fast_ran = slow_ran = 0;
    capture_begin();
    double delay = run_delay();
    ck_assert_int_eq(run_main(d2_callbacks_main, (void *)1, NULL), 0);
    delay = run_delay() - delay;
    const char *out = capture_end();
    ck_assert_int_eq(slow_ran, 1);
    ck_assert_int_eq(fast_ran, 2);
    char name[128];
    cb_name((void *)(uintptr_t)slow_cb, "slow_cb", name, sizeof name);
    double d = reported(out, name);
    ck_assert_msg(d >= 2 * thr() - 0.0005 && d < 10 * slack(), "%s: %.4f in: %s", name, d, out);
    cb_name((void *)(uintptr_t)slow_done_cb, "slow_done_cb", name, sizeof name);
    d = reported(out, name);
    ck_assert_msg(d >= 2 * thr() - 0.0005 && d < 10 * slack(), "%s: %.4f in: %s", name, d, out);
    /* fast_cb is under the threshold: not reported unless preempted. */
    char slow1[128], slow2[128];
    cb_name((void *)(uintptr_t)slow_cb, "slow_cb", slow1, sizeof slow1);
    cb_name((void *)(uintptr_t)slow_done_cb, "slow_done_cb", slow2, sizeof slow2);
    const char *const want[] = {slow1, slow2};
    ck_assert_int_eq(check_reports(out, want, 2, 2 * thr() - 0.0005, delay), 2);
}
END_TEST

START_TEST(test_D2_debug_off_reports_nothing)
{
    fast_ran = slow_ran = 0;
    capture_begin();
    ck_assert_int_eq(run_main(d2_callbacks_main, (void *)0, NULL), 0);
    const char *out = capture_end();
    ck_assert_int_eq(slow_ran, 1);
    ck_assert_msg(!strstr(out, "coio: Executing"), "%s", out);
}
END_TEST

static void *slow_step_task(void *arg)
{
    (void)arg;
    coio_yield();
    spin(2 * thr()); /* one slow step between two suspensions */
    coio_yield();
    return NULL;
}

static void *quick_task(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        coio_yield();
    return NULL;
}

static void *d2_task_main(void *arg)
{
    coio_loop *l = coio_loop_current();
    double threshold = arg ? 10 * thr() : thr(); /* arg: above the slow step */
    ck_assert_int_eq(coio_loop_set_debug(l, 1), 0);
    ck_assert_int_eq(coio_loop_set_slow_callback_duration(l, threshold), 0);
    coio_task_opts so = {.name = "slowpoke"}, qo = {.name = "quick"};
    coio_task *a = coio_spawn_opts(&so, slow_step_task, NULL);
    coio_task *b = coio_spawn_opts(&qo, quick_task, NULL);
    ck_assert_int_eq(coio_await(a, NULL), 0);
    ck_assert_int_eq(coio_await(b, NULL), 0);
    coio_task_release(a);
    coio_task_release(b);
    return NULL;
}

START_TEST(test_D2_slow_task_step_reported)
{
    capture_begin();
    double delay = run_delay();
    ck_assert_int_eq(run_main(d2_task_main, NULL, NULL), 0);
    delay = run_delay() - delay;
    const char *out = capture_end();
    double d = reported(out, "<task 'slowpoke'>");
    ck_assert_msg(d < 10 * slack(), "%.4f in: %s", d, out);
    /* slowpoke's slow step, once; its other steps and quick's are not
       reported unless the process was preempted during them. */
    const char *const want[] = {"<task 'slowpoke'>"};
    ck_assert_int_eq(check_reports(out, want, 1, 2 * thr() - 0.0005, delay), 1);
}
END_TEST

START_TEST(test_D2_under_threshold_not_reported)
{
    capture_begin();
    double delay = run_delay();
    ck_assert_int_eq(run_main(d2_task_main, (void *)1, NULL), 0);
    delay = run_delay() - delay;
    const char *out = capture_end();
    ck_assert_int_eq(check_reports(out, NULL, 0, 0, delay), 0); /* none, unless preempted */
}
END_TEST

/* A task alone on the loop resumes itself without a switch: each of its steps
   is still timed on its own, not summed. 16 steps of a quarter threshold sum to
   4 thresholds. A step may itself be reported when the process is preempted in
   the middle of it (wall time, as asyncio): a report may be as long as one
   step, two more thresholds, and the run-queue delay of the run, which a
   summed report (4 thresholds of spinning alone) still exceeds when the
   process was not preempted for longer than 1.75 thresholds. */
#define LONE_STEPS 16

static void *lone_main(void *arg)
{
    (void)arg;
    coio_loop *l = coio_loop_current();
    coio_loop_set_debug(l, 1);
    coio_loop_set_slow_callback_duration(l, thr());
    for (int i = 0; i < LONE_STEPS; i++) {
        spin(thr() / 4);
        coio_yield();
    }
    return NULL;
}

START_TEST(test_D2_lone_task_steps_timed_separately)
{
    capture_begin();
    double delay = run_delay();
    ck_assert_int_eq(run_main(lone_main, NULL, NULL), 0);
    delay = run_delay() - delay;
    const char *out = capture_end();
    ck_assert_int_eq(check_reports(out, NULL, 0, 0, delay + thr() / 4 + 2 * thr()), 0);
}
END_TEST

/* Threshold 0 reports everything; a libc function shows its symbol when the
   program has a dynamic symbol table. */
static void *zero_threshold_main(void *arg)
{
    (void)arg;
    coio_loop *l = coio_loop_current();
    coio_loop_set_debug(l, 1);
    coio_loop_set_slow_callback_duration(l, 0);
    ck_assert_ptr_nonnull(coio_call_soon(l, free, NULL));
    coio_yield();
    coio_yield();
    return NULL;
}

START_TEST(test_D2_callback_symbol_from_dladdr)
{
    capture_begin();
    ck_assert_int_eq(run_main(zero_threshold_main, NULL, NULL), 0);
    const char *out = capture_end();
    char name[128];
    Dl_info info;
    void *fn = (void *)(uintptr_t)free;
    if (dladdr(fn, &info) && info.dli_sname && info.dli_saddr == fn)
        /* dynamically linked; glibc names it __libc_free */
        ck_assert_msg(strstr(info.dli_sname, "free"), "%s", info.dli_sname);
    if (dladdr(fn, &info) && info.dli_sname && info.dli_saddr == fn) {
        cb_name(fn, "free", name, sizeof name);
        ck_assert_msg(reported(out, name) >= 0, "%s not in: %s", name, out);
    } else { /* statically linked: from the symbol table (free or an alias) */
        ck_assert_msg(strstr(out, "free+0x0 (check_debug)> took "), "%s", out);
    }
    /* Every step of main was reported, with main's default name. */
    ck_assert_msg(reported(out, "<task 'Task-1'>") >= 0, "%s", out);
}
END_TEST

/* ---- D3 ------------------------------------------------------------------------ */

static void *failer(void *arg)
{
    (void)arg;
    coio_fail_msg(EIO, "disk on fire");
    return NULL;
}

static void *d3_main(void *arg)
{
    coio_loop_set_debug(coio_loop_current(), (int)(intptr_t)arg);
    coio_task_opts o = {.name = "lost"}, o2 = {.name = "seen"};
    coio_task *t = coio_spawn_opts(&o, failer, NULL);
    coio_task *u = coio_spawn_opts(&o2, failer, NULL);
    while (!coio_task_done(t) || !coio_task_done(u))
        coio_yield();
    ck_assert_int_eq(coio_task_error(u), EIO); /* retrieved: no report */
    coio_task_release(u);
    coio_task_release(t);                      /* never looked at: reported */
    return NULL;
}

START_TEST(test_D3_never_retrieved_reported_in_both_modes)
{
    for (int debug = 0; debug < 2; debug++) {
        capture_begin();
        ck_assert_int_eq(run_main(d3_main, (void *)(intptr_t)debug, NULL), 0);
        const char *out = capture_end();
        ck_assert_msg(count_lines(out, "Task exception was never retrieved") == 1, "debug %d: %s",
                      debug, out);
        ck_assert_msg(strstr(out, "'lost'") && strstr(out, "disk on fire"), "%d: %s", debug, out);
        ck_assert_msg(!strstr(out, "'seen'"), "debug %d: %s", debug, out);
    }
}
END_TEST

/* ---- stack high-water marks ------------------------------------------------------ */

/* Touch n bytes of stack below the caller. */
static __attribute__((noinline)) int touch_stack(size_t n)
{
    volatile char buf[n];
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(i | 1);
    return buf[0] + buf[n - 1];
}

static void *deep_task(void *arg)
{
    touch_stack((size_t)(uintptr_t)arg);
    return NULL;
}

#define DEEP_STACK (32u * 1024u)
#define DEEP_USE (28u * 1024u)

static void *hwm_main(void *arg)
{
    (void)arg;
    coio_loop_set_debug(coio_loop_current(), 1);
    coio_task_opts o = {.name = "deep", .stack_size = DEEP_STACK};
    coio_task *t = coio_spawn_opts(&o, deep_task, (void *)(uintptr_t)DEEP_USE);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    size_t size = 0;
    long used = coio_task_stack_used(t, &size);
    coio_task_release(t);
    /* The same size again: most likely the same (pooled) stack, which the
       earlier, deeper user must not make look used. */
    coio_task_opts o2 = {.name = "shallow", .stack_size = DEEP_STACK};
    coio_task *s = coio_spawn_opts(&o2, deep_task, (void *)(uintptr_t)256);
    ck_assert_int_eq(coio_await(s, NULL), 0);
    size_t size2 = 0;
    long used2 = coio_task_stack_used(s, &size2);
    coio_task_release(s);
    ck_assert_int_ge((long)size, DEEP_STACK);
    ck_assert_int_eq(size2, size);
    ck_assert_msg(used >= (long)DEEP_USE && used <= (long)size, "used %ld of %zu", used, size);
    ck_assert_msg(used2 > 0 && used2 < 8 * 1024, "shallow used %ld", used2);
    long *r = malloc(3 * sizeof *r);
    r[0] = used;
    r[1] = (long)size;
    r[2] = used2;
    return r;
}

START_TEST(test_stack_high_water_warning)
{
    capture_begin();
    void *res = NULL;
    ck_assert_int_eq(run_main(hwm_main, NULL, &res), 0);
    const char *out = capture_end();
    long *r = res;
    char line[128];
    snprintf(line, sizeof line, "coio: task 'deep' used %ld of %ld stack bytes\n", r[0], r[1]);
    /* Natively 28 of 32 KiB is over 75%; AddressSanitizer builds give every task
       four times the stack, so there the report must follow the numbers. */
    if (r[0] * 4 > r[1] * 3)
        ck_assert_msg(strstr(out, line) != NULL, "want '%s' in: %s", line, out);
    else
        ck_assert_msg(!strstr(out, "stack bytes"), "%s", out);
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_msg(strstr(out, line) != NULL, "want '%s' in: %s", line, out);
#endif
    ck_assert_msg(!strstr(out, "'shallow' used"), "%s", out);
    free(r);
}
END_TEST

static void *blocker(void *arg)
{
    coio_event *ev = arg;
    coio_event_wait(ev);
    return NULL;
}

static void *stack_used_errors_main(void *arg)
{
    (void)arg;
    coio_loop *l = coio_loop_current();
    coio_loop_set_debug(l, 0); /* whatever COIO_DEBUG says */
    size_t size = 0;
    errno = 0;
    ck_assert_int_eq(coio_task_stack_used(NULL, &size), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_future *f = coio_future_new();
    errno = 0;
    ck_assert_int_eq(coio_task_stack_used(f, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_future_release(f);

    /* Spawned outside debug mode: never measured. */
    coio_task *t = coio_spawn(noop_task, NULL);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    errno = 0;
    ck_assert_int_eq(coio_task_stack_used(t, &size), -1);
    ck_assert_int_eq(errno, ENOTSUP);
    ck_assert_int_ge(size, COIO_STACK_DEFAULT);
    coio_task_release(t);

    coio_loop_set_debug(l, 1);
    coio_event ev;
    coio_event_init(&ev);
    t = coio_spawn(blocker, &ev);
    coio_yield();
    size = 0;
    errno = 0;
    ck_assert_int_eq(coio_task_stack_used(t, &size), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_ge(size, COIO_STACK_DEFAULT);
    coio_event_set(&ev);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    long used = coio_task_stack_used(t, NULL);
    ck_assert_msg(used > 0 && used < (long)size / 2, "used %ld", used);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_stack_used_errors)
{
    capture_begin();
    ck_assert_int_eq(run_main(stack_used_errors_main, NULL, NULL), 0);
    const char *out = capture_end();
    ck_assert_msg(!strstr(out, "stack bytes"), "%s", out);
}
END_TEST

/* ---- D5 ------------------------------------------------------------------------- */

struct foreign {
    coio_loop *loop;
    int debug;
    coio_handle *soon, *later, *at;
    int e_soon, e_later, e_at, e_spawn, e_stop;
    coio_task *spawned;
    int stop_rc, ts_rc;
};

static int foreign_cb_ran, ts_cb_ran;

static void foreign_cb(void *arg)
{
    (void)arg;
    foreign_cb_ran++;
}

static void ts_cb(void *arg)
{
    (void)arg;
    ts_cb_ran++;
}

static void *foreign_thread(void *arg)
{
    struct foreign *fx = arg;
    errno = 0;
    fx->soon = coio_call_soon(fx->loop, foreign_cb, NULL);
    fx->e_soon = errno;
    if (!fx->debug)
        return NULL; /* without debug mode, one unchecked call is enough */
    errno = 0;
    fx->later = coio_call_later(fx->loop, 0.01, foreign_cb, NULL);
    fx->e_later = errno;
    errno = 0;
    fx->at = coio_call_at(fx->loop, coio_loop_time(fx->loop), foreign_cb, NULL);
    fx->e_at = errno;
    errno = 0;
    fx->spawned = coio_loop_spawn(fx->loop, NULL, noop_task, NULL);
    fx->e_spawn = errno;
    errno = 0;
    fx->stop_rc = coio_loop_stop(fx->loop);
    fx->e_stop = errno;
    fx->ts_rc = coio_call_soon_threadsafe(fx->loop, ts_cb, NULL);
    return NULL;
}

static void *d5_main(void *arg)
{
    struct foreign *fx = arg;
    fx->loop = coio_loop_current();
    coio_loop_set_debug(fx->loop, fx->debug);
    pthread_t th;
    /* The loop waits in the join: the foreign calls cannot race with it. */
    ck_assert_int_eq(pthread_create(&th, NULL, foreign_thread, fx), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    /* The loop's own thread may still call. */
    ck_assert_ptr_nonnull(coio_call_soon(fx->loop, foreign_cb, NULL));
    coio_task *t = coio_spawn(noop_task, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    for (int i = 0; i < 4; i++)
        coio_yield();
    return NULL;
}

START_TEST(test_D5_foreign_thread_eperm_in_debug)
{
    struct foreign fx = {.debug = 1};
    foreign_cb_ran = ts_cb_ran = 0;
    ck_assert_int_eq(run_main(d5_main, &fx, NULL), 0);
    ck_assert_ptr_null(fx.soon);
    ck_assert_int_eq(fx.e_soon, EPERM);
    ck_assert_ptr_null(fx.later);
    ck_assert_int_eq(fx.e_later, EPERM);
    ck_assert_ptr_null(fx.at);
    ck_assert_int_eq(fx.e_at, EPERM);
    ck_assert_ptr_null(fx.spawned);
    ck_assert_int_eq(fx.e_spawn, EPERM);
    ck_assert_int_eq(fx.stop_rc, -1);
    ck_assert_int_eq(fx.e_stop, EPERM);
    /* call_soon_threadsafe is the way across threads. */
    ck_assert_int_eq(fx.ts_rc, 0);
    ck_assert_int_eq(ts_cb_ran, 1);
    ck_assert_int_eq(foreign_cb_ran, 1); /* the loop thread's own call only */
}
END_TEST

START_TEST(test_D5_no_thread_check_without_debug)
{
    struct foreign fx = {.debug = 0};
    foreign_cb_ran = ts_cb_ran = 0;
    ck_assert_int_eq(run_main(d5_main, &fx, NULL), 0);
    ck_assert_ptr_nonnull(fx.soon);
    ck_assert_int_eq(foreign_cb_ran, 2);
}
END_TEST

/* A loop that is not running has no owner thread yet (asyncio's _check_thread). */
static void *idle_loop_thread(void *arg)
{
    coio_loop *l = arg;
    return coio_call_soon(l, foreign_cb, NULL);
}

START_TEST(test_D5_idle_loop_accepts_other_threads)
{
    foreign_cb_ran = 0;
    coio_loop *l = coio_loop_new();
    coio_loop_set_debug(l, 1);
    pthread_t th;
    void *h = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, idle_loop_thread, l), 0);
    ck_assert_int_eq(pthread_join(th, &h), 0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(coio_loop_stop(l), 0);
    ck_assert_int_eq(coio_loop_run_forever(l), 0);
    ck_assert_int_eq(foreign_cb_ran, 1);
    coio_loop_close(l);
}
END_TEST

static Suite *debug_suite(void)
{
    Suite *s = suite_create("debug");
    TCase *tc = tcase_create("debug");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_D1_env_var_and_setter);
    tcase_add_test(tc, test_D2_slow_callback_reported);
    tcase_add_test(tc, test_D2_debug_off_reports_nothing);
    tcase_add_test(tc, test_D2_slow_task_step_reported);
    tcase_add_test(tc, test_D2_under_threshold_not_reported);
    tcase_add_test(tc, test_D2_lone_task_steps_timed_separately);
    tcase_add_test(tc, test_D2_callback_symbol_from_dladdr);
    tcase_add_test(tc, test_D3_never_retrieved_reported_in_both_modes);
    tcase_add_test(tc, test_stack_high_water_warning);
    tcase_add_test(tc, test_stack_used_errors);
    tcase_add_test(tc, test_D5_foreign_thread_eperm_in_debug);
    tcase_add_test(tc, test_D5_no_thread_check_without_debug);
    tcase_add_test(tc, test_D5_idle_loop_accepts_other_threads);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(debug_suite)
