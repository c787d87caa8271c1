/* W5 echo server on coio streams: coio_start_server on 127.0.0.1:PORT, each client a
 * task that loops readexactly(64) / write / drain, the protocol of echo_client.
 * Reported as impl "coio-streams" beside the raw-fd echo_server ("coio").
 * Usage: echo_server_streams PORT (0: any free port); prints the port. */
#include "bench.h"
#include "coio.h"

#include <errno.h>

#define MSG 64 /* echo_client's message size */

static int client(coio_reader *r, coio_writer *w, void *arg)
{
    (void)arg;
    char buf[MSG];
    for (;;) {
        /* EOF (ENODATA), a reset or a cancel: returning closes the connection. */
        if (coio_reader_readexactly(r, buf, MSG, NULL) != MSG)
            return 0;
        if (coio_writer_write(w, buf, MSG) < 0 || coio_writer_drain(w) < 0)
            return 0;
    }
}

static void *server_main(void *arg)
{
    int port = (int)(long)arg;
    coio_stream_opts o = {.backlog = 1024};
    coio_server *s = coio_start_server(client, NULL, "127.0.0.1", port, &o);
    if (!s) {
        perror("echo_server_streams");
        return (void *)-1;
    }
    printf("%d\n", coio_server_port(s));
    fflush(stdout);
    coio_server_serve_forever(s); /* until killed */
    coio_server_release(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *res = NULL;
    if (coio_run(server_main, (void *)atol(argv[1]), &res) < 0)
        return 1;
    return res ? 1 : 0;
}
