/* check_process.c — subprocesses: communicate (X4: 10 MiB through cat, both outputs far
 * beyond the pipe size, EPIPE on stdin ignored), exit codes and the -signal convention,
 * wait from several tasks and after a cancel, stdio modes (PIPE, DEVNULL, INHERIT, fd,
 * stderr to stdout), no fd leaks into children, cwd/env, and the exit watch: pidfd and
 * the SIGCHLD fallback, neither of which reaps children that are not ours.
 */
#include "helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

extern int coio__process_no_pidfd; /* process.c: force the SIGCHLD fallback */

typedef void (*body_fn)(void);

static void *run_body(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

#define RUN(body) ck_assert_int_eq(run_main(run_body, (void *)(body), NULL), 0)

static unsigned char pattern(size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    return (unsigned char)((x >> 13) ^ (x >> 24) ^ (uint32_t)(i >> 10));
}

static coio_process *spawn(char *const argv[], int in, int out, int err)
{
    coio_subprocess_opts o = {.in = {in, 0}, .out = {out, 0}, .err = {err, 0}};
    coio_process *p = NULL;
    ck_assert_msg(coio_subprocess_exec(argv, &o, &p) == 0, "exec %s: %s", argv[0], strerror(errno));
    return p;
}

static int run_sh(const char *script, char **out)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    coio_process *p = spawn(argv, COIO_DEVNULL, COIO_PIPE, COIO_INHERIT);
    void *o;
    size_t n;
    ck_assert_int_eq(coio_process_communicate(p, NULL, 0, &o, &n, NULL, NULL), 0);
    int rc;
    ck_assert_int_eq(coio_process_returncode(p, &rc), 1);
    coio_process_release(p);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

/* ---- X4: communicate ------------------------------------------------------------------- */

static void x4_cat(void)
{
    size_t n = 10u << 20;
    unsigned char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = pattern(i);
    char *argv[] = {"cat", NULL};
    coio_process *p = spawn(argv, COIO_PIPE, COIO_PIPE, COIO_PIPE);
    ck_assert_ptr_nonnull(coio_process_stdin(p));
    ck_assert_ptr_nonnull(coio_process_stdout(p));
    ck_assert_int_gt(coio_process_pid(p), 0);
    void *out, *err;
    size_t olen, elen;
    ck_assert_int_eq(coio_process_communicate(p, in, n, &out, &olen, &err, &elen), 0);
    ck_assert_uint_eq(olen, n);
    ck_assert(memcmp(out, in, n) == 0);
    ck_assert_uint_eq(elen, 0);
    int rc = -1;
    ck_assert_int_eq(coio_process_returncode(p, &rc), 1);
    ck_assert_int_eq(rc, 0);
    free(out);
    free(err);
    free(in);
    coio_process_release(p);
}

START_TEST(test_X4_communicate_10MiB_through_cat) { RUN(x4_cat); }
END_TEST

static void x4_both(void)
{
    /* 1 MB on stdout and 1 MB on stderr, stderr first: reading them one after the
       other would deadlock on a full pipe. */
    char *argv[] = {"sh", "-c", "head -c 1000000 /dev/zero >&2; head -c 1000000 /dev/zero; exit 7",
                    NULL};
    coio_process *p = spawn(argv, COIO_INHERIT, COIO_PIPE, COIO_PIPE);
    void *out, *err;
    size_t olen, elen;
    ck_assert_int_eq(coio_process_communicate(p, NULL, 0, &out, &olen, &err, &elen), 0);
    ck_assert_uint_eq(olen, 1000000);
    ck_assert_uint_eq(elen, 1000000);
    int rc;
    ck_assert_int_eq(coio_process_wait(p, &rc), 0);
    ck_assert_int_eq(rc, 7);
    free(out);
    free(err);
    coio_process_release(p);
}

START_TEST(test_X4_communicate_drains_both_outputs_concurrently) { RUN(x4_both); }
END_TEST

static void x4_epipe(void)
{
    /* The child exits without reading 4 MiB of input: no error, no SIGPIPE. */
    size_t n = 4u << 20;
    char *in = calloc(1, n);
    char *argv[] = {"true", NULL};
    coio_process *p = spawn(argv, COIO_PIPE, COIO_PIPE, COIO_INHERIT);
    void *out;
    size_t olen;
    ck_assert_int_eq(coio_process_communicate(p, in, n, &out, &olen, NULL, NULL), 0);
    ck_assert_uint_eq(olen, 0);
    ck_assert_str_eq(out, "");
    free(out);
    /* A writer to the vanished child gets EPIPE, not the signal. */
    coio_writer *w = coio_process_stdin(p);
    ck_assert_int_eq(coio_writer_write(w, "x", 1), -1);
    ck_assert(errno == EPIPE || errno == ECONNRESET);
    free(in);
    coio_process_release(p);
}

START_TEST(test_X4_communicate_ignores_epipe_on_stdin) { RUN(x4_epipe); }
END_TEST

/* ---- exit codes, signals, wait ---------------------------------------------------------- */

static void exit_codes(void)
{
    ck_assert_int_eq(run_sh("exit 0", NULL), 0);
    ck_assert_int_eq(run_sh("exit 3", NULL), 3);
    ck_assert_int_eq(run_sh("exit 255", NULL), 255);
    ck_assert_int_eq(run_sh("kill -USR1 $$", NULL), -SIGUSR1);
    char *argv[] = {"no-such-program-coio", NULL};
    coio_process *p = NULL;
    errno = 0;
    ck_assert_int_eq(coio_subprocess_exec(argv, NULL, &p), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_null(p);
}

START_TEST(test_exit_codes_and_exec_failure) { RUN(exit_codes); }
END_TEST

static void signals(void)
{
    char *argv[] = {"sleep", "10", NULL};
    coio_process *p = spawn(argv, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    int rc = 12345;
    ck_assert_int_eq(coio_process_returncode(p, &rc), 0); /* running */
    ck_assert_int_eq(rc, 12345);
    double t0 = now();
    ck_assert_int_eq(coio_process_terminate(p), 0);
    ck_assert_int_eq(coio_process_wait(p, &rc), 0);
    ck_assert_int_eq(rc, -SIGTERM); /* asyncio: a negative signal number */
    ck_assert_time(now() - t0, 0, 2.0);
    /* After the exit, signals do nothing (the pid may be reused). */
    ck_assert_int_eq(coio_process_kill(p), 0);
    coio_process_release(p);

    p = spawn(argv, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    ck_assert_int_eq(coio_process_kill(p), 0);
    ck_assert_int_eq(coio_process_wait(p, &rc), 0);
    ck_assert_int_eq(rc, -SIGKILL);
    ck_assert_int_eq(coio_process_send_signal(p, SIGTERM), 0);
    coio_process_release(p);

    p = spawn(argv, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    ck_assert_int_eq(coio_process_send_signal(p, 12345), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_process_release(p); /* kills and reaps a running child */
}

START_TEST(test_terminate_kill_returncode_is_minus_signal) { RUN(signals); }
END_TEST

static void *waiter(void *arg)
{
    int rc = 0;
    if (coio_process_wait(arg, &rc) < 0)
        return (void *)(intptr_t)-1000;
    return (void *)(intptr_t)rc;
}

static void many_waiters(void)
{
    char *argv[] = {"sh", "-c", "sleep 0.1; exit 5", NULL};
    coio_process *p = spawn(argv, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    coio_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = coio_spawn(waiter, p);
    coio_sleep(0.01);
    /* The first waiter (the one watching the exit) is cancelled: another takes over. */
    coio_cancel(t[0]);
    for (int i = 0; i < 4; i++) {
        void *r;
        int rc = coio_await(t[i], &r);
        if (i == 0) {
            ck_assert_int_eq(rc, -1);
            ck_assert_int_eq(errno, ECANCELED);
            coio_absorb_cancel();
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq((intptr_t)r, 5);
        }
        coio_task_release(t[i]);
    }
    /* A cancelled wait (a timeout) leaves the process waitable. */
    char *argv2[] = {"sleep", "0.2", NULL};
    coio_process *q = spawn(argv2, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    coio_timeout to;
    coio_timeout_enter(&to, 0.02);
    int rc = coio_process_wait(q, NULL);
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_int_eq(coio_process_wait(q, &rc), 0);
    ck_assert_int_eq(rc, 0);
    coio_process_release(q);
    coio_process_release(p);
}

START_TEST(test_wait_from_many_tasks_and_after_cancel) { RUN(many_waiters); }
END_TEST

static void cancel_communicate_body(void)
{
    char *argv[] = {"sh", "-c", "echo early; exec sleep 10", NULL};
    coio_process *p = spawn(argv, COIO_INHERIT, COIO_PIPE, COIO_INHERIT);
    coio_timeout to;
    coio_timeout_enter(&to, 0.2);
    void *out = NULL;
    int rc = coio_process_communicate(p, NULL, 0, &out, NULL, NULL, NULL);
    ck_assert_int_eq(coio_timeout_exit(&to, rc), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_ptr_null(out);
    /* Nothing was lost: the early line is still in the reader. */
    char line[32];
    ck_assert_int_eq(coio_reader_readline(coio_process_stdout(p), line, sizeof line), 6);
    ck_assert(memcmp(line, "early\n", 6) == 0);
    coio_process_kill(p);
    ck_assert_int_eq(coio_process_wait(p, &rc), 0);
    ck_assert_int_eq(rc, -SIGKILL);
    coio_process_release(p);
}

START_TEST(test_cancelled_communicate_loses_nothing) { RUN(cancel_communicate_body); }
END_TEST

/* ---- stdio modes ---------------------------------------------------------------------------- */

static void modes(void)
{
    /* DEVNULL stdin: cat sees EOF at once. */
    char *cat[] = {"cat", NULL};
    coio_process *p = spawn(cat, COIO_DEVNULL, COIO_PIPE, COIO_INHERIT);
    ck_assert_ptr_null(coio_process_stdin(p));
    ck_assert_ptr_null(coio_process_stderr(p));
    void *out;
    size_t n;
    ck_assert_int_eq(coio_process_communicate(p, NULL, 0, &out, &n, NULL, NULL), 0);
    ck_assert_uint_eq(n, 0);
    free(out);
    coio_process_release(p);
    /* input without a stdin pipe is EINVAL. */
    p = spawn(cat, COIO_DEVNULL, COIO_DEVNULL, COIO_INHERIT);
    ck_assert_int_eq(coio_process_communicate(p, "x", 1, NULL, NULL, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_process_wait(p, NULL), 0);
    coio_process_release(p);

    /* stderr to stdout. */
    char *both[] = {"sh", "-c", "echo a; echo b >&2", NULL};
    p = spawn(both, COIO_DEVNULL, COIO_PIPE, COIO_STDOUT);
    ck_assert_int_eq(coio_process_communicate(p, NULL, 0, &out, &n, NULL, NULL), 0);
    ck_assert_str_eq(out, "a\nb\n");
    free(out);
    coio_process_release(p);

    /* A given fd as stdout. */
    int pf[2];
    ck_assert_int_eq(pipe2(pf, O_CLOEXEC), 0);
    coio_subprocess_opts o = {.out = {COIO_FD, pf[1]}};
    char *echo[] = {"echo", "to fd", NULL};
    ck_assert_int_eq(coio_subprocess_exec(echo, &o, &p), 0);
    close(pf[1]);
    ck_assert_int_eq(coio_process_wait(p, NULL), 0);
    char buf[32];
    ck_assert_int_eq(read(pf[0], buf, sizeof buf), 6);
    ck_assert(memcmp(buf, "to fd\n", 6) == 0);
    close(pf[0]);
    coio_process_release(p);

    /* INHERIT: the child writes to our stdout, here a file. */
    char tmpl[] = "/tmp/coio-proc-XXXXXX";
    int fd = mkstemp(tmpl);
    unlink(tmpl);
    int saved = dup(1);
    dup2(fd, 1);
    char *inh[] = {"echo", "inherited", NULL};
    p = spawn(inh, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    ck_assert_int_eq(coio_process_wait(p, NULL), 0);
    dup2(saved, 1);
    close(saved);
    ck_assert_int_eq(pread(fd, buf, sizeof buf, 0), 10);
    ck_assert(memcmp(buf, "inherited\n", 10) == 0);
    close(fd);
    coio_process_release(p);

    /* Bad modes. */
    coio_subprocess_opts bad = {.out = {COIO_STDOUT, 0}};
    ck_assert_int_eq(coio_subprocess_exec(cat, &bad, &p), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_subprocess_opts badfd = {.in = {COIO_FD, 999999}};
    ck_assert_int_eq(coio_subprocess_exec(cat, &badfd, &p), -1);
    ck_assert_int_eq(errno, EBADF);
    char *empty[] = {NULL};
    ck_assert_int_eq(coio_subprocess_exec(empty, NULL, &p), -1);
    ck_assert_int_eq(errno, EINVAL);
}

START_TEST(test_stdio_devnull_inherit_fd_and_stdout) { RUN(modes); }
END_TEST

static void no_leaks(void)
{
    /* An fd without O_CLOEXEC, plus every fd coio holds (poller, pipes, pidfd):
       none reaches the child, whose only fds are 0..2 and the one ls opens. */
    int leaky = dup(2);
    ck_assert_int_ge(leaky, 3);
    char *out;
    ck_assert_int_eq(run_sh("ls /proc/self/fd | sort -n | tr '\\n' ' '", &out), 0);
    ck_assert_str_eq(out, "0 1 2 3 ");
    free(out);
    close(leaky);
}

START_TEST(test_no_fd_leaks_into_child) { RUN(no_leaks); }
END_TEST

static void cwd_env(void)
{
    char *argv[] = {"sh", "-c", "pwd; echo $FOO", NULL};
    char *envp[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};
    coio_subprocess_opts o = {.out = {COIO_PIPE, 0}, .cwd = "/", .envp = envp};
    coio_process *p;
    ck_assert_int_eq(coio_subprocess_exec(argv, &o, &p), 0);
    void *out;
    ck_assert_int_eq(coio_process_communicate(p, NULL, 0, &out, NULL, NULL, NULL), 0);
    ck_assert_str_eq(out, "/\nbar\n");
    free(out);
    coio_process_release(p);
}

START_TEST(test_cwd_and_environment) { RUN(cwd_env); }
END_TEST

/* ---- the exit watch does not steal other children ----------------------------------------- */

static void not_stealing(void)
{
    pid_t foreign = fork();
    if (foreign == 0)
        _exit(42);
    ck_assert_int_gt(foreign, 0);
    char *argv[] = {"sh", "-c", "sleep 0.05; exit 9", NULL};
    coio_process *p = spawn(argv, COIO_INHERIT, COIO_INHERIT, COIO_INHERIT);
    int rc;
    ck_assert_int_eq(coio_process_wait(p, &rc), 0);
    ck_assert_int_eq(rc, 9);
    coio_process_release(p);
    /* The other child is still ours to reap, with its status. */
    int st;
    ck_assert_int_eq(waitpid(foreign, &st, 0), foreign);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 42);
}

START_TEST(test_pidfd_wait_does_not_reap_other_children) { RUN(not_stealing); }
END_TEST

START_TEST(test_sigchld_fallback_reaps_only_our_pids)
{
    coio__process_no_pidfd = 1;
    RUN(not_stealing);
    RUN(many_waiters);
    RUN(x4_both);
    /* The handler is gone again with the last process. */
    struct sigaction sa;
    sigaction(SIGCHLD, NULL, &sa);
    ck_assert(sa.sa_handler == SIG_DFL);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("process");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_X4_communicate_10MiB_through_cat);
    tcase_add_test(tc, test_X4_communicate_drains_both_outputs_concurrently);
    tcase_add_test(tc, test_X4_communicate_ignores_epipe_on_stdin);
    tcase_add_test(tc, test_exit_codes_and_exec_failure);
    tcase_add_test(tc, test_terminate_kill_returncode_is_minus_signal);
    tcase_add_test(tc, test_wait_from_many_tasks_and_after_cancel);
    tcase_add_test(tc, test_cancelled_communicate_loses_nothing);
    tcase_add_test(tc, test_stdio_devnull_inherit_fd_and_stdout);
    tcase_add_test(tc, test_no_fd_leaks_into_child);
    tcase_add_test(tc, test_cwd_and_environment);
    tcase_add_test(tc, test_pidfd_wait_does_not_reap_other_children);
    tcase_add_test(tc, test_sigchld_fallback_reaps_only_our_pids);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(make_suite)
