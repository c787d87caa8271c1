/* file.c — asynchronous file I/O (coio_file_*): on the loop's io_uring when it
 * has one (uring.c), else on the default thread pool (executor.c), with the
 * same semantics. An operation is a record on the calling task's stack: the
 * io_uring path puts its address in the SQE's user_data and parks the task
 * until the CQE names it; the pool path runs the system call in pool_fn.
 *
 * The buffer rule, enforced here (rop_cancel, rop_complete, rop_unlink) and in
 * executor.c (job_cancel, job_unlink with close_waits): a task whose operation
 * reached the kernel (or a pool thread) is resumed only after its completion.
 * A cancel only asks the kernel to stop (IORING_OP_ASYNC_CANCEL) — or turns an
 * SQE the kernel has not taken yet into a NOP — and the task goes on waiting,
 * uncancellably, for the CQE; then it returns ECANCELED. So the kernel never
 * writes to a buffer (often on the task's stack) after the task resumed, nor
 * after loop close freed the stack: rop_unlink waits for the CQE first.
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "poller.h"
#include "uring.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__linux__) && !defined(COIO_NO_URING) && __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#include <sys/sysmacros.h>
#define HAVE_URING 1
#endif

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define RUNNING_ON_VALGRIND 0
#endif

struct coio_file {
    int fd;
    bool seekable; /* lseek works: pread/pwrite are allowed (else ESPIPE) */
};

enum { OP_OPEN, OP_READ, OP_WRITE, OP_READV, OP_WRITEV, OP_FSYNC, OP_FDATASYNC, OP_STAT,
       OP_CLOSE };

#define MAX_RW 0x7ffff000u /* what read(2) transfers at most */
#define RING_ENTRIES 256u

/* One operation: its arguments and, once done, its outcome. On the caller's
   stack. */
struct fop {
    int kind;
    int fd;             /* OP_OPEN: the dirfd */
    void *buf;          /* OP_READ/WRITE; OP_OPEN: the path; OP_STAT: struct stat */
    const struct iovec *iov;
    size_t n;           /* bytes, or iovcnt */
    long long off;      /* COIO_FILE_CUR or >= 0 */
    int flags;
    mode_t mode;
    bool pool_only;     /* a write to a file that cannot seek: on the pool (SIGPIPE) */
    bool ran;           /* the system call was made (or reached the kernel) */
    long long res;      /* >= 0, or -errno */
};

/* ---- the thread-pool backend ---------------------------------------------- */

/* Every file system call of the pool backend. */
static long long sys_file(const struct fop *o)
{
    ssize_t r = -1;
    switch (o->kind) {
    case OP_OPEN:
        return openat(o->fd, (const char *)o->buf, o->flags, o->mode);
    case OP_READ:
        r = o->off < 0 ? read(o->fd, o->buf, o->n) : pread(o->fd, o->buf, o->n, (off_t)o->off);
        break;
    case OP_WRITE:
        r = o->off < 0 ? write(o->fd, o->buf, o->n) : pwrite(o->fd, o->buf, o->n, (off_t)o->off);
        break;
    case OP_READV:
        r = o->off < 0 ? readv(o->fd, o->iov, (int)o->n) : preadv(o->fd, o->iov, (int)o->n, (off_t)o->off);
        break;
    case OP_WRITEV:
        r = o->off < 0 ? writev(o->fd, o->iov, (int)o->n)
                       : pwritev(o->fd, o->iov, (int)o->n, (off_t)o->off);
        break;
    case OP_FSYNC:
        return fsync(o->fd);
    case OP_FDATASYNC:
        return fdatasync(o->fd);
    case OP_STAT:
        return fstat(o->fd, (struct stat *)o->buf);
    case OP_CLOSE:
        return close(o->fd);
    }
    return r;
}

static void *pool_fn(void *p)
{
    struct fop *o = p;
    long long r;
    o->ran = true;
    /* EINTR is retried (nothing was transferred), except for close: the fd
       is gone then. Pool threads block signals, so it is rare. */
    while ((r = sys_file(o)) < 0 && errno == EINTR && o->kind != OP_CLOSE)
        ;
    o->res = r < 0 ? -(long long)errno : r;
    return NULL;
}

/* 0 (o->res is set) or an errno for the call itself. */
static int pool_run(struct fop *o)
{
    if (coio__to_thread_waited(pool_fn, o) < 0)
        return errno;
    return 0;
}

/* ---- the io_uring backend ----------------------------------------------------- */

#ifdef HAVE_URING
/* A task waiting for its CQE. */
struct rop {
    struct coio__wait w;
    struct coio__task *task;
    coio_loop *loop;
    unsigned pos;       /* SQE position, to tell whether the kernel took it */
    int res;            /* the CQE's */
    bool done;          /* the CQE came */
    bool cancel;        /* cancelled: the task returns ECANCELED */
    bool nop;           /* cancelled before the kernel took it: turned into a NOP */
    bool closing;       /* loop close: nobody is to be woken */
    bool nocancel;      /* close: not cancellable (the cancel waits for the CQE) */
};

static void rop_complete(void *arg, uint64_t ud, int res)
{
    coio_loop *l = arg;
    l->ring_inflight--;
    if (!ud)
        return; /* an ASYNC_CANCEL's own completion */
    struct rop *op = (struct rop *)(uintptr_t)ud;
    op->res = res;
    op->done = true;
    l->ring_ops--;
    l->io_waiters--;
    if (!op->closing)
        coio__wake(op->task, op->cancel ? ECANCELED : 0);
}

/* The waiting task is cancelled. The task is not woken here: see the top. */
static int rop_cancel(struct coio__wait *w, struct coio__task *t)
{
    (void)t;
    struct rop *op = coio__container_of(w, struct rop, w);
    if (op->nocancel || op->cancel || op->done)
        return 0; /* delivered when the task resumes */
    op->cancel = true;
    struct coio__ring *r = op->loop->ring;
    struct io_uring_sqe *sqe = coio__ring_unsubmitted(r, op->pos);
    if (sqe) {
        /* Not in the kernel yet: it never runs; its NOP completes it. */
        uint64_t ud = sqe->user_data;
        memset(sqe, 0, sizeof *sqe);
        sqe->opcode = IORING_OP_NOP;
        sqe->user_data = ud;
        op->nop = true;
        return 1;
    }
    /* In the kernel. Its completion comes either way (-ECANCELED, or the
       result when it was already running); the cancel goes with the next
       batch. The user_data of a cancel is 0; its slot in the completion ring
       was reserved with the operation's (rop_start). A cancel that cannot get
       an SQE (the flush failed) is simply not sent: the operation ends by
       itself. (A cancel sent after the operation completed could only match a
       later operation at the same address if that one were issued before the
       cancel, and SQEs are issued in order.) */
    unsigned pos;
    sqe = coio__ring_sqe(r, &pos);
    if (sqe) {
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->addr = (uint64_t)(uintptr_t)op;
        sqe->user_data = 0;
        op->loop->ring_inflight++;
    }
    return 1;
}

/* Loop close, with the task about to be destroyed (its stack freed): make
   sure the kernel is done with the operation first. */
static void rop_unlink(struct coio__wait *w)
{
    struct rop *op = coio__container_of(w, struct rop, w);
    if (op->done)
        return;
    op->closing = true;
    rop_cancel(w, op->task); /* not a close: that one is left to finish */
    coio_loop *l = op->loop;
    for (;;) {
        coio__ring_flush(l->ring);
        coio__ring_reap(l->ring, rop_complete, l);
        if (op->done)
            break;
        /* Returning now would let the kernel write to freed memory. */
        if (coio__ring_wait(l->ring) < 0)
            coio__panic(__FILE__, __LINE__, "io_uring_enter failed while a closing loop waited "
                                            "for a file operation");
    }
}

/* An SQE for op, or NULL when the ring is full (the caller uses the pool). */
static struct io_uring_sqe *rop_start(coio_loop *l, struct rop *op)
{
    struct coio__ring *r = l->ring;
    /* Room in the completion ring for this and a cancel: it never overflows. */
    if (l->ring_inflight + 2 > coio__ring_cq_entries(r))
        return NULL;
    struct io_uring_sqe *sqe = coio__ring_sqe(r, &op->pos);
    if (!sqe)
        return NULL;
    sqe->user_data = (uint64_t)(uintptr_t)op;
    l->ring_inflight++;
    return sqe;
}

static void statx_to_stat(const struct statx *x, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* Valgrind does not see the kernel write the buffers: tell it. */
static void mark_defined(const struct fop *o, long long res)
{
    if (!RUNNING_ON_VALGRIND || res <= 0)
        return;
    if (o->kind == OP_READ) {
        VALGRIND_MAKE_MEM_DEFINED(o->buf, (size_t)res);
    } else if (o->kind == OP_READV) {
        size_t left = (size_t)res;
        for (size_t i = 0; i < o->n && left; i++) {
            size_t k = o->iov[i].iov_len < left ? o->iov[i].iov_len : left;
            VALGRIND_MAKE_MEM_DEFINED(o->iov[i].iov_base, k);
            left -= k;
        }
    }
}

/* Run o on the ring. 1: done (o->res set, or *code ECANCELED); 0: the ring
   is full, use the pool. */
static int ring_run(struct coio__task *self, struct fop *o, int *code)
{
    coio_loop *l = self->f.loop;
    struct statx stx;
    for (;;) {
        struct rop op;
        memset(&op, 0, sizeof op);
        op.loop = l;
        op.task = self;
        struct io_uring_sqe *sqe = rop_start(l, &op);
        if (!sqe)
            return 0;
        sqe->fd = o->fd;
        uint64_t off = o->off < 0 ? (uint64_t)-1 : (uint64_t)o->off;
        switch (o->kind) {
        case OP_OPEN:
            sqe->opcode = IORING_OP_OPENAT;
            sqe->addr = (uint64_t)(uintptr_t)o->buf;
            sqe->len = o->mode;
            sqe->open_flags = (uint32_t)o->flags;
            break;
        case OP_READ:
        case OP_WRITE:
            sqe->opcode = o->kind == OP_READ ? IORING_OP_READ : IORING_OP_WRITE;
            sqe->addr = (uint64_t)(uintptr_t)o->buf;
            sqe->len = (uint32_t)o->n;
            sqe->off = off;
            break;
        case OP_READV:
        case OP_WRITEV:
            sqe->opcode = o->kind == OP_READV ? IORING_OP_READV : IORING_OP_WRITEV;
            sqe->addr = (uint64_t)(uintptr_t)o->iov;
            sqe->len = (uint32_t)o->n;
            sqe->off = off;
            break;
        case OP_FSYNC:
        case OP_FDATASYNC:
            sqe->opcode = IORING_OP_FSYNC;
            sqe->fsync_flags = o->kind == OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0;
            break;
        case OP_STAT:
            sqe->opcode = IORING_OP_STATX;
            sqe->addr = (uint64_t)(uintptr_t)"";
            sqe->len = STATX_BASIC_STATS;
            sqe->statx_flags = AT_EMPTY_PATH;
            sqe->off = (uint64_t)(uintptr_t)&stx; /* addr2 */
            memset(&stx, 0, sizeof stx);
            break;
        case OP_CLOSE:
            sqe->opcode = IORING_OP_CLOSE;
            op.nocancel = true;
            break;
        }
        op.w.cancel = rop_cancel;
        op.w.unlink = rop_unlink;
        l->ring_ops++;
        l->io_waiters++;
        /* Woken only by rop_complete: the kernel is done with o's buffers. */
        int c = coio__park(self, &op.w, -1, 0);
        o->ran = !op.nop;
        if (c == 0 && op.res == -EINTR && o->kind != OP_CLOSE)
            continue;
        if (op.res == -ECANCELED && o->kind == OP_CLOSE)
            o->ran = false; /* cancelled in the kernel before it closed (loop close only) */
        o->res = op.res;
        if (o->kind == OP_STAT && op.res == 0) {
            VALGRIND_MAKE_MEM_DEFINED(&stx, sizeof stx);
            statx_to_stat(&stx, (struct stat *)o->buf);
        }
        mark_defined(o, o->res);
        *code = c;
        return 1;
    }
}

/* The loop's ring: set up on first use unless COIO_BACKEND=epoll. */
static struct coio__ring *loop_ring(coio_loop *l)
{
    if (l->ring_tried)
        return l->ring;
    l->ring_tried = 1;
    const char *b = getenv("COIO_BACKEND");
    if (b && (strcmp(b, "epoll") == 0 || strcmp(b, "kqueue") == 0 || strcmp(b, "threads") == 0))
        return NULL;
    struct coio__ring *r;
    if (coio__ring_open(&r, RING_ENTRIES) < 0)
        return NULL;
    if (coio__poll_add(l->poller, coio__ring_fd(r)) < 0) {
        coio__ring_close(r);
        return NULL;
    }
    l->ring = r;
    return r;
}

bool coio__file_submit(coio_loop *l)
{
    /* A failed or partial flush (EAGAIN, ENOMEM) leaves SQEs queued for the
       next iteration, which the loop then starts within 1 ms. */
    if (coio__ring_pending(l->ring))
        coio__ring_flush(l->ring);
    if (l->ring_inflight)
        coio__ring_reap(l->ring, rop_complete, l);
    return coio__ring_pending(l->ring) != 0;
}

void coio__file_reap(coio_loop *l)
{
    coio__ring_reap(l->ring, rop_complete, l);
}

void coio__file_loop_close(coio_loop *l)
{
    /* The tasks are gone and rop_unlink waited for their operations; only
       completions of cancels may be outstanding, which the kernel drops. */
    if (l->ring) {
        coio__poll_del(l->poller, coio__ring_fd(l->ring));
        coio__ring_close(l->ring);
        l->ring = NULL;
    }
}
#else
static struct coio__ring *loop_ring(coio_loop *l)
{
    l->ring_tried = 1;
    return NULL;
}
static int ring_run(struct coio__task *self, struct fop *o, int *code)
{
    (void)self, (void)o, (void)code;
    return 0;
}
bool coio__file_submit(coio_loop *l) { (void)l; return false; }
void coio__file_reap(coio_loop *l) { (void)l; }
void coio__file_loop_close(coio_loop *l) { (void)l; }
#endif

/* ---- the calls -------------------------------------------------------------------- */

/* Run o on either backend. Returns o's result (>= 0) or -1 with errno. */
static long long run(struct fop *o)
{
    struct coio__task *self = coio__self();
    if (!self) {
        errno = EINVAL;
        return -1;
    }
    if (self->must_cancel) {
        /* A cancel is waiting for our suspension: deliver it before anything
           reaches the kernel (as coio_run_in_executor does). */
        self->must_cancel = 0;
        self->cancel_delivered = 1;
        if (o->kind == OP_CLOSE)
            close(o->fd);
        errno = ECANCELED;
        return -1;
    }
    coio_loop *l = self->f.loop;
    int code = 0;
    o->ran = false;
    if (o->pool_only || !loop_ring(l) || !ring_run(self, o, &code))
        code = pool_run(o);
    if (code) {
        /* Cancelled (or the pool failed): what ran is undone where it must be. */
        if (o->kind == OP_OPEN && o->ran && o->res >= 0)
            close((int)o->res);
        if (o->kind == OP_CLOSE && !o->ran) {
            int r = close(o->fd); /* a close always closes */
            if (code != ECANCELED)
                return r;
        }
        errno = code;
        return -1;
    }
    if (o->res < 0) {
        errno = (int)-o->res;
        return -1;
    }
    return o->res;
}

static bool check_off(const coio_file *f, long long off)
{
    if (!f || (off < 0 && off != COIO_FILE_CUR)) {
        errno = EINVAL;
        return false;
    }
    if (off >= 0 && !f->seekable) {
        errno = ESPIPE;
        return false;
    }
    return true;
}

static bool seekable(int fd)
{
    int e = errno; /* a success leaves errno alone */
    bool r = lseek(fd, 0, SEEK_CUR) >= 0 || errno != ESPIPE;
    errno = e;
    return r;
}

coio_file *coio_file_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    if (!path) {
        errno = EINVAL;
        return NULL;
    }
    coio_file *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    struct fop o = {.kind = OP_OPEN, .fd = dirfd, .buf = (void *)path,
                    .flags = flags | O_CLOEXEC, .mode = mode};
    long long fd = run(&o);
    if (fd < 0) {
        int e = errno;
        free(f);
        errno = e;
        return NULL;
    }
    f->fd = (int)fd;
    f->seekable = seekable(f->fd);
    return f;
}

coio_file *coio_file_open(const char *path, int flags, mode_t mode)
{
    return coio_file_openat(AT_FDCWD, path, flags, mode);
}

coio_file *coio_file_from_fd(int fd)
{
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
        errno = EBADF;
        return NULL;
    }
    coio_file *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    f->fd = fd;
    f->seekable = seekable(fd);
    return f;
}

int coio_file_fd(const coio_file *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    return f->fd;
}

static ssize_t rw(int kind, coio_file *f, void *buf, size_t n, long long off)
{
    if (!check_off(f, off))
        return -1;
    struct fop o = {.kind = kind, .fd = f->fd, .buf = buf, .n = n < MAX_RW ? n : MAX_RW,
                    .off = off, .pool_only = kind == OP_WRITE && !f->seekable};
    return (ssize_t)run(&o);
}

ssize_t coio_file_read(coio_file *f, void *buf, size_t n, long long offset)
{
    return rw(OP_READ, f, buf, n, offset);
}

ssize_t coio_file_write(coio_file *f, const void *buf, size_t n, long long offset)
{
    return rw(OP_WRITE, f, (void *)buf, n, offset);
}

static ssize_t rwv(int kind, coio_file *f, const struct iovec *iov, int iovcnt, long long off)
{
    if (!check_off(f, off))
        return -1;
    if (iovcnt < 0 || iovcnt > IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct fop o = {.kind = kind, .fd = f->fd, .iov = iov, .n = (size_t)iovcnt, .off = off,
                    .pool_only = kind == OP_WRITEV && !f->seekable};
    return (ssize_t)run(&o);
}

ssize_t coio_file_readv(coio_file *f, const struct iovec *iov, int iovcnt, long long offset)
{
    return rwv(OP_READV, f, iov, iovcnt, offset);
}

ssize_t coio_file_writev(coio_file *f, const struct iovec *iov, int iovcnt, long long offset)
{
    return rwv(OP_WRITEV, f, iov, iovcnt, offset);
}

static int simple(int kind, coio_file *f, void *buf)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    struct fop o = {.kind = kind, .fd = f->fd, .buf = buf};
    return run(&o) < 0 ? -1 : 0;
}

int coio_file_fsync(coio_file *f) { return simple(OP_FSYNC, f, NULL); }
int coio_file_fdatasync(coio_file *f) { return simple(OP_FDATASYNC, f, NULL); }

int coio_file_stat(coio_file *f, struct stat *st)
{
    if (!st) {
        errno = EINVAL;
        return -1;
    }
    return simple(OP_STAT, f, st);
}

int coio_file_close(coio_file *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    int fd = f->fd;
    free(f);
    if (!coio__self())
        return close(fd);
    struct fop o = {.kind = OP_CLOSE, .fd = fd};
    return run(&o) < 0 ? -1 : 0;
}

const char *coio_loop_backend(coio_loop *loop)
{
    if (!coio__loop_valid(loop) || loop->closed) {
        errno = EINVAL;
        return NULL;
    }
    if (!loop_ring(loop))
        return coio__poll_name();
    return strcmp(coio__poll_name(), "epoll") == 0 ? "io_uring+epoll" : "io_uring+kqueue";
}
