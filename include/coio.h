/* coio.h — the one public header of coio, asyncio for C.
 *
 * A stackful coroutine runtime: tasks with their own stacks, one event loop per
 * thread (epoll or kqueue), timers on a binary heap, asyncio's cancellation model.
 * Errors are POSIX style everywhere: -1 (or NULL) with errno set; errno is only
 * written on failure. Durations and loop times are double seconds.
 */
#ifndef COIO_H
#define COIO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COIO_VERSION_MAJOR 0
#define COIO_VERSION_MINOR 1
#define COIO_VERSION_PATCH 0

#if defined(__GNUC__)
#define COIO_API __attribute__((visibility("default")))
#else
#define COIO_API
#endif

/* ======================================================================== */
/* Types                                                                    */
/* ======================================================================== */

/* A task is a future that runs a function on its own stack. Both names denote
   the same opaque type, so every call that takes a coio_task * accepts a
   future from coio_future_new() as well (task-only calls say so). */
typedef struct coio_future coio_task;
typedef struct coio_future coio_future;

typedef struct coio_loop coio_loop;     /* one event loop; one per thread at a time */
typedef struct coio_handle coio_handle; /* a scheduled callback (call_soon/later/at) */

/* Options for coio_spawn_opts(). Zero means default for every field. */
typedef struct {
    const char *name;        /* copied (at most 63 bytes kept); default "Task-<n>" */
    size_t stack_size;       /* usable stack bytes, rounded up to pages; default
                                COIO_STACK_DEFAULT, minimum COIO_STACK_MIN */
    void (*arg_dtor)(void *);/* called with arg if the task is cancelled before it
                                ever runs (its function never sees arg) */
} coio_task_opts;

#define COIO_STACK_DEFAULT (64u * 1024u)
#define COIO_STACK_MIN (16u * 1024u)

/* The states a future/task goes through (coio_task_state()). */
typedef enum {
    COIO_PENDING = 0,   /* created, not done (a task may be running or waiting) */
    COIO_FINISHED,      /* done with a result */
    COIO_FAILED,        /* done with an error code */
    COIO_CANCELLED      /* done, cancelled */
} coio_state;

/* ======================================================================== */
/* Running: asyncio.run and the loop                                        */
/* ======================================================================== */

/* asyncio.run: make a new loop, run main(arg) as a task until it is done, then
   cancel every task still pending and run the loop until they have finished,
   then close the loop. Stores main's result in *result (if result is not NULL).
   Returns 0, or -1 with errno: main's failure code, ECANCELED (main was
   cancelled), EINVAL (main NULL), EBUSY (a loop is already running on this
   thread), ENOMEM/EMFILE (the loop could not be created). */
COIO_API int coio_run(void *(*main)(void *), void *arg, void **result);

/* Make a new loop. If this thread has no current loop, the new one becomes it.
   Returns NULL with errno ENOMEM or EMFILE/ENFILE (poller fd). */
COIO_API coio_loop *coio_loop_new(void);

/* The loop that coio_spawn()/coio_call_soon() use on this thread: the running
   loop if one runs, else the one set last (coio_loop_new or
   coio_loop_set_current). Returns NULL with errno EINVAL if there is none. */
COIO_API coio_loop *coio_loop_current(void);

/* Make loop the current loop of this thread (NULL: none). Returns 0, or -1 with
   errno EBUSY if another loop is running on this thread. */
COIO_API int coio_loop_set_current(coio_loop *loop);

/* Run until t is done, then return at the end of that loop iteration. Stores
   t's result in *result (if not NULL). Returns 0, or -1 with errno: t's failure
   code, ECANCELED (t cancelled), EAGAIN (coio_loop_stop() ended the run before
   t was done), EINVAL (loop or t NULL, t of another loop, loop closed), EBUSY
   (this or another loop is already running on this thread). */
COIO_API int coio_loop_run_until_complete(coio_loop *loop, coio_task *t, void **result);

/* Run until coio_loop_stop(). Returns 0, or -1 with errno EINVAL (NULL) or
   EBUSY (a loop is already running on this thread). */
COIO_API int coio_loop_run_forever(coio_loop *loop);

/* Ask the running loop to return once the current iteration's callbacks have
   run; callbacks scheduled meanwhile stay queued. Before run_forever, makes it
   run exactly one iteration. Returns 0, or -1 with errno EINVAL (NULL). */
COIO_API int coio_loop_stop(coio_loop *loop);

/* Close the loop: pending callbacks and timers are dropped; a task still
   pending is reported on stderr ("Task was destroyed but it is pending!") and
   ends CANCELLED without running again. The loop memory is freed once no task
   handle refers to it; the loop pointer must not be used afterwards (as after
   free()). Returns 0, or -1 with errno EBUSY (running) or EINVAL (NULL). */
COIO_API int coio_loop_close(coio_loop *loop);

/* The loop's clock: CLOCK_MONOTONIC in seconds (unspecified epoch). loop may be
   NULL for the same clock without a loop. */
COIO_API double coio_loop_time(coio_loop *loop);

/* True (1) while loop runs, 0 otherwise. */
COIO_API int coio_loop_is_running(coio_loop *loop);

/* ======================================================================== */
/* Callbacks: call_soon / call_later / call_at                              */
/* ======================================================================== */

/* Schedule cb(arg) to run on the loop's next iteration, after every callback
   scheduled before it (FIFO). Callbacks never run synchronously.
   The returned handle belongs to the loop and stays valid until the callback
   has started or the handle is cancelled; coio_handle_retain() keeps it valid
   longer. Returns NULL with errno EINVAL (loop or cb NULL, loop closed) or
   ENOMEM. */
COIO_API coio_handle *coio_call_soon(coio_loop *loop, void (*cb)(void *), void *arg);

/* Schedule cb(arg) at loop time now + delay (a delay <= 0 runs on the next
   iteration after the callbacks already queued). Timers due at the same
   instant run in the order they were scheduled. Errors as coio_call_soon, plus
   EINVAL for a NaN delay. */
COIO_API coio_handle *coio_call_later(coio_loop *loop, double delay, void (*cb)(void *), void *arg);

/* The same at an absolute loop time (coio_loop_time()). */
COIO_API coio_handle *coio_call_at(coio_loop *loop, double when, void (*cb)(void *), void *arg);

/* Cancel a scheduled callback: it will not run. Returns 1 if this call
   cancelled it, 0 if it had already run or been cancelled, -1 with errno
   EINVAL for NULL. */
COIO_API int coio_handle_cancel(coio_handle *h);

/* 1 if h was cancelled, else 0. */
COIO_API int coio_handle_cancelled(const coio_handle *h);

/* The loop time at which a call_later/call_at handle is due (0 for call_soon). */
COIO_API double coio_handle_when(const coio_handle *h);

/* Take / drop a reference that keeps h valid after its callback has run. */
COIO_API coio_handle *coio_handle_retain(coio_handle *h);
COIO_API void coio_handle_release(coio_handle *h);

/* ======================================================================== */
/* Tasks                                                                    */
/* ======================================================================== */

/* Spawn fn(arg) as a task of the current loop. It starts on a later loop
   iteration (never inside this call). Returns a handle the caller owns (release
   it with coio_task_release; releasing at once makes a detached task), or NULL
   with errno EINVAL (fn NULL, no current loop, or the loop closed) or ENOMEM
   (no memory for the stack; EAGAIN if mmap hit a kernel limit). */
COIO_API coio_task *coio_spawn(void *(*fn)(void *), void *arg);

/* The same with options (opts may be NULL). */
COIO_API coio_task *coio_spawn_opts(const coio_task_opts *opts, void *(*fn)(void *), void *arg);

/* The same on an explicit loop (which need not be current). */
COIO_API coio_task *coio_loop_spawn(coio_loop *loop, const coio_task_opts *opts,
                                    void *(*fn)(void *), void *arg);

/* Wait until t is done. Returns 0 and stores t's result in *result (if not
   NULL), or -1 with errno:
     t's own failure code       t failed (coio_fail / coio_future_set_error);
     ECANCELED                  t was cancelled, or the caller was cancelled
                                while waiting (a cancel of the caller is
                                forwarded to t, as in asyncio);
     EDEADLK                    t is the calling task;
     EINVAL                     t NULL, not called from a task, or t belongs to
                                another (or a closed) loop.
   An already done t returns at once without suspending (no cancellation is
   delivered there). */
COIO_API int coio_await(coio_task *t, void **result);

/* Sleep for seconds (<= 0: yield once, letting every other ready task and
   callback run). Returns 0, or -1 with errno ECANCELED (cancelled; the timer is
   gone), EINVAL (not in a task, NaN). */
COIO_API int coio_sleep(double seconds);

/* Same as coio_sleep(0). */
COIO_API int coio_yield(void);

/* Request cancellation (asyncio's Task.cancel). While t is pending every call
   returns 1 and adds 1 to coio_task_cancelling(t); once t is done it returns 0.
   The request is delivered once, as -1/ECANCELED, at t's next real suspension
   (a wait that completes without suspending does not count). A task cancelled
   before it first runs never runs. If t is awaiting a task or future, the
   cancel is forwarded to that one. Returns -1 with errno EINVAL for NULL. */
COIO_API int coio_cancel(coio_task *t);

/* The same with a message, copied and readable with coio_task_cancel_message. */
COIO_API int coio_cancel_msg(coio_task *t, const char *msg);

/* End the current task with error err (a positive errno-style code), from any
   call depth: the function never returns inside a task. Awaiters see -1 with
   errno = err. coio_fail(ECANCELED) ends the task CANCELLED. Outside a task,
   or with err <= 0, returns -1 with errno EINVAL. */
COIO_API int coio_fail(int err);

/* The same with a message (copied; at most 255 bytes kept). */
COIO_API int coio_fail_msg(int err, const char *msg);

/* The current task's pending cancellation requests (asyncio's cancelling()).
   0 outside a task. */
COIO_API int coio_cancelling(void);

/* Decrement the current task's cancellation count (never below 0) and return
   the new value; at 0 a cancel not yet delivered is withdrawn. Returns -1 with
   errno EINVAL outside a task. */
COIO_API int coio_uncancel(void);

/* The C form of `except CancelledError:` that does not re-raise: forget the
   ECANCELED the current task has received, so that returning from its function
   ends it FINISHED rather than CANCELLED. coio_cancelling() is unchanged (use
   coio_uncancel for that). Returns 1 if a delivered cancel was absorbed, 0 if
   there was none, -1 with errno EINVAL outside a task. */
COIO_API int coio_absorb_cancel(void);

/* State queries; all accept tasks and futures. NULL gives 0 / COIO_PENDING. */
COIO_API int coio_task_done(const coio_task *t);
COIO_API int coio_task_cancelled(const coio_task *t);
COIO_API coio_state coio_task_state(const coio_task *t);

/* asyncio's result(): 0 and *result for a finished task; -1 with errno = t's
   failure code, ECANCELED if cancelled, EAGAIN if not done, EINVAL for NULL.
   Marks a failure as retrieved. */
COIO_API int coio_task_result(coio_task *t, void **result);

/* The failure code of a done task (0 if it finished or was cancelled, ECANCELED
   never: use coio_task_cancelled), and its message or NULL. Marks a failure
   retrieved. -1 with errno EAGAIN if t is not done, EINVAL for NULL. */
COIO_API int coio_task_error(coio_task *t);
COIO_API const char *coio_task_error_message(const coio_task *t);

/* The message given to coio_cancel_msg, or NULL. */
COIO_API const char *coio_task_cancel_message(const coio_task *t);

/* Name of t ("Task-<n>" by default; "Future-<n>" for futures). Never NULL for a
   valid handle; "" for NULL. */
COIO_API const char *coio_task_name(const coio_task *t);

/* Rename t (copied, at most 63 bytes kept). Returns 0, or -1 with errno EINVAL. */
COIO_API int coio_task_set_name(coio_task *t, const char *name);

/* The cancellation count of t (coio_cancelling() for any task). */
COIO_API int coio_task_cancelling(const coio_task *t);

/* Write a one-line description like asyncio's repr into buf (snprintf rules:
   returns the length it wanted), e.g.
     <Task pending name='Task-1'>
     <Task finished name='fetch' result=0x2a>
     <Task failed name='x' error=110 (Connection timed out) msg='...'>
     <Task cancelled name='y'> */
COIO_API int coio_task_describe(const coio_task *t, char *buf, size_t len);

/* References. spawn returns one; the loop holds another while t is pending.
   retain returns t; release of the last reference frees it. Releasing a FAILED
   task whose error nobody retrieved reports it on stderr ("Task exception was
   never retrieved"). NULL is ignored. */
COIO_API coio_task *coio_task_retain(coio_task *t);
COIO_API void coio_task_release(coio_task *t);

/* Done callbacks: cb(t, arg) runs through call_soon once t is done, in
   registration order, also when added after t is done. Returns 0, or -1 with
   errno EINVAL (NULL, loop closed) or ENOMEM. */
COIO_API int coio_task_add_done_callback(coio_task *t, void (*cb)(coio_task *, void *), void *arg);

/* Remove every registration of (cb, arg) not yet scheduled; returns how many. */
COIO_API int coio_task_remove_done_callback(coio_task *t, void (*cb)(coio_task *, void *), void *arg);

/* The task running now, or NULL (in a plain callback or outside the loop). */
COIO_API coio_task *coio_current_task(void);

/* The current loop's tasks that are not done, the current one included: fills
   out[0..cap) (borrowed pointers) and returns how many exist. */
COIO_API size_t coio_all_tasks(coio_task **out, size_t cap);

/* ======================================================================== */
/* File descriptors                                                         */
/* ======================================================================== */
/* The calls below run inside a task. fds must be nonblocking; the first call on
   an fd makes it so. Each tries the system call first and suspends only on
   EAGAIN. fds are registered with the poller once (edge-triggered); close such
   an fd with coio_close() so a waiting task is woken and the registration
   forgotten (a plain close() of a registered fd number that is then reused
   makes waits on the new fd hang until a coio_close/coio_accept/coio_socket
   resets it). Outside a task they return -1 with errno EINVAL. */

/* Wait until fd is readable / writable. timeout < 0: no limit. Returns 0, or -1
   with errno ETIMEDOUT, ECANCELED, EBADF (fd closed with coio_close meanwhile,
   or fd < 0), EINVAL (not in a task), EEXIST (another task already waits for
   the same direction of fd). May return spuriously, as poll(2) may. */
COIO_API int coio_wait_readable(int fd, double timeout);
COIO_API int coio_wait_writable(int fd, double timeout);

/* read(2) that suspends instead of blocking: returns bytes read (0 at EOF), or
   -1 with read's errno, ECANCELED, EBADF, EEXIST as above. */
COIO_API ssize_t coio_read(int fd, void *buf, size_t n);

/* write(2) with blocking-socket semantics: suspends until all n bytes are
   written. Returns n, or the bytes written before an error if any were, or -1
   with write's errno (EPIPE, never SIGPIPE, on sockets), ECANCELED, ... */
COIO_API ssize_t coio_write(int fd, const void *buf, size_t n);

/* accept4(2) that suspends; the new fd is nonblocking and close-on-exec. */
COIO_API int coio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/* connect(2) that suspends until the connection is made or fails; returns 0 or
   -1 with the connection's errno (ECONNREFUSED, ...), ECANCELED. */
COIO_API int coio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/* socket(2) that returns a nonblocking, close-on-exec fd. */
COIO_API int coio_socket(int domain, int type, int protocol);

/* Wake every task waiting on fd (they get EBADF), forget its registration and
   close(2) it. Returns close's result. Usable outside tasks too. */
COIO_API int coio_close(int fd);

/* ======================================================================== */
/* Short names (opt-in)                                                     */
/* ======================================================================== */

/* Await t and return its result; NULL with errno set on failure. For results
   that may be NULL use coio_await(). */
COIO_API void *coio_await_value(coio_task *t);

#ifdef COIO_SHORT_NAMES
#define async(fn, arg) coio_spawn((void *(*)(void *))(fn), (void *)(arg))
#define await(t) coio_await_value(t)
#endif

#ifdef __cplusplus
}
#endif
#endif /* COIO_H */
