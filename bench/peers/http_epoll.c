/* W7 ceiling: an HTTP/1.1 keep-alive "hello" server in plain C on raw epoll, answering
 * exactly as examples/http_server does (same bytes, same keep-alive rules, bodies
 * skipped), one thread, nonblocking sockets, level-triggered epoll, no runtime.
 * Usage: http_epoll PORT (0: any free port); prints the port. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192 /* the example's head buffer: a longer head hangs up */
#define OUT_MAX 4096

#define RESP_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
#define BODY "Hello, world\n"
static const char resp_keep[] = RESP_HEAD "\r\n" BODY;
static const char resp_keep10[] = RESP_HEAD "Connection: keep-alive\r\n\r\n" BODY;
static const char resp_close[] = RESP_HEAD "Connection: close\r\n\r\n" BODY;

struct conn {
    int fd;
    int closing;     /* answered "Connection: close": hang up once out is sent */
    int want_out;    /* EPOLLOUT is registered */
    long skip;       /* request body bytes still to drop */
    size_t inlen, outoff, outlen;
    char in[HEAD_MAX];
    char out[OUT_MAX];
};

static int ep;

/* The value of header name within head[0..len), or NULL; *vl gets its length. */
static const char *header(const char *head, size_t len, const char *name, size_t *vl)
{
    size_t nl = strlen(name);
    const char *end = head + len;
    const char *p = memmem(head, len, "\r\n", 2);
    while (p && p + 2 < end && p[2] != '\r') {
        const char *h = p + 2;
        const char *e = memmem(h, (size_t)(end - h), "\r\n", 2);
        if (!e)
            e = end;
        if ((size_t)(e - h) > nl && strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (h < e && (*h == ' ' || *h == '\t'))
                h++;
            *vl = (size_t)(e - h);
            return h;
        }
        p = e < end ? e : NULL;
    }
    return NULL;
}

static int has_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= len; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return 1;
    return 0;
}

static void drop(struct conn *c)
{
    close(c->fd); /* also leaves the epoll set */
    free(c);
}

/* Answer every complete request held, as long as out has room for an answer.
   Returns 1 when it stopped for room (a pipelining client), -1 when the
   connection is to be dropped, else 0. */
static int serve(struct conn *c)
{
    size_t pos = 0;
    int full = 0;
    while (!c->closing) {
        if (c->skip > 0) {
            size_t k = c->inlen - pos < (size_t)c->skip ? c->inlen - pos : (size_t)c->skip;
            pos += k;
            c->skip -= (long)k;
            if (c->skip > 0)
                break;
        }
        if (OUT_MAX - c->outlen < sizeof resp_keep10) {
            full = 1;
            break;
        }
        char *h = c->in + pos;
        size_t avail = c->inlen - pos;
        char *e = memmem(h, avail, "\r\n\r\n", 4);
        if (!e) {
            if (avail == HEAD_MAX)
                return -1; /* head too large: hang up, as the example */
            break;
        }
        size_t hl = (size_t)(e - h) + 4, vl = 0;
        pos += hl;
        int http10 = memmem(h, hl, " HTTP/1.0\r\n", 11) != NULL;
        const char *v = header(h, hl, "Connection", &vl);
        int keep = http10 ? v && has_token(v, vl, "keep-alive") : !(v && has_token(v, vl, "close"));
        v = header(h, hl, "Content-Length", &vl);
        c->skip = v ? strtol(v, NULL, 10) : 0;
        const char *r = keep ? (http10 ? resp_keep10 : resp_keep) : resp_close;
        size_t rl = keep ? (http10 ? sizeof resp_keep10 : sizeof resp_keep) - 1 : sizeof resp_close - 1;
        memcpy(c->out + c->outlen, r, rl);
        c->outlen += rl;
        c->closing = !keep;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    return full;
}

/* Send what out holds. While some is left the connection waits for EPOLLOUT
   only: a client that does not read its answers is not read either. -1: drop it. */
static int flush(struct conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            return -1;
        }
        c->outoff += (size_t)n;
    }
    if (c->outoff == c->outlen) {
        c->outoff = c->outlen = 0;
        if (c->closing)
            return -1;
    }
    int want = c->outlen > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = want ? EPOLLOUT : EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return 0;
}

static int on_event(struct conn *c)
{
    if (!c->want_out) {
        /* serve() leaves less than HEAD_MAX bytes held whenever out is empty */
        ssize_t n = read(c->fd, c->in + c->inlen, HEAD_MAX - c->inlen);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            return -1; /* EOF or error: the example hangs up too */
        if (n > 0)
            c->inlen += (size_t)n;
    }
    int r;
    do {
        if ((r = serve(c)) < 0 || flush(c) < 0)
            return -1;
    } while (r == 1 && c->outlen == 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int one = 1;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1024) < 0) {
        perror("http_epoll");
        return 1;
    }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c) {
                if (on_event(c) < 0)
                    drop(c);
                continue;
            }
            int fd;
            while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
            }
        }
    }
}
