/* tls.c — TLS for streams over OpenSSL 3: the context object (coio_tls_context, a
 * refcounted SSL_CTX with Python-like defaults) and the TLS transport (transport.h).
 *
 * SSL over the fd, not memory BIOs. The SSL object reads and writes the socket
 * itself through a small BIO of ours (read(2) and send(MSG_NOSIGNAL)), so a record
 * goes from the kernel straight into OpenSSL's buffer and out again: no second copy
 * of every byte through a memory BIO, and no second buffer to bound. Memory BIOs
 * are what a callback-driven loop needs to feed bytes it read itself; coio's tasks
 * can simply wait for the readiness OpenSSL asks for (SSL_ERROR_WANT_READ/WRITE)
 * and retry, which is the same shape as the plain transport's EAGAIN. Our own BIO
 * rather than SSL_set_fd's socket BIO because that one writes with write(2), which
 * raises SIGPIPE on a reset peer. read_ahead is on: one read(2) takes as many
 * records as the socket holds.
 *
 * Built only with COIO_TLS (the Makefile sets it when pkg-config finds OpenSSL 3);
 * without it every public function fails with ENOTSUP.
 */
#define _GNU_SOURCE
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if COIO_TLS

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

struct coio_tls_context {
    atomic_int refs;
    int role;                   /* COIO_TLS_CLIENT and/or COIO_TLS_SERVER */
    int verify;                 /* COIO_TLS_VERIFY_* */
    int check_hostname;
    SSL_CTX *ctx;               /* one reference owned */
    unsigned char *alpn;        /* the ALPN list in wire format (server's choice order) */
    unsigned alpn_len;
};

struct coio__tls {
    SSL *ssl;
    coio_tls_context *ctx;      /* a reference */
    int fd;
    int sys_err;                /* errno of the BIO's last failed read/write */
    uint8_t eof;                /* the BIO read EOF */
    uint8_t fatal;              /* a fatal error: no close_notify may be sent */
    int dead_err;               /* after a fatal read or write: what writes fail with */
    char alpn[256];
    char err[200];              /* the reason of the last failure */
};

static _Thread_local char last_error[200];

static void set_err(struct coio__tls *t, const char *msg)
{
    snprintf(t->err, sizeof t->err, "%s", msg);
    snprintf(last_error, sizeof last_error, "%s", msg);
}

/* The reason of OpenSSL's last queued error, or fallback; clears the queue. */
static void set_err_queue(struct coio__tls *t, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    char buf[200];
    if (e) {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(buf, sizeof buf, "%s", r);
        else
            ERR_error_string_n(e, buf, sizeof buf);
    } else {
        snprintf(buf, sizeof buf, "%s", fallback);
    }
    ERR_clear_error();
    set_err(t, buf);
}

/* ---- the BIO: read(2) and send(MSG_NOSIGNAL) on the nonblocking fd ------------------ */

static int bio_write(BIO *b, const char *p, size_t n, size_t *done)
{
    struct coio__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t k = coio__sock_send(t->fd, p, n);
        if (k >= 0) {
            *done = (size_t)k;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            t->sys_err = errno;
        return 0;
    }
}

static int bio_read(BIO *b, char *p, size_t n, size_t *done)
{
    struct coio__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t k = read(t->fd, p, n);
        if (k > 0) {
            *done = (size_t)k;
            return 1;
        }
        if (k == 0) {
            t->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            t->sys_err = errno;
        return 0;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF: {
        struct coio__tls *t = BIO_get_data(b);
        return t && t->eof;
    }
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_free(void) { BIO_meth_free(bio_method); }

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coio socket");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create)) {
        bio_method = m;
        atexit(bio_method_free);
    } else {
        BIO_meth_free(m);
    }
}

/* ---- contexts ----------------------------------------------------------------------- */

static coio_tls_context *ctx_wrap(SSL_CTX *c, int role)
{
    coio_tls_context *x = calloc(1, sizeof *x);
    if (!x) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&x->refs, 1);
    x->role = role;
    x->ctx = c;
    return x;
}

coio_tls_context *coio_tls_context_new(int role)
{
    if (role & ~(COIO_TLS_CLIENT | COIO_TLS_SERVER) || !role) {
        errno = EINVAL;
        return NULL;
    }
    SSL_CTX *c = SSL_CTX_new(TLS_method());
    if (!c) {
        ERR_clear_error();
        errno = ENOMEM;
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    coio_tls_context *x = ctx_wrap(c, role);
    if (!x) {
        SSL_CTX_free(c);
        return NULL;
    }
    if (role == COIO_TLS_CLIENT) {
        /* ssl.create_default_context(): verify the chain against the system store
           and the host name (TLS1). */
        x->verify = COIO_TLS_VERIFY_REQUIRED;
        x->check_hostname = 1;
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_default_verify_paths(c);
        ERR_clear_error();
    } else {
        x->verify = COIO_TLS_VERIFY_NONE;
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    }
    return x;
}

coio_tls_context *coio_tls_context_from_ssl_ctx(void *ssl_ctx, int role)
{
    if (!ssl_ctx || role & ~(COIO_TLS_CLIENT | COIO_TLS_SERVER) || !role) {
        errno = EINVAL;
        return NULL;
    }
    SSL_CTX *c = ssl_ctx;
    coio_tls_context *x = ctx_wrap(c, role);
    if (!x)
        return NULL;
    SSL_CTX_up_ref(c);
    int m = SSL_CTX_get_verify_mode(c);
    x->verify = !(m & SSL_VERIFY_PEER) ? COIO_TLS_VERIFY_NONE
                : (m & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) || role == COIO_TLS_CLIENT
                    ? COIO_TLS_VERIFY_REQUIRED
                    : COIO_TLS_VERIFY_OPTIONAL;
    x->check_hostname = role == COIO_TLS_CLIENT && (m & SSL_VERIFY_PEER);
    return x;
}

void *coio_tls_context_ssl_ctx(coio_tls_context *ctx) { return ctx ? ctx->ctx : NULL; }

int coio__tls_context_role(const coio_tls_context *ctx) { return ctx->role; }

int coio__tls_context_checks_host(const coio_tls_context *ctx) { return ctx->check_hostname; }

void coio__tls_context_ref(coio_tls_context *ctx)
{
    if (ctx)
        atomic_fetch_add(&ctx->refs, 1);
}

coio_tls_context *coio_tls_context_ref(coio_tls_context *ctx)
{
    coio__tls_context_ref(ctx);
    return ctx;
}

void coio_tls_context_release(coio_tls_context *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    if (ctx->alpn && (ctx->role & COIO_TLS_SERVER)) /* the SSL_CTX may outlive us */
        SSL_CTX_set_alpn_select_cb(ctx->ctx, NULL, NULL);
    SSL_CTX_free(ctx->ctx);
    free(ctx->alpn);
    free(ctx);
}

/* A failed load: EINVAL if the file was read but is not what it should be
   (EBADMSG would be taken for a verification failure), else the system's errno. */
static int load_failed(int e)
{
    ERR_clear_error();
    errno = e ? e : EINVAL;
    return -1;
}

int coio_tls_context_load_cert_chain(coio_tls_context *ctx, const char *certfile,
                                     const char *keyfile)
{
    if (!ctx || !certfile) {
        errno = EINVAL;
        return -1;
    }
    if (!keyfile)
        keyfile = certfile;
    if (access(certfile, R_OK) < 0 || access(keyfile, R_OK) < 0)
        return -1;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx->ctx, certfile) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx->ctx, keyfile, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx->ctx) != 1)
        return load_failed(EINVAL);
    return 0;
}

int coio_tls_context_load_verify_locations(coio_tls_context *ctx, const char *cafile,
                                           const char *capath)
{
    if (!ctx) {
        errno = EINVAL;
        return -1;
    }
    ERR_clear_error();
    if (!cafile && !capath) {
        if (SSL_CTX_set_default_verify_paths(ctx->ctx) != 1)
            return load_failed(EINVAL);
        return 0;
    }
    if ((cafile && access(cafile, R_OK) < 0) || (capath && access(capath, R_OK | X_OK) < 0))
        return -1;
    if (SSL_CTX_load_verify_locations(ctx->ctx, cafile, capath) != 1)
        return load_failed(EINVAL);
    return 0;
}

static void apply_verify(coio_tls_context *ctx)
{
    int m = ctx->verify == COIO_TLS_VERIFY_NONE ? SSL_VERIFY_NONE
            : ctx->verify == COIO_TLS_VERIFY_OPTIONAL
                ? SSL_VERIFY_PEER
                : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx->ctx, m, NULL);
}

int coio_tls_context_set_verify(coio_tls_context *ctx, int mode)
{
    if (!ctx || mode < COIO_TLS_VERIFY_NONE || mode > COIO_TLS_VERIFY_REQUIRED ||
        (mode == COIO_TLS_VERIFY_NONE && ctx->check_hostname)) {
        errno = EINVAL; /* as Python: no CERT_NONE while check_hostname is on */
        return -1;
    }
    ctx->verify = mode;
    apply_verify(ctx);
    return 0;
}

int coio_tls_context_set_check_hostname(coio_tls_context *ctx, int on)
{
    if (!ctx) {
        errno = EINVAL;
        return -1;
    }
    ctx->check_hostname = on != 0;
    if (on && ctx->verify == COIO_TLS_VERIFY_NONE) { /* as Python: turns verification on */
        ctx->verify = COIO_TLS_VERIFY_REQUIRED;
        apply_verify(ctx);
    }
    return 0;
}

int coio_tls_context_set_min_version(coio_tls_context *ctx, int version)
{
    int v = version == COIO_TLS_1_2 ? TLS1_2_VERSION : version == COIO_TLS_1_3 ? TLS1_3_VERSION : 0;
    if (!ctx || !v) {
        errno = EINVAL;
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx->ctx, v);
    return 0;
}

/* The server's ALPN choice: its first protocol that the client offers. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    coio_tls_context *ctx = arg;
    unsigned char *o;
    if (SSL_select_next_proto(&o, outlen, ctx->alpn, ctx->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

int coio_tls_context_set_alpn(coio_tls_context *ctx, const char *const *protos, size_t n)
{
    if (!ctx || (!protos && n)) {
        errno = EINVAL;
        return -1;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = protos[i] ? strlen(protos[i]) : 0;
        if (k == 0 || k > 255) {
            errno = EINVAL;
            return -1;
        }
        len += 1 + k;
    }
    if (len > 65535) {
        errno = EINVAL;
        return -1;
    }
    unsigned char *w = len ? malloc(len) : NULL;
    if (len && !w) {
        errno = ENOMEM;
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(protos[i]);
        w[o++] = (unsigned char)k;
        memcpy(w + o, protos[i], k);
        o += k;
    }
    if (ctx->role & COIO_TLS_CLIENT && SSL_CTX_set_alpn_protos(ctx->ctx, w, (unsigned)len) != 0) {
        free(w);
        ERR_clear_error();
        errno = ENOMEM;
        return -1;
    }
    free(ctx->alpn);
    ctx->alpn = w;
    ctx->alpn_len = (unsigned)len;
    if (ctx->role & COIO_TLS_SERVER)
        SSL_CTX_set_alpn_select_cb(ctx->ctx, len ? alpn_select : NULL, ctx);
    return 0;
}

/* ---- the transport ------------------------------------------------------------------ */

static void tls_free(struct coio__tls *t)
{
    SSL_free(t->ssl); /* and the BIO */
    coio_tls_context_release(t->ctx);
    free(t);
}

static int wait_for(struct coio__transport *tp, int ssl_err, int64_t deadline)
{
    tp->want = ssl_err == SSL_ERROR_WANT_WRITE ? COIO__WANT_WRITE : COIO__WANT_READ;
    return coio__transport_wait(tp, deadline);
}

/* A failed SSL call after the handshake: errno for it, the reason kept. */
static int io_failed(struct coio__transport *tp, int ssl_err, bool reading)
{
    struct coio__tls *t = tp->tls;
    t->fatal = 1;
    t->dead_err = EPIPE;
    if (ssl_err == SSL_ERROR_SYSCALL && t->sys_err) {
        set_err(t, strerror(t->sys_err));
        ERR_clear_error();
        return t->sys_err;
    }
    unsigned long e = ERR_peek_last_error();
    if ((ssl_err == SSL_ERROR_SYSCALL && !e) ||
        (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        ERR_clear_error();
        set_err(t, "the peer closed the connection without close_notify");
        if (reading)
            tp->unclean_eof = 1;
        return reading ? ECONNRESET : EPIPE;
    }
    set_err_queue(t, "TLS protocol error");
    t->dead_err = EPROTO;
    return EPROTO;
}

static ssize_t tls_read(struct coio__transport *tp, void *buf, size_t n, int64_t deadline)
{
    for (;;) {
        struct coio__tls *t = tp->tls;
        if (!t) /* closed while we waited (close, abort_clients): the session is gone */
            return 0;
        size_t got = 0;
        t->sys_err = 0;
        ERR_clear_error();
        if (SSL_read_ex(t->ssl, buf, n, &got))
            return (ssize_t)got;
        int e = SSL_get_error(t->ssl, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            /* A cancel or the reader's timeout ends the wait here and the stream
               stays usable, as a plain one (ST6; asyncio's transport reads on
               whatever happens to a read call), also mid-record: with SSL over
               the fd nothing is taken from the socket but into the SSL object,
               which keeps a partial record (and a pending write) for the next
               call, and cancellation is delivered only here, between SSL calls,
               never inside one. Closing the connection instead would make a
               cancel's outcome depend on where TCP split the records. The
               handshake is different: a cancelled one closes the connection
               (its callers, stream.c), as asyncio does. */
            if (wait_for(tp, e, deadline) < 0)
                return -1;
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN) /* close_notify: EOF (TLS3) */
            return 0;
        errno = io_failed(tp, e, true);
        return -1;
    }
}

static ssize_t tls_send(struct coio__transport *tp, const void *p, size_t n)
{
    struct coio__tls *t = tp->tls;
    if (t->dead_err) { /* the session failed (a read saw it): OpenSSL may not go on */
        errno = t->dead_err;
        return -1;
    }
    size_t done = 0;
    t->sys_err = 0;
    ERR_clear_error();
    if (SSL_write_ex(t->ssl, p, n, &done))
        return (ssize_t)done;
    int e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        tp->want = e == SSL_ERROR_WANT_WRITE ? COIO__WANT_WRITE : COIO__WANT_READ;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        errno = EPIPE;
        return -1;
    }
    errno = io_failed(tp, e, false);
    return -1;
}

/* One step of the close_notify exchange that precedes a graceful close (asyncio's
   SSL shutdown; stream.c runs the steps in a task, bounded by close_timeout, TLS2):
   ours first, then the peer's is read (application data arriving meanwhile is
   dropped by OpenSSL). Nothing is waited for when the peer's close_notify came
   already, the peer closed or reset the connection, or the session is unusable
   (handshake unfinished, a fatal error): SSL_shutdown must not run after one. */
static int tls_goodbye(struct coio__transport *tp)
{
    struct coio__tls *t = tp->tls;
    if (!t || t->fatal || !SSL_is_init_finished(t->ssl))
        return 0;
    for (int i = 0; i < 2; i++) { /* the second call reads the peer's */
        t->sys_err = 0;
        ERR_clear_error();
        int rc = SSL_shutdown(t->ssl);
        if (rc == 1 || (rc == 0 && t->eof))
            return 0;
        if (rc == 0)
            continue;
        int e = SSL_get_error(t->ssl, rc);
        ERR_clear_error();
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !t->eof) {
            tp->want = e == SSL_ERROR_WANT_WRITE ? COIO__WANT_WRITE : COIO__WANT_READ;
            errno = EAGAIN;
            return -1;
        }
        t->fatal = 1; /* EOF, a reset, a protocol error: no more to say */
        return 0;
    }
    tp->want = COIO__WANT_READ;
    errno = EAGAIN;
    return -1;
}

static void tls_close(struct coio__transport *tp)
{
    struct coio__tls *t = tp->tls;
    tp->tls = NULL;
    tp->fd = -1;
    if (!t->fatal && SSL_is_init_finished(t->ssl) &&
        !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
        /* No goodbye ran (abort, no timeout, no task for it): our close_notify if
           the socket takes it now; the peer's is not waited for. */
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    coio_close(t->fd);
    tls_free(t);
}

static const struct coio__transport_ops tls_ops = {tls_read, tls_send, NULL, tls_close,
                                                   tls_goodbye};

int coio__tls_attach(struct coio__transport *tp, coio_tls_context *ctx, const char *hostname,
                     bool server_side, const coio_stream_opts *opts)
{
    if (tp->fd < 0 || tp->tls) {
        errno = tp->tls ? EALREADY : EBADF;
        return -1;
    }
    if (!(ctx->role & (server_side ? COIO_TLS_SERVER : COIO_TLS_CLIENT))) {
        errno = EINVAL;
        return -1;
    }
    pthread_once(&bio_once, bio_method_init);
    struct coio__tls *t = calloc(1, sizeof *t);
    SSL *ssl = bio_method ? SSL_new(ctx->ctx) : NULL;
    BIO *bio = ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(ssl);
        free(t);
        ERR_clear_error();
        errno = ENOMEM;
        return -1;
    }
    t->ssl = ssl;
    t->fd = tp->fd;
    t->ctx = ctx;
    coio__tls_context_ref(ctx);
    BIO_set_data(bio, t);
    SSL_set_bio(ssl, bio, bio);
    /* What the writer needs, whatever the SSL_CTX (one of the user's) says: a retry
       after WANT_WRITE offers the same bytes from a buffer that may have moved. */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_read_ahead(ssl, 1);
    if (server_side) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (hostname && *hostname) {
            unsigned char ip[sizeof(struct in6_addr)];
            bool literal = inet_pton(AF_INET, hostname, ip) == 1 ||
                           inet_pton(AF_INET6, hostname, ip) == 1;
            int ok = 1;
            if (!literal) /* SNI carries names only (RFC 6066) */
                ok = SSL_set_tlsext_host_name(ssl, hostname);
            if (ok && ctx->check_hostname)
                ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hostname)
                             : SSL_set1_host(ssl, hostname);
            if (!ok) {
                tls_free(t);
                ERR_clear_error();
                errno = EINVAL;
                return -1;
            }
        }
    }
    tp->tls = t;
    tp->ops = &tls_ops;
    tp->unclean_eof = 0;
    double st = opts ? opts->tls_shutdown_timeout : 0;
    tp->close_timeout = st > 0 ? st : st < 0 ? 0 : 30.0;
    return 0;
}

int coio__tls_handshake(struct coio__transport *tp, double timeout)
{
    int64_t deadline = coio__deadline_ns(timeout > 0 ? timeout : 60.0);
    for (;;) {
        struct coio__tls *t = tp->tls;
        if (!t) { /* closed while we waited (abort_clients, close): freed with it */
            snprintf(last_error, sizeof last_error, "the connection was closed during the handshake");
            errno = ECONNABORTED;
            return -1;
        }
        t->sys_err = 0;
        ERR_clear_error();
        int rc = SSL_do_handshake(t->ssl);
        if (rc == 1) {
            const unsigned char *a = NULL;
            unsigned alen = 0;
            SSL_get0_alpn_selected(t->ssl, &a, &alen);
            if (a && alen < sizeof t->alpn) {
                memcpy(t->alpn, a, alen);
                t->alpn[alen] = 0;
            }
            return 0;
        }
        int e = SSL_get_error(t->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_for(tp, e, deadline) < 0) {
                int err = errno;
                if (tp->tls != t)
                    continue; /* closed meanwhile: said above */
                t->fatal = 1;
                set_err(t, err == ETIMEDOUT ? "the TLS handshake timed out" : strerror(err));
                errno = err;
                return -1;
            }
            continue;
        }
        t->fatal = 1;
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK) {
            ERR_clear_error();
            set_err(t, X509_verify_cert_error_string(v));
            errno = EBADMSG;
        } else if (e == SSL_ERROR_SYSCALL && t->sys_err) {
            ERR_clear_error();
            set_err(t, strerror(t->sys_err));
            errno = ECONNABORTED;
        } else {
            set_err_queue(t, "the peer closed the connection during the TLS handshake");
            errno = ECONNABORTED;
        }
        return -1;
    }
}

const char *coio__tls_error(const struct coio__transport *tp)
{
    return tp->tls && tp->tls->err[0] ? tp->tls->err : NULL;
}

const char *coio__tls_last_error(void) { return last_error[0] ? last_error : NULL; }

/* ---- the session's facts (stream.c hands in its transport) -------------------------- */

const char *coio__tls_version(const struct coio__transport *tp)
{
    return tp->tls ? SSL_get_version(tp->tls->ssl) : NULL;
}

const char *coio__tls_cipher(const struct coio__transport *tp)
{
    return tp->tls ? SSL_get_cipher_name(tp->tls->ssl) : NULL;
}

const char *coio__tls_alpn(const struct coio__transport *tp)
{
    return tp->tls && tp->tls->alpn[0] ? tp->tls->alpn : NULL;
}

void *coio__tls_ssl(const struct coio__transport *tp) { return tp->tls ? tp->tls->ssl : NULL; }

int coio__tls_peer_subject(const struct coio__transport *tp, char *buf, size_t len)
{
    if (!tp->tls || !buf || len == 0) {
        errno = EINVAL;
        return -1;
    }
    X509 *x = SSL_get1_peer_certificate(tp->tls->ssl);
    if (!x) {
        errno = ENOENT;
        return -1;
    }
    BIO *m = BIO_new(BIO_s_mem());
    int rc = -1;
    if (m && X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long n = BIO_get_mem_data(m, &p);
        if (n >= 0 && (size_t)n < len) {
            memcpy(buf, p, (size_t)n);
            buf[n] = 0;
            rc = (int)n;
        } else {
            errno = ENOBUFS;
        }
    } else {
        errno = ENOMEM;
    }
    BIO_free(m);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

#else /* !COIO_TLS: every entry point says ENOTSUP */

static void *nosup_p(void)
{
    errno = ENOTSUP;
    return NULL;
}

static int nosup(void)
{
    errno = ENOTSUP;
    return -1;
}

coio_tls_context *coio_tls_context_new(int role) { (void)role; return nosup_p(); }
coio_tls_context *coio_tls_context_from_ssl_ctx(void *c, int role) { (void)c; (void)role; return nosup_p(); }
void *coio_tls_context_ssl_ctx(coio_tls_context *ctx) { (void)ctx; return nosup_p(); }
coio_tls_context *coio_tls_context_ref(coio_tls_context *ctx) { (void)ctx; return nosup_p(); }
void coio_tls_context_release(coio_tls_context *ctx) { (void)ctx; }
void coio__tls_context_ref(coio_tls_context *ctx) { (void)ctx; }
int coio__tls_context_role(const coio_tls_context *ctx) { (void)ctx; return 0; }
int coio__tls_context_checks_host(const coio_tls_context *ctx) { (void)ctx; return 0; }
int coio_tls_context_load_cert_chain(coio_tls_context *c, const char *a, const char *b) { (void)c; (void)a; (void)b; return nosup(); }
int coio_tls_context_load_verify_locations(coio_tls_context *c, const char *a, const char *b) { (void)c; (void)a; (void)b; return nosup(); }
int coio_tls_context_set_verify(coio_tls_context *c, int m) { (void)c; (void)m; return nosup(); }
int coio_tls_context_set_check_hostname(coio_tls_context *c, int on) { (void)c; (void)on; return nosup(); }
int coio_tls_context_set_min_version(coio_tls_context *c, int v) { (void)c; (void)v; return nosup(); }
int coio_tls_context_set_alpn(coio_tls_context *c, const char *const *p, size_t n) { (void)c; (void)p; (void)n; return nosup(); }
const char *coio__tls_last_error(void) { return NULL; }
int coio__tls_attach(struct coio__transport *tp, coio_tls_context *ctx, const char *h, bool s,
                     const coio_stream_opts *o)
{
    (void)tp; (void)ctx; (void)h; (void)s; (void)o;
    return nosup();
}
int coio__tls_handshake(struct coio__transport *tp, double t) { (void)tp; (void)t; return nosup(); }
const char *coio__tls_error(const struct coio__transport *tp) { (void)tp; return NULL; }
const char *coio__tls_version(const struct coio__transport *tp) { (void)tp; return NULL; }
const char *coio__tls_cipher(const struct coio__transport *tp) { (void)tp; return NULL; }
const char *coio__tls_alpn(const struct coio__transport *tp) { (void)tp; return NULL; }
void *coio__tls_ssl(const struct coio__transport *tp) { (void)tp; return NULL; }
int coio__tls_peer_subject(const struct coio__transport *tp, char *b, size_t l) { (void)tp; (void)b; (void)l; return nosup(); }

#endif
