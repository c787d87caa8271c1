/* W5 load client: C, raw epoll, nonblocking sockets. Opens CONNS connections
 * to 127.0.0.1:PORT; each sends a 64-byte message, waits for the full echo and
 * sends the next (lockstep). After WARM seconds it counts for SECS seconds:
 * requests/s and p50/p99 latency of the requests answered in that window.
 * Usage: echo_client IMPL PORT [CONNS=50] [WARM=1] [SECS=10] */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG 64
#define BUCKET_NS 100                   /* latency histogram resolution */
#define NBUCKETS (1000000)              /* 100 ms; slower answers land in the last */

struct conn {
    int fd;
    int got;                            /* bytes of the current echo received */
    double sent;                        /* when the current request went out */
    char buf[MSG];
};

static char msg[MSG];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* Connect (blocking), retrying while the server is still starting. */
static int dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int tries = 0; tries < 1000; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                die("fcntl");
            return fd;
        }
        close(fd);
        usleep(10000);
    }
    die("connect");
    return -1;
}

static void send_msg(struct conn *c, double now)
{
    c->got = 0;
    c->sent = now;
    ssize_t n = send(c->fd, msg, MSG, MSG_NOSIGNAL);
    if (n != MSG) /* 64 bytes into an empty socket buffer: never partial */
        die("send");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: echo_client IMPL PORT [CONNS] [WARM] [SECS]\n");
        return 2;
    }
    const char *impl = argv[1];
    int port = atoi(argv[2]);
    int nconn = argc > 3 ? atoi(argv[3]) : 50;
    double warm = argc > 4 ? atof(argv[4]) : 1.0;
    double secs = argc > 5 ? atof(argv[5]) : 10.0;
    for (int i = 0; i < MSG; i++)
        msg[i] = (char)('a' + i % 26);
    uint32_t *hist = calloc(NBUCKETS, sizeof *hist);
    struct conn *conns = calloc((size_t)nconn, sizeof *conns);
    int ep = epoll_create1(0);
    if (!hist || !conns || ep < 0)
        die("setup");
    for (int i = 0; i < nconn; i++) {
        conns[i].fd = dial(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
            die("epoll_ctl");
    }
    double start = bench_now(), t_measure = start + warm, t_end = t_measure + secs;
    for (int i = 0; i < nconn; i++)
        send_msg(&conns[i], start);
    long count = 0;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        double now = bench_now();
        if (now >= t_end)
            break;
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (i)
                now = bench_now(); /* the batch's earlier recv/send took time */
            ssize_t r = recv(c->fd, c->buf + c->got, (size_t)(MSG - c->got), 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                fprintf(stderr, "echo_client: %s closed the connection\n", impl);
                return 1;
            }
            c->got += (int)r;
            if (c->got < MSG)
                continue;
            if (memcmp(c->buf, msg, MSG) != 0) {
                fprintf(stderr, "echo_client: %s echoed wrong bytes\n", impl);
                return 1;
            }
            if (now >= t_measure) {
                double ns = (now - c->sent) * 1e9;
                long b = (long)(ns / BUCKET_NS);
                hist[b < NBUCKETS ? b : NBUCKETS - 1]++;
                count++;
            }
            send_msg(c, now);
        }
    }
    for (int i = 0; i < nconn; i++)
        close(conns[i].fd);
    if (count == 0) {
        fprintf(stderr, "echo_client: %s answered nothing\n", impl);
        return 1;
    }
    double p50 = 0, p99 = 0;
    long seen = 0, want50 = (count + 1) / 2, want99 = (long)((double)count * 0.99);
    if (want99 < 1)
        want99 = 1;
    for (long b = 0; b < NBUCKETS; b++) {
        if (seen < want50 && seen + hist[b] >= want50)
            p50 = (b + 0.5) * BUCKET_NS / 1000.0;
        if (seen < want99 && seen + hist[b] >= want99)
            p99 = (b + 0.5) * BUCKET_NS / 1000.0;
        seen += hist[b];
    }
    bench_row("W5", impl, "requests/s", (double)count / secs, "req/s");
    bench_row("W5", impl, "p50 latency", p50, "us");
    bench_row("W5", impl, "p99 latency", p99, "us");
    free(hist);
    free(conns);
    return 0;
}
