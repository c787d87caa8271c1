/* echo_server.c — a line echo server on coio streams: every client is a task that
 * reads lines and writes them back, with drain() as the backpressure point.
 *
 * Usage: echo_server [PORT [HOST]]   (PORT 0, the default, picks a free port; HOST
 * defaults to 127.0.0.1). Prints "listening on HOST port N" once it accepts.
 * SIGINT or SIGTERM stops it: the server closes, and so do its client connections.
 */
#include <coio.h>

#include <errno.h>
#include <stdint.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define LINE_MAX_LEN 8192 /* longer lines end the connection (EMSGSIZE) */

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    char line[LINE_MAX_LEN + 1]; /* limit + 1 always holds a line */
    ssize_t n;
    while ((n = coio_reader_readline(r, line, sizeof line)) > 0) {
        if (coio_writer_write(w, line, (size_t)n) < 0 || coio_writer_drain(w) < 0)
            return 0; /* the client went away: nothing to report */
    }
    return 0; /* EOF, or an over-long line (EMSGSIZE): just hang up */
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
    coio_stream_opts o = {.limit = LINE_MAX_LEN};
    coio_server *s = coio_start_server(handle, NULL, host, port, &o);
    if (!s) {
        perror("echo_server: start_server");
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
        perror("echo_server");
        return 1;
    }
    return res ? 1 : 0;
}
