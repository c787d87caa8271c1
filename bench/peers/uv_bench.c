/* Peers on libuv: W5 echo server (uv_tcp_t, uv_read_start/uv_write) and W6
 * timers (uv_timer_start/uv_timer_stop on handles the program owns, as libuv
 * is used). Usage: uv_bench echo PORT | uv_bench timers. echo listens on
 * 127.0.0.1:PORT (0: any free port) and prints the port. */
#include "bench.h"

#include <arpa/inet.h>
#include <stdint.h>
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

static int echo(int port)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_conn);
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
        ms[i] = 1000 + (uint64_t)((double)(x >> 11) * (9000.0 / 9007199254740992.0)); /* [1, 10 s) */
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

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "echo") == 0)
        return echo(atoi(argv[2]));
    if (argc > 1 && strcmp(argv[1], "timers") == 0)
        return timers();
    fprintf(stderr, "usage: uv_bench echo PORT | uv_bench timers\n");
    return 2;
}
