/* check_io.c — fd readiness and I/O in tasks: coio_wait_readable/writable
 * (timeouts, cancellation, coio_close, one waiter per direction, bad input),
 * coio_read/coio_write over pipes and sockets, accept/connect on loopback TCP.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------------- */

static void make_pipe(int p[2]) { ck_assert_int_eq(pipe(p), 0); }

static void make_socketpair(int s[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Write with plain write(2) until EAGAIN (fd made nonblocking). */
static size_t fill(int fd)
{
    static char junk[65536];
    set_nonblock(fd);
    size_t total = 0;
    for (;;) {
        ssize_t r = write(fd, junk, sizeof junk);
        if (r < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            return total;
        }
        total += (size_t)r;
    }
}

/* Read with plain read(2) until EAGAIN or EOF (fd made nonblocking). */
static size_t drain(int fd)
{
    char buf[16384];
    set_nonblock(fd);
    size_t total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        total += (size_t)r;
    return total;
}

/* The byte at offset i of test stream `seed`: not periodic over small spans,
   so a lost, doubled or reordered chunk shows. */
static unsigned char pattern(unsigned seed, size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u + seed * 40503u;
    return (unsigned char)((x >> 13) ^ (x >> 24) ^ (uint32_t)(i >> 10));
}

static void fill_pattern(unsigned char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(seed, i);
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = port};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* A listening loopback TCP socket made by coio_socket; *sa gets its address. */
static int listener(struct sockaddr_in *sa)
{
    int fd = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    *sa = loopback(0);
    socklen_t sl = sizeof *sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
    ck_assert_int_eq(listen(fd, 512), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &sl), 0);
    return fd;
}

/* A loopback TCP port with nobody listening (bound once, then released). */
static struct sockaddr_in closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = loopback(0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return sa;
}

static void assert_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    ck_assert_int_ge(fl, 0);
    ck_assert_int_ge(fdfl, 0);
    ck_assert_msg(fl & O_NONBLOCK, "fd %d is blocking", fd);
    ck_assert_msg(fdfl & FD_CLOEXEC, "fd %d is not close-on-exec", fd);
}

static void run_ok(void *(*fn)(void *), void *arg)
{
    ck_assert_int_eq(run_main(fn, arg, NULL), 0);
}

/* A task that waits on one direction of an fd and records how it ended. */
typedef struct {
    int fd;
    int write;         /* wait for writable instead of readable */
    double timeout;
    int rc, err;
    double waited;
    double end;        /* loop time when the wait returned */
    int again_rc;      /* a second wait after absorbing a cancel, if asked */
    int wait_again;
} waiter;

static void *waiter_fn(void *arg)
{
    waiter *w = arg;
    double t0 = now();
    errno = 0;
    w->rc = w->write ? coio_wait_writable(w->fd, w->timeout) : coio_wait_readable(w->fd, w->timeout);
    w->err = errno;
    w->end = now();
    w->waited = w->end - t0;
    if (w->wait_again) {
        coio_absorb_cancel();
        w->again_rc = w->write ? coio_wait_writable(w->fd, 5.0) : coio_wait_readable(w->fd, 5.0);
    }
    return NULL;
}

/* ---- wait_readable / wait_writable: timeouts ---------------------------------------- */

static void *wait_readable_timeout_main(void *arg)
{
    int p[2];
    make_pipe(p);
    double t0 = now();
    errno = 0;
    ck_assert_int_eq(coio_wait_readable(p[0], 0.1), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_time(now() - t0, 0.1, 0.6);

    /* Zero timeout: not ready is an immediate ETIMEDOUT, ready is 0. */
    t0 = now();
    ck_assert_int_eq(coio_wait_readable(p[0], 0), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_time(now() - t0, 0.0, 0.1);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(coio_wait_readable(p[0], 0), 0);
    ck_assert_int_eq(coio_wait_readable(p[0], 0.1), 0); /* still readable: no wait */
    ck_assert_int_eq(coio_close(p[0]), 0);
    ck_assert_int_eq(coio_close(p[1]), 0);
    return NULL;
}

START_TEST(test_io_wait_readable_timeout)
{
    run_ok(wait_readable_timeout_main, NULL);
}
END_TEST

static void *wait_writable_timeout_main(void *arg)
{
    int p[2];
    make_pipe(p);
    ck_assert_int_eq(coio_wait_writable(p[1], 0.1), 0); /* empty pipe: at once */
    size_t n = fill(p[1]);
    double t0 = now();
    errno = 0;
    ck_assert_int_eq(coio_wait_writable(p[1], 0.1), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_time(now() - t0, 0.1, 0.6);
    ck_assert_uint_eq(drain(p[0]), n);
    ck_assert_int_eq(coio_wait_writable(p[1], 0.1), 0);
    coio_close(p[0]);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_wait_writable_timeout)
{
    run_ok(wait_writable_timeout_main, NULL);
}
END_TEST

static void *write_later(void *arg)
{
    int fd = *(int *)arg;
    coio_sleep(0.05);
    ck_assert_int_eq(write(fd, "x", 1), 1);
    return NULL;
}

static void *wait_readable_wakes_main(void *arg)
{
    /* The wait ends when data arrives, well before its timeout, and lets
       other tasks run meanwhile. */
    int p[2];
    make_pipe(p);
    coio_task *t = coio_spawn(write_later, &p[1]);
    double t0 = now();
    ck_assert_int_eq(coio_wait_readable(p[0], 5.0), 0);
    ck_assert_time(now() - t0, 0.05, 1.0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);

    /* No timeout at all (< 0). */
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    t = coio_spawn(write_later, &p[1]);
    t0 = now();
    ck_assert_int_eq(coio_wait_readable(p[0], -1), 0);
    ck_assert_time(now() - t0, 0.05, 1.0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    coio_close(p[0]);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_wait_readable_wakes_on_data)
{
    run_ok(wait_readable_wakes_main, NULL);
}
END_TEST

static void *wait_hangup_main(void *arg)
{
    /* A hang-up counts as ready: readable at EOF, writable with an error. */
    int p[2];
    make_pipe(p);
    waiter w = {.fd = p[0], .timeout = 5.0};
    coio_task *t = coio_spawn(waiter_fn, &w);
    coio_sleep(0.02);
    double t_act = now();
    close(p[1]); /* never used with coio: a plain close is fine */
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_time(w.end - t_act, 0.0, 1.0); /* woken by the hang-up */
    char c;
    ck_assert_int_eq(coio_read(p[0], &c, 1), 0); /* EOF */
    coio_close(p[0]);

    int s[2];
    make_socketpair(s);
    fill(s[0]);
    waiter ww = {.fd = s[0], .write = 1, .timeout = 5.0};
    t = coio_spawn(waiter_fn, &ww);
    coio_sleep(0.02);
    t_act = now();
    close(s[1]);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(ww.rc, 0);
    ck_assert_time(ww.end - t_act, 0.0, 1.0);
    errno = 0;
    ck_assert_int_eq(coio_write(s[0], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    coio_close(s[0]);
    return NULL;
}

START_TEST(test_io_wait_hangup_is_ready)
{
    signal(SIGPIPE, SIG_DFL);
    run_ok(wait_hangup_main, NULL);
}
END_TEST

/* ---- cancellation --------------------------------------------------------------- */

static void *wait_cancel_main(void *arg)
{
    int p[2];
    make_pipe(p);
    waiter w = {.fd = p[0], .timeout = -1, .wait_again = 1};
    coio_task *t = coio_spawn(waiter_fn, &w);
    coio_sleep(0.05);
    ck_assert(!coio_task_done(t));
    double t0 = now();
    ck_assert_int_eq(coio_cancel(t), 1);
    coio_sleep(0.05); /* the waiter is parked in its second wait by now */
    ck_assert(!coio_task_done(t));
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(coio_await(t, NULL), 0); /* it absorbed the cancel */
    ck_assert_time(now() - t0, 0.05, 1.0);
    coio_task_release(t);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, ECANCELED);
    ck_assert_int_eq(w.again_rc, 0);

    /* A cancelled wait with a timeout is ECANCELED, and its timer is gone. */
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    waiter w2 = {.fd = p[0], .timeout = 0.1};
    t = coio_spawn(waiter_fn, &w2);
    coio_sleep(0.02);
    double t_act = now();
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_await(t, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1); /* t's cancel is not ours */
    coio_task_release(t);
    ck_assert_int_eq(w2.err, ECANCELED);
    ck_assert_time(w2.end - t_act, 0.0, 1.0);
    coio_sleep(0.15); /* past the old deadline: nothing fires into a dead wait */

    /* The direction is free again after both. */
    ck_assert_int_eq(coio_wait_readable(p[0], 0.01), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    coio_close(p[0]);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_wait_cancelled_then_wait_again)
{
    run_ok(wait_cancel_main, NULL);
}
END_TEST

typedef struct {
    int fd;
    char buf[16];
    ssize_t r1, r2;
    int err1;
} reader;

static void *read_twice(void *arg)
{
    reader *r = arg;
    errno = 0;
    r->r1 = coio_read(r->fd, r->buf, sizeof r->buf);
    r->err1 = errno;
    coio_absorb_cancel();
    r->r2 = coio_read(r->fd, r->buf, sizeof r->buf);
    return NULL;
}

static void *read_cancel_main(void *arg)
{
    /* A cancelled coio_read loses nothing: the data written afterwards is
       read by the next call. */
    int p[2];
    make_pipe(p);
    reader r = {.fd = p[0]};
    coio_task *t = coio_spawn(read_twice, &r);
    coio_sleep(0.02);
    ck_assert_int_eq(coio_cancel(t), 1);
    coio_sleep(0.02);
    ck_assert_int_eq(write(p[1], "abc", 3), 3);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(r.r1, -1);
    ck_assert_int_eq(r.err1, ECANCELED);
    ck_assert_int_eq(r.r2, 3);
    ck_assert_int_eq(memcmp(r.buf, "abc", 3), 0);
    coio_close(p[0]);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_read_cancelled_loses_nothing)
{
    run_ok(read_cancel_main, NULL);
}
END_TEST

/* ---- coio_close wakes waiters --------------------------------------------------------- */

static void *closer(void *arg)
{
    coio_sleep(0.05);
    ck_assert_int_eq(coio_close(*(int *)arg), 0);
    return NULL;
}

typedef struct {
    int fd;
    size_t n;
    ssize_t rc;
    int err;
} writer;

static void *write_big(void *arg)
{
    writer *w = arg;
    unsigned char *buf = calloc(1, w->n);
    ck_assert_ptr_nonnull(buf);
    errno = 0;
    w->rc = coio_write(w->fd, buf, w->n);
    w->err = errno;
    free(buf);
    return NULL;
}

static void *close_wakes_main(void *arg)
{
    /* One task waits to read s[0], another is stuck writing 4 MiB to it;
       a third coio_closes s[0]: both wake with EBADF at once. */
    int s[2];
    make_socketpair(s);
    waiter rd = {.fd = s[0], .timeout = 5.0};
    writer wr = {.fd = s[0], .n = 4u << 20};
    coio_task *tr = coio_spawn(waiter_fn, &rd);
    coio_task *tw = coio_spawn(write_big, &wr);
    coio_task *tc = coio_spawn(closer, &s[0]);
    double t0 = now();
    ck_assert_int_eq(coio_await(tr, NULL), 0);
    ck_assert_int_eq(coio_await(tw, NULL), 0);
    ck_assert_int_eq(coio_await(tc, NULL), 0);
    ck_assert_time(now() - t0, 0.05, 1.0);
    coio_task_release(tr);
    coio_task_release(tw);
    coio_task_release(tc);
    ck_assert_int_eq(rd.rc, -1);
    ck_assert_int_eq(rd.err, EBADF);
    ck_assert_time(rd.waited, 0.05, 1.0);
    /* Some bytes went out before the writer parked: it reports them. */
    ck_assert_int_gt(wr.rc, 0);
    ck_assert_int_lt(wr.rc, (ssize_t)wr.n);
    ck_assert_int_eq(wr.err, EBADF);

    /* The fd is gone: waits on it fail, and so does a second close. */
    errno = 0;
    ck_assert_int_eq(coio_wait_readable(s[0], 0.1), -1);
    ck_assert_int_eq(errno, EBADF);
    errno = 0;
    ck_assert_int_eq(coio_close(s[0]), -1);
    ck_assert_int_eq(errno, EBADF);
    coio_close(s[1]);
    return NULL;
}

START_TEST(test_io_close_wakes_waiters_with_ebadf)
{
    run_ok(close_wakes_main, NULL);
}
END_TEST

static void *close_writable_main(void *arg)
{
    int s[2];
    make_socketpair(s);
    fill(s[0]);
    waiter w = {.fd = s[0], .write = 1, .timeout = -1};
    coio_task *t = coio_spawn(waiter_fn, &w);
    coio_task *c = coio_spawn(closer, &s[0]);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    ck_assert_int_eq(coio_await(c, NULL), 0);
    coio_task_release(t);
    coio_task_release(c);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, EBADF);
    ck_assert_time(w.waited, 0.05, 1.0);
    coio_close(s[1]);
    return NULL;
}

START_TEST(test_io_close_wakes_writable_waiter)
{
    run_ok(close_writable_main, NULL);
}
END_TEST

static void *plain_close_reuse_main(void *arg)
{
    /* Misuse: a registered fd closed with close(2). The number comes back
       from coio_socket; the stale waiter gets EBADF, and waits on the new
       socket work (its registration was renewed). */
    int p[2];
    make_pipe(p);
    ck_assert_int_eq(coio_wait_readable(p[0], 0.01), -1); /* registers p[0] */
    waiter w = {.fd = p[0], .timeout = 5.0};
    coio_task *t = coio_spawn(waiter_fn, &w);
    coio_sleep(0.02);
    ck_assert(!coio_task_done(t));
    int old = p[0];
    close(p[0]);
    close(p[1]);
    double t_act = now();
    int u = coio_socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(u, old); /* the lowest free number */
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(w.rc, -1);
    ck_assert_int_eq(w.err, EBADF);
    ck_assert_time(w.end - t_act, 0.0, 1.0);

    struct sockaddr_in sa = loopback(0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(u, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(u, (struct sockaddr *)&sa, &sl), 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(tx, 0);
    waiter w2 = {.fd = u, .timeout = 2.0};
    t = coio_spawn(waiter_fn, &w2);
    coio_sleep(0.02);
    t_act = now();
    ck_assert_int_eq(sendto(tx, "d", 1, 0, (struct sockaddr *)&sa, sizeof sa), 1);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(w2.rc, 0);
    ck_assert_time(w2.end - t_act, 0.0, 1.0);
    char c;
    ck_assert_int_eq(coio_read(u, &c, 1), 1);
    close(tx);
    coio_close(u);
    return NULL;
}

START_TEST(test_io_plain_close_then_reuse_by_coio_socket)
{
    run_ok(plain_close_reuse_main, NULL);
}
END_TEST

/* ---- one waiter per direction --------------------------------------------------------- */

static void *eexist_main(void *arg)
{
    int s[2];
    make_socketpair(s);
    waiter w = {.fd = s[0], .timeout = 5.0};
    coio_task *t = coio_spawn(waiter_fn, &w);
    coio_sleep(0.02);
    double t0 = now();
    errno = 0;
    ck_assert_int_eq(coio_wait_readable(s[0], 1.0), -1);
    ck_assert_int_eq(errno, EEXIST);
    char buf[4];
    errno = 0;
    ck_assert_int_eq(coio_read(s[0], buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_time(now() - t0, 0.0, 0.1); /* refused without waiting */
    /* The other direction is independent. */
    ck_assert_int_eq(coio_wait_writable(s[0], 1.0), 0);
    ck_assert_int_eq(coio_write(s[0], "hi", 2), 2);

    ck_assert_int_eq(write(s[1], "x", 1), 1);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(w.rc, 0);
    /* The slot is free once the first waiter is done. */
    ck_assert_int_eq(coio_read(s[0], buf, sizeof buf), 1);
    ck_assert_int_eq(coio_wait_readable(s[0], 0.01), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);

    /* The same for writers. */
    fill(s[0]);
    waiter ww = {.fd = s[0], .write = 1, .timeout = 5.0};
    t = coio_spawn(waiter_fn, &ww);
    coio_sleep(0.02);
    errno = 0;
    ck_assert_int_eq(coio_wait_writable(s[0], 1.0), -1);
    ck_assert_int_eq(errno, EEXIST);
    errno = 0;
    ck_assert_int_eq(coio_write(s[0], "y", 1), -1);
    ck_assert_int_eq(errno, EEXIST);
    drain(s[1]);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(ww.rc, 0);
    coio_close(s[0]);
    coio_close(s[1]);
    return NULL;
}

START_TEST(test_io_second_waiter_same_direction_eexist)
{
    run_ok(eexist_main, NULL);
}
END_TEST

/* ---- bad input -------------------------------------------------------------------------- */

START_TEST(test_io_outside_task_einval)
{
    int p[2];
    make_pipe(p);
    struct sockaddr_in sa = loopback(1);
    char c = 0;
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: no loop at all; pass 1: a current loop that is not running */
        coio_loop *l = pass ? coio_loop_new() : NULL;
        errno = 0;
        ck_assert_int_eq(coio_wait_readable(p[0], 0), -1);
        ck_assert_int_eq(errno, EINVAL);
        errno = 0;
        ck_assert_int_eq(coio_wait_writable(p[1], 0), -1);
        ck_assert_int_eq(errno, EINVAL);
        errno = 0;
        ck_assert_int_eq(coio_read(p[0], &c, 1), -1);
        ck_assert_int_eq(errno, EINVAL);
        errno = 0;
        ck_assert_int_eq(coio_write(p[1], &c, 1), -1);
        ck_assert_int_eq(errno, EINVAL);
        errno = 0;
        ck_assert_int_eq(coio_accept(p[0], NULL, NULL), -1);
        ck_assert_int_eq(errno, EINVAL);
        errno = 0;
        ck_assert_int_eq(coio_connect(p[0], (struct sockaddr *)&sa, sizeof sa), -1);
        ck_assert_int_eq(errno, EINVAL);
        errno = 0;
        ck_assert_int_eq(coio_wait_readable(-1, 0), -1);
        ck_assert_int_eq(errno, EINVAL);
        if (l)
            ck_assert_int_eq(coio_loop_close(l), 0);
    }
    /* Nothing was done to the fds: still blocking, data intact. */
    ck_assert_int_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(write(p[1], "z", 1), 1);
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    ck_assert_int_eq(c, 'z');
    /* coio_socket and coio_close work outside tasks. */
    int fd = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    assert_nonblock_cloexec(fd);
    ck_assert_int_eq(coio_close(fd), 0);
    errno = 0;
    ck_assert_int_eq(coio_socket(-1, SOCK_STREAM, 0), -1);
    ck_assert_int_ne(errno, 0);
    ck_assert_int_eq(coio_close(p[0]), 0);
    ck_assert_int_eq(coio_close(p[1]), 0);
}
END_TEST

static void *bad_fd_main(void *arg)
{
    int p[2];
    make_pipe(p);
    int dead = p[0];
    close(p[0]);
    close(p[1]);
    struct sockaddr_in sa = loopback(1);
    char c;
    int bad[] = {-1, -12345, dead, INT_MAX, INT_MAX - 1, 1 << 30};
    double t0 = now();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int fd = bad[i];
        errno = 0;
        ck_assert_int_eq(coio_wait_readable(fd, 1.0), -1);
        ck_assert_int_eq(errno, EBADF);
        errno = 0;
        ck_assert_int_eq(coio_wait_writable(fd, -1), -1);
        ck_assert_int_eq(errno, EBADF);
        errno = 0;
        ck_assert_int_eq(coio_read(fd, &c, 1), -1);
        ck_assert_int_eq(errno, EBADF);
        errno = 0;
        ck_assert_int_eq(coio_write(fd, "x", 1), -1);
        ck_assert_int_eq(errno, EBADF);
        errno = 0;
        ck_assert_int_eq(coio_accept(fd, NULL, NULL), -1);
        ck_assert_int_eq(errno, EBADF);
        errno = 0;
        ck_assert_int_eq(coio_connect(fd, (struct sockaddr *)&sa, sizeof sa), -1);
        ck_assert_int_eq(errno, EBADF);
        errno = 0;
        ck_assert_int_eq(coio_close(fd), -1);
        ck_assert_int_eq(errno, EBADF);
    }
    ck_assert_time(now() - t0, 0.0, 0.5); /* refused at once, no table growth */

    /* A NaN timeout is EINVAL. */
    make_pipe(p);
    errno = 0;
    ck_assert_int_eq(coio_wait_readable(p[0], 0.0 / 0.0), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_wait_writable(p[1], 0.0 / 0.0), -1);
    ck_assert_int_eq(errno, EINVAL);
    coio_close(p[0]);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_bad_fd_ebadf)
{
    run_ok(bad_fd_main, NULL);
}
END_TEST

/* ---- read / write ------------------------------------------------------------------------ */

#define MIB (1u << 20)

typedef struct {
    int fd;
    unsigned seed;
    size_t n;
    ssize_t wrote;
    size_t got;
    int intact;
    int close_after;
    int shut_after;
} stream;

static void *stream_writer(void *arg)
{
    stream *st = arg;
    unsigned char *buf = malloc(st->n);
    ck_assert_ptr_nonnull(buf);
    fill_pattern(buf, st->n, st->seed);
    st->wrote = coio_write(st->fd, buf, st->n);
    free(buf);
    if (st->close_after)
        coio_close(st->fd);
    if (st->shut_after)
        shutdown(st->fd, SHUT_WR);
    return NULL;
}

static void *stream_reader(void *arg)
{
    /* Reads in odd-sized chunks up to EOF and checks every byte. */
    stream *st = arg;
    unsigned char buf[7001];
    size_t chunk = 1;
    st->intact = 1;
    for (;;) {
        ssize_t r = coio_read(st->fd, buf, chunk);
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(st->seed, st->got + (size_t)i))
                st->intact = 0;
        st->got += (size_t)r;
        chunk = chunk * 3 % sizeof buf + 1;
    }
    return NULL;
}

static void *pipe_1mib_main(void *arg)
{
    int p[2];
    make_pipe(p);
    stream w = {.fd = p[1], .seed = 7, .n = MIB, .close_after = 1};
    stream r = {.fd = p[0], .seed = 7};
    coio_task *tr = coio_spawn(stream_reader, &r);
    coio_task *tw = coio_spawn(stream_writer, &w);
    ck_assert_int_eq(coio_await(tw, NULL), 0);
    ck_assert_int_eq(coio_await(tr, NULL), 0);
    coio_task_release(tw);
    coio_task_release(tr);
    ck_assert_int_eq(w.wrote, (ssize_t)MIB);
    ck_assert_uint_eq(r.got, MIB);
    ck_assert(r.intact);
    /* Both ends were made nonblocking by their first call. */
    ck_assert_int_ne(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    coio_close(p[0]);
    return NULL;
}

START_TEST(test_io_pipe_1mib_reader_writer)
{
    run_ok(pipe_1mib_main, NULL);
}
END_TEST

static void *socketpair_duplex_main(void *arg)
{
    /* 1 MiB each way at once: every fd has a reader and a writer parked on it
       at the same time, one per direction. */
    int s[2];
    make_socketpair(s);
    stream w0 = {.fd = s[0], .seed = 1, .n = MIB, .shut_after = 1};
    stream w1 = {.fd = s[1], .seed = 2, .n = MIB, .shut_after = 1};
    stream r0 = {.fd = s[0], .seed = 2};
    stream r1 = {.fd = s[1], .seed = 1};
    coio_task *t[4] = {coio_spawn(stream_writer, &w0), coio_spawn(stream_writer, &w1),
                       coio_spawn(stream_reader, &r0), coio_spawn(stream_reader, &r1)};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(coio_await(t[i], NULL), 0);
        coio_task_release(t[i]);
    }
    ck_assert_int_eq(w0.wrote, (ssize_t)MIB);
    ck_assert_int_eq(w1.wrote, (ssize_t)MIB);
    ck_assert_uint_eq(r0.got, MIB);
    ck_assert_uint_eq(r1.got, MIB);
    ck_assert(r0.intact && r1.intact);
    coio_close(s[0]);
    coio_close(s[1]);
    return NULL;
}

START_TEST(test_io_socketpair_duplex_1mib)
{
    run_ok(socketpair_duplex_main, NULL);
}
END_TEST

static void *read_partial_main(void *arg)
{
    /* coio_read returns what is there (not n bytes), waits only when
       nothing is; 0 at EOF; n == 0 reads nothing. */
    int s[2];
    make_socketpair(s);
    char buf[64];
    ck_assert_int_eq(write(s[1], "hello", 5), 5);
    ck_assert_int_eq(coio_read(s[0], buf, sizeof buf), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(coio_read(s[0], buf, 0), 0);
    ck_assert_int_eq(coio_write(s[0], buf, 0), 0);
    coio_task *t = coio_spawn(write_later, &s[1]);
    double t0 = now();
    ck_assert_int_eq(coio_read(s[0], buf, sizeof buf), 1);
    ck_assert_time(now() - t0, 0.05, 1.0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    shutdown(s[1], SHUT_WR);
    ck_assert_int_eq(coio_read(s[0], buf, sizeof buf), 0);
    coio_close(s[0]);
    coio_close(s[1]);
    return NULL;
}

START_TEST(test_io_read_partial_and_eof)
{
    run_ok(read_partial_main, NULL);
}
END_TEST

static void *blocking_fd_main(void *arg)
{
    /* A blocking pipe handed to coio_read does not block the thread: the
       writer task still runs. */
    int p[2];
    make_pipe(p);
    ck_assert_int_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    coio_task *t = coio_spawn(write_later, &p[1]);
    char c;
    ck_assert_int_eq(coio_read(p[0], &c, 1), 1);
    ck_assert_int_eq(c, 'x');
    ck_assert_int_ne(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    coio_close(p[0]);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_blocking_fd_made_nonblocking)
{
    run_ok(blocking_fd_main, NULL);
}
END_TEST

/* ---- EPIPE, not SIGPIPE ----------------------------------------------------------------- */

static void *epipe_socketpair_main(void *arg)
{
    int s[2];
    make_socketpair(s);
    close(s[1]);
    errno = 0;
    ck_assert_int_eq(coio_write(s[0], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    errno = 0;
    ck_assert_int_eq(coio_write(s[0], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    coio_close(s[0]);
    return NULL;
}

START_TEST(test_io_write_closed_peer_epipe_no_sigpipe)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this (forked) test */
    run_ok(epipe_socketpair_main, NULL);
}
END_TEST

static int sigpipe_pending(void)
{
    sigset_t pend;
    ck_assert_int_eq(sigpending(&pend), 0);
    return sigismember(&pend, SIGPIPE);
}

static int sigpipe_blocked(void)
{
    sigset_t cur;
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    return sigismember(&cur, SIGPIPE);
}

static void *epipe_pipe_main(void *arg)
{
    int p[2];
    make_pipe(p);
    close(p[0]);
    for (int i = 0; i < 2; i++) { /* the first call learns the fd, the second knows it */
        errno = 0;
        ck_assert_int_eq(coio_write(p[1], "x", 1), -1);
        ck_assert_int_eq(errno, EPIPE);
        ck_assert_int_eq(sigpipe_pending(), 0); /* raised and taken back */
        ck_assert_int_eq(sigpipe_blocked(), 0); /* the mask is the caller's again */
    }
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_write_pipe_closed_reader_epipe_no_sigpipe)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this (forked) test */
    run_ok(epipe_pipe_main, NULL);
}
END_TEST

static void *epipe_pending_main(void *arg)
{
    int p[2];
    make_pipe(p);
    close(p[0]);
    /* The caller holds SIGPIPE blocked and one is pending: it must stay pending. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    ck_assert_int_eq(raise(SIGPIPE), 0);
    ck_assert_int_eq(sigpipe_pending(), 1);
    errno = 0;
    ck_assert_int_eq(coio_write(p[1], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(sigpipe_pending(), 1);
    ck_assert_int_eq(sigpipe_blocked(), 1);
    int sig = 0;
    ck_assert_int_eq(sigwait(&set, &sig), 0); /* consume it: exactly one was there */
    ck_assert_int_eq(sig, SIGPIPE);
    ck_assert_int_eq(sigpipe_pending(), 0);
    /* Blocked but not pending: the SIGPIPE this write raises is taken back. */
    errno = 0;
    ck_assert_int_eq(coio_write(p[1], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(sigpipe_pending(), 0);
    ck_assert_int_eq(sigpipe_blocked(), 1);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    coio_close(p[1]);
    return NULL;
}

START_TEST(test_io_write_pipe_keeps_pending_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);
    run_ok(epipe_pending_main, NULL);
}
END_TEST

static void *accept_and_close(void *arg)
{
    int fd = coio_accept(*(int *)arg, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    char buf[100];
    ck_assert_int_gt(coio_read(fd, buf, sizeof buf), 0); /* the first bytes */
    coio_close(fd);
    return NULL;
}

static void *epipe_tcp_main(void *arg)
{
    /* The peer closes in the middle of a big write: the writer gets the
       bytes written so far, then EPIPE (or ECONNRESET after an RST). */
    struct sockaddr_in sa;
    int lfd = listener(&sa);
    coio_task *srv = coio_spawn(accept_and_close, &lfd);
    int c = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(coio_connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t n = 16u << 20;
    unsigned char *buf = calloc(1, n);
    ck_assert_ptr_nonnull(buf);
    errno = 0;
    ssize_t r = coio_write(c, buf, n);
    int err = errno;
    ck_assert_int_lt(r, (ssize_t)n);
    if (r < 0)
        ck_assert_msg(err == EPIPE || err == ECONNRESET, "errno %d", err);
    for (int i = 0; i < 100 && r >= 0; i++) { /* keep writing until it fails */
        errno = 0;
        r = coio_write(c, buf, 65536);
        err = errno;
    }
    ck_assert_int_eq(r, -1);
    ck_assert_msg(err == EPIPE || err == ECONNRESET, "errno %d", err);
    free(buf);
    ck_assert_int_eq(coio_await(srv, NULL), 0);
    coio_task_release(srv);
    coio_close(c);
    coio_close(lfd);
    return NULL;
}

START_TEST(test_io_tcp_peer_closes_during_write_no_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);
    run_ok(epipe_tcp_main, NULL);
}
END_TEST

/* ---- accept / connect ------------------------------------------------------------------- */

static void *refused_main(void *arg)
{
    struct sockaddr_in sa = closed_port();
    int c = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    errno = 0;
    ck_assert_int_eq(coio_connect(c, (struct sockaddr *)&sa, sizeof sa), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    coio_close(c);

    /* A plain socket (blocking) works as well: coio makes it nonblocking. */
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c, 0);
    errno = 0;
    ck_assert_int_eq(coio_connect(c, (struct sockaddr *)&sa, sizeof sa), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    coio_close(c);
    return NULL;
}

START_TEST(test_io_connect_refused)
{
    run_ok(refused_main, NULL);
}
END_TEST

typedef struct {
    int lfd;
    int fd;
    struct sockaddr_in peer;
    socklen_t peerlen;
    double end;
} acceptor;

static void *accept_one(void *arg)
{
    acceptor *a = arg;
    a->peerlen = sizeof a->peer;
    a->fd = coio_accept(a->lfd, (struct sockaddr *)&a->peer, &a->peerlen);
    a->end = now();
    return NULL;
}

static void *accept_connect_main(void *arg)
{
    struct sockaddr_in sa;
    int lfd = listener(&sa);
    assert_nonblock_cloexec(lfd);
    acceptor a = {.lfd = lfd, .fd = -1};
    coio_task *t = coio_spawn(accept_one, &a);
    coio_sleep(0.05); /* the acceptor is parked in coio_accept */
    ck_assert(!coio_task_done(t));
    int c = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    assert_nonblock_cloexec(c);
    double t_act = now();
    ck_assert_int_eq(coio_connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_time(a.end - t_act, 0.0, 1.0); /* woken by the connection */
    ck_assert_int_ge(a.fd, 0);
    assert_nonblock_cloexec(a.fd);

    /* The accepted peer address is the client's. */
    struct sockaddr_in local;
    socklen_t ll = sizeof local;
    ck_assert_int_eq(getsockname(c, (struct sockaddr *)&local, &ll), 0);
    ck_assert_int_eq(a.peerlen, sizeof a.peer);
    ck_assert_int_eq(a.peer.sin_family, AF_INET);
    ck_assert_int_eq(a.peer.sin_port, local.sin_port);
    ck_assert_int_eq(a.peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));

    /* Data flows both ways. */
    char buf[8];
    ck_assert_int_eq(coio_write(c, "ping", 4), 4);
    ck_assert_int_eq(coio_read(a.fd, buf, sizeof buf), 4);
    ck_assert_int_eq(coio_write(a.fd, "pong", 4), 4);
    ck_assert_int_eq(coio_read(c, buf, sizeof buf), 4);
    ck_assert_int_eq(memcmp(buf, "pong", 4), 0);

    /* Accept with NULL address arguments (the connection is queued). */
    int c2 = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(coio_connect(c2, (struct sockaddr *)&sa, sizeof sa), 0);
    int a2 = coio_accept(lfd, NULL, NULL);
    ck_assert_int_ge(a2, 0);
    assert_nonblock_cloexec(a2);
    coio_close(a2);
    coio_close(c2);
    coio_close(c);
    coio_close(a.fd);
    coio_close(lfd);
    return NULL;
}

START_TEST(test_io_accept_connect_loopback)
{
    run_ok(accept_connect_main, NULL);
}
END_TEST

/* ---- echo server: 200 concurrent clients -------------------------------------------------- */

#define NCLIENTS 200
#define ROUNDS 5

typedef struct {
    int lfd;
    coio_task *handlers[NCLIENTS + 8];
    int nhandlers;
    int accepted;
} server;

static void *echo_handler(void *arg)
{
    /* Echo until the client closes: reads whatever arrived and writes it back. */
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t r;
    while ((r = coio_read(fd, buf, sizeof buf)) > 0)
        ck_assert_int_eq(coio_write(fd, buf, (size_t)r), r);
    ck_assert_int_eq(r, 0);
    coio_close(fd);
    return NULL;
}

static void *echo_acceptor(void *arg)
{
    server *sv = arg;
    for (;;) {
        int fd = coio_accept(sv->lfd, NULL, NULL);
        if (fd < 0) {
            ck_assert_int_eq(errno, ECANCELED);
            return NULL;
        }
        assert_nonblock_cloexec(fd);
        ck_assert_int_lt(sv->nhandlers, NCLIENTS + 8);
        coio_task *h = coio_spawn(echo_handler, (void *)(intptr_t)fd);
        ck_assert_ptr_nonnull(h);
        sv->handlers[sv->nhandlers++] = h;
        sv->accepted++;
    }
}

typedef struct {
    struct sockaddr_in sa;
    int id;
    int ok_rounds;
} client;

static void *echo_client(void *arg)
{
    client *cl = arg;
    int fd = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(coio_connect(fd, (struct sockaddr *)&cl->sa, sizeof cl->sa), 0);
    unsigned char req[3000], rep[3000];
    for (int round = 0; round < ROUNDS; round++) {
        /* Sizes vary by client and round; contents are unique to both. */
        size_t n = 1 + (size_t)((cl->id * 37 + round * 101) % (int)sizeof req);
        fill_pattern(req, n, (unsigned)(cl->id * ROUNDS + round));
        ck_assert_int_eq(coio_write(fd, req, n), (ssize_t)n);
        size_t got = 0;
        while (got < n) {
            ssize_t r = coio_read(fd, rep + got, n - got);
            ck_assert_int_gt(r, 0);
            got += (size_t)r;
        }
        if (memcmp(req, rep, n) == 0)
            cl->ok_rounds++;
        coio_yield(); /* interleave the rounds of different clients */
    }
    coio_close(fd);
    return NULL;
}

static void *echo_main(void *arg)
{
    static server sv;
    static client cl[NCLIENTS];
    coio_task *ct[NCLIENTS];
    struct sockaddr_in sa;
    sv.lfd = listener(&sa);
    coio_task *acc = coio_spawn(echo_acceptor, &sv);
    for (int i = 0; i < NCLIENTS; i++) {
        cl[i] = (client){.sa = sa, .id = i};
        ct[i] = coio_spawn(echo_client, &cl[i]);
        ck_assert_ptr_nonnull(ct[i]);
    }
    for (int i = 0; i < NCLIENTS; i++) {
        ck_assert_int_eq(coio_await(ct[i], NULL), 0);
        coio_task_release(ct[i]);
        ck_assert_int_eq(cl[i].ok_rounds, ROUNDS);
    }
    /* Each handler ends when its client has closed. */
    for (int i = 0; i < sv.nhandlers; i++) {
        ck_assert_int_eq(coio_await(sv.handlers[i], NULL), 0);
        coio_task_release(sv.handlers[i]);
    }
    ck_assert_int_eq(sv.accepted, NCLIENTS);
    coio_cancel(acc);
    ck_assert_int_eq(coio_await(acc, NULL), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_absorb_cancel(), 1);
    coio_task_release(acc);
    coio_close(sv.lfd);
    return NULL;
}

START_TEST(test_io_echo_server_200_clients)
{
    run_ok(echo_main, NULL);
}
END_TEST

/* ---- readiness caching: a short read of a stream socket parks the next read first -------- */

/* A connected loopback TCP pair: *a from coio_accept, *c from coio_socket. */
static void tcp_pair(int *a, int *c)
{
    struct sockaddr_in sa;
    int ls = listener(&sa);
    *c = coio_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*c, 0);
    ck_assert_int_eq(coio_connect(*c, (struct sockaddr *)&sa, sizeof sa), 0);
    *a = coio_accept(ls, NULL, NULL);
    ck_assert_int_ge(*a, 0);
    coio_close(ls);
}

static unsigned lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

enum { ROUNDS_BYTES = 300000 };

typedef struct {
    int fd;
    unsigned seed;
    size_t got;
    int bad;       /* a byte differed from the pattern */
} rounds_arg;

/* Writes ROUNDS_BYTES of pattern in pieces of 1..200 bytes, yielding 0-2
   times between pieces; sometimes two pieces back to back. */
static void *rounds_writer(void *arg)
{
    rounds_arg *ra = arg;
    unsigned s = ra->seed;
    unsigned char piece[400];
    size_t off = 0;
    while (off < ROUNDS_BYTES) {
        size_t n = 1 + lcg(&s) % 200;
        if (lcg(&s) % 4 == 0)
            n += 1 + lcg(&s) % 200; /* two pieces' worth in one write */
        if (n > ROUNDS_BYTES - off)
            n = ROUNDS_BYTES - off;
        for (size_t i = 0; i < n; i++)
            piece[i] = pattern(7, off + i);
        ck_assert_int_eq(coio_write(ra->fd, piece, n), (ssize_t)n);
        off += n;
        for (unsigned y = lcg(&s) % 3; y; y--)
            coio_sleep(0);
    }
    return NULL;
}

/* Reads until EOF with buffers of 1..300 bytes (so both short and exactly
   full reads happen), yielding 0-2 times after each read. */
static void *rounds_reader(void *arg)
{
    rounds_arg *ra = arg;
    unsigned s = ra->seed ^ 0x5a5a;
    unsigned char buf[300];
    for (;;) {
        size_t want = 1 + lcg(&s) % 300;
        ssize_t r = coio_read(ra->fd, buf, want);
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(7, ra->got + (size_t)i))
                ra->bad = 1;
        ra->got += (size_t)r;
        for (unsigned y = lcg(&s) % 3; y; y--)
            coio_sleep(0);
    }
    return NULL;
}

static void rounds_over(int rd, int wr, unsigned seed)
{
    rounds_arg r = {.fd = rd, .seed = seed}, w = {.fd = wr, .seed = seed};
    coio_task *tr = coio_spawn(rounds_reader, &r);
    coio_task *tw = coio_spawn(rounds_writer, &w);
    ck_assert_ptr_nonnull(tr);
    ck_assert_ptr_nonnull(tw);
    ck_assert_int_eq(coio_wait_for(tw, 10.0 * slack(), NULL), 0);
    coio_task_release(tw);
    shutdown(wr, SHUT_WR);
    /* A read parked after a short read with the data already there would
       hang here: the writer is done and no new traffic comes. */
    ck_assert_int_eq(coio_wait_for(tr, 5.0 * slack(), NULL), 0);
    coio_task_release(tr);
    ck_assert_uint_eq(r.got, ROUNDS_BYTES);
    ck_assert_int_eq(r.bad, 0);
}

static void *stream_rounds_main(void *arg)
{
    (void)arg;
    int s[2], a, c;
    make_socketpair(s);
    rounds_over(s[0], s[1], 1);
    coio_close(s[0]);
    coio_close(s[1]);
    tcp_pair(&a, &c);
    rounds_over(a, c, 2); /* accepted side reads */
    coio_close(a);
    coio_close(c);
    tcp_pair(&a, &c);
    rounds_over(c, a, 3); /* coio_socket side reads */
    coio_close(a);
    coio_close(c);
    return NULL;
}

START_TEST(test_io_stream_pieces_short_and_full_reads_lose_nothing)
{
    run_ok(stream_rounds_main, NULL);
}
END_TEST

typedef struct {
    int fd;
    size_t n;
    ssize_t r1, r2, r3;
    double end;
} reads3;

/* Three reads of n bytes; records their results. */
static void *read3_fn(void *arg)
{
    reads3 *x = arg;
    char buf[4096];
    x->r1 = coio_read(x->fd, buf, x->n);
    x->r2 = coio_read(x->fd, buf, x->n);
    x->r3 = coio_read(x->fd, buf, x->n);
    x->end = now();
    return NULL;
}

/* Two datagrams (or seqpacket records) queued behind one edge: both reads
   return without new traffic, though the first was "short". */
static void two_records(int rx, int tx, const struct sockaddr *to, socklen_t tolen)
{
    reads3 x = {.fd = rx, .n = 4096};
    coio_task *t = coio_spawn(read3_fn, &x);
    coio_sleep(0.02); /* the reader parks: rx is registered */
    ck_assert(!coio_task_done(t));
    ck_assert_int_eq(sendto(tx, "one", 3, 0, to, tolen), 3);
    ck_assert_int_eq(sendto(tx, "second", 6, 0, to, tolen), 6);
    coio_sleep(0.05);
    ck_assert_int_eq(x.r1, 3);
    ck_assert_int_eq(x.r2, 6);  /* read without a new edge */
    ck_assert(!coio_task_done(t)); /* the third waits for traffic */
    ck_assert_int_eq(sendto(tx, "3", 1, 0, to, tolen), 1);
    ck_assert_int_eq(coio_wait_for(t, 2.0 * slack(), NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(x.r3, 1);
}

static void *datagram_main(void *arg)
{
    (void)arg;
    int u = coio_socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(u, 0);
    struct sockaddr_in sa = loopback(0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(u, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(u, (struct sockaddr *)&sa, &sl), 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(tx, 0);
    two_records(u, tx, (struct sockaddr *)&sa, sizeof sa);
    close(tx);
    coio_close(u);

    int q[2]; /* not made by coio: its type comes from SO_TYPE */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, q), 0);
    two_records(q[0], q[1], NULL, 0);
    coio_close(q[0]);
    coio_close(q[1]);

    q[0] = coio_socket(AF_UNIX, SOCK_DGRAM, 0); /* made by coio, unbound peer */
    ck_assert_int_ge(q[0], 0);
    coio_close(q[0]);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, q), 0);
    two_records(q[0], q[1], NULL, 0);
    coio_close(q[0]);
    coio_close(q[1]);
    return NULL;
}

START_TEST(test_io_datagrams_two_queued_read_without_new_traffic)
{
    run_ok(datagram_main, NULL);
}
END_TEST

/* Data and the FIN arrive behind one edge: the short read of the data is
   followed by EOF at once, twice; and a FIN coming after a short read wakes
   the next read. */
static void eof_after_short(int rd, int wr, int later)
{
    reads3 x = {.fd = rd, .n = 100};
    coio_task *t = coio_spawn(read3_fn, &x);
    coio_sleep(0.02); /* parked: rd is registered */
    ck_assert_int_eq(coio_write(wr, "abc", 3), 3);
    if (later)
        coio_sleep(0.05); /* the short read happens before the FIN */
    double t0 = now();
    ck_assert_int_eq(shutdown(wr, SHUT_WR), 0);
    ck_assert_int_eq(coio_wait_for(t, 2.0 * slack(), NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(x.r1, 3);
    ck_assert_int_eq(x.r2, 0);
    ck_assert_int_eq(x.r3, 0);
    ck_assert_time(x.end - t0, 0.0, 1.0);
}

static void *eof_short_main(void *arg)
{
    (void)arg;
    for (int later = 0; later < 2; later++) {
        int s[2], a, c;
        make_socketpair(s);
        eof_after_short(s[0], s[1], later);
        coio_close(s[0]);
        coio_close(s[1]);
        tcp_pair(&a, &c);
        eof_after_short(a, c, later);
        coio_close(a);
        coio_close(c);
        tcp_pair(&a, &c);
        eof_after_short(c, a, later);
        coio_close(a);
        coio_close(c);
    }
    return NULL;
}

START_TEST(test_io_eof_after_short_read_returns_0)
{
    run_ok(eof_short_main, NULL);
}
END_TEST

/* A stream socket's number reused after coio_close by a pipe: the pipe's reads
   are not parked by what the socket's last short read cached. */
static void *reuse_after_short_main(void *arg)
{
    (void)arg;
    int s[2], p[2];
    make_socketpair(s);
    reads3 x = {.fd = s[0], .n = 100};
    coio_task *t = coio_spawn(read3_fn, &x);
    coio_sleep(0.02);
    ck_assert_int_eq(coio_write(s[1], "abc", 3), 3);
    coio_sleep(0.02); /* short read done; the second read is parked */
    int old = s[0];
    coio_close(s[0]);
    ck_assert_int_eq(coio_wait_for(t, 2.0 * slack(), NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(x.r1, 3);
    ck_assert_int_eq(x.r2, -1);
    make_pipe(p);
    ck_assert_int_eq(p[0], old);
    ck_assert_int_eq(write(p[1], "xy", 2), 2);
    char buf[100];
    ck_assert_int_eq(coio_read(p[0], buf, sizeof buf), 2); /* short, and not cached */
    ck_assert_int_eq(write(p[1], "z", 1), 1);
    ck_assert_int_eq(coio_read(p[0], buf, sizeof buf), 1);
    coio_close(p[0]);
    coio_close(p[1]);
    coio_close(s[1]);
    return NULL;
}

START_TEST(test_io_fd_reuse_after_short_read)
{
    run_ok(reuse_after_short_main, NULL);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("wait");
    tcase_add_test(tc, test_io_wait_readable_timeout);
    tcase_add_test(tc, test_io_wait_writable_timeout);
    tcase_add_test(tc, test_io_wait_readable_wakes_on_data);
    tcase_add_test(tc, test_io_wait_hangup_is_ready);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel_close");
    tcase_add_test(tc, test_io_wait_cancelled_then_wait_again);
    tcase_add_test(tc, test_io_read_cancelled_loses_nothing);
    tcase_add_test(tc, test_io_close_wakes_waiters_with_ebadf);
    tcase_add_test(tc, test_io_close_wakes_writable_waiter);
    tcase_add_test(tc, test_io_plain_close_then_reuse_by_coio_socket);
    tcase_add_test(tc, test_io_second_waiter_same_direction_eexist);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_io_outside_task_einval);
    tcase_add_test(tc, test_io_bad_fd_ebadf);
    tcase_add_test(tc, test_io_write_closed_peer_epipe_no_sigpipe);
    tcase_add_test(tc, test_io_write_pipe_closed_reader_epipe_no_sigpipe);
    tcase_add_test(tc, test_io_write_pipe_keeps_pending_sigpipe);
    tcase_add_test(tc, test_io_tcp_peer_closes_during_write_no_sigpipe);
    tcase_add_test(tc, test_io_connect_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("data");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_io_pipe_1mib_reader_writer);
    tcase_add_test(tc, test_io_socketpair_duplex_1mib);
    tcase_add_test(tc, test_io_read_partial_and_eof);
    tcase_add_test(tc, test_io_blocking_fd_made_nonblocking);
    tcase_add_test(tc, test_io_accept_connect_loopback);
    tcase_add_test(tc, test_io_echo_server_200_clients);
    suite_add_tcase(s, tc);

    tc = tcase_create("readiness");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_io_stream_pieces_short_and_full_reads_lose_nothing);
    tcase_add_test(tc, test_io_datagrams_two_queued_read_without_new_traffic);
    tcase_add_test(tc, test_io_eof_after_short_read_returns_0);
    tcase_add_test(tc, test_io_fd_reuse_after_short_read);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(io_suite)
