/* Peers on libuv: W5 echo server (uv_tcp_t, uv_read_start/uv_write), W6
 * timers (uv_timer_start/uv_timer_stop on handles the program owns, as libuv
 * is used) and W7's HTTP/1.1 keep-alive hello server (the answers of
 * examples/http_server), W8 files (uv_fs_read/uv_fs_write, the workloads of
 * bench/bench_files.c). Usage: uv_bench echo PORT | uv_bench http PORT |
 * uv_bench timers | uv_bench files FILE. echo and http listen on
 * 127.0.0.1:PORT (0: any free port) and print the port. */
#include "bench.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <strings.h>
#include <uv.h>

/* ---- W5 ------------------------------------------------------------------- */

struct conn {
    uv_tcp_t tcp;
    char buf[4096];
};

struct wreq {
    uv_write_t req;
    struct conn *c;
};

static void on_close(uv_handle_t *h) { free(h); }

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct conn *c = (struct conn *)h;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    if (status < 0)
        uv_close((uv_handle_t *)&w->c->tcp, on_close);
    free(w);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = (struct conn *)s;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0)
        return;
    /* Try the write at once, as a C server would; queue a request only for
       what did not go out (the lockstep client never fills the buffer). */
    int w = uv_try_write(s, &(uv_buf_t){.base = b->base, .len = (size_t)n}, 1);
    if (w == n)
        return;
    size_t off = w > 0 ? (size_t)w : 0;
    struct wreq *req = malloc(sizeof *req + (size_t)n - off);
    req->c = c;
    memcpy(req + 1, b->base + off, (size_t)n - off);
    uv_buf_t rest = uv_buf_init((char *)(req + 1), (unsigned)((size_t)n - off));
    uv_write(&req->req, s, &rest, 1, on_write);
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

static int listen_on(int port, uv_connection_cb on_connection)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc) {
        fprintf(stderr, "uv_bench: %s\n", uv_strerror(rc));
        return 1;
    }
    int sl = sizeof sa;
    uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &sl);
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- W7 ------------------------------------------------------------------- */

#define HEAD_MAX 8192 /* the example's head buffer: a longer head hangs up */
#define RESP_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
#define BODY "Hello, world\n"
static const char resp_keep[] = RESP_HEAD "\r\n" BODY;
static const char resp_keep10[] = RESP_HEAD "Connection: keep-alive\r\n\r\n" BODY;
static const char resp_close[] = RESP_HEAD "Connection: close\r\n\r\n" BODY;

struct hconn {
    uv_tcp_t tcp;
    int closing;       /* answered "Connection: close": close once it is sent */
    int writes;        /* uv_write requests in flight */
    long skip;         /* request body bytes still to drop */
    size_t inlen;
    char in[HEAD_MAX];
};

/* The value of header name within head[0..len), or NULL; *vl gets its length. */
static const char *http_header(const char *head, size_t len, const char *name, size_t *vl)
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

static void on_hwrite(uv_write_t *req, int status)
{
    struct hconn *c = req->data;
    free(req);
    c->writes--;
    if (status < 0 || (c->closing && c->writes == 0))
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Send an answer: uv_try_write, a uv_write of a copy for what did not go out. */
static void http_send(struct hconn *c, const char *r, size_t n)
{
    int w = c->writes ? 0 : uv_try_write((uv_stream_t *)&c->tcp, &(uv_buf_t){.base = (char *)r, .len = n}, 1);
    size_t off = w > 0 ? (size_t)w : 0;
    if (off == n)
        return;
    uv_write_t *req = malloc(sizeof *req + n - off);
    req->data = c;
    memcpy(req + 1, r + off, n - off);
    uv_buf_t rest = uv_buf_init((char *)(req + 1), (unsigned)(n - off));
    c->writes++;
    uv_write(req, (uv_stream_t *)&c->tcp, &rest, 1, on_hwrite);
}

static void on_halloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct hconn *c = (struct hconn *)h;
    *b = uv_buf_init(c->in + c->inlen, (unsigned)(HEAD_MAX - c->inlen));
}

static void on_hread(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct hconn *c = (struct hconn *)s;
    if (n < 0) { /* EOF or error: the example hangs up too */
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    c->inlen += (size_t)n;
    size_t pos = 0;
    while (!c->closing) {
        if (c->skip > 0) {
            size_t k = c->inlen - pos < (size_t)c->skip ? c->inlen - pos : (size_t)c->skip;
            pos += k;
            c->skip -= (long)k;
            if (c->skip > 0)
                break;
        }
        char *h = c->in + pos;
        size_t avail = c->inlen - pos;
        char *e = memmem(h, avail, "\r\n\r\n", 4);
        if (!e) {
            if (avail == HEAD_MAX) { /* head too large: hang up, as the example */
                uv_close((uv_handle_t *)s, on_close);
                return;
            }
            break;
        }
        size_t hl = (size_t)(e - h) + 4, vl = 0;
        pos += hl;
        int http10 = memmem(h, hl, " HTTP/1.0\r\n", 11) != NULL;
        const char *v = http_header(h, hl, "Connection", &vl);
        int keep = http10 ? v && has_token(v, vl, "keep-alive") : !(v && has_token(v, vl, "close"));
        v = http_header(h, hl, "Content-Length", &vl);
        c->skip = v ? strtol(v, NULL, 10) : 0;
        if (keep)
            http_send(c, http10 ? resp_keep10 : resp_keep,
                      (http10 ? sizeof resp_keep10 : sizeof resp_keep) - 1);
        else
            http_send(c, resp_close, sizeof resp_close - 1);
        c->closing = !keep;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    if (c->closing) {
        uv_read_stop(s);
        if (c->writes == 0)
            uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_hconn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct hconn *c = calloc(1, sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, on_halloc, on_hread);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

/* ---- W6 ------------------------------------------------------------------- */

static void never(uv_timer_t *t) { (void)t; abort(); }

static int timers(void)
{
    long n = bench_n(1000000);
    uv_loop_t *loop = uv_default_loop();
    uint64_t *ms = malloc((size_t)n * sizeof *ms);
    uv_timer_t *t = malloc((size_t)n * sizeof *t);
    if (!ms || !t)
        return 1;
    uint64_t x = 88172645463325252ull; /* xorshift64, the same draw as coio's */
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ms[i] = 10000 + (uint64_t)((double)(x >> 11) * (90000.0 / 9007199254740992.0)); /* [10, 100 s) */
    }
    uv_update_time(loop);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        uv_timer_init(loop, &t[i]);
        uv_timer_start(&t[i], never, ms[i], 0);
    }
    for (long i = 0; i < n; i += 2)
        uv_timer_stop(&t[i]);
    for (long i = 1; i < n; i += 2)
        uv_timer_stop(&t[i]);
    double t1 = bench_now();
    bench_row("W6", "libuv", "schedule+cancel", (t1 - t0) * 1e9 / (double)n, "ns/timer");
    /* Not timed: close the handles so the loop ends cleanly. */
    for (long i = 0; i < n; i++)
        uv_close((uv_handle_t *)&t[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(t);
    free(ms);
    return 0;
}

/* ---- W8: files (uv_fs_read/uv_fs_write on libuv's thread pool) ----------------- */

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define W8_BLK 4096
struct w8req {
    uv_fs_t req;
    char buf[W8_BLK];
    uint64_t seed;
};
static uv_file w8_fd;
static long long w8_nblk;
static long w8_left, w8_writes;

static double w8_cpu(void) /* CPU seconds of the process, pool threads included */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t w8_rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void w8a_next(struct w8req *r);
static void w8a_done(uv_fs_t *req)
{
    struct w8req *r = (struct w8req *)req;
    if (req->result != W8_BLK) {
        fprintf(stderr, "uv_bench: W8a read: %s\n", uv_strerror((int)req->result));
        exit(1);
    }
    uv_fs_req_cleanup(req);
    w8a_next(r);
}
static void w8a_next(struct w8req *r)
{
    if (w8_left <= 0)
        return;
    w8_left--;
    uv_buf_t b = uv_buf_init(r->buf, W8_BLK);
    int64_t off = (int64_t)(w8_rnd(&r->seed) % (uint64_t)w8_nblk) * W8_BLK;
    uv_fs_read(uv_default_loop(), &r->req, w8_fd, &b, 1, off, w8a_done);
}

static void w8c_next(struct w8req *r);
static void w8c_synced(uv_fs_t *req)
{
    uv_fs_req_cleanup(req);
    w8c_next((struct w8req *)req);
}
static void w8c_done(uv_fs_t *req)
{
    struct w8req *r = (struct w8req *)req;
    if (req->result != W8_BLK) {
        fprintf(stderr, "uv_bench: W8c write: %s\n", uv_strerror((int)req->result));
        exit(1);
    }
    uv_fs_req_cleanup(req);
    if (++w8_writes % 64 == 0)
        uv_fs_fdatasync(uv_default_loop(), &r->req, w8_fd, w8c_synced);
    else
        w8c_next(r);
}
static void w8c_next(struct w8req *r)
{
    if (w8_left <= 0)
        return;
    w8_left--;
    uv_buf_t b = uv_buf_init(r->buf, W8_BLK);
    uv_fs_write(uv_default_loop(), &r->req, w8_fd, &b, 1, -1, w8c_done);
}

/* The same workloads as bench/bench_files.c (W8a 64 requests in flight, W8b
   one 1 MiB read at a time, W8c 64 appending writers + fdatasync per 64). */
static int files(const char *path)
{
    uv_loop_t *loop = uv_default_loop();
    struct stat st;
    if (stat(path, &st) < 0)
        return 1;
    long long fsize = st.st_size & ~((long long)(1 << 20) - 1);
    w8_nblk = fsize / W8_BLK;
    long n_a = bench_n(500000), n_c = bench_n(32768);
    double mib_b = (double)bench_n(4096);
    uv_fs_t req;
    w8_fd = uv_fs_open(loop, &req, path, O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (w8_fd < 0)
        return 1;
    static struct w8req rs[64];
    for (int pass = 0; pass < 2; pass++) { /* the first warms the pool up */
        w8_left = pass ? n_a : n_a / 10;
        double t0 = bench_now(), c0 = w8_cpu();
        for (int i = 0; i < 64; i++) {
            rs[i].seed = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull + 1;
            w8a_next(&rs[i]);
        }
        uv_run(loop, UV_RUN_DEFAULT);
        if (pass) {
            bench_row("W8a", "libuv", "random 4k reads", (double)n_a / (bench_now() - t0), "ops/s");
            bench_row("W8a", "libuv", "cpu per read", (w8_cpu() - c0) * 1e9 / (double)n_a, "ns");
        }
    }
    char *big = malloc(1 << 20);
    double total = 0, t0 = bench_now();
    while (total < mib_b)
        for (long long off = 0; off < fsize; off += 1 << 20) {
            uv_buf_t b = uv_buf_init(big, 1 << 20);
            /* One at a time, awaited: the loop runs until the callback. */
            uv_fs_read(loop, &req, w8_fd, &b, 1, off, NULL);
            if (req.result <= 0)
                return 1;
            total += (double)req.result / (1 << 20);
            uv_fs_req_cleanup(&req);
        }
    bench_row("W8b", "libuv", "sequential 1m reads", total / (bench_now() - t0), "MiB/s");
    free(big);
    uv_fs_close(loop, &req, w8_fd, NULL);
    uv_fs_req_cleanup(&req);
    char wpath[4200];
    snprintf(wpath, sizeof wpath, "%s.w8c", path);
    unlink(wpath);
    w8_fd = uv_fs_open(loop, &req, wpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600, NULL);
    uv_fs_req_cleanup(&req);
    if (w8_fd < 0)
        return 1;
    w8_left = n_c;
    t0 = bench_now();
    double c0 = w8_cpu();
    for (int i = 0; i < 64; i++) {
        memset(rs[i].buf, 'c', W8_BLK);
        w8c_next(&rs[i]);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    bench_row("W8c", "libuv", "append 4k+fdatasync/64", (double)n_c / (bench_now() - t0), "ops/s");
    bench_row("W8c", "libuv", "cpu per write", (w8_cpu() - c0) * 1e9 / (double)n_c, "ns");
    uv_fs_close(loop, &req, w8_fd, NULL);
    uv_fs_req_cleanup(&req);
    unlink(wpath);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "echo") == 0)
        return listen_on(atoi(argv[2]), on_conn);
    if (argc > 2 && strcmp(argv[1], "http") == 0)
        return listen_on(atoi(argv[2]), on_hconn);
    if (argc > 1 && strcmp(argv[1], "timers") == 0)
        return timers();
    if (argc > 2 && strcmp(argv[1], "files") == 0)
        return files(argv[2]);
    fprintf(stderr, "usage: uv_bench echo PORT | uv_bench http PORT | uv_bench timers | uv_bench files FILE\n");
    return 2;
}
