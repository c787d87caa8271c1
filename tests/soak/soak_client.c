/* soak_client.c — a load client for the example servers (tests/soak/run.sh).
 *
 * Usage: soak_client echo|http PORT SECONDS SERVER_PID [WORKERS [SEED]]
 *
 * On 127.0.0.1:PORT only, WORKERS tasks (default 48: the bound on concurrent
 * connections) each open connection after connection for SECONDS, each doing one
 * of: correct traffic checked byte for byte (echo: lines of random bytes in random
 * chunks, pipelined; http: keep-alive requests with and without bodies, HTTP/1.0,
 * a final "Connection: close", a malformed Content-Length that must get 400);
 * a reset (SO_LINGER 0) mid-request; a half-close after the request, then every
 * answer up to EOF; a stall mid-request before finishing it (or walking away);
 * a line over the echo server's limit (the server must hang up); and writing
 * without ever reading, until the server's backpressure stops it.
 *
 * It watches the server process SERVER_PID: its open fds before the load and
 * after it (once the connections are gone, they must be back to the count before)
 * and its VmRSS after a warm-up and at the end (end <= 2 * warm-up + 32 MiB). At
 * the end one more correct exchange must succeed. Prints the connection counts;
 * exits 1 on any wrong byte, failed exchange, fd growth or RSS growth.
 */
#include <coio.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define ECHO_LIMIT 8192 /* examples/echo_server.c's LINE_MAX_LEN */
#define EXCHANGE_TIMEOUT 20.0 /* seconds a correct exchange may take, load included */

enum kind { CORRECT, RESET, HALF_CLOSE, STALL, OVERLONG, NO_READ, NKINDS };
static const char *const kind_names[NKINDS] = {"correct", "reset", "half-close", "stall",
                                               "over-limit/bad", "never-read"};

static int http_mode, port;
static double end_time;
static unsigned long counts[NKINDS], failures;
static int reported;
static int only_kind = -1; /* SOAK_ONLY=N (debugging): every connection of kind N */

static void fail(const char *what, int err)
{
    failures++;
    if (reported++ < 20)
        fprintf(stderr, "soak_client: FAIL: %s (%s)\n", what, err ? strerror(err) : "wrong bytes");
}

/* ---- random numbers (xorshift64*, one state per worker) ---- */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
static size_t rnd_in(uint64_t *s, size_t lo, size_t hi) { return lo + (size_t)(rnd(s) % (hi - lo + 1)); }

/* ---- the server process ---- */
static pid_t server_pid;

static int count_fds(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)server_pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static long rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ---- connections ---- */
struct conn {
    coio_reader *r;
    coio_writer *w;
};

static int conn_open(struct conn *c)
{
    if (coio_open_connection("127.0.0.1", port, NULL, &c->r, &c->w) < 0)
        return -1;
    return 0;
}

static void conn_close(struct conn *c, int reset)
{
    if (reset) {
        struct linger lg = {1, 0}; /* close sends RST */
        setsockopt(coio_writer_fd(c->w), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    coio_reader_release(c->r);
    coio_writer_release(c->w);
}

/* Write data in random pieces, draining after each. */
static int write_chunked(struct conn *c, const uint8_t *p, size_t n, uint64_t *s)
{
    while (n) {
        size_t k = rnd_in(s, 1, n < 4096 ? n : 4096);
        if (rnd(s) % 4 == 0)
            k = n;
        if (coio_writer_write(c->w, p, k) < 0 || coio_writer_drain(c->w) < 0)
            return -1;
        p += k;
        n -= k;
        if (rnd(s) % 8 == 0 && coio_yield() < 0)
            return -1;
    }
    return 0;
}

/* EOF must come next (a read returns 0, or the peer reset as it closed). */
static int expect_eof(struct conn *c)
{
    char b[64];
    ssize_t k = coio_reader_read(c->r, b, sizeof b);
    if (k == 0 || (k < 0 && errno == ECONNRESET))
        return 0;
    if (k > 0)
        errno = 0;
    return -1;
}

/* ---- echo ---- */

/* Random lines (no '\n' inside, one at the end), total about n bytes, each at
   most maxline bytes with its newline. Returns the length. */
static size_t make_lines(uint8_t *buf, size_t n, size_t maxline, uint64_t *s)
{
    size_t len = 0;
    while (len < n) {
        size_t l = rnd_in(s, 1, maxline);
        if (len + l > n)
            l = n - len;
        for (size_t i = 0; i + 1 < l; i++) {
            uint8_t b = (uint8_t)rnd(s);
            buf[len + i] = b == '\n' ? 'N' : b;
        }
        buf[len + l - 1] = '\n';
        len += l;
    }
    return len;
}

/* Send lines, read every echoed byte back and compare. */
static int echo_exchange(struct conn *c, uint64_t *s, uint8_t *out, uint8_t *in)
{
    size_t n = make_lines(out, rnd_in(s, 1, 48 * 1024), rnd(s) % 2 ? 3000 : 64, s);
    if (write_chunked(c, out, n, s) < 0)
        return -1;
    if (coio_reader_readexactly(c->r, in, n, NULL) != (ssize_t)n)
        return -1;
    if (memcmp(in, out, n) != 0) {
        errno = 0;
        return -1;
    }
    return 0;
}

/* ---- http ---- */
static const char RESP_KEEP[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
                                "Hello, world\n";
static const char RESP_KEEP10[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                                  "Connection: keep-alive\r\n\r\nHello, world\n";
static const char RESP_CLOSE[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                                 "Connection: close\r\n\r\nHello, world\n";
static const char RESP_BAD[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/* One request into buf: its length; *resp gets the response it must get and
   *closes whether the server then hangs up. */
static size_t make_request(uint8_t *buf, uint64_t *s, int last, const char **resp, int *closes)
{
    int v10 = rnd(s) % 6 == 0, body = rnd(s) % 3 == 0;
    int close_it = last && rnd(s) % 2;
    size_t blen = body ? rnd_in(s, 0, 6000) : 0;
    int n = sprintf((char *)buf, "%s /soak/%u HTTP/1.%d\r\nHost: 127.0.0.1\r\nX-Pad: %.*s\r\n",
                    body ? "POST" : "GET", (unsigned)rnd(s), v10 ? 0 : 1, (int)rnd_in(s, 0, 200),
                    "----------------------------------------------------------------------------"
                    "----------------------------------------------------------------------------"
                    "------------------------------------------------");
    if (v10 && !close_it)
        n += sprintf((char *)buf + n, "Connection: keep-alive\r\n");
    if (!v10 && close_it)
        n += sprintf((char *)buf + n, "Connection: close\r\n");
    if (body)
        n += sprintf((char *)buf + n, "Content-Length: %zu\r\n", blen);
    n += sprintf((char *)buf + n, "\r\n");
    for (size_t i = 0; i < blen; i++)
        buf[n + i] = (uint8_t)rnd(s); /* bodies may hold "\r\n\r\n": length decides */
    *closes = close_it;
    *resp = close_it ? RESP_CLOSE : v10 ? RESP_KEEP10 : RESP_KEEP;
    return (size_t)n + blen;
}

static int read_expect(struct conn *c, const char *resp, uint8_t *in)
{
    size_t n = strlen(resp);
    if (coio_reader_readexactly(c->r, in, n, NULL) != (ssize_t)n)
        return -1;
    if (memcmp(in, resp, n) != 0) {
        errno = 0;
        return -1;
    }
    return 0;
}

/* Keep-alive requests, sometimes pipelined, every response compared whole. */
static int http_exchange(struct conn *c, uint64_t *s, uint8_t *out, uint8_t *in)
{
    int nreq = (int)rnd_in(s, 1, 8), pipelined = rnd(s) % 2;
    const char *resp[8];
    int closes = 0;
    size_t len = 0;
    for (int i = 0; i < nreq && !closes; i++) {
        size_t k = make_request(out + len, s, i == nreq - 1, &resp[i], &closes);
        if (!pipelined) {
            if (write_chunked(c, out + len, k, s) < 0 || read_expect(c, resp[i], in) < 0)
                return -1;
        } else {
            len += k;
        }
        nreq = i + 1;
    }
    if (pipelined) {
        if (write_chunked(c, out, len, s) < 0)
            return -1;
        for (int i = 0; i < nreq; i++)
            if (read_expect(c, resp[i], in) < 0)
                return -1;
    }
    return closes ? expect_eof(c) : 0;
}

/* ---- one connection of each kind ---- */
struct worker {
    uint64_t seed;
    uint8_t out[64 * 1024], in[64 * 1024];
};

static int correct(struct conn *c, struct worker *wk)
{
    return http_mode ? http_exchange(c, &wk->seed, wk->out, wk->in)
                     : echo_exchange(c, &wk->seed, wk->out, wk->in);
}

/* Some bytes of a request or of lines, without finishing it. */
static size_t partial(struct worker *wk)
{
    const char *r = NULL;
    int closes;
    size_t n = http_mode ? make_request(wk->out, &wk->seed, 0, &r, &closes)
                         : make_lines(wk->out, 4000, 4000, &wk->seed);
    return rnd_in(&wk->seed, 1, n > 1 ? n - 1 : 1);
}

static int run_kind(enum kind k, struct conn *c, struct worker *wk)
{
    uint64_t *s = &wk->seed;
    switch (k) {
    case CORRECT:
        return correct(c, wk);
    case RESET: {
        if (rnd(s) % 2 && correct(c, wk) < 0)
            return -1;
        size_t n = partial(wk);
        coio_writer_write(c->w, wk->out, n);
        coio_writer_drain(c->w);
        return 0; /* the caller resets */
    }
    case HALF_CLOSE: {
        /* Everything answered, then EOF: the server sees our EOF and hangs up. */
        size_t n;
        uint8_t *expect = wk->in + 32 * 1024;
        size_t elen = 0;
        if (http_mode) {
            n = 0;
            int nreq = (int)rnd_in(s, 1, 4), closes = 0;
            for (int i = 0; i < nreq && !closes; i++) {
                const char *resp;
                n += make_request(wk->out + n, s, 0, &resp, &closes);
                memcpy(expect + elen, resp, strlen(resp));
                elen += strlen(resp);
            }
        } else {
            n = make_lines(wk->out, rnd_in(s, 1, 16 * 1024), 3000, s);
            if (rnd(s) % 2)
                n--; /* a last line without newline: echoed at EOF too */
            memcpy(expect, wk->out, n);
            elen = n;
        }
        if (write_chunked(c, wk->out, n, s) < 0 || coio_writer_write_eof(c->w) < 0)
            return -1;
        void *all = NULL;
        size_t alen = 0;
        if (coio_reader_read_all(c->r, &all, &alen) < 0)
            return -1;
        int ok = alen == elen && memcmp(all, expect, elen) == 0;
        free(all);
        if (!ok) {
            errno = 0;
            return -1;
        }
        return 0;
    }
    case STALL: {
        size_t n = partial(wk), total;
        if (http_mode) {
            const char *resp;
            int closes;
            /* Rebuild a whole request so that the tail can be finished. */
            total = make_request(wk->out, s, 0, &resp, &closes);
            if (n >= total)
                n = total - 1;
            if (coio_writer_write(c->w, wk->out, n) < 0 || coio_writer_drain(c->w) < 0)
                return -1;
            if (coio_sleep((double)rnd_in(s, 10, 400) / 1000) < 0)
                return -1;
            if (rnd(s) % 3 == 0)
                return 0; /* walk away mid-request */
            if (write_chunked(c, wk->out + n, total - n, s) < 0)
                return -1;
            return read_expect(c, resp, wk->in);
        }
        total = make_lines(wk->out, rnd_in(s, 2, 8000), 3000, s);
        if (n >= total)
            n = total - 1;
        if (coio_writer_write(c->w, wk->out, n) < 0 || coio_writer_drain(c->w) < 0)
            return -1;
        if (coio_sleep((double)rnd_in(s, 10, 400) / 1000) < 0)
            return -1;
        if (rnd(s) % 3 == 0)
            return 0;
        if (write_chunked(c, wk->out + n, total - n, s) < 0)
            return -1;
        if (coio_reader_readexactly(c->r, wk->in, total, NULL) != (ssize_t)total)
            return -1;
        if (memcmp(wk->in, wk->out, total) != 0) {
            errno = 0;
            return -1;
        }
        return 0;
    }
    case OVERLONG: {
        if (http_mode) {
            /* A malformed Content-Length: 400, then the server hangs up. */
            static const char bad[] = "POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n";
            if (write_chunked(c, (const uint8_t *)bad, sizeof bad - 1, s) < 0)
                return -1;
            if (read_expect(c, RESP_BAD, wk->in) < 0)
                return -1;
            return expect_eof(c);
        }
        /* A line longer than the server's limit: it hangs up without echoing. */
        size_t n = rnd_in(s, ECHO_LIMIT + 1, 3 * ECHO_LIMIT);
        memset(wk->out, 'x', n);
        if (coio_writer_write(c->w, wk->out, n) < 0 || coio_writer_drain(c->w) < 0)
            return errno == ECONNRESET || errno == EPIPE ? 0 : -1;
        return expect_eof(c);
    }
    case NO_READ: {
        /* Write until the server's backpressure (it cannot send its answers to us)
           stops taking bytes, wait a while, never read. The bytes go to the socket
           itself: a coio_writer holding unsent bytes would keep the fd open after
           release until they are sent (no abort() in the API), which they never
           would be. */
        int fd = coio_writer_fd(c->w);
        int small = 4096; /* push back sooner: the answers fill a small window */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        double until = coio_loop_time(NULL) + (double)rnd_in(s, 50, 300) / 1000;
        size_t n = 0, off = 0;
        for (;;) {
            if (coio_loop_time(NULL) >= until)
                return 0; /* (the HTTP server may take MBs before it pushes back) */
            if (off == n && n) {
                off = 0; /* the same requests again: generating them is the cost */
            } else if (off == n) {
                const char *resp;
                int closes;
                n = off = 0;
                if (http_mode)
                    while (n < 32 * 1024)
                        n += make_request(wk->out + n, s, 0, &resp, &closes);
                else
                    n = make_lines(wk->out, 32 * 1024, 3000, s);
            }
            ssize_t sent = send(fd, wk->out + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (sent > 0) {
                off += (size_t)sent;
                continue;
            }
            if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            double left = until - coio_loop_time(NULL);
            if (left <= 0)
                return 0;
            if (coio_wait_writable(fd, left) < 0 && errno != ETIMEDOUT)
                return -1;
        }
    }
    default:
        return -1;
    }
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    while (coio_loop_time(NULL) < end_time) {
        unsigned p = (unsigned)(rnd(&wk->seed) % 100);
        enum kind k = p < 40 ? CORRECT : p < 55 ? RESET : p < 70 ? HALF_CLOSE : p < 85 ? STALL
                                                                  : p < 93 ? OVERLONG : NO_READ;
        if (only_kind >= 0)
            k = (enum kind)only_kind;
        struct conn c;
        coio_timeout to;
        coio_timeout_enter(&to, EXCHANGE_TIMEOUT);
        int rc = conn_open(&c);
        if (rc == 0) {
            rc = run_kind(k, &c, wk);
            int e = errno;
            /* A never-read client leaves its writer holding bytes the server
               will not take: a graceful close would wait for them, so it
               resets (as close(2) does with unread bytes). */
            conn_close(&c, k == RESET || k == NO_READ || (k == STALL && rnd(&wk->seed) % 2));
            errno = e;
        }
        rc = coio_timeout_exit(&to, rc);
        if (rc < 0) {
            char what[64];
            snprintf(what, sizeof what, "%s connection", kind_names[k]);
            fail(what, errno);
        }
        counts[k]++;
    }
    return NULL;
}

struct args {
    double seconds;
    int workers;
    uint64_t seed;
};

static void *main_task(void *arg)
{
    struct args *a = arg;
    int fds0 = count_fds();
    if (fds0 < 0) {
        fprintf(stderr, "soak_client: cannot read /proc/%d/fd\n", (int)server_pid);
        return (void *)1;
    }
    double start = coio_loop_time(NULL);
    end_time = start + a->seconds;
    struct worker *wks = calloc((size_t)a->workers, sizeof *wks);
    coio_task **ts = calloc((size_t)a->workers, sizeof *ts);
    if (!wks || !ts) {
        perror("soak_client");
        return (void *)1;
    }
    for (int i = 0; i < a->workers; i++) {
        wks[i].seed = a->seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x2545f4914f6cdd1dull + 1;
        coio_task_opts o = {.stack_size = 256 * 1024};
        ts[i] = coio_spawn_opts(&o, worker_main, &wks[i]);
        if (!ts[i]) {
            perror("soak_client: spawn");
            return (void *)1;
        }
    }
    /* Warm-up: a fifth of the run, at most 5 s. */
    double warm = a->seconds / 5 < 5 ? a->seconds / 5 : 5;
    coio_sleep(warm);
    long rss_warm = rss_kib();
    for (int i = 0; i < a->workers; i++) {
        coio_await(ts[i], NULL);
        coio_task_release(ts[i]);
    }
    /* The server closes its ends as it notices ours: give it time. */
    int fds1 = count_fds();
    for (int i = 0; i < 100 && fds1 != fds0; i++) {
        coio_sleep(0.05);
        fds1 = count_fds();
    }
    long rss_end = rss_kib();
    /* The server still answers. */
    struct worker *last = &wks[0];
    struct conn c;
    coio_timeout to;
    coio_timeout_enter(&to, EXCHANGE_TIMEOUT);
    int alive = conn_open(&c) == 0;
    if (alive) {
        alive = correct(&c, last) == 0;
        conn_close(&c, 0);
    }
    alive = coio_timeout_exit(&to, alive ? 0 : -1) == 0;
    unsigned long total = 0;
    printf("soak %s: %.0f s, %d workers:", http_mode ? "http" : "echo", a->seconds, a->workers);
    for (int k = 0; k < NKINDS; k++) {
        printf(" %s %lu", kind_names[k], counts[k]);
        total += counts[k];
    }
    printf("; %lu connections (%.0f/s); server fds %d -> %d; VmRSS %ld kB after warm-up, %ld kB at "
           "the end; %lu failures\n",
           total, total / a->seconds, fds0, fds1, rss_warm, rss_end, failures);
    int bad = failures != 0;
    if (fds1 != fds0) {
        fprintf(stderr, "soak_client: FAIL: the server's fds grew from %d to %d\n", fds0, fds1);
        bad = 1;
    }
    if (rss_warm < 0 || rss_end < 0 || rss_end > 2 * rss_warm + 32 * 1024) {
        fprintf(stderr, "soak_client: FAIL: the server's VmRSS went from %ld kB to %ld kB\n",
                rss_warm, rss_end);
        bad = 1;
    }
    if (!alive) {
        fprintf(stderr, "soak_client: FAIL: the server no longer answers (%s)\n", strerror(errno));
        bad = 1;
    }
    free(wks);
    free(ts);
    return bad ? (void *)1 : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[1], "echo") && strcmp(argv[1], "http"))) {
        fprintf(stderr, "usage: soak_client echo|http PORT SECONDS SERVER_PID [WORKERS [SEED]]\n");
        return 2;
    }
    http_mode = !strcmp(argv[1], "http");
    port = atoi(argv[2]);
    struct args a = {atof(argv[3]), argc > 5 ? atoi(argv[5]) : 48,
                     argc > 6 ? strtoull(argv[6], NULL, 10) : 1};
    server_pid = (pid_t)atoi(argv[4]);
    if (getenv("SOAK_ONLY"))
        only_kind = atoi(getenv("SOAK_ONLY")) % NKINDS;
    if (port <= 0 || port > 65535 || a.seconds <= 0 || a.workers <= 0 || server_pid <= 0) {
        fprintf(stderr, "soak_client: bad arguments\n");
        return 2;
    }
    void *res = NULL;
    if (coio_run(main_task, &a, &res) < 0) {
        perror("soak_client");
        return 1;
    }
    return res ? 1 : 0;
}
