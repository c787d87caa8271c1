/* check_dump.c — observability: task dumps (what each task waits on, backtraces
 * of suspended stacks with the known functions they are suspended in), task
 * stacks, spawn sites in debug mode, the dump signal (loop idle in its poll,
 * task stuck in a busy loop) and fault reports of tasks.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dumpbuf[65536];

/* The loop's dump as a string. */
static const char *dump_now(void)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(coio_dump_tasks(f), 0);
    rewind(f);
    size_t n = fread(dumpbuf, 1, sizeof dumpbuf - 1, f);
    dumpbuf[n] = 0;
    fclose(f);
    return dumpbuf;
}

/* The block of the task named name ("--- task 'name'" up to the next "---"),
   copied into out. */
static const char *block_of(const char *dump, const char *name, char *out, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "--- task '%s'", name);
    const char *p = strstr(dump, key);
    ck_assert_msg(p != NULL, "no block for %s in:\n%s", name, dump);
    const char *e = strstr(p + 4, "\n---");
    const char *end2 = strstr(p, "coio: end of task dump");
    if (!e || (end2 && end2 < e))
        e = end2 ? end2 : p + strlen(p);
    size_t n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

#define ck_assert_has(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not found in:\n%s", (needle), (hay))

/* ---- tasks suspended in known places --------------------------------------------- */

/* The number (seconds) right after the first `what` in s, or -1. */
static double number_after(const char *s, const char *what)
{
    const char *p = strstr(s, what);
    return p ? strtod(p + strlen(what), NULL) : -1;
}

static coio_lock g_lock;
static coio_event g_event;
static coio_semaphore g_sem;
static coio_queue *g_queue;
static int g_pipe[2];
static coio_task *g_sleeper;
static volatile int sink;

static __attribute__((noinline)) void *sleeper_fn(void *a)
{
    (void)a;
    coio_sleep(30);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *holder_fn(void *a)
{
    (void)a;
    coio_lock_acquire(&g_lock);
    coio_sleep(30);
    sink++;
    coio_lock_release(&g_lock);
    return NULL;
}

static __attribute__((noinline)) void *locker_fn(void *a)
{
    (void)a;
    if (coio_lock_acquire(&g_lock) == 0)
        coio_lock_release(&g_lock);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *getter_fn(void *a)
{
    (void)a;
    void *x;
    coio_queue_get(g_queue, &x);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *reader_fn(void *a)
{
    (void)a;
    char c;
    coio_read(g_pipe[0], &c, 1);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *awaiter_fn(void *a)
{
    (void)a;
    coio_await(g_sleeper, NULL);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *event_fn(void *a)
{
    (void)a;
    coio_event_wait(&g_event);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *sem_fn(void *a)
{
    (void)a;
    coio_semaphore_acquire(&g_sem);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *scoped_fn(void *a)
{
    (void)a;
    coio_timeout to;
    coio_timeout_enter(&to, 20.0);
    int rc = coio_sleep(30);
    coio_timeout_exit(&to, rc);
    sink++;
    return NULL;
}

static __attribute__((noinline)) void *gather_fn(void *a)
{
    (void)a;
    coio_task *k[2] = {g_sleeper, g_sleeper};
    coio_gather(k, 2, NULL, NULL, 0);
    sink++;
    return NULL;
}

static coio_task *spawn_named(const char *name, void *(*fn)(void *))
{
    coio_task_opts o = {0};
    o.name = name;
    coio_task *t = coio_spawn_opts(&o, fn, NULL);
    ck_assert_ptr_nonnull(t);
    return t;
}

static char blk[8192];

static __attribute__((noinline)) void *dump_main(void *arg)
{
    (void)arg;
    coio_lock_init(&g_lock);
    coio_event_init(&g_event);
    ck_assert_int_eq(coio_semaphore_init(&g_sem, 0), 0);
    g_queue = coio_queue_new(3);
    ck_assert_int_eq(pipe(g_pipe), 0);
    g_sleeper = spawn_named("sleeper", sleeper_fn);
    spawn_named("holder", holder_fn);
    spawn_named("locker", locker_fn);
    spawn_named("getter", getter_fn);
    spawn_named("reader", reader_fn);
    spawn_named("awaiter", awaiter_fn);
    spawn_named("eventer", event_fn);
    spawn_named("semmer", sem_fn);
    spawn_named("scoped", scoped_fn);
    spawn_named("gatherer", gather_fn);
    coio_sleep(0.05);
    const char *d = dump_now();
    ck_assert_has(d, "coio: task dump of loop ");
    ck_assert_has(d, ", 11 tasks");
    ck_assert_has(d, "coio: end of task dump");

    block_of(d, "Task-1", blk, sizeof blk);
    ck_assert_has(blk, "RUNNING");
    ck_assert_has(blk, "dump_main");

    block_of(d, "sleeper", blk, sizeof blk);
    /* Generous bounds: a loaded machine (valgrind, qemu) may take seconds to
       get here after the 30 s sleep began. */
    ck_assert_has(blk, "(id 2): suspended, age ");
    double age = number_after(blk, "suspended, age "), wakes = number_after(blk, "wakes in ");
    ck_assert_msg(age >= 0 && age < 20, "age %f", age);
    /* It slept 30 s from some time after its spawn: */
    ck_assert_msg(wakes > 10 && wakes <= 30 && age + wakes > 29.9, "wakes in %f, age %f", wakes, age);
    ck_assert_has(blk, " in coio_sleep+0x");
    ck_assert_has(blk, " in sleeper_fn+0x");

    block_of(d, "locker", blk, sizeof blk);
    ck_assert_has(blk, "waits on: lock at 0x");
    ck_assert_has(blk, "held by task 'holder' (id 3)");
    ck_assert_has(blk, " in coio_lock_acquire+0x");
    ck_assert_has(blk, " in locker_fn+0x");

    block_of(d, "getter", blk, sizeof blk);
    ck_assert_has(blk, "waits on: queue get on 0x");
    ck_assert_has(blk, "(qsize 0, maxsize 3)");
    ck_assert_has(blk, " in coio_queue_get+0x");
    ck_assert_has(blk, " in getter_fn+0x");

    char fdw[64];
    snprintf(fdw, sizeof fdw, "waits on: fd %d readable", g_pipe[0]);
    block_of(d, "reader", blk, sizeof blk);
    ck_assert_has(blk, fdw);
    ck_assert_has(blk, " in coio_read+0x");
    ck_assert_has(blk, " in reader_fn+0x");

    block_of(d, "awaiter", blk, sizeof blk);
    ck_assert_has(blk, "waits on: await of task 'sleeper' (id 2)");
    ck_assert_has(blk, " in coio_await+0x");
    ck_assert_has(blk, " in awaiter_fn+0x");

    block_of(d, "eventer", blk, sizeof blk);
    ck_assert_has(blk, "waits on: event at 0x");
    ck_assert_has(blk, " in coio_event_wait+0x");

    block_of(d, "semmer", blk, sizeof blk);
    ck_assert_has(blk, "waits on: semaphore at 0x");
    ck_assert_has(blk, ", value 0");

    block_of(d, "scoped", blk, sizeof blk);
    ck_assert_has(blk, "in timeout scope at 0x");
    ck_assert_has(blk, ", deadline in 19.");
    ck_assert_has(blk, " in scoped_fn+0x");

    block_of(d, "gatherer", blk, sizeof blk);
    ck_assert_has(blk, "waits on: gather of 2 futures (0 done)");
    ck_assert_has(blk, " in coio_gather+0x");
    ck_assert_has(blk, " in gather_fn+0x");

    /* Dumps leave the tasks as they were: wake some and let them finish. */
    coio_event_set(&g_event);
    ck_assert_int_eq(coio_semaphore_release(&g_sem), 0);
    ck_assert_int_eq(coio_queue_put_nowait(g_queue, NULL), 0);
    ck_assert_int_eq(write(g_pipe[1], "x", 1), 1);
    coio_sleep(0.02);
    d = dump_now();
    ck_assert_ptr_null(strstr(d, "'getter'"));
    ck_assert_ptr_null(strstr(d, "'reader'"));
    ck_assert_ptr_null(strstr(d, "'eventer'"));
    ck_assert_ptr_null(strstr(d, "'semmer'"));
    ck_assert_int_eq(sink, 4);
    close(g_pipe[0]);
    close(g_pipe[1]);
    coio_queue_free(g_queue);
    _exit(0); /* the other tasks wait for 30 s */
    return NULL;
}

START_TEST(test_dump_wait_descriptions_and_backtraces)
{
    coio_run(dump_main, NULL, NULL);
}
END_TEST

/* ---- get_stack / print_stack -------------------------------------------------------- */

static __attribute__((noinline)) void *stack_main(void *arg)
{
    (void)arg;
    coio_task *s = spawn_named("s", sleeper_fn);
    void *frames[32];
    /* Not started yet: no frames. */
    ck_assert_int_eq(coio_task_get_stack(s, frames, 32), 0);
    coio_sleep(0.01);
    long n = coio_task_get_stack(s, frames, 32);
    ck_assert_int_ge(n, 3);
    ck_assert_int_eq(coio_task_get_stack(s, frames, 2), 2);
    ck_assert_int_eq(coio_task_get_stack(s, NULL, 0), 0);
    ck_assert_err(coio_task_get_stack(s, NULL, 4), EINVAL);
    ck_assert_err(coio_task_get_stack(NULL, frames, 4), EINVAL);
    ck_assert_err(coio_task_print_stack(s, NULL, -1), EINVAL);
    FILE *f = tmpfile();
    ck_assert_int_eq(coio_task_print_stack(s, f, 3), 0);
    ck_assert_int_eq(coio_task_print_stack(coio_current_task(), f, -1), 0);
    rewind(f);
    size_t k = fread(dumpbuf, 1, sizeof dumpbuf - 1, f);
    dumpbuf[k] = 0;
    fclose(f);
    ck_assert_has(dumpbuf, "Stack for task 's' (id 2) (most recent call first):\n  #0 0x");
    ck_assert_has(dumpbuf, " in coio_sleep+0x");
    ck_assert_ptr_null(strstr(dumpbuf, "  #3 ")); /* limit 3 */
    ck_assert_has(dumpbuf, "Stack for task 'Task-1' (id 1)");
    ck_assert_has(dumpbuf, " in stack_main+0x");
    coio_cancel(s);
    coio_sleep(0);
    coio_sleep(0);
    ck_assert_int_eq(coio_task_get_stack(s, frames, 32), 0); /* done */
    coio_task_release(s);
    return NULL;
}

START_TEST(test_get_stack_and_print_stack)
{
    ck_assert_int_eq(run_main(stack_main, NULL, NULL), 0);
    ck_assert_err(coio_dump_tasks(NULL), EINVAL);
}
END_TEST

/* ---- debug mode: spawn sites ------------------------------------------------------------ */

static __attribute__((noinline)) coio_task *spawn_here(void)
{
    coio_task *t = spawn_named("spawned", sleeper_fn);
    sink++;
    return t;
}

static __attribute__((noinline)) void *spawnsite_main(void *arg)
{
    (void)arg;
    coio_task *t = spawn_here();
    coio_sleep(0.01);
    const char *d = dump_now();
    block_of(d, "spawned", blk, sizeof blk);
    ck_assert_has(blk, "    spawned at:\n");
    ck_assert_has(strstr(blk, "spawned at:"), " in spawn_here+0x");
    ck_assert_has(strstr(blk, "spawned at:"), " in spawnsite_main+0x");
    coio_cancel(t);
    coio_task_release(t);
    return NULL;
}

START_TEST(test_debug_mode_records_spawn_site)
{
    coio_loop *l = coio_loop_new();
    ck_assert_int_eq(coio_loop_set_debug(l, 1), 0);
    coio_task *m = coio_loop_spawn(l, NULL, spawnsite_main, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, m, NULL), 0);
    coio_task_release(m);
    coio_loop_close(l);
}
END_TEST

/* ---- the dump signal ------------------------------------------------------------------------ */

static pthread_t loop_thread;
static atomic_int spin_done, spin_started, idle_ready;
static coio_loop *idle_loop;
static coio_event idle_event;

/* Wait (bounded) until *flag is set. */
static void wait_flag(atomic_int *flag)
{
    for (int i = 0; i < 10000 * slack() && !atomic_load(flag); i++)
        usleep(1000);
}

static void set_event_cb(void *e) { coio_event_set(e); }
static void idle_cb(void *arg)
{
    (void)arg;
    atomic_store(&idle_ready, 1);
}

/* The dump signal once every task is parked, then wake idle_main: the
   signal is pending on the loop thread before the wake-up is posted, so the
   loop serves it before idle_main runs again. */
static void *send_when_idle(void *arg)
{
    (void)arg;
    wait_flag(&idle_ready);
    usleep(20000); /* most likely in its poll by now; parked either way */
    pthread_kill(loop_thread, SIGUSR2);
    coio_call_soon_threadsafe(idle_loop, set_event_cb, &idle_event);
    return NULL;
}

static __attribute__((noinline)) void *idle_main(void *arg)
{
    (void)arg;
    coio_task *n = spawn_named("napper", sleeper_fn);
    coio_event_init(&idle_event);
    idle_loop = coio_loop_current();
    atomic_store(&idle_ready, 0);
    coio_call_soon(idle_loop, idle_cb, NULL); /* runs after napper has parked */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, send_when_idle, NULL), 0);
    coio_event_wait(&idle_event); /* the loop is idle in its poll meanwhile */
    pthread_join(th, NULL);
    coio_cancel(n);
    coio_task_release(n);
    return NULL;
}

START_TEST(test_dump_signal_while_idle_in_poll)
{
    if (qemu_i386_signal_tls_bug("dump_signal_while_idle_in_poll"))
        return;
    coio_loop *l = coio_loop_new();
    ck_assert_err(coio_loop_set_dump_signal(l, SIGSEGV), EINVAL);
    ck_assert_err(coio_loop_set_dump_signal(NULL, SIGUSR2), EINVAL);
    ck_assert_int_eq(coio_loop_set_dump_signal(l, SIGUSR2), 0);
    loop_thread = pthread_self();
    capture_begin();
    coio_task *m = coio_loop_spawn(l, NULL, idle_main, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, m, NULL), 0);
    const char *out = capture_end();
    ck_assert_has(out, "coio: task dump of loop ");
    ck_assert_ptr_null(strstr(out, "possibly inconsistent"));
    ck_assert_has(out, "--- task 'napper' (id 2): suspended");
    ck_assert_has(out, "waits on: sleep, wakes in");
    ck_assert_has(out, " in sleeper_fn+0x");
    ck_assert_has(out, " in idle_main+0x");
    ck_assert_has(out, "coio: end of task dump");
    coio_task_release(m);
    coio_loop_close(l);
    /* The loop gave the signal back. */
    struct sigaction sa;
    sigaction(SIGUSR2, NULL, &sa);
    ck_assert(sa.sa_handler == SIG_DFL);
}
END_TEST

/* The dump signal while spinner_fn spins, then let it stop: the signal is
   pending on the loop thread before spin_done is set, so its handler runs
   before the spinner can see spin_done. */
static void *send_while_spinning(void *arg)
{
    (void)arg;
    wait_flag(&spin_started);
    pthread_kill(loop_thread, SIGUSR2);
    usleep(20000);
    atomic_store(&spin_done, 1);
    return NULL;
}

static __attribute__((noinline)) void *spinner_fn(void *arg)
{
    (void)arg;
    atomic_store(&spin_started, 1);
    while (!atomic_load(&spin_done))
        sink++; /* never yields */
    return NULL;
}

static void *busy_main(void *arg)
{
    (void)arg;
    coio_task *n = spawn_named("napper", sleeper_fn);
    coio_task *s = spawn_named("spinner", spinner_fn);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, send_while_spinning, NULL), 0);
    coio_await(s, NULL);
    pthread_join(th, NULL);
    coio_task_release(s);
    coio_cancel(n);
    coio_task_release(n);
    return NULL;
}

START_TEST(test_dump_signal_while_task_spins)
{
    setenv("COIO_DUMP_SIGNAL", "USR2", 1);
    coio_loop *l = coio_loop_new();
    unsetenv("COIO_DUMP_SIGNAL");
    atomic_store(&spin_done, 0);
    atomic_store(&spin_started, 0);
    loop_thread = pthread_self();
    capture_begin();
    coio_task *m = coio_loop_spawn(l, NULL, busy_main, NULL);
    ck_assert_int_eq(coio_loop_run_until_complete(l, m, NULL), 0);
    const char *out = capture_end();
    ck_assert_has(out, "(made in a signal handler while a task ran: possibly inconsistent)");
    ck_assert_has(out, "--- task 'spinner' (id 3): RUNNING");
    ck_assert_has(out, " in spinner_fn+0x");
    ck_assert_has(out, "--- task 'napper' (id 2): suspended");
    ck_assert_has(out, " in coio_sleep+0x");
    ck_assert_has(out, "--- task 'Task-1' (id 1): suspended");
    ck_assert_has(out, "waits on: await of task 'spinner' (id 3)");
    coio_task_release(m);
    coio_loop_close(l);
}
END_TEST

/* ---- client task names ---------------------------------------------------------------------- */

static char client_task_name[64];

static int name_cb(coio_reader *r, coio_writer *w, void *arg)
{
    (void)r;
    (void)w;
    (void)arg;
    snprintf(client_task_name, sizeof client_task_name, "%s", coio_task_name(coio_current_task()));
    return 0;
}

static void *names_main(void *arg)
{
    (void)arg;
    coio_server *s = coio_start_server(name_cb, NULL, "127.0.0.1", 0, NULL);
    ck_assert_ptr_nonnull(s);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(coio_server_sockname(s, 0, (struct sockaddr *)&sa, &sl), 0);
    coio_reader *r;
    coio_writer *w;
    ck_assert_int_eq(coio_open_connection("127.0.0.1", ntohs(sa.sin_port), NULL, &r, &w), 0);
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    ck_assert_int_eq(getsockname(coio_writer_fd(w), (struct sockaddr *)&me, &ml), 0);
    char want[64];
    snprintf(want, sizeof want, "client 127.0.0.1:%u", (unsigned)ntohs(me.sin_port));
    for (int i = 0; i < 100 && !client_task_name[0]; i++)
        coio_sleep(0.01);
    ck_assert_str_eq(client_task_name, want);
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_close(s);
    coio_server_release(s);

    client_task_name[0] = 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/coio-dump-%d.sock", (int)getpid());
    s = coio_start_unix_server(name_cb, NULL, path, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(coio_open_unix_connection(path, NULL, &r, &w), 0);
    for (int i = 0; i < 100 && !client_task_name[0]; i++)
        coio_sleep(0.01);
    ck_assert_str_eq(client_task_name, "client unix");
    coio_reader_release(r);
    coio_writer_release(w);
    coio_server_close(s);
    coio_server_release(s);
    return NULL;
}

START_TEST(test_server_client_tasks_named_after_peer)
{
    ck_assert_int_eq(run_main(names_main, NULL, NULL), 0);
}
END_TEST

/* ---- fault reports --------------------------------------------------------------------------- */

static int crash_kind;
static void *crash_page;

/* How a fault in a task ends the process: the default action, except under
   AddressSanitizer, whose handler (chained to after coio's report) reports
   and exits with status 1. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
/* The user's handler exits with 42; under valgrind the NULL read in the child
   is a memcheck error, so its exit status may become --error-exitcode (99). */
#define USER_EXIT(st) \
    (WIFEXITED(st) && (WEXITSTATUS(st) == 42 || (RUNNING_ON_VALGRIND && WEXITSTATUS(st) == 99)))
#if defined(__SANITIZE_ADDRESS__)
#define DIED_OF(st, sig) (WIFEXITED(st) && WEXITSTATUS(st) == 1)
#elif defined(COIO_TEST_TSAN)
/* ThreadSanitizer reports the deadly signal after coio's report, and exits 66. */
#define DIED_OF(st, sig) (WIFEXITED(st) && WEXITSTATUS(st) == 66)
#else
/* Under valgrind the faulting read is also a memcheck error: exit 99. */
#define DIED_OF(st, sig) ((WIFSIGNALED(st) && WTERMSIG(st) == (sig)) || \
                          (RUNNING_ON_VALGRIND && WIFEXITED(st) && WEXITSTATUS(st) == 99))
#endif

static __attribute__((noinline)) void *crasher_fn(void *arg)
{
    (void)arg;
    if (crash_kind == 1) {
        /* A read of an inaccessible page (not a NULL dereference, which
           UBSan would catch first). */
        sink = *(volatile int *)crash_page;
    } else {
        abort();
    }
    return NULL;
}

static void *crash_main(void *arg)
{
    (void)arg;
    coio_task *t = spawn_named("crasher", crasher_fn);
    coio_await(t, NULL);
    return NULL;
}

static void user_segv(int sig)
{
    (void)sig;
    static const char m[] = "user handler ran\n";
    ssize_t r = write(2, m, sizeof m - 1);
    (void)r;
    _exit(42);
}

/* Run a crash in a child with stderr to a file; returns the wait status and
   the child's stderr in dumpbuf. mode: 0 plain, 1 COIO_FAULT_REPORT=0, 2 a user
   handler installed before the loop, 3 after. */
static int crash_child(int kind, int mode)
{
    fflush(stderr);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fileno(f), 2);
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl); /* no core files from the tests */
        crash_kind = kind;
        crash_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mode == 1)
            setenv("COIO_FAULT_REPORT", "0", 1);
        if (mode == 2)
            signal(kind == 1 ? SIGSEGV : SIGABRT, user_segv);
        coio_loop *l = coio_loop_new();
        if (mode == 3)
            signal(kind == 1 ? SIGSEGV : SIGABRT, user_segv);
        coio_task *m = coio_loop_spawn(l, NULL, crash_main, NULL);
        coio_loop_run_until_complete(l, m, NULL);
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    rewind(f);
    size_t n = fread(dumpbuf, 1, sizeof dumpbuf - 1, f);
    dumpbuf[n] = 0;
    fclose(f);
    return st;
}

START_TEST(test_fault_report_sigsegv)
{
    int st = crash_child(1, 0);
    ck_assert_msg(DIED_OF(st, SIGSEGV), "status %#x:\n%s", st, dumpbuf);
    ck_assert_has(dumpbuf, "coio: SIGSEGV in task 'crasher' (id 2) at 0x");
    ck_assert_has(dumpbuf, "\n    stack:\n      #0 0x");
    ck_assert_has(dumpbuf, "#0 0x");
    ck_assert_has(strstr(dumpbuf, "#0 0x"), " in crasher_fn+0x");
}
END_TEST

START_TEST(test_fault_report_abort)
{
    int st = crash_child(2, 0);
    ck_assert_msg(DIED_OF(st, SIGABRT) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT), "status %#x:\n%s", st, dumpbuf);
    ck_assert_has(dumpbuf, "coio: SIGABRT in task 'crasher' (id 2)\n");
    ck_assert_has(dumpbuf, " in crasher_fn"); /* crasher_fn.cold when split */
}
END_TEST

START_TEST(test_fault_report_opt_out_and_user_handlers)
{
    int st = crash_child(1, 1);
    ck_assert(DIED_OF(st, SIGSEGV));
    ck_assert_ptr_null(strstr(dumpbuf, "coio: SIGSEGV"));
    /* Installed before the loop: the report, then the user's handler. */
    st = crash_child(1, 2);
    ck_assert_msg(USER_EXIT(st), "status %#x:\n%s", st, dumpbuf);
    ck_assert_has(dumpbuf, "coio: SIGSEGV in task 'crasher'");
    ck_assert(strstr(dumpbuf, "coio: SIGSEGV") < strstr(dumpbuf, "user handler ran"));
    st = crash_child(2, 2);
    ck_assert_msg(USER_EXIT(st), "status %#x:\n%s", st, dumpbuf);
    ck_assert_has(dumpbuf, "coio: SIGABRT in task 'crasher'");
    /* Installed after: the user's handler alone. */
    st = crash_child(1, 3);
    ck_assert_msg(USER_EXIT(st), "status %#x:\n%s", st, dumpbuf);
    ck_assert_ptr_null(strstr(dumpbuf, "coio: SIGSEGV"));
}
END_TEST

static Suite *dump_suite(void)
{
    Suite *s = suite_create("dump");
    TCase *tc = tcase_create("dump");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dump_wait_descriptions_and_backtraces);
    tcase_add_test(tc, test_get_stack_and_print_stack);
    tcase_add_test(tc, test_debug_mode_records_spawn_site);
    tcase_add_test(tc, test_dump_signal_while_idle_in_poll);
    tcase_add_test(tc, test_dump_signal_while_task_spins);
    tcase_add_test(tc, test_server_client_tasks_named_after_peer);
    tcase_add_test(tc, test_fault_report_sigsegv);
    tcase_add_test(tc, test_fault_report_abort);
    tcase_add_test(tc, test_fault_report_opt_out_and_user_handlers);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(dump_suite)
