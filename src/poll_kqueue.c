/* poll_kqueue.c — the BSD/macOS poller: one kqueue, EVFILT_READ and
 * EVFILT_WRITE registered once per fd with EV_CLEAR (edge-triggered), and an
 * EVFILT_USER event for cross-thread wake-ups. Also builds on Linux against
 * libkqueue, for testing (README); its quirks are handled under LIBKQUEUE. */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <time.h> /* struct timespec under -std=c11 (libkqueue's header only declares it) */
#include <unistd.h>

#include "fault.h"

/* The ident of the wake-up event: EVFILT_USER idents are their own
   namespace, so it cannot clash with an fd. */
#define WAKE_IDENT 1

struct coio__poller {
    int kq;
    int nevs, next;           /* evs[next..nevs) were fetched but not handed out yet */
#ifdef LIBKQUEUE
    int maxfd;                /* the highest fd ever added */
    int resync;               /* next fd to report as ready after a possible loss;
                                 > maxfd when there is none */
#endif
    struct kevent evs[256];
};

int coio__poll_open(struct coio__poller **pp)
{
    struct coio__poller *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->nevs = p->next = 0;
#ifdef LIBKQUEUE
    p->maxfd = -1;
    p->resync = INT_MAX;
#endif
    p->kq = kqueue();
    if (p->kq < 0) {
        int e = errno;
        free(p);
        errno = e;
        return -1;
    }
    fcntl(p->kq, F_SETFD, FD_CLOEXEC);
    struct kevent ch;
    EV_SET(&ch, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(p->kq, &ch, 1, NULL, 0, NULL) < 0) {
        int e = errno;
        close(p->kq);
        free(p);
        errno = e;
        return -1;
    }
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

const int coio__poll_hup_with_data = 0;

int coio__poll_add(struct coio__poller *p, int fd)
{
    struct kevent ch[2];
#ifdef LIBKQUEUE
    /* libkqueue (kqueue emulated over epoll on Linux) cannot see close(2), so
       the knotes of a closed fd outlive it and an EV_ADD for a new file with
       the same number would only modify them. Drop any such leftovers first;
       this runs once per registration, not per wait. */
    coio__poll_del(p, fd);
    if (fd > p->maxfd)
        p->maxfd = fd;
#endif
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
    /* Fetched events of fd not handed out yet are gone with it. */
    int k = p->next;
    for (int i = p->next; i < p->nevs; i++)
        if (p->evs[i].filter == EVFILT_USER || (int)p->evs[i].ident != fd)
            p->evs[k++] = p->evs[i];
    p->nevs = k;
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
    /* kqueue reports each filter separately; the caller copes with one fd
       appearing twice. Errors and EOF wake both sides. */
    int m = 0;
    bool fetched = false;
    while (m < n) {
        if (p->next < p->nevs) {
            struct kevent *k = &p->evs[p->next++];
            if (k->filter == EVFILT_USER) /* a wake-up; EV_CLEAR has reset it */
                continue;
            unsigned out = k->filter == EVFILT_READ ? COIO__POLL_IN : COIO__POLL_OUT;
            if (k->flags & (EV_EOF | EV_ERROR))
                out = COIO__POLL_IN | COIO__POLL_OUT | COIO__POLL_HUP;
            ev[m].fd = (int)k->ident;
            ev[m].events = out;
            /* With EV_EOF, fflags holds the socket error (libkqueue reads it
               with SO_ERROR, which clears it: this is the only copy). */
            ev[m].err = (k->flags & EV_EOF) ? (int)k->fflags : 0;
            m++;
            continue;
        }
#ifdef LIBKQUEUE
        if (p->resync <= p->maxfd) {
            /* Spurious readiness is allowed; a lost edge is not. */
            ev[m].fd = p->resync++;
            ev[m].events = COIO__POLL_IN | COIO__POLL_OUT;
            ev[m].err = 0;
            m++;
            continue;
        }
#endif
        if (m > 0 || fetched)
            break;
        /* A real kqueue keeps what we do not fetch, so ask for no more than
           the caller takes; libkqueue gets the whole list (see below). */
#ifdef LIBKQUEUE
        int want = (int)(sizeof p->evs / sizeof p->evs[0]);
#else
        int want = n < 256 ? n : 256;
#endif
        int r = kevent(p->kq, NULL, 0, p->evs, want, tsp);
        if (r < 0)
            return errno == EINTR ? 0 : -1;
        p->nevs = r;
        p->next = 0;
        fetched = true;
#ifdef LIBKQUEUE
        /* libkqueue fetches up to `want` epoll events and turns each into one
           kevent per ready filter; when the list fills up it drops the rest,
           and with EV_CLEAR (EPOLLET) that readiness never comes back. A full
           list may have lost some: report every fd that could be registered
           as ready in both directions once, so each waiter retries its call. */
        if (r == want)
            p->resync = 0;
#endif
    }
    return m;
}

void coio__poll_wakeup(struct coio__poller *p)
{
    /* kevent(2) is a plain system call, safe in a signal handler. */
    int e = errno;
    struct kevent ch;
    EV_SET(&ch, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    while (kevent(p->kq, &ch, 1, NULL, 0, NULL) < 0 && errno == EINTR)
        ;
    errno = e;
}

const char *coio__poll_name(void) { return "kqueue"; }
