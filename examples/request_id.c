/* request_id.c — context variables (CV): a line server that gives every connection a
 * request id in a coio_contextvar, and a logging helper three calls deep that prints it
 * without being passed it. Each connection runs as its own task, in its own copy of the
 * context, so concurrent connections never see each other's id.
 *
 * Usage: request_id [PORT [HOST]]   Prints "listening on HOST port N", then one log line
 * per line received: "[conn-K] handle > parse > log: got 'LINE'"; answers "ok LINE".
 * SIGINT or SIGTERM stops it.
 */
#include <coio.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static coio_contextvar *request_id;

/* Deep in the call stack: no id parameter, the context has it. */
static void log_line(const char *what, const char *line)
{
    printf("[%s] %s: got '%s'\n", (const char *)coio_contextvar_get(request_id), what, line);
    fflush(stdout);
}

static void parse(const char *line) { log_line("handle > parse > log", line); }

static int handle(coio_reader *r, coio_writer *w, void *arg)
{
    static int next;
    char id[32], line[256];
    snprintf(id, sizeof id, "conn-%d", ++next);
    coio_contextvar_set(request_id, id, NULL); /* this task's context only */
    ssize_t n;
    while ((n = coio_reader_readline(r, line, sizeof line - 1)) > 0) {
        line[n] = 0;
        line[strcspn(line, "\r\n")] = 0;
        coio_sleep(0.01); /* other connections run meanwhile */
        parse(line);
        coio_writer_write(w, "ok ", 3);
        coio_writer_write(w, line, strlen(line));
        coio_writer_write(w, "\n", 1);
    }
    return 0;
}

static void on_term(int sig, void *s)
{
    (void)sig;
    coio_server_close_clients(s);
    coio_server_close(s);
}

static void *main_task(void *arg)
{
    char **argv = arg;
    int port = argv[1] ? atoi(argv[1]) : 0;
    const char *host = argv[1] && argv[2] ? argv[2] : "127.0.0.1";
    request_id = coio_contextvar_new("request_id", "-");
    coio_server *s = coio_start_server(handle, NULL, host, port, NULL);
    if (!s) {
        perror("request_id: start_server");
        return (void *)1;
    }
    coio_add_signal_handler(SIGTERM, on_term, s);
    coio_add_signal_handler(SIGINT, on_term, s);
    printf("listening on %s port %d\n", host, coio_server_port(s));
    fflush(stdout);
    coio_server_serve_forever(s);
    coio_server_wait_closed(s);
    coio_server_release(s);
    coio_contextvar_free(request_id);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    void *res = NULL;
    if (coio_run(main_task, argv, &res) < 0) {
        perror("request_id");
        return 1;
    }
    return res ? 1 : 0;
}
