/* transport_fd.c — the plain transport: a socket or pipe fd, read with coio_read and
 * written with nonblocking send(MSG_NOSIGNAL) or write() with SIGPIPE held. */
#define _GNU_SOURCE
#include "transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t fd_read(struct coio__transport *tp, void *buf, size_t n, int64_t deadline)
{
    return coio__read_until(tp->fd, buf, n, deadline);
}

/* Pipes are written with SIGPIPE blocked, and a SIGPIPE this write raised is taken
   back, so a vanished reader gives EPIPE and never the signal (ST9). */
static ssize_t fd_send(struct coio__transport *tp, const void *p, size_t n)
{
    for (;;) {
        ssize_t k;
        if (tp->sock) {
            k = coio__sock_send(tp->fd, p, n); /* MSG_NOSIGNAL or the like (io.c) */
            if (k < 0 && errno == ENOTSOCK) {
                tp->sock = 0;
                continue;
            }
        } else {
            k = coio__write_nosigpipe(tp->fd, p, n);
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            tp->want = COIO__WANT_WRITE;
        return k;
    }
}

static int fd_shutdown_wr(struct coio__transport *tp)
{
    if (!tp->sock)
        return 1;
    shutdown(tp->fd, SHUT_WR);
    return 0;
}

static void fd_close(struct coio__transport *tp)
{
    coio_close(tp->fd);
    tp->fd = -1;
}

static const struct coio__transport_ops fd_ops = {fd_read, fd_send, fd_shutdown_wr, fd_close, NULL};

void coio__transport_fd_init(struct coio__transport *tp, int fd)
{
    tp->ops = &fd_ops;
    tp->fd = fd;
    tp->want = 0;
    tp->unclean_eof = 0;
    tp->close_timeout = 0;
    tp->tls = NULL;
    tp->sock = 0;
    if (fd < 0)
        return;
    int type;
    socklen_t tl = sizeof type;
    tp->sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    if (tp->sock)
        coio__sock_nosigpipe(fd);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int coio__transport_wait(struct coio__transport *tp, int64_t deadline)
{
    if (tp->fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (coio__fd_wait(tp->fd, tp->want == COIO__WANT_WRITE, deadline) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    /* Another task of the same stream waits for that direction already (TLS: the
       reader needs to write while the flusher waits for room): poll in short
       steps; the caller retries its operation either way. */
    return coio_sleep(0.002);
}
