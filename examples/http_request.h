/* http_request.h — the request-head parser of http_server.c, apart from the server
 * so that tests/fuzz/fuzz_http.c can drive it with arbitrary bytes.
 *
 * A head is what readuntil("\r\n\r\n") returns: any bytes (NUL included), not
 * NUL-terminated, read only within [head, head + len). The parser decides what
 * the server needs: HTTP/1.0 or 1.1, whether the connection stays open, and how
 * many body bytes follow.
 */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct http_request {
    int http10;            /* the request line ends in " HTTP/1.0" */
    int keep_alive;        /* the connection stays open after the response */
    size_t content_length; /* body bytes that follow the head */
};

static inline int http_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive comparison of a[0..n) with the NUL-terminated lowercase s. */
static inline int http_ieq(const char *a, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++, s++)
        if (!*s || http_lower((unsigned char)a[i]) != *s)
            return 0;
    return *s == 0;
}

/* Whether the comma-separated list v[0..n) holds tok (lowercase), ignoring case
   and the spaces and tabs around each element. */
static inline int http_has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        size_t b = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i++;
        while (b < e && (v[b] == ' ' || v[b] == '\t'))
            b++;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (http_ieq(v + b, e - b, tok))
            return 1;
    }
    return 0;
}

/* Parse the head head[0..len). Returns 0 with *req filled, or -1 with errno
   EINVAL: a Content-Length that is not a decimal number (or does not fit a
   size_t), or two Content-Length headers that disagree. */
static inline int http_parse_request(const char *head, size_t len, struct http_request *req)
{
    const char *end = head + len;
    const char *eol = memchr(head, '\n', len);
    const char *line_end = eol ? eol : end;
    if (line_end > head && line_end[-1] == '\r')
        line_end--;
    req->http10 = line_end - head >= 9 && memcmp(line_end - 9, " HTTP/1.0", 9) == 0;
    int conn_close = 0, conn_keep = 0, have_length = 0;
    size_t length = 0;
    /* Header lines: NAME ":" VALUE, one per line, up to the blank line. */
    for (const char *p = eol ? eol + 1 : end; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p)
            break; /* the blank line ending the head */
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t nlen = (size_t)(colon - p), vlen = (size_t)(ve - v);
            if (http_ieq(p, nlen, "connection")) {
                conn_close |= http_has_token(v, vlen, "close");
                conn_keep |= http_has_token(v, vlen, "keep-alive");
            } else if (http_ieq(p, nlen, "content-length")) {
                size_t n = 0;
                if (vlen == 0) {
                    errno = EINVAL;
                    return -1;
                }
                for (size_t i = 0; i < vlen; i++) {
                    unsigned d = (unsigned char)v[i] - '0';
                    if (d > 9 || n > (SIZE_MAX - d) / 10) {
                        errno = EINVAL;
                        return -1;
                    }
                    n = n * 10 + d;
                }
                if (have_length && n != length) {
                    errno = EINVAL;
                    return -1;
                }
                have_length = 1;
                length = n;
            }
        }
        p = next;
    }
    req->keep_alive = req->http10 ? conn_keep && !conn_close : !conn_close;
    req->content_length = length;
    return 0;
}

#endif
