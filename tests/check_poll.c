/* check_poll.c — the internal poller contract (src/poller.h) that every backend
 * must honour: open/close, edge-triggered registration in both directions,
 * hang-ups and errors as both directions, timeouts, removal. No loop, no tasks.
 */
#include "helpers.h"
#include "poller.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 4096
#define MS (INT64_C(1000000))

/* Events gathered over one wait (timeout_ns) plus every zero-timeout wait that
   follows until the poller is quiet: kqueue reports each direction as its own
   event, so a mask per fd is the comparable result. */
typedef struct {
    unsigned mask[MAXFD]; /* COIO__POLL_IN | COIO__POLL_OUT */
    unsigned char hup[MAXFD]; /* an event carried COIO__POLL_HUP */
    int err[MAXFD]; /* the last non-zero err an event carried */
    int nev;    /* events seen in total */
    int calls;  /* poll_wait calls made */
} seen;

static void collect(struct coio__poller *p, int64_t timeout_ns, seen *s)
{
    memset(s, 0, sizeof *s);
    struct coio__pollev ev[64];
    int64_t t = timeout_ns;
    for (;;) {
        int n = coio__poll_wait(p, t, ev, 64);
        s->calls++;
        ck_assert_int_ge(n, 0);
        ck_assert_int_le(n, 64);
        if (n == 0)
            return;
        for (int i = 0; i < n; i++) {
            ck_assert_int_ge(ev[i].fd, 0);
            ck_assert_int_lt(ev[i].fd, MAXFD);
            ck_assert_uint_ne(ev[i].events, 0);
            ck_assert_uint_eq(ev[i].events & ~(COIO__POLL_IN | COIO__POLL_OUT | COIO__POLL_HUP),
                              0);
            /* A hang-up is readable too (io.c's readiness cache relies on it). */
            if (ev[i].events & COIO__POLL_HUP) {
                ck_assert_uint_ne(ev[i].events & COIO__POLL_IN, 0);
                s->hup[ev[i].fd] = 1;
            }
            s->mask[ev[i].fd] |= ev[i].events & (COIO__POLL_IN | COIO__POLL_OUT);
            if (ev[i].err)
                s->err[ev[i].fd] = ev[i].err;
        }
        s->nev += n;
        t = 0;
        ck_assert_int_lt(s->calls, 1000);
    }
}

static struct coio__poller *open_poller(void)
{
    struct coio__poller *p = NULL;
    ck_assert_int_eq(coio__poll_open(&p), 0);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    ck_assert_int_ge(fl, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void make_pipe(int p[2])
{
    ck_assert_int_eq(pipe(p), 0);
    nonblock(p[0]);
    nonblock(p[1]);
}

static void make_socketpair(int s[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    nonblock(s[0]);
    nonblock(s[1]);
}

/* Write until the kernel says EAGAIN; returns the bytes written. */
static size_t fill(int fd)
{
    static char junk[65536];
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

/* Read until EAGAIN (or EOF); returns the bytes read. */
static size_t drain_fd(int fd)
{
    char buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
            if (r < 0)
                ck_assert_int_eq(errno, EAGAIN);
            return total;
        }
        total += (size_t)r;
    }
}

/* The open fds of this process (from /proc/self/fd), as a bitmap. */
static int list_fds(unsigned char *bits)
{
    memset(bits, 0, MAXFD);
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int dfd = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd != dfd && fd >= 0 && fd < MAXFD) {
            bits[fd] = 1;
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The same once the count has stopped changing: libkqueue releases a closed
   kqueue's fds from its monitor thread a moment later (epoll at once). */
static int settled_fds(unsigned char *bits)
{
    int n = list_fds(bits), same = 0;
    for (int i = 0; i < 200 && same < 3; i++) {
        usleep(10 * 1000);
        int m = list_fds(bits);
        same = m == n ? same + 1 : 0;
        n = m;
    }
    return n;
}

/* ---- open / close ------------------------------------------------------------ */

START_TEST(test_poll_open_close_cloexec_no_leak)
{
    static unsigned char before[MAXFD], during[MAXFD], after[MAXFD];
    /* The first poller of a process may set up process-wide state that stays
       (libkqueue starts a monitor thread with two fds of its own). */
    coio__poll_close(open_poller());
    int n0 = settled_fds(before);
    struct coio__poller *a = open_poller(), *b = open_poller();
    ck_assert_ptr_ne(a, b);
    int n1 = list_fds(during);
    ck_assert_int_gt(n1, n0); /* each poller holds a kernel object */
    for (int fd = 0; fd < MAXFD; fd++) {
        if (during[fd] && !before[fd]) {
            int fl = fcntl(fd, F_GETFD);
            ck_assert_int_ge(fl, 0);
            ck_assert_msg(fl & FD_CLOEXEC, "poller fd %d is not close-on-exec", fd);
        }
    }
    coio__poll_close(a);
    coio__poll_close(b);
    coio__poll_close(NULL); /* allowed, does nothing */
    ck_assert_int_eq(settled_fds(after), n0);
    ck_assert_int_eq(memcmp(before, after, MAXFD), 0);
    const char *name = coio__poll_name();
    ck_assert_msg(!strcmp(name, "epoll") || !strcmp(name, "kqueue"), "name '%s'", name);
}
END_TEST

START_TEST(test_poll_idle_wait_reports_nothing)
{
    struct coio__poller *p = open_poller();
    seen s;
    collect(p, 0, &s);
    ck_assert_int_eq(s.nev, 0);
    coio__poll_close(p);
}
END_TEST

/* ---- registration ----------------------------------------------------------- */

START_TEST(test_poll_add_bad_fd_is_ebadf)
{
    struct coio__poller *p = open_poller();
    errno = 0;
    ck_assert_int_eq(coio__poll_add(p, -1), -1);
    ck_assert_int_eq(errno, EBADF);
    int q[2];
    make_pipe(q);
    close(q[0]);
    close(q[1]);
    errno = 0;
    ck_assert_int_eq(coio__poll_add(p, q[0]), -1);
    ck_assert_int_eq(errno, EBADF);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_add_regular_file)
{
    /* epoll refuses regular files (EPERM: io.c treats them as always ready);
       kqueue accepts them and they are readable at once. */
    struct coio__poller *p = open_poller();
    char path[] = "/tmp/coio-poll-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, "abc", 3), 3);
    lseek(fd, 0, SEEK_SET);
    int r = coio__poll_add(p, fd);
    if (!strcmp(coio__poll_name(), "epoll")) {
        ck_assert_int_eq(r, -1);
        ck_assert_int_eq(errno, EPERM);
    } else {
        ck_assert_int_eq(r, 0);
        seen s;
        collect(p, 1000 * MS, &s);
        ck_assert_uint_ne(s.mask[fd] & COIO__POLL_IN, 0);
        coio__poll_del(p, fd);
    }
    close(fd);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_add_reports_current_state)
{
    /* Data that arrived before the registration is reported by it: io.c
       registers only after the kernel said "not ready", and must not lose an
       edge that came in between. */
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    seen s;
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);
    ck_assert_int_eq(s.nev, 1);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_add_twice_is_harmless)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    seen s;
    collect(p, 0, &s);
    ck_assert_int_eq(s.nev, 0);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);
    ck_assert_int_eq(s.nev, 1); /* one registration, one event */
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

/* ---- readiness edges ---------------------------------------------------------- */

START_TEST(test_poll_pipe_readable_edge)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    seen s;
    collect(p, 0, &s);
    ck_assert_int_eq(s.nev, 0); /* an empty pipe's read end is not ready */

    ck_assert_int_eq(write(q[1], "a", 1), 1);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);
    ck_assert_int_eq(s.nev, 1);

    /* Edge-triggered: still readable, but nothing new happened. */
    collect(p, 20 * MS, &s);
    ck_assert_int_eq(s.nev, 0);

    /* More data is a new edge even though the byte is still unread. */
    ck_assert_int_eq(write(q[1], "b", 1), 1);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);

    ck_assert_uint_eq(drain_fd(q[0]), 2);
    collect(p, 20 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], 0);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_pipe_writable_edge)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[1]), 0);
    seen s;
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[1]], COIO__POLL_OUT); /* an empty pipe is writable */
    collect(p, 20 * MS, &s);
    ck_assert_int_eq(s.nev, 0);

    size_t n = fill(q[1]);
    ck_assert_uint_gt(n, 0);
    collect(p, 0, &s); /* whatever filling reported, nothing is pending after it */
    collect(p, 20 * MS, &s);
    ck_assert_uint_eq(s.mask[q[1]], 0);

    ck_assert_uint_eq(drain_fd(q[0]), n); /* room again: an OUT edge */
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[1]], COIO__POLL_OUT);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_socketpair_both_directions)
{
    struct coio__poller *p = open_poller();
    int sp[2];
    make_socketpair(sp);
    ck_assert_int_eq(coio__poll_add(p, sp[0]), 0);
    seen s;
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[sp[0]], COIO__POLL_OUT); /* writable, not readable */

    ck_assert_int_eq(write(sp[1], "ping", 4), 4);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_ne(s.mask[sp[0]] & COIO__POLL_IN, 0);

    /* Fill sp[0]'s direction, then let the peer drain it: an OUT edge. */
    size_t n = fill(sp[0]);
    ck_assert_uint_gt(n, 0);
    collect(p, 0, &s);
    ck_assert_uint_eq(drain_fd(sp[1]), n);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_ne(s.mask[sp[0]] & COIO__POLL_OUT, 0);

    /* The data sent at the start is still there for sp[0]. */
    char buf[8];
    ck_assert_int_eq(read(sp[0], buf, sizeof buf), 4);
    close(sp[0]);
    close(sp[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_two_fds_reported_separately)
{
    struct coio__poller *p = open_poller();
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    ck_assert_int_eq(coio__poll_add(p, a[0]), 0);
    ck_assert_int_eq(coio__poll_add(p, b[0]), 0);
    ck_assert_int_eq(write(b[1], "x", 1), 1);
    seen s;
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[a[0]], 0);
    ck_assert_uint_eq(s.mask[b[0]], COIO__POLL_IN);
    ck_assert_int_eq(write(a[1], "x", 1), 1);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[a[0]], COIO__POLL_IN);
    ck_assert_uint_eq(s.mask[b[0]], 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    coio__poll_close(p);
}
END_TEST

/* ---- hang-ups and errors: both directions --------------------------------------- */

START_TEST(test_poll_socket_hangup_is_both)
{
    struct coio__poller *p = open_poller();
    int sp[2];
    make_socketpair(sp);
    ck_assert_int_eq(coio__poll_add(p, sp[0]), 0);
    seen s;
    collect(p, 1000 * MS, &s); /* the initial OUT */
    close(sp[1]);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[sp[0]], COIO__POLL_IN | COIO__POLL_OUT);
    ck_assert_uint_eq(s.hup[sp[0]], 1);
    close(sp[0]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_pipe_reader_sees_hangup_as_both)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    seen s;
    collect(p, 0, &s);
    ck_assert_int_eq(s.nev, 0);
    close(q[1]);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN | COIO__POLL_OUT);
    ck_assert_uint_eq(s.hup[q[0]], 1);
    close(q[0]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_pipe_writer_sees_error_as_both)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[1]), 0);
    seen s;
    collect(p, 1000 * MS, &s); /* the initial OUT */
    fill(q[1]);
    collect(p, 0, &s);
    close(q[0]);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[1]], COIO__POLL_IN | COIO__POLL_OUT);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_refused_connect_is_both)
{
    /* A loopback port nobody listens on: a nonblocking connect fails with a
       pending socket error, which both directions must see. */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(probe, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(probe, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(probe, (struct sockaddr *)&sa, &sl), 0);
    close(probe);

    struct coio__poller *p = open_poller();
    int c = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    nonblock(c);
    ck_assert_int_eq(coio__poll_add(p, c), 0);
    int r = connect(c, (struct sockaddr *)&sa, sizeof sa), cerr = errno;
    /* Refused synchronously, the socket is hung up, which is still reported
       in both directions; otherwise the refusal comes later. */
    int sync_refused = r < 0 && cerr == ECONNREFUSED;
    if (!sync_refused) {
        ck_assert_int_eq(r, -1);
        ck_assert_int_eq(cerr, EINPROGRESS);
    }
    seen s;
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[c], COIO__POLL_IN | COIO__POLL_OUT);
    if (!sync_refused) {
        /* The error is in SO_ERROR, or, if the backend had to read it from
           there (libkqueue), in the event. */
        int err = 0;
        socklen_t el = sizeof err;
        ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
        ck_assert_int_eq(err ? err : s.err[c], ECONNREFUSED);
    }
    close(c);
    coio__poll_close(p);
}
END_TEST

/* ---- timeouts --------------------------------------------------------------------- */

START_TEST(test_poll_wait_times_out)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0); /* registered but idle */
    struct coio__pollev ev[8];
    double t0 = now();
    ck_assert_int_eq(coio__poll_wait(p, 100 * MS, ev, 8), 0);
    ck_assert_time(now() - t0, 0.099, 0.6);

    /* A timeout that is not a whole number of milliseconds never ends early. */
    t0 = now();
    ck_assert_int_eq(coio__poll_wait(p, 30 * MS + 400000, ev, 8), 0);
    ck_assert_time(now() - t0, 0.0304 - 0.0005, 0.5);

    t0 = now();
    ck_assert_int_eq(coio__poll_wait(p, 0, ev, 8), 0);
    ck_assert_time(now() - t0, 0.0, 0.1);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_infinite_wait_returns_on_event)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    struct coio__pollev ev[8];
    ck_assert_int_eq(coio__poll_wait(p, -1, ev, 8), 1);
    ck_assert_int_eq(ev[0].fd, q[0]);
    ck_assert_uint_eq(ev[0].events, COIO__POLL_IN);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

static void on_alarm(int sig) { (void)sig; }

START_TEST(test_poll_wait_interrupted_returns_zero)
{
    /* A signal ends the wait early with 0 events, not an error. */
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    struct coio__poller *p = open_poller();
    struct coio__pollev ev[8];
    alarm(1);
    double t0 = now();
    int r = coio__poll_wait(p, 5000 * MS, ev, 8);
    double dt = now() - t0;
    alarm(0);
    ck_assert_int_eq(r, 0);
    ck_assert_time(dt, 0.5, 4.0);
    coio__poll_close(p);
}
END_TEST

/* ---- wake-ups ------------------------------------------------------------------------ */

START_TEST(test_poll_wakeup_before_wait_collapses)
{
    /* Wake-ups given before the wait end it at once, are not events, and
       collapse: the wait after that one blocks for its full timeout. */
    struct coio__poller *p = open_poller();
    struct coio__pollev ev[8];
    for (int i = 0; i < 5; i++)
        coio__poll_wakeup(p);
    double t0 = now();
    int n = coio__poll_wait(p, 5000 * MS, ev, 8);
    ck_assert_int_eq(n, 0);
    ck_assert_time(now() - t0, 0.0, 1.0);
    t0 = now();
    ck_assert_int_eq(coio__poll_wait(p, 50 * MS, ev, 8), 0);
    ck_assert_time(now() - t0, 0.049, 1.0);
    coio__poll_close(p);
}
END_TEST

static void *wake_later(void *arg)
{
    usleep(100 * 1000);
    coio__poll_wakeup(arg);
    return NULL;
}

START_TEST(test_poll_wakeup_from_thread_ends_infinite_wait)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    pthread_t th;
    double t0 = now();
    ck_assert_int_eq(pthread_create(&th, NULL, wake_later, p), 0);
    struct coio__pollev ev[8];
    int n;
    do /* a wait may also end early on EINTR; never with an event */
        n = coio__poll_wait(p, -1, ev, 8);
    while (n == 0 && now() - t0 < 0.095);
    ck_assert_int_eq(n, 0);
    ck_assert_time(now() - t0, 0.095, 3.0);
    pthread_join(th, NULL);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

/* ---- removal ------------------------------------------------------------------------- */

START_TEST(test_poll_del_stops_events)
{
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    coio__poll_del(p, q[0]);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    seen s;
    collect(p, 50 * MS, &s);
    ck_assert_int_eq(s.nev, 0);

    /* Registering again reports the data that is waiting. */
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);

    /* Removing an fd that is not registered, or already closed, is harmless. */
    coio__poll_del(p, q[1]);
    coio__poll_del(p, q[0]);
    coio__poll_del(p, q[0]);
    close(q[0]);
    coio__poll_del(p, q[0]);
    coio__poll_del(p, -1);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_del_pending_event_dropped)
{
    /* An event that became pending before the removal is not reported after it. */
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    coio__poll_del(p, q[0]);
    seen s;
    collect(p, 50 * MS, &s);
    ck_assert_int_eq(s.nev, 0);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_closed_fd_forgotten)
{
    /* Closing a registered fd (the only reference to its file) ends its
       registration: nothing is reported for the number afterwards, and the
       number can be registered again for a new file. */
    struct coio__poller *p = open_poller();
    int q[2];
    make_pipe(q);
    int rfd = q[0];
    ck_assert_int_eq(coio__poll_add(p, rfd), 0);
    close(q[0]);
    close(q[1]);
    seen s;
    collect(p, 20 * MS, &s);
    ck_assert_uint_eq(s.mask[rfd], 0);
    make_pipe(q);
    ck_assert_int_eq(q[0], rfd); /* lowest free number */
    ck_assert_int_eq(coio__poll_add(p, q[0]), 0);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    collect(p, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);
    close(q[0]);
    close(q[1]);
    coio__poll_close(p);
}
END_TEST

/* ---- many fds ------------------------------------------------------------------------ */

START_TEST(test_poll_more_ready_than_room)
{
    /* 150 ready fds and room for 64 events per call: the rest come in later
       calls, none twice in one edge, none lost. A huge n is capped safely. */
    enum { N = 150 };
    struct coio__poller *p = open_poller();
    int q[N][2];
    for (int i = 0; i < N; i++) {
        make_pipe(q[i]);
        ck_assert_int_lt(q[i][1], MAXFD);
        ck_assert_int_eq(coio__poll_add(p, q[i][0]), 0);
        ck_assert_int_eq(write(q[i][1], "x", 1), 1);
    }
    seen s;
    collect(p, 1000 * MS, &s);
    ck_assert_int_eq(s.nev, N);
    ck_assert_int_ge(s.calls, 4); /* 64 + 64 + 22 + the empty one */
    for (int i = 0; i < N; i++)
        ck_assert_uint_eq(s.mask[q[i][0]], COIO__POLL_IN);

    for (int i = 0; i < N; i++)
        ck_assert_int_eq(write(q[i][1], "y", 1), 1);
    static struct coio__pollev big[1000];
    int got = 0;
    for (int tries = 0; got < N && tries < 100; tries++) {
        int n = coio__poll_wait(p, 1000 * MS, big, 1000);
        ck_assert_int_ge(n, 1);
        ck_assert_int_le(n, N);
        got += n;
    }
    ck_assert_int_eq(got, N);
    for (int i = 0; i < N; i++)
        close(q[i][0]), close(q[i][1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_many_sockets_none_lost)
{
    /* 300 sockets readable at once, each also writable: more events than a
       backend fetches in one go (kqueue: one per direction). Every fd must
       be reported readable; extra reports are allowed, losses are not. */
    enum { N = 300 };
    static int sp[N][2];
    struct coio__poller *p = open_poller();
    for (int i = 0; i < N; i++) {
        make_socketpair(sp[i]);
        ck_assert_int_lt(sp[i][1], MAXFD);
        ck_assert_int_eq(coio__poll_add(p, sp[i][0]), 0);
    }
    static seen s;
    collect(p, 1000 * MS, &s); /* the initial OUT edges */
    for (int i = 0; i < N; i++)
        ck_assert_uint_ne(s.mask[sp[i][0]] & COIO__POLL_OUT, 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(write(sp[i][1], "x", 1), 1);
    collect(p, 1000 * MS, &s);
    for (int i = 0; i < N; i++)
        ck_assert_msg(s.mask[sp[i][0]] & COIO__POLL_IN, "readiness of fd %d lost", sp[i][0]);
    for (int i = 0; i < N; i++)
        close(sp[i][0]), close(sp[i][1]);
    coio__poll_close(p);
}
END_TEST

START_TEST(test_poll_two_pollers_independent)
{
    struct coio__poller *a = open_poller(), *b = open_poller();
    int q[2], r[2];
    make_pipe(q);
    make_pipe(r);
    ck_assert_int_eq(coio__poll_add(a, q[0]), 0);
    ck_assert_int_eq(coio__poll_add(b, r[0]), 0);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    seen s;
    collect(b, 20 * MS, &s);
    ck_assert_int_eq(s.nev, 0);
    collect(a, 1000 * MS, &s);
    ck_assert_uint_eq(s.mask[q[0]], COIO__POLL_IN);
    ck_assert_int_eq(s.nev, 1);
    close(q[0]), close(q[1]), close(r[0]), close(r[1]);
    coio__poll_close(a);
    coio__poll_close(b);
}
END_TEST

static Suite *poll_suite(void)
{
    Suite *s = suite_create("poll");
    TCase *tc = tcase_create("open");
    tcase_add_test(tc, test_poll_open_close_cloexec_no_leak);
    tcase_add_test(tc, test_poll_idle_wait_reports_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("register");
    tcase_add_test(tc, test_poll_add_bad_fd_is_ebadf);
    tcase_add_test(tc, test_poll_add_regular_file);
    tcase_add_test(tc, test_poll_add_reports_current_state);
    tcase_add_test(tc, test_poll_add_twice_is_harmless);
    suite_add_tcase(s, tc);

    tc = tcase_create("edges");
    tcase_add_test(tc, test_poll_pipe_readable_edge);
    tcase_add_test(tc, test_poll_pipe_writable_edge);
    tcase_add_test(tc, test_poll_socketpair_both_directions);
    tcase_add_test(tc, test_poll_two_fds_reported_separately);
    suite_add_tcase(s, tc);

    tc = tcase_create("hup_err");
    tcase_add_test(tc, test_poll_socket_hangup_is_both);
    tcase_add_test(tc, test_poll_pipe_reader_sees_hangup_as_both);
    tcase_add_test(tc, test_poll_pipe_writer_sees_error_as_both);
    tcase_add_test(tc, test_poll_refused_connect_is_both);
    suite_add_tcase(s, tc);

    tc = tcase_create("timeout");
    tcase_add_test(tc, test_poll_wait_times_out);
    tcase_add_test(tc, test_poll_infinite_wait_returns_on_event);
    tcase_add_test(tc, test_poll_wait_interrupted_returns_zero);
    suite_add_tcase(s, tc);

    tc = tcase_create("wakeup");
    tcase_add_test(tc, test_poll_wakeup_before_wait_collapses);
    tcase_add_test(tc, test_poll_wakeup_from_thread_ends_infinite_wait);
    suite_add_tcase(s, tc);

    tc = tcase_create("remove");
    tcase_add_test(tc, test_poll_del_stops_events);
    tcase_add_test(tc, test_poll_del_pending_event_dropped);
    tcase_add_test(tc, test_poll_closed_fd_forgotten);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    tcase_add_test(tc, test_poll_more_ready_than_room);
    tcase_add_test(tc, test_poll_many_sockets_none_lost);
    tcase_add_test(tc, test_poll_two_pollers_independent);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(poll_suite)
