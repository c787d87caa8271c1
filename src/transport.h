/* transport.h — what a stream (stream.c) reads from and writes to: one interface
 * with two implementations, a plain fd (transport_fd.c) and TLS over OpenSSL
 * (tls.c). The reader and writer code in stream.c is the same for both; they only
 * call the operations below and wait for what the last one asked for.
 */
#ifndef COIO_TRANSPORT_H
#define COIO_TRANSPORT_H

#include "coio_int.h"

#include <sys/types.h>

enum { COIO__WANT_READ = 1, COIO__WANT_WRITE = 2 };

struct coio__tls;
struct coio__transport;

struct coio__transport_ops {
    /* Suspend until at least one byte is read (returns the count), EOF (0) or an
       error (-1/errno; ECANCELED, ETIMEDOUT at deadline (< 0: none), or the
       connection's error). TLS sets unclean_eof when the peer ended without
       close_notify (errno ECONNRESET then). */
    ssize_t (*read)(struct coio__transport *tp, void *buf, size_t n, int64_t deadline);
    /* One nonblocking send: bytes taken, or -1 with errno; EAGAIN sets want to the
       direction to wait for (TLS may need to read to write). After EAGAIN the next
       call must offer the same bytes first (it may offer more). */
    ssize_t (*send)(struct coio__transport *tp, const void *buf, size_t n);
    /* Half-close (write EOF): 0 done, 1 "this fd's only EOF is its close" (a
       pipe); NULL when the transport cannot (TLS: TLS4). */
    int (*shutdown_wr)(struct coio__transport *tp);
    /* Close: release everything and set fd to -1, now. TLS sends its close_notify
       first if it has not and the socket has room (one try: abort, or no goodbye). */
    void (*close)(struct coio__transport *tp);
    /* The goodbye before a graceful close, one nonblocking step; NULL for the plain
       fd. TLS: our close_notify, then the peer's (asyncio's SSL shutdown). 0 when it
       is over (or there is nothing to say: no session, a fatal error, the peer gone);
       -1/EAGAIN with want set: wait and call again (stream.c bounds the whole by
       close_timeout). */
    int (*goodbye)(struct coio__transport *tp);
};

struct coio__transport {
    const struct coio__transport_ops *ops;
    int fd;                 /* -1 once closed */
    uint8_t sock;           /* send(MSG_NOSIGNAL) works; else write() with SIGPIPE held */
    uint8_t want;           /* COIO__WANT_*: what the last EAGAIN waits for */
    uint8_t unclean_eof;    /* TLS: the peer ended the connection without close_notify */
    double close_timeout;   /* seconds goodbye may take (TLS: ssl_shutdown_timeout), 0: none */
    struct coio__tls *tls;  /* the TLS session (tls.c), NULL for a plain fd */
};

/* The plain fd: ops set, fd made nonblocking and close-on-exec, sock detected. */
COIO_HIDDEN void coio__transport_fd_init(struct coio__transport *tp, int fd);
/* Park until the fd is ready for tp->want (or the deadline: ETIMEDOUT). May
   return spuriously; the caller retries its operation. */
COIO_HIDDEN int coio__transport_wait(struct coio__transport *tp, int64_t deadline);

/* tls.c. Put a TLS session on a connected transport (ops switch to TLS): as the
   client (server_side 0: hostname is SNI and, when the context checks host
   names, the name to match; "" or NULL: neither) or the server. Then run the
   handshake (timeout <= 0: 60 s). Both -1 with errno as documented in coio.h
   for coio_open_connection; the caller closes the transport on failure. */
COIO_HIDDEN int coio__tls_attach(struct coio__transport *tp, coio_tls_context *ctx,
                                 const char *hostname, bool server_side,
                                 const coio_stream_opts *opts);
COIO_HIDDEN int coio__tls_handshake(struct coio__transport *tp, double timeout);
COIO_HIDDEN const char *coio__tls_error(const struct coio__transport *tp);
COIO_HIDDEN const char *coio__tls_last_error(void);
COIO_HIDDEN void coio__tls_context_ref(coio_tls_context *ctx);
COIO_HIDDEN int coio__tls_context_role(const coio_tls_context *ctx);
COIO_HIDDEN int coio__tls_context_checks_host(const coio_tls_context *ctx);
COIO_HIDDEN const char *coio__tls_version(const struct coio__transport *tp);
COIO_HIDDEN const char *coio__tls_cipher(const struct coio__transport *tp);
COIO_HIDDEN const char *coio__tls_alpn(const struct coio__transport *tp);
COIO_HIDDEN void *coio__tls_ssl(const struct coio__transport *tp);
COIO_HIDDEN int coio__tls_peer_subject(const struct coio__transport *tp, char *buf, size_t len);

#endif
