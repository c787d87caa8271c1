/* fault.c — the injection counter behind fault.h (test builds only: without
 * COIO_FAULTS this file compiles to nothing). */
#define _GNU_SOURCE
#define COIO_FAULT_NO_REDIRECT
#include "fault.h"

#include <stdio.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#elif defined(__GLIBC__)
#include <execinfo.h>
#endif

#ifdef COIO_FAULTS

static _Thread_local long target;  /* the point that fails; 0: disarmed */
static _Thread_local bool sticky;  /* and every one after it */
static _Thread_local long passed, fired;
static _Thread_local const char *last;

void coio__fault_arm(long n, bool all_after)
{
    target = n > 0 ? n : 0;
    sticky = all_after;
    passed = fired = 0;
    last = NULL;
}

long coio__fault_passed(void) { return passed; }
long coio__fault_fired(void) { return fired; }
const char *coio__fault_last(void) { return last; }

/* COIO_FAULT_TRACE=1 in the environment prints every injected failure with
   its stack (symbolized under ASan; else return addresses for addr2line). */
static bool tracing(void)
{
    static _Thread_local int on = -1;
    if (on < 0) {
        const char *e = getenv("COIO_FAULT_TRACE");
        on = e && *e && *e != '0';
    }
    return on;
}

__attribute__((noinline)) bool coio__fault(const char *what)
{
    if (!target)
        return false;
    passed++;
    if (passed == target || (sticky && passed > target)) {
        fired++;
        last = what;
        if (tracing()) {
            fprintf(stderr, "coio fault: point %ld (%s) fails", passed, what);
#if defined(__SANITIZE_ADDRESS__)
            fputc('\n', stderr);
            __sanitizer_print_stack_trace();
#elif defined(__GLIBC__)
            void *pc[6];
            int n = backtrace(pc, 6);
            fputs("; at", stderr);
            for (int i = 2; i < n; i++) /* above coio__fault and its wrapper */
                fprintf(stderr, " %p", pc[i]);
            fputc('\n', stderr);
#else
            fputc('\n', stderr);
#endif
        }
        return true;
    }
    return false;
}

/* ---- the wrappers fault.h redirects to ---------------------------------- */

void *coio__f_malloc(size_t n)
{
    if (coio__fault("malloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n);
}
void *coio__f_calloc(size_t n, size_t m)
{
    if (coio__fault("calloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return calloc(n, m);
}
void *coio__f_realloc(void *p, size_t n)
{
    if (coio__fault("realloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n);
}
char *coio__f_strdup(const char *s)
{
    if (coio__fault("strdup")) {
        errno = ENOMEM;
        return NULL;
    }
    return strdup(s);
}
void *coio__f_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    if (coio__fault("mmap")) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mmap(a, n, prot, flags, fd, off);
}
int coio__f_mprotect(void *a, size_t n, int prot)
{
    if (coio__fault("mprotect")) {
        errno = ENOMEM;
        return -1;
    }
    return mprotect(a, n, prot);
}
int coio__f_madvise(void *a, size_t n, int advice)
{
    if (coio__fault("madvise")) {
        errno = EAGAIN;
        return -1;
    }
    return madvise(a, n, advice);
}
int coio__f_socket(int domain, int type, int proto)
{
    if (coio__fault("socket")) {
        errno = EMFILE;
        return -1;
    }
    return socket(domain, type, proto);
}
int coio__f_accept(int fd, struct sockaddr *a, socklen_t *n)
{
    if (coio__fault("accept")) {
        errno = EMFILE;
        return -1;
    }
    return accept(fd, a, n);
}
int coio__f_pipe(int fds[2])
{
    if (coio__fault("pipe")) {
        errno = EMFILE;
        return -1;
    }
    return pipe(fds);
}
int coio__f_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (coio__fault("open")) {
        errno = EMFILE;
        return -1;
    }
    return open(path, flags, mode);
}
/* Only the duplicating commands take a new descriptor. */
int coio__f_fcntl(int fd, int cmd, ...)
{
    if (cmd == F_GETFD || cmd == F_GETFL)
        return fcntl(fd, cmd);
    va_list ap;
    va_start(ap, cmd);
    int arg = va_arg(ap, int); /* the other commands coio uses take an int */
    va_end(ap);
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && coio__fault("fcntl_dupfd")) {
        errno = EMFILE;
        return -1;
    }
    return fcntl(fd, cmd, arg);
}
int coio__f_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
                                         void *arg)
{
    if (coio__fault("pthread_create"))
        return EAGAIN;
    return pthread_create(t, a, fn, arg);
}
int coio__f_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                                      const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    if (coio__fault("posix_spawn"))
        return EAGAIN;
    return posix_spawn(pid, path, fa, at, argv, envp);
}
int coio__f_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                                       const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    if (coio__fault("posix_spawnp"))
        return EAGAIN;
    return posix_spawnp(pid, file, fa, at, argv, envp);
}
pid_t coio__f_fork(void)
{
    if (coio__fault("fork")) {
        errno = EAGAIN;
        return -1;
    }
    return fork();
}

#ifdef __linux__
int coio__f_accept4(int fd, struct sockaddr *a, socklen_t *n, int flags)
{
    if (coio__fault("accept4")) {
        errno = EMFILE;
        return -1;
    }
    return accept4(fd, a, n, flags);
}
int coio__f_pipe2(int fds[2], int flags)
{
    if (coio__fault("pipe2")) {
        errno = EMFILE;
        return -1;
    }
    return pipe2(fds, flags);
}
int coio__f_eventfd(unsigned v, int flags)
{
    if (coio__fault("eventfd")) {
        errno = EMFILE;
        return -1;
    }
    return eventfd(v, flags);
}
int coio__f_epoll_create1(int flags)
{
    if (coio__fault("epoll_create1")) {
        errno = EMFILE;
        return -1;
    }
    return epoll_create1(flags);
}
/* Registering can fail (ENOMEM, ENOSPC at max_user_watches); removing is not
   a point: its failure is ignored by design. */
int coio__f_epoll_ctl(int ep, int op, int fd, struct epoll_event *e)
{
    if (op != EPOLL_CTL_DEL && coio__fault("epoll_ctl")) {
        errno = ENOMEM;
        return -1;
    }
    return epoll_ctl(ep, op, fd, e);
}
#endif

#else
typedef int coio__fault_unused; /* ISO C wants a translation unit to declare something */
#endif
