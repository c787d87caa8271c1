/* datagram.c — asyncio's datagram endpoints (create_datagram_endpoint) in coroutine style,
 * and sock_recvfrom / sock_sendto on plain sockets (DG1-DG6): UDP over IPv4 and IPv6,
 * Unix datagram sockets.
 *
 * A task receives with coio_datagram_recvfrom into its own buffer, one datagram per call,
 * and sends with coio_datagram_sendto, which waits (the task, never the loop) while the
 * socket buffer is full. Senders that have to wait queue in FIFO order, so datagrams of
 * one endpoint leave in the order their sendto calls began (DG2). Every call tries the
 * system call first (MSG_DONTWAIT, so the fd's own mode does not matter) and parks only
 * on EAGAIN.
 */
#define _GNU_SOURCE
#include "coio_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(MSG_NOSIGNAL) && !defined(COIO_FORCE_PORTABLE)
#define DG_SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)
#else
#define DG_SEND_FLAGS MSG_DONTWAIT
#endif

/* ---- plain sockets (DG6) ----------------------------------------------------------------- */

static ssize_t recv_until(int fd, void *buf, size_t cap, struct sockaddr *sa, socklen_t *salen,
                          int *truncated, int64_t deadline)
{
    if (!coio__self() || (!buf && cap) || (sa && !salen)) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        struct iovec iov = {buf, cap};
        struct msghdr m = {0};
        m.msg_name = sa;
        m.msg_namelen = sa ? *salen : 0;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
        if (n >= 0) {
            if (sa)
                *salen = m.msg_namelen;
            if (truncated)
                *truncated = (m.msg_flags & MSG_TRUNC) != 0;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (coio__fd_wait(fd, false, deadline) < 0)
            return -1;
    }
}

ssize_t coio_sock_recvfrom(int fd, void *buf, size_t cap, struct sockaddr *sa, socklen_t *salen,
                           int *truncated)
{
    return recv_until(fd, buf, cap, sa, salen, truncated, -1);
}

static ssize_t send_until(int fd, const void *buf, size_t n, const struct sockaddr *sa,
                          socklen_t salen, int64_t deadline)
{
    if (!coio__self() || (!buf && n)) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        ssize_t k = sendto(fd, buf, n, DG_SEND_FLAGS, sa, sa ? salen : 0);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
            return -1;
        if (coio__fd_wait(fd, true, deadline) < 0)
            return -1;
    }
}

ssize_t coio_sock_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa,
                         socklen_t salen)
{
    return send_until(fd, buf, n, sa, salen, -1);
}

/* ---- endpoints --------------------------------------------------------------------------- */

struct sendq_wait {
    struct coio__wait w;
    struct coio__list link;
    struct coio__task *task;
    int given;          /* woken with the turn to send (sendq_wake with code 0) */
};

struct coio_datagram {
    int fd;                     /* -1 once closed */
    int refs;                   /* the user's handle + one per call in progress */
    uint8_t connected;          /* remote address given: sendto's address must be NULL or it */
    uint8_t sending;            /* a sendto holds the turn (it sends or waits to): later ones
                                   queue on sendq and get the turn handed on in order */
    struct coio__task *receiver; /* the task inside recvfrom (one at a time: EBUSY) */
    struct coio__list sendq;    /* struct sendq_wait, FIFO */
    struct sockaddr_storage remote;
    socklen_t remote_len;
    char *path;                 /* a Unix endpoint's bound path, unlinked on close if ours */
    dev_t dev;
    ino_t ino;
};

static void dg_unref(coio_datagram *d)
{
    if (--d->refs > 0)
        return;
    free(d->path);
    free(d);
}

static void sendq_unlink(struct coio__wait *w)
{
    coio__list_del(&coio__container_of(w, struct sendq_wait, w)->link);
}

/* Wake the first queued sender: code 0 hands it the turn (sending stays set), else
   (closing) it wakes with that error. */
static void sendq_wake(coio_datagram *d, int code)
{
    if (coio__list_empty(&d->sendq)) {
        if (code == 0)
            d->sending = 0;
        return;
    }
    struct sendq_wait *q = coio__container_of(d->sendq.next, struct sendq_wait, link);
    coio__list_del(&q->link);
    q->given = code == 0;
    if (!q->task->f.loop->closed)
        coio__wake(q->task, code);
}

static bool same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b,
                      socklen_t blen)
{
    if (a->sa_family != b->ss_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return alen >= sizeof *x && x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return alen >= sizeof *x && x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

ssize_t coio_datagram_sendto(coio_datagram *d, const void *buf, size_t n,
                             const struct sockaddr *sa, socklen_t salen)
{
    struct coio__task *self = coio__self();
    if (!d || !self || (!buf && n)) {
        errno = EINVAL;
        return -1;
    }
    if (d->fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (d->connected && sa) {
        if (!same_addr(sa, salen, &d->remote, d->remote_len)) {
            errno = EISCONN; /* asyncio: ValueError, the address must be None or the remote */
            return -1;
        }
        sa = NULL;
    } else if (!d->connected && !sa) {
        errno = EDESTADDRREQ;
        return -1;
    }
    d->refs++;
    ssize_t k = -1;
    int e = 0;
    bool mine = false; /* we hold the turn: pass it on when done */
    if (d->sending) {
        /* Another sender holds the turn: queue behind it (DG2's order). */
        struct sendq_wait q = {{coio__wait_cancel_unlink, sendq_unlink}, {NULL, NULL}, self, 0};
        coio__list_push(&d->sendq, &q.link);
        int code = coio__park(self, &q.w, -1, 0);
        coio__list_del(&q.link);
        mine = q.given;
        if (code) {
            e = code;
            goto out;
        }
    } else {
        d->sending = 1;
        mine = true;
    }
    for (;;) {
        if (d->fd < 0) {
            e = EBADF;
            break;
        }
        k = sendto(d->fd, buf, n, DG_SEND_FLAGS, sa, sa ? salen : 0);
        if (k >= 0)
            break;
        e = errno;
        if (e == EINTR)
            continue;
        if ((e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS) || coio__fd_wait(d->fd, true, -1) < 0) {
            e = errno;
            break;
        }
    }
out:
    if (mine)
        sendq_wake(d, 0);
    dg_unref(d);
    if (k < 0) {
        errno = e;
        return -1;
    }
    return k;
}

ssize_t coio_datagram_send(coio_datagram *d, const void *buf, size_t n)
{
    return coio_datagram_sendto(d, buf, n, NULL, 0);
}

ssize_t coio_datagram_recvfrom(coio_datagram *d, void *buf, size_t cap, struct sockaddr *sa,
                               socklen_t *salen, int *truncated)
{
    struct coio__task *self = coio__self();
    if (!d || !self) {
        errno = EINVAL;
        return -1;
    }
    if (d->fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (d->receiver) {
        errno = EBUSY;
        return -1;
    }
    d->refs++;
    d->receiver = self;
    ssize_t n = recv_until(d->fd, buf, cap, sa, salen, truncated, -1);
    int e = errno;
    d->receiver = NULL;
    dg_unref(d);
    errno = e;
    return n;
}

/* ---- opening ------------------------------------------------------------------------------- */

static coio_datagram *dg_new(int fd)
{
    coio_datagram *d = calloc(1, sizeof *d);
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    d->fd = fd;
    d->refs = 1;
    coio__list_init(&d->sendq);
    return d;
}

static int set_opts(int fd, const coio_datagram_opts *o)
{
    int one = 1;
    if (o && o->reuse_port > 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        return -1;
    if (o && o->allow_broadcast > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0)
        return -1;
    return 0;
}

coio_datagram *coio_datagram_open(const char *local_host, int local_port, const char *remote_host,
                                  int remote_port, const coio_datagram_opts *opts)
{
    bool local = local_host || local_port > 0;
    if (!coio__self() || (!local && !remote_host) || (local_host && local_port < 0)) {
        errno = EINVAL;
        return NULL;
    }
    int family = opts ? opts->family : AF_UNSPEC;
    struct addrinfo *rres = NULL, *lres = NULL;
    if (remote_host && coio__resolve(remote_host, remote_port, family, SOCK_DGRAM, false, 0, &rres) < 0)
        return NULL;
    if (rres)
        family = rres->ai_family;
    if (local && coio__resolve(local_host, local_port < 0 ? 0 : local_port, family, SOCK_DGRAM, true, 0,
                               &lres) < 0) {
        int e = errno;
        freeaddrinfo(rres);
        errno = e;
        return NULL;
    }
    if (!rres) /* a wildcard bind: prefer IPv4 unless asked, as a v6 socket may be v6-only */
        for (struct addrinfo *ai = lres; ai; ai = ai->ai_next)
            if (ai->ai_family == AF_INET || family != AF_UNSPEC) {
                family = ai->ai_family;
                break;
            }
    if (family == AF_UNSPEC)
        family = lres ? lres->ai_family : AF_INET;
    const struct addrinfo *la = NULL;
    for (const struct addrinfo *ai = lres; ai && !la; ai = ai->ai_next)
        if (ai->ai_family == family)
            la = ai;
    coio_datagram *d = NULL;
    int fd = -1;
    if (local && !la) {
        errno = EAFNOSUPPORT;
        goto fail;
    }
    fd = coio_socket(family, SOCK_DGRAM, 0);
    if (fd < 0 || set_opts(fd, opts) < 0)
        goto fail;
    if (la && bind(fd, la->ai_addr, la->ai_addrlen) < 0)
        goto fail;
    if (!(d = dg_new(fd)))
        goto fail;
    if (rres) {
        if (connect(fd, rres->ai_addr, rres->ai_addrlen) < 0)
            goto fail;
        memcpy(&d->remote, rres->ai_addr, rres->ai_addrlen);
        d->remote_len = rres->ai_addrlen;
        d->connected = 1;
    }
    freeaddrinfo(rres);
    freeaddrinfo(lres);
    return d;
fail:;
    int e = errno;
    if (fd >= 0)
        coio_close(fd);
    free(d);
    if (rres)
        freeaddrinfo(rres);
    if (lres)
        freeaddrinfo(lres);
    errno = e;
    return NULL;
}

static int unix_path(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa->sun_path) {
        errno = n ? ENAMETOOLONG : EINVAL;
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

coio_datagram *coio_datagram_open_unix(const char *local_path, const char *remote_path,
                                       const coio_datagram_opts *opts)
{
    (void)opts;
    struct sockaddr_un la, ra;
    socklen_t ll = 0, rl = 0;
    if (!coio__self() || (!local_path && !remote_path)) {
        errno = EINVAL;
        return NULL;
    }
    if ((local_path && unix_path(local_path, &la, &ll) < 0) ||
        (remote_path && unix_path(remote_path, &ra, &rl) < 0))
        return NULL;
    int fd = coio_socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0)
        return NULL;
    coio_datagram *d = dg_new(fd);
    if (!d)
        goto fail;
    if (local_path) {
        struct stat st;
        if (stat(local_path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(local_path); /* stale, as start_unix_server does */
        if (bind(fd, (struct sockaddr *)&la, ll) < 0)
            goto fail;
        if (stat(local_path, &st) == 0) {
            d->path = strdup(local_path);
            d->dev = st.st_dev;
            d->ino = st.st_ino;
        }
    }
    if (remote_path) {
        if (connect(fd, (struct sockaddr *)&ra, rl) < 0)
            goto fail;
        memcpy(&d->remote, &ra, rl);
        d->remote_len = rl;
        d->connected = 1;
    }
    return d;
fail:;
    int e = errno;
    coio_close(fd);
    if (d) {
        if (d->path)
            unlink(d->path);
        free(d->path);
        free(d);
    }
    errno = e;
    return NULL;
}

int coio_datagram_fd(const coio_datagram *d) { return d ? d->fd : -1; }

int coio_datagram_sockname(const coio_datagram *d, struct sockaddr *sa, socklen_t *len)
{
    if (!d || !sa || !len) {
        errno = EINVAL;
        return -1;
    }
    if (d->fd < 0) {
        errno = EBADF;
        return -1;
    }
    return getsockname(d->fd, sa, len);
}

int coio_datagram_port(const coio_datagram *d)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (coio_datagram_sockname(d, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    errno = EAFNOSUPPORT;
    return -1;
}

void coio_datagram_close(coio_datagram *d)
{
    if (!d)
        return;
    if (d->fd >= 0) {
        /* Waiting calls wake with EBADF (coio_close); queued senders too. */
        coio_close(d->fd);
        d->fd = -1;
        while (!coio__list_empty(&d->sendq))
            sendq_wake(d, EBADF);
        if (d->path) {
            struct stat st;
            if (stat(d->path, &st) == 0 && st.st_dev == d->dev && st.st_ino == d->ino)
                unlink(d->path);
        }
    }
    dg_unref(d);
}
