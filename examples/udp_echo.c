/* udp_echo.c — a UDP echo server on a coio datagram endpoint, and its load client.
 *
 * Server: udp_echo [PORT [HOST]]   (PORT 0, the default, picks a free port). Prints
 *   "listening on HOST port N"; each datagram goes back to its sender. SIGINT or SIGTERM
 *   stops it.
 * Client: udp_echo -c HOST PORT COUNT [SIZE [WINDOW]]   sends COUNT numbered datagrams of
 *   SIZE bytes (default 64) with at most WINDOW (default 32) unanswered, checks every
 *   echo, and prints "sent N received M lost L bad B, D datagrams/s". Exit 0 only if
 *   every datagram came back intact. A reply missing for 5 s counts as lost.
 */
#include <coio.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *server(void *arg)
{
    char **argv = arg;
    int port = argv[1] ? atoi(argv[1]) : 0;
    const char *host = argv[1] && argv[2] ? argv[2] : "127.0.0.1";
    coio_datagram *d = coio_datagram_open(host, port, NULL, 0, NULL);
    if (!d) {
        perror("udp_echo: open");
        return (void *)1;
    }
    printf("listening on %s port %d\n", host, coio_datagram_port(d));
    fflush(stdout);
    static char buf[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = coio_datagram_recvfrom(d, buf, sizeof buf, (struct sockaddr *)&from, &fl, NULL);
        if (n < 0) {
            if (errno == ECANCELED)
                break; /* SIGINT/SIGTERM */
            continue; /* ECONNREFUSED from an earlier reply and the like: go on */
        }
        coio_datagram_sendto(d, buf, (size_t)n, (struct sockaddr *)&from, fl);
    }
    coio_absorb_cancel();
    coio_datagram_close(d);
    return NULL;
}

static void on_term(int sig, void *task) { coio_cancel(task); }

struct client {
    coio_datagram *d;
    long count, size, window;
    long sent, received, lost, bad;
};

/* Fill datagram i: its number, then a pattern derived from it. */
static void fill(unsigned char *p, long size, long i)
{
    memcpy(p, &i, sizeof i);
    for (long k = (long)sizeof i; k < size; k++)
        p[k] = (unsigned char)(i * 31 + k);
}

static void *client(void *arg)
{
    struct client *c = arg;
    static unsigned char out[65536], in[65536], want[65536]; /* not on the task stack */
    long next_reply = 0;
    double t0 = coio_loop_time(NULL);
    while (next_reply < c->count) {
        while (c->sent < c->count && c->sent - next_reply < c->window) {
            fill(out, c->size, c->sent);
            if (coio_datagram_send(c->d, out, (size_t)c->size) < 0) {
                perror("udp_echo: send");
                return (void *)1;
            }
            c->sent++;
        }
        coio_timeout to;
        coio_timeout_enter(&to, 5.0);
        int trunc = 0;
        ssize_t n = coio_datagram_recvfrom(c->d, in, sizeof in, NULL, NULL, &trunc);
        if (coio_timeout_exit(&to, n < 0 ? -1 : 0) < 0) {
            if (errno != ETIMEDOUT) {
                perror("udp_echo: recv");
                return (void *)1;
            }
            c->lost += c->sent - next_reply; /* everything in flight is gone */
            next_reply = c->sent;
            continue;
        }
        long i;
        if (n != c->size || trunc || (memcpy(&i, in, sizeof i), i < next_reply) || i >= c->sent) {
            c->bad++;
            continue;
        }
        c->lost += i - next_reply; /* skipped ones never come: loopback keeps order */
        fill(want, c->size, i);
        if (memcmp(in, want, (size_t)c->size) != 0)
            c->bad++;
        else
            c->received++;
        next_reply = i + 1;
    }
    double dt = coio_loop_time(NULL) - t0;
    printf("sent %ld received %ld lost %ld bad %ld, %.0f datagrams/s\n", c->sent, c->received,
           c->lost, c->bad, dt > 0 ? c->received / dt : 0.0);
    return c->received == c->count ? NULL : (void *)1;
}

static void *client_main(void *arg)
{
    char **argv = arg;
    struct client c = {0};
    c.count = atol(argv[4]);
    c.size = argv[5] ? atol(argv[5]) : 64;
    c.window = argv[5] && argv[6] ? atol(argv[6]) : 32;
    if (c.count <= 0 || c.size < (long)sizeof(long) || c.size > 65000 || c.window <= 0) {
        fprintf(stderr, "udp_echo: bad COUNT, SIZE or WINDOW\n");
        return (void *)1;
    }
    c.d = coio_datagram_open(NULL, -1, argv[2], atoi(argv[3]), NULL);
    if (!c.d) {
        perror("udp_echo: open");
        return (void *)1;
    }
    void *rc = client(&c);
    coio_datagram_close(c.d);
    return rc;
}

static void *main_task(void *arg)
{
    char **argv = arg;
    if (argv[1] && strcmp(argv[1], "-c") == 0) {
        if (!argv[2] || !argv[3] || !argv[4]) {
            fprintf(stderr, "usage: udp_echo -c HOST PORT COUNT [SIZE [WINDOW]]\n");
            return (void *)1;
        }
        return client_main(arg);
    }
    coio_add_signal_handler(SIGTERM, on_term, coio_current_task());
    coio_add_signal_handler(SIGINT, on_term, coio_current_task());
    return server(arg);
}

int main(int argc, char **argv)
{
    (void)argc;
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0 && errno != EINTR) {
        perror("udp_echo");
        return 1;
    }
    return res ? 1 : 0;
}
