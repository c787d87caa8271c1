/* W8: file I/O. Usage: bench_files IMPL FILE, IMPL one of
 *   coio        coio_file_* on the loop's io_uring (fails if it has none)
 *   coio-pool   coio_file_* on the thread pool (COIO_BACKEND=epoll)
 *   pread       a synchronous loop in one thread (the floor for cached reads)
 * FILE is an existing file (run.sh makes 256 MiB, in the page cache); W8c
 * writes FILE.w8c and removes it.
 *   W8a  64 tasks, random 4 KiB reads (4 KiB aligned): ops/s
 *   W8b  one task, sequential 1 MiB reads, whole passes over the file: MiB/s
 *   W8c  64 tasks appending 4 KiB writes (O_APPEND) + one fdatasync per 64
 *        writes, by the task that made the 64th: ops/s (writes)
 * W8a and W8c also give the process's CPU time (all threads) per operation.
 * Counts scale with BENCH_SCALE. */
#include "bench.h"
#include "coio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTASKS 64
#define BLK 4096

static const char *path;
static char wpath[4200];
static long long fsize;
static long n_a, n_c;
static double mib_b;

/* CPU seconds of the whole process (every thread: the pool's, libuv's). On a
   shared machine ops/s moves with the load; CPU per operation less so. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_files: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- coio ----------------------------------------------------------------------- */

static coio_file *cf;
static long left;
static long writes;

static void *a_task(void *arg)
{
    uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    char buf[BLK];
    long long nblk = fsize / BLK;
    while (left > 0) {
        left--;
        long long off = (long long)(rnd(&s) % (uint64_t)nblk) * BLK;
        if (coio_file_read(cf, buf, BLK, off) != BLK)
            die("W8a read");
    }
    return NULL;
}

static void *c_task(void *arg)
{
    (void)arg;
    char buf[BLK];
    memset(buf, 'c', sizeof buf);
    while (left > 0) {
        left--;
        if (coio_file_write(cf, buf, BLK, COIO_FILE_CUR) != BLK)
            die("W8c write");
        if (++writes % 64 == 0 && coio_file_fdatasync(cf) < 0)
            die("W8c fdatasync");
    }
    return NULL;
}

static void run_tasks(void *(*fn)(void *))
{
    coio_task *t[NTASKS];
    for (int i = 0; i < NTASKS; i++)
        if (!(t[i] = coio_spawn(fn, (void *)(uintptr_t)(i + 1))))
            die("spawn");
    if (coio_gather(t, NTASKS, NULL, NULL, 0) < 0)
        die("gather");
    for (int i = 0; i < NTASKS; i++)
        coio_task_release(t[i]);
}

static void *coio_main(void *arg)
{
    const char *impl = arg;
    const char *be = coio_loop_backend(coio_loop_current());
    if (strcmp(impl, "coio") == 0 && strcmp(be, "io_uring+epoll") != 0) {
        fprintf(stderr, "bench_files: no io_uring here (backend %s)\n", be);
        exit(1);
    }
    if (!(cf = coio_file_open(path, O_RDONLY, 0)))
        die("open");
    /* W8a */
    left = n_a / 10; /* warm-up: threads, ring, caches */
    run_tasks(a_task);
    left = n_a;
    double t0 = bench_now(), c0 = cpu_now();
    run_tasks(a_task);
    bench_row("W8a", impl, "random 4k reads", (double)n_a / (bench_now() - t0), "ops/s");
    bench_row("W8a", impl, "cpu per read", (cpu_now() - c0) * 1e9 / (double)n_a, "ns");
    /* W8b */
    char *big = malloc(1 << 20);
    if (!big)
        die("malloc");
    double total = 0;
    t0 = bench_now();
    while (total < mib_b) {
        for (long long off = 0; off < fsize; off += 1 << 20) {
            ssize_t n = coio_file_read(cf, big, 1 << 20, off);
            if (n <= 0)
                die("W8b read");
            total += (double)n / (1 << 20);
        }
    }
    bench_row("W8b", impl, "sequential 1m reads", total / (bench_now() - t0), "MiB/s");
    free(big);
    coio_file_close(cf);
    /* W8c */
    unlink(wpath);
    if (!(cf = coio_file_open(wpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600)))
        die("open w8c");
    left = n_c;
    writes = 0;
    t0 = bench_now(), c0 = cpu_now();
    run_tasks(c_task);
    bench_row("W8c", impl, "append 4k+fdatasync/64", (double)n_c / (bench_now() - t0), "ops/s");
    bench_row("W8c", impl, "cpu per write", (cpu_now() - c0) * 1e9 / (double)n_c, "ns");
    coio_file_close(cf);
    unlink(wpath);
    return NULL;
}

/* ---- the synchronous floor ---------------------------------------------------------- */

static void pread_loop(void)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    char buf[BLK];
    uint64_t s = 12345;
    long long nblk = fsize / BLK;
    for (long i = 0; i < n_a / 10; i++)
        if (pread(fd, buf, BLK, (off_t)(rnd(&s) % (uint64_t)nblk) * BLK) != BLK)
            die("pread");
    double t0 = bench_now(), c0 = cpu_now();
    for (long i = 0; i < n_a; i++)
        if (pread(fd, buf, BLK, (off_t)(rnd(&s) % (uint64_t)nblk) * BLK) != BLK)
            die("pread");
    bench_row("W8a", "pread", "random 4k reads", (double)n_a / (bench_now() - t0), "ops/s");
    bench_row("W8a", "pread", "cpu per read", (cpu_now() - c0) * 1e9 / (double)n_a, "ns");
    char *big = malloc(1 << 20);
    if (!big)
        die("malloc");
    double total = 0;
    t0 = bench_now();
    while (total < mib_b)
        for (off_t off = 0; off < fsize; off += 1 << 20) {
            ssize_t n = pread(fd, big, 1 << 20, off);
            if (n <= 0)
                die("W8b pread");
            total += (double)n / (1 << 20);
        }
    bench_row("W8b", "pread", "sequential 1m reads", total / (bench_now() - t0), "MiB/s");
    free(big);
    close(fd);
    unlink(wpath);
    fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (fd < 0)
        die("open w8c");
    memset(buf, 'c', sizeof buf);
    t0 = bench_now(), c0 = cpu_now();
    for (long i = 1; i <= n_c; i++) {
        if (write(fd, buf, BLK) != BLK)
            die("write");
        if (i % 64 == 0 && fdatasync(fd) < 0)
            die("fdatasync");
    }
    bench_row("W8c", "pread", "append 4k+fdatasync/64", (double)n_c / (bench_now() - t0), "ops/s");
    bench_row("W8c", "pread", "cpu per write", (cpu_now() - c0) * 1e9 / (double)n_c, "ns");
    close(fd);
    unlink(wpath);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_files coio|coio-pool|pread FILE\n");
        return 2;
    }
    path = argv[2];
    snprintf(wpath, sizeof wpath, "%s.w8c", path);
    struct stat st;
    if (stat(path, &st) < 0 || st.st_size < (1 << 20))
        die("the file (at least 1 MiB)");
    fsize = st.st_size & ~(off_t)((1 << 20) - 1);
    n_a = bench_n(500000);
    n_c = bench_n(32768);
    mib_b = (double)bench_n(4096);
    if (strcmp(argv[1], "pread") == 0) {
        pread_loop();
        return 0;
    }
    if (strcmp(argv[1], "coio-pool") == 0)
        setenv("COIO_BACKEND", "epoll", 1);
    else if (strcmp(argv[1], "coio") != 0)
        return 2;
    if (coio_run(coio_main, argv[1], NULL) < 0)
        die("coio_run");
    return 0;
}
