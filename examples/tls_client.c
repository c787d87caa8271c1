/* tls_client.c — fetch an https:// URL, verifying the server as a browser would: the
 * chain against the system's CA store (or CAFILE) and the host name. Sends a GET with
 * "Connection: close" and prints the response (head and body) to stdout. A refused
 * handshake prints why (coio_stream_tls_error) and exits 1.
 *
 * Usage: tls_client https://HOST[:PORT][/PATH] [CAFILE]
 */
#include <coio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct url {
    char host[256];
    int port;
    const char *path;
};

static int parse_url(const char *s, struct url *u)
{
    if (strncmp(s, "https://", 8) != 0)
        return -1;
    s += 8;
    size_t n = strcspn(s, ":/");
    if (n == 0 || n >= sizeof u->host)
        return -1;
    memcpy(u->host, s, n);
    u->host[n] = 0;
    s += n;
    u->port = 443;
    if (*s == ':') {
        char *end;
        long p = strtol(s + 1, &end, 10);
        if (end == s + 1 || p <= 0 || p > 65535)
            return -1;
        u->port = (int)p;
        s = end;
    }
    u->path = *s == '/' ? s : "/";
    return 0;
}

static void *main_task(void *arg)
{
    char **argv = arg;
    struct url u;
    if (parse_url(argv[1], &u) < 0) {
        fprintf(stderr, "tls_client: not an https URL: %s\n", argv[1]);
        return (void *)1;
    }
    coio_tls_context *tls = coio_tls_context_new(COIO_TLS_CLIENT);
    if (!tls || (argv[2] && coio_tls_context_load_verify_locations(tls, argv[2], NULL) < 0)) {
        fprintf(stderr, "tls_client: TLS context: %s\n", strerror(errno));
        coio_tls_context_release(tls);
        return (void *)1;
    }
    static const char *const alpn[] = {"http/1.1"};
    coio_tls_context_set_alpn(tls, alpn, 1);
    coio_stream_opts o = {.tls = tls}; /* server_hostname: the URL's host */
    coio_reader *r;
    coio_writer *w;
    int rc = coio_open_connection(u.host, u.port, &o, &r, &w);
    coio_tls_context_release(tls);
    if (rc < 0) {
        const char *why = coio_stream_tls_error(NULL);
        fprintf(stderr, "tls_client: %s:%d: %s%s%s\n", u.host, u.port, strerror(errno),
                why ? ": " : "", why ? why : "");
        return (void *)1;
    }
    fprintf(stderr, "tls_client: %s, %s, ALPN %s\n", coio_writer_tls_version(w),
            coio_writer_tls_cipher(w), coio_writer_tls_alpn(w) ? coio_writer_tls_alpn(w) : "none");
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: coio-tls-client\r\n"
                     "Connection: close\r\n\r\n",
                     u.path, u.host);
    void *res = NULL;
    void *data = NULL;
    size_t len = 0;
    if (n < 0 || (size_t)n >= sizeof req || coio_writer_write(w, req, (size_t)n) < 0 ||
        coio_writer_drain(w) < 0 || coio_reader_read_all(r, &data, &len) < 0) {
        fprintf(stderr, "tls_client: %s\n", strerror(errno));
        res = (void *)1;
    } else {
        fwrite(data, 1, len, stdout);
    }
    free(data);
    coio_writer_release(w);
    coio_reader_release(r);
    return res;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tls_client https://HOST[:PORT][/PATH] [CAFILE]\n");
        return 2;
    }
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0) {
        perror("tls_client");
        return 1;
    }
    return res ? 1 : 0;
}
