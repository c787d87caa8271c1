/* process.c — asyncio's create_subprocess_exec: posix_spawn with PIPE/DEVNULL/INHERIT/fd
 * for each standard stream (pipes become coio_reader/coio_writer), wait, communicate,
 * signals. The stream machinery itself is in stream.c.
 *
 * Child exit is observed per pid, never with waitpid(-1): a pidfd (Linux 5.3+) or a
 * kqueue with EVFILT_PROC that the loop polls, else a SIGCHLD handler after which each
 * of our processes tries waitpid(its pid, WNOHANG). Other children of the process are
 * never reaped here.
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) ||   \
    defined(__DragonFly__)
#define HAVE_EVFILT_PROC 1
#include <sys/event.h>
#endif

#if defined(__linux__) && !defined(SYS_pidfd_open)
#define SYS_pidfd_open 434 /* the same number on every Linux architecture */
#endif

extern char **environ;

/* Tests set this to exercise the SIGCHLD path on kernels that have pidfds. */
COIO_HIDDEN int coio__process_no_pidfd;

struct coio_process {
    pid_t pid;
    int exitfd;                 /* pidfd or EVFILT_PROC kqueue, -1 if none (SIGCHLD mode) */
    uint8_t reaped;
    uint8_t sigchld;            /* registered for the SIGCHLD fallback */
    int returncode;             /* valid once reaped: status, or -signal */
    coio_writer *in;            /* owned handles, or NULL */
    coio_reader *out, *err;
    struct coio__task *leader;  /* the waiter that watches exitfd / SIGCHLD */
    struct coio__list waiters;  /* other wait() callers (struct lwait) */
    struct coio__list sigwait;  /* the leader in SIGCHLD mode */
    struct coio__list sig_link; /* on sigchld_procs in SIGCHLD mode */
};

/* ---- wait lists (as in stream.c) ---------------------------------------------------- */

struct lwait {
    struct coio__wait w;
    struct coio__list link;
    struct coio__task *task;
};

static void lwait_unlink(struct coio__wait *w)
{
    coio__list_del(&coio__container_of(w, struct lwait, w)->link);
}

static int lwait_park(struct coio__task *self, struct coio__list *list)
{
    struct lwait lw = {{coio__wait_cancel_unlink, lwait_unlink}, {NULL, NULL}, self};
    coio__list_push(list, &lw.link);
    int code = coio__park(self, &lw.w, -1, 0);
    coio__list_del(&lw.link);
    return code;
}

static void wake_list(struct coio__list *list, bool all)
{
    while (!coio__list_empty(list)) {
        struct lwait *lw = coio__container_of(list->next, struct lwait, link);
        coio__list_del(&lw->link);
        if (!lw->task->f.loop->closed)
            coio__wake(lw->task, 0);
        if (!all)
            return;
    }
}

/* ---- the SIGCHLD fallback ------------------------------------------------------------- */

/* Processes of this thread's loop that wait through SIGCHLD; the handler is the
   loop's (coio_add_signal_handler) while the list is not empty. */
static _Thread_local struct coio__list sigchld_procs;
static _Thread_local size_t nsigchld;

static void on_sigchld(int sig, void *arg)
{
    (void)sig;
    (void)arg;
    /* Each process checks its own pid; a merged signal wakes all of them. */
    for (struct coio__list *n = sigchld_procs.next; n != &sigchld_procs; n = n->next)
        wake_list(&coio__container_of(n, struct coio_process, sig_link)->sigwait, true);
}

static int sigchld_register(coio_process *p)
{
    if (nsigchld == 0) {
        coio__list_init(&sigchld_procs);
        if (coio_add_signal_handler(SIGCHLD, on_sigchld, NULL) < 0)
            return -1;
    }
    nsigchld++;
    coio__list_push(&sigchld_procs, &p->sig_link);
    p->sigchld = 1;
    return 0;
}

static void sigchld_unregister(coio_process *p)
{
    if (!p->sigchld)
        return;
    p->sigchld = 0;
    coio__list_del(&p->sig_link);
    if (--nsigchld == 0)
        coio_remove_signal_handler(SIGCHLD);
}

/* ---- exit ------------------------------------------------------------------------------- */

static void set_status(coio_process *p, int st)
{
    p->reaped = 1;
    p->returncode = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : 255;
    if (p->exitfd >= 0) {
        coio_close(p->exitfd);
        p->exitfd = -1;
    }
    sigchld_unregister(p);
}

/* Reap our child if it has exited: 1 if it has (returncode set), else 0. */
static int try_reap(coio_process *p)
{
    if (p->reaped)
        return 1;
    int st;
    pid_t r;
    do
        r = waitpid(p->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == p->pid) {
        set_status(p, st);
        return 1;
    }
    if (r < 0 && errno == ECHILD) {
        /* Someone else reaped it (SIGCHLD ignored, a waitpid(-1) elsewhere): the
           status is gone; report 255 as asyncio does for an unknown child. */
        set_status(p, 255 << 8);
        return 1;
    }
    return 0;
}

/* The leader's watch: until the child exits (0) or the wait fails (-1/errno). */
static int watch_exit(coio_process *p, struct coio__task *self)
{
    while (!try_reap(p)) {
        if (p->exitfd >= 0) {
            if (coio_wait_readable(p->exitfd, -1) < 0)
                return -1;
        } else {
            int code = lwait_park(self, &p->sigwait);
            if (code) {
                errno = code;
                return -1;
            }
        }
    }
    return 0;
}

/* An fd that becomes readable when pid exits, or -1 (then SIGCHLD is used). */
static int open_exitfd(pid_t pid)
{
    if (coio__process_no_pidfd)
        return -1;
#if defined(__linux__) && !defined(COIO_FORCE_PORTABLE)
    /* Kernels before 5.3 (and valgrind) say ENOSYS: ask once per process. */
    static atomic_int no_pidfd;
    if (atomic_load_explicit(&no_pidfd, memory_order_relaxed))
        return -1;
    long fd = syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */
    if (fd < 0 && errno == ENOSYS)
        atomic_store_explicit(&no_pidfd, 1, memory_order_relaxed);
    return fd >= 0 ? (int)fd : -1;
#elif defined(HAVE_EVFILT_PROC)
    int kq = kqueue();
    if (kq < 0)
        return -1;
    fcntl(kq, F_SETFD, FD_CLOEXEC);
    struct kevent kev;
    EV_SET(&kev, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, NULL);
    if (kevent(kq, &kev, 1, NULL, 0, NULL) < 0) {
        /* ESRCH: it has already exited; waitpid will say so at once. */
        close(kq);
        return -1;
    }
    return kq;
#else
    (void)pid;
    return -1;
#endif
}

/* ---- spawn --------------------------------------------------------------------------- */

/* fd moved to a number >= 3, close-on-exec, so that dup2 onto 0..2 in the child
   can never overwrite another source fd. */
static int high_fd(int fd)
{
    if (fd < 0 || fd >= 3)
        return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return h;
}

/* execvp's search, done here rather than in the child: under valgrind and qemu-user
   posix_spawn runs as a plain fork, and an exec failure in the child then shows only
   as exit status 127. Writes the path to use into buf; 0 or -1 with errno ENOENT,
   EACCES, ENAMETOOLONG. */
static int find_program(const char *name, char *buf, size_t cap)
{
    struct stat st;
    if (strchr(name, '/')) {
        if (strlen(name) >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(buf, name);
        return access(name, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/bin:/usr/bin";
    int err = ENOENT;
    for (const char *p = path;; p++) {
        const char *e = strchr(p, ':');
        size_t dl = e ? (size_t)(e - p) : strlen(p);
        int n = snprintf(buf, cap, "%.*s%s%s", (int)dl, p, dl ? "/" : "", name);
        if (n > 0 && (size_t)n < cap && stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0)
                return 0;
            err = EACCES;
        }
        if (!e)
            break;
        p = e;
    }
    errno = err;
    return -1;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

int coio_subprocess_exec(char *const argv[], const coio_subprocess_opts *opts, coio_process **out)
{
    static const coio_subprocess_opts none;
    if (!opts)
        opts = &none;
    if (!argv || !argv[0] || !out || !coio__self()) {
        errno = EINVAL;
        return -1;
    }
    const coio_stdio *std[3] = {&opts->in, &opts->out, &opts->err};
    if (opts->in.mode == COIO_STDOUT || opts->out.mode == COIO_STDOUT) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < 3; i++)
        if (std[i]->mode < COIO_INHERIT || std[i]->mode > COIO_FD ||
            (std[i]->mode == COIO_FD && fcntl(std[i]->fd, F_GETFD) < 0)) {
            if (std[i]->mode != COIO_FD)
                errno = EINVAL;
            return -1;
        }
    char prog[PATH_MAX];
    if (find_program(argv[0], prog, sizeof prog) < 0)
        return -1;
    coio_process *p = calloc(1, sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    p->exitfd = -1;
    coio__list_init(&p->waiters);
    coio__list_init(&p->sigwait);
    coio__list_init(&p->sig_link);

    int child[3] = {-1, -1, -1}, parent[3] = {-1, -1, -1};
    int e = 0;
    for (int i = 0; i < 3 && !e; i++) {
        switch (std[i]->mode) {
        case COIO_PIPE: {
            int pf[2];
#ifdef COIO_HAVE_PIPE2
            if (pipe2(pf, O_CLOEXEC) < 0) {
                e = errno;
                break;
            }
#else
            /* No pipe2 (macOS): a fork by another thread between these calls
               can leak the two ends into its child; ours closes all but 0..2. */
            if (pipe(pf) < 0) {
                e = errno;
                break;
            }
            if (coio__fd_flags(pf[0], false) < 0 || coio__fd_flags(pf[1], false) < 0) {
                e = errno;
                close(pf[0]);
                close(pf[1]);
                break;
            }
#endif
            child[i] = high_fd(i == 0 ? pf[0] : pf[1]);
            parent[i] = high_fd(i == 0 ? pf[1] : pf[0]);
            if (child[i] < 0 || parent[i] < 0)
                e = errno;
            break;
        }
        case COIO_DEVNULL:
            child[i] = high_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
            if (child[i] < 0)
                e = errno;
            break;
        case COIO_FD:
            child[i] = fcntl(std[i]->fd, F_DUPFD_CLOEXEC, 3);
            if (child[i] < 0)
                e = errno;
            break;
        default:
            break;
        }
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    bool fa_ok = false, at_ok = false;
    if (!e && (e = posix_spawn_file_actions_init(&fa)) == 0)
        fa_ok = true;
    if (!e && (e = posix_spawnattr_init(&at)) == 0)
        at_ok = true;
    for (int i = 0; i < 3 && !e; i++) {
        if (child[i] >= 0)
            e = posix_spawn_file_actions_adddup2(&fa, child[i], i);
        else if (i == 2 && opts->err.mode == COIO_STDOUT)
            e = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* asyncio's close_fds=True: nothing but 0..2 crosses, O_CLOEXEC or not. */
    if (!e)
        e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    if (!e && opts->cwd)
        e = posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);
#else
    if (!e && opts->cwd)
        e = ENOSYS;
#endif
    if (!e) {
        /* The child starts with no signal blocked and every signal at its default
           action (asyncio's restore_signals: SIGPIPE too). */
        sigset_t empty, all;
        sigemptyset(&empty);
        sigfillset(&all);
        e = posix_spawnattr_setsigmask(&at, &empty);
        if (!e)
            e = posix_spawnattr_setsigdefault(&at, &all);
        if (!e)
            e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    if (!e)
        e = posix_spawn(&p->pid, prog, &fa, &at, argv, opts->envp ? opts->envp : environ);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (at_ok)
        posix_spawnattr_destroy(&at);
    close_all(child, 3);
    if (e) {
        close_all(parent, 3);
        free(p);
        errno = e;
        return -1;
    }
    /* From here on the child exists: failures below still hand it back. */
    p->exitfd = open_exitfd(p->pid);
    if (p->exitfd < 0 && sigchld_register(p) < 0)
        e = errno;
    coio_stream_opts so = {.limit = opts->limit};
    /* errno is taken at the failing call: a later call that succeeds may
       leave its own errno behind. */
    for (int i = 0; i < 3 && !e; i++)
        if (parent[i] >= 0) {
            if (coio_open_fd(parent[i], &so, i == 0 ? NULL : i == 1 ? &p->out : &p->err,
                             i == 0 ? &p->in : NULL) == 0)
                parent[i] = -1;
            else
                e = errno;
        }
    if (e) {
        close_all(parent, 3);
        coio_process_release(p); /* kills and reaps the child */
        errno = e;
        return -1;
    }
    *out = p;
    return 0;
}

/* ---- queries, signals ----------------------------------------------------------------- */

coio_writer *coio_process_stdin(coio_process *p) { return p ? p->in : NULL; }
coio_reader *coio_process_stdout(coio_process *p) { return p ? p->out : NULL; }
coio_reader *coio_process_stderr(coio_process *p) { return p ? p->err : NULL; }
pid_t coio_process_pid(const coio_process *p) { return p ? p->pid : -1; }

int coio_process_returncode(coio_process *p, int *rc)
{
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    if (!try_reap(p))
        return 0;
    if (rc)
        *rc = p->returncode;
    return 1;
}

int coio_process_send_signal(coio_process *p, int sig)
{
    if (!p || sig < 0) {
        errno = EINVAL;
        return -1;
    }
    /* After the child is reaped its pid may belong to someone else: do nothing,
       as Popen.send_signal does. Until then the pid is still ours. */
    if (try_reap(p))
        return 0;
    return kill(p->pid, sig);
}

int coio_process_terminate(coio_process *p) { return coio_process_send_signal(p, SIGTERM); }
int coio_process_kill(coio_process *p) { return coio_process_send_signal(p, SIGKILL); }

int coio_process_wait(coio_process *p, int *rc)
{
    struct coio__task *self = coio__self();
    if (!p || !self) {
        errno = EINVAL;
        return -1;
    }
    while (!try_reap(p)) {
        if (!p->leader) {
            p->leader = self;
            int r = watch_exit(p, self);
            int e = errno;
            p->leader = NULL;
            if (r < 0) {
                wake_list(&p->waiters, false); /* the next waiter takes over the watch */
                errno = e;
                return -1;
            }
            wake_list(&p->waiters, true);
        } else {
            int code = lwait_park(self, &p->waiters);
            if (code) {
                errno = code;
                return -1;
            }
        }
    }
    if (rc)
        *rc = p->returncode;
    return 0;
}

/* ---- communicate ------------------------------------------------------------------------- */

struct comm {
    coio_process *p;
    const void *input;
    size_t inlen;
    void *data[2];
    size_t len[2];
};

static void *feed_stdin(void *arg)
{
    struct comm *c = arg;
    coio_writer *w = c->p->in;
    int rc = c->inlen ? coio_writer_write(w, c->input, c->inlen) : 0;
    if (rc == 0)
        rc = coio_writer_drain(w);
    /* A child that exits without reading its input is not an error (X4); a
       cancel leaves stdin open, as asyncio's _feed_stdin does. */
    if (rc == 0 || errno == EPIPE || errno == ECONNRESET)
        coio_writer_close(w); /* what drain left buffered is still sent first */
    return NULL;
}

static void *drain_out(void *arg, int i)
{
    struct comm *c = arg;
    coio_reader *r = i == 0 ? c->p->out : c->p->err;
    if (coio_reader_read_all(r, &c->data[i], &c->len[i]) < 0)
        coio_fail(errno);
    return NULL;
}

static void *drain_stdout(void *arg) { return drain_out(arg, 0); }
static void *drain_stderr(void *arg) { return drain_out(arg, 1); }

int coio_process_communicate(coio_process *p, const void *input, size_t inlen, void **out,
                             size_t *outlen, void **err, size_t *errlen)
{
    if (!p || !coio__self() || (!input && inlen) || (inlen && !p->in)) {
        errno = EINVAL;
        return -1;
    }
    struct comm c = {p, input, inlen, {NULL, NULL}, {0, 0}};
    coio_task *t[3];
    size_t n = 0;
    int rc = 0, e = 0;
    if (p->in && !coio_writer_is_closing(p->in) && (t[n] = coio_spawn(feed_stdin, &c)))
        n++;
    else if (p->in && !coio_writer_is_closing(p->in))
        e = errno;
    if (!e && p->out && (t[n] = coio_spawn(drain_stdout, &c)))
        n++;
    else if (!e && p->out)
        e = errno;
    if (!e && p->err && (t[n] = coio_spawn(drain_stderr, &c)))
        n++;
    else if (!e && p->err)
        e = errno;
    if (e) {
        for (size_t i = 0; i < n; i++)
            coio_cancel(t[i]);
    }
    int codes[3] = {0, 0, 0};
    /* All three at once: a child blocked writing stderr while we would wait on
       stdout can never deadlock us. Cancelling us cancels them. */
    if (coio_gather(t, n, NULL, codes, COIO_RETURN_EXCEPTIONS) < 0 && !e)
        e = errno;
    for (size_t i = 0; i < n; i++)
        coio_task_release(t[i]);
    for (size_t i = 0; i < n && !e; i++)
        if (codes[i] && codes[i] != ECANCELED)
            e = codes[i];
    if (!e && coio_process_wait(p, NULL) < 0)
        e = errno;
    if (e) {
        free(c.data[0]);
        free(c.data[1]);
        errno = e;
        return -1;
    }
    if (out)
        *out = c.data[0];
    else
        free(c.data[0]);
    if (outlen)
        *outlen = c.len[0];
    if (err)
        *err = c.data[1];
    else
        free(c.data[1]);
    if (errlen)
        *errlen = c.len[1];
    return rc;
}

void coio_process_release(coio_process *p)
{
    if (!p)
        return;
    coio_writer_release(p->in);
    coio_reader_release(p->out);
    coio_reader_release(p->err);
    if (!try_reap(p)) {
        /* asyncio's transport close: a child still running is killed; reap it here
           so that no zombie is left behind. */
        kill(p->pid, SIGKILL);
        int st;
        pid_t r;
        do
            r = waitpid(p->pid, &st, 0);
        while (r < 0 && errno == EINTR);
        set_status(p, r == p->pid ? st : 255 << 8);
    }
    free(p);
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_process(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                            struct coio__dbuf *b)
{
    (void)t;
    (void)now;
    if (w->unlink != lwait_unlink)
        return false;
    coio__db_str(b, "subprocess (exit or pipe)");
    return true;
}
