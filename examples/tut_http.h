/* tut_http.h — the two HTTP clients of the network examples (tut_31..tut_34): a
 * blocking GET, standing in for the `requests` library, and a coio GET over
 * streams, standing in for `aiohttp`. Just enough HTTP/1.1 for tut_30's server:
 * one request per connection, "Connection: close", the body read to EOF.
 * URLs look like http://127.0.0.1:8080/delay/1 (numeric IPv4 host or localhost).
 */
#ifndef TUT_HTTP_H
#define TUT_HTTP_H

#define _POSIX_C_SOURCE 200809L
#include <coio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUT_DEFAULT_URL "http://127.0.0.1:8080/delay/1"

struct tut_url {
    char host[64];
    int port;
    char path[192];
};

/* Split "http://host:port/path". Returns 0, or -1 with errno EINVAL. */
static inline int tut_parse_url(const char *url, struct tut_url *u)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0) {
        errno = EINVAL;
        return -1;
    }
    p += 7;
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof u->host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(u->host, p, hl);
    u->host[hl] = 0;
    if (!strcmp(u->host, "localhost"))
        strcpy(u->host, "127.0.0.1");
    p += hl;
    u->port = 80;
    if (*p == ':')
        u->port = (int)strtol(p + 1, (char **)&p, 10);
    snprintf(u->path, sizeof u->path, "%s", *p ? p : "/");
    return 0;
}

/* The status code of an HTTP response ("HTTP/1.1 200 OK" -> 200), or -1. */
static inline int tut_status(const char *resp)
{
    int status;
    return sscanf(resp, "HTTP/%*d.%*d %d", &status) == 1 ? status : -1;
}

static inline int tut_request(const struct tut_url *u, char *buf, size_t cap)
{
    return snprintf(buf, cap, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                    u->path, u->host, u->port);
}

/* requests.get(url): plain blocking sockets. While it waits for the server, the
   whole thread waits — inside a coio task that means the loop and every other
   task wait too. Returns the status code, or -1 with errno. */
static inline int tut_blocking_get(const char *url)
{
    struct tut_url u;
    if (tut_parse_url(url, &u) < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)u.port)};
    if (inet_pton(AF_INET, u.host, &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    char buf[1024];
    int n = tut_request(&u, buf, sizeof buf);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, buf, (size_t)n) != n) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    /* Read to EOF (the server closes), keeping the head of the response. */
    size_t got = 0;
    char chunk[512];
    ssize_t k;
    while ((k = read(fd, chunk, sizeof chunk)) > 0) {
        size_t take = (size_t)k < sizeof buf - 1 - got ? (size_t)k : sizeof buf - 1 - got;
        memcpy(buf + got, chunk, take);
        got += take;
    }
    close(fd);
    buf[got] = 0;
    int status = tut_status(buf);
    if (status < 0)
        errno = EPROTO;
    return status;
}

/* aiohttp's session.get(url) + resp.text(): coio streams, so the calling task
   suspends while it waits and the others run. Returns the status code (the
   body, malloc'd, in *body if body is not NULL), or -1 with errno. */
static inline int tut_coio_get(const char *url, char **body)
{
    struct tut_url u;
    if (tut_parse_url(url, &u) < 0)
        return -1;
    coio_reader *r;
    coio_writer *w;
    if (coio_open_connection(u.host, u.port, NULL, &r, &w) < 0)  /* asyncio.open_connection */
        return -1;
    char req[512];
    int n = tut_request(&u, req, sizeof req);
    void *data = NULL;
    size_t len = 0;
    int rc = coio_writer_write(w, req, (size_t)n);       /* writer.write(req) */
    if (rc == 0)
        rc = coio_writer_drain(w);                       /* await writer.drain() */
    if (rc == 0)
        rc = coio_reader_read_all(r, &data, &len);       /* await reader.read() */
    int e = errno;
    coio_reader_release(r);
    coio_writer_release(w);                              /* writer.close() */
    if (rc < 0) {
        errno = e;
        return -1;
    }
    int status = tut_status(data);
    if (body) {
        char *b = strstr(data, "\r\n\r\n");
        *body = strdup(b ? b + 4 : "");
    }
    free(data);
    if (status < 0)
        errno = EPROTO;
    return status;
}

#endif
