/* https_server.c — the HTTP/1.1 keep-alive "hello" server of http_server.c, over TLS:
 * the same handler on a coio server whose opts carry a TLS context (certificate chain
 * and key from the command line, ALPN "http/1.1", TLS 1.2 or 1.3). The handshake runs
 * before the handler; the handler reads and writes plaintext as over TCP.
 *
 * Usage: https_server PORT CERT KEY [HOST]   (PORT 0 picks a free port).
 * Prints "listening on HOST port N". SIGINT or SIGTERM stops it.
 */
#include <coio.h>
#include "http_request.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BODY[] = "Hello, world\n";

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    char head[8192], skip[4096];
    for (;;) {
        ssize_t n = coio_reader_readuntil(r, head, sizeof head, "\r\n\r\n", 4, NULL);
        if (n < 0)
            return 0; /* close_notify or EOF between requests, a reset, a head too large */
        struct http_request req;
        if (http_parse_request(head, (size_t)n, &req) < 0) {
            static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n";
            coio_writer_write(w, bad, sizeof bad - 1);
            coio_writer_drain(w);
            return 0;
        }
        for (size_t left = req.content_length; left > 0;) {
            ssize_t k = coio_reader_read(r, skip, left < sizeof skip ? left : sizeof skip);
            if (k <= 0)
                return 0;
            left -= (size_t)k;
        }
        const char *conn = !req.keep_alive ? "Connection: close\r\n"
                           : req.http10    ? "Connection: keep-alive\r\n"
                                           : "";
        char out[256];
        int len = snprintf(out, sizeof out,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                           "%s\r\n%s",
                           sizeof BODY - 1, conn, BODY);
        if (coio_writer_write(w, out, (size_t)len) < 0 || coio_writer_drain(w) < 0)
            return 0;
        if (!req.keep_alive)
            return 0; /* returning closes: the response, then close_notify */
    }
}

static void on_term(int sig, void *s)
{
    (void)sig;
    coio_server_close_clients(s);
    coio_server_close(s);
}

static void *main_task(void *arg)
{
    char **argv = arg;
    int port = atoi(argv[1]);
    const char *host = argv[4] ? argv[4] : "127.0.0.1";
    coio_tls_context *tls = coio_tls_context_new(COIO_TLS_SERVER);
    if (!tls) {
        perror("https_server: TLS context");
        return (void *)1;
    }
    static const char *const alpn[] = {"http/1.1"};
    if (coio_tls_context_load_cert_chain(tls, argv[2], argv[3]) < 0 ||
        coio_tls_context_set_alpn(tls, alpn, 1) < 0) {
        fprintf(stderr, "https_server: %s, %s: %s\n", argv[2], argv[3], strerror(errno));
        coio_tls_context_release(tls);
        return (void *)1;
    }
    coio_stream_opts o = {.backlog = 1024, .tls = tls};
    coio_server *s = coio_start_server(handle, NULL, host, port, &o);
    coio_tls_context_release(tls); /* the server holds its own reference */
    if (!s) {
        perror("https_server: start_server");
        return (void *)1;
    }
    coio_add_signal_handler(SIGTERM, on_term, s);
    coio_add_signal_handler(SIGINT, on_term, s);
    printf("listening on %s port %d\n", host, coio_server_port(s));
    fflush(stdout);
    coio_server_serve_forever(s);
    coio_timeout to; /* half a second for the handlers, then cut what is left */
    coio_timeout_enter(&to, 0.5);
    if (coio_timeout_exit(&to, coio_server_wait_closed(s)) < 0) {
        coio_server_abort_clients(s);
        coio_server_wait_closed(s);
    }
    coio_server_release(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: https_server PORT CERT KEY [HOST]\n");
        return 2;
    }
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0 && errno != EINTR) {
        perror("https_server");
        return 1;
    }
    return res ? 1 : 0;
}
