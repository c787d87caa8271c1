/* udp_echo_raw.c — the baseline for examples/udp_echo: a UDP echo server on raw epoll
 * (edge-triggered; recvfrom until EAGAIN, each datagram sent straight back), one thread,
 * no coio. Usage: udp_echo_raw PORT. Prints "listening on 127.0.0.1 port N".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("udp_echo_raw");
        return 1;
    }
    printf("listening on 127.0.0.1 port %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    static char buf[65536];
    for (;;) {
        struct epoll_event out;
        if (epoll_wait(ep, &out, 1, -1) < 0 && errno != EINTR)
            return 1;
        for (;;) {
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n < 0)
                break;
            sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
    }
}
