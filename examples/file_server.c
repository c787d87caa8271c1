/* file_server.c — a static file server over HTTP/1.1 (GET and HEAD, keep-alive) that
 * sends file bodies with coio_writer_sendfile: sendfile(2) from the page cache to the
 * socket, the task waiting while the socket is full. A client that goes away part-way
 * is reported with how far the transfer got (the file position, SF2).
 *
 * Usage: file_server [PORT [ROOT [HOST]]]   (PORT 0, the default, picks a free port;
 * ROOT defaults to "."). Prints "listening on HOST port N". SIGINT or SIGTERM stops it:
 * the server closes, and so do its client connections.
 */
#define _GNU_SOURCE /* strcasestr */
#include <coio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root = ".";

static int reply(coio_writer *w, const char *status, const char *extra)
{
    char out[256];
    int n = snprintf(out, sizeof out, "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n%s\n", status,
                     strlen(status) + 1, extra, status);
    return coio_writer_write(w, out, (size_t)n);
}

/* Open ROOT/path for a request path: no "..", no absolute escapes. -1 if refused. */
static int open_path(const char *path, struct stat *st)
{
    char full[PATH_MAX];
    if (path[0] != '/' || strstr(path, "..") ||
        snprintf(full, sizeof full, "%s%s", root, path) >= (int)sizeof full)
        return -1;
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    char head[8192];
    for (;;) {
        ssize_t n = coio_reader_readuntil(r, head, sizeof head - 1, "\r\n\r\n", 4, NULL);
        if (n < 0)
            return 0; /* EOF between requests, a reset, a head too large: hang up */
        head[n] = 0;
        char method[8], path[1024];
        if (sscanf(head, "%7s %1023s", method, path) != 2) {
            reply(w, "400 Bad Request", "Connection: close\r\n");
            return 0;
        }
        int head_only = strcmp(method, "HEAD") == 0;
        if (!head_only && strcmp(method, "GET") != 0) {
            reply(w, "405 Method Not Allowed", "");
            continue;
        }
        int keep = strcasestr(head, "\r\nConnection: close") == NULL;
        struct stat st;
        int fd = open_path(path, &st);
        if (fd < 0) {
            reply(w, "404 Not Found", "");
            continue;
        }
        char hdr[256];
        int hl = snprintf(hdr, sizeof hdr,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %lld\r\n%s\r\n",
                          (long long)st.st_size, keep ? "" : "Connection: close\r\n");
        coio_writer_write(w, hdr, (size_t)hl);
        ssize_t sent = head_only ? 0 : coio_writer_sendfile(w, fd, 0, 0, 0);
        if (sent < 0) {
            /* SF2: the file position says how far it got. */
            long long at = (long long)lseek(fd, 0, SEEK_CUR);
            fprintf(stderr, "file_server: GET %s: sent %lld of %lld bytes: %s\n", path, at,
                    (long long)st.st_size, strerror(errno));
            close(fd);
            return 0;
        }
        close(fd);
        if (!keep || coio_writer_drain(w) < 0)
            return 0;
    }
}

/* SIGINT/SIGTERM: as in http_server.c. */
static void on_term(int sig, void *s)
{
    (void)sig;
    coio_server_close_clients(s);
    coio_server_close(s);
}

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
    if (argv[1] && argv[2])
        root = argv[2];
    const char *host = argv[1] && argv[2] && argv[3] ? argv[3] : "127.0.0.1";
    coio_stream_opts o = {.backlog = 1024};
    coio_server *s = coio_start_server(handle, NULL, host, port, &o);
    if (!s) {
        perror("file_server: start_server");
        return (void *)1;
    }
    coio_add_signal_handler(SIGTERM, on_term, s);
    coio_add_signal_handler(SIGINT, on_term, s);
    printf("listening on %s port %d\n", host, coio_server_port(s));
    fflush(stdout);
    coio_server_serve_forever(s);
    finish(s);
    coio_server_release(s);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0 && errno != EINTR) {
        perror("file_server");
        return 1;
    }
    return res ? 1 : 0;
}
