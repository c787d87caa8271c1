/* sendfile.c — asyncio's loop.sendfile / sock_sendfile (SF1-SF4): send a range of a file
 * to a socket or pipe with sendfile(2) where the kernel can (Linux, a regular file),
 * else by read + write through a 64 KiB buffer. The stream writer's form
 * (coio_writer_sendfile) lives in stream.c and calls coio__sendfile here.
 *
 * Whatever happens (success, error, cancellation, timeout), the input file's position is
 * left at offset + bytes sent, so the caller always knows how far it got (SF2).
 */
#define _GNU_SOURCE
#include "coio_int.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#define FALLBACK_CHUNK (64u * 1024u)
#define NATIVE_CHUNK ((size_t)1 << 30)

/* Make fd nonblocking (it is then waited for by the loop, never blocks it). */
static int nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return (fl & O_NONBLOCK) || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : -1;
}

/* Write n bytes of buf to out (a socket if sock), waiting for writability; *done gets
   how many went out. 0 or -1/errno. */
static int write_all(int out, bool sock, const char *buf, size_t n, size_t *done,
                     int64_t deadline)
{
    *done = 0;
    while (*done < n) {
        ssize_t k = sock ? coio__sock_send(out, buf + *done, n - *done)
                         : coio__write_nosigpipe(out, buf + *done, n - *done);
        if (k >= 0) {
            *done += (size_t)k;
            continue;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || coio__fd_wait(out, true, deadline) < 0)
            return -1;
    }
    return 0;
}

#ifdef __linux__
/* sendfile(2) has no MSG_NOSIGNAL: hold SIGPIPE blocked around it, and take back the
   one it raised on EPIPE unless one was pending before (as io.c's writes do). */
static ssize_t sendfile_nosigpipe(int out, int in, off_t *o, size_t n)
{
    sigset_t pipe_set, old, pend;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pend);
    bool was_pending = sigismember(&pend, SIGPIPE);
    ssize_t k = sendfile(out, in, o, n);
    int e = errno;
    if (k < 0 && e == EPIPE && !was_pending && sigpending(&pend) == 0 &&
        sigismember(&pend, SIGPIPE)) {
        int sig;
        sigwait(&pipe_set, &sig);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return k;
}
#endif

/* The read + write path. want == 0: to EOF. */
static int copy_fallback(int out, bool out_sock, int in, bool seekable, off_t offset, size_t want,
                         size_t *sent, int64_t deadline)
{
    char *buf = malloc(FALLBACK_CHUNK);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    while (want == 0 || *sent < want) {
        size_t n = FALLBACK_CHUNK;
        if (want && want - *sent < n)
            n = want - *sent;
        ssize_t r = seekable ? pread(in, buf, n, offset + (off_t)*sent) : read(in, buf, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && coio__fd_wait(in, false, deadline) == 0)
                continue;
            rc = -1;
            break;
        }
        if (r == 0)
            break; /* EOF before count: what there was is sent (asyncio does the same) */
        size_t w;
        rc = write_all(out, out_sock, buf, (size_t)r, &w, deadline);
        *sent += w;
        if (rc < 0) {
            /* Read but not sent: a pipe's bytes are lost with the error, as with any
               failed write; a file's position still says where sending stopped. */
            break;
        }
    }
    int e = errno;
    free(buf);
    errno = e;
    return rc;
}

ssize_t coio__sendfile(int out, int in, off_t offset, size_t count, int flags, int64_t deadline)
{
    if (!coio__self() || offset < 0 || (flags & ~COIO_SENDFILE_NO_FALLBACK)) {
        errno = EINVAL;
        return -1;
    }
    struct stat ist, ost;
    if (fstat(in, &ist) < 0 || fstat(out, &ost) < 0)
        return -1;
    bool out_sock = S_ISSOCK(ost.st_mode);
    bool regular = S_ISREG(ist.st_mode);
    bool seekable = regular || S_ISBLK(ist.st_mode);
    if (nonblocking(out) < 0 || (!regular && nonblocking(in) < 0))
        return -1;
    size_t want = count;
    if (regular && count == 0) {
        if (offset >= ist.st_size) {
            lseek(in, offset, SEEK_SET);
            return 0;
        }
        want = (size_t)(ist.st_size - offset);
    }
    size_t sent = 0;
    int rc = 0;
    bool native = false;
#ifdef __linux__
    native = regular;
    while (native && sent < want) {
        off_t o = offset + (off_t)sent;
        size_t n = want - sent < NATIVE_CHUNK ? want - sent : NATIVE_CHUNK;
        ssize_t k = sendfile_nosigpipe(out, in, &o, n);
        if (k > 0) {
            sent += (size_t)k;
            continue;
        }
        if (k == 0)
            break; /* the file is shorter than it was: EOF */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (coio__fd_wait(out, true, deadline) < 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (sent == 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
            native = false; /* this pair of files cannot: fall back */
            break;
        }
        rc = -1;
        break;
    }
#endif
    if (!native && rc == 0) {
        if (flags & COIO_SENDFILE_NO_FALLBACK) {
            errno = EOPNOTSUPP;
            rc = -1;
        } else {
            rc = copy_fallback(out, out_sock, in, seekable, offset, want, &sent, deadline);
        }
    }
    int e = errno;
    if (seekable)
        lseek(in, offset + (off_t)sent, SEEK_SET); /* SF2: the position tells how far */
    if (rc < 0) {
        errno = e;
        return -1;
    }
    return (ssize_t)sent;
}

ssize_t coio_sendfile(int out_fd, int in_fd, off_t offset, size_t count, int flags)
{
    return coio__sendfile(out_fd, in_fd, offset, count, flags, -1);
}
