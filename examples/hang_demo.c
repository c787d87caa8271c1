/* hang_demo.c — a small server that hangs on purpose, to try coio's debugging
 * tools on (README "Debugging"): the task dump on SIGQUIT, the fault report,
 * and the gdb extension tools/coio-gdb.py.
 *
 * Usage: hang_demo [-s] [-c] [SECONDS]
 *   It listens on 127.0.0.1 (a free port), prints "ready pid P port N" once
 *   every task is parked, and then nothing happens:
 *     cache-refresh  holds cache_lock and sleeps for an hour
 *     request 1, 2   wait for cache_lock
 *     worker         waits for a job on an empty queue
 *     acceptor       waits for a connection that never comes
 *     conn 1         reads from a client that never sends
 *     reporter       awaits cache-refresh
 *   -s  adds "spinner", which never yields once the others are parked: it
 *       spins while the flag `spinning` is set, and the whole loop stands still.
 *   -c  adds "crasher", which writes to an unmapped page: the fault report.
 *   SECONDS (or HANG_DEMO_SECONDS in the environment) bounds the run: then
 *   the main task returns and coio_run cancels the rest (the spinner looks at
 *   the clock too). 0, the default, runs until killed.
 * `kill -QUIT` prints the task dump to stderr and the program carries on.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, clock_gettime */
#include <coio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static coio_lock cache_lock;
static coio_event go;              /* set once every task is parked */
static volatile int spinning = 1;  /* the spinner's flag (gdb: set var spinning = 0) */
static double bound;               /* seconds, 0: none */
static struct timespec started;

static double elapsed(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - started.tv_sec) + (double)(now.tv_nsec - started.tv_nsec) / 1e9;
}

static void *refresh_cache(void *arg)
{
    (void)arg;
    if (coio_lock_acquire(&cache_lock) != 0)
        return NULL;
    coio_sleep(3600); /* "refreshing", with the lock held */
    coio_lock_release(&cache_lock);
    return NULL;
}

static void *handle_request(void *arg)
{
    (void)arg;
    if (coio_lock_acquire(&cache_lock) == 0) /* blocks behind cache-refresh */
        coio_lock_release(&cache_lock);
    return NULL;
}

static void *run_worker(void *queue)
{
    void *job;
    while (coio_queue_get(queue, &job) == 0) /* nobody ever puts a job */
        ;
    return NULL;
}

static void *accept_clients(void *fdp)
{
    int fd;
    while ((fd = coio_accept(*(int *)fdp, NULL, NULL)) >= 0) /* nobody connects */
        close(fd);
    return NULL;
}

static void *read_conn(void *fdp)
{
    char buf[256];
    while (coio_read(*(int *)fdp, buf, sizeof buf) > 0) /* the peer never sends */
        ;
    return NULL;
}

static void *report_when_refreshed(void *refresher)
{
    coio_await(refresher, NULL);
    return NULL;
}

/* One step of the busy loop; a separate function so that it shows in stacks
   (and gdb can stop in it). */
__attribute__((noinline)) static void spin_step(volatile unsigned long *n)
{
    for (int i = 0; i < 1000; i++)
        (*n)++;
}

static void *spin(void *arg)
{
    (void)arg;
    if (coio_event_wait(&go) != 0)
        return NULL;
    volatile unsigned long n = 0;
    while (spinning && (bound == 0 || elapsed() < bound)) /* never yields */
        spin_step(&n);
    return NULL;
}

__attribute__((noinline)) static void store_to(volatile int *p) { *p = 1; }

static void *crash(void *arg)
{
    (void)arg;
    if (coio_event_wait(&go) != 0)
        return NULL;
    /* An unmapped page: a plain NULL would be caught first by UBSan builds. */
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED)
        store_to((volatile int *)page + 4);
    return NULL;
}

static int listen_fd = -1, conn_fd[2] = {-1, -1};
static int port;

/* Runs in the loop context once the tasks spawned before it have parked. */
static void ready(void *arg)
{
    (void)arg;
    printf("ready pid %ld port %d\n", (long)getpid(), port);
    fflush(stdout);
    coio_event_set(&go);
}

static coio_task *spawn(const char *name, void *(*fn)(void *), void *arg)
{
    coio_task_opts o = {.name = name};
    coio_task *t = coio_spawn_opts(&o, fn, arg);
    if (!t) {
        perror("hang_demo: spawn");
        exit(1);
    }
    return t;
}

static void *main_task(void *arg)
{
    char **argv = arg;
    bool with_spinner = false, with_crasher = false;
    for (int i = 1; argv[i]; i++) {
        if (!strcmp(argv[i], "-s"))
            with_spinner = true;
        else if (!strcmp(argv[i], "-c"))
            with_crasher = true;
        else
            bound = atof(argv[i]);
    }
    coio_task_set_name(coio_current_task(), "main");
    coio_loop_set_dump_signal(coio_loop_current(), SIGQUIT);

    listen_fd = coio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listen_fd, 16) != 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &len) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, conn_fd) != 0) {
        perror("hang_demo: socket");
        return (void *)1;
    }
    port = ntohs(sa.sin_port);
    coio_queue *jobs = coio_queue_new(16);
    coio_lock_init(&cache_lock);
    coio_event_init(&go);

    coio_task *refresher = spawn("cache-refresh", refresh_cache, NULL);
    coio_task *req1 = spawn("request 1", handle_request, NULL);
    coio_task *req2 = spawn("request 2", handle_request, NULL);
    coio_task *worker = spawn("worker", run_worker, jobs);
    coio_task *acceptor = spawn("acceptor", accept_clients, &listen_fd);
    coio_task *conn = spawn("conn 1", read_conn, &conn_fd[0]);
    coio_task *reporter = spawn("reporter", report_when_refreshed, refresher);
    coio_task *spinner = with_spinner ? spawn("spinner", spin, NULL) : NULL;
    coio_task *crasher = with_crasher ? spawn("crasher", crash, NULL) : NULL;
    coio_call_soon(coio_loop_current(), ready, NULL);

    /* The bound (or practically forever); coio_run then cancels the others. */
    coio_sleep(bound > 0 ? bound : 1e9);

    coio_task *all[] = {refresher, req1, req2, worker, acceptor, conn, reporter, spinner, crasher};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i]) { /* coio_run finishes them off after main returns */
            coio_cancel(all[i]);
            coio_task_release(all[i]);
        }
    }
    coio_yield(); /* they end (cancelled) before the queue and the fds go */
    coio_queue_free(jobs);
    close(listen_fd);
    close(conn_fd[0]);
    close(conn_fd[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    clock_gettime(CLOCK_MONOTONIC, &started);
    const char *env = getenv("HANG_DEMO_SECONDS");
    char *args[8] = {argv[0]};
    int n = 1;
    for (int i = 1; i < argc && n < 6; i++)
        args[n++] = argv[i];
    if (env && *env)
        args[n++] = (char *)env;
    args[n] = NULL;
    void *res = NULL;
    if (coio_run(main_task, args, &res) < 0) {
        perror("hang_demo");
        return 1;
    }
    printf("bound reached: exiting\n");
    return res ? 1 : 0;
}
