/* check_stream_fuzzed.c — regression tests for what tests/fuzz/fuzz_stream.c found
 * in the stream reader: a cancel that arrives after a stored error woke the reader
 * was reported as that error (and the task then ended CANCELLED though it never saw
 * ECANCELED); bytes a read pulled from the fd in the same step as a stored error
 * were lost (neither returned nor buffered); readexactly/read_all at EOF of a
 * reader that never held a byte did pointer arithmetic on NULL (UBSan).
 */
#include "helpers.h"

#include <sys/socket.h>
#include <unistd.h>

struct reading {
    coio_reader *r;
    ssize_t n;
    int err;
    int absorbed;
    char buf[64];
};

static void *read_once(void *arg)
{
    struct reading *rd = arg;
    rd->n = coio_reader_read(rd->r, rd->buf, sizeof rd->buf);
    rd->err = errno;
    rd->absorbed = coio_absorb_cancel();
    return NULL;
}

/* The reader is woken by set_error; before it runs, its task is cancelled. The
   cancel wins (as asyncio throws CancelledError into the resumed coroutine), so
   the read reports ECANCELED, and the task that absorbs it ends FINISHED. */
static void *cancel_after_error_body(void *arg)
{
    struct reading rd = {.r = coio_reader_new(16)};
    ck_assert_ptr_nonnull(rd.r);
    coio_task *t = coio_spawn(read_once, &rd);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coio_yield(), 0); /* the reader parks: nothing to read */
    ck_assert_int_eq(coio_reader_set_error(rd.r, ECONNRESET), 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    ck_assert_int_eq(coio_task_state(t), COIO_FINISHED);
    ck_assert_int_eq(rd.n, -1);
    ck_assert_int_eq(rd.err, ECANCELED);
    ck_assert_int_eq(rd.absorbed, 1);
    /* The stored error is still there for the next read. */
    ck_assert_err(coio_reader_read(rd.r, rd.buf, 1), ECONNRESET);
    coio_task_release(t);
    coio_reader_release(rd.r);
    return NULL;
}

START_TEST(test_cancel_after_stored_error_woke_reader_reports_ecanceled)
{
    ck_assert_int_eq(run_main(cancel_after_error_body, NULL, NULL), 0);
}
END_TEST

/* The same over a socket: the reader waits for its fd, set_error interrupts it,
   the cancel comes before it runs. */
static void *cancel_after_error_fd_body(void *arg)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct reading rd = {0};
    ck_assert_int_eq(coio_open_fd(sv[0], NULL, &rd.r, NULL), 0);
    coio_task *t = coio_spawn(read_once, &rd);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coio_yield(), 0);
    ck_assert_int_eq(coio_reader_set_error(rd.r, ETIMEDOUT), 0);
    ck_assert_int_eq(coio_cancel(t), 1);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    ck_assert_int_eq(coio_task_state(t), COIO_FINISHED);
    ck_assert_int_eq(rd.n, -1);
    ck_assert_int_eq(rd.err, ECANCELED);
    ck_assert_int_eq(rd.absorbed, 1);
    coio_task_release(t);
    coio_reader_release(rd.r);
    close(sv[1]);
    return NULL;
}

START_TEST(test_cancel_after_stored_error_woke_fd_reader_reports_ecanceled)
{
    ck_assert_int_eq(run_main(cancel_after_error_fd_body, NULL, NULL), 0);
}
END_TEST

/* Bytes arrive and wake the reader; before it runs, an error is stored. The read
   that then takes the bytes from the fd fails with the error, and the bytes stay
   in the reader (buffered() counts them): nothing read is lost. */
static void *bytes_with_error_body(void *arg)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct reading rd = {0};
    ck_assert_int_eq(coio_open_fd(sv[0], NULL, &rd.r, NULL), 0);
    coio_task *t = coio_spawn(read_once, &rd);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(coio_yield(), 0);  /* the reader waits for its fd */
    ck_assert_int_eq(write(sv[1], "hello", 5), 5);
    /* Let the loop poll: the reader is woken by readiness but has not run yet
       when we come back (we were queued first). */
    ck_assert_int_eq(coio_yield(), 0);
    ck_assert_int_eq(coio_task_done(t), 0);
    ck_assert_int_eq(coio_reader_set_error(rd.r, ECONNRESET), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    ck_assert_int_eq(rd.n, -1);
    ck_assert_int_eq(rd.err, ECONNRESET);
    ck_assert_uint_eq(coio_reader_buffered(rd.r), 5);
    coio_task_release(t);
    coio_reader_release(rd.r);
    close(sv[1]);
    return NULL;
}

START_TEST(test_bytes_read_with_stored_error_stay_buffered)
{
    ck_assert_int_eq(run_main(bytes_with_error_body, NULL, NULL), 0);
}
END_TEST

static void *empty_reader_eof_body(void *arg)
{
    coio_reader *r = coio_reader_new(8);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(coio_reader_feed_eof(r), 0);
    char buf[4];
    coio_read_info info = {.partial_len = 99};
    ck_assert_err(coio_reader_readexactly(r, buf, sizeof buf, &info), ENODATA);
    ck_assert_uint_eq(info.partial_len, 0);
    ck_assert_uint_eq(info.expected, sizeof buf);
    void *data = NULL;
    size_t len = 99;
    ck_assert_int_eq(coio_reader_read_all(r, &data, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(data, "");
    free(data);
    ck_assert_int_eq(coio_reader_at_eof(r), 1);
    coio_reader_release(r);
    return NULL;
}

START_TEST(test_readexactly_and_read_all_at_eof_of_never_fed_reader)
{
    ck_assert_int_eq(run_main(empty_reader_eof_body, NULL, NULL), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("stream_fuzzed");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, test_cancel_after_stored_error_woke_reader_reports_ecanceled);
    tcase_add_test(tc, test_cancel_after_stored_error_woke_fd_reader_reports_ecanceled);
    tcase_add_test(tc, test_bytes_read_with_stored_error_stay_buffered);
    tcase_add_test(tc, test_readexactly_and_read_all_at_eof_of_never_fed_reader);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(make_suite)
