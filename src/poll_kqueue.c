/* poll_kqueue.c — the BSD/macOS poller: one kqueue, EVFILT_READ and
 * EVFILT_WRITE registered once per fd with EV_CLEAR (edge-triggered). */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

struct coio__poller {
    int kq;
    struct kevent evs[256];
};

int coio__poll_open(struct coio__poller **pp)
{
    struct coio__poller *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->kq = kqueue();
    if (p->kq < 0) {
        int e = errno;
        free(p);
        errno = e;
        return -1;
    }
    fcntl(p->kq, F_SETFD, FD_CLOEXEC);
    *pp = p;
    return 0;
}

void coio__poll_close(struct coio__poller *p)
{
    if (!p)
        return;
    close(p->kq);
    free(p);
}

int coio__poll_add(struct coio__poller *p, int fd)
{
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL);
    return kevent(p->kq, ch, 2, NULL, 0, NULL) < 0 ? -1 : 0;
}

void coio__poll_del(struct coio__poller *p, int fd)
{
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    kevent(p->kq, ch, 2, NULL, 0, NULL);
}

int coio__poll_wait(struct coio__poller *p, int64_t timeout_ns, struct coio__pollev *ev, int n)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        if (timeout_ns > (int64_t)86400 * 1000000000)
            timeout_ns = (int64_t)86400 * 1000000000;
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    if (n > 256)
        n = 256;
    int r = kevent(p->kq, NULL, 0, p->evs, n, tsp);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    /* kqueue reports each filter separately; the caller copes with one fd
       appearing twice. Errors and EOF wake both sides. */
    for (int i = 0; i < r; i++) {
        struct kevent *k = &p->evs[i];
        unsigned out = k->filter == EVFILT_READ ? COIO__POLL_IN : COIO__POLL_OUT;
        if (k->flags & (EV_EOF | EV_ERROR))
            out = COIO__POLL_IN | COIO__POLL_OUT;
        ev[i].fd = (int)k->ident;
        ev[i].events = out;
    }
    return r;
}

const char *coio__poll_name(void) { return "kqueue"; }
