/* check_datagram.c — datagram endpoints (DG1-DG6): UDP over IPv4 and IPv6 and Unix
 * datagram sockets, options, sendto's address rules and its wait for writability in
 * order, truncation, ECONNREFUSED on a connected endpoint, empty datagrams, the plain-fd
 * calls, close under a waiting receiver, and 10,000 datagrams each way.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef void (*body_fn)(void);

static void *run_body(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

#define RUN(body) ck_assert_int_eq(run_main(run_body, (void *)(body), NULL), 0)

static coio_datagram *bound_v4(void)
{
    coio_datagram *d = coio_datagram_open("127.0.0.1", 0, NULL, 0, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_gt(coio_datagram_port(d), 0);
    return d;
}

/* ---- DG1: endpoints and options -------------------------------------------------------------- */

static void dg1(void)
{
    coio_datagram *srv = bound_v4();
    int port = coio_datagram_port(srv);
    coio_datagram *cli = coio_datagram_open(NULL, -1, "127.0.0.1", port, NULL);
    ck_assert_ptr_nonnull(cli);
    ck_assert_int_eq(coio_datagram_send(cli, "ping", 4), 4);
    char buf[16];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    int trunc = -1;
    ck_assert_int_eq(coio_datagram_recvfrom(srv, buf, sizeof buf, (struct sockaddr *)&from, &fl,
                                            &trunc), 4);
    ck_assert(memcmp(buf, "ping", 4) == 0);
    ck_assert_int_eq(trunc, 0);
    ck_assert_int_eq(fl, sizeof from);
    ck_assert_int_eq(ntohs(from.sin_port), coio_datagram_port(cli));
    ck_assert_int_eq(coio_datagram_sendto(srv, "pong", 4, (struct sockaddr *)&from, fl), 4);
    ck_assert_int_eq(coio_datagram_recvfrom(cli, buf, sizeof buf, NULL, NULL, NULL), 4);
    ck_assert(memcmp(buf, "pong", 4) == 0);
    /* reuse_port: two endpoints on one port; without it, EADDRINUSE. */
    coio_datagram_opts o = {.reuse_port = 1};
    coio_datagram *a = coio_datagram_open("127.0.0.1", 0, NULL, 0, &o);
    ck_assert_ptr_nonnull(a);
    coio_datagram *b = coio_datagram_open("127.0.0.1", coio_datagram_port(a), NULL, 0, &o);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(coio_datagram_open("127.0.0.1", coio_datagram_port(a), NULL, 0, NULL));
    ck_assert_int_eq(errno, EADDRINUSE);
    /* allow_broadcast sets SO_BROADCAST. */
    coio_datagram_opts ob = {.allow_broadcast = 1};
    coio_datagram *c = coio_datagram_open("0.0.0.0", 0, NULL, 0, &ob);
    ck_assert_ptr_nonnull(c);
    int v = 0;
    socklen_t vl = sizeof v;
    ck_assert_int_eq(getsockopt(coio_datagram_fd(c), SOL_SOCKET, SO_BROADCAST, &v, &vl), 0);
    ck_assert_int_eq(v, 1);
    /* Bad input. */
    ck_assert_ptr_null(coio_datagram_open(NULL, -1, NULL, 0, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_datagram_open("127.0.0.1", 70000, NULL, 0, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_datagram_open(NULL, -1, "127.0.0.1", -3, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_err(coio_datagram_recvfrom(NULL, buf, 1, NULL, NULL, NULL), EINVAL);
    ck_assert_err(coio_datagram_port(NULL), EINVAL);
    coio_datagram_close(a);
    coio_datagram_close(b);
    coio_datagram_close(c);
    coio_datagram_close(cli);
    coio_datagram_close(srv);
    coio_datagram_close(NULL);
}

START_TEST(test_DG1_udp_endpoints_and_options) { RUN(dg1); }
END_TEST

static void dg1_v6(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    int kernel_err = errno;
    if (fd >= 0)
        close(fd);
    coio_datagram *srv = coio_datagram_open("::1", 0, NULL, 0, NULL);
    if (!ok) {
        ck_assert_ptr_null(srv);
        ck_assert_int_eq(errno, kernel_err);
        return;
    }
    ck_assert_ptr_nonnull(srv);
    coio_datagram *cli = coio_datagram_open(NULL, -1, "::1", coio_datagram_port(srv), NULL);
    ck_assert_ptr_nonnull(cli);
    ck_assert_int_eq(coio_datagram_send(cli, "six", 3), 3);
    char buf[8];
    struct sockaddr_in6 from;
    socklen_t fl = sizeof from;
    ck_assert_int_eq(coio_datagram_recvfrom(srv, buf, sizeof buf, (struct sockaddr *)&from, &fl,
                                            NULL), 3);
    ck_assert_int_eq(from.sin6_family, AF_INET6);
    ck_assert_int_eq(coio_datagram_sendto(srv, "xis", 3, (struct sockaddr *)&from, fl), 3);
    ck_assert_int_eq(coio_datagram_recvfrom(cli, buf, sizeof buf, NULL, NULL, NULL), 3);
    ck_assert(memcmp(buf, "xis", 3) == 0);
    coio_datagram_close(cli);
    coio_datagram_close(srv);
}

START_TEST(test_DG1_udp_ipv6) { RUN(dg1_v6); }
END_TEST

static void unix_paths(char *a, char *b, size_t n)
{
    snprintf(a, n, "/tmp/coio_dg_a_%d", (int)getpid());
    snprintf(b, n, "/tmp/coio_dg_b_%d", (int)getpid());
    unlink(a);
    unlink(b);
}

static void dg1_unix(void)
{
    char pa[64], pb[64];
    unix_paths(pa, pb, sizeof pa);
    coio_datagram *a = coio_datagram_open_unix(pa, NULL, NULL);
    ck_assert_ptr_nonnull(a);
    coio_datagram *b = coio_datagram_open_unix(pb, pa, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(coio_datagram_send(b, "unix", 4), 4);
    char buf[8];
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    ck_assert_int_eq(coio_datagram_recvfrom(a, buf, sizeof buf, (struct sockaddr *)&from, &fl,
                                            NULL), 4);
    ck_assert_str_eq(from.sun_path, pb);
    ck_assert_int_eq(coio_datagram_sendto(a, "back", 4, (struct sockaddr *)&from, fl), 4);
    ck_assert_int_eq(coio_datagram_recvfrom(b, buf, sizeof buf, NULL, NULL, NULL), 4);
    ck_assert(memcmp(buf, "back", 4) == 0);
    ck_assert_err(coio_datagram_port(a), EAFNOSUPPORT);
    coio_datagram_close(a);
    coio_datagram_close(b);
    ck_assert_int_eq(access(pa, F_OK), -1); /* the files are gone */
    ck_assert_int_eq(access(pb, F_OK), -1);
    ck_assert_ptr_null(coio_datagram_open_unix(NULL, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    ck_assert_ptr_null(coio_datagram_open_unix(longp, NULL, NULL));
    ck_assert_int_eq(errno, ENAMETOOLONG);
    ck_assert_ptr_null(coio_datagram_open_unix(NULL, pa, NULL)); /* nobody there */
    ck_assert_int_eq(errno, ENOENT);
}

START_TEST(test_DG1_unix_datagram_endpoints) { RUN(dg1_unix); }
END_TEST

/* ---- DG2: sendto's address rules, waiting in order ------------------------------------------ */

struct snd {
    coio_datagram *d;
    const char *msg;
    ssize_t rc;
};

static void *sender(void *arg)
{
    struct snd *s = arg;
    s->rc = coio_datagram_send(s->d, s->msg, strlen(s->msg));
    return NULL;
}

static void dg2(void)
{
    coio_datagram *srv = bound_v4();
    coio_datagram *cli = coio_datagram_open(NULL, -1, "127.0.0.1", coio_datagram_port(srv), NULL);
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_port = htons(9),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_err(coio_datagram_sendto(cli, "x", 1, (struct sockaddr *)&other, sizeof other),
                  EISCONN);
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    coio_datagram_sockname(srv, (struct sockaddr *)&peer, &pl);
    ck_assert_int_eq(coio_datagram_sendto(cli, "y", 1, (struct sockaddr *)&peer, pl), 1);
    ck_assert_err(coio_datagram_sendto(srv, "z", 1, NULL, 0), EDESTADDRREQ);
    coio_datagram_close(cli);
    coio_datagram_close(srv);

    /* A full Unix datagram queue: senders wait, then go in the order they called. */
    char pa[64], pb[64];
    unix_paths(pa, pb, sizeof pa);
    coio_datagram *a = coio_datagram_open_unix(pa, NULL, NULL);
    coio_datagram *b = coio_datagram_open_unix(pb, pa, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    int filled = 0;
    while (send(coio_datagram_fd(b), "f", 1, MSG_DONTWAIT) == 1)
        filled++;
    ck_assert_int_eq(errno, EAGAIN);
    struct snd s1 = {b, "first", 0}, s2 = {b, "second", 0}, s3 = {b, "third", 0};
    coio_task *t1 = coio_spawn(sender, &s1);
    coio_task *t2 = coio_spawn(sender, &s2);
    coio_task *t3 = coio_spawn(sender, &s3);
    coio_sleep(0.02);
    ck_assert(!coio_task_done(t1) && !coio_task_done(t2) && !coio_task_done(t3));
    char buf[16];
    for (int i = 0; i < filled; i++)
        ck_assert_int_eq(coio_datagram_recvfrom(a, buf, sizeof buf, NULL, NULL, NULL), 1);
    const char *order[] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        ssize_t n = coio_datagram_recvfrom(a, buf, sizeof buf, NULL, NULL, NULL);
        ck_assert_int_eq(n, (ssize_t)strlen(order[i]));
        ck_assert(memcmp(buf, order[i], (size_t)n) == 0);
    }
    coio_await(t1, NULL);
    coio_await(t2, NULL);
    coio_await(t3, NULL);
    ck_assert_int_eq(s1.rc, 5);
    ck_assert_int_eq(s2.rc, 6);
    ck_assert_int_eq(s3.rc, 5);
    coio_task_release(t1);
    coio_task_release(t2);
    coio_task_release(t3);
    /* A waiting sender cancelled sends nothing; one closed under gets EBADF. */
    while (send(coio_datagram_fd(b), "f", 1, MSG_DONTWAIT) == 1)
        ;
    struct snd s4 = {b, "cancelled", 0}, s5 = {b, "closed", 0};
    coio_task *t4 = coio_spawn(sender, &s4);
    coio_task *t5 = coio_spawn(sender, &s5);
    coio_sleep(0.01);
    coio_cancel(t4);
    coio_await(t4, NULL);
    coio_absorb_cancel();
    ck_assert_int_eq(s4.rc, -1);
    coio_datagram_close(b);
    coio_await(t5, NULL);
    ck_assert_int_eq(s5.rc, -1);
    coio_task_release(t4);
    coio_task_release(t5);
    coio_datagram_close(a);
}

START_TEST(test_DG2_sendto_rules_and_waiting_senders_in_order) { RUN(dg2); }
END_TEST

/* ---- DG3, DG5: truncation and empty datagrams ------------------------------------------------ */

static void dg3(void)
{
    coio_datagram *srv = bound_v4();
    coio_datagram *cli = coio_datagram_open(NULL, -1, "127.0.0.1", coio_datagram_port(srv), NULL);
    char big[100], buf[10];
    memset(big, 'q', sizeof big);
    big[0] = 'A';
    ck_assert_int_eq(coio_datagram_send(cli, big, sizeof big), 100);
    ck_assert_int_eq(coio_datagram_send(cli, "", 0), 0); /* DG5 */
    ck_assert_int_eq(coio_datagram_send(cli, "ok", 2), 2);
    int trunc = 0;
    ck_assert_int_eq(coio_datagram_recvfrom(srv, buf, sizeof buf, NULL, NULL, &trunc), 10);
    ck_assert_int_eq(trunc, 1);
    ck_assert_int_eq(buf[0], 'A');
    /* The rest of the long one is gone: next is the empty datagram, then "ok". */
    ck_assert_int_eq(coio_datagram_recvfrom(srv, buf, sizeof buf, NULL, NULL, &trunc), 0);
    ck_assert_int_eq(trunc, 0);
    ck_assert_int_eq(coio_datagram_recvfrom(srv, buf, sizeof buf, NULL, NULL, &trunc), 2);
    ck_assert_int_eq(trunc, 0);
    coio_datagram_close(cli);
    coio_datagram_close(srv);
}

START_TEST(test_DG3_DG5_truncation_reported_and_empty_datagrams) { RUN(dg3); }
END_TEST

/* ---- DG4: ECONNREFUSED on a connected endpoint ----------------------------------------------- */

static void dg4(void)
{
    /* A port nobody listens on (bound, then closed). */
    coio_datagram *tmp = bound_v4();
    int port = coio_datagram_port(tmp);
    coio_datagram_close(tmp);
    coio_datagram *cli = coio_datagram_open(NULL, -1, "127.0.0.1", port, NULL);
    ck_assert_ptr_nonnull(cli);
    ck_assert_int_eq(coio_datagram_send(cli, "anyone?", 7), 7);
    char buf[16];
    ck_assert_err(coio_datagram_recvfrom(cli, buf, sizeof buf, NULL, NULL, NULL), ECONNREFUSED);
    /* Still usable: someone binds the port, and the next exchange works. */
    coio_datagram *srv = coio_datagram_open("127.0.0.1", port, NULL, 0, NULL);
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(coio_datagram_send(cli, "now", 3), 3);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ck_assert_int_eq(coio_datagram_recvfrom(srv, buf, sizeof buf, (struct sockaddr *)&from, &fl,
                                            NULL), 3);
    ck_assert_int_eq(coio_datagram_sendto(srv, "yes", 3, (struct sockaddr *)&from, fl), 3);
    ck_assert_int_eq(coio_datagram_recvfrom(cli, buf, sizeof buf, NULL, NULL, NULL), 3);
    coio_datagram_close(srv);
    coio_datagram_close(cli);
}

START_TEST(test_DG4_connected_endpoint_gets_econnrefused_and_stays_usable) { RUN(dg4); }
END_TEST

/* ---- DG6: plain sockets; close under a receiver ----------------------------------------------- */

static void *recv_one(void *arg)
{
    char buf[8];
    ssize_t n = coio_datagram_recvfrom(arg, buf, sizeof buf, NULL, NULL, NULL);
    return (void *)(intptr_t)(n < 0 ? -errno : n);
}

static void dg6(void)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0); /* blocking */
    ck_assert_int_eq(coio_sock_sendto(sv[0], "plain", 5, NULL, 0), 5);
    char buf[8];
    int trunc = -1;
    ck_assert_int_eq(coio_sock_recvfrom(sv[1], buf, 3, NULL, NULL, &trunc), 3);
    ck_assert_int_eq(trunc, 1);
    ck_assert_err(coio_sock_recvfrom(-1, buf, 3, NULL, NULL, NULL), EBADF);
    ck_assert_err(coio_sock_recvfrom(sv[1], NULL, 3, NULL, NULL, NULL), EINVAL);
    close(sv[0]);
    close(sv[1]);
    /* A receiver waiting when the endpoint closes gets EBADF; a second one EBUSY. */
    coio_datagram *d = bound_v4();
    coio_task *t = coio_spawn(recv_one, d);
    coio_sleep(0.01);
    ck_assert_err(coio_datagram_recvfrom(d, buf, sizeof buf, NULL, NULL, NULL), EBUSY);
    coio_datagram_close(d);
    void *res;
    ck_assert_int_eq(coio_await(t, &res), 0);
    ck_assert_int_eq((intptr_t)res, -EBADF);
    coio_task_release(t);
}

START_TEST(test_DG6_plain_socket_calls_and_close_under_receiver)
{
    RUN(dg6);
    ck_assert_err(coio_sock_sendto(1, "x", 1, NULL, 0), EINVAL); /* outside a task */
}
END_TEST

/* ---- 10,000 datagrams each way ----------------------------------------------------------------- */

#define NDG 10000

static void *echo_task(void *arg)
{
    coio_datagram *d = arg;
    char buf[256];
    for (int i = 0; i < NDG; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = coio_datagram_recvfrom(d, buf, sizeof buf, (struct sockaddr *)&from, &fl, NULL);
        if (n < 0 || coio_datagram_sendto(d, buf, (size_t)n, (struct sockaddr *)&from, fl) != n)
            return (void *)1;
    }
    return NULL;
}

static void ten_thousand(void)
{
    coio_datagram *srv = bound_v4();
    coio_datagram *cli = coio_datagram_open(NULL, -1, "127.0.0.1", coio_datagram_port(srv), NULL);
    coio_task *e = coio_spawn(echo_task, srv);
    int sent = 0, got = 0;
    char out[64], in[64];
    while (got < NDG) {
        while (sent < NDG && sent - got < 32) { /* a window keeps the buffers from overflowing */
            memset(out, 0, sizeof out);
            memcpy(out, &sent, sizeof sent);
            ck_assert_int_eq(coio_datagram_send(cli, out, sizeof out), (ssize_t)sizeof out);
            sent++;
        }
        ck_assert_int_eq(coio_datagram_recvfrom(cli, in, sizeof in, NULL, NULL, NULL), (ssize_t)sizeof in);
        int seq;
        memcpy(&seq, in, sizeof seq);
        ck_assert_int_eq(seq, got); /* none lost, in order */
        got++;
    }
    void *res = (void *)1;
    ck_assert_int_eq(coio_await(e, &res), 0);
    ck_assert_ptr_null(res);
    coio_task_release(e);
    coio_datagram_close(cli);
    coio_datagram_close(srv);
}

START_TEST(test_DG3_10000_datagrams_each_way_none_lost) { RUN(ten_thousand); }
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("datagram");
    TCase *tc = tcase_create("datagram");
    tcase_set_timeout(tc, 120); /* 10,000 round trips pinned to one loaded CPU are slow */
    tcase_add_test(tc, test_DG1_udp_endpoints_and_options);
    tcase_add_test(tc, test_DG1_udp_ipv6);
    tcase_add_test(tc, test_DG1_unix_datagram_endpoints);
    tcase_add_test(tc, test_DG2_sendto_rules_and_waiting_senders_in_order);
    tcase_add_test(tc, test_DG3_DG5_truncation_reported_and_empty_datagrams);
    tcase_add_test(tc, test_DG4_connected_endpoint_gets_econnrefused_and_stays_usable);
    tcase_add_test(tc, test_DG6_plain_socket_calls_and_close_under_receiver);
    tcase_add_test(tc, test_DG3_10000_datagrams_each_way_none_lost);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(make_suite)
