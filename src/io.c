/* io.c — file descriptors: the per-loop fd table, waiting for readiness, and
 * read/write/accept/connect that try the system call first and park the task
 * only on EAGAIN. An fd is registered with the poller once, edge-triggered in
 * both directions; an edge wakes the task parked for that direction, if any.
 * One thing is cached between edges: whether a registered fd may be readable.
 * A short read of a SOCK_STREAM socket drained its receive buffer, and any later
 * arrival makes a new edge, so the next coio_read parks first instead of paying
 * for a read that says EAGAIN (with pollers whose events flag a queued FIN:
 * coio__poll_hup_with_data). Other fds park only right after the kernel said
 * EAGAIN (or poll(2) said "not ready"), so the next edge is the one they need. */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"
#include "poller.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* How a send(2) on a socket is kept from raising SIGPIPE: MSG_NOSIGNAL per call
   (Linux, the BSDs), else SO_NOSIGPIPE set once per socket (macOS), else SIGPIPE
   held blocked around the call as for pipes (COIO_FORCE_PORTABLE on Linux). */
#if defined(MSG_NOSIGNAL) && !defined(COIO_FORCE_PORTABLE)
#define SEND_FLAGS MSG_NOSIGNAL
#define SEND_NEVER_SIGNALS 1
#elif defined(SO_NOSIGPIPE)
#define SEND_FLAGS 0
#define SEND_NEVER_SIGNALS 1
#define USE_SO_NOSIGPIPE 1
#else
#define SEND_FLAGS 0
#define SEND_NEVER_SIGNALS 0
#endif

void coio__sock_nosigpipe(int fd)
{
#ifdef USE_SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
#endif
}

int coio__fd_flags(int fd, bool nonblock)
{
    int fl;
    if (nonblock && ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -1 : 0;
}

/* One write (or send) with SIGPIPE blocked in this thread. If it failed with
   EPIPE, the SIGPIPE it raised is pending now: take it back, unless one was
   pending before (the caller had it blocked: that one is not ours to eat, and
   ours merged into it). sigwait only after sigpending saw it, so that a system
   that discards an ignored signal even when blocked cannot make it wait. */
static ssize_t write_holding_sigpipe(int fd, const void *buf, size_t n, bool sock)
{
    sigset_t pipe_set, old, pend;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pend);
    bool was_pending = sigismember(&pend, SIGPIPE);
    ssize_t r = sock ? send(fd, buf, n, SEND_FLAGS) : write(fd, buf, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending && sigpending(&pend) == 0 &&
        sigismember(&pend, SIGPIPE)) {
        int sig;
        sigwait(&pipe_set, &sig);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

ssize_t coio__sock_send(int fd, const void *buf, size_t n)
{
#if SEND_NEVER_SIGNALS
    return send(fd, buf, n, SEND_FLAGS);
#else
    return write_holding_sigpipe(fd, buf, n, true);
#endif
}

ssize_t coio__write_nosigpipe(int fd, const void *buf, size_t n)
{
    return write_holding_sigpipe(fd, buf, n, false);
}

static struct coio__fd *slot(coio_loop *l, int fd)
{
    if (fd < l->nfds)
        return &l->fds[fd];
    int n = l->nfds ? l->nfds : 64;
    while (n <= fd)
        n = n > INT_MAX / 2 ? INT_MAX : n * 2; /* fds near INT_MAX exist (nr_open) */
    struct coio__fd *v = realloc(l->fds, (size_t)n * sizeof *v);
    if (!v) {
        errno = ENOMEM;
        return NULL;
    }
    memset(v + l->nfds, 0, (size_t)(n - l->nfds) * sizeof *v);
    l->fds = v;
    l->nfds = n;
    return &l->fds[fd];
}

/* The running task and a table slot for fd, made nonblocking; or NULL. */
static struct coio__task *prepare(int fd, struct coio__fd **out)
{
    struct coio__task *self = coio__self();
    if (!self) {
        errno = EINVAL;
        return NULL;
    }
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    /* Grow the table only for an fd that is open: a wild number must not
       make it allocate (and touch) gigabytes. */
    if (fd >= self->f.loop->nfds && fcntl(fd, F_GETFD) < 0)
        return NULL;
    struct coio__fd *s = slot(self->f.loop, fd);
    if (!s)
        return NULL;
    if (!s->known) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
            return NULL;
        if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return NULL;
        /* Once per fd: coio_write picks its SIGPIPE-free path by this. */
        struct stat st;
        s->sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
        int type = 0;
        socklen_t tl = sizeof type;
        s->stream = s->sock && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
                    type == SOCK_STREAM;
        if (s->sock)
            coio__sock_nosigpipe(fd);
        s->known = 1;
    }
    *out = s;
    return self;
}

/* Wake the tasks waiting on s's fd with code (its file is gone). */
static void drop_waiters(coio_loop *l, struct coio__fd *s, int code)
{
    if (s->rd) {
        struct coio__task *t = s->rd;
        s->rd = NULL;
        l->io_waiters--;
        coio__wake(t, code);
    }
    if (s->wr) {
        struct coio__task *t = s->wr;
        s->wr = NULL;
        l->io_waiters--;
        coio__wake(t, code);
    }
}

/* A fresh fd number from the kernel: whatever the table knew of an earlier fd
   with this number is stale, including tasks still waiting on that earlier
   file (it was closed with a plain close(2)): they get EBADF, as coio_close
   would have given them, instead of waiting forever or blocking the slot.
   nb_socket: fd is a socket coio made nonblocking (accept, socket); stream: and
   it is SOCK_STREAM. */
static void reset_slot(coio_loop *l, int fd, bool nb_socket, bool stream)
{
    struct coio__fd *s = slot(l, fd);
    if (!s)
        return;
    drop_waiters(l, s, EBADF);
    if (s->registered)
        coio__poll_del(l->poller, fd);
    s->registered = 0;
    s->known = s->sock = nb_socket;
    s->stream = stream;
    s->rdok = s->hup = 0;
    s->err = 0;
}

struct fd_wait {
    struct coio__wait w;
    coio_loop *loop;
    int fd;
    bool write;
    struct coio__task *task;
};

static void fd_unlink(struct coio__wait *w)
{
    struct fd_wait *fw = coio__container_of(w, struct fd_wait, w);
    struct coio__fd *s = &fw->loop->fds[fw->fd];
    struct coio__task **slot = fw->write ? &s->wr : &s->rd;
    /* Not ours any more once an event, a close or an earlier unlink took it
       (loop close calls this for a woken task too, coio_int.h). */
    if (*slot == fw->task) {
        *slot = NULL;
        fw->loop->io_waiters--;
    }
}

/* Park self until fd is ready in one direction (the caller saw it not ready). */
static int wait_fd(struct coio__task *self, int fd, bool write, int64_t deadline)
{
    coio_loop *l = self->f.loop;
    struct coio__fd *s = slot(l, fd);
    if (!s)
        return -1;
    if (write ? s->wr : s->rd) {
        errno = EEXIST;
        return -1;
    }
    if (!s->registered) {
        if (coio__poll_add(l->poller, fd) < 0) {
            if (errno == EPERM) /* regular files and the like: always ready */
                return 0;
            return -1;
        }
        s->registered = 1;
        s->rdok = 1; /* edges before now were not seen */
    }
    struct fd_wait fw = {{coio__wait_cancel_unlink, fd_unlink}, l, fd, write, self};
    if (write)
        s->wr = self;
    else
        s->rd = self;
    l->io_waiters++;
    int code = coio__park(self, &fw.w, deadline, ETIMEDOUT);
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

void coio__io_event(coio_loop *l, int fd, unsigned ev, int err)
{
    if (fd < 0 || fd >= l->nfds)
        return;
    struct coio__fd *s = &l->fds[fd];
    if (err)
        s->err = err;
    if (ev & COIO__POLL_IN)
        s->rdok = 1;
    if (ev & COIO__POLL_HUP)
        s->hup = 1;
    if ((ev & COIO__POLL_IN) && s->rd) {
        struct coio__task *t = s->rd;
        s->rd = NULL;
        l->io_waiters--;
        coio__wake(t, 0);
    }
    if ((ev & COIO__POLL_OUT) && s->wr) {
        struct coio__task *t = s->wr;
        s->wr = NULL;
        l->io_waiters--;
        coio__wake(t, 0);
    }
}

void coio__io_close_all(coio_loop *l)
{
    free(l->fds);
    l->fds = NULL;
    l->nfds = 0;
}

static int wait_public(int fd, short what, double timeout)
{
    struct coio__fd *s;
    struct coio__task *self = prepare(fd, &s);
    if (!self)
        return -1;
    if (timeout != timeout) {
        errno = EINVAL;
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = what};
    int r = poll(&p, 1, 0);
    if (r > 0) {
        if (p.revents & POLLNVAL) {
            errno = EBADF;
            return -1;
        }
        return 0;
    }
    return wait_fd(self, fd, what == POLLOUT, timeout < 0 ? -1 : coio__deadline_ns(timeout));
}

COIO_SUSPENDS int coio_wait_readable(int fd, double timeout)
{
    return wait_public(fd, POLLIN, timeout);
}

COIO_SUSPENDS int coio_wait_writable(int fd, double timeout)
{
    return wait_public(fd, POLLOUT, timeout);
}

/* One body for coio_read and coio__read_until, inlined into both, so that a
   task suspended in coio_read shows coio_read in its backtrace (a tail call
   would leave only coio__read_until there; task dumps name what the user
   called). */
static inline __attribute__((always_inline)) ssize_t read_until(int fd, void *buf, size_t n,
                                                                int64_t deadline)
{
    struct coio__fd *s;
    struct coio__task *self = prepare(fd, &s);
    if (!self)
        return -1;
    coio_loop *l = self->f.loop;
    /* Drained by the last short read: wait for the edge first. */
    if (s->stream && s->registered && !s->rdok && n > 0 && wait_fd(self, fd, false, deadline) < 0)
        return -1;
    for (;;) {
        ssize_t r = read(fd, buf, n);
        s = &l->fds[fd]; /* the table may have moved while we waited */
        if (r >= 0) {
            /* A short read of a stream socket emptied its buffer, unless a FIN
               or an error is queued behind the data (no edge would follow). */
            if ((size_t)r < n && r > 0 && s->stream && !s->hup && coio__poll_hup_with_data)
                s->rdok = 0;
            return r;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        s->rdok = 0;
        if (wait_fd(self, fd, false, deadline) < 0)
            return -1;
    }
}

COIO_SUSPENDS ssize_t coio_read(int fd, void *buf, size_t n) { return read_until(fd, buf, n, -1); }

ssize_t coio__read_until(int fd, void *buf, size_t n, int64_t deadline)
{
    return read_until(fd, buf, n, deadline);
}

int coio__fd_wait(int fd, bool write, int64_t deadline)
{
    struct coio__fd *s;
    struct coio__task *self = prepare(fd, &s);
    if (!self)
        return -1;
    return wait_fd(self, fd, write, deadline);
}

COIO_SUSPENDS ssize_t coio_write(int fd, const void *buf, size_t n)
{
    struct coio__fd *s;
    struct coio__task *self = prepare(fd, &s);
    if (!self)
        return -1;
    size_t done = 0;
    bool sock = s->sock;
    while (done < n) {
        ssize_t r;
        if (sock) { /* the fast path: no system call but the send */
            r = coio__sock_send(fd, (const char *)buf + done, n - done);
            if (r < 0 && errno == ENOTSOCK) { /* the number was reused behind our back */
                sock = false;
                self->f.loop->fds[fd].sock = self->f.loop->fds[fd].stream = 0;
                continue;
            }
        } else {
            r = coio__write_nosigpipe(fd, (const char *)buf + done, n - done);
        }
        if (r >= 0) {
            done += (size_t)r;
            continue;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || wait_fd(self, fd, true, -1) < 0)
            return done ? (ssize_t)done : -1;
    }
    return (ssize_t)n;
}

COIO_SUSPENDS int coio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct coio__fd *s;
    struct coio__task *self = prepare(fd, &s);
    if (!self)
        return -1;
    for (;;) {
#ifdef COIO_HAVE_ACCEPT4
        int c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int c = accept(fd, addr, addrlen);
        if (c >= 0 && coio__fd_flags(c, true) < 0) {
            int e = errno;
            close(c);
            errno = e;
            return -1;
        }
#endif
        if (c >= 0) {
            coio__sock_nosigpipe(c);
            /* s may have moved while we waited; accepted sockets share the
               listener's type (SOCK_STREAM or SOCK_SEQPACKET). */
            reset_slot(self->f.loop, c, true, self->f.loop->fds[fd].stream);
            return c;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (wait_fd(self, fd, false, -1) < 0)
            return -1;
    }
}

COIO_SUSPENDS int coio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    struct coio__fd *s;
    struct coio__task *self = prepare(fd, &s);
    if (!self)
        return -1;
    s->err = 0;
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
        return -1;
    for (;;) {
        if (wait_fd(self, fd, true, -1) < 0)
            return -1;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            return -1;
        /* The table may have moved while we waited; the poller may have
           consumed SO_ERROR and passed the error on in the event. */
        s = &self->f.loop->fds[fd];
        if (err == 0 && s->err)
            err = s->err;
        s->err = 0;
        if (err == 0) {
            /* Writable with no error may still be a connect in progress
               after a spurious wake: confirm with getpeername. */
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
                return 0;
            if (errno != ENOTCONN)
                return -1;
            /* Not connected and hung up: it failed, but the error is gone (a
               poller that read SO_ERROR lost the event carrying it). A second
               connect() reports what it can instead of waiting forever. */
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLERR))) {
                if (connect(fd, addr, addrlen) == 0 || errno == EISCONN)
                    return 0;
                if (errno != EALREADY && errno != EINPROGRESS && errno != EINTR)
                    return -1;
            }
            continue;
        }
        errno = err;
        return -1;
    }
}

int coio_socket(int domain, int type, int protocol)
{
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC) && !defined(COIO_FORCE_PORTABLE)
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -1;
#else
    int fd = socket(domain, type, protocol);
    if (fd < 0)
        return -1;
    if (coio__fd_flags(fd, true) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
#endif
    coio__sock_nosigpipe(fd);
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
#endif
    if (l && !l->closed)
        reset_slot(l, fd, true, type == SOCK_STREAM);
    return fd;
}

int coio_close(int fd)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if (l && !l->closed && fd >= 0 && fd < l->nfds) {
        struct coio__fd *s = &l->fds[fd];
        drop_waiters(l, s, EBADF);
        if (s->registered)
            coio__poll_del(l->poller, fd);
        s->registered = 0;
        s->known = s->sock = s->stream = 0;
        s->rdok = s->hup = 0;
        s->err = 0;
    }
    return close(fd);
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_io(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                       struct coio__dbuf *b)
{
    if (w->unlink != fd_unlink)
        return false;
    const struct fd_wait *fw = coio__container_of(w, struct fd_wait, w);
    coio__db_str(b, "fd ");
    coio__db_i64(b, fw->fd);
    coio__db_str(b, fw->write ? " writable" : " readable");
    if (t->timer.index != COIO_NOT_IN_HEAP) {
        coio__db_str(b, ", deadline ");
        coio__db_deadline(b, t->timer.when, now);
    }
    return true;
}
