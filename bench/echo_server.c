/* W5 echo server on coio: listens on 127.0.0.1:PORT, one task per connection
 * (coio_accept, coio_read, coio_write), echoes until the peer closes. Runs
 * until killed; bench/run.sh starts it pinned to CPU 0 and drives it with
 * echo_client. Usage: echo_server PORT (0: any free port); prints the port. */
#include "bench.h"
#include "coio.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

static void *conn_task(void *arg)
{
    int fd = (int)(long)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = coio_read(fd, buf, sizeof buf);
        if (n <= 0 || coio_write(fd, buf, (size_t)n) != n)
            break;
    }
    coio_close(fd);
    return NULL;
}

static void *server_main(void *arg)
{
    int port = (int)(long)arg;
    int ls = coio_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1024) < 0) {
        perror("echo_server");
        return (void *)-1;
    }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    for (;;) {
        int c = coio_accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        coio_task *t = coio_spawn(conn_task, (void *)(long)c);
        if (t)
            coio_task_release(t); /* detached: the loop keeps it until it ends */
        else
            coio_close(c);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    return coio_run(server_main, (void *)atol(argv[1]), NULL) == 0 ? 0 : 1;
}
