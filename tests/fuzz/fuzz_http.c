/* fuzz_http.c — libFuzzer target for the request-head parser of the HTTP example
 * (examples/http_request.h, used by examples/http_server.c). The input is a head
 * as readuntil("\r\n\r\n") would hand it over: any bytes, in an exact-size heap
 * copy, so that ASan catches a read past its end.
 *
 * Checks: the parser never reads outside the head (ASan), never hits UB (UBSan);
 * it is deterministic; on success its fields are sane (flags 0/1, HTTP/1.1
 * without "Connection: close" keeps the connection, HTTP/1.0 closes it without
 * keep-alive); a head with no Content-Length header has length 0 and one
 * without a Connection header keeps HTTP/1.1 open; what follows the blank line
 * ending the head changes nothing; and a head built from the parsed fields
 * parses back to them.
 */
#include "http_request.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                 \
    do {                                                                                         \
        if (!(c)) {                                                                              \
            fprintf(stderr, "fuzz_http.c:%d: check failed: %s\n", __LINE__, #c);                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* rc and fields of one parse of a fresh exact-size copy of data[0..n). */
static int parse_copy(const uint8_t *data, size_t n, struct http_request *req)
{
    char *h = malloc(n ? n : 1);
    CHECK(h != NULL);
    if (n)
        memcpy(h, data, n);
    memset(req, 0x5a, sizeof *req);
    errno = 0;
    int rc = http_parse_request(h, n, req);
    CHECK(rc == 0 || (rc == -1 && errno == EINVAL));
    free(h);
    return rc;
}

static int same_request(const struct http_request *a, const struct http_request *b)
{
    return a->http10 == b->http10 && a->keep_alive == b->keep_alive &&
           a->content_length == b->content_length;
}

/* Whether a header line named name (case-insensitive) appears in the head before
   its blank line: a plain scan independent of the parser's. */
static int has_header(const uint8_t *d, size_t n, const char *name)
{
    size_t nl = strlen(name);
    const uint8_t *p = memchr(d, '\n', n);
    while (p) {
        p++;
        size_t left = n - (size_t)(p - d);
        if (left == 0 || p[0] == '\n' || (left >= 2 && p[0] == '\r' && p[1] == '\n'))
            return 0; /* the blank line */
        if (left > nl) {
            size_t i = 0;
            while (i < nl && http_lower(p[i]) == name[i])
                i++;
            if (i == nl)
                return 1; /* the name, maybe with more after it: a superset is fine */
        }
        p = memchr(p, '\n', left);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request a, b;
    int rc = parse_copy(data, size, &a);
    int rc2 = parse_copy(data, size, &b);
    CHECK(rc == rc2);
    if (rc < 0) {
        CHECK(has_header(data, size, "content-length"));
        return 0;
    }
    CHECK(same_request(&a, &b));
    CHECK(a.http10 == 0 || a.http10 == 1);
    CHECK(a.keep_alive == 0 || a.keep_alive == 1);
    if (!has_header(data, size, "content-length"))
        CHECK(a.content_length == 0);
    if (!has_header(data, size, "connection"))
        CHECK(a.keep_alive == !a.http10);

    /* Bytes after the blank line that ends the head are not part of it. */
    static const char tail[] = "Content-Length: x\r\nConnection: close, keep-alive\r\n\r\n";
    if (size >= 4 && memcmp(data + size - 4, "\r\n\r\n", 4) == 0) {
        uint8_t *longer = malloc(size + sizeof tail);
        CHECK(longer != NULL);
        memcpy(longer, data, size);
        memcpy(longer + size, tail, sizeof tail - 1);
        struct http_request c;
        CHECK(parse_copy(longer, size + sizeof tail - 1, &c) == 0);
        CHECK(same_request(&a, &c));
        free(longer);
    }

    /* A clean head made from the fields parses back to them. */
    char head[256];
    int n = snprintf(head, sizeof head, "GET / HTTP/1.%d\r\nHost: x\r\n%sContent-Length: %zu\r\n\r\n",
                     a.http10 ? 0 : 1,
                     a.keep_alive == !a.http10 ? ""
                     : a.keep_alive            ? "Connection: keep-alive\r\n"
                                               : "Connection: close\r\n",
                     a.content_length);
    CHECK(n > 0 && (size_t)n < sizeof head);
    struct http_request d;
    CHECK(parse_copy((const uint8_t *)head, (size_t)n, &d) == 0);
    CHECK(same_request(&a, &d));
    return 0;
}
