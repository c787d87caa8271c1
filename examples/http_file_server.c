/* http_file_server.c — the HTTP/1.1 server of http_server.c serving files from a
 * directory through the file API: coio_file_openat relative to the root, then
 * coio_file_stat and coio_file_read in 64 KiB pieces (io_uring when the loop has
 * a ring, else the thread pool: COIO_BACKEND=epoll), each piece written to the
 * connection and drained before the next is read. Compare file_server.c, which
 * hands the whole body to sendfile(2).
 *
 * GET and HEAD (others: 405), keep-alive as in http_server.c (http_request.h),
 * Content-Length on every answer. A request path is percent-decoded; a ".."
 * component is refused with 403 (the root cannot be left that way; symbolic
 * links inside the root are followed, as a web server's usually are); a
 * missing file is 404, and so is a directory or any other non-regular file;
 * a path ending in "/" serves its index.html. A file that ends early while
 * its body is sent (it shrank) closes the connection: the length was promised.
 *
 * Usage: http_file_server [PORT [ROOT [HOST]]]   (PORT 0, the default, picks a
 * free port; ROOT defaults to "."). Prints "listening on HOST port N", then
 * "backend B" (coio_loop_backend). SIGINT or SIGTERM stops it.
 */
#define _POSIX_C_SOURCE 200809L /* O_DIRECTORY, O_CLOEXEC */
#include <coio.h>
#include "http_request.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIECE (64 * 1024)

static int rootfd = -1;

/* A status-only answer: the status line as the body. HEAD gets the headers. */
static int reply(coio_writer *w, const char *status, const char *extra, int head_only, int keep)
{
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n%s%s",
                     status, strlen(status) + 1, extra, keep ? "" : "Connection: close\r\n",
                     head_only ? "" : status, head_only ? "" : "\n");
    if (coio_writer_write(w, out, (size_t)n) < 0 || coio_writer_drain(w) < 0)
        return -1;
    return keep ? 0 : -1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The request target t[0..n) as a path relative to the root, into out. 0, or
   the status: 400 (not absolute, a bad or NUL escape, too long), 403 (a ".."
   component). The query string is dropped; "" and ".../" get index.html. */
static int target_path(const char *t, size_t n, char *out, size_t size)
{
    if (n == 0 || t[0] != '/')
        return 400;
    size_t o = 0;
    for (size_t i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
        int c = (unsigned char)t[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)t[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)t[i + 2]) : -1;
            if (lo < 0 || (hi | lo) == 0)
                return 400;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= size)
            return 400;
        out[o++] = (char)c;
    }
    out[o] = 0;
    /* Components: "" and "." are harmless, ".." is refused. */
    for (const char *p = out; *p;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 403;
        p += len + (e != NULL);
    }
    /* Relative to the root: drop the leading slashes. */
    size_t skip = strspn(out, "/");
    memmove(out, out + skip, o - skip + 1);
    o -= skip;
    if (o == 0 || out[o - 1] == '/') {
        if (o + sizeof "index.html" > size)
            return 400;
        memcpy(out + o, "index.html", sizeof "index.html");
    }
    return 0;
}

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html"},        {".txt", "text/plain"},       {".css", "text/css"},
        {".js", "text/javascript"},    {".json", "application/json"}, {".png", "image/png"},
        {".jpg", "image/jpeg"},        {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}

/* Send the file's body: read a piece, write it, drain, until size bytes went.
   0, or -1 (the connection must close: the peer is gone, or the file ended or
   failed before size bytes). */
static int send_body(coio_writer *w, coio_file *f, const char *path, long long size, char *buf)
{
    for (long long off = 0; off < size;) {
        long long want = size - off < PIECE ? size - off : PIECE;
        ssize_t k = coio_file_read(f, buf, (size_t)want, off);
        if (k <= 0) {
            fprintf(stderr, "http_file_server: %s: %s at %lld of %lld bytes\n", path,
                    k == 0 ? "ended" : strerror(errno), off, size);
            return -1;
        }
        if (coio_writer_write(w, buf, (size_t)k) < 0 || coio_writer_drain(w) < 0)
            return -1;
        off += k;
    }
    return 0;
}

/* One request: 0 to read the next on this connection, -1 to close it. */
static int serve(coio_writer *w, const char *head, size_t len, const struct http_request *req,
                 char *buf)
{
    int keep = req->keep_alive;
    /* The request line: METHOD SP TARGET SP VERSION. */
    const char *eol = memchr(head, '\r', len);
    size_t ll = eol ? (size_t)(eol - head) : len;
    const char *sp = memchr(head, ' ', ll);
    const char *t = sp ? sp + 1 : NULL;
    const char *te = t ? memchr(t, ' ', ll - (size_t)(t - head)) : NULL;
    if (!te)
        return reply(w, "400 Bad Request", "", 0, 0);
    size_t ml = (size_t)(sp - head);
    int head_only = ml == 4 && memcmp(head, "HEAD", 4) == 0;
    if (!head_only && !(ml == 3 && memcmp(head, "GET", 3) == 0))
        return reply(w, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", 0, keep);
    char path[1024];
    int bad = target_path(t, (size_t)(te - t), path, sizeof path);
    if (bad == 403)
        return reply(w, "403 Forbidden", "", head_only, keep);
    if (bad)
        return reply(w, "400 Bad Request", "", head_only, 0);
    /* O_NONBLOCK: a FIFO in the root must not hold the open (it is refused
       below anyway); regular files ignore the flag. */
    coio_file *f = coio_file_openat(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    if (!f) {
        if (errno == EACCES || errno == EPERM)
            return reply(w, "403 Forbidden", "", head_only, keep);
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == ENAMETOOLONG)
            return reply(w, "404 Not Found", "", head_only, keep);
        return reply(w, "500 Internal Server Error", "", head_only, keep);
    }
    struct stat st;
    if (coio_file_stat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
        coio_file_close(f);
        return reply(w, "404 Not Found", "", head_only, keep);
    }
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr,
                      "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%s\r\n",
                      content_type(path), (long long)st.st_size,
                      keep ? (req->http10 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n");
    int r = coio_writer_write(w, hdr, (size_t)hl);
    if (r == 0 && !head_only)
        r = send_body(w, f, path, (long long)st.st_size, buf);
    if (r == 0)
        r = coio_writer_drain(w);
    coio_file_close(f);
    return r < 0 || !keep ? -1 : 0;
}

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    char head[8192], skip[1024];
    char *buf = malloc(PIECE); /* this connection's; freed on return */
    if (!buf)
        return 0;
    for (;;) {
        ssize_t n = coio_reader_readuntil(r, head, sizeof head, "\r\n\r\n", 4, NULL);
        if (n < 0)
            break; /* EOF between requests, a reset, or a head too large: hang up */
        struct http_request req;
        if (http_parse_request(head, (size_t)n, &req) < 0) {
            reply(w, "400 Bad Request", "", 0, 0);
            break;
        }
        size_t left = req.content_length; /* a body is read and dropped */
        while (left > 0) {
            ssize_t k = coio_reader_read(r, skip, left < sizeof skip ? left : sizeof skip);
            if (k <= 0)
                break;
            left -= (size_t)k;
        }
        if (left > 0 || serve(w, head, (size_t)n, &req, buf) < 0)
            break;
    }
    free(buf);
    return 0;
}

/* SIGINT/SIGTERM: as in http_server.c. */
static void on_term(int sig, void *s)
{
    (void)sig;
    coio_server_close_clients(s);
    coio_server_close(s);
}

static void *main_task(void *arg)
{
    char **argv = arg;
    int port = argv[1] ? atoi(argv[1]) : 0;
    const char *root = argv[1] && argv[2] ? argv[2] : ".";
    const char *host = argv[1] && argv[2] && argv[3] ? argv[3] : "127.0.0.1";
    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        fprintf(stderr, "http_file_server: %s: %s\n", root, strerror(errno));
        return (void *)1;
    }
    coio_stream_opts o = {.backlog = 1024};
    coio_server *s = coio_start_server(handle, NULL, host, port, &o);
    if (!s) {
        perror("http_file_server: start_server");
        close(rootfd);
        return (void *)1;
    }
    coio_add_signal_handler(SIGTERM, on_term, s);
    coio_add_signal_handler(SIGINT, on_term, s);
    printf("listening on %s port %d\nbackend %s\n", host, coio_server_port(s),
           coio_loop_backend(coio_loop_current()));
    fflush(stdout);
    coio_server_serve_forever(s);
    coio_timeout to;
    coio_timeout_enter(&to, 0.5);
    if (coio_timeout_exit(&to, coio_server_wait_closed(s)) < 0) {
        coio_server_abort_clients(s);
        coio_server_wait_closed(s);
    }
    coio_server_release(s);
    close(rootfd);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0 && errno != EINTR) {
        perror("http_file_server");
        return 1;
    }
    return res ? 1 : 0;
}
