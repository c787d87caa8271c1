/* http_server.c — an HTTP/1.1 "hello" server with keep-alive on coio streams: one task
 * per connection reads requests (readuntil "\r\n\r\n") and answers each with a fixed
 * body, keeping the connection open unless the client asks to close it (or speaks
 * HTTP/1.0 without keep-alive). Request bodies (Content-Length) are read and dropped;
 * a malformed Content-Length gets "400 Bad Request" and the connection is closed.
 * The head parser is in http_request.h (fuzzed by tests/fuzz/fuzz_http.c).
 *
 * Usage: http_server [PORT [HOST]]   (PORT 0, the default, picks a free port).
 * Prints "listening on HOST port N". SIGINT or SIGTERM stops it.
 */
#include <coio.h>
#include "http_request.h"

#include <errno.h>
#include <stdint.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BODY[] = "Hello, world\n";

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    char head[8192], skip[4096];
    for (;;) {
        ssize_t n = coio_reader_readuntil(r, head, sizeof head, "\r\n\r\n", 4, NULL);
        if (n < 0)
            return 0; /* EOF between requests, a reset, or a head too large: hang up */
        struct http_request req;
        if (http_parse_request(head, (size_t)n, &req) < 0) {
            static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n";
            coio_writer_write(w, bad, sizeof bad - 1);
            coio_writer_drain(w);
            return 0; /* a malformed Content-Length: the body cannot be found */
        }
        for (size_t left = req.content_length; left > 0;) {
            ssize_t k = coio_reader_read(r, skip, left < sizeof skip ? left : sizeof skip);
            if (k <= 0)
                return 0;
            left -= (size_t)k;
        }
        char out[256];
        int len = snprintf(out, sizeof out,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                           "%s\r\n%s",
                           sizeof BODY - 1, req.keep_alive ? (req.http10 ? "Connection: keep-alive\r\n" : "")
                                                           : "Connection: close\r\n", BODY);
        if (coio_writer_write(w, out, (size_t)len) < 0 || coio_writer_drain(w) < 0)
            return 0;
        if (!req.keep_alive)
            return 0; /* returning closes the connection after the response is sent */
    }
}

/* SIGINT/SIGTERM: stop listening and close every client connection (what they
   were sent still goes out first). serve_forever then returns, and each handler
   sees EOF at its read and returns, idle keep-alive clients included. */
static void on_term(int sig, void *s)
{
    (void)sig;
    coio_server_close_clients(s);
    coio_server_close(s);
}

/* After serve_forever: give the handlers half a second to finish, then cut the
   connections of any still busy (a peer that does not read what it was sent). */
static void finish(coio_server *s)
{
    coio_timeout to;
    coio_timeout_enter(&to, 0.5);
    if (coio_timeout_exit(&to, coio_server_wait_closed(s)) < 0) {
        coio_server_abort_clients(s);
        coio_server_wait_closed(s);
    }
}

static void *main_task(void *arg)
{
    char **argv = arg;
    int port = argv[1] ? atoi(argv[1]) : 0;
    const char *host = argv[1] && argv[2] ? argv[2] : "127.0.0.1";
    coio_stream_opts o = {.backlog = 1024};
    coio_server *s = coio_start_server(handle, NULL, host, port, &o);
    if (!s) {
        perror("http_server: start_server");
        return (void *)1;
    }
    coio_add_signal_handler(SIGTERM, on_term, s);
    coio_add_signal_handler(SIGINT, on_term, s);
    printf("listening on %s port %d\n", host, coio_server_port(s));
    fflush(stdout);
    coio_server_serve_forever(s); /* until SIGINT/SIGTERM closes the server */
    finish(s);
    coio_server_release(s);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0 && errno != EINTR) {
        perror("http_server");
        return 1;
    }
    return res ? 1 : 0;
}
