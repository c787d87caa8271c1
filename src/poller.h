/* poller.h — the contract every poller backend (poll_epoll.c, poll_kqueue.c)
 * implements. Backends only translate between the kernel interface and these
 * calls; all policy (waiters, readiness, timeouts) lives in io.c/loop.c.
 */
#ifndef COIO_POLL_H
#define COIO_POLL_H

#include <stdint.h>

struct coio__poller;

/* Event bits. Errors and hang-ups are reported as both IN and OUT so that the
   waiter on either side meets the condition in its own system call. */
#define COIO__POLL_IN  1u
#define COIO__POLL_OUT 2u
/* Also set with IN when the peer hung up or the fd has an error: io.c then stops
   trusting a short read to mean "drained" (a queued FIN makes no later edge). */
#define COIO__POLL_HUP 4u

/* Nonzero when an event for a stream socket whose FIN (or error) is already
   queued always carries COIO__POLL_HUP, even with data still unread: only then
   may io.c park a read after a short one. epoll: yes (EPOLLRDHUP). kqueue: no
   (libkqueue leaves EV_EOF off while data is queued; real kqueue is untested). */
extern const int coio__poll_hup_with_data;

struct coio__pollev {
    int fd;
    unsigned events; /* COIO__POLL_IN | COIO__POLL_OUT */
    int err;         /* a socket error the backend read, and so may have cleared
                        from SO_ERROR (libkqueue does), or 0: coio_connect's result */
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

/* Make the coio__poll_wait in progress, or the next one, return soon. Callable
   from any thread and from a signal handler (async-signal-safe, never blocks).
   Wake-ups are not reported as events, and several may collapse into one. The
   wake-up object (an eventfd, or an EVFILT_USER event) is made by
   coio__poll_open and freed by coio__poll_close. */
void coio__poll_wakeup(struct coio__poller *p);

/* "epoll" or "kqueue". */
const char *coio__poll_name(void);

#endif
