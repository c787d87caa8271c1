/* cat_files.c — copy many files at once with coio's file API: 16 tasks take the
 * files one after another and copy each with coio_file_read/coio_file_write at
 * offsets, each task suspended while the kernel works (io_uring, or the thread
 * pool where there is none). The loop never blocks on the disk.
 *
 *   cat_files DST_DIR SRC...     copy each SRC to DST_DIR/<its base name>
 *   cat_files --selftest N       make N files under /tmp, copy them, compare
 *                                them (with plain reads) and clean up
 */
#define _GNU_SOURCE
#include <coio.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORKERS 16
#define CHUNK (64 * 1024)

struct job {
    char **src, **dst;
    int n, next;            /* the next file to take (tasks share the loop's thread) */
    long long bytes;
    int failed;
};

static long long copy_one(const char *src, const char *dst, char *buf)
{
    coio_file *in = coio_file_open(src, O_RDONLY, 0);
    if (!in)
        return -1;
    coio_file *out = coio_file_open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!out) {
        int e = errno;
        coio_file_close(in);
        errno = e;
        return -1;
    }
    long long off = 0;
    for (;;) {
        ssize_t n = coio_file_read(in, buf, CHUNK, off);
        if (n <= 0) {
            if (n < 0)
                off = -1;
            break;
        }
        /* A write may be short, as pwrite's: finish it. */
        for (ssize_t done = 0; done < n;) {
            ssize_t w = coio_file_write(out, buf + done, (size_t)(n - done), off + done);
            if (w < 0) {
                n = -1;
                break;
            }
            done += w;
        }
        if (n < 0) {
            off = -1;
            break;
        }
        off += n;
    }
    int e = errno;
    coio_file_close(in);
    if (coio_file_close(out) < 0 && off >= 0)
        return -1; /* close reports lost data */
    errno = e;
    return off;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    char *buf = malloc(CHUNK); /* not on the task's 64 KiB stack */
    if (!buf)
        return NULL;
    while (j->next < j->n) {
        int i = j->next++;
        long long n = copy_one(j->src[i], j->dst[i], buf);
        if (n < 0) {
            fprintf(stderr, "cat_files: %s -> %s: %s\n", j->src[i], j->dst[i], strerror(errno));
            j->failed++;
        } else {
            j->bytes += n;
        }
    }
    free(buf);
    return NULL;
}

static void *copy_all(void *arg)
{
    struct job *j = arg;
    coio_task *t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        t[i] = coio_spawn(worker, j);
    for (int i = 0; i < WORKERS; i++)
        if (t[i]) {
            coio_await(t[i], NULL);
            coio_task_release(t[i]);
        }
    printf("backend: %s\n", coio_loop_backend(coio_loop_current()));
    return NULL;
}

static unsigned char byte_of(int file, long long i) { return (unsigned char)(file * 7 + i * 13 + (i >> 9)); }

static int selftest(int n)
{
    char dir[] = "/tmp/cat_files_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char **src = calloc((size_t)n, sizeof *src), **dst = calloc((size_t)n, sizeof *dst);
    long long *size = calloc((size_t)n, sizeof *size);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        src[i] = malloc(64);
        dst[i] = malloc(64);
        snprintf(src[i], 64, "%s/in%d", dir, i);
        snprintf(dst[i], 64, "%s/out%d", dir, i);
        size[i] = (long long)(i % 10) * 37000 + i; /* 0 .. ~333 KB, some empty-ish */
        FILE *f = fopen(src[i], "wb");
        for (long long k = 0; k < size[i]; k++)
            putc(byte_of(i, k), f);
        fclose(f);
    }
    struct job j = {src, dst, n, 0, 0, 0};
    if (coio_run(copy_all, &j, NULL) < 0)
        rc = 1;
    int same = 0;
    long long total = 0;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(dst[i], "rb");
        long long k = 0;
        int c, ok = f != NULL;
        while (f && (c = getc(f)) != EOF)
            ok &= k < size[i] && c == byte_of(i, k), k++;
        ok &= k == size[i];
        same += ok;
        total += k;
        if (f)
            fclose(f);
        unlink(src[i]);
        unlink(dst[i]);
        free(src[i]);
        free(dst[i]);
    }
    rmdir(dir);
    printf("copied %d files, %lld bytes, %d identical, %d failed\n", n, j.bytes, same, j.failed);
    free(src), free(dst), free(size);
    return rc || same != n || total != j.bytes;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--selftest") == 0)
        return selftest(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
    if (argc < 3) {
        fprintf(stderr, "usage: cat_files DST_DIR SRC... | cat_files --selftest N\n");
        return 2;
    }
    int n = argc - 2;
    char **dst = calloc((size_t)n, sizeof *dst);
    for (int i = 0; i < n; i++) {
        char *copy = strdup(argv[i + 2]);
        size_t len = strlen(argv[1]) + strlen(basename(copy)) + 2;
        dst[i] = malloc(len);
        snprintf(dst[i], len, "%s/%s", argv[1], basename(copy));
        free(copy);
    }
    struct job j = {argv + 2, dst, n, 0, 0, 0};
    if (coio_run(copy_all, &j, NULL) < 0) {
        perror("cat_files");
        return 1;
    }
    printf("copied %d files, %lld bytes, %d failed\n", n - j.failed, j.bytes, j.failed);
    for (int i = 0; i < n; i++)
        free(dst[i]);
    free(dst);
    return j.failed ? 1 : 0;
}
