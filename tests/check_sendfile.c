/* check_sendfile.c — coio_sendfile and coio_writer_sendfile (SF1-SF4): whole files and
 * ranges, the file position after success, errors, cancellation and timeouts (SF2), the
 * read/write fallback and its refusal (SF3), bad arguments (SF4), and ordering with the
 * writer's own bytes.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

typedef void (*body_fn)(void);

static void *run_body(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

#define RUN(body) ck_assert_int_eq(run_main(run_body, (void *)(body), NULL), 0)

#define FSIZE (3u << 20)
static unsigned char content[FSIZE];

static unsigned char pat(size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    return (unsigned char)((x >> 13) ^ (x >> 24) ^ (uint32_t)(i >> 10));
}

/* A temporary file of FSIZE pattern bytes, opened for reading (unlinked). */
static int temp_file(void)
{
    char path[] = "/tmp/coio_sf_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    for (size_t i = 0; i < FSIZE; i++)
        content[i] = pat(i);
    ck_assert_int_eq(write(fd, content, FSIZE), (ssize_t)FSIZE);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static void sock_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* A reader task: reads the peer end until EOF (or max bytes, then closes it) into
   a malloc'd buffer. */
struct sink {
    int fd;
    size_t max;         /* stop and close after this many bytes (0: until EOF) */
    double delay;       /* wait this long before reading */
    unsigned char *buf;
    size_t len;
};

static void *sink_main(void *arg)
{
    struct sink *k = arg;
    k->buf = malloc(FSIZE * 2 + 64);
    if (k->delay > 0)
        coio_sleep(k->delay);
    for (;;) {
        size_t room = FSIZE * 2 + 64 - k->len;
        if (k->max && k->max - k->len < room)
            room = k->max - k->len;
        if (room == 0)
            break;
        ssize_t n = coio_read(k->fd, k->buf + k->len, room > 65536 ? 65536 : room);
        if (n <= 0)
            break;
        k->len += (size_t)n;
    }
    coio_close(k->fd);
    return NULL;
}

static off_t pos(int fd) { return lseek(fd, 0, SEEK_CUR); }

/* ---- SF1: whole file, ranges ---------------------------------------------------------------- */

static void sf1(void)
{
    int f = temp_file();
    int sv[2];
    sock_pair(sv);
    struct sink k = {.fd = sv[1]};
    coio_task *t = coio_spawn(sink_main, &k);
    ck_assert_int_eq(coio_sendfile(sv[0], f, 0, 0, 0), (ssize_t)FSIZE);
    ck_assert_int_eq(pos(f), (off_t)FSIZE);
    /* A range, and a count past the end: what there is. */
    ck_assert_int_eq(coio_sendfile(sv[0], f, 1000, 5000, 0), 5000);
    ck_assert_int_eq(pos(f), 6000);
    ck_assert_int_eq(coio_sendfile(sv[0], f, FSIZE - 10, 100, 0), 10);
    ck_assert_int_eq(coio_sendfile(sv[0], f, FSIZE + 5, 0, 0), 0); /* past EOF: nothing */
    ck_assert_int_eq(pos(f), (off_t)FSIZE + 5);
    coio_close(sv[0]);
    coio_await(t, NULL);
    coio_task_release(t);
    ck_assert_uint_eq(k.len, FSIZE + 5000 + 10);
    ck_assert(memcmp(k.buf, content, FSIZE) == 0);
    ck_assert(memcmp(k.buf + FSIZE, content + 1000, 5000) == 0);
    ck_assert(memcmp(k.buf + FSIZE + 5000, content + FSIZE - 10, 10) == 0);
    free(k.buf);
    close(f);
}

START_TEST(test_SF1_sendfile_whole_file_and_ranges) { RUN(sf1); }
END_TEST

/* ---- SF2: position after an error and after a cancel ------------------------------------------ */

static void sf2_error(void)
{
    int f = temp_file();
    int sv[2];
    sock_pair(sv);
    /* The peer takes 200 KiB, then goes away. */
    struct sink k = {.fd = sv[1], .max = 200 << 10};
    coio_task *t = coio_spawn(sink_main, &k);
    errno = 0;
    ck_assert_int_eq(coio_sendfile(sv[0], f, 100, 0, 0), -1);
    ck_assert_msg(errno == EPIPE || errno == ECONNRESET, "errno %d", errno);
    coio_await(t, NULL);
    coio_task_release(t);
    off_t sent = pos(f) - 100;
    ck_assert_int_ge(sent, 200 << 10);
    ck_assert_int_lt(sent, (off_t)FSIZE - 100);
    ck_assert(memcmp(k.buf, content + 100, k.len) == 0);
    free(k.buf);
    coio_close(sv[0]);
    close(f);
}

START_TEST(test_SF2_error_leaves_position_at_progress) { RUN(sf2_error); }
END_TEST

struct send_job {
    int out, in;
    off_t offset;
    ssize_t rc;
    int err;
};

static void *send_main(void *arg)
{
    struct send_job *j = arg;
    j->rc = coio_sendfile(j->out, j->in, j->offset, 0, 0);
    j->err = errno;
    return NULL;
}

static void sf2_cancel(void)
{
    int f = temp_file();
    int sv[2];
    sock_pair(sv);
    struct send_job j = {sv[0], f, 7, 0, 0};
    coio_task *t = coio_spawn(send_main, &j);
    coio_sleep(0.02); /* the peer does not read: the sender waits, part-way */
    coio_cancel(t);
    coio_await(t, NULL);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(j.rc, -1);
    ck_assert_int_eq(j.err, ECANCELED);
    /* The position says exactly what the peer gets. */
    coio_close(sv[0]);
    struct sink k = {.fd = sv[1]};
    t = coio_spawn(sink_main, &k);
    coio_await(t, NULL);
    coio_task_release(t);
    ck_assert_int_gt(k.len, 0);
    ck_assert_int_eq(pos(f), 7 + (off_t)k.len);
    ck_assert(memcmp(k.buf, content + 7, k.len) == 0);
    free(k.buf);
    close(f);
}

START_TEST(test_SF2_cancel_leaves_position_at_progress) { RUN(sf2_cancel); }
END_TEST

/* ---- SF3: the fallback and its refusal ---------------------------------------------------------- */

static void *feed_pipe(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (size_t off = 0; off < FSIZE;) {
        ssize_t n = coio_write(fd, content + off, FSIZE - off < 100000 ? FSIZE - off : 100000);
        ck_assert_int_gt(n, 0);
        off += (size_t)n;
    }
    coio_close(fd);
    return NULL;
}

static void sf3(void)
{
    int f = temp_file(); /* fills content */
    close(f);
    int p[2], sv[2];
    ck_assert_int_eq(pipe(p), 0);
    sock_pair(sv);
    /* No fallback: refused, nothing sent. */
    ck_assert_err(coio_sendfile(sv[0], p[0], 0, 10, COIO_SENDFILE_NO_FALLBACK), EOPNOTSUPP);
    /* With it: a pipe's bytes go through the buffer, to EOF. */
    coio_task *w = coio_spawn(feed_pipe, (void *)(intptr_t)p[1]);
    struct sink k = {.fd = sv[1]};
    coio_task *t = coio_spawn(sink_main, &k);
    ck_assert_int_eq(coio_sendfile(sv[0], p[0], 0, 0, 0), (ssize_t)FSIZE);
    coio_close(sv[0]);
    coio_await(t, NULL);
    coio_await(w, NULL);
    coio_task_release(t);
    coio_task_release(w);
    ck_assert_uint_eq(k.len, FSIZE);
    ck_assert(memcmp(k.buf, content, FSIZE) == 0);
    free(k.buf);
    coio_close(p[0]);
}

START_TEST(test_SF3_fallback_for_pipes_and_no_fallback_error) { RUN(sf3); }
END_TEST

/* ---- SF4: bad arguments ----------------------------------------------------------------------- */

static void sf4(void)
{
    int f = temp_file();
    int sv[2];
    sock_pair(sv);
    ck_assert_err(coio_sendfile(sv[0], f, -1, 10, 0), EINVAL);
    ck_assert_err(coio_sendfile(sv[0], f, 0, 10, 0x100), EINVAL);
    ck_assert_err(coio_sendfile(sv[0], 999999, 0, 10, 0), EBADF);
    ck_assert_err(coio_sendfile(999999, f, 0, 10, 0), EBADF);
    ck_assert_int_eq(pos(f), 0); /* nothing moved */
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(coio_open_fd(sv[0], NULL, &r, &w), 0);
    ck_assert_err(coio_writer_sendfile(w, f, -5, 0, 0), EINVAL);
    ck_assert_err(coio_writer_sendfile(w, -1, 0, 0, 0), EBADF);
    ck_assert_err(coio_writer_sendfile(NULL, f, 0, 0, 0), EINVAL);
    coio_reader_release(r);
    coio_writer_release(w);
    close(sv[1]);
    close(f);
}

START_TEST(test_SF4_bad_arguments)
{
    RUN(sf4);
    /* Outside a task. */
    ck_assert_err(coio_sendfile(1, 0, 0, 10, 0), EINVAL);
}
END_TEST

/* ---- the writer's form ---------------------------------------------------------------------------- */

static void writer_form(void)
{
    int f = temp_file();
    int sv[2];
    sock_pair(sv);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(coio_open_fd(sv[0], NULL, &r, &w), 0);
    /* Queued bytes first (more than the socket takes), then the file, then a trailer. */
    static char head[1 << 20];
    memset(head, 'h', sizeof head);
    ck_assert_int_eq(coio_writer_write(w, head, sizeof head), 0);
    ck_assert_uint_gt(coio_writer_buffer_size(w), 0);
    struct sink k = {.fd = sv[1], .delay = 0.01};
    coio_task *t = coio_spawn(sink_main, &k);
    ck_assert_int_eq(coio_writer_sendfile(w, f, 0, 0, 0), (ssize_t)FSIZE);
    ck_assert_int_eq(coio_writer_write(w, "END", 3), 0);
    coio_writer_close(w);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    coio_await(t, NULL);
    coio_task_release(t);
    ck_assert_uint_eq(k.len, sizeof head + FSIZE + 3);
    ck_assert(memcmp(k.buf, head, sizeof head) == 0);
    ck_assert(memcmp(k.buf + sizeof head, content, FSIZE) == 0);
    ck_assert(memcmp(k.buf + sizeof head + FSIZE, "END", 3) == 0);
    free(k.buf);
    ck_assert_err(coio_writer_sendfile(w, f, 0, 0, 0), ECONNRESET); /* closed */
    coio_reader_release(r);
    coio_writer_release(w);
    close(f);
}

START_TEST(test_SF1_writer_sendfile_keeps_order) { RUN(writer_form); }
END_TEST

static void writer_timeout(void)
{
    int f = temp_file();
    int sv[2];
    sock_pair(sv);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(coio_open_fd(sv[0], NULL, &r, &w), 0);
    coio_writer_set_timeout(w, 0.05);
    double t0 = now();
    ck_assert_err(coio_writer_sendfile(w, f, 0, 0, 0), ETIMEDOUT);
    ck_assert_time(now() - t0, 0.045, 1.0);
    off_t sent = pos(f);
    ck_assert_int_gt(sent, 0);
    ck_assert_int_lt(sent, (off_t)FSIZE);
    /* Usable still: send the rest from where it stopped. */
    coio_writer_set_timeout(w, 0);
    struct sink k = {.fd = sv[1]};
    coio_task *t = coio_spawn(sink_main, &k);
    ck_assert_int_eq(coio_writer_sendfile(w, f, sent, 0, 0), (ssize_t)FSIZE - sent);
    coio_writer_close(w);
    coio_await(t, NULL);
    coio_task_release(t);
    ck_assert_uint_eq(k.len, FSIZE);
    ck_assert(memcmp(k.buf, content, FSIZE) == 0);
    free(k.buf);
    coio_reader_release(r);
    coio_writer_release(w);
    close(f);
}

START_TEST(test_SF2_writer_timeout_leaves_position_and_writer_usable) { RUN(writer_timeout); }
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("sendfile");
    TCase *tc = tcase_create("sendfile");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_SF1_sendfile_whole_file_and_ranges);
    tcase_add_test(tc, test_SF1_writer_sendfile_keeps_order);
    tcase_add_test(tc, test_SF2_error_leaves_position_at_progress);
    tcase_add_test(tc, test_SF2_cancel_leaves_position_at_progress);
    tcase_add_test(tc, test_SF2_writer_timeout_leaves_position_and_writer_usable);
    tcase_add_test(tc, test_SF3_fallback_for_pipes_and_no_fallback_error);
    tcase_add_test(tc, test_SF4_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(make_suite)
