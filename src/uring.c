/* uring.c — the io_uring rings over the raw system calls (no liburing: static
 * users need no extra library, and the few calls below are all coio uses).
 * Single-threaded: only the loop's thread touches a ring, and without SQPOLL the
 * kernel consumes SQEs only inside our io_uring_enter, so the submission side
 * needs ordering only towards that call; the completion side is written by the
 * kernel at any time (acquire the tail, release the head).
 */
#define _GNU_SOURCE
#include "uring.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && !defined(COIO_NO_URING) && __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__NR_io_uring_setup) || !defined(__NR_io_uring_enter)
#define COIO_NO_URING_SYSCALLS 1
#endif

struct coio__ring {
    int fd;
    unsigned sq_entries, cq_entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map;       /* cq_map == sq_map with IORING_FEAT_SINGLE_MMAP */
    size_t sq_map_size, cq_map_size, sqes_size;
    unsigned tail;               /* local SQ tail; *sq_tail is published at flush */
    unsigned pending;            /* SQEs in [*sq_tail - pending, tail) not yet entered */
};

/* The two system calls; the fault-injection seam of this file. */
static int sys_setup(unsigned entries, struct io_uring_params *p)
{
#ifdef COIO_NO_URING_SYSCALLS
    (void)entries, (void)p;
    errno = ENOSYS;
    return -1;
#else
    /* Test hook: COIO_TEST_URING_SETUP_FAILS=1 makes setup fail as a
       container's seccomp filter does. */
    const char *t = getenv("COIO_TEST_URING_SETUP_FAILS");
    if (t && *t && *t != '0') {
        errno = EPERM;
        return -1;
    }
    return (int)syscall(__NR_io_uring_setup, entries, p);
#endif
}

static int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
#ifdef COIO_NO_URING_SYSCALLS
    (void)fd, (void)to_submit, (void)min_complete, (void)flags;
    errno = ENOSYS;
    return -1;
#else
    return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
#endif
}

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int coio__ring_open(struct coio__ring **rp, unsigned entries)
{
    struct coio__ring *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CLAMP;
    r->fd = sys_setup(entries, &p);
    if (r->fd < 0) {
        int e = errno;
        free(r);
        errno = e;
        return -1;
    }
    /* No NODROP (before 5.5): a full completion ring would lose completions;
       no RW_CUR_POS (before 5.6): no READ/WRITE/OPENAT/STATX/CLOSE opcodes
       either. Such kernels are not worth a second code path: the pool. */
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_RW_CUR_POS)) {
        close(r->fd);
        free(r);
        errno = ENOSYS;
        return -1;
    }
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;
    r->sq_map_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single && r->cq_map_size > r->sq_map_size)
        r->sq_map_size = r->cq_map_size;
    r->sq_map = mmap(NULL, r->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     r->fd, IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED)
        goto fail;
    if (single) {
        r->cq_map = r->sq_map;
    } else {
        r->cq_map = mmap(NULL, r->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                         r->fd, IORING_OFF_CQ_RING);
        if (r->cq_map == MAP_FAILED) {
            r->cq_map = NULL;
            goto fail;
        }
    }
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                   IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) {
        r->sqes = NULL;
        goto fail;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    /* The array maps slot i to SQE i once and for all. */
    for (unsigned i = 0; i < r->sq_entries; i++)
        r->sq_array[i] = i;
    r->tail = *r->sq_tail;
    *rp = r;
    return 0;
fail:;
    int e = errno;
    coio__ring_close(r);
    errno = e;
    return -1;
}

void coio__ring_close(struct coio__ring *r)
{
    if (!r)
        return;
    if (r->sqes)
        munmap(r->sqes, r->sqes_size);
    if (r->cq_map && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_size);
    if (r->sq_map && r->sq_map != MAP_FAILED)
        munmap(r->sq_map, r->sq_map_size);
    close(r->fd);
    free(r);
}

int coio__ring_fd(const struct coio__ring *r) { return r->fd; }
unsigned coio__ring_cq_entries(const struct coio__ring *r) { return r->cq_entries; }
unsigned coio__ring_pending(const struct coio__ring *r) { return r->pending; }

int coio__ring_flush(struct coio__ring *r)
{
    if (!r->pending)
        return 0;
    STORE_REL(r->sq_tail, r->tail);
    for (;;) {
        int n = sys_enter(r->fd, r->pending, 0, 0);
        if (n >= 0) {
            /* The kernel may take fewer (a transient allocation failure): the
               rest stays queued for the next flush. */
            r->pending -= (unsigned)n < r->pending ? (unsigned)n : r->pending;
            return 0;
        }
        if (errno != EINTR)
            return -1;
    }
}

struct io_uring_sqe *coio__ring_sqe(struct coio__ring *r, unsigned *pos)
{
    if (r->tail - LOAD_ACQ(r->sq_head) >= r->sq_entries) {
        if (coio__ring_flush(r) < 0)
            return NULL;
        if (r->tail - LOAD_ACQ(r->sq_head) >= r->sq_entries) {
            errno = EAGAIN;
            return NULL;
        }
    }
    struct io_uring_sqe *sqe = &r->sqes[r->tail & *r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    *pos = r->tail++;
    r->pending++;
    return sqe;
}

struct io_uring_sqe *coio__ring_unsubmitted(struct coio__ring *r, unsigned pos)
{
    /* Positions before the kernel's head were consumed; so were those the
       last enter took (head moves then, as no SQPOLL thread runs). */
    if ((int)(pos - LOAD_ACQ(r->sq_head)) < 0)
        return NULL;
    return &r->sqes[pos & *r->sq_mask];
}

int coio__ring_wait(struct coio__ring *r)
{
    for (;;) {
        if (sys_enter(r->fd, 0, 1, IORING_ENTER_GETEVENTS) >= 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

unsigned coio__ring_reap(struct coio__ring *r, void (*cb)(void *arg, uint64_t ud, int res),
                         void *arg)
{
    unsigned head = *r->cq_head, n = 0;
    unsigned tail = LOAD_ACQ(r->cq_tail);
    while (head != tail) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        uint64_t ud = c->user_data;
        int res = c->res;
        head++;
        /* Give the slot back before the callback, which may submit. */
        STORE_REL(r->cq_head, head);
        cb(arg, ud, res);
        n++;
        if (head == tail)
            tail = LOAD_ACQ(r->cq_tail);
    }
    return n;
}

#else /* no io_uring on this system */

int coio__ring_open(struct coio__ring **rp, unsigned entries)
{
    (void)rp, (void)entries;
    errno = ENOSYS;
    return -1;
}
void coio__ring_close(struct coio__ring *r) { (void)r; }
int coio__ring_fd(const struct coio__ring *r) { (void)r; return -1; }
unsigned coio__ring_cq_entries(const struct coio__ring *r) { (void)r; return 0; }
unsigned coio__ring_pending(const struct coio__ring *r) { (void)r; return 0; }
int coio__ring_flush(struct coio__ring *r) { (void)r; return 0; }
struct io_uring_sqe *coio__ring_sqe(struct coio__ring *r, unsigned *pos)
{
    (void)r, (void)pos;
    errno = ENOSYS;
    return NULL;
}
struct io_uring_sqe *coio__ring_unsubmitted(struct coio__ring *r, unsigned pos)
{
    (void)r, (void)pos;
    return NULL;
}
int coio__ring_wait(struct coio__ring *r)
{
    (void)r;
    errno = ENOSYS;
    return -1;
}
unsigned coio__ring_reap(struct coio__ring *r, void (*cb)(void *, uint64_t, int), void *arg)
{
    (void)r, (void)cb, (void)arg;
    return 0;
}
#endif
