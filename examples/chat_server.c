/* chat_server.c — a line chat on coio streams: every line a client sends goes to every
 * other client, prefixed with the sender's name. A client whose unsent backlog passes
 * the writer's high-water mark is too slow to keep up and is disconnected, so one
 * stalled reader never holds up the room (write() never waits; drain() would).
 *
 * Usage: chat_server [PORT [HOST]]   (PORT 0, the default, picks a free port).
 * Each client is greeted with "* you are client N". Prints "listening on HOST port N".
 */
#include <coio.h>

#include <errno.h>
#include <stdint.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 8192 /* longer lines end the connection (EMSGSIZE) */

struct member {
    struct member *next;
    coio_writer *w;
    int id;
};

static struct member *members; /* one list per process: the loop is single-threaded */
static int next_id = 1;

static void broadcast(struct member *from, const char *line, size_t n)
{
    char msg[LINE_MAX_LEN + 32];
    int len = snprintf(msg, sizeof msg, "client %d: %.*s", from->id, (int)n, line);
    if (len < 0 || (size_t)len >= sizeof msg)
        return;
    for (struct member *m = members; m; m = m->next) {
        if (m == from)
            continue;
        if (coio_writer_write(m->w, msg, (size_t)len) < 0 ||
            coio_writer_buffer_size(m->w) > 64 * 1024)
            coio_writer_close(m->w); /* gone or too slow: its own task sees EOF and leaves */
    }
}

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    struct member me = {members, w, next_id++};
    members = &me;
    char line[LINE_MAX_LEN + 1]; /* limit + 1 always holds a line */
    int len = snprintf(line, sizeof line, "* you are client %d\n", me.id);
    coio_writer_write(w, line, (size_t)len);
    ssize_t n;
    while ((n = coio_reader_readline(r, line, sizeof line)) > 0) {
        if (line[n - 1] != '\n')
            line[n++] = '\n'; /* the last line of a client that hung up mid-line */
        broadcast(&me, line, (size_t)n);
    }
    for (struct member **pp = &members; *pp; pp = &(*pp)->next)
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    return 0;
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
        perror("chat_server: start_server");
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
        perror("chat_server");
        return 1;
    }
    return res ? 1 : 0;
}
