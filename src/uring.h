/* uring.h — a minimal io_uring over the raw system calls (uring.c): setup, the
 * mapped rings, getting an SQE, one batched io_uring_enter, reaping CQEs. It
 * knows nothing of tasks; file.c builds the file operations on it. Every
 * io_uring system call of coio is in uring.c. Linux only; elsewhere (and with
 * COIO_NO_URING) coio__ring_open fails with ENOSYS.
 */
#ifndef COIO_URING_H
#define COIO_URING_H

#include <stdint.h>

struct coio__ring;
struct io_uring_sqe;

/* Map a ring of `entries` submission slots (completion ring twice as big).
   Returns 0 or -1 with errno (ENOSYS: no io_uring here, e.g. qemu-user or an
   old kernel; EPERM: forbidden, seccomp or io_uring_disabled; ENOMEM). */
int coio__ring_open(struct coio__ring **rp, unsigned entries);
/* Unmap and close. Operations still in the kernel are cancelled by it; their
   completions are never reported (the caller made sure nobody waits for them). */
void coio__ring_close(struct coio__ring *r);
int coio__ring_fd(const struct coio__ring *r);
unsigned coio__ring_cq_entries(const struct coio__ring *r);

/* A free SQE, zeroed, at the local tail (published by the next flush); if the
   submission ring is full, flushes first. *pos receives its position, for
   coio__ring_taken. NULL with errno when the flush failed. */
struct io_uring_sqe *coio__ring_sqe(struct coio__ring *r, unsigned *pos);
/* The SQE at position pos, or NULL if the kernel already consumed it. */
struct io_uring_sqe *coio__ring_unsubmitted(struct coio__ring *r, unsigned pos);
/* SQEs written and not yet handed to the kernel. */
unsigned coio__ring_pending(const struct coio__ring *r);
/* Hand the pending SQEs to the kernel: one io_uring_enter, none when nothing
   is pending. Returns 0 or -1 with errno. */
int coio__ring_flush(struct coio__ring *r);
/* Block in io_uring_enter until at least one completion is ready (loop close
   only). Returns 0 or -1 with errno. */
int coio__ring_wait(struct coio__ring *r);
/* Call cb(arg, user_data, res) for every completion ready (no system call). */
unsigned coio__ring_reap(struct coio__ring *r, void (*cb)(void *arg, uint64_t ud, int res),
                         void *arg);

#endif
