/* echo_client.c — connect to an echo server, send each argument as a line and print
 * what comes back; with no arguments, send stdin line by line.
 *
 * Usage: echo_client HOST PORT [LINE...]
 * Exits 0 when every reply matched what was sent, 1 otherwise.
 */
#include <coio.h>

#include <errno.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct args {
    int argc;
    char **argv;
};

static int roundtrip(coio_reader *r, coio_writer *w, const char *line, size_t n)
{
    char back[4096];
    if (coio_writer_write(w, line, n) < 0 || coio_writer_drain(w) < 0)
        return -1;
    ssize_t k = coio_reader_readexactly(r, back, n, NULL);
    if (k != (ssize_t)n || memcmp(back, line, n) != 0)
        return -1;
    fwrite(back, 1, n, stdout);
    return 0;
}

static void *main_task(void *arg)
{
    struct args *a = arg;
    coio_reader *r;
    coio_writer *w;
    if (coio_open_connection(a->argv[1], atoi(a->argv[2]), NULL, &r, &w) < 0) {
        perror("echo_client: open_connection");
        return (void *)1;
    }
    int bad = 0;
    char line[4096];
    if (a->argc > 3) {
        for (int i = 3; i < a->argc && !bad; i++) {
            size_t n = strlen(a->argv[i]);
            if (n + 1 >= sizeof line)
                return (void *)1;
            memcpy(line, a->argv[i], n);
            line[n++] = '\n';
            bad = roundtrip(r, w, line, n) < 0;
        }
    } else {
        /* stdin is a blocking file: fine for a demo client, it is the only task */
        while (!bad && fgets(line, sizeof line, stdin))
            bad = roundtrip(r, w, line, strlen(line)) < 0;
    }
    coio_writer_close(w);
    coio_writer_wait_closed(w);
    coio_reader_release(r);
    coio_writer_release(w);
    return (void *)(intptr_t)bad;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: echo_client HOST PORT [LINE...]\n");
        return 2;
    }
    struct args a = {argc, argv};
    void *res = NULL;
    if (coio_run(main_task, &a, &res) < 0)
        return 1;
    return res ? 1 : 0;
}
