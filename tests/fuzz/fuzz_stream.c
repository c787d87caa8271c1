/* fuzz_stream.c — libFuzzer target for coio's stream reader (include/coio.h,
 * "Reader"). One input is a small program for two tasks of one loop:
 *
 *   byte 0   mode: hand-fed reader (coio_reader_new + feed_data), or a reader on
 *            the far end of a socketpair or a pipe (coio_open_fd) written with
 *            write(2) by the feeder
 *   byte 1   the reader's limit, 1..64 (small, so the limit paths are reached)
 *   byte 2   where the rest splits into the feeder's and the reader's script
 *
 * The feeder task feeds chunks of the input in arbitrary sizes, yields, feeds
 * EOF, stores an error (coio_reader_set_error), cancels the reader task in the
 * middle of whatever it waits for, and probes for EBUSY while the reader is
 * inside a call. The reader task runs every read call (read, readexactly,
 * readuntil, readuntil_any, readline, read_all) with sizes, separators and
 * buffer capacities from its script, then drains the reader to EOF.
 *
 * After every call the target checks, against the exact record of what was fed:
 *   - bytes returned (or dropped, by readline's over-limit rule) + bytes still
 *     buffered + bytes still in the kernel == bytes fed (FIONREAD gives the
 *     last term): nothing lost, nothing returned twice, nothing invented;
 *   - returned bytes are the next bytes of the fed stream (order preserved);
 *   - each call's own contract: read returns 1..n bytes (0 only at EOF);
 *     readexactly n; readuntil ends at the first separator end and within the
 *     limit; readline one line or the EOF tail; ENODATA only at EOF with the
 *     partial bytes handed over; EMSGSIZE/ENOBUFS/ECANCELED/EBUSY consume
 *     nothing (except readline's documented drop); once an error is stored
 *     every call fails with it; at_eof agrees.
 * Any violated check aborts (a crash for libFuzzer), as do ASan/UBSan reports
 * and leaks.
 */
#include <coio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c)                                                                                 \
    do {                                                                                         \
        if (!(c))                                                                                \
            check_failed(__LINE__, #c);                                                          \
    } while (0)

static void check_failed(int line, const char *what)
{
    fprintf(stderr, "fuzz_stream.c:%d: check failed: %s (errno %d)\n", line, what, errno);
    abort();
}

enum { MODE_FED, MODE_SOCKET, MODE_PIPE };
#define BUFCAP 512 /* the reader's buffers: > any size a script can ask for */

struct script {
    const uint8_t *p;
    size_t n;
};

/* The next script byte, or 0 once the script is used up. */
static unsigned take(struct script *s)
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

struct state {
    coio_reader *r;
    int mode;
    int rfd, wfd;          /* MODE_SOCKET/MODE_PIPE: reader's fd, feeder's fd (-1 once closed) */
    size_t limit;
    uint8_t *fed;          /* every byte fed, in order */
    size_t nfed;
    size_t cur;            /* bytes the reader returned or dropped so far */
    int err;               /* the error stored with set_error (0: none) */
    int eof_fed;
    int in_call;           /* the reader task is inside a read call */
    int in_readline;       /* ... in readline */
    int reader_done, feeder_done;
    coio_task *reader_task;
    struct script fs, rs;  /* the feeder's and the reader's script */
    uint8_t buf[BUFCAP];   /* the reader task's buffer */
    uint8_t probe[8];      /* the feeder's EBUSY probe */
};

/* Bytes that reached the reader: fed, minus what the kernel still holds. */
static size_t delivered(const struct state *st)
{
    if (st->mode == MODE_FED)
        return st->nfed;
    int q = 0;
    CHECK(ioctl(st->rfd, FIONREAD, &q) == 0);
    CHECK(q >= 0 && (size_t)q <= st->nfed);
    return st->nfed - (size_t)q;
}

/* Bytes the reader has handed out or dropped, by its own account. */
static size_t consumed(const struct state *st)
{
    size_t d = delivered(st), b = coio_reader_buffered(st->r);
    CHECK(b <= d);
    return d - b;
}

/* A call that must have consumed nothing. */
static void same(struct state *st) { CHECK(consumed(st) == st->cur); }

/* A call that returned k bytes in b: they are the next k bytes fed. */
static void took(struct state *st, const void *b, size_t k)
{
    CHECK(k <= st->nfed - st->cur);
    CHECK(k == 0 || memcmp(b, st->fed + st->cur, k) == 0);
    st->cur += k;
    CHECK(consumed(st) == st->cur);
}

/* A reader-side failure that any call may give: the stored error, or a cancel
   (absorbed here so that the task goes on). Anything else is a bug. */
static void common_error(struct state *st, int e)
{
    if (e == ECANCELED) {
        while (coio_uncancel() > 0)
            ;
        coio_absorb_cancel();
    } else {
        CHECK(st->err != 0 && e == st->err);
    }
    same(st);
}

/* After a call returned successfully: no error may be stored by then (ST5). */
static void no_error(const struct state *st) { CHECK(st->err == 0); }

/* Whether sep[0..len) occurs in b[0..k) ending before k. */
static int ends_before(const uint8_t *b, size_t k, const uint8_t *sep, size_t len)
{
    for (size_t e = len; e < k; e++)
        if (memcmp(b + e - len, sep, len) == 0)
            return 1;
    return 0;
}

static void op_read(struct state *st, size_t n)
{
    ssize_t k = coio_reader_read(st->r, st->buf, n);
    int e = errno;
    if (k < 0)
        return common_error(st, e);
    no_error(st);
    CHECK((size_t)k <= n);
    if (k == 0 && n > 0)
        CHECK(st->eof_fed && coio_reader_at_eof(st->r));
    took(st, st->buf, (size_t)k);
}

static void op_readexactly(struct state *st, size_t n)
{
    coio_read_info info;
    memset(&info, 0xa5, sizeof info);
    ssize_t k = coio_reader_readexactly(st->r, st->buf, n, &info);
    int e = errno;
    if (k < 0 && st->err)
        return common_error(st, e); /* ST5: the stored error, whatever it is */
    if (k < 0 && e == ENODATA) {
        CHECK(st->eof_fed && info.expected == n && info.partial_len < n);
        took(st, st->buf, info.partial_len);
        CHECK(coio_reader_buffered(st->r) == 0 && coio_reader_at_eof(st->r));
        return;
    }
    if (k < 0)
        return common_error(st, e);
    no_error(st);
    CHECK((size_t)k == n);
    took(st, st->buf, n);
}

/* readuntil_any with nseps separators from the script (readuntil when 1). */
static void op_readuntil(struct state *st, size_t nseps, int any)
{
    uint8_t sepb[3][3];
    coio_bytes seps[3];
    for (size_t i = 0; i < nseps; i++) {
        size_t len = 1 + take(&st->rs) % 3;
        for (size_t j = 0; j < len; j++)
            sepb[i][j] = (uint8_t)take(&st->rs);
        seps[i] = (coio_bytes){sepb[i], len};
    }
    unsigned c = take(&st->rs);
    size_t cap = c >= 128 ? BUFCAP : c; /* small capacities reach ENOBUFS */
    coio_read_info info;
    memset(&info, 0xa5, sizeof info);
    ssize_t k = any ? coio_reader_readuntil_any(st->r, st->buf, cap, seps, nseps, &info)
                    : coio_reader_readuntil(st->r, st->buf, cap, seps[0].data, seps[0].len, &info);
    int e = errno;
    if (k < 0 && st->err)
        return common_error(st, e);
    if (k < 0) {
        switch (e) {
        case ENODATA:
            CHECK(st->eof_fed && info.partial_len <= cap);
            took(st, st->buf, info.partial_len);
            CHECK(coio_reader_at_eof(st->r));
            return;
        case EMSGSIZE:
            CHECK(info.consumed > st->limit);
            same(st);
            return;
        case ENOBUFS:
            CHECK(info.needed > cap);
            same(st);
            return;
        }
        return common_error(st, e);
    }
    no_error(st);
    size_t n = (size_t)k;
    CHECK(n <= cap);
    /* It ends with one of the separators, no separator ends earlier, and the
       separator starts within the limit. */
    int ends = 0;
    for (size_t i = 0; i < nseps; i++) {
        const uint8_t *s = seps[i].data;
        size_t len = seps[i].len;
        if (n >= len && memcmp(st->buf + n - len, s, len) == 0 && n - len <= st->limit)
            ends = 1;
        CHECK(!ends_before(st->buf, n, s, len));
    }
    CHECK(ends);
    took(st, st->buf, n);
}

static void op_readline(struct state *st, size_t cap)
{
    size_t before = st->cur;
    ssize_t k = coio_reader_readline(st->r, st->buf, cap);
    int e = errno;
    if (k < 0 && st->err)
        return common_error(st, e);
    if (k < 0 && e == EMSGSIZE) {
        /* The over-long line is dropped through its newline if that was seen,
           else with everything held (ST2): the dropped bytes hold no newline but
           maybe the last one, and something was dropped. */
        size_t now = consumed(st);
        CHECK(now > before && now <= st->nfed);
        size_t dropped = now - before;
        const uint8_t *d = st->fed + before;
        CHECK(memchr(d, '\n', dropped - 1) == NULL);
        CHECK(d[dropped - 1] == '\n' || coio_reader_buffered(st->r) == 0);
        CHECK(dropped > st->limit);
        st->cur = now;
        return;
    }
    if (k < 0 && e == ENOBUFS)
        return same(st);
    if (k < 0)
        return common_error(st, e);
    no_error(st);
    size_t n = (size_t)k;
    CHECK(n <= cap);
    if (n == 0) {
        CHECK(st->eof_fed && coio_reader_at_eof(st->r));
    } else if (st->buf[n - 1] == '\n') {
        CHECK(n <= st->limit + 1);
        CHECK(memchr(st->buf, '\n', n - 1) == NULL);
    } else {
        /* The tail at EOF, without a newline. */
        CHECK(memchr(st->buf, '\n', n) == NULL);
        CHECK(st->eof_fed && coio_reader_buffered(st->r) == 0);
    }
    took(st, st->buf, n);
}

static void op_read_all(struct state *st)
{
    void *data = NULL;
    size_t len = 0;
    int rc = coio_reader_read_all(st->r, &data, &len);
    int e = errno;
    if (rc < 0)
        return common_error(st, e);
    no_error(st);
    CHECK(data != NULL && ((char *)data)[len] == 0);
    CHECK(st->eof_fed && coio_reader_at_eof(st->r));
    took(st, data, len);
    free(data);
}

static void reader_yield(struct state *st)
{
    if (coio_yield() < 0) {
        CHECK(errno == ECANCELED);
        common_error(st, ECANCELED);
    }
}

static void *reader_main(void *arg)
{
    struct state *st = arg;
    while (st->rs.n) {
        unsigned b = take(&st->rs);
        st->in_call = 1;
        switch (b % 8) {
        case 0:
            op_read(st, take(&st->rs));
            break;
        case 1:
            op_readexactly(st, take(&st->rs));
            break;
        case 2:
            op_readuntil(st, 1, 0);
            break;
        case 3:
            op_readuntil(st, 1 + take(&st->rs) % 3, 1);
            break;
        case 4: {
            unsigned c = take(&st->rs);
            st->in_readline = 1;
            op_readline(st, c >= 128 ? st->limit + 1 : c);
            st->in_readline = 0;
            break;
        }
        case 5:
            op_read_all(st);
            break;
        case 6:
            op_read(st, 0);
            break;
        default:
            st->in_call = 0;
            reader_yield(st);
            break;
        }
        st->in_call = 0;
        CHECK(!coio_reader_at_eof(st->r) || (st->eof_fed && coio_reader_buffered(st->r) == 0));
    }
    /* Drain: once the feeder is done, everything fed comes out, in order, unless
       an error was stored. */
    while (!st->feeder_done)
        reader_yield(st);
    for (;;) {
        ssize_t k = coio_reader_read(st->r, st->buf, BUFCAP);
        int e = errno;
        if (k < 0) {
            common_error(st, e);
            if (e == ECANCELED)
                continue;
            break;
        }
        no_error(st);
        took(st, st->buf, (size_t)k);
        if (k == 0)
            break;
    }
    if (!st->err) {
        CHECK(st->cur == st->nfed);
        CHECK(coio_reader_at_eof(st->r));
    }
    while (coio_uncancel() > 0) /* withdraw a cancel that found no suspension */
        ;
    st->reader_done = 1;
    return NULL;
}

static void feed_eof(struct state *st)
{
    if (st->eof_fed)
        return;
    st->eof_fed = 1;
    if (st->mode == MODE_FED) {
        CHECK(coio_reader_feed_eof(st->r) == 0);
    } else {
        close(st->wfd); /* the reader sees EOF after the bytes in the kernel */
        st->wfd = -1;
    }
}

static void feed(struct state *st, size_t len)
{
    uint8_t chunk[64];
    size_t n = 0;
    while (n < len && st->fs.n)
        chunk[n++] = (uint8_t)take(&st->fs);
    if (st->eof_fed) {
        if (st->mode == MODE_FED) {
            CHECK(coio_reader_feed_data(st->r, chunk, n) == -1 && errno == EPIPE);
            same(st);
        }
        return;
    }
    if (st->mode == MODE_FED) {
        CHECK(coio_reader_feed_data(st->r, chunk, n) == 0);
    } else if (n) {
        /* The kernel may take less than n: many tiny writes fill a Unix
           socket's send buffer with their per-write overhead long before the
           bytes do. A blocking write would then wait for the reader, a task
           of this same thread, forever (CI's fuzz run hung in it until
           libFuzzer's alarm made it EINTR), so the fd is nonblocking and what
           the kernel took is what was fed. */
        ssize_t w = write(st->wfd, chunk, n);
        CHECK(w > 0 || (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)));
        n = w > 0 ? (size_t)w : 0;
    }
    memcpy(st->fed + st->nfed, chunk, n);
    st->nfed += n;
}

static const int stored_errors[] = {ECONNRESET, ETIMEDOUT, EIO, EPIPE, ENODATA, EMSGSIZE, ENOBUFS};

static void *feeder_main(void *arg)
{
    struct state *st = arg;
    while (st->fs.n) {
        unsigned b = take(&st->fs);
        switch (b % 8) {
        case 0:
        case 1:
        case 2:
            feed(st, 1 + (b >> 3) % 64);
            break;
        case 3:
            feed_eof(st);
            break;
        case 4:
            if (!st->reader_done)
                CHECK(coio_cancel(st->reader_task) == 1);
            break;
        case 5: {
            int e = stored_errors[take(&st->fs) % (sizeof stored_errors / sizeof *stored_errors)];
            CHECK(coio_reader_set_error(st->r, e) == 0);
            st->err = e;
            CHECK(coio_reader_error(st->r) == e);
            break;
        }
        case 6:
            if (st->in_call) {
                /* The reader task is suspended inside a call: a second reader
                   gets EBUSY and takes nothing. */
                CHECK(coio_reader_read(st->r, st->probe, sizeof st->probe) == -1 && errno == EBUSY);
                same(st);
            }
            break;
        default:
            CHECK(coio_yield() == 0);
            break;
        }
    }
    feed_eof(st);
    st->feeder_done = 1;
    return NULL;
}

static void *fuzz_main(void *arg)
{
    struct state *st = arg;
    if (st->mode == MODE_FED) {
        st->r = coio_reader_new((long)st->limit);
        CHECK(st->r != NULL);
    } else {
        coio_stream_opts o = {.limit = st->limit};
        CHECK(coio_open_fd(st->rfd, &o, &st->r, NULL) == 0);
    }
    coio_task *rt = coio_spawn(reader_main, st);
    CHECK(rt != NULL);
    st->reader_task = rt;
    coio_task *ft = coio_spawn(feeder_main, st);
    CHECK(ft != NULL);
    CHECK(coio_await(ft, NULL) == 0);
    CHECK(coio_await(rt, NULL) == 0);
    CHECK(st->reader_done);
    coio_task_release(ft);
    coio_task_release(rt);
    coio_reader_release(st->r); /* closes rfd */
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct state *st = calloc(1, sizeof *st);
    CHECK(st != NULL);
    st->mode = data[0] % 3;
    st->limit = 1 + data[1] % 64;
    size_t rest = size - 3, split = rest * data[2] / 255;
    st->fs = (struct script){data + 3, split};
    st->rs = (struct script){data + 3 + split, rest - split};
    st->fed = malloc(size + 1);
    CHECK(st->fed != NULL);
    st->rfd = st->wfd = -1;
    if (st->mode != MODE_FED) {
        int fds[2];
        if (st->mode == MODE_SOCKET)
            CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        else
            CHECK(pipe(fds) == 0);
        st->rfd = fds[0];
        st->wfd = fds[1];
        CHECK(fcntl(st->wfd, F_SETFL, fcntl(st->wfd, F_GETFL) | O_NONBLOCK) == 0);
    }
    /* One loop for every input (coio_run would make and close one each time,
       a third of the cost); each input's tasks are all done when it returns. */
    static coio_loop *loop;
    if (!loop)
        CHECK((loop = coio_loop_new()) != NULL);
    coio_task *t = coio_loop_spawn(loop, NULL, fuzz_main, st);
    CHECK(t != NULL);
    CHECK(coio_loop_run_until_complete(loop, t, NULL) == 0);
    coio_task_release(t);
    if (st->wfd >= 0)
        close(st->wfd);
    free(st->fed);
    free(st);
    return 0;
}
