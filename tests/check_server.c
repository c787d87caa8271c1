/* check_server.c — shutting servers down (SV1-SV5: close, wait_closed, close_clients,
 * abort_clients, cancelling serve_forever) and per-operation stream timeouts
 * (coio_reader_set_timeout / coio_writer_set_timeout).
 */
#include "helpers.h"

#include <stdint.h>
#include <unistd.h>
#include <sys/socket.h>

typedef void (*body_fn)(void);

static void *run_body(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

#define RUN(body) ck_assert_int_eq(run_main(run_body, (void *)(body), NULL), 0)

/* What the server side saw, for the assertions. */
static struct {
    int started;        /* callbacks entered */
    int returned;       /* callbacks returned */
    ssize_t read_rc;    /* the callback's last read result */
    int read_errno;
    int write_errno;    /* errno of a write after the read */
    size_t big;         /* bytes the callback queues before reading (0: none) */
} g;

static char bigbuf[4 << 20];

/* Echo lines; with g.big set, first queue g.big bytes. After the read ends, one more
   write shows what a closed writer says. */
static int srv_cb(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    g.started++;
    if (g.big) {
        if (g.big == sizeof bigbuf) { /* SV4: keep what the kernel holds small */
            int sz = 16384;
            setsockopt(coio_writer_fd(w), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        }
        ck_assert_int_eq(coio_writer_write(w, bigbuf, g.big), 0);
    }
    char line[128];
    ssize_t n;
    while ((n = coio_reader_readline(r, line, sizeof line)) > 0)
        if (coio_writer_write(w, line, (size_t)n) < 0)
            break;
    g.read_rc = n;
    g.read_errno = n < 0 ? errno : 0;
    errno = 0;
    g.write_errno = coio_writer_write(w, "x", 1) < 0 ? errno : 0;
    g.returned++;
    return 0;
}

static coio_server *start(void)
{
    memset(&g, 0, sizeof g);
    coio_server *s = coio_start_server(srv_cb, NULL, "127.0.0.1", 0, NULL);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void connect_to(coio_server *s, coio_reader **r, coio_writer **w)
{
    ck_assert_int_eq(coio_open_connection("127.0.0.1", coio_server_port(s), NULL, r, w), 0);
}

static void roundtrip(coio_reader *r, coio_writer *w, const char *msg)
{
    char buf[128];
    ck_assert_int_eq(coio_writer_write(w, msg, strlen(msg)), 0);
    ssize_t n = coio_reader_readline(r, buf, sizeof buf);
    ck_assert_int_eq(n, (ssize_t)strlen(msg));
    ck_assert(memcmp(buf, msg, (size_t)n) == 0);
}

/* Yield until the server has n callbacks running (bounded). */
static void wait_started(int n)
{
    for (int i = 0; i < 2000 && g.started < n; i++)
        coio_sleep(0.001);
    ck_assert_int_eq(g.started, n);
}

/* ---- SV1: close stops listening, accepted connections go on --------------------------- */

static void sv1(void)
{
    coio_server *s = start();
    int port = coio_server_port(s);
    coio_reader *r;
    coio_writer *w;
    connect_to(s, &r, &w);
    roundtrip(r, w, "before\n");
    ck_assert_int_eq(coio_server_close(s), 0);
    ck_assert(!coio_server_is_serving(s));
    coio_reader *r2;
    coio_writer *w2;
    ck_assert_err(coio_open_connection("127.0.0.1", port, NULL, &r2, &w2), ECONNREFUSED);
    roundtrip(r, w, "after close\n");
    ck_assert_uint_eq(coio_server_nclients(s), 1);
    coio_reader_release(r);
    coio_writer_release(w);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_uint_eq(coio_server_nclients(s), 0);
    coio_server_release(s);
}

START_TEST(test_SV1_close_stops_listening_clients_go_on) { RUN(sv1); }
END_TEST

/* ---- SV2: wait_closed waits for the server and its connections ------------------------- */

static void *waiter(void *arg) { return (void *)(intptr_t)coio_server_wait_closed(arg); }

static void sv2(void)
{
    coio_server *s = start();
    coio_reader *r;
    coio_writer *w;
    connect_to(s, &r, &w);
    wait_started(1);
    coio_task *t = coio_spawn(waiter, s);
    coio_sleep(0.02);
    ck_assert(!coio_task_done(t)); /* still serving */
    coio_server_close(s);
    coio_sleep(0.02);
    ck_assert(!coio_task_done(t)); /* closed, but a connection is open */
    coio_writer_close(w);
    void *res = (void *)1;
    ck_assert_int_eq(coio_await(t, &res), 0);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(g.returned, 1);
    coio_task_release(t);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_release(s);
}

START_TEST(test_SV2_wait_closed_waits_for_connections) { RUN(sv2); }
END_TEST

/* A callback that queues 4 MiB (socket buffers shrunk) and returns at once: its
   connection lives on in the writer's flusher after the handler is gone. */
static int queue_and_return_cb(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    g.started++;
    int sz = 16384;
    setsockopt(coio_writer_fd(w), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    ck_assert_int_eq(coio_writer_write(w, bigbuf, sizeof bigbuf), 0);
    g.returned++;
    return 0;
}

/* Connect with a small receive buffer and wait until the callback has returned. */
static coio_server *start_flushing(coio_reader **r, coio_writer **w)
{
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < sizeof bigbuf; i++)
        bigbuf[i] = (char)(i * 13 + (i >> 11));
    coio_server *s = coio_start_server(queue_and_return_cb, NULL, "127.0.0.1", 0, NULL);
    ck_assert_ptr_nonnull(s);
    connect_to(s, r, w);
    int sz = 16384;
    setsockopt(coio_writer_fd(*w), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    for (int i = 0; i < 2000 && g.returned < 1; i++)
        coio_sleep(0.001);
    ck_assert_int_eq(g.returned, 1);
    ck_assert_uint_eq(coio_server_nclients(s), 0); /* no handler runs */
    return s;
}

/* Close s and start waiting for it: the wait goes on, since 4 MiB cannot be in the
   socket buffers. */
static coio_task *close_and_wait(coio_server *s)
{
    coio_server_close(s);
    coio_task *t = coio_spawn(waiter, s);
    coio_sleep(0.05);
    ck_assert(!coio_task_done(t));
    return t;
}

/* SV2: the connection is not gone while its output is still being sent; once the
   client has read all of it, wait_closed returns. */
static void sv2_flushing(void)
{
    coio_reader *r;
    coio_writer *w;
    coio_server *s = start_flushing(&r, &w);
    coio_task *t = close_and_wait(s);
    static char got[sizeof bigbuf];
    ck_assert_int_eq(coio_reader_readexactly(r, got, sizeof got, NULL), (ssize_t)sizeof got);
    ck_assert(memcmp(got, bigbuf, sizeof got) == 0);
    char c;
    ck_assert_int_eq(coio_reader_read(r, &c, 1), 0); /* then EOF */
    double t0 = now();
    void *res = (void *)1;
    ck_assert_int_eq(coio_await(t, &res), 0);
    ck_assert_ptr_null(res);
    ck_assert_time(now() - t0, 0, 1.0);
    coio_task_release(t);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_release(s);
}

START_TEST(test_SV2_wait_closed_waits_for_output_after_handler) { RUN(sv2_flushing); }
END_TEST

/* SV4: abort_clients also ends a connection whose handler has returned (asyncio
   aborts every transport), so a peer that never reads cannot hold wait_closed. */
static void sv4_flushing(void)
{
    coio_reader *r;
    coio_writer *w;
    coio_server *s = start_flushing(&r, &w);
    coio_task *t = close_and_wait(s);
    double t0 = now();
    ck_assert_int_eq(coio_server_abort_clients(s), 0);
    void *res = (void *)1;
    ck_assert_int_eq(coio_await(t, &res), 0);
    ck_assert_ptr_null(res);
    ck_assert_time(now() - t0, 0, 1.0);
    size_t total = 0;
    static char buf[65536];
    ssize_t n;
    while ((n = coio_reader_read(r, buf, sizeof buf)) > 0)
        total += (size_t)n;
    ck_assert(n == 0 || errno == ECONNRESET);
    ck_assert_uint_lt(total, sizeof bigbuf / 2);
    coio_task_release(t);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_release(s);
}

START_TEST(test_SV4_abort_clients_ends_connections_after_handler) { RUN(sv4_flushing); }
END_TEST

/* ---- SV3: close_clients flushes, then closes ----------------------------------------------- */

static void sv3(void)
{
    coio_server *s = start();
    g.big = 1 << 20; /* more than the socket buffers take at once: most stays queued */
    for (size_t i = 0; i < g.big; i++)
        bigbuf[i] = (char)(i * 7 + (i >> 9));
    coio_reader *r;
    coio_writer *w;
    connect_to(s, &r, &w);
    wait_started(1);
    coio_sleep(0.02); /* the callback now waits in its read, with output queued */
    ck_assert_int_eq(g.returned, 0);
    ck_assert_int_eq(coio_server_close_clients(s), 0);
    ck_assert_int_eq(coio_server_close(s), 0);
    /* Every queued byte arrives, then EOF. */
    static char got[1 << 20];
    ck_assert_int_eq(coio_reader_readexactly(r, got, sizeof got, NULL), (ssize_t)sizeof got);
    ck_assert(memcmp(got, bigbuf, sizeof got) == 0);
    char c;
    ck_assert_int_eq(coio_reader_read(r, &c, 1), 0);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    /* The callback saw EOF at its read, and a closed writer after. */
    ck_assert_int_eq(g.returned, 1);
    ck_assert_int_eq(g.read_rc, 0);
    ck_assert_int_eq(g.write_errno, ECONNRESET);
    ck_assert_err(coio_server_close_clients(NULL), EINVAL);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_release(s);
}

START_TEST(test_SV3_close_clients_flushes_then_eof) { RUN(sv3); }
END_TEST

/* Idle clients: close_clients ends every callback at once. */
static void sv3_idle(void)
{
    coio_server *s = start();
    coio_reader *r[5];
    coio_writer *w[5];
    for (int i = 0; i < 5; i++)
        connect_to(s, &r[i], &w[i]);
    wait_started(5);
    roundtrip(r[0], w[0], "hi\n");
    coio_server_close(s);
    double t0 = now();
    ck_assert_int_eq(coio_server_close_clients(s), 0);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_time(now() - t0, 0, 0.5);
    ck_assert_int_eq(g.returned, 5);
    for (int i = 0; i < 5; i++) {
        char c;
        ck_assert_int_eq(coio_reader_read(r[i], &c, 1), 0);
        coio_reader_release(r[i]);
        coio_writer_release(w[i]);
    }
    coio_server_release(s);
}

START_TEST(test_SV3_close_clients_ends_idle_connections) { RUN(sv3_idle); }
END_TEST

/* ---- SV4: abort_clients drops what is queued ----------------------------------------------- */

static void sv4(void)
{
    coio_server *s = start();
    g.big = sizeof bigbuf; /* 4 MiB: far more than the (shrunk) socket buffers hold */
    coio_reader *r;
    coio_writer *w;
    connect_to(s, &r, &w);
    int sz = 16384;
    setsockopt(coio_writer_fd(w), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    wait_started(1);
    coio_sleep(0.02);
    ck_assert_int_eq(coio_server_abort_clients(s), 0);
    ck_assert_int_eq(coio_server_abort_clients(NULL), -1);
    /* What was in flight arrives, then the end: far less than 4 MiB. */
    size_t total = 0;
    static char buf[65536];
    ssize_t n;
    while ((n = coio_reader_read(r, buf, sizeof buf)) > 0)
        total += (size_t)n;
    ck_assert(n == 0 || errno == ECONNRESET);
    ck_assert_uint_lt(total, sizeof bigbuf / 2);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_int_eq(g.returned, 1);
    ck_assert_int_eq(g.read_rc, 0);
    ck_assert_int_eq(g.write_errno, ECONNRESET);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_release(s);
}

START_TEST(test_SV4_abort_clients_discards_queued_output) { RUN(sv4); }
END_TEST

/* ---- SV5: cancelling serve_forever ---------------------------------------------------------- */

static void *serve(void *arg) { return (void *)(intptr_t)coio_server_serve_forever(arg); }

static void sv5(void)
{
    coio_server *s = start();
    coio_task *t = coio_spawn(serve, s);
    coio_reader *r;
    coio_writer *w;
    connect_to(s, &r, &w);
    wait_started(1);
    /* Cancelled: the server closes, and serve_forever waits for the idle client. */
    coio_cancel(t);
    coio_sleep(0.05);
    ck_assert(!coio_server_is_serving(s));
    ck_assert(!coio_task_done(t));
    /* close_clients lets it finish. */
    coio_server_close_clients(s);
    ck_assert_err(coio_await(t, NULL), ECANCELED);
    coio_absorb_cancel();
    ck_assert_int_eq(coio_task_state(t), COIO_CANCELLED);
    coio_task_release(t);
    ck_assert_int_eq(g.returned, 1);
    coio_reader_release(r);
    coio_writer_release(w);
    /* A second cancel ends the wait early; the clients go on. */
    coio_server *s2 = start();
    t = coio_spawn(serve, s2);
    connect_to(s2, &r, &w);
    wait_started(1);
    coio_cancel(t);
    coio_sleep(0.02);
    coio_cancel(t);
    ck_assert_err(coio_await(t, NULL), ECANCELED);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(g.returned, 0);
    roundtrip(r, w, "still here\n");
    coio_writer_close(w);
    ck_assert_int_eq(coio_server_wait_closed(s2), 0);
    ck_assert_int_eq(g.returned, 1);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_release(s);
    coio_server_release(s2);
}

START_TEST(test_SV5_cancel_serve_forever_closes_and_waits) { RUN(sv5); }
END_TEST


/* ---- per-operation timeouts ------------------------------------------------------------------ */

static void stream_pair(coio_reader **r, coio_writer **w, int *peer)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(coio_open_fd(sv[0], NULL, r, w), 0);
    *peer = sv[1];
}

struct later {
    int fd;
    double delay;
    const char *data;
};

static void *write_later(void *arg)
{
    struct later *l = arg;
    coio_sleep(l->delay);
    ck_assert_int_eq(write(l->fd, l->data, strlen(l->data)), (ssize_t)strlen(l->data));
    return NULL;
}

static void read_timeout(void)
{
    coio_reader *r;
    coio_writer *w;
    int peer;
    stream_pair(&r, &w, &peer);
    ck_assert_int_eq(coio_reader_set_timeout(r, 0.05), 0);
    /* (double): with x87 math (i386) C11 evaluates the constant 0.05 in long
       double, which is not the double the reader stored */
    ck_assert(coio_reader_get_timeout(r) == (double)0.05);
    char buf[64];
    /* Nothing comes: ETIMEDOUT after the bound. */
    double t0 = now();
    ck_assert_err(coio_reader_readline(r, buf, sizeof buf), ETIMEDOUT);
    ck_assert_time(now() - t0, 0.045, 1.0);
    ck_assert_int_eq(coio_reader_error(r), 0);
    /* Half a line: the call times out, the half stays in the reader. */
    ck_assert_int_eq(write(peer, "par", 3), 3);
    ck_assert_err(coio_reader_readline(r, buf, sizeof buf), ETIMEDOUT);
    ck_assert_uint_eq(coio_reader_buffered(r), 3);
    ck_assert_err(coio_reader_readexactly(r, buf, 10, NULL), ETIMEDOUT);
    ck_assert_uint_eq(coio_reader_buffered(r), 3);
    /* Data that comes within the bound is read. */
    struct later l = {peer, 0.03, "tial\n"};
    coio_task *t = coio_spawn(write_later, &l);
    ck_assert_int_eq(coio_reader_set_timeout(r, 0.5), 0);
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 8);
    ck_assert(memcmp(buf, "partial\n", 8) == 0);
    coio_await(t, NULL);
    coio_task_release(t);
    /* No bound again: the read waits past 50 ms. */
    ck_assert_int_eq(coio_reader_set_timeout(r, 0), 0);
    l = (struct later){peer, 0.08, "late\n"};
    t = coio_spawn(write_later, &l);
    t0 = now();
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 5);
    ck_assert_time(now() - t0, 0.075, 2.0);
    coio_await(t, NULL);
    coio_task_release(t);
    /* Bad input. */
    ck_assert_err(coio_reader_set_timeout(r, -1), EINVAL);
    ck_assert_err(coio_reader_set_timeout(r, 0.0 / 0.0), EINVAL);
    ck_assert_err(coio_reader_set_timeout(NULL, 1), EINVAL);
    ck_assert_err(coio_writer_set_timeout(NULL, 1), EINVAL);
    ck_assert_int_eq(coio_reader_set_timeout(r, 1.0 / 0.0), 0);
    ck_assert(coio_reader_get_timeout(r) == 0);
    coio_reader_release(r);
    coio_writer_release(w);
    close(peer);
    /* A fed reader times out the same way and is fed afterwards. */
    r = coio_reader_new(100);
    coio_reader_set_timeout(r, 0.02);
    ck_assert_err(coio_reader_read(r, buf, sizeof buf), ETIMEDOUT);
    coio_reader_feed_data(r, "abc", 3);
    ck_assert_int_eq(coio_reader_read(r, buf, sizeof buf), 3);
    coio_reader_release(r);
}

START_TEST(test_reader_timeout_per_call_keeps_data) { RUN(read_timeout); }
END_TEST

static void *read_all_peer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static char sink[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = coio_read(fd, sink, sizeof sink)) > 0)
        total += (size_t)n;
    return (void *)total;
}

static void write_timeout(void)
{
    coio_reader *r;
    coio_writer *w;
    int peer;
    stream_pair(&r, &w, &peer);
    static char big[1 << 20];
    memset(big, 'z', sizeof big);
    ck_assert_int_eq(coio_writer_write(w, big, sizeof big), 0);
    ck_assert_int_eq(coio_writer_set_timeout(w, 0.05), 0);
    double t0 = now();
    ck_assert_err(coio_writer_drain(w), ETIMEDOUT);
    ck_assert_time(now() - t0, 0.045, 1.0);
    size_t queued = coio_writer_buffer_size(w);
    ck_assert_uint_gt(queued, 0);
    /* Still usable: a reader appears and the next drain succeeds. */
    coio_task *t = coio_spawn(read_all_peer, (void *)(intptr_t)peer);
    ck_assert_int_eq(coio_writer_set_timeout(w, 5), 0);
    ck_assert_int_eq(coio_writer_drain(w), 0);
    ck_assert_int_eq(coio_writer_write(w, "end", 3), 0);
    coio_writer_close(w);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    void *total;
    ck_assert_int_eq(coio_await(t, &total), 0);
    ck_assert_uint_eq((size_t)total, sizeof big + 3);
    coio_task_release(t);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_close(peer);
}

START_TEST(test_writer_timeout_bounds_drain) { RUN(write_timeout); }
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_SV1_close_stops_listening_clients_go_on);
    tcase_add_test(tc, test_SV2_wait_closed_waits_for_connections);
    tcase_add_test(tc, test_SV3_close_clients_flushes_then_eof);
    tcase_add_test(tc, test_SV3_close_clients_ends_idle_connections);
    tcase_add_test(tc, test_SV4_abort_clients_discards_queued_output);
    tcase_add_test(tc, test_SV2_wait_closed_waits_for_output_after_handler);
    tcase_add_test(tc, test_SV4_abort_clients_ends_connections_after_handler);
    tcase_add_test(tc, test_SV5_cancel_serve_forever_closes_and_waits);
    suite_add_tcase(s, tc);
    tc = tcase_create("timeout");
    tcase_add_test(tc, test_reader_timeout_per_call_keeps_data);
    tcase_add_test(tc, test_writer_timeout_bounds_drain);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(make_suite)
