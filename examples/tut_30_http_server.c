/* tut_30_http_server.c — a tiny HTTP/1.1 server with httpbin's /delay/N endpoint.
 * The network programs of tutorial 004 (004_dd0433425ac7a23c.txt, 「案例」 and
 * 「结合aiohttp 模块实现异步请求」) fetch https://www.httpbin.org/delay/1, which
 * answers after N seconds. This server stands in for httpbin on loopback so
 * that tut_31..tut_34 run anywhere, offline, with exact timings. In Python:
 *
 *     async def handle(reader, writer):
 *         head = await reader.readuntil(b"\r\n\r\n")
 *         method, path, version = head.split(b"\r\n")[0].decode().split(" ")
 *         if path.startswith("/delay/"):
 *             delay = min(float(path[7:]), 10)
 *             await asyncio.sleep(delay)          # only this connection waits
 *             status, body = "200 OK", json.dumps({"delay": delay, "url": ...})
 *         else:
 *             status, body = "404 Not Found", "not found\n"
 *         writer.write(f"HTTP/1.1 {status}\r\n...\r\n\r\n{body}".encode())
 *         await writer.drain()
 *         writer.close()
 *
 *     async def main(port):
 *         server = await asyncio.start_server(handle, "127.0.0.1", port)
 *         print(f"Serving HTTP on 127.0.0.1 port {port} ...")
 *         async with server:
 *             await server.serve_forever()
 *
 * Usage: tut_30_http_server [PORT]   (default 8080; 0 picks a free port and
 * prints it). Every connection is a task: ten clients asking for /delay/1 at
 * once are all answered after about 1 s. One log line per request goes to
 * stderr, as Python's http.server does. SIGINT or SIGTERM stops it.
 */
#define _POSIX_C_SOURCE 200809L
#include <coio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int server_port;

/* The client_connected_cb of asyncio.start_server: one task per connection,
   given the connection's reader and writer (borrowed: the connection closes
   when this returns). */
static int handle(coio_reader *reader, coio_writer *writer, void *arg)
{
    char head[4096];
    ssize_t n = coio_reader_readuntil(reader, head, sizeof head - 1, "\r\n\r\n", 4, NULL);
    if (n < 0)
        return 0;                         /* the client went away or sent junk: just close */
    head[n] = 0;
    char method[8], path[256], version[16];
    if (sscanf(head, "%7s %255s %15s", method, path, version) != 3)
        return 0;

    int status = 404;
    char body[512];
    snprintf(body, sizeof body, "not found\n");
    if (!strncmp(path, "/delay/", 7)) {
        char *end;
        double delay = strtod(path + 7, &end);
        if (end != path + 7 && *end == 0 && delay >= 0) {
            if (delay > 10)
                delay = 10;               /* httpbin's limit */
            if (coio_sleep(delay) < 0)    /* this connection's task waits, nobody else */
                return -1;                /* cancelled (server stopping): close quietly */
            status = 200;
            snprintf(body, sizeof body,
                     "{\n  \"delay\": %g,\n  \"url\": \"http://127.0.0.1:%d%s\"\n}\n", delay,
                     server_port, path);
        }
    }

    char out[1024];
    int len = snprintf(out, sizeof out,
                       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\nServer: coio-example\r\n\r\n%s",
                       status, status == 200 ? "OK" : "Not Found",
                       status == 200 ? "application/json" : "text/plain", strlen(body), body);
    coio_writer_write(writer, out, (size_t)len);  /* writer.write(...) copies, never waits */
    coio_writer_drain(writer);                    /* await writer.drain() */

    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    char ip[INET_ADDRSTRLEN] = "-";
    if (coio_writer_peername(writer, (struct sockaddr *)&peer, &plen) == 0)
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    head[strcspn(head, "\r")] = 0;
    fprintf(stderr, "%s - - \"%s\" %d -\n", ip, head, status);
    return 0;
}

/* SIGTERM, delivered as an ordinary loop callback: cancel the main task,
   as coio_run already does for SIGINT. */
static void on_sigterm(int sig, void *main_task)
{
    coio_cancel(main_task);
}

static void *serve(void *arg)
{
    int port = *(int *)arg;
    coio_server *server = coio_start_server(handle, NULL, "127.0.0.1", port, NULL);
    if (!server) {
        perror("start_server");
        coio_fail(errno);
    }
    server_port = coio_server_port(server);
    printf("Serving HTTP on 127.0.0.1 port %d (http://127.0.0.1:%d/) ...\n", server_port,
           server_port);
    coio_add_signal_handler(SIGTERM, on_sigterm, coio_current_task());

    /* await server.serve_forever(): returns -1/ECANCELED once we are cancelled
       (SIGINT or SIGTERM), after closing the server and waiting for the clients. */
    if (coio_server_serve_forever(server) < 0 && errno == ECANCELED) {
        printf("Signal received, exiting.\n");
        coio_absorb_cancel();             /* except CancelledError: pass -> a clean exit */
    }
    coio_remove_signal_handler(SIGTERM);
    coio_server_release(server);
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);     /* the port line must reach a pipe at once */
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    return coio_run(serve, &port, NULL) == 0 ? 0 : 1;
}
