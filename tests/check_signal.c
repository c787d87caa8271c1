/* check_signal.c — signal handlers as loop callbacks (X3) and coio_run's
 * SIGINT handling (R3): first SIGINT cancels main, the second ends the process.
 */
#include "helpers.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_t loop_thread;

/* ---- X3: add / remove ------------------------------------------------------------- */

struct sigctx {
    coio_event done;
    int calls;
    int last_sig;
    int in_task;            /* the callback saw a current task */
    int on_loop_thread;
    int soon_ok;            /* coio_call_soon worked inside the callback */
    void *arg_seen;
};

static void set_done(void *arg) { coio_event_set(&((struct sigctx *)arg)->done); }

static void on_sig(int sig, void *arg)
{
    struct sigctx *c = arg;
    c->calls++;
    c->last_sig = sig;
    c->arg_seen = arg;
    c->in_task = coio_current_task() != NULL;
    c->on_loop_thread = pthread_equal(pthread_self(), loop_thread);
    /* An ordinary callback: any loop call is allowed, unlike in a handler. */
    c->soon_ok = coio_call_soon(coio_loop_current(), set_done, c) != NULL;
}

static int wait_done(struct sigctx *c)
{
    coio_timeout to;
    coio_timeout_enter(&to, 5 * slack());
    int rc = coio_event_wait(&c->done);
    return coio_timeout_exit(&to, rc);
}

static void *main_raise(void *arg)
{
    struct sigctx c;
    memset(&c, 0, sizeof c);
    coio_event_init(&c.done);
    loop_thread = pthread_self();
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, on_sig, &c), 0);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    /* The handler only recorded it: nothing has run yet. */
    ck_assert_int_eq(c.calls, 0);
    ck_assert_int_eq(wait_done(&c), 0);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.last_sig, SIGUSR1);
    ck_assert_ptr_eq(c.arg_seen, &c);
    ck_assert_int_eq(c.in_task, 0);
    ck_assert_int_eq(c.on_loop_thread, 1);
    ck_assert_int_eq(c.soon_ok, 1);
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), 1);
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), 0);
    return NULL;
}

START_TEST(test_X3_callback_runs_later_as_a_loop_callback)
{
    ck_assert_int_eq(run_main(main_raise, NULL, NULL), 0);
}
END_TEST

struct killer {
    int sig;
    int delay_ms;
};

static void *kill_later(void *arg)
{
    struct killer *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    kill(getpid(), k->sig);
    return NULL;
}

static void *main_kill_from_thread(void *arg)
{
    struct sigctx c;
    memset(&c, 0, sizeof c);
    coio_event_init(&c.done);
    loop_thread = pthread_self();
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR2, on_sig, &c), 0);
    struct killer k = {SIGUSR2, 50};
    pthread_t th;
    /* t0 before the thread exists: its 50 ms cannot start earlier (a t0 taken
       after pthread_create measured less when this thread was descheduled). */
    double t0 = now();
    ck_assert_int_eq(pthread_create(&th, NULL, kill_later, &k), 0);
    /* No timer, no fd: the loop sleeps in its poll until the signal (a lost
       wake-up hangs here, and libcheck's timeout fails the test). */
    ck_assert_int_eq(coio_event_wait(&c.done), 0);
    ck_assert_time(now() - t0, 0.045, 2.0);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.on_loop_thread, 1);
    pthread_join(th, NULL);
    return NULL;
}

START_TEST(test_X3_signal_wakes_loop_blocked_in_poll)
{
    if (qemu_i386_signal_tls_bug("X3_signal_wakes_loop_blocked_in_poll"))
        return;
    ck_assert_int_eq(run_main(main_kill_from_thread, NULL, NULL), 0);
}
END_TEST

static void *main_two_raises(void *arg)
{
    struct sigctx c;
    memset(&c, 0, sizeof c);
    coio_event_init(&c.done);
    loop_thread = pthread_self();
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, on_sig, &c), 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    ck_assert_int_eq(wait_done(&c), 0);
    coio_sleep(0.01);
    ck_assert_int_eq(c.calls, 2); /* one callback per delivery */
    return NULL;
}

START_TEST(test_X3_each_delivery_runs_the_callback)
{
    ck_assert_int_eq(run_main(main_two_raises, NULL, NULL), 0);
}
END_TEST

static void *main_replace(void *arg)
{
    struct sigctx a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    coio_event_init(&a.done);
    coio_event_init(&b.done);
    loop_thread = pthread_self();
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, on_sig, &a), 0);
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, on_sig, &b), 0);
    raise(SIGUSR1);
    ck_assert_int_eq(wait_done(&b), 0);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls, 1);
    return NULL; /* left installed: coio_run's loop close removes it */
}

static atomic_int user_hits;
static void user_handler(int sig, siginfo_t *si, void *uc) { atomic_fetch_add(&user_hits, 1); }

START_TEST(test_X3_add_again_replaces_and_loop_close_restores)
{
    struct sigaction mine, cur;
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = user_handler;
    mine.sa_flags = SA_SIGINFO;
    sigemptyset(&mine.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &mine, NULL), 0);
    ck_assert_int_eq(run_main(main_replace, NULL, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, NULL, &cur), 0);
    ck_assert((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == user_handler);
    atomic_store(&user_hits, 0);
    raise(SIGUSR1);
    ck_assert_int_eq(atomic_load(&user_hits), 1);
}
END_TEST

static void *main_add_remove(void *arg)
{
    struct sigctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR2, on_sig, &c), 0);
    struct sigaction cur;
    ck_assert_int_eq(sigaction(SIGUSR2, NULL, &cur), 0);
    ck_assert(!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != user_handler);
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR2), 1);
    return NULL;
}

START_TEST(test_X3_remove_restores_previous_disposition)
{
    struct sigaction mine, cur;
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = user_handler;
    mine.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&mine.sa_mask);
    sigaddset(&mine.sa_mask, SIGUSR1);
    ck_assert_int_eq(sigaction(SIGUSR2, &mine, NULL), 0);
    ck_assert_int_eq(run_main(main_add_remove, NULL, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR2, NULL, &cur), 0);
    ck_assert((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == user_handler);
    ck_assert(cur.sa_flags & SA_RESTART);
    ck_assert_int_eq(sigismember(&cur.sa_mask, SIGUSR1), 1);
    atomic_store(&user_hits, 0);
    raise(SIGUSR2);
    ck_assert_int_eq(atomic_load(&user_hits), 1);
    /* And the default disposition comes back as the default. */
    signal(SIGUSR2, SIG_DFL);
    ck_assert_int_eq(run_main(main_add_remove, NULL, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR2, NULL, &cur), 0);
    ck_assert(!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL);
}
END_TEST

static void *main_bad(void *arg)
{
    struct sigctx c;
    static const int bad[] = {0, -1, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, NSIG, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        ck_assert_int_eq(coio_add_signal_handler(bad[i], on_sig, &c), -1);
        ck_assert_int_eq(errno, EINVAL);
    }
    errno = 0;
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, NULL, &c), -1);
    ck_assert_int_eq(errno, EINVAL);
    static const int bad_rm[] = {0, -1, NSIG, 1000};
    for (size_t i = 0; i < sizeof bad_rm / sizeof bad_rm[0]; i++) {
        errno = 0;
        ck_assert_int_eq(coio_remove_signal_handler(bad_rm[i]), -1);
        ck_assert_int_eq(errno, EINVAL);
    }
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), 0); /* none */
    ck_assert_int_eq(coio_remove_signal_handler(SIGKILL), 0);
    return NULL;
}

START_TEST(test_X3_bad_signals_and_no_loop_are_einval)
{
    struct sigctx c;
    /* No loop on this thread. */
    errno = 0;
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, on_sig, &c), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(run_main(main_bad, NULL, NULL), 0);
}
END_TEST

static void *other_loop_main(void *arg)
{
    struct sigctx c;
    errno = 0;
    int rc = coio_add_signal_handler(SIGUSR1, on_sig, &c);
    return (void *)(intptr_t)(rc == -1 && errno == EBUSY);
}

static void *other_loop_thread(void *arg)
{
    void *r = NULL;
    if (coio_run(other_loop_main, NULL, &r) != 0)
        return NULL;
    return r;
}

static void *main_owner(void *arg)
{
    struct sigctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, on_sig, &c), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, other_loop_thread, NULL), 0);
    void *r = NULL;
    pthread_join(th, &r); /* blocks this loop briefly; fine in a test */
    ck_assert_ptr_eq(r, (void *)(intptr_t)1);
    /* The other loop's failed attempt took nothing away. */
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), 1);
    return NULL;
}

START_TEST(test_X3_one_loop_per_signal_other_loop_gets_ebusy)
{
    ck_assert_int_eq(run_main(main_owner, NULL, NULL), 0);
}
END_TEST

static void remove_self(int sig, void *arg)
{
    int *n = arg;
    ++*n;
    coio_remove_signal_handler(sig); /* from inside its own callback */
}

static void *main_remove_in_cb(void *arg)
{
    int n = 0;
    ck_assert_int_eq(coio_add_signal_handler(SIGUSR1, remove_self, &n), 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    for (int i = 0; i < 100 && n == 0; i++)
        coio_sleep(0.005);
    coio_sleep(0.01);
    ck_assert_int_eq(n, 1); /* the second delivery was dropped with the handler */
    ck_assert_int_eq(coio_remove_signal_handler(SIGUSR1), 0);
    return NULL;
}

START_TEST(test_X3_callback_may_remove_its_handler)
{
    signal(SIGUSR1, SIG_IGN); /* the disposition restored by the removal */
    ck_assert_int_eq(run_main(main_remove_in_cb, NULL, NULL), 0);
    struct sigaction cur;
    ck_assert_int_eq(sigaction(SIGUSR1, NULL, &cur), 0);
    ck_assert(cur.sa_handler == SIG_IGN);
}
END_TEST

/* ---- R3: SIGINT under coio_run ------------------------------------------------------ */

static void send_sigint(void *arg) { kill(getpid(), SIGINT); }

static void *main_sleeps_long(void *arg)
{
    coio_call_later(coio_loop_current(), 0.03, send_sigint, NULL);
    int rc = coio_sleep(10);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED);
    return (void *)(intptr_t)1; /* ends cancelled: not absorbed */
}

START_TEST(test_R3_first_sigint_cancels_main_and_run_returns_eintr)
{
    signal(SIGINT, SIG_DFL);
    double t0 = now();
    void *r = NULL;
    errno = 0;
    ck_assert_int_eq(run_main(main_sleeps_long, NULL, &r), -1);
    ck_assert_int_eq(errno, EINTR);
    ck_assert_time(now() - t0, 0.025, 3.0);
    /* The default disposition is back. */
    struct sigaction cur;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &cur), 0);
    ck_assert(!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL);
}
END_TEST

static void *main_absorbs(void *arg)
{
    coio_call_later(coio_loop_current(), 0.02, send_sigint, NULL);
    ck_assert_int_eq(coio_sleep(10), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_cancelling(), 1);
    coio_absorb_cancel();
    coio_uncancel();
    return (void *)(intptr_t)42;
}

START_TEST(test_R3_main_that_absorbs_the_sigint_cancel_returns_normally)
{
    signal(SIGINT, SIG_DFL);
    void *r = NULL;
    ck_assert_int_eq(run_main(main_absorbs, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)42);
}
END_TEST

static void sigint_and_cancel(void *arg)
{
    coio_cancel(arg);
    kill(getpid(), SIGINT);
}

static void *main_double_cancel(void *arg)
{
    coio_call_later(coio_loop_current(), 0.02, sigint_and_cancel, coio_current_task());
    coio_sleep(10);
    coio_sleep(0.05); /* cleanup that waits: both requests are counted by now */
    return NULL;
}

START_TEST(test_R3_other_cancel_outstanding_keeps_ecanceled)
{
    signal(SIGINT, SIG_DFL);
    errno = 0;
    ck_assert_int_eq(run_main(main_double_cancel, NULL, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
}
END_TEST

static void *main_user_sigint(void *arg)
{
    coio_call_later(coio_loop_current(), 0.01, send_sigint, NULL);
    ck_assert_int_eq(coio_sleep(0.1), 0); /* not cancelled */
    return (void *)(intptr_t)5;
}

START_TEST(test_R3_own_sigint_handler_is_left_alone)
{
    struct sigaction mine, cur;
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = user_handler;
    mine.sa_flags = SA_SIGINFO;
    sigemptyset(&mine.sa_mask);
    ck_assert_int_eq(sigaction(SIGINT, &mine, NULL), 0);
    atomic_store(&user_hits, 0);
    void *r = NULL;
    ck_assert_int_eq(run_main(main_user_sigint, NULL, &r), 0);
    ck_assert_ptr_eq(r, (void *)(intptr_t)5);
    ck_assert_int_eq(atomic_load(&user_hits), 1);
    ck_assert_int_eq(sigaction(SIGINT, NULL, &cur), 0);
    ck_assert((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == user_handler);
}
END_TEST

static void *main_coio_sigint(void *arg)
{
    struct sigctx *c = arg;
    loop_thread = pthread_self();
    ck_assert_int_eq(coio_add_signal_handler(SIGINT, on_sig, c), 0);
    coio_call_later(coio_loop_current(), 0.01, send_sigint, NULL);
    ck_assert_int_eq(wait_done(c), 0); /* main is not cancelled */
    return NULL;
}

START_TEST(test_R3_loop_sigint_handler_replaces_run_handling)
{
    signal(SIGINT, SIG_DFL);
    struct sigctx c;
    memset(&c, 0, sizeof c);
    coio_event_init(&c.done);
    ck_assert_int_eq(run_main(main_coio_sigint, &c, NULL), 0);
    ck_assert_int_eq(c.calls, 1);
    struct sigaction cur;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &cur), 0);
    ck_assert(cur.sa_handler == SIG_DFL);
}
END_TEST

/* In a child: SIGINT, absorb, SIGINT again while still running. */
static void *main_ignores_first(void *arg)
{
    kill(getpid(), SIGINT);
    if (coio_sleep(10) != -1 || errno != ECANCELED)
        _exit(10);
    coio_absorb_cancel();
    coio_uncancel();
    kill(getpid(), SIGINT); /* ends the process here */
    coio_sleep(10);
    _exit(11);
}

START_TEST(test_R3_second_sigint_ends_the_process)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        coio_run(main_ignores_first, NULL, NULL);
        _exit(12);
    }
    int status = 0;
    double end = now() + 10 * slack();
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now() < end)
        usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("the child survived the second SIGINT");
    }
    ck_assert_int_eq(w, pid);
    ck_assert_msg(WIFSIGNALED(status), "child exited with %d instead of dying",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_int_eq(WTERMSIG(status), SIGINT);
}
END_TEST

static Suite *signal_suite(void)
{
    Suite *s = suite_create("signal");
    TCase *tc = tcase_create("handlers");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_X3_callback_runs_later_as_a_loop_callback);
    tcase_add_test(tc, test_X3_signal_wakes_loop_blocked_in_poll);
    tcase_add_test(tc, test_X3_each_delivery_runs_the_callback);
    tcase_add_test(tc, test_X3_add_again_replaces_and_loop_close_restores);
    tcase_add_test(tc, test_X3_remove_restores_previous_disposition);
    tcase_add_test(tc, test_X3_bad_signals_and_no_loop_are_einval);
    tcase_add_test(tc, test_X3_one_loop_per_signal_other_loop_gets_ebusy);
    tcase_add_test(tc, test_X3_callback_may_remove_its_handler);
    suite_add_tcase(s, tc);
    tc = tcase_create("sigint");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_R3_first_sigint_cancels_main_and_run_returns_eintr);
    tcase_add_test(tc, test_R3_main_that_absorbs_the_sigint_cancel_returns_normally);
    tcase_add_test(tc, test_R3_other_cancel_outstanding_keeps_ecanceled);
    tcase_add_test(tc, test_R3_own_sigint_handler_is_left_alone);
    tcase_add_test(tc, test_R3_loop_sigint_handler_replaces_run_handling);
    tcase_add_test(tc, test_R3_second_sigint_ends_the_process);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(signal_suite)
