/* sendfile_raw.c — the baseline for examples/file_server: a blocking one-connection-at-a-
 * time HTTP server that answers every GET with one file by a plain sendfile(2) loop, no
 * coio. Usage: sendfile_raw PORT FILE. Prints "listening on 127.0.0.1 port N".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 16) < 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
        perror("sendfile_raw");
        return 1;
    }
    printf("listening on 127.0.0.1 port %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        char req[8192];
        size_t got = 0;
        while (got < sizeof req - 1) {
            ssize_t n = read(c, req + got, sizeof req - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = 0;
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        int f = open(argv[2], O_RDONLY);
        struct stat st;
        fstat(f, &st);
        char hdr[128];
        int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
                          "Connection: close\r\n\r\n", (long long)st.st_size);
        write(c, hdr, (size_t)hl);
        off_t off = 0;
        while (off < st.st_size && sendfile(c, f, &off, (size_t)(st.st_size - off)) > 0)
            ;
        close(f);
        close(c);
    }
}
