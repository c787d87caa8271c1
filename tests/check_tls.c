/* check_tls.c — TLS streams over OpenSSL (TLS1-TLS6): handshake and echo, the reader's
 * calls over TLS, verification failures (wrong host name, self-signed, expired), the
 * handshake timeout, close_notify vs an unclean close, no half-close, STARTTLS, the
 * session's facts, 10 MiB each way with backpressure, 500 concurrent clients,
 * cancellation mid-handshake (connect, start_tls) and mid-read (mid-record too)
 * leaking nothing, the close_notify exchange at close within the shutdown timeout,
 * and client certificates (mutual TLS).
 *
 * The certificates are made for this run with the openssl command in a temporary
 * directory (removed at exit): a CA, a server certificate for localhost/127.0.0.1
 * signed by it, an expired one, a self-signed one, a client certificate signed by
 * the CA and one signed by a second CA. No key is committed.
 */
#include "helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#if COIO_TLS
#include <openssl/ssl.h>
#endif

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

static char dir[256];
static char ca_pem[300], srv_pem[300], srv_key[300], exp_pem[300], self_pem[300], self_key[300];
static char cli_pem[300], cli_key[300], cli2_pem[300], cli2_key[300]; /* client certificates */

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

/* The certificates; 0, or -1 when the openssl command is missing or failed. */
static int make_certs(void)
{
    if (sh("command -v openssl >/dev/null 2>&1") < 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/coio-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", dir);
    snprintf(srv_pem, sizeof srv_pem, "%s/srv.pem", dir);
    snprintf(srv_key, sizeof srv_key, "%s/srv.key", dir);
    snprintf(exp_pem, sizeof exp_pem, "%s/exp.pem", dir);
    snprintf(self_pem, sizeof self_pem, "%s/self.pem", dir);
    snprintf(self_key, sizeof self_key, "%s/self.key", dir);
    snprintf(cli_pem, sizeof cli_pem, "%s/cli.pem", dir);
    snprintf(cli_key, sizeof cli_key, "%s/cli.key", dir);
    snprintf(cli2_pem, sizeof cli2_pem, "%s/cli2.pem", dir);
    snprintf(cli2_key, sizeof cli2_key, "%s/cli2.key", dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
             "openssl req -x509 $EC -keyout ca.key -out ca.pem -subj '/CN=coio test CA' -days 2 "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
             "openssl req -new $EC -keyout srv.key -out srv.csr -subj '/CN=localhost/O=coio' && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-extfile ext.cnf -out srv.pem && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -days -1 "
             "-extfile ext.cnf -out exp.pem && "
             "openssl req -x509 $EC -keyout self.key -out self.pem -subj '/CN=localhost' -days 2 "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 && "
             /* a client's, signed by the CA; another signed by a second CA */
             "openssl req -new $EC -keyout cli.key -out cli.csr -subj '/CN=coio client/O=coio' && "
             "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -days 2 -out cli.pem && "
             "openssl req -x509 $EC -keyout ca2.key -out ca2.pem -subj '/CN=other CA' -days 2 "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
             "openssl req -new $EC -keyout cli2.key -out cli2.csr -subj '/CN=coio client' && "
             "openssl x509 -req -in cli2.csr -CA ca2.pem -CAkey ca2.key -CAcreateserial -days 2 "
             "-out cli2.pem"
             ") >/dev/null 2>&1",
             dir);
    /* the subshell keeps the cd local */
    char full[4200];
    snprintf(full, sizeof full, "( %s", cmd);
    return sh(full);
}

static void remove_certs(void)
{
    if (!dir[0])
        return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    sh(cmd);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Close the server, wait for its connections, release it and both contexts. */
static void close_all(coio_server *s, coio_tls_context *sc, coio_tls_context *cc)
{
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}

static unsigned char pattern(unsigned seed, size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u + seed * 40503u;
    return (unsigned char)((x >> 13) ^ (x >> 24) ^ (uint32_t)(i >> 10));
}

typedef void (*body_fn)(void);

static void *run_body(void *arg)
{
    ((body_fn)arg)();
    return NULL;
}

#define RUN(body) ck_assert_msg(run_main(run_body, (void *)(body), NULL) == 0, "run: %s", strerror(errno))

static coio_tls_context *server_ctx(const char *cert, const char *key)
{
    coio_tls_context *c = coio_tls_context_new(COIO_TLS_SERVER);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(coio_tls_context_load_cert_chain(c, cert, key), 0);
    return c;
}

/* A client context trusting our CA (else: the system store only). */
static coio_tls_context *client_ctx(bool trust_ca)
{
    coio_tls_context *c = coio_tls_context_new(COIO_TLS_CLIENT);
    ck_assert_ptr_nonnull(c);
    if (trust_ca)
        ck_assert_int_eq(coio_tls_context_load_verify_locations(c, ca_pem, NULL), 0);
    return c;
}

/* ---- servers ------------------------------------------------------------------------ */

struct srvstate {
    int calls;          /* handler entries */
    int done;
    char alpn[32];
    char version[32];
};

/* Echo lines until EOF. */
static int echo_handler(coio_reader *r, coio_writer *w, void *arg)
{
    struct srvstate *st = arg;
    st->calls++;
    const char *a = coio_writer_tls_alpn(w);
    snprintf(st->alpn, sizeof st->alpn, "%s", a ? a : "-");
    const char *v = coio_writer_tls_version(w);
    snprintf(st->version, sizeof st->version, "%s", v ? v : "-");
    char line[256];
    ssize_t n;
    while ((n = coio_reader_readline(r, line, sizeof line)) > 0) {
        if (coio_writer_write(w, line, (size_t)n) < 0 || coio_writer_drain(w) < 0)
            break;
    }
    st->done++;
    return 0;
}

static coio_server *tls_server(coio_client_cb cb, void *arg, coio_tls_context *ctx, double hs_timeout)
{
    coio_stream_opts o = {.tls = ctx, .tls_handshake_timeout = hs_timeout};
    coio_server *s = coio_start_server(cb, arg, "127.0.0.1", 0, &o);
    ck_assert_ptr_nonnull(s);
    return s;
}

static int connect_tls(int port, coio_tls_context *ctx, const char *host, const char *sni,
                       coio_reader **r, coio_writer **w)
{
    coio_stream_opts o = {.tls = ctx, .server_hostname = sni};
    return coio_open_connection(host, port, &o, r, w);
}

/* ---- TLS1: handshake, echo, verification ----------------------------------------------- */

static void tls1_echo(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    const char *salpn[] = {"h2", "http/1.1"};
    ck_assert_int_eq(coio_tls_context_set_alpn(sc, salpn, 2), 0);
    struct srvstate st = {0};
    coio_server *s = tls_server(echo_handler, &st, sc, 0);
    coio_tls_context_release(sc); /* the server keeps its own reference */
    coio_tls_context *cc = client_ctx(true);
    const char *calpn[] = {"http/1.1"};
    ck_assert_int_eq(coio_tls_context_set_alpn(cc, calpn, 1), 0);
    coio_reader *r;
    coio_writer *w;
    /* host "localhost": resolved, SNI and host-name check from it (TLS1) */
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    coio_tls_context_release(cc);
    ck_assert_str_eq(coio_writer_tls_version(w), "TLSv1.3");
    ck_assert_ptr_nonnull(coio_writer_tls_cipher(w));
    ck_assert_str_eq(coio_writer_tls_alpn(w), "http/1.1");
    ck_assert_ptr_nonnull(coio_writer_ssl(w));
    char subj[128];
    int k = coio_writer_tls_peer_subject(w, subj, sizeof subj);
    ck_assert_int_gt(k, 0);
    ck_assert_str_eq(subj, "O=coio,CN=localhost");
    ck_assert_err(coio_writer_tls_peer_subject(w, subj, 4), ENOBUFS);
    for (int i = 0; i < 3; i++) {
        char msg[32], got[64];
        int n = snprintf(msg, sizeof msg, "hello %d\n", i);
        ck_assert_int_eq(coio_writer_write(w, msg, (size_t)n), 0);
        ck_assert_int_eq(coio_reader_readline(r, got, sizeof got), n);
        ck_assert(memcmp(got, msg, (size_t)n) == 0);
    }
    ck_assert_int_eq(st.calls, 1);
    ck_assert_str_eq(st.alpn, "http/1.1");
    ck_assert_str_eq(st.version, "TLSv1.3");
    /* the server's side has no client certificate */
    coio_writer_close(w);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_int_eq(st.done, 1);
    coio_server_release(s);
    /* a plain stream has no TLS facts */
    ck_assert_ptr_null(coio_writer_tls_version(NULL));
}
START_TEST(test_TLS1_handshake_echo_alpn_and_info) { RUN(tls1_echo); }
END_TEST

/* A server writing a script of pieces, then closing (close_notify). */
static const char *script[] = {"line one\nline ", "two\nfield1;field2;", "0123456789", "tail", NULL};

static int script_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    for (int i = 0; script[i]; i++) {
        if (coio_writer_write(w, script[i], strlen(script[i])) < 0 || coio_writer_drain(w) < 0)
            return -1;
        coio_sleep(0.01);
    }
    return 0;
}

static void tls1_reads(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_server *s = tls_server(script_handler, NULL, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "127.0.0.1", NULL, &r, &w), 0);
    char buf[64];
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 9);
    ck_assert(memcmp(buf, "line one\n", 9) == 0);
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 9);
    ck_assert(memcmp(buf, "line two\n", 9) == 0);
    ck_assert_int_eq(coio_reader_readuntil(r, buf, sizeof buf, ";", 1, NULL), 7);
    ck_assert(memcmp(buf, "field1;", 7) == 0);
    ck_assert_int_eq(coio_reader_readuntil(r, buf, sizeof buf, ";", 1, NULL), 7);
    ck_assert_int_eq(coio_reader_readexactly(r, buf, 10, NULL), 10);
    ck_assert(memcmp(buf, "0123456789", 10) == 0);
    /* close_notify is EOF: the tail is an IncompleteReadError of readexactly */
    coio_read_info info;
    ck_assert_err(coio_reader_readexactly(r, buf, 10, &info), ENODATA);
    ck_assert_uint_eq(info.partial_len, 4);
    ck_assert(memcmp(buf, "tail", 4) == 0);
    ck_assert_int_eq(coio_reader_read(r, buf, sizeof buf), 0);
    ck_assert_int_eq(coio_reader_at_eof(r), 1);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS1_readline_readuntil_readexactly_over_tls) { RUN(tls1_reads); }
END_TEST

static int refused_calls;

static int never_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)w;
    (void)arg;
    refused_calls++;
    return 0;
}

/* Connect with cc to a server of cert/key; return the errno and the reason. */
static int refused(const char *cert, const char *key, coio_tls_context *cc, const char *host,
                   const char *sni, char *why, size_t len)
{
    coio_tls_context *sc = server_ctx(cert, key);
    coio_server *s = tls_server(never_handler, NULL, sc, 0);
    coio_reader *r = (coio_reader *)1;
    coio_writer *w = (coio_writer *)1;
    int fds = count_fds();
    errno = 0;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, host, sni, &r, &w), -1);
    int e = errno;
    ck_assert_ptr_null(r);
    ck_assert_ptr_null(w);
    const char *m = coio_stream_tls_error(NULL);
    snprintf(why, len, "%s", m ? m : "");
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_int_eq(count_fds(), fds - 1); /* the connection was closed (and the listener) */
    coio_server_release(s);
    coio_tls_context_release(sc);
    return e;
}

static void tls1_refusals(void)
{
    char why[200];
    refused_calls = 0;
    coio_tls_context *cc = client_ctx(true);
    /* the name in the certificate is localhost/127.0.0.1 */
    ck_assert_int_eq(refused(srv_pem, srv_key, cc, "127.0.0.1", "example.com", why, sizeof why),
                     EBADMSG);
    ck_assert_msg(strstr(why, "ostname mismatch") != NULL, "why: %s", why);
    ck_assert_int_eq(refused(exp_pem, srv_key, cc, "localhost", NULL, why, sizeof why), EBADMSG);
    ck_assert_msg(strstr(why, "expired") != NULL, "why: %s", why);
    /* a self-signed certificate without its CA trusted (the default context trusts
       only the system store) */
    coio_tls_context *sys = client_ctx(false);
    ck_assert_int_eq(refused(self_pem, self_key, sys, "localhost", NULL, why, sizeof why), EBADMSG);
    ck_assert_msg(strstr(why, "self-signed") != NULL || strstr(why, "self signed") != NULL,
                  "why: %s", why);
    /* our CA's server against the system store: not trusted either */
    ck_assert_int_eq(refused(srv_pem, srv_key, sys, "localhost", NULL, why, sizeof why), EBADMSG);
    coio_tls_context_release(sys);
    ck_assert_int_eq(refused_calls, 0); /* no handler ran for a failed handshake */
    /* "" disables the host-name check: the chain is still verified */
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    struct srvstate st = {0};
    coio_server *s = tls_server(echo_handler, &st, sc, 0);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "127.0.0.1", "", &r, &w), 0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0); /* the handler is done with st */
    coio_server_release(s);
    coio_tls_context_release(sc);
    /* no host at all (a Unix socket) and host names checked: server_hostname needed */
    coio_stream_opts o = {.tls = cc};
    ck_assert_err(coio_open_unix_connection("/nonexistent-coio.sock", &o, &r, &w), ENOENT);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS1_wrong_host_self_signed_expired_refused) { RUN(tls1_refusals); }
END_TEST

static int unix_echo(coio_reader *r, coio_writer *w, void *arg) { return echo_handler(r, w, arg); }

static void tls1_unix(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_stream_opts so = {.tls = sc};
    struct srvstate st = {0};
    coio_server *s = coio_start_unix_server(unix_echo, &st, path, &so);
    ck_assert_ptr_nonnull(s);
    coio_tls_context *cc = client_ctx(true);
    coio_stream_opts o = {.tls = cc};
    coio_reader *r;
    coio_writer *w;
    ck_assert_err(coio_open_unix_connection(path, &o, &r, &w), EINVAL); /* TLS1: no name */
    o.server_hostname = "localhost";
    ck_assert_int_eq(coio_open_unix_connection(path, &o, &r, &w), 0);
    ck_assert_int_eq(coio_writer_write(w, "unix\n", 5), 0);
    char buf[16];
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 5);
    ck_assert_str_eq(coio_writer_tls_version(w), "TLSv1.3");
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0); /* the handler is done with st */
    ck_assert_int_eq(st.calls, 1); /* the connection without a name never reached it */
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS1_unix_socket_needs_server_hostname) { RUN(tls1_unix); }
END_TEST

static void tls_ctx_api(void)
{
    ck_assert_ptr_null(coio_tls_context_new(0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coio_tls_context_new(8));
    coio_tls_context *c = coio_tls_context_new(COIO_TLS_CLIENT);
    ck_assert_ptr_nonnull(c);
    /* as Python: no CERT_NONE while host names are checked */
    ck_assert_err(coio_tls_context_set_verify(c, COIO_TLS_VERIFY_NONE), EINVAL);
    ck_assert_int_eq(coio_tls_context_set_check_hostname(c, 0), 0);
    ck_assert_int_eq(coio_tls_context_set_verify(c, COIO_TLS_VERIFY_NONE), 0);
    ck_assert_err(coio_tls_context_set_verify(c, 7), EINVAL);
    ck_assert_err(coio_tls_context_set_min_version(c, 0x0301), EINVAL);
    ck_assert_int_eq(coio_tls_context_set_min_version(c, COIO_TLS_1_3), 0);
    const char *bad[] = {""};
    ck_assert_err(coio_tls_context_set_alpn(c, bad, 1), EINVAL);
    ck_assert_err(coio_tls_context_load_cert_chain(c, "/nonexistent.pem", NULL), ENOENT);
    ck_assert_err(coio_tls_context_load_cert_chain(c, srv_pem, self_key), EINVAL); /* mismatch */
    ck_assert_err(coio_tls_context_load_verify_locations(c, "/nonexistent.pem", NULL), ENOENT);
    ck_assert_int_eq(coio_tls_context_load_verify_locations(c, NULL, NULL), 0);
    ck_assert_ptr_eq(coio_tls_context_ref(c), c);
    coio_tls_context_release(c);
    void *raw = coio_tls_context_ssl_ctx(c);
    ck_assert_ptr_nonnull(raw);
    coio_tls_context *w = coio_tls_context_from_ssl_ctx(raw, COIO_TLS_CLIENT);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_eq(coio_tls_context_ssl_ctx(w), raw);
    coio_tls_context_release(c); /* the SSL_CTX lives on in w */
    coio_tls_context_release(w);
    ck_assert_ptr_null(coio_tls_context_from_ssl_ctx(NULL, COIO_TLS_CLIENT));
    ck_assert_int_eq(errno, EINVAL);
}
START_TEST(test_TLS1_context_api_and_errors) { RUN(tls_ctx_api); }
END_TEST

/* ---- TLS2: handshake timeout ------------------------------------------------------------ */

static int stall_calls;

/* A plain server whose clients never answer the ClientHello. */
static int stall_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)w;
    (void)arg;
    stall_calls++;
    char buf[4096];
    while (coio_reader_read(r, buf, sizeof buf) > 0)
        ;
    return 0;
}

static void tls2_timeout(void)
{
    coio_server *plain = coio_start_server(stall_handler, NULL, "127.0.0.1", 0, NULL);
    ck_assert_ptr_nonnull(plain);
    coio_tls_context *cc = client_ctx(true);
    coio_stream_opts o = {.tls = cc, .tls_handshake_timeout = 0.3};
    coio_reader *r;
    coio_writer *w;
    int fds = count_fds();
    double t0 = now();
    ck_assert_err(coio_open_connection("127.0.0.1", coio_server_port(plain), &o, &r, &w), ETIMEDOUT);
    ck_assert_time(now() - t0, 0.29, 2.0);
    ck_assert_str_eq(coio_stream_tls_error(NULL), "the TLS handshake timed out");
    coio_server_close(plain);
    ck_assert_int_eq(coio_server_wait_closed(plain), 0); /* its client saw EOF */
    ck_assert_int_eq(count_fds(), fds - 1); /* both ends and the listener are closed */
    coio_server_release(plain);

    /* the server's side: a client that connects and says nothing is dropped after
       the server's timeout, its handler never called */
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    refused_calls = 0;
    coio_server *s = tls_server(never_handler, NULL, sc, 0.3);
    ck_assert_int_eq(coio_open_connection("127.0.0.1", coio_server_port(s), NULL, &r, &w), 0);
    t0 = now();
    char buf[16];
    ck_assert_int_eq(coio_reader_read(r, buf, sizeof buf), 0); /* the server closed it */
    ck_assert_time(now() - t0, 0.29, 2.0);
    ck_assert_int_eq(refused_calls, 0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS2_stalled_handshake_times_out) { RUN(tls2_timeout); }
END_TEST

/* abort_clients while one client is mid-handshake and another's handler mid-read:
   both connections close at once, nothing is touched after it is freed (ASan). */
static void tls2_abort(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    struct srvstate st = {0};
    coio_server *s = tls_server(echo_handler, &st, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *ra, *rb;
    coio_writer *wa, *wb;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &ra, &wa), 0);
    ck_assert_int_eq(coio_open_connection("127.0.0.1", coio_server_port(s), NULL, &rb, &wb), 0);
    ck_assert_int_eq(coio_writer_write(wa, "x\n", 2), 0);
    char buf[16];
    ck_assert_int_eq(coio_reader_readline(ra, buf, sizeof buf), 2); /* A's handler reads again */
    ck_assert_int_eq(coio_sleep(0.05), 0);                         /* B's handshake waits */
    ck_assert_uint_eq(coio_server_nclients(s), 2);
    double t0 = now();
    ck_assert_int_eq(coio_server_abort_clients(s), 0);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_time(now() - t0, 0, 1.0);
    ck_assert_int_eq(st.calls, 1);
    ck_assert_int_eq(st.done, 1);
    ck_assert_int_eq(coio_reader_read(ra, buf, sizeof buf), 0); /* close_notify came */
    ck_assert_int_eq(coio_reader_read(rb, buf, sizeof buf), 0);
    coio_writer_release(wa);
    coio_reader_release(ra);
    coio_writer_release(wb);
    coio_reader_release(rb);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS2_abort_clients_mid_handshake_and_mid_read) { RUN(tls2_abort); }
END_TEST

/* ---- TLS3: close_notify is EOF, an unclean close is ECONNRESET ------------------------- */

static int unclean_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    coio_writer_write(w, "abc", 3);
    coio_writer_drain(w);
    coio_sleep(0.05);
    /* FIN without close_notify: what a crashed or careless peer does */
    shutdown(coio_writer_fd(w), SHUT_RDWR);
    return 0;
}

static void tls3_unclean(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_server *s = tls_server(unclean_handler, NULL, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    /* readexactly: the partial data is kept (IncompleteReadError), then ECONNRESET */
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    char buf[16];
    coio_read_info info;
    ck_assert_err(coio_reader_readexactly(r, buf, 10, &info), ENODATA);
    ck_assert_uint_eq(info.partial_len, 3);
    ck_assert(memcmp(buf, "abc", 3) == 0);
    ck_assert_err(coio_reader_read(r, buf, sizeof buf), ECONNRESET);
    ck_assert_err(coio_reader_readline(r, buf, sizeof buf), ECONNRESET);
    ck_assert_int_eq(coio_reader_at_eof(r), 1);
    ck_assert_msg(strstr(coio_stream_tls_error(w), "close_notify") != NULL, "%s",
                  coio_stream_tls_error(w));
    coio_writer_release(w);
    coio_reader_release(r);
    /* read: the bytes first, then ECONNRESET where EOF would be 0 */
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    ck_assert_int_eq(coio_reader_readexactly(r, buf, 3, NULL), 3);
    ck_assert_err(coio_reader_read(r, buf, sizeof buf), ECONNRESET);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS3_unclean_close_is_econnreset_with_data_kept) { RUN(tls3_unclean); }
END_TEST

/* ---- TLS4: no half-close ---------------------------------------------------------------- */

static void tls4(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    struct srvstate st = {0};
    coio_server *s = tls_server(echo_handler, &st, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    ck_assert_int_eq(coio_writer_can_write_eof(w), 0);
    ck_assert_err(coio_writer_write_eof(w), ENOTSUP);
    /* the stream still works */
    ck_assert_int_eq(coio_writer_write(w, "x\n", 2), 0);
    char buf[8];
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 2);
    /* close sends close_notify: the server's handler sees EOF and ends */
    coio_writer_close(w);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_int_eq(st.done, 1);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS4_no_half_close) { RUN(tls4); }
END_TEST

/* ---- TLS5: STARTTLS --------------------------------------------------------------------- */

static coio_tls_context *starttls_sc;

static int starttls_handler(coio_reader *r, coio_writer *w, void *arg)
{
    struct srvstate *st = arg;
    char line[64];
    ssize_t n = coio_reader_readline(r, line, sizeof line);
    if (n != 9 || memcmp(line, "STARTTLS\n", 9) != 0)
        return -1;
    coio_writer_write(w, "OK\n", 3);
    if (coio_writer_start_tls(w, starttls_sc, NULL) < 0)
        return 0; /* the client refused us: closed */
    return echo_handler(r, w, st);
}

static void tls5(void)
{
    starttls_sc = server_ctx(srv_pem, srv_key);
    struct srvstate st = {0};
    coio_server *s = coio_start_server(starttls_handler, &st, "127.0.0.1", 0, NULL);
    ck_assert_ptr_nonnull(s);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(coio_open_connection("127.0.0.1", coio_server_port(s), NULL, &r, &w), 0);
    ck_assert_ptr_null(coio_writer_tls_version(w));
    ck_assert_int_eq(coio_writer_write(w, "STARTTLS\n", 9), 0);
    char buf[64];
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 3);
    coio_stream_opts o = {.server_hostname = "localhost"};
    ck_assert_int_eq(coio_writer_start_tls(w, cc, &o), 0);
    ck_assert_err(coio_writer_start_tls(w, cc, &o), EALREADY);
    ck_assert_str_eq(coio_writer_tls_version(w), "TLSv1.3");
    ck_assert_int_eq(coio_writer_write(w, "secret\n", 7), 0);
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 7);
    ck_assert(memcmp(buf, "secret\n", 7) == 0);
    ck_assert_str_eq(st.version, "TLSv1.3");
    coio_writer_release(w);
    coio_reader_release(r);
    /* a failed upgrade (wrong name) closes the connection */
    ck_assert_int_eq(coio_open_connection("127.0.0.1", coio_server_port(s), NULL, &r, &w), 0);
    ck_assert_int_eq(coio_writer_write(w, "STARTTLS\n", 9), 0);
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 3);
    o.server_hostname = "example.com";
    ck_assert_err(coio_writer_start_tls(w, cc, &o), EBADMSG);
    ck_assert_int_eq(coio_writer_is_closing(w), 1);
    ck_assert_int_eq(coio_reader_read(r, buf, sizeof buf), 0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    coio_server_release(s);
    coio_tls_context_release(starttls_sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS5_start_tls_upgrades_in_place) { RUN(tls5); }
END_TEST

/* ---- TLS6: sendfile over TLS falls back to read + write (SF3) ------------------------ */

static char sf_path[300];
static int sf_nofallback_err;

static int sendfile_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    int fd = open(sf_path, O_RDONLY);
    if (fd < 0)
        return -1;
    errno = 0;
    if (coio_writer_sendfile(w, fd, 0, 0, COIO_SENDFILE_NO_FALLBACK) == -1)
        sf_nofallback_err = errno;
    ssize_t n = coio_writer_sendfile(w, fd, 1000, 300000, 0);
    off_t pos = lseek(fd, 0, SEEK_CUR);
    close(fd);
    return n == 300000 && pos == 301000 ? 0 : -1;
}

static void tls6_sendfile(void)
{
    snprintf(sf_path, sizeof sf_path, "%s/file.bin", dir);
    FILE *f = fopen(sf_path, "wb");
    for (size_t i = 0; i < 400000; i++)
        fputc(pattern(3, i), f);
    fclose(f);
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_server *s = tls_server(sendfile_handler, NULL, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    void *data;
    size_t len;
    ck_assert_int_eq(coio_reader_read_all(r, &data, &len), 0);
    ck_assert_uint_eq(len, 300000);
    for (size_t i = 0; i < len; i++)
        if (((unsigned char *)data)[i] != pattern(3, 1000 + i))
            ck_abort_msg("byte %zu differs", i);
    free(data);
    ck_assert_int_eq(sf_nofallback_err, EOPNOTSUPP);
    coio_writer_release(w);
    coio_reader_release(r);
    close_all(s, sc, cc);
}
START_TEST(test_TLS6_sendfile_falls_back_to_read_write) { RUN(tls6_sendfile); }
END_TEST

/* ---- bulk: 10 MiB each way with drain and water marks ---------------------------------- */

#define BULK (10u << 20)
static size_t bulk_size = BULK;
static double bulk_read_delay; /* the client starts reading late: the server's writes block */

static int bulk_echo(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    coio_writer_set_write_buffer_limits(w, 256 * 1024, 64 * 1024);
    char *buf = malloc(64 * 1024);
    ssize_t n;
    while ((n = coio_reader_read(r, buf, 64 * 1024)) > 0) {
        if (coio_writer_write(w, buf, (size_t)n) < 0 || coio_writer_drain(w) < 0)
            break;
        if (coio_writer_buffer_size(w) > 256 * 1024)
            abort(); /* drain returned above the high mark */
    }
    free(buf);
    return 0;
}

struct bulk_rd {
    coio_reader *r;
    size_t got;
    int bad;
};

static void *bulk_reader(void *arg)
{
    struct bulk_rd *b = arg;
    if (bulk_read_delay > 0)
        coio_sleep(bulk_read_delay);
    char *buf = malloc(50000);
    while (b->got < bulk_size) {
        ssize_t n = coio_reader_read(b->r, buf, 50000);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] != pattern(7, b->got + (size_t)i))
                b->bad++;
        b->got += (size_t)n;
    }
    free(buf);
    return NULL;
}

static void bulk_with(coio_tls_context *sc)
{
    coio_server *s = tls_server(bulk_echo, NULL, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    ck_assert_int_eq(coio_writer_set_write_buffer_limits(w, 128 * 1024, 32 * 1024), 0);
    struct bulk_rd b = {r, 0, 0};
    coio_task *t = coio_spawn(bulk_reader, &b);
    unsigned char *chunk = malloc(100000);
    size_t sent = 0;
    int waited = 0;
    while (sent < bulk_size) {
        size_t n = bulk_size - sent < 100000 ? bulk_size - sent : 100000;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(7, sent + i);
        ck_assert_int_eq(coio_writer_write(w, chunk, n), 0);
        sent += n;
        if (coio_writer_buffer_size(w) > 128 * 1024)
            waited++;
        ck_assert_int_eq(coio_writer_drain(w), 0);
        ck_assert_uint_le(coio_writer_buffer_size(w), 128 * 1024);
    }
    free(chunk);
    ck_assert_int_gt(waited, 0); /* backpressure happened */
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_uint_eq(b.got, bulk_size);
    ck_assert_int_eq(b.bad, 0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    coio_server_release(s);
    coio_tls_context_release(cc);
}

static void bulk(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    bulk_with(sc);
    coio_tls_context_release(sc);
}
START_TEST(test_TLS_10MiB_each_way_with_backpressure) { RUN(bulk); }
END_TEST

#if COIO_TLS
/* The user's own SSL_CTX, made with OpenSSL's defaults (no partial writes, no moving
   write buffer, no read-ahead): 8 MiB each way, the client reading late so that the
   server's writes block and are retried from its moved buffer: it works, as the
   stream sets what its writer needs per connection. */
static void own_ssl_ctx(void)
{
    SSL_CTX *raw = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(raw, srv_pem), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(raw, srv_key, SSL_FILETYPE_PEM), 1);
    coio_tls_context *sc = coio_tls_context_from_ssl_ctx(raw, COIO_TLS_SERVER);
    ck_assert_ptr_nonnull(sc);
    SSL_CTX_free(raw); /* the context holds its own reference */
    /* a client-only context cannot serve */
    coio_tls_context *cc = client_ctx(true);
    coio_stream_opts o = {.tls = cc};
    ck_assert_ptr_null(coio_start_server(echo_handler, NULL, "127.0.0.1", 0, &o));
    ck_assert_int_eq(errno, EINVAL);
    coio_tls_context_release(cc);
    bulk_size = 8u << 20;
    bulk_read_delay = 0.3;
    bulk_with(sc);
    coio_tls_context_release(sc);
}
START_TEST(test_TLS1_users_own_ssl_ctx) { RUN(own_ssl_ctx); }
END_TEST
#endif

/* ---- many clients ------------------------------------------------------------------------ */

struct many {
    int port;
    coio_tls_context *cc;
    int ok;
};

static void *many_client(void *arg)
{
    struct many *m = arg;
    coio_reader *r;
    coio_writer *w;
    if (connect_tls(m->port, m->cc, "localhost", NULL, &r, &w) < 0)
        return NULL;
    char msg[32], got[32];
    int n = snprintf(msg, sizeof msg, "client %p\n", (void *)&r);
    if (coio_writer_write(w, msg, (size_t)n) == 0 &&
        coio_reader_readline(r, got, sizeof got) == n && memcmp(got, msg, (size_t)n) == 0)
        m->ok++;
    coio_writer_release(w);
    coio_reader_release(r);
    return NULL;
}

static void many(void)
{
    int n = (int)(500 / slack());
    if (RUNNING_ON_VALGRIND)
        n = 50;
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    struct srvstate st = {0};
    coio_stream_opts so = {.tls = sc, .backlog = 1024};
    coio_server *s = coio_start_server(echo_handler, &st, "127.0.0.1", 0, &so);
    ck_assert_ptr_nonnull(s);
    struct many m = {coio_server_port(s), client_ctx(true), 0};
    coio_task **t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        t[i] = coio_spawn(many_client, &m);
        ck_assert_ptr_nonnull(t[i]);
    }
    for (int i = 0; i < n; i++) {
        coio_await(t[i], NULL);
        coio_task_release(t[i]);
    }
    free(t);
    ck_assert_int_eq(m.ok, n);
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    ck_assert_int_eq(st.calls, n);
    ck_assert_int_eq(st.done, n);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(m.cc);
}
START_TEST(test_TLS_500_concurrent_clients) { RUN(many); }
END_TEST

/* ---- cancellation ------------------------------------------------------------------------ */

struct cancel_arg {
    int port;
    coio_tls_context *cc;
    int rc, err;
    coio_reader *r;
    coio_writer *w;
};

static void *cancel_connect(void *arg)
{
    struct cancel_arg *a = arg;
    a->rc = connect_tls(a->port, a->cc, "localhost", NULL, &a->r, &a->w);
    a->err = errno;
    return NULL;
}

static int slow_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    char buf[8];
    if (coio_reader_readexactly(r, buf, 2, NULL) != 2) /* "go" */
        return 0;
    coio_writer_write(w, "late\n", 5);
    coio_writer_drain(w);
    coio_reader_read(r, buf, sizeof buf);
    return 0;
}

static void *cancel_read(void *arg)
{
    struct cancel_arg *a = arg;
    char buf[16];
    a->rc = (int)coio_reader_read(a->r, buf, sizeof buf);
    a->err = errno;
    return NULL;
}

static void cancellation(void)
{
    int fds = count_fds();
    coio_server *plain = coio_start_server(stall_handler, NULL, "127.0.0.1", 0, NULL);
    coio_tls_context *cc = client_ctx(true);
    struct cancel_arg a = {coio_server_port(plain), cc, 0, 0, NULL, NULL};
    /* mid-handshake: the server never answers */
    coio_task *t = coio_spawn(cancel_connect, &a);
    ck_assert_int_eq(coio_sleep(0.1), 0);
    coio_cancel(t);
    coio_await(t, NULL);
    coio_absorb_cancel(); /* t ended cancelled; its awaiter goes on (T11) */
    coio_task_release(t);
    ck_assert_int_eq(a.rc, -1);
    ck_assert_int_eq(a.err, ECANCELED);
    coio_server_close(plain);
    ck_assert_int_eq(coio_server_wait_closed(plain), 0); /* the connection was closed */
    coio_server_release(plain);

    /* mid-read: the read is cancelled, the reader stays usable, nothing is lost */
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_server *s = tls_server(slow_handler, NULL, sc, 0);
    a.port = coio_server_port(s);
    ck_assert_int_eq(connect_tls(a.port, cc, "localhost", NULL, &a.r, &a.w), 0);
    t = coio_spawn(cancel_read, &a);
    coio_sleep(0.05);
    coio_cancel(t);
    coio_await(t, NULL);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(a.rc, -1);
    ck_assert_int_eq(a.err, ECANCELED);
    ck_assert_int_eq(coio_writer_write(a.w, "go", 2), 0);
    char buf[16];
    ck_assert_int_eq(coio_reader_readline(a.r, buf, sizeof buf), 5);
    ck_assert(memcmp(buf, "late\n", 5) == 0);
    /* cancelled again mid-read, then the handles released: closed, nothing leaks */
    t = coio_spawn(cancel_read, &a);
    coio_sleep(0.05);
    coio_cancel(t);
    coio_await(t, NULL);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(a.err, ECANCELED);
    coio_writer_release(a.w);
    coio_reader_release(a.r);
    close_all(s, sc, cc);
    coio_sleep(0.01);
    ck_assert_int_eq(count_fds(), fds);
}
START_TEST(test_TLS2_cancel_mid_handshake_and_mid_read_leaks_nothing) { RUN(cancellation); }
END_TEST

/* The loop closing under a task parked in the handshake: closed, freed (ASan and
   valgrind runs check the "freed"). */
static void *orphan_main(void *arg)
{
    struct cancel_arg *a = arg;
    coio_server *plain = coio_start_server(stall_handler, NULL, "127.0.0.1", 0, NULL);
    a->port = coio_server_port(plain);
    coio_task *t = coio_spawn(cancel_connect, a);
    coio_task_release(t);
    coio_sleep(0.05);
    coio_server_release(plain);
    return NULL; /* coio_run cancels the connecting task and closes the loop */
}

START_TEST(test_TLS2_loop_ends_mid_handshake)
{
    int fds = count_fds();
    struct cancel_arg a = {0};
    a.cc = coio_tls_context_new(COIO_TLS_CLIENT);
    ck_assert_int_eq(coio_tls_context_load_verify_locations(a.cc, ca_pem, NULL), 0);
    ck_assert_int_eq(run_main(orphan_main, &a, NULL), 0);
    coio_tls_context_release(a.cc);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ---- cancellation mid-record, and of start_tls --------------------------------------------- */

#if COIO_TLS
#define REC_LEN 1000
static unsigned char rec_msg[REC_LEN];
static int split_rounds; /* records the split handler sent whole */

/* Two messages, each one TLS record sent in two parts: the first half at once, the
   rest after the client's "go". Then a line is echoed. The record is made by
   pointing the session's write side at a memory BIO for one SSL_write. */
static int split_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    SSL *ssl = coio_writer_ssl(w);
    int fd = coio_writer_fd(w);
    char line[64];
    for (int round = 0; round < 2; round++) {
        BIO *sock = SSL_get_wbio(ssl);
        BIO *mem = BIO_new(BIO_s_mem());
        if (!mem || !BIO_up_ref(sock))
            return 0;
        SSL_set0_wbio(ssl, mem);
        size_t done = 0;
        int ok = SSL_write_ex(ssl, rec_msg, REC_LEN, &done);
        char *p;
        long n = BIO_get_mem_data(mem, &p);
        unsigned char rec[REC_LEN + 256];
        if (ok && n > 0 && (size_t)n <= sizeof rec)
            memcpy(rec, p, (size_t)n);
        SSL_set0_wbio(ssl, sock); /* frees mem */
        if (!ok || n <= 0 || (size_t)n > sizeof rec)
            return 0;
        size_t half = (size_t)n / 2;
        if (write(fd, rec, half) != (ssize_t)half)
            return 0;
        if (coio_reader_readexactly(r, line, 2, NULL) != 2) /* "go" */
            return 0;
        if (write(fd, rec + half, (size_t)n - half) != (ssize_t)n - (ssize_t)half)
            return 0;
        split_rounds++;
    }
    ssize_t k = coio_reader_readline(r, line, sizeof line);
    if (k > 0 && coio_writer_write(w, line, (size_t)k) == 0)
        coio_writer_drain(w);
    while (coio_reader_read(r, line, sizeof line) > 0)
        ;
    return 0;
}

struct msg_read {
    coio_reader *r;
    unsigned char buf[REC_LEN];
    int rc, err;
};

static void *read_msg(void *arg)
{
    struct msg_read *m = arg;
    m->rc = (int)coio_reader_readexactly(m->r, m->buf, REC_LEN, NULL);
    m->err = errno;
    return NULL;
}

/* Wait (bounded) until the client's session holds part of a record. */
static void await_partial_record(SSL *ssl)
{
    for (int i = 0; i < 500 && !SSL_has_pending(ssl); i++)
        coio_sleep(0.01);
    ck_assert_int_eq(SSL_has_pending(ssl), 1);
}

/* A read cancelled, or timed out, while half a record sits in the session: the
   stream stays usable and nothing is lost (ST6, as over TCP; tls.c says why). */
static void tls2_mid_record(void)
{
    for (size_t i = 0; i < REC_LEN; i++)
        rec_msg[i] = pattern(7, i);
    split_rounds = 0;
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_server *s = tls_server(split_handler, NULL, sc, 0);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    SSL *cssl = coio_writer_ssl(w);
    struct msg_read m = {r, {0}, 0, 0};
    coio_task *t = coio_spawn(read_msg, &m);
    await_partial_record(cssl);
    coio_cancel(t);
    coio_await(t, NULL);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(m.rc, -1);
    ck_assert_int_eq(m.err, ECANCELED);
    ck_assert_int_eq(SSL_has_pending(cssl), 1); /* the half record is kept */
    ck_assert_int_eq(coio_writer_write(w, "go", 2), 0);
    ck_assert_int_eq(coio_reader_readexactly(r, m.buf, REC_LEN, NULL), REC_LEN);
    ck_assert(memcmp(m.buf, rec_msg, REC_LEN) == 0);
    ck_assert_int_eq(split_rounds, 1);
    /* the reader's timeout: the same */
    ck_assert_int_eq(coio_reader_set_timeout(r, 0.3), 0);
    ck_assert_err(coio_reader_readexactly(r, m.buf, REC_LEN, NULL), ETIMEDOUT);
    ck_assert_int_eq(SSL_has_pending(cssl), 1);
    ck_assert_int_eq(coio_reader_set_timeout(r, 0), 0);
    ck_assert_int_eq(coio_writer_write(w, "go", 2), 0);
    memset(m.buf, 0, sizeof m.buf);
    ck_assert_int_eq(coio_reader_readexactly(r, m.buf, REC_LEN, NULL), REC_LEN);
    ck_assert(memcmp(m.buf, rec_msg, REC_LEN) == 0);
    ck_assert_int_eq(split_rounds, 2);
    /* both ways still work */
    char line[16];
    ck_assert_int_eq(coio_writer_write(w, "ping\n", 5), 0);
    ck_assert_int_eq(coio_reader_readline(r, line, sizeof line), 5);
    ck_assert(memcmp(line, "ping\n", 5) == 0);
    coio_writer_release(w);
    coio_reader_release(r);
    close_all(s, sc, cc);
}
START_TEST(test_TLS2_cancel_mid_record_keeps_the_stream_usable) { RUN(tls2_mid_record); }
END_TEST
#endif

static void *cancel_start_tls(void *arg)
{
    struct cancel_arg *a = arg;
    coio_stream_opts o = {.server_hostname = "localhost"};
    a->rc = coio_writer_start_tls(a->w, a->cc, &o);
    a->err = errno;
    return NULL;
}

/* TLS5 + cancel: a start_tls cancelled mid-handshake closes the connection (as
   asyncio's start_tls); the handles are then a closed stream: writes ECONNRESET,
   reads EOF. Nothing leaks. */
static void tls5_cancel(void)
{
    int fds = count_fds();
    stall_calls = 0;
    coio_server *plain = coio_start_server(stall_handler, NULL, "127.0.0.1", 0, NULL);
    coio_tls_context *cc = client_ctx(true);
    struct cancel_arg a = {coio_server_port(plain), cc, 0, 0, NULL, NULL};
    ck_assert_int_eq(coio_open_connection("127.0.0.1", a.port, NULL, &a.r, &a.w), 0);
    coio_task *t = coio_spawn(cancel_start_tls, &a);
    ck_assert_int_eq(coio_sleep(0.1), 0);
    coio_cancel(t);
    coio_await(t, NULL);
    coio_absorb_cancel();
    coio_task_release(t);
    ck_assert_int_eq(a.rc, -1);
    ck_assert_int_eq(a.err, ECANCELED);
    ck_assert_int_eq(coio_writer_is_closing(a.w), 1);
    ck_assert_int_eq(coio_writer_fd(a.w), -1);
    ck_assert_err(coio_writer_write(a.w, "x", 1), ECONNRESET);
    char buf[8];
    ck_assert_int_eq(coio_reader_read(a.r, buf, sizeof buf), 0);
    ck_assert_int_eq(coio_writer_wait_closed(a.w), 0);
    coio_writer_release(a.w);
    coio_reader_release(a.r);
    coio_server_close(plain);
    ck_assert_int_eq(coio_server_wait_closed(plain), 0); /* its handler saw EOF */
    ck_assert_int_eq(stall_calls, 1);
    coio_server_release(plain);
    coio_tls_context_release(cc);
    ck_assert_int_eq(count_fds(), fds);
}
START_TEST(test_TLS5_cancelled_start_tls_closes_the_connection) { RUN(tls5_cancel); }
END_TEST

/* ---- TLS2: the close_notify exchange at close (ssl_shutdown_timeout) ----------------------- */

static int hold_release; /* the holding handler returns once set */
static double handler_end;

/* Reads nothing (so never answers a close_notify) until told to return. */
static int holding_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)w;
    struct srvstate *st = arg;
    st->calls++;
    while (!hold_release && coio_sleep(0.01) == 0)
        ;
    st->done++;
    return 0;
}

/* Writes a line and returns at once (the server closes) without reading. */
static int bye_handler(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)arg;
    coio_writer_write(w, "bye\n", 4);
    coio_writer_drain(w);
    handler_end = now();
    return 0;
}

static void tls2_goodbye(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_tls_context *cc = client_ctx(true);
    coio_reader *r;
    coio_writer *w;
    char buf[16];

    /* a peer that answers: wait_closed returns once its close_notify came, which
       it sends when its handler has seen ours as EOF; it closes without waiting
       (ours came first), so every fd is closed when wait_closed returns */
    struct srvstate st = {0};
    coio_server *s = tls_server(echo_handler, &st, sc, 0);
    int fds = count_fds();
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    ck_assert_int_eq(coio_writer_write(w, "hi\n", 3), 0);
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 3);
    double t0 = now();
    ck_assert_int_eq(coio_writer_close(w), 0);
    ck_assert_int_eq(coio_writer_is_closing(w), 1);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    ck_assert_time(now() - t0, 0, 1.0);
    ck_assert_int_eq(st.done, 1);
    ck_assert_int_eq(coio_writer_fd(w), -1);
    ck_assert_int_eq(count_fds(), fds);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);

    /* a peer that never answers: close takes the shutdown timeout, then the fd
       closes anyway */
    st = (struct srvstate){0};
    hold_release = 0;
    s = tls_server(holding_handler, &st, sc, 0);
    coio_stream_opts o = {.tls = cc, .server_hostname = "localhost", .tls_shutdown_timeout = 0.5};
    ck_assert_int_eq(coio_open_connection("127.0.0.1", coio_server_port(s), &o, &r, &w), 0);
    t0 = now();
    ck_assert_int_eq(coio_writer_close(w), 0);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    ck_assert_time(now() - t0, 0.45, 3.0);
    ck_assert_int_eq(coio_writer_fd(w), -1);
    ck_assert_int_eq(coio_reader_read(r, buf, sizeof buf), 0);
    coio_writer_release(w);
    coio_reader_release(r);
    ck_assert_int_eq(st.calls, 1);
    hold_release = 1;
    coio_server_close(s);
    ck_assert_int_eq(coio_server_wait_closed(s), 0);
    coio_server_release(s);

    /* the server's side: its handler returns, its close_notify goes out, the client
       never answers: the server's fd closes after its shutdown timeout */
    coio_stream_opts so = {.tls = sc, .tls_shutdown_timeout = 0.5};
    s = coio_start_server(bye_handler, NULL, "127.0.0.1", 0, &so);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    ck_assert_int_eq(coio_reader_readline(r, buf, sizeof buf), 4);
    struct pollfd pfd = {coio_writer_fd(w), POLLRDHUP, 0};
    for (int i = 0; i < 500 && !(pfd.revents & POLLRDHUP); i++) {
        coio_sleep(0.01);
        ck_assert_int_ge(poll(&pfd, 1, 0), 0);
    }
    ck_assert(pfd.revents & POLLRDHUP);
    ck_assert_time(now() - handler_end, 0.4, 3.0);
    ck_assert_int_eq(coio_reader_read(r, buf, sizeof buf), 0); /* its close_notify */
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);

    /* a peer that closed the TCP connection without close_notify: no wait, even
       before its EOF was read, with the default timeout (30 s) */
    s = tls_server(unclean_handler, NULL, sc, 0);
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    ck_assert_int_eq(coio_sleep(0.2), 0); /* "abc", then its FIN */
    t0 = now();
    ck_assert_int_eq(coio_writer_close(w), 0);
    ck_assert_int_eq(coio_writer_wait_closed(w), 0);
    ck_assert_time(now() - t0, 0, 1.0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
}
START_TEST(test_TLS2_close_waits_for_the_peers_close_notify_within_the_timeout) { RUN(tls2_goodbye); }
END_TEST

/* The loop ending while a close waits for a silent peer's close_notify (30 s):
   the wait is cut short, the fd closed, everything freed (ASan, valgrind). */
static void *goodbye_orphan_main(void *arg)
{
    (void)arg;
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    coio_tls_context *cc = client_ctx(true);
    struct srvstate st = {0};
    hold_release = 0;
    coio_server *s = tls_server(holding_handler, &st, sc, 0);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(connect_tls(coio_server_port(s), cc, "localhost", NULL, &r, &w), 0);
    coio_writer_release(w);
    coio_reader_release(r);
    coio_sleep(0.05);
    coio_server_release(s);
    coio_tls_context_release(sc);
    coio_tls_context_release(cc);
    return NULL; /* coio_run cancels the goodbye and the server's client */
}

START_TEST(test_TLS2_loop_ends_mid_close_notify_exchange)
{
    int fds = count_fds();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert_int_eq(run_main(goodbye_orphan_main, NULL, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ck_assert_time((double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, 0, 5.0);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ---- TLS1: client certificates (mutual TLS) ------------------------------------------------ */

/* Sends the client's certificate subject (or "none") and waits for EOF. */
static int subject_handler(coio_reader *r, coio_writer *w, void *arg)
{
    struct srvstate *st = arg;
    st->calls++;
    char subj[160];
    int n = coio_writer_tls_peer_subject(w, subj, sizeof subj - 1);
    if (n < 0)
        n = snprintf(subj, sizeof subj - 1, "none %s", errno == ENOENT ? "ENOENT" : "?");
    subj[n++] = '\n';
    coio_writer_write(w, subj, (size_t)n);
    coio_writer_drain(w);
    while (coio_reader_read(r, subj, sizeof subj) > 0)
        ;
    return 0;
}

/* A client context trusting our CA, with certificate cert/key (NULL: none), and
   at most TLS 1.2 when tls12. */
static coio_tls_context *mtls_client(const char *cert, const char *key, bool tls12)
{
    coio_tls_context *c = client_ctx(true);
    if (cert)
        ck_assert_int_eq(coio_tls_context_load_cert_chain(c, cert, key), 0);
#if COIO_TLS
    if (tls12)
        ck_assert_int_eq(SSL_CTX_set_max_proto_version(coio_tls_context_ssl_ctx(c), TLS1_2_VERSION), 1);
#else
    (void)tls12;
#endif
    return c;
}

/* A client the server refuses: over TLS 1.3 its handshake ends before the server
   checks the certificate, and the server's alert fails the first read (EPROTO);
   over TLS 1.2 the handshake fails (ECONNABORTED). The alert is in the reason. */
static void mtls_refused(int port, const char *cert, const char *key, bool tls12, const char *why)
{
    coio_tls_context *c = mtls_client(cert, key, tls12);
    coio_reader *r;
    coio_writer *w;
    char buf[64];
    if (tls12) {
        ck_assert_err(connect_tls(port, c, "localhost", NULL, &r, &w), ECONNABORTED);
        ck_assert_msg(strstr(coio_stream_tls_error(NULL), why) != NULL, "%s",
                      coio_stream_tls_error(NULL));
    } else {
        ck_assert_int_eq(connect_tls(port, c, "localhost", NULL, &r, &w), 0);
        ck_assert_err(coio_reader_read(r, buf, sizeof buf), EPROTO);
        ck_assert_msg(strstr(coio_stream_tls_error(w), why) != NULL, "%s", coio_stream_tls_error(w));
        ck_assert_err(coio_writer_write(w, "x", 1), EPROTO); /* the session is dead */
        coio_writer_release(w);
        coio_reader_release(r);
    }
    coio_tls_context_release(c);
}

static void tls1_mtls(void)
{
    coio_tls_context *sc = server_ctx(srv_pem, srv_key);
    ck_assert_int_eq(coio_tls_context_load_verify_locations(sc, ca_pem, NULL), 0);
    ck_assert_int_eq(coio_tls_context_set_verify(sc, COIO_TLS_VERIFY_REQUIRED), 0);
    struct srvstate st = {0};
    coio_server *s = tls_server(subject_handler, &st, sc, 0);
    int port = coio_server_port(s);
    coio_reader *r;
    coio_writer *w;
    char buf[160];
    for (int tls12 = 0; tls12 < 2; tls12++) {
        /* a certificate from our CA: accepted, its subject seen by the server */
        coio_tls_context *c = mtls_client(cli_pem, cli_key, tls12);
        ck_assert_int_eq(connect_tls(port, c, "localhost", NULL, &r, &w), 0);
        ck_assert_str_eq(coio_writer_tls_version(w), tls12 ? "TLSv1.2" : "TLSv1.3");
        ssize_t n = coio_reader_readline(r, buf, sizeof buf - 1);
        ck_assert_int_gt(n, 0);
        buf[n] = 0;
        ck_assert_str_eq(buf, "O=coio,CN=coio client\n");
        coio_writer_release(w);
        coio_reader_release(r);
        coio_tls_context_release(c);
        ck_assert_int_eq(st.calls, 1 + tls12);
        /* no certificate; one from another CA */
        mtls_refused(port, NULL, NULL, tls12, tls12 ? "handshake failure" : "certificate required");
        mtls_refused(port, cli2_pem, cli2_key, tls12, "unknown ca");
        ck_assert_int_eq(st.calls, 1 + tls12); /* the handler never ran for them */
    }
    coio_server_release(s);

    /* VERIFY_OPTIONAL: a client without a certificate is let in, with no subject;
       one from another CA is still refused */
    ck_assert_int_eq(coio_tls_context_set_verify(sc, COIO_TLS_VERIFY_OPTIONAL), 0);
    st = (struct srvstate){0};
    s = tls_server(subject_handler, &st, sc, 0);
    port = coio_server_port(s);
    coio_tls_context *c = mtls_client(NULL, NULL, false);
    ck_assert_int_eq(connect_tls(port, c, "localhost", NULL, &r, &w), 0);
    ssize_t n = coio_reader_readline(r, buf, sizeof buf - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = 0;
    ck_assert_str_eq(buf, "none ENOENT\n");
    coio_writer_release(w);
    coio_reader_release(r);
    coio_tls_context_release(c);
    mtls_refused(port, cli2_pem, cli2_key, false, "unknown ca");
    ck_assert_int_eq(st.calls, 1);
    coio_server_release(s);
    coio_tls_context_release(sc);
}
START_TEST(test_TLS1_server_verifies_client_certificates) { RUN(tls1_mtls); }
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_TLS1_handshake_echo_alpn_and_info);
    tcase_add_test(tc, test_TLS1_readline_readuntil_readexactly_over_tls);
    tcase_add_test(tc, test_TLS1_wrong_host_self_signed_expired_refused);
    tcase_add_test(tc, test_TLS1_unix_socket_needs_server_hostname);
    tcase_add_test(tc, test_TLS1_context_api_and_errors);
    tcase_add_test(tc, test_TLS2_stalled_handshake_times_out);
    tcase_add_test(tc, test_TLS2_cancel_mid_handshake_and_mid_read_leaks_nothing);
    tcase_add_test(tc, test_TLS2_loop_ends_mid_handshake);
    tcase_add_test(tc, test_TLS2_abort_clients_mid_handshake_and_mid_read);
    tcase_add_test(tc, test_TLS2_close_waits_for_the_peers_close_notify_within_the_timeout);
    tcase_add_test(tc, test_TLS2_loop_ends_mid_close_notify_exchange);
    tcase_add_test(tc, test_TLS1_server_verifies_client_certificates);
    tcase_add_test(tc, test_TLS5_cancelled_start_tls_closes_the_connection);
    tcase_add_test(tc, test_TLS3_unclean_close_is_econnreset_with_data_kept);
    tcase_add_test(tc, test_TLS4_no_half_close);
    tcase_add_test(tc, test_TLS5_start_tls_upgrades_in_place);
    tcase_add_test(tc, test_TLS6_sendfile_falls_back_to_read_write);
    tcase_add_test(tc, test_TLS_10MiB_each_way_with_backpressure);
#if COIO_TLS
    tcase_add_test(tc, test_TLS1_users_own_ssl_ctx);
    tcase_add_test(tc, test_TLS2_cancel_mid_record_keeps_the_stream_usable);
#endif
    tcase_add_test(tc, test_TLS_500_concurrent_clients);
    suite_add_tcase(s, tc);
    return s;
}

/* Built with TLS=0: every entry point fails with ENOTSUP (documented in coio.h). */
START_TEST(test_TLS_without_tls_fails_enotsup)
{
    ck_assert_ptr_null(coio_tls_context_new(COIO_TLS_CLIENT));
    ck_assert_int_eq(errno, ENOTSUP);
    ck_assert_ptr_null(coio_tls_context_new(COIO_TLS_SERVER));
    ck_assert_int_eq(errno, ENOTSUP);
    ck_assert_ptr_null(coio_tls_context_from_ssl_ctx((void *)1, COIO_TLS_CLIENT));
    ck_assert_int_eq(errno, ENOTSUP);
    ck_assert_err(coio_tls_context_load_cert_chain(NULL, "a", "b"), ENOTSUP);
    ck_assert_err(coio_tls_context_load_verify_locations(NULL, NULL, NULL), ENOTSUP);
    ck_assert_err(coio_tls_context_set_verify(NULL, 0), ENOTSUP);
    ck_assert_err(coio_tls_context_set_alpn(NULL, NULL, 0), ENOTSUP);
    ck_assert_ptr_null(coio_stream_tls_error(NULL));
}
END_TEST

/* No openssl command: no certificates, so only what needs none. */
static void ctx_defaults(void)
{
    coio_tls_context *c = coio_tls_context_new(COIO_TLS_CLIENT);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(coio_tls_context_ssl_ctx(c));
    ck_assert_err(coio_tls_context_set_verify(c, COIO_TLS_VERIFY_NONE), EINVAL); /* checks names */
    coio_tls_context_release(c);
}
START_TEST(test_TLS1_client_context_defaults) { RUN(ctx_defaults); }
END_TEST

static int run_one(const char *name, const TTest *test)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(void)
{
    coio_tls_context *probe = coio_tls_context_new(COIO_TLS_CLIENT);
    if (!probe) {
        printf("check_tls: SKIP: coio was built without TLS (TLS=0, or no OpenSSL 3 found by "
               "pkg-config); only the ENOTSUP answers are checked\n");
        return run_one("tls-disabled", test_TLS_without_tls_fails_enotsup);
    }
    coio_tls_context_release(probe);
    if (make_certs() < 0) {
        remove_certs();
        printf("check_tls: SKIP: the openssl command is missing or failed (apt-get install "
               "openssl): no certificates, so no connection is tested\n");
        return run_one("tls-nocerts", test_TLS1_client_context_defaults);
    }
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_certs();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
