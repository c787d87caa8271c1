/* poller.h — the contract every poller backend (poll_epoll.c, poll_kqueue.c)
 * implements. Backends only translate between the kernel interface and these
 * four calls; all policy (waiters, readiness, timeouts) lives in io.c/loop.c.
 */
#ifndef COIO_POLL_H
#define COIO_POLL_H

#include <stdint.h>

struct coio__poller;

/* Event bits. Errors and hang-ups are reported as both IN and OUT so that the
   waiter on either side meets the condition in its own system call. */
#define COIO__POLL_IN  1u
#define COIO__POLL_OUT 2u

struct coio__pollev {
    int fd;
    unsigned events; /* COIO__POLL_IN | COIO__POLL_OUT */
};

/* Create a poller (close-on-exec). Returns 0 or -1 with errno. */
int coio__poll_open(struct coio__poller **pp);
void coio__poll_close(struct coio__poller *p);

/* Register fd for edge-triggered readiness in both directions. Returns 0 or
   -1 with errno (EBADF, EPERM for regular files on epoll, ENOMEM). */
int coio__poll_add(struct coio__poller *p, int fd);

/* Forget fd (best effort; a closed fd may already be gone). */
void coio__poll_del(struct coio__poller *p, int fd);

/* Wait up to timeout_ns (< 0: forever, 0: don't block) and fill ev[0..n).
   Returns the number of events (0 on timeout or EINTR), or -1 with errno. */
int coio__poll_wait(struct coio__poller *p, int64_t timeout_ns, struct coio__pollev *ev, int n);

/* "epoll" or "kqueue". */
const char *coio__poll_name(void);

#endif
