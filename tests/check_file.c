/* check_file.c — coio_file_*: semantics as pread/pwrite, errors, cancellation at
 * every point and the buffer rule, loop close with operations in flight. Every
 * test runs on three backends (tcases): io_uring (the default: asserted to be
 * used when this kernel lets the test make a ring itself), COIO_BACKEND=epoll
 * (the thread pool), and io_uring_setup forced to fail (the fallback). Started
 * with COIO_BACKEND=epoll, the first keeps it: all three run on the pool. */
#include "helpers.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* ---- backends ------------------------------------------------------------------ */

static int backend; /* 0: default (io_uring if possible), 1: epoll, 2: setup fails */
static int outer_epoll; /* the suite was started with COIO_BACKEND=epoll (CI's second run) */

static void use_default(void)
{
    static int seen;
    if (!seen) { /* before any fixture changed it (CK_FORK=no runs them in order) */
        seen = 1;
        const char *b = getenv("COIO_BACKEND");
        outer_epoll = b && strcmp(b, "epoll") == 0;
    }
    backend = 0;
    if (!outer_epoll)
        unsetenv("COIO_BACKEND");
    unsetenv("COIO_TEST_URING_SETUP_FAILS");
}
static void use_epoll(void)
{
    backend = 1;
    setenv("COIO_BACKEND", "epoll", 1);
    unsetenv("COIO_TEST_URING_SETUP_FAILS");
}
static void use_setup_fails(void)
{
    backend = 2;
    unsetenv("COIO_BACKEND");
    setenv("COIO_TEST_URING_SETUP_FAILS", "1", 1);
}
static void no_teardown(void) {}

/* Can this process make a ring? Asked of the kernel directly. */
static int kernel_has_uring(void)
{
#ifdef __NR_io_uring_setup
    unsigned char params[120]; /* struct io_uring_params */
    memset(params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, 4, params);
    if (fd < 0)
        return 0;
    close((int)fd);
    return 1;
#else
    return 0;
#endif
}

static int expect_uring(void) { return backend == 0 && !outer_epoll && kernel_has_uring(); }

/* ---- helpers --------------------------------------------------------------------- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/coio_file_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tpath(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* Byte i of the test pattern. */
static unsigned char pat(size_t i) { return (unsigned char)(i * 131u + (i >> 8) * 7u + 1u); }

/* A file of n pattern bytes, made with plain system calls. */
static void make_file(const char *path, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    unsigned char buf[8192];
    for (size_t off = 0; off < n;) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = pat(off + i);
        ck_assert_int_eq(write(fd, buf, k), (ssize_t)k);
        off += k;
    }
    close(fd);
}

static int check_pat(const unsigned char *b, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(off + i))
            return 0;
    return 1;
}

/* ---- the backend ------------------------------------------------------------------ */

static void *main_backend(void *arg)
{
    (void)arg;
    const char *b = coio_loop_backend(coio_loop_current());
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b, expect_uring() ? "io_uring+epoll" : "epoll");
    ck_assert_ptr_null(coio_loop_backend(NULL));
    ck_assert_int_eq(errno, EINVAL);
    return NULL;
}

START_TEST(test_F0_backend_is_reported)
{
    ck_assert_int_eq(run_main(main_backend, NULL, NULL), 0);
}
END_TEST

/* ---- semantics -------------------------------------------------------------------- */

static void *main_rw(void *arg)
{
    (void)arg;
    make_file(tpath("a"), 10000);
    coio_file *f = coio_file_open(tpath("a"), O_RDWR, 0);
    ck_assert_ptr_nonnull(f);
    unsigned char buf[4096];
    /* At an offset: the position does not move. */
    ck_assert_int_eq(coio_file_read(f, buf, 100, 5000), 100);
    ck_assert(check_pat(buf, 5000, 100));
    /* At the current position: it does. */
    ck_assert_int_eq(coio_file_read(f, buf, 10, COIO_FILE_CUR), 10);
    ck_assert(check_pat(buf, 0, 10));
    ck_assert_int_eq(coio_file_read(f, buf, 10, COIO_FILE_CUR), 10);
    ck_assert(check_pat(buf, 10, 10));
    ck_assert_int_eq(lseek(coio_file_fd(f), 0, SEEK_CUR), 20);
    /* Short read at the end, then EOF. */
    ck_assert_int_eq(coio_file_read(f, buf, 4096, 9000), 1000);
    ck_assert(check_pat(buf, 9000, 1000));
    ck_assert_int_eq(coio_file_read(f, buf, 4096, 10000), 0);
    ck_assert_int_eq(coio_file_read(f, buf, 4096, 1 << 30), 0);
    /* Write at an offset, beyond the end (a hole), at the position. */
    ck_assert_int_eq(coio_file_write(f, "hello", 5, 100), 5);
    ck_assert_int_eq(coio_file_read(f, buf, 5, 100), 5);
    ck_assert(memcmp(buf, "hello", 5) == 0);
    ck_assert_int_eq(coio_file_write(f, "end", 3, 20000), 3);
    struct stat st, st2;
    ck_assert_int_eq(coio_file_stat(f, &st), 0);
    ck_assert_int_eq(fstat(coio_file_fd(f), &st2), 0);
    ck_assert_int_eq(st.st_size, 20003);
    ck_assert_int_eq(st.st_ino, st2.st_ino);
    ck_assert_int_eq(st.st_dev, st2.st_dev);
    ck_assert_int_eq(st.st_mode, st2.st_mode);
    ck_assert_int_eq(st.st_nlink, st2.st_nlink);
    ck_assert_int_eq(st.st_blocks, st2.st_blocks);
    ck_assert_int_eq(st.st_mtim.tv_sec, st2.st_mtim.tv_sec);
    ck_assert_int_eq(st.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
    ck_assert_int_eq(coio_file_read(f, buf, 10, 15000), 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(buf[i], 0);
    ck_assert_int_eq(coio_file_write(f, "XY", 2, COIO_FILE_CUR), 2);
    ck_assert_int_eq(coio_file_read(f, buf, 2, 20), 2);
    ck_assert(memcmp(buf, "XY", 2) == 0);
    ck_assert_int_eq(coio_file_fsync(f), 0);
    ck_assert_int_eq(coio_file_fdatasync(f), 0);
    int fd = coio_file_fd(f);
    ck_assert_int_eq(coio_file_close(f), 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* closed */
    ck_assert_int_eq(errno, EBADF);
    return NULL;
}

START_TEST(test_F1_read_write_at_offsets_and_position_eof_stat_sync)
{
    make_tmpdir();
    ck_assert_int_eq(run_main(main_rw, NULL, NULL), 0);
    rm_tmpdir();
}
END_TEST

static void *main_vec_append(void *arg)
{
    (void)arg;
    coio_file *f = coio_file_open(tpath("v"), O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_ptr_nonnull(f);
    char a[] = "abc", b[] = "defgh";
    struct iovec w[2] = {{a, 3}, {b, 5}};
    ck_assert_int_eq(coio_file_writev(f, w, 2, COIO_FILE_CUR), 8);
    ck_assert_int_eq(coio_file_writev(f, w, 2, 8), 8);
    ck_assert_int_eq(lseek(coio_file_fd(f), 0, SEEK_CUR), 8);
    char x[4], y[20];
    struct iovec r[2] = {{x, 4}, {y, 20}};
    ck_assert_int_eq(coio_file_readv(f, r, 2, 2), 14);
    ck_assert(memcmp(x, "cdef", 4) == 0 && memcmp(y, "ghabcdefgh", 10) == 0);
    ck_assert_int_eq(coio_file_readv(f, r, 2, 16), 0);
    ck_assert_err(coio_file_readv(f, r, -1, 0), EINVAL);
    ck_assert_err(coio_file_readv(f, r, IOV_MAX + 1, 0), EINVAL);
    ck_assert_int_eq(coio_file_readv(f, r, 0, 0), 0);
    ck_assert_int_eq(coio_file_close(f), 0);
    /* O_EXCL on an existing file. */
    ck_assert_ptr_null(coio_file_open(tpath("v"), O_RDWR | O_CREAT | O_EXCL, 0600));
    ck_assert_int_eq(errno, EEXIST);
    /* O_APPEND: every write goes to the end, whatever its offset (as pwrite). */
    f = coio_file_open(tpath("v"), O_WRONLY | O_APPEND, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(coio_file_write(f, "12", 2, 0), 2);
    ck_assert_int_eq(coio_file_write(f, "34", 2, COIO_FILE_CUR), 2);
    ck_assert_int_eq(coio_file_close(f), 0);
    f = coio_file_open(tpath("v"), O_RDONLY, 0);
    ck_assert_int_eq(coio_file_read(f, y, 20, 0), 20);
    ck_assert(memcmp(y, "abcdefghabcdefgh1234", 20) == 0);
    ck_assert_err(coio_file_write(f, "z", 1, 0), EBADF); /* read-only */
    ck_assert_int_eq(coio_file_close(f), 0);
    /* openat relative to a directory fd; O_CLOEXEC always. */
    int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dfd, 0);
    f = coio_file_openat(dfd, "v", O_RDONLY, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fcntl(coio_file_fd(f), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(coio_file_read(f, y, 3, 0), 3);
    ck_assert(memcmp(y, "abc", 3) == 0);
    ck_assert_int_eq(coio_file_close(f), 0);
    close(dfd);
    return NULL;
}

START_TEST(test_F2_readv_writev_append_openat)
{
    make_tmpdir();
    ck_assert_int_eq(run_main(main_vec_append, NULL, NULL), 0);
    rm_tmpdir();
}
END_TEST

static void *main_errors(void *arg)
{
    (void)arg;
    char buf[16] = {0};
    ck_assert_ptr_null(coio_file_open(tpath("missing"), O_RDONLY, 0));
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_null(coio_file_open(NULL, O_RDONLY, 0));
    ck_assert_int_eq(errno, EINVAL);
    coio_file *d = coio_file_open(tmpdir, O_RDONLY | O_DIRECTORY, 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_err(coio_file_read(d, buf, 16, 0), EISDIR);
    ck_assert_int_eq(coio_file_close(d), 0);
    ck_assert_ptr_null(coio_file_open(tmpdir, O_WRONLY, 0));
    ck_assert_int_eq(errno, EISDIR);
    make_file(tpath("e"), 100);
    coio_file *f = coio_file_open(tpath("e"), O_RDONLY, 0);
    ck_assert_err(coio_file_read(f, buf, 16, -2), EINVAL);
    ck_assert_err(coio_file_read(NULL, buf, 16, 0), EINVAL);
    ck_assert_err(coio_file_write(NULL, buf, 16, 0), EINVAL);
    ck_assert_err(coio_file_fsync(NULL), EINVAL);
    ck_assert_err(coio_file_stat(f, NULL), EINVAL);
    ck_assert_err(coio_file_close(NULL), EINVAL);
    ck_assert_err(coio_file_fd(NULL), EINVAL);
    /* The fd closed behind coio's back: the kernel's EBADF. */
    close(coio_file_fd(f));
    ck_assert_err(coio_file_read(f, buf, 16, 0), EBADF);
    ck_assert_err(coio_file_read(f, buf, 16, COIO_FILE_CUR), EBADF);
    ck_assert_err(coio_file_write(f, buf, 16, 0), EBADF);
    ck_assert_err(coio_file_fsync(f), EBADF);
    struct stat st;
    ck_assert_err(coio_file_stat(f, &st), EBADF);
    ck_assert_err(coio_file_close(f), EBADF);
    ck_assert_ptr_null(coio_file_from_fd(-1));
    ck_assert_int_eq(errno, EBADF);
    ck_assert_ptr_null(coio_file_from_fd(1000000));
    ck_assert_int_eq(errno, EBADF);
    return NULL;
}

START_TEST(test_F3_errors_as_the_system_calls)
{
    make_tmpdir();
    ck_assert_int_eq(run_main(main_errors, NULL, NULL), 0);
    /* Outside a task: EINVAL; close works synchronously. */
    make_file(tpath("o"), 10);
    int fd = open(tpath("o"), O_RDONLY);
    coio_file *f = coio_file_from_fd(fd);
    ck_assert_ptr_nonnull(f);
    char b[4];
    ck_assert_err(coio_file_read(f, b, 4, 0), EINVAL);
    ck_assert_ptr_null(coio_file_open(tpath("o"), O_RDONLY, 0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_file_close(f), 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    rm_tmpdir();
}
END_TEST

/* A pipe: no offsets (ESPIPE), reads at the position suspend only the caller,
   a write to a pipe without reader is EPIPE and raises no SIGPIPE. */
struct piperd {
    coio_file *f;
    char buf[16];
    ssize_t n;
};

static void *pipe_reader(void *arg)
{
    struct piperd *p = arg;
    p->n = coio_file_read(p->f, p->buf, sizeof p->buf, COIO_FILE_CUR);
    return NULL;
}

static void *main_pipe(void *arg)
{
    (void)arg;
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    struct piperd p = {coio_file_from_fd(pfd[0]), {0}, -2};
    coio_file *w = coio_file_from_fd(pfd[1]);
    ck_assert_ptr_nonnull(p.f);
    ck_assert_err(coio_file_read(p.f, p.buf, 4, 0), ESPIPE);
    ck_assert_err(coio_file_write(w, "x", 1, 0), ESPIPE);
    coio_task *t = coio_spawn(pipe_reader, &p);
    /* The reader is suspended in the kernel; this task goes on. */
    double t0 = now();
    ck_assert_int_eq(coio_sleep(0.05), 0);
    ck_assert_time(now() - t0, 0.05, 2.0);
    ck_assert_int_eq(p.n, -2);
    ck_assert_int_eq(coio_file_write(w, "ping", 4, COIO_FILE_CUR), 4);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(p.n, 4);
    ck_assert(memcmp(p.buf, "ping", 4) == 0);
    ck_assert_int_eq(coio_file_close(p.f), 0);
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would end the test process */
    ck_assert_err(coio_file_write(w, "x", 1, COIO_FILE_CUR), EPIPE);
    struct iovec iv = {"y", 1};
    ck_assert_err(coio_file_writev(w, &iv, 1, COIO_FILE_CUR), EPIPE);
    ck_assert_int_eq(coio_file_close(w), 0);
    return NULL;
}

START_TEST(test_F4_pipes_espipe_suspend_only_the_caller_epipe_without_signal)
{
    ck_assert_int_eq(run_main(main_pipe, NULL, NULL), 0);
}
END_TEST

/* Many tasks at once, more than the ring holds (the rest go to the pool). */
#define NCONC 600
struct conc {
    coio_file *f;
    int i;
    int ok;
};

static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    unsigned char buf[512];
    size_t off = (size_t)c->i * 1000;
    c->ok = coio_file_read(c->f, buf, sizeof buf, (long long)off) == (ssize_t)sizeof buf &&
            check_pat(buf, off, sizeof buf);
    return NULL;
}

static void *main_concurrent(void *arg)
{
    (void)arg;
    make_file(tpath("c"), NCONC * 1000);
    static struct conc c[NCONC];
    static coio_task *t[NCONC];
    coio_file *f = coio_file_open(tpath("c"), O_RDONLY, 0);
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < NCONC; i++) {
        c[i] = (struct conc){f, i, 0};
        t[i] = coio_spawn(conc_reader, &c[i]);
        ck_assert_ptr_nonnull(t[i]);
    }
    ck_assert_int_eq(coio_gather(t, NCONC, NULL, NULL, 0), 0);
    for (int i = 0; i < NCONC; i++) {
        ck_assert_int_eq(c[i].ok, 1);
        coio_task_release(t[i]);
    }
    ck_assert_int_eq(coio_file_close(f), 0);
    return NULL;
}

START_TEST(test_F5_600_concurrent_reads_beyond_the_ring)
{
    make_tmpdir();
    ck_assert_int_eq(run_main(main_concurrent, NULL, NULL), 0);
    rm_tmpdir();
}
END_TEST

/* ---- cancellation and the buffer rule ---------------------------------------------- */

/* Cancelled before anything reaches the kernel: never runs. */
static void *main_cancel_before(void *arg)
{
    (void)arg;
    make_file(tpath("b"), 4096);
    coio_file *f = coio_file_open(tpath("b"), O_RDWR, 0);
    unsigned char buf[64];
    int n = RUNNING_ON_VALGRIND ? 2000 : 100000;
    for (int i = 0; i < n; i++) {
        memset(buf, 0xAA, sizeof buf);
        ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
        ck_assert_err(coio_file_read(f, buf, sizeof buf, 0), ECANCELED);
        ck_assert_int_eq(coio_uncancel(), 0);
        ck_assert_int_eq(coio_absorb_cancel(), 1);
        ck_assert_int_eq(buf[0], 0xAA);
    }
    /* A cancelled write never wrote; a cancelled close still closed. */
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_err(coio_file_write(f, "zz", 2, 0), ECANCELED);
    coio_uncancel();
    coio_absorb_cancel();
    ck_assert_int_eq(coio_file_read(f, buf, 2, 0), 2);
    ck_assert(check_pat(buf, 0, 2));
    int fd = coio_file_fd(f);
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_err(coio_file_close(f), ECANCELED);
    coio_uncancel();
    coio_absorb_cancel();
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    return NULL;
}

START_TEST(test_F6_cancel_before_submit_never_runs_100000)
{
    make_tmpdir();
    ck_assert_int_eq(run_main(main_cancel_before, NULL, NULL), 0);
    rm_tmpdir();
}
END_TEST

/* Cancelled after submission, or racing the completion: a reader puts a
   sentinel in its stack buffer right after the read returns and checks it a
   few loop iterations later; data from the file there would mean the kernel
   wrote after the task resumed. */
struct racer {
    coio_file *f;
    long long off;      /* COIO_FILE_CUR: f is a pipe, the data comes late */
    int outcome; /* 1 read, 2 cancelled, -1 wrong */
};

static void *race_reader(void *arg)
{
    struct racer *r = arg;
    unsigned char buf[4096];
    memset(buf, 0x55, sizeof buf);
    ssize_t n = coio_file_read(r->f, buf, sizeof buf, r->off);
    int e = errno;
    if (n == (ssize_t)sizeof buf && check_pat(buf, r->off < 0 ? 0 : (size_t)r->off, sizeof buf))
        r->outcome = 1;
    else if (n == -1 && e == ECANCELED)
        r->outcome = 2;
    else
        r->outcome = -1;
    memset(buf, 0xEE, sizeof buf);
    coio_absorb_cancel();
    for (int k = 0; k < 3; k++)
        coio_sleep(0);
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != 0xEE) {
            r->outcome = -1;
            break;
        }
    return NULL;
}

static void *main_cancel_race(void *arg)
{
    (void)arg;
    static unsigned char pipe_data[4096];
    for (size_t i = 0; i < sizeof pipe_data; i++)
        pipe_data[i] = pat(i);
    size_t fsize = 1 << 20;
    make_file(tpath("r"), fsize);
    coio_file *f = coio_file_open(tpath("r"), O_RDONLY, 0);
    enum { W = 64 };
    struct racer rs[W];
    coio_task *ts[W];
    int target = RUNNING_ON_VALGRIND ? 3000 : 100000;
    int cancelled = 0, completed = 0, round = 0;
    while (cancelled < target) {
        /* One reader in 8 reads from a pipe whose data comes at step 2: its
           read is blocked in the kernel when cancelled (ASYNC_CANCEL). */
        int pfd[W][2];
        for (int i = 0; i < W; i++) {
            rs[i] = (struct racer){f, (long long)(((size_t)(round * W + i) * 4096) % fsize), 0};
            pfd[i][0] = pfd[i][1] = -1;
            if (i % 8 == 0) {
                ck_assert_int_eq(pipe(pfd[i]), 0);
                rs[i].f = coio_file_from_fd(pfd[i][0]);
                rs[i].off = COIO_FILE_CUR;
            }
            ts[i] = coio_spawn(race_reader, &rs[i]);
            ck_assert_ptr_nonnull(ts[i]);
        }
        /* Cancel at spread points: after one yield the readers' SQEs are
           queued but not submitted; after two they were submitted (and many
           completed: cancels race the wake-up); later ones find most done. */
        for (int step = 0; step < 4; step++) {
            coio_sleep(0);
            if (step == 2)
                for (int i = 0; i < W; i += 8)
                    ck_assert_int_eq(write(pfd[i][1], pipe_data, 4096), 4096);
            for (int i = 0; i < W; i++)
                if ((i + round) % 4 == step)
                    coio_cancel(ts[i]);
        }
        for (int i = 0; i < W; i++) {
            if (coio_await(ts[i], NULL) < 0)
                coio_absorb_cancel(); /* the reader's cancel, not ours */
            coio_task_release(ts[i]);
            ck_assert_int_ne(rs[i].outcome, -1);
            ck_assert_int_ne(rs[i].outcome, 0);
            cancelled += rs[i].outcome == 2;
            completed += rs[i].outcome == 1;
            if (pfd[i][0] >= 0) {
                ck_assert_int_eq(coio_file_close(rs[i].f), 0);
                close(pfd[i][1]);
            }
        }
        round++;
    }
    /* Some were cancelled before starting (the task itself), most inside the
       read: both outcomes happen. */
    ck_assert_int_ge(cancelled, target);
    ck_assert_int_eq(coio_file_close(f), 0);
    return NULL;
}

START_TEST(test_F7_cancel_after_submit_and_racing_completion_100000_buffer_untouched)
{
    make_tmpdir();
    ck_assert_int_eq(run_main(main_cancel_race, NULL, NULL), 0);
    rm_tmpdir();
}
END_TEST

/* A read blocked in the kernel (a pipe) is cancelled: io_uring cancels it in
   the kernel, the pool waits for its thread; either way ECANCELED comes only
   after the buffer is released. */
static void *main_cancel_blocked(void *arg)
{
    (void)arg;
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    struct piperd p = {coio_file_from_fd(pfd[0]), {0}, -2};
    coio_task *t = coio_spawn(pipe_reader, &p);
    ck_assert_int_eq(coio_sleep(0.02), 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    if (expect_uring()) {
        /* Cancelled in the kernel: returns without data, which stays. */
        ck_assert_err(coio_await(t, NULL), ECANCELED);
        ck_assert_int_eq(coio_absorb_cancel(), 1);
        ck_assert_int_eq(p.n, -1);
        ck_assert_int_eq(write(pfd[1], "abc", 3), 3);
        char b[4];
        ck_assert_int_eq(read(pfd[0], b, 4), 3);
    } else {
        ck_assert_int_eq(coio_sleep(0.05), 0);
        if (coio_task_done(t)) {
            /* A slow machine (valgrind, qemu): no pool thread had taken the
               call yet, so it never ran and the data written now stays. */
            ck_assert_err(coio_await(t, NULL), ECANCELED);
            ck_assert_int_eq(coio_absorb_cancel(), 1);
            ck_assert_int_eq(p.n, -1);
            ck_assert_int_eq(write(pfd[1], "abc", 3), 3);
            char b[4];
            ck_assert_int_eq(read(pfd[0], b, 4), 3);
        } else {
            /* The pool thread is never interrupted: the task waits for it,
               and returns ECANCELED once read(2) returned (data consumed). */
            ck_assert_int_eq(p.n, -2);
            ck_assert_int_eq(write(pfd[1], "abc", 3), 3);
            ck_assert_err(coio_await(t, NULL), ECANCELED);
            ck_assert_int_eq(coio_absorb_cancel(), 1);
            ck_assert_int_eq(p.n, -1);
            ck_assert_int_eq(fcntl(pfd[0], F_SETFL, O_NONBLOCK), 0);
            char b[4];
            ck_assert_err(read(pfd[0], b, 4), EAGAIN);
        }
    }
    coio_task_release(t);
    coio_file_close(p.f);
    close(pfd[1]);
    return NULL;
}

START_TEST(test_F8_cancel_a_read_blocked_in_the_kernel)
{
    ck_assert_int_eq(run_main(main_cancel_blocked, NULL, NULL), 0);
}
END_TEST

/* ---- offsets past 4 GiB (32-bit ports: a 64-bit off_t throughout) ------------------ */

#define G4 (1LL << 32)

static void *main_large(void *arg)
{
    (void)arg;
    coio_file *f = coio_file_open(tpath("sparse"), O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_ptr_nonnull(f);
    int fd = coio_file_fd(f);
    char buf[64];
    /* Something at offset 100: an offset cut to 32 bits (4 GiB + 100 -> 100)
       would read or overwrite it. */
    ck_assert_int_eq(coio_file_write(f, "low!", 4, 100), 4);
    /* Across a page boundary 5 GiB up; and 3 GiB (negative as an int32). */
    long long hi = 5 * (1LL << 30) + 4093;
    ck_assert_int_eq(coio_file_write(f, "beyond-4-GiB....", 16, hi), 16);
    ck_assert_int_eq(coio_file_write(f, "3g", 2, 3 * (1LL << 30)), 2);
    struct stat st;
    ck_assert_int_eq(coio_file_stat(f, &st), 0);
    ck_assert(st.st_size == hi + 16);
    ck_assert(st.st_size > G4);
    /* Read back where it was written, then a short read across the end. */
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(coio_file_read(f, buf, 16, hi), 16);
    ck_assert(memcmp(buf, "beyond-4-GiB....", 16) == 0);
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(coio_file_read(f, buf, 32, hi - 8), 24);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(buf[i], 0);
    ck_assert(memcmp(buf + 8, "beyond-4-GiB....", 16) == 0);
    ck_assert_int_eq(coio_file_read(f, buf, 2, 3 * (1LL << 30)), 2);
    ck_assert(memcmp(buf, "3g", 2) == 0);
    /* The hole at 4 GiB + 100 reads zeros, not "low!". */
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(coio_file_read(f, buf, 4, G4 + 100), 4);
    ck_assert(memcmp(buf, "\0\0\0\0", 4) == 0);
    ck_assert_int_eq(coio_file_read(f, buf, 4, 100), 4);
    ck_assert(memcmp(buf, "low!", 4) == 0);
    ck_assert_int_eq(coio_file_read(f, buf, 8, hi + 16), 0); /* EOF */
    ck_assert_int_eq(coio_file_read(f, buf, 8, 1LL << 40), 0);
    /* Vectors at an offset, and at the position after an lseek past 4 GiB. */
    char a[3], b[5];
    struct iovec v[2] = {{a, 3}, {b, 5}};
    ck_assert_int_eq(coio_file_readv(f, v, 2, hi + 2), 8);
    ck_assert(memcmp(a, "yon", 3) == 0 && memcmp(b, "d-4-G", 5) == 0);
    struct iovec w[2] = {{"ab", 2}, {"cde", 3}};
    ck_assert_int_eq(coio_file_writev(f, w, 2, G4 + 1000), 5);
    ck_assert(lseek(fd, G4 + 2000, SEEK_SET) == G4 + 2000);
    ck_assert_int_eq(coio_file_write(f, "pos", 3, COIO_FILE_CUR), 3);
    ck_assert(lseek(fd, 0, SEEK_CUR) == G4 + 2003);
    ck_assert(lseek(fd, G4 + 998, SEEK_SET) == G4 + 998);
    ck_assert_int_eq(coio_file_read(f, buf, 8, COIO_FILE_CUR), 8);
    ck_assert(memcmp(buf, "\0\0abcde\0", 8) == 0);
    ck_assert(lseek(fd, 0, SEEK_CUR) == G4 + 1006);
    /* What the kernel has, asked without coio. */
    ck_assert_int_eq(pread(fd, buf, 16, (off_t)hi), 16);
    ck_assert(memcmp(buf, "beyond-4-GiB....", 16) == 0);
    ck_assert_int_eq(pread(fd, buf, 3, (off_t)(G4 + 2000)), 3);
    ck_assert(memcmp(buf, "pos", 3) == 0);
    ck_assert_int_eq(pread(fd, buf, 4, 100), 4);
    ck_assert(memcmp(buf, "low!", 4) == 0);
    ck_assert_int_eq(coio_file_close(f), 0);
    return NULL;
}

START_TEST(test_F10_offsets_beyond_4_gib_in_a_sparse_file)
{
    ck_assert_int_eq(sizeof(off_t), 8);
    make_tmpdir();
    /* A file system without sparse files would need 5 GiB of disk: ask it
       first, with plain system calls. */
    int fd = open(tpath("probe"), O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ssize_t r = pwrite(fd, "p", 1, (off_t)(5 * (1LL << 30)));
    int e = errno;
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    close(fd);
    if (r != 1 && (e == EFBIG || e == ENOSPC || e == EDQUOT)) {
        fprintf(stderr, "check_file: F10 not run: %s refuses a 5 GiB sparse file (%s)\n", tmpdir,
                strerror(e));
        rm_tmpdir();
        return;
    }
    ck_assert_int_eq(r, 1);
    ck_assert(st.st_size == 5 * (1LL << 30) + 1);
    ck_assert_int_eq(run_main(main_large, NULL, NULL), 0);
    rm_tmpdir();
}
END_TEST

/* ---- loop close with operations in flight ------------------------------------------ */

static void *big_reader(void *arg)
{
    coio_file *f = arg;
    unsigned char buf[16384];
    for (long long off = 0;; off += sizeof buf)
        if (coio_file_read(f, buf, sizeof buf, off % (8 << 20)) < 0)
            return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    coio_sleep(0.03);
    return NULL;
}

START_TEST(test_F9_loop_close_with_reads_in_flight)
{
    make_tmpdir();
    make_file(tpath("big"), 8 << 20);
    for (int rep = 0; rep < 5; rep++) {
        coio_loop *l = coio_loop_new();
        ck_assert_ptr_nonnull(l);
        int fd = open(tpath("big"), O_RDONLY);
        coio_file *f = coio_file_from_fd(fd);
        int pfd[2];
        ck_assert_int_eq(pipe(pfd), 0);
        struct piperd p = {coio_file_from_fd(pfd[0]), {0}, -2};
        for (int i = 0; i < 16; i++) {
            coio_task *t = coio_loop_spawn(l, NULL, big_reader, f);
            ck_assert_ptr_nonnull(t);
            coio_task_release(t); /* detached */
        }
        int with_pipe = expect_uring(); /* a pool thread blocked in a pipe would hold the close */
        if (with_pipe) {
            coio_task *t = coio_loop_spawn(l, NULL, pipe_reader, &p);
            ck_assert_ptr_nonnull(t);
            coio_task_release(t);
        }
        coio_task *s = coio_loop_spawn(l, NULL, sleeper, NULL);
        ck_assert_int_eq(coio_loop_run_until_complete(l, s, NULL), 0);
        coio_task_release(s);
        ck_assert_str_eq(coio_loop_backend(l), expect_uring() ? "io_uring+epoll" : "epoll");
        capture_begin(); /* "Task was destroyed but it is pending!" */
        ck_assert_int_eq(coio_loop_close(l), 0);
        capture_end();
        if (with_pipe) {
            /* The pipe read was cancelled in the kernel: data written now stays. */
            ck_assert_int_eq(write(pfd[1], "abc", 3), 3);
            char b[4];
            ck_assert_int_eq(read(pfd[0], b, 4), 3);
        }
        ck_assert_int_eq(coio_file_close(p.f), 0);
        ck_assert_int_eq(coio_file_close(f), 0);
        close(pfd[1]);
    }
    rm_tmpdir();
}
END_TEST

static void add_all(TCase *tc)
{
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_F0_backend_is_reported);
    tcase_add_test(tc, test_F1_read_write_at_offsets_and_position_eof_stat_sync);
    tcase_add_test(tc, test_F2_readv_writev_append_openat);
    tcase_add_test(tc, test_F3_errors_as_the_system_calls);
    tcase_add_test(tc, test_F4_pipes_espipe_suspend_only_the_caller_epipe_without_signal);
    tcase_add_test(tc, test_F5_600_concurrent_reads_beyond_the_ring);
    tcase_add_test(tc, test_F6_cancel_before_submit_never_runs_100000);
    tcase_add_test(tc, test_F7_cancel_after_submit_and_racing_completion_100000_buffer_untouched);
    tcase_add_test(tc, test_F8_cancel_a_read_blocked_in_the_kernel);
    tcase_add_test(tc, test_F9_loop_close_with_reads_in_flight);
    tcase_add_test(tc, test_F10_offsets_beyond_4_gib_in_a_sparse_file);
}

static Suite *file_suite(void)
{
    Suite *s = suite_create("file");
    TCase *tc = tcase_create("io_uring");
    tcase_add_checked_fixture(tc, use_default, no_teardown);
    add_all(tc);
    suite_add_tcase(s, tc);
    tc = tcase_create("epoll");
    tcase_add_checked_fixture(tc, use_epoll, no_teardown);
    add_all(tc);
    suite_add_tcase(s, tc);
    tc = tcase_create("setup_fails");
    tcase_add_checked_fixture(tc, use_setup_fails, no_teardown);
    add_all(tc);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(file_suite)
