/* fault.h — fault injection for the test build (make FAULTS=1 defines
 * COIO_FAULTS; without it this header is empty and costs nothing).
 *
 * Every allocation in src/, the mmap/mprotect/madvise of stacks and the
 * system calls that can fail for want of a resource (socket, accept, pipe,
 * eventfd, epoll, open, F_DUPFD, pthread_create, posix_spawn) pass through an
 * injection point: this header redirects them, by macro, to wrappers in
 * fault.c that ask coio__fault() first. tests/check_faults.c arms the counter so that the Nth
 * point reached fails (or the Nth and every later one), as the call would when
 * the resource runs out: NULL/ENOMEM, MAP_FAILED/ENOMEM, -1/EMFILE, EAGAIN.
 *
 * The counter is per thread: a test arms the thread whose calls it drives,
 * and the thread pool's workers, or other tests' threads, do not move it.
 *
 * Included (last) by coio_int.h and by the pollers; it includes the system
 * headers it redirects first, so that their declarations are not renamed.
 */
#ifndef COIO_FAULT_H
#define COIO_FAULT_H

#ifdef COIO_FAULTS

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

#define COIO__FAULT_API __attribute__((visibility("hidden")))

/* The test side. Arm: the nth injection point reached by this thread from now
   on fails (n >= 1); with `sticky`, every later one fails as well; n = 0
   disarms. passed(): points reached since arming; fired(): failures injected;
   last(): the name of the last point that failed (for messages). */
COIO__FAULT_API void coio__fault_arm(long n, bool sticky);
COIO__FAULT_API long coio__fault_passed(void);
COIO__FAULT_API long coio__fault_fired(void);
COIO__FAULT_API const char *coio__fault_last(void);

/* The library side: true when this call (named `what`) must fail. */
COIO__FAULT_API bool coio__fault(const char *what);

COIO__FAULT_API void *coio__f_malloc(size_t n);
COIO__FAULT_API void *coio__f_calloc(size_t n, size_t m);
COIO__FAULT_API void *coio__f_realloc(void *p, size_t n);
COIO__FAULT_API char *coio__f_strdup(const char *s);
COIO__FAULT_API void *coio__f_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
COIO__FAULT_API int coio__f_mprotect(void *a, size_t n, int prot);
COIO__FAULT_API int coio__f_madvise(void *a, size_t n, int advice);
COIO__FAULT_API int coio__f_socket(int domain, int type, int proto);
COIO__FAULT_API int coio__f_accept(int fd, struct sockaddr *a, socklen_t *n);
COIO__FAULT_API int coio__f_pipe(int fds[2]);
COIO__FAULT_API int coio__f_open(const char *path, int flags, ...);
COIO__FAULT_API int coio__f_fcntl(int fd, int cmd, ...);
COIO__FAULT_API int coio__f_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
COIO__FAULT_API int coio__f_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at, char *const argv[], char *const envp[]);
COIO__FAULT_API int coio__f_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at, char *const argv[], char *const envp[]);
COIO__FAULT_API pid_t coio__f_fork(void);
#ifdef __linux__
COIO__FAULT_API int coio__f_accept4(int fd, struct sockaddr *a, socklen_t *n, int flags);
COIO__FAULT_API int coio__f_pipe2(int fds[2], int flags);
COIO__FAULT_API int coio__f_eventfd(unsigned v, int flags);
COIO__FAULT_API int coio__f_epoll_create1(int flags);
COIO__FAULT_API int coio__f_epoll_ctl(int ep, int op, int fd, struct epoll_event *e);
#endif

#ifndef COIO_FAULT_NO_REDIRECT /* fault.c calls the real ones */
#define malloc(n) coio__f_malloc(n)
#define calloc(n, m) coio__f_calloc(n, m)
#define realloc(p, n) coio__f_realloc(p, n)
#define strdup(s) coio__f_strdup(s)
#define mmap(a, n, p, f, fd, o) coio__f_mmap(a, n, p, f, fd, o)
#define mprotect(a, n, p) coio__f_mprotect(a, n, p)
#define madvise(a, n, v) coio__f_madvise(a, n, v)
#define socket(d, t, p) coio__f_socket(d, t, p)
#define accept(f, a, n) coio__f_accept(f, a, n)
#define pipe(f) coio__f_pipe(f)
#define open(...) coio__f_open(__VA_ARGS__)
#define fcntl(...) coio__f_fcntl(__VA_ARGS__)
#define pthread_create(t, a, f, x) coio__f_pthread_create(t, a, f, x)
#define posix_spawn(p, f, fa, at, av, ev) coio__f_posix_spawn(p, f, fa, at, av, ev)
#define posix_spawnp(p, f, fa, at, av, ev) coio__f_posix_spawnp(p, f, fa, at, av, ev)
#define fork() coio__f_fork()

#ifdef __linux__
#define accept4(f, a, n, fl) coio__f_accept4(f, a, n, fl)
#define pipe2(f, fl) coio__f_pipe2(f, fl)
#define eventfd(v, fl) coio__f_eventfd(v, fl)
#define epoll_create1(fl) coio__f_epoll_create1(fl)
#define epoll_ctl(ep, op, fd, e) coio__f_epoll_ctl(ep, op, fd, e)
#endif /* __linux__ */
#endif /* COIO_FAULT_NO_REDIRECT */

#endif /* COIO_FAULTS */
#endif /* COIO_FAULT_H */
