/* poll_epoll.c — the Linux poller: one epoll instance, fds registered once,
 * edge-triggered for both directions, and an eventfd for cross-thread wake-ups. */
#define _GNU_SOURCE
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fault.h"

struct coio__poller {
    int epfd;
    int wfd;    /* eventfd, level-triggered; read back to zero when it fires */
    struct epoll_event evs[256];
};

int coio__poll_open(struct coio__poller **pp)
{
    struct coio__poller *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->wfd = -1;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        goto fail;
    p->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wfd < 0)
        goto fail;
    struct epoll_event e = {.events = EPOLLIN, .data.fd = p->wfd};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wfd, &e) < 0)
        goto fail;
    *pp = p;
    return 0;
fail:;
    int err = errno;
    if (p->wfd >= 0)
        close(p->wfd);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p);
    errno = err;
    return -1;
}

void coio__poll_close(struct coio__poller *p)
{
    if (!p)
        return;
    close(p->epfd);
    close(p->wfd);
    free(p);
}

const int coio__poll_hup_with_data = 1;

int coio__poll_add(struct coio__poller *p, int fd)
{
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &e) == 0)
        return 0;
    if (errno == EEXIST) /* a dup of a registered file, or a stale entry: refresh it */
        return epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &e);
    return -1;
}

void coio__poll_del(struct coio__poller *p, int fd)
{
    struct epoll_event e = {0};
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &e);
}

int coio__poll_wait(struct coio__poller *p, int64_t timeout_ns, struct coio__pollev *ev, int n)
{
    int ms;
    if (timeout_ns < 0)
        ms = -1;
    else if (timeout_ns == 0)
        ms = 0;
    else if (timeout_ns > (int64_t)86400 * 1000000000)
        ms = 86400 * 1000;
    else
        ms = (int)((timeout_ns + 999999) / 1000000); /* round up: never wake early */
    if (n > 256)
        n = 256;
    int r = epoll_wait(p->epfd, p->evs, n, ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    int k = 0;
    for (int i = 0; i < r; i++) {
        if (p->evs[i].data.fd == p->wfd) {
            /* Reset the counter before the caller looks at what the wakers
               left: a wake-up that lands after this read fires again. */
            uint64_t v;
            while (read(p->wfd, &v, sizeof v) < 0 && errno == EINTR)
                ;
            continue;
        }
        uint32_t e = p->evs[i].events;
        unsigned out = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            out |= COIO__POLL_IN;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            out |= COIO__POLL_OUT;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            out |= COIO__POLL_HUP;
        ev[k].fd = p->evs[i].data.fd;
        ev[k].events = out;
        ev[k].err = 0; /* epoll leaves SO_ERROR in place */
        k++;
    }
    return k;
}

void coio__poll_wakeup(struct coio__poller *p)
{
    /* write(2) is async-signal-safe; EAGAIN means the counter is already far
       from zero, which wakes the poller just as well. errno is the
       interrupted code's. */
    int e = errno;
    uint64_t one = 1;
    while (write(p->wfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    errno = e;
}

const char *coio__poll_name(void) { return "epoll"; }
