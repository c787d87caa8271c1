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
#include <stdio.h>
#include <sys/types.h>
#include <sys/socket.h>

/* off_t and struct stat are part of coio's ABI (coio_sendfile, coio_file_stat).
   The library is built with 64-bit file offsets on every system: on 32-bit
   glibc (i386, armhf) that takes -D_FILE_OFFSET_BITS=64, which the code that
   includes this header needs too (pkg-config --cflags coio gives it), or the
   two would disagree on both types. */
#ifdef __cplusplus
static_assert(sizeof(off_t) == 8, "coio.h needs a 64-bit off_t: compile with -D_FILE_OFFSET_BITS=64");
#else
_Static_assert(sizeof(off_t) == 8, "coio.h needs a 64-bit off_t: compile with -D_FILE_OFFSET_BITS=64");
#endif

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
    void (*arg_dtor)(void *);/* called with arg if the task is cancelled (or its
                                loop closed) before it ever runs (its function
                                never sees arg) */
    int eager;               /* 1: start eagerly (asyncio's eager_start): the task
                                runs inside the spawn call until it first suspends
                                (see coio_spawn); -1: never; 0: the loop's default
                                (coio_loop_set_eager, off unless set) */
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
   then close the loop (which joins the default thread pool of coio_to_thread:
   no thread outlives coio_run). Stores main's result in *result (if result is
   not NULL).
   Ctrl-C (R3): while main runs, and if SIGINT has its default disposition
   (no handler of the program's own, not ignored, not taken by another loop),
   the first SIGINT cancels main; the second restores the default and re-raises
   it, ending the process even if the loop is stuck. The handler is gone again
   before the leftover tasks are cancelled.
   Returns 0, or -1 with errno: main's failure code, EINTR (main ended
   cancelled by that SIGINT and no other cancel request was outstanding: the
   KeyboardInterrupt analogue), ECANCELED (main was cancelled otherwise),
   EINVAL (main NULL), EBUSY (a loop is already running on this thread),
   ENOMEM/EMFILE (the loop could not be created). */
COIO_API int coio_run(void *(*main)(void *), void *arg, void **result);

/* Make a new loop. If this thread has no current loop, the new one becomes it.
   Returns NULL with errno ENOMEM or EMFILE/ENFILE (poller fd). */
COIO_API coio_loop *coio_loop_new(void);

/* The loop that coio_spawn()/coio_call_soon() use on this thread: the running
   loop if one runs, else the one set last (coio_loop_new or
   coio_loop_set_current). Returns NULL with errno EINVAL if there is none. */
COIO_API coio_loop *coio_loop_current(void);

/* Make loop the current loop of this thread (NULL: none). Returns 0, or -1 with
   errno EBUSY if another loop is running on this thread, EINVAL if loop is not
   a loop (or one already freed). */
COIO_API int coio_loop_set_current(coio_loop *loop);

/* Run until t is done, then run one more iteration, as asyncio does (its run
   ends from a done-callback of t): what was ready when t finished — t's own
   done-callbacks, the first step of a task t spawned — still runs. Stores
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
   run exactly one iteration. Returns 0, or -1 with errno EINVAL (NULL) or EPERM
   (debug mode: called from another thread while the loop runs). */
COIO_API int coio_loop_stop(coio_loop *loop);

/* Close the loop: pending callbacks and timers are dropped; a task still
   pending is reported on stderr ("Task was destroyed but it is pending!") and
   ends CANCELLED without running again; a lock, permit, notification or queue
   slot it had been handed (woken, not yet run) passes to the next waiter, so the
   primitive stays usable from other loops. The loop memory is freed once no task
   handle refers to it. Until then the loop is closed but valid: closing it
   again returns 0, and the calls that need an open loop give EINVAL. Once freed,
   it is gone from coio's registry of live loops, so every call taking a loop
   (a second close included) gives EINVAL without reading the freed memory;
   only if a later coio_loop_new happens to get the same address does the stale
   pointer name that new loop, as with any freed pointer.
   Returns 0, or -1 with errno EBUSY (running) or EINVAL (NULL, not a live
   loop). */
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
   longer. Returns NULL with errno EINVAL (loop or cb NULL, loop closed),
   ENOMEM, or EPERM (debug mode: called from another thread while the loop
   runs; coio_call_soon_threadsafe is the way across). */
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
   iteration (never inside this call), unless it is eager (opts->eager, or the
   loop's default, coio_loop_set_eager) and the loop is running on this thread:
   then fn runs at once, inside this call, with coio_current_task() the new task,
   until it first suspends (it continues as an ordinary scheduled task) or ends
   (it is returned done, never having been queued; its done callbacks are still
   scheduled with call_soon). asyncio 3.12's eager tasks (EG1-EG6). Returns a handle the caller owns (release
   it with coio_task_release; releasing at once makes a detached task), or NULL
   with errno EINVAL (fn NULL, no current loop, or the loop closed; for
   coio_spawn_opts also a stack_size within two pages of SIZE_MAX, whose
   rounding would wrap), ENOMEM (no memory for the stack, or a stack_size too
   large for the address space; EAGAIN if mmap hit a kernel limit) or EPERM
   (debug mode: called from another thread while the loop runs). */
COIO_API coio_task *coio_spawn(void *(*fn)(void *), void *arg);

/* The same with options (opts may be NULL). */
COIO_API coio_task *coio_spawn_opts(const coio_task_opts *opts, void *(*fn)(void *), void *arg);

/* The same on an explicit loop (which need not be current). */
COIO_API coio_task *coio_loop_spawn(coio_loop *loop, const coio_task_opts *opts,
                                    void *(*fn)(void *), void *arg);

/* Make eager start the default for tasks spawned on loop (on != 0; asyncio's
   eager_task_factory) or lazy start again (on == 0); opts->eager overrides it
   per spawn. Task groups honour it too. 0, or -1/EINVAL (loop NULL or closed). */
COIO_API int coio_loop_set_eager(coio_loop *loop, int on);
/* 1 if loop's default is eager, else 0 (also for NULL or a closed loop). */
COIO_API int coio_loop_get_eager(coio_loop *loop);

/* How task stacks are guarded in this process (README "Stacks"), decided once,
   at the first stack mapped:
     COIO_STACK_GUARD_REGION  every stack has a 64 KiB guard region below it
                              (Linux 6.13+ madvise(MADV_GUARD_INSTALL)), at any
                              number of tasks;
     COIO_STACK_GUARD_PAGE    the fallback: a PROT_NONE guard page for the first
                              vm.max_map_count/4 stacks, a canary word after
                              that. Chosen where guard regions are refused or
                              do not fault (older kernels, qemu-user), or
                              forced with COIO_STACK_GUARD=page in the
                              environment.
   *guard_bytes (if not NULL) gets the guard's size (the page size for the
   fallback). Cannot fail. */
#define COIO_STACK_GUARD_REGION 1
#define COIO_STACK_GUARD_PAGE 2
COIO_API int coio_stack_guard_scheme(size_t *guard_bytes);

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
   cancel is forwarded to that one. Returns -1 with errno EINVAL for NULL or a
   pending future whose loop was closed (nothing could run its callbacks; it
   stays pending). */
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
   resets it; that reset also wakes tasks still waiting on the old fd, with
   EBADF). Outside a task they return -1 with errno EINVAL. */

/* Wait until fd is readable / writable. timeout < 0: no limit. Returns 0, or -1
   with errno ETIMEDOUT, ECANCELED, EBADF (fd closed with coio_close meanwhile,
   fd < 0 or not open), EINVAL (not in a task, NaN timeout), EEXIST (another
   task already waits for the same direction of fd), ENOMEM (fd table or poller
   registration). May return spuriously, as poll(2) may. */
COIO_API int coio_wait_readable(int fd, double timeout);
COIO_API int coio_wait_writable(int fd, double timeout);

/* read(2) that suspends instead of blocking: returns bytes read (0 at EOF), or
   -1 with read's errno, ECANCELED, EBADF, EEXIST as above. */
COIO_API ssize_t coio_read(int fd, void *buf, size_t n);

/* write(2) with blocking-socket semantics: suspends until all n bytes are
   written. Returns n, or the bytes written before an error if any were, or -1
   with write's errno (EPIPE, never SIGPIPE: sockets are sent to with
   MSG_NOSIGNAL or SO_NOSIGPIPE; pipes and other fds are written with SIGPIPE
   blocked in the calling thread and the SIGPIPE the write raised taken back,
   unless one was already pending), ECANCELED, ... */
COIO_API ssize_t coio_write(int fd, const void *buf, size_t n);

/* accept4(2) that suspends (accept + fcntl where there is no accept4); the new
   fd is nonblocking and close-on-exec. */
COIO_API int coio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/* connect(2) that suspends until the connection is made or fails; returns 0 or
   -1 with the connection's errno (ECONNREFUSED, ...), ECANCELED. */
COIO_API int coio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/* socket(2) that returns a nonblocking, close-on-exec fd; -1 with socket's
   errno. Usable outside tasks too. */
COIO_API int coio_socket(int domain, int type, int protocol);

/* Wake every task waiting on fd (they get EBADF), forget its registration and
   close(2) it. Returns close's result. Usable outside tasks too. */
COIO_API int coio_close(int fd);

/* ======================================================================== */
/* Futures                                                                  */
/* ======================================================================== */
/* A future is a task without a function: someone completes it by hand. The
   task calls above accept futures (coio_await, coio_cancel, coio_task_done,
   coio_task_result, done callbacks, retain/release); the names below are the
   future-flavoured spellings, plus the calls that only make sense for one.
   When its loop closes, a pending future stays pending and valid until its
   last reference is released (which frees it): its done-callbacks and shields
   are dropped unrun, and completing it (set_result, set_error, cancel), adding
   a callback, awaiting or shielding it fail with EINVAL; the queries work. */

/* A new pending future on the current loop, with one reference for the
   caller. NULL with errno EINVAL (no current loop) or ENOMEM. */
COIO_API coio_future *coio_future_new(void);

/* Complete f with a result / an error (err > 0, msg copied, may be NULL);
   wakes awaiters and schedules done-callbacks. Returns 0, or -1 with errno
   EALREADY (f is already done: finished, failed or cancelled; asyncio's
   InvalidStateError), EINVAL (NULL, f is a task, err <= 0, f's loop was
   closed). */
COIO_API int coio_future_set_result(coio_future *f, void *result);
COIO_API int coio_future_set_error(coio_future *f, int err, const char *msg);

static inline void coio_future_release(coio_future *f) { coio_task_release(f); }
static inline int coio_future_cancel(coio_future *f) { return coio_cancel(f); }
static inline int coio_future_done(const coio_future *f) { return coio_task_done(f); }
static inline int coio_future_cancelled(const coio_future *f) { return coio_task_cancelled(f); }
static inline int coio_future_result(coio_future *f, void **r) { return coio_task_result(f, r); }
static inline int coio_future_await(coio_future *f, void **r) { return coio_await(f, r); }
static inline int coio_future_add_done_callback(coio_future *f, void (*cb)(coio_future *, void *), void *arg)
{
    return coio_task_add_done_callback(f, cb, arg);
}
static inline int coio_future_remove_done_callback(coio_future *f, void (*cb)(coio_future *, void *), void *arg)
{
    return coio_task_remove_done_callback(f, cb, arg);
}

/* ======================================================================== */
/* Composition: gather, wait, wait_for, shield, as_completed                */
/* ======================================================================== */

#define COIO_RETURN_EXCEPTIONS 1

/* Waiting on several tasks/futures (gather, wait, as_completed) puts one small
   record per entry on each of them: on the calling task's stack for n <= 8;
   for larger n, gather and wait allocate one array per call (ENOMEM). The
   entries must belong to the caller's loop; they are retained while waited on.
   A call whose condition already holds returns without suspending, so it does
   not deliver a pending cancellation (as coio_await on a done task). */

/* asyncio.gather: wait for every aws[i] (tasks or futures; the same one may
   appear several times). results[i] gets each result (NULL for failures and
   for children still running); codes[i] gets 0, the failure code, ECANCELED
   for a cancelled child, or EAGAIN for one still running. Either array may be
   NULL; both are filled on every return except EINVAL/EDEADLK/ENOMEM.
   Without COIO_RETURN_EXCEPTIONS: returns 0 when all finished, or -1 with
   errno = the first failing child's code as soon as it fails (the first in
   argument order if several failed before the call); the other children are
   not cancelled and keep running. With it: waits for all and returns 0.
   gather reports the children's errors, so it marks all of them retrieved,
   later ones included (no "never retrieved" report for them).
   If the calling task is cancelled, every unfinished child is cancelled and
   gather waits until all of them have ended, then returns -1/ECANCELED — even
   with COIO_RETURN_EXCEPTIONS, and even if every child absorbed the cancel. A
   cancel that arrives after the gather completed but before the caller
   resumed also gives ECANCELED and touches no child. Every ECANCELED return
   (a cancelled child included) counts as a cancellation delivered to the
   caller, as with coio_await: call coio_absorb_cancel() to carry on.
   n == 0 returns 0 at once. Other errors: EINVAL (not in a task, aws NULL with
   n > 0, a NULL entry or one of another or a closed loop, flags other than
   COIO_RETURN_EXCEPTIONS), EDEADLK (the caller is among aws), ENOMEM. */
COIO_API int coio_gather(coio_task *const *aws, size_t n, void **results, int *codes, int flags);

#define COIO_FIRST_COMPLETED 1
#define COIO_FIRST_EXCEPTION 2
#define COIO_ALL_COMPLETED 4

/* asyncio.wait: wait until return_when holds or timeout seconds pass (< 0 or
   INFINITY: no limit; 0: one loop iteration), then split aws into done[] and
   pending[] (each in input order, duplicates collapsed, the same pointers as in
   aws; either array may be NULL, else it needs room for n; the counts go to
   *ndone and *npending when those are not NULL). The split is made when the
   caller resumes, so a task finishing in the same iteration as the timeout is
   done. FIRST_EXCEPTION waits for a failure (a cancelled task does not count)
   or for all. A timeout is not an error and cancels nothing; errors of done
   tasks are not retrieved. Returns 0, or -1 with errno EINVAL (n == 0, aws
   NULL, bad return_when, NaN timeout, not in a task, a NULL or foreign entry),
   EDEADLK (the caller is among aws), ECANCELED (the caller was cancelled; the
   tasks go on; outputs not written), ENOMEM. */
COIO_API int coio_wait(coio_task *const *aws, size_t n, double timeout, int return_when,
                       coio_task **done, size_t *ndone, coio_task **pending, size_t *npending);

/* asyncio.wait_for: await t for at most timeout seconds (< 0 or INFINITY: no
   limit, a plain coio_await). A t already done gives its outcome at once, even
   with timeout <= 0. On timeout (at once for timeout <= 0) t is cancelled and
   waited for until it has really finished (a task that has not started never
   runs); then -1/ETIMEDOUT, unless t absorbed the cancel and returned a value
   (returned as 0 + *result) or failed with another error (that error). If t
   completed but the deadline fired before the caller resumed, the timeout
   wins (ETIMEDOUT; t keeps its outcome). Cancelling the caller cancels t too,
   waits for t's end and gives ECANCELED (or t's value if t absorbed it), also
   during the cancellation that follows a timeout. Other errors as coio_await:
   EINVAL (also for a NaN timeout), EDEADLK, t's own failure code. */
COIO_API int coio_wait_for(coio_task *t, double timeout, void **result);

/* asyncio.shield: a new future (one reference for the caller) that completes
   like t (result, or error code and message, or cancelled when t is), but
   whose cancellation does not cancel t. Once the outer future is cancelled, a
   later failure of t counts as retrieved. t and the new future are kept alive
   until t completes. If t is already done, returns t itself with an extra
   reference. Usable outside a task. NULL with errno EINVAL (t NULL or its loop
   closed) or ENOMEM. */
COIO_API coio_future *coio_shield(coio_task *t);

/* asyncio.as_completed as an iterator: yields the given tasks themselves in the
   order they finish (those already done first, in input order; duplicates
   collapsed). _new allocates the iterator, retains the tasks and starts
   watching them at once (usable outside a task; NULL with errno EINVAL for aws
   NULL with n > 0, a NULL entry, entries of different or closed loops, a NaN
   timeout; or ENOMEM). timeout (< 0 or INFINITY: none) is a deadline for the
   whole iteration counted from _new; tasks finishing after it are not yielded.
   coio_as_completed_next() stores the next finished task (borrowed: valid
   while the iterator lives) in *t (t may be NULL) and returns 1; returns 0
   once every task was yielded or timed out; or -1 with errno ETIMEDOUT (the
   deadline passed: nothing is cancelled, and each further call returns
   ETIMEDOUT once per task not yielded, then 0), ECANCELED (the caller was
   cancelled; the iterator stays usable), EBUSY (another task is waiting in
   next on it), EBADF (the iterator was freed while this call waited), EINVAL
   (it NULL, not in a task, another loop). _free drops the references; NULL is
   ignored. */
typedef struct coio_as_completed coio_as_completed;
COIO_API coio_as_completed *coio_as_completed_new(coio_task *const *aws, size_t n, double timeout);
COIO_API int coio_as_completed_next(coio_as_completed *it, coio_task **t);
COIO_API void coio_as_completed_free(coio_as_completed *it);

/* ======================================================================== */
/* Timeout scopes: asyncio.timeout / timeout_at                             */
/* ======================================================================== */
/* Storage belongs to the caller (usually the stack of the task using it):

       coio_timeout to;
       coio_timeout_enter(&to, 1.5);
       int rc = do_work();                  // any number of calls
       rc = coio_timeout_exit(&to, rc);     // -1/ETIMEDOUT if it expired

   When the deadline passes, the task is cancelled (its current or next wait
   returns ECANCELED). coio_timeout_exit turns that into ETIMEDOUT only for
   this scope's own cancellation (nested scopes and outside cancels pass
   through) and restores coio_cancelling(); the scope's own cancel ends there
   (converted, or swallowed or replaced by the body: the task does not end
   CANCELLED because of it).
   rc is the body's last return value; when rc < 0, errno must still hold its
   error. A deadline already reached fires on the next loop iteration, so even
   a coio_yield() inside the scope times out. Scopes nest; each must be exited
   before the function holding its storage returns (a coio_fail() from inside
   is fine: the scope is dropped with the task). A scope never allocates. */
typedef struct coio_timeout {
    union {                 /* sized for the implementation; do not touch */
        void *p_[16];       /* 64-bit targets: 128 bytes */
        long long ll_[12];  /* 32-bit targets: 96 bytes, 64-bit aligned */
        double d_;          /* where the ABI aligns doubles apart from longs */
    } opaque_;
} coio_timeout;

/* Enter with a delay in seconds (INFINITY or NAN: no deadline; <= 0: already
   due) or an absolute loop time (coio_loop_time()). Returns 0, or -1 with
   errno EINVAL (not in a task, NULL, to already entered by this task) or
   ENOMEM (the loop's timer heap could not grow). */
COIO_API int coio_timeout_enter(coio_timeout *to, double delay);
COIO_API int coio_timeout_enter_at(coio_timeout *to, double when);

/* Leave the scope; returns rc, or -1 with errno ETIMEDOUT (see above), or -1
   with errno EINVAL if to was not entered by the calling task. */
COIO_API int coio_timeout_exit(coio_timeout *to, int rc);

/* Move the deadline (absolute loop time; INFINITY or NAN: none; a time
   already past fires on the next iteration). Any task or callback of the
   loop may call it. Returns 0, or -1 with errno EINVAL if the scope is not
   active (NULL, not entered, expiring, expired or exited). */
COIO_API int coio_timeout_reschedule(coio_timeout *to, double when);

/* The deadline (INFINITY if none; NAN for storage never entered) and whether
   the scope has fired (1/0; stays 1 after exit). */
COIO_API double coio_timeout_when(const coio_timeout *to);
COIO_API int coio_timeout_expired(const coio_timeout *to);

/* ======================================================================== */
/* Task groups: asyncio.TaskGroup                                           */
/* ======================================================================== */
/* The error code of a task group that failed, outside the errno range. */
#define COIO_EGROUP 0x10000

typedef struct coio_taskgroup {
    void *opaque_[16]; /* sized for the implementation; do not touch */
} coio_taskgroup;

/* Typical use (the body is everything between enter and exit):

       coio_taskgroup tg;
       coio_taskgroup_enter(&tg);
       coio_taskgroup_spawn(&tg, NULL, child, arg);
       int rc = coio_sleep(1.0);                 // the body's own work
       rc = coio_taskgroup_exit(&tg, rc);        // waits for every child
       if (rc < 0 && errno == COIO_EGROUP)
           ... coio_taskgroup_error_count / _get ...
       coio_taskgroup_dispose(&tg);

   The storage belongs to the caller and must stay valid until exit; if the
   entering task ends with the group still entered (coio_fail in the body),
   the children are cancelled and left to finish detached. */

/* Enter a group in the current task. Returns 0, or -1 with errno EINVAL
   (not in a task, NULL, already entered by this task). */
COIO_API int coio_taskgroup_enter(coio_taskgroup *tg);

/* Spawn a child into the group (as coio_spawn_opts; any task or callback of
   the loop may call it, children included, also while exit waits). Returns a
   borrowed handle, valid only while the child is pending: retain it
   (coio_task_retain) to use it after it finishes. Or NULL with errno EINVAL
   (fn or tg NULL, group not entered, finished, or aborting after a failure or
   cancel) or ENOMEM/EAGAIN (as coio_spawn). On every failure fn is not run
   and opts->arg_dtor, if any, gets arg. As asyncio discards a finished task,
   the group drops its reference to a child (and with it the stack, unless
   retained) one callback turn after the child finishes or is cancelled, so a
   long-lived group holds only its pending children; a child that failed is
   kept, as the `task` of its failure entry, until coio_taskgroup_dispose. */
COIO_API coio_task *coio_taskgroup_spawn(coio_taskgroup *tg, const coio_task_opts *opts,
                                         void *(*fn)(void *), void *arg);

/* Leave the group: wait for every child, including ones spawned meanwhile.
   The first child failure (not a cancel) cancels the other children and the
   body (the entering task). body_rc is the body's result: when < 0, errno
   is its error and counts as the body's failure (ECANCELED does not).
   Returns 0; or -1 with errno COIO_EGROUP if any child or the body failed (see
   coio_taskgroup_error_count/get); or -1/ECANCELED if the group was cancelled
   from outside and nothing failed (the task then ends CANCELLED unless it
   absorbs). The task's coio_cancelling() is restored to what it was before
   the group's own cancel; with COIO_EGROUP an outside cancel still pending is
   delivered at the task's next suspension. A cancel the exit swallows
   (replaced by COIO_EGROUP, or the group's own) is absorbed. Returns -1 with
   errno EINVAL if tg was not entered by the calling task or was exited. */
COIO_API int coio_taskgroup_exit(coio_taskgroup *tg, int body_rc);

/* After an exit with COIO_EGROUP: the failures in completion order, the
   body's own error last. An entry whose code is COIO_EGROUP is a nested group:
   a child that failed with its own group error, or a body that returned an
   inner group's COIO_EGROUP; its `group` lists the inner failures (read it
   with the same two calls). error_get returns 0, or -1 with errno EINVAL
   (i >= count, NULL). */
typedef struct {
    coio_task *task;     /* the failed child (borrowed; NULL for the body) */
    int code;
    const char *message; /* the child's coio_fail_msg message, or NULL */
    const coio_taskgroup *group; /* code COIO_EGROUP: the nested group's failures
                                    (borrowed, valid as long as this entry), else NULL */
} coio_group_failure;
COIO_API size_t coio_taskgroup_error_count(const coio_taskgroup *tg);
COIO_API int coio_taskgroup_error_get(const coio_taskgroup *tg, size_t i, coio_group_failure *out);

/* Free what the group still holds after exit (the error list and the failed
   children it references). Call it after exit once the errors have been
   read (needed after COIO_EGROUP, harmless otherwise), before reusing the
   storage. Entries and their task handles are invalid afterwards. */
COIO_API void coio_taskgroup_dispose(coio_taskgroup *tg);

/* A task that failed with COIO_EGROUP (by coio_fail(COIO_EGROUP) after a
   failing coio_taskgroup_exit) carries the failures of the last group whose
   exit failed in it: this returns them as a group for error_count/get (a
   copy, valid while t is referenced), or NULL (t not failed with COIO_EGROUP,
   or no memory was left for the copy). */
COIO_API const coio_taskgroup *coio_task_group_error(const coio_task *t);

/* ======================================================================== */
/* Synchronization primitives                                               */
/* ======================================================================== */
/* All waits are FIFO-fair, happen in tasks, never allocate (waiters live on
   the waiting task's stack), and a cancelled waiter never loses an item, a
   permit or a wake-up. Storage belongs to the caller; a primitive must not be
   destroyed while tasks wait on it. */

typedef struct { void *opaque_[4]; } coio_lock;
typedef struct { void *opaque_[4]; } coio_event;
typedef struct { void *opaque_[8]; } coio_condition;
typedef struct { void *opaque_[5]; } coio_semaphore;
typedef struct { void *opaque_[8]; } coio_barrier;

/* Lock: acquire returns 0 (ECANCELED, EINVAL outside a task or for NULL);
   release of an unlocked lock is EPERM (any task may release: there is no
   owner), of NULL EINVAL. An uncontended acquire does not suspend, so it is
   no cancellation point. init and the queries ignore NULL. */
COIO_API void coio_lock_init(coio_lock *l);
COIO_API int coio_lock_acquire(coio_lock *l);
COIO_API int coio_lock_release(coio_lock *l);
COIO_API int coio_lock_locked(const coio_lock *l);

/* Event: wait returns 0 at once if set, else when set (ECANCELED, EINVAL). */
COIO_API void coio_event_init(coio_event *e);
COIO_API int coio_event_wait(coio_event *e);
COIO_API void coio_event_set(coio_event *e);
COIO_API void coio_event_clear(coio_event *e);
COIO_API int coio_event_is_set(const coio_event *e);

/* Condition over a lock (lock NULL: an internal one, see coio_condition_lock).
   wait/notify without the lock held are EPERM. wait releases the lock, waits
   for a notify and re-acquires it before returning — also when cancelled
   (then -1/ECANCELED with the lock held). wait_for repeats until pred(arg) is
   non-zero and returns 0. notify wakes up to n waiters in FIFO order. EINVAL:
   c or pred NULL, waiting outside a task. */
COIO_API void coio_condition_init(coio_condition *c, coio_lock *lock);
COIO_API coio_lock *coio_condition_lock(coio_condition *c);
COIO_API int coio_condition_acquire(coio_condition *c);
COIO_API int coio_condition_release(coio_condition *c);
COIO_API int coio_condition_wait(coio_condition *c);
COIO_API int coio_condition_wait_for(coio_condition *c, int (*pred)(void *), void *arg);
COIO_API int coio_condition_notify(coio_condition *c, size_t n);
COIO_API int coio_condition_notify_all(coio_condition *c);

/* Semaphore with an initial value; a bounded one refuses to be released
   above it (EOVERFLOW; a plain one above INT_MAX). init with value < 0
   returns -1/EINVAL. acquire: 0, ECANCELED, EINVAL (outside a task, NULL);
   release: 0, EOVERFLOW, EINVAL (NULL).
   locked() is 1 when acquire would wait. */
COIO_API int coio_semaphore_init(coio_semaphore *s, int value);
COIO_API int coio_bounded_semaphore_init(coio_semaphore *s, int value);
COIO_API int coio_semaphore_acquire(coio_semaphore *s);
COIO_API int coio_semaphore_release(coio_semaphore *s);
COIO_API int coio_semaphore_locked(const coio_semaphore *s);
COIO_API int coio_semaphore_value(const coio_semaphore *s);

/* Barrier of parties (>= 1, else EINVAL): wait blocks until parties tasks
   arrived and returns the arrival index 0..parties-1; EPIPE if the barrier is
   or becomes broken (abort, or reset while waiting); ECANCELED; EINVAL
   outside a task. reset and abort return 0 (EINVAL for NULL). */
COIO_API int coio_barrier_init(coio_barrier *b, int parties);
COIO_API int coio_barrier_wait(coio_barrier *b);
COIO_API int coio_barrier_reset(coio_barrier *b);
COIO_API int coio_barrier_abort(coio_barrier *b);
COIO_API int coio_barrier_broken(const coio_barrier *b);
COIO_API int coio_barrier_n_waiting(const coio_barrier *b);
COIO_API int coio_barrier_parties(const coio_barrier *b);

/* ======================================================================== */
/* Queues                                                                   */
/* ======================================================================== */
/* Items are void *; a successful get passes ownership to the getter, a
   cancelled get leaves the item queued and a cancelled put leaves it with the
   caller. maxsize <= 0: unbounded. The queue owns its item array. */
typedef struct coio_queue coio_queue;

COIO_API coio_queue *coio_queue_new(long maxsize);                 /* FIFO */
COIO_API coio_queue *coio_lifo_queue_new(long maxsize);            /* newest first */
/* Smallest first by cmp (a < b: negative); equal items come out FIFO. */
COIO_API coio_queue *coio_priority_queue_new(long maxsize, int (*cmp)(const void *, const void *));
/* The constructors return NULL with errno ENOMEM (or EINVAL: cmp NULL).
   Free the queue (not the items): EBUSY if tasks wait on it (get, put or
   join), EINVAL for NULL. */
COIO_API int coio_queue_free(coio_queue *q);

/* put/get suspend while full/empty: 0, or -1 with ECANCELED, ESHUTDOWN (shut
   down; get only once empty), EINVAL, ENOMEM (unbounded growth). The _nowait
   forms return -1/EAGAIN instead of waiting. */
COIO_API int coio_queue_put(coio_queue *q, void *item);
COIO_API int coio_queue_get(coio_queue *q, void **item);
COIO_API int coio_queue_put_nowait(coio_queue *q, void *item);
COIO_API int coio_queue_get_nowait(coio_queue *q, void **item);
/* One finished item: 0, or EOVERFLOW if called more often than items were
   put, EINVAL for NULL. */
COIO_API int coio_queue_task_done(coio_queue *q);
/* Wait until every item put has been marked done: 0 (at once if none is
   pending), ECANCELED, EINVAL (outside a task). */
COIO_API int coio_queue_join(coio_queue *q);
COIO_API size_t coio_queue_qsize(const coio_queue *q);
COIO_API int coio_queue_empty(const coio_queue *q);
COIO_API int coio_queue_full(const coio_queue *q);
COIO_API long coio_queue_maxsize(const coio_queue *q);
/* Shut down: puts fail with ESHUTDOWN at once; gets drain what is left and
   then fail; immediate also discards the items (counting them done) so gets
   fail at once. Returns 0 (EINVAL for NULL). */
COIO_API int coio_queue_shutdown(coio_queue *q, int immediate);

/* ======================================================================== */
/* Threads and signals                                                      */
/* ======================================================================== */
/* Only the calls in this section may be made from a thread other than the
   loop's own: coio_call_soon_threadsafe from any thread, the executor and
   signal calls as each one documents. */

/* Schedule cb(arg) on loop from any thread (the loop's own thread and other
   loops' threads included). A loop blocked in its poll wakes up at once
   (eventfd on Linux, EVFILT_USER on kqueue). The callback runs in the loop
   thread as an ordinary callback, on the loop's next iteration; calls are
   never lost, and calls made by one thread run in the order made. Calls not
   yet run when the loop closes are dropped without running. The caller must
   keep loop from being freed meanwhile: after coio_loop_close, the call is
   safe only while a task handle still refers to the loop (then EINVAL).
   Returns 0, or -1 with errno EINVAL (loop or cb NULL, loop closed) or
   ENOMEM. Not async-signal-safe (it may allocate). */
COIO_API int coio_call_soon_threadsafe(coio_loop *loop, void (*cb)(void *), void *arg);

/* A pool of threads for blocking work (asyncio's ThreadPoolExecutor). Threads
   start on demand, one per submitted call while none is idle, up to the
   size; they run with the asynchronous signals blocked (fault signals stay
   open). One pool may serve several loops. */
typedef struct coio_executor coio_executor;

/* The size of the default pool: min(32, online CPUs + 4), as Python's. */
#define COIO_EXECUTOR_DEFAULT_MAX 32

/* A pool of at most nthreads threads; no thread starts before the first call.
   Returns NULL with errno EINVAL (nthreads 0) or ENOMEM. */
COIO_API coio_executor *coio_executor_new(size_t nthreads);

/* Shut the pool down: calls already submitted (queued or running) still run
   to completion, new ones fail with ESHUTDOWN; then join every thread and
   free the pool (memory still used by pending calls goes with the last of
   them). Blocks the calling thread meanwhile: awaiting tasks of the calling
   loop get their results once it runs again. Returns 0, or -1 with errno
   EINVAL (NULL) or EDEADLK (called from one of the pool's own threads). */
COIO_API int coio_executor_free(coio_executor *ex);

/* Options for coio_run_in_executor_opts. Zero means default. */
typedef struct {
    /* When the awaiting task is cancelled while fn runs, the call still waits
       for fn to return and then fails with ECANCELED: fn's result is passed to
       result_dtor (if set) instead of being dropped. If the loop closes while
       fn runs, result_dtor may run on the pool thread. */
    void (*result_dtor)(void *);
} coio_executor_opts;

/* asyncio's loop.run_in_executor + await: run fn(arg) on a thread of ex
   (NULL: the current loop's default pool, created on first use with
   min(COIO_EXECUTOR_DEFAULT_MAX, CPUs + 4) threads and joined by
   coio_loop_close/coio_run, so no thread outlives coio_run) and suspend the
   calling task until it returns; *result (if not NULL) gets its return value.
   fn must not call loop functions other than coio_call_soon_threadsafe.
   Cancellation (X2): a task cancelled before fn started returns -1/ECANCELED
   and fn never runs (arg stays the caller's); once fn runs it is never
   interrupted: the task waits for it to return and then returns
   -1/ECANCELED (see coio_executor_opts.result_dtor). Closing the loop waits
   for fn too. Returns 0, or -1 with errno ECANCELED, EINVAL (not in a task,
   fn NULL), ESHUTDOWN (ex is being freed), ENOMEM, EAGAIN (no thread could
   be started and the pool has none). */
COIO_API int coio_run_in_executor(coio_executor *ex, void *(*fn)(void *), void *arg, void **result);
COIO_API int coio_run_in_executor_opts(coio_executor *ex, const coio_executor_opts *opts,
                                       void *(*fn)(void *), void *arg, void **result);

/* asyncio.to_thread: coio_run_in_executor(NULL, fn, arg, result). */
COIO_API int coio_to_thread(void *(*fn)(void *), void *arg, void **result);

/* asyncio's loop.add_signal_handler on the current loop (the running one, or
   the one set current): every delivery of sig runs cb(sig, arg) later as an
   ordinary loop callback, in the loop thread and never in signal context (the
   signal handler only records it and wakes the loop), so cb may call any coio
   function. Deliveries that arrive before the callback runs may be merged, as
   the kernel merges standard signals. A signal belongs to one loop at a time;
   adding it again on the same loop replaces cb and arg. The handler is
   installed with SA_RESTART; the disposition found on the first add comes
   back on coio_remove_signal_handler or coio_loop_close. May be called from
   any thread. Returns 0, or -1 with errno EINVAL (no current loop or it is
   closed, cb NULL, sig out of range, SIGKILL or SIGSTOP, or a fault signal
   — SIGSEGV, SIGBUS, SIGFPE, SIGILL — that cannot wait for the loop), EBUSY
   (another loop handles sig), or sigaction's error (EINVAL for signals the C
   library reserves). */
COIO_API int coio_add_signal_handler(int sig, void (*cb)(int sig, void *arg), void *arg);

/* Remove the current loop's handler for sig and restore the disposition from
   before it was added. Deliveries not yet dispatched are dropped. Returns 1
   if a handler was removed, 0 if the current loop had none for sig (coio_run's
   own SIGINT handling does not count), or -1 with errno EINVAL (no current
   loop, sig out of range). */
COIO_API int coio_remove_signal_handler(int sig);

/* ======================================================================== */
/* Streams and subprocesses                                                 */
/* ======================================================================== */
/* asyncio's StreamReader/StreamWriter, open_connection/start_server (TCP over
   IPv4 and IPv6, and Unix sockets) and create_subprocess_exec. Every call that
   may wait runs inside a task (else EINVAL) and is a cancellation point; a
   cancelled call loses nothing: bytes not yet returned stay in the reader, bytes
   accepted by a write are still sent.

   Memory: every read fills a buffer the caller passes; only
   coio_reader_read_all, whose size is not known in advance, returns malloc'd
   memory (NUL-terminated; the caller frees it). Writes copy what they are given.
   A connection is a reader and a writer over one fd, each handle owned by the
   caller and given back with its _release (the fd is closed when the writer
   is closed or released and once the last handle is gone). */

typedef struct coio_reader coio_reader;
typedef struct coio_writer coio_writer;
typedef struct coio_server coio_server;
typedef struct coio_tls_context coio_tls_context; /* TLS section below */

/* A byte string: separators for readuntil, pieces for writelines. */
typedef struct {
    const void *data;
    size_t len;
} coio_bytes;

/* The reader's line limit unless set otherwise (asyncio's 64 KiB). */
#define COIO_STREAM_LIMIT (64u * 1024u)

/* Details of a failed read (C-port decision 26); every field not named for the
   errno at hand is 0.
     ENODATA  (asyncio's IncompleteReadError) partial_len bytes were copied to the
              caller's buffer: what the reader held at EOF; expected is n for
              readexactly and 0 ("None") for readuntil;
     EMSGSIZE (LimitOverrunError) consumed is asyncio's count: where the separator
              starts, or how far the search went without finding it;
     ENOBUFS  the result does not fit the caller's buffer: nothing was consumed,
              needed bytes would.
   The calls that take an info set it on every -1: on the common errors every
   field is 0, also when the reader's stored error (set_error) is itself
   ENODATA or EMSGSIZE; then nothing was consumed (coio_reader_error tells the
   two apart). */
typedef struct {
    size_t partial_len;
    size_t expected;
    size_t consumed;
    size_t needed;
} coio_read_info;

/* Options of open_connection/start_server/coio_open_fd. Zero means default. */
typedef struct {
    size_t limit;       /* the reader's line limit: 0 gives COIO_STREAM_LIMIT */
    int family;         /* AF_UNSPEC (0), AF_INET or AF_INET6: what names resolve to */
    int nodelay;        /* TCP_NODELAY: on unless < 0 */
    int backlog;        /* server: listen(2) backlog; 0 gives 100 */
    int reuse_address;  /* server: SO_REUSEADDR, on unless < 0 */
    int reuse_port;     /* server: SO_REUSEPORT when > 0 (one loop per core on one port) */
    size_t stack_size;  /* server: the client tasks' stack; 0 gives COIO_STACK_DEFAULT */
    /* TLS (section "TLS" below); all ignored while tls is NULL. */
    coio_tls_context *tls;       /* TLS over the connection(s): ssl= */
    const char *server_hostname; /* client: SNI and the name to verify; NULL: the host
                                    argument; "": no SNI, no host-name check */
    double tls_handshake_timeout; /* seconds, 0: 60 (ssl_handshake_timeout) */
    double tls_shutdown_timeout;  /* seconds the close_notify exchange may take at
                                     close, 0: 30, < 0: no wait (ssl_shutdown_timeout) */
} coio_stream_opts;

/* -- Reader (asyncio.StreamReader) -----------------------------------------
   One task reads at a time: a read call while another task is inside one gives
   EBUSY (asyncio: RuntimeError). A cancelled read returns ECANCELED and leaves
   the reader usable with nothing lost. After an error is set (set_error, or the
   connection was reset) every read returns it (ST5). A reader pulls from its fd
   only when a call needs more than it holds, so it never holds much more than
   max(limit, n) bytes and a slow consumer leaves data in the kernel (ST7).
   Common errors of the read calls: EINVAL (NULL, not in a task), EBUSY,
   ECANCELED, ETIMEDOUT (coio_reader_set_timeout), ENOMEM, the reader's error
   (ECONNRESET, ETIMEDOUT, ... or what set_error gave). */

/* A reader without fd, fed by hand (tests, protocol code): limit must be > 0
   (else EINVAL, ST1). NULL with errno EINVAL or ENOMEM. */
COIO_API coio_reader *coio_reader_new(long limit);
/* Append bytes / mark EOF: wake the waiting reader. feed_data after EOF is
   EPIPE, and ENOMEM when the bytes cannot be held (nothing is appended);
   both are EINVAL for NULL or a reader with an fd. */
COIO_API int coio_reader_feed_data(coio_reader *r, const void *data, size_t n);
COIO_API int coio_reader_feed_eof(coio_reader *r);
/* Make every pending and later read fail with err (> 0), and drain() of the
   same connection too. 0, or -1/EINVAL. */
COIO_API int coio_reader_set_error(coio_reader *r, int err);
/* The error set (0 if none). */
COIO_API int coio_reader_error(const coio_reader *r);
/* 1 once EOF was seen and every byte was read (ST5), else 0. */
COIO_API int coio_reader_at_eof(const coio_reader *r);
/* Bytes held and not yet returned; the line limit. */
COIO_API size_t coio_reader_buffered(const coio_reader *r);
COIO_API size_t coio_reader_limit(const coio_reader *r);

/* read(n): waits until at least one byte is there, returns up to n; 0 at EOF
   (and for n == 0, at once) (ST1). -1 with the common errors. */
COIO_API ssize_t coio_reader_read(coio_reader *r, void *buf, size_t n);
/* read(-1): everything up to EOF in *data (malloc'd, NUL-terminated, *len
   bytes without the NUL; len may be NULL). 0, or -1 with the common errors
   (the bytes read so far then stay in the reader). */
COIO_API int coio_reader_read_all(coio_reader *r, void **data, size_t *len);
/* readexactly(n): returns n (0 for n == 0), or -1 with errno ENODATA if EOF
   came first: the partial bytes are in buf, info->partial_len of them, and
   info->expected == n; the reader is then empty (ST4). n may exceed the limit.
   info may be NULL. Common errors too. */
COIO_API ssize_t coio_reader_readexactly(coio_reader *r, void *buf, size_t n, coio_read_info *info);
/* readuntil(sep): returns the length of the data up to and including sep,
   copied to buf (cap bytes). Errors: ENODATA at EOF without sep (all the held
   bytes are copied, info->partial_len; the reader is empty), EMSGSIZE when the
   separator is not within the limit (info->consumed; the data stays in the
   reader) (ST3), ENOBUFS when the result is longer than cap (nothing consumed,
   info->needed); EINVAL for an empty separator; common errors. A buffer of
   limit + seplen bytes always suffices. */
COIO_API ssize_t coio_reader_readuntil(coio_reader *r, void *buf, size_t cap, const void *sep,
                                       size_t seplen, coio_read_info *info);
/* readuntil with several separators: the one whose end comes first wins. */
COIO_API ssize_t coio_reader_readuntil_any(coio_reader *r, void *buf, size_t cap,
                                           const coio_bytes *seps, size_t nseps,
                                           coio_read_info *info);
/* readline(): a line with its '\n'; at EOF the tail without newline, then 0.
   EMSGSIZE for a line over the limit, which is dropped through its newline if
   that was seen, else with everything held (ST2); ENOBUFS when the line does
   not fit cap (nothing consumed: retry with a larger buffer; limit + 1 bytes
   always suffice); common errors (a stored error is returned as is, even
   ENODATA or EMSGSIZE, and drops nothing). */
COIO_API ssize_t coio_reader_readline(coio_reader *r, void *buf, size_t cap);
/* Give the handle back (see the section head). NULL is ignored. */
COIO_API void coio_reader_release(coio_reader *r);
/* Per-operation read timeout (Go's read deadline, libdill's deadlines, in one
   line): from now on each read call above (read, read_all, readexactly,
   readuntil, readuntil_any, readline) that has not returned within `seconds`
   of its start fails with ETIMEDOUT. Nothing is consumed by a call that times
   out: bytes it had gathered stay in the reader, and the reader stays usable
   (ETIMEDOUT is not sticky, unlike a connection error). 0 or infinity removes
   the bound (the default). The scope form bounds several calls at once and
   works on every waiting call:
       coio_timeout to; coio_timeout_enter(&to, 5);
       rc = coio_timeout_exit(&to, coio_reader_readline(r, buf, sizeof buf));
   0, or -1 with EINVAL (r NULL, seconds negative or NaN). get: the bound (0
   for none or NULL). */
COIO_API int coio_reader_set_timeout(coio_reader *r, double seconds);
COIO_API double coio_reader_get_timeout(const coio_reader *r);

/* -- Writer (asyncio.StreamWriter) -----------------------------------------
   write sends at once what the kernel takes and keeps a copy of the rest,
   which a background task sends as the fd becomes writable. drain() is the
   backpressure point. A vanished peer gives EPIPE or ECONNRESET (the kernel's
   word for it), never SIGPIPE (ST9). */

/* Queue n bytes (copied; never waits). 0, or -1 with errno: ECONNRESET (after
   close), EPIPE (after write_eof, or the peer is gone), the connection's error,
   ENOMEM, EINVAL. */
COIO_API int coio_writer_write(coio_writer *w, const void *data, size_t n);
COIO_API int coio_writer_writelines(coio_writer *w, const coio_bytes *v, size_t n);
/* Wait while more than the high-water mark (64 KiB) is unsent, until it is at
   the low mark (16 KiB); every drainer is released at once (ST8). Returns 0 at
   once below the high mark. -1 with errno: the reader's error, the
   connection's error (EPIPE, ECONNRESET, ...), ECONNRESET after close (ST9),
   ECANCELED, ETIMEDOUT (coio_writer_set_timeout), EINVAL (NULL, not in a
   task), ENOMEM. */
COIO_API int coio_writer_drain(coio_writer *w);
/* Set the marks (high 0 and low 0: defaults; low 0: high / 4). EINVAL if
   low > high or w NULL. */
COIO_API int coio_writer_set_write_buffer_limits(coio_writer *w, size_t high, size_t low);
/* Bytes accepted but not yet sent. */
COIO_API size_t coio_writer_buffer_size(const coio_writer *w);
/* Half-close once the buffer is sent: shutdown(SHUT_WR) on a socket, close on a
   pipe; later writes are EPIPE. can_write_eof is 1 for every writer. 0, or -1
   with errno ECONNRESET (closed), EINVAL. */
COIO_API int coio_writer_write_eof(coio_writer *w);
COIO_API int coio_writer_can_write_eof(const coio_writer *w);
/* Close: buffered bytes are still sent, then the fd is closed (TLS: after the
   close_notify exchange, section TLS); the reader of the connection sees EOF
   after what it holds. Idempotent; -1/EINVAL for NULL. */
COIO_API int coio_writer_close(coio_writer *w);
COIO_API int coio_writer_is_closing(const coio_writer *w);
/* Wait until the fd is closed (after close, or once the peer is gone and the
   writer closed). 0, or -1 with ECANCELED, ETIMEDOUT (set_timeout), EINVAL. */
COIO_API int coio_writer_wait_closed(coio_writer *w);
/* getpeername/getsockname of the connection: 0, or -1 with their errno,
   EBADF once closed, EINVAL. */
COIO_API int coio_writer_peername(coio_writer *w, struct sockaddr *sa, socklen_t *len);
COIO_API int coio_writer_sockname(coio_writer *w, struct sockaddr *sa, socklen_t *len);
/* The fd (for setsockopt and the like), -1 once closed. */
COIO_API int coio_writer_fd(const coio_writer *w);
/* Close (as coio_writer_close: the bytes still go out) and give the handle back. */
COIO_API void coio_writer_release(coio_writer *w);
/* asyncio's loop.sendfile(transport, file, offset, count) (SF1-SF4): wait until
   the bytes the writer holds are sent, then send count bytes (0: to the end of
   the file) of file fd from offset, as coio_sendfile does on the writer's fd.
   Writes made meanwhile by other tasks queue and go out after the file.
   Returns the bytes sent (fewer than count if the file is shorter), or -1 with
   errno: coio_sendfile's errors, EBUSY (another sendfile runs on w), ECONNRESET
   (closed, or closed meanwhile), EPIPE/ECONNRESET (peer gone: the writer's
   error from now on), the writer's error, ETIMEDOUT (coio_writer_set_timeout).
   Either way fd's position is left at offset + bytes sent (SF2). Over TLS the
   file goes through the writer in 64 KiB pieces (SF3), or -1/EOPNOTSUPP with
   COIO_SENDFILE_NO_FALLBACK. */
COIO_API ssize_t coio_writer_sendfile(coio_writer *w, int fd, off_t offset, size_t count, int flags);
/* Per-operation timeout of the writer's waiting calls (drain, wait_closed,
   coio_writer_sendfile), as coio_reader_set_timeout: a call not done within
   `seconds` of its start fails with ETIMEDOUT; queued bytes stay queued and
   the writer stays usable. write never waits and is not affected. 0 or
   infinity: none (the default). 0, or -1 with EINVAL (w NULL, seconds
   negative or NaN). */
COIO_API int coio_writer_set_timeout(coio_writer *w, double seconds);
COIO_API double coio_writer_get_timeout(const coio_writer *w);

/* -- sendfile ------------------------------------------------------------------ */

/* coio_sendfile's flag: fail with EOPNOTSUPP where sendfile(2) cannot be used,
   instead of copying through a buffer (asyncio's fallback=False). */
#define COIO_SENDFILE_NO_FALLBACK 1

/* asyncio's loop.sock_sendfile (SF1-SF4): send count bytes (0: to EOF) of
   in_fd from offset to out_fd (a socket or pipe, made nonblocking; the task
   waits while it is full). sendfile(2) is used where the kernel can (Linux, a
   regular file as in_fd); elsewhere (other systems, pipes and sockets as
   in_fd, or sendfile(2) refused: EINVAL/ENOSYS) the bytes are copied with
   read + write through a 64 KiB buffer, unless flags has
   COIO_SENDFILE_NO_FALLBACK: then -1/EOPNOTSUPP and nothing is sent (SF3).
   Returns the bytes sent (less than count if the file ends first). SF2: on
   success and on every error, cancellation and timeout included, a seekable
   in_fd's position is left at offset + the bytes sent, so lseek(in_fd, 0,
   SEEK_CUR) - offset says how far it got. -1 with errno: EINVAL (offset < 0,
   unknown flags, not in a task), EBADF (an fd not open), EOPNOTSUPP (see
   above), ECANCELED, ENOMEM, or the write error (EPIPE, ECONNRESET, ...) or
   the read error (EIO, ...). SIGPIPE is never raised. */
COIO_API ssize_t coio_sendfile(int out_fd, int in_fd, off_t offset, size_t count, int flags);

/* -- Connections -------------------------------------------------------------- */

/* Stream over an fd you own (socket, pipe, pty; ownership passes on success):
   r and/or w may be NULL for a one-way stream. The fd is made nonblocking and
   close-on-exec. 0, or -1 with errno EBADF (fd not open), EINVAL (fd < 0, r
   and w both NULL, opts->limit above SSIZE_MAX), ENOMEM. */
COIO_API int coio_open_fd(int fd, const coio_stream_opts *opts, coio_reader **r, coio_writer **w);

/* getaddrinfo(3) on the thread pool (coio_to_thread), so the loop never blocks
   on the name service. Returns what getaddrinfo returns (0 or an EAI_ code;
   free *res with freeaddrinfo); EAI_SYSTEM with errno for coio's own errors:
   ECANCELED (nothing leaks), EINVAL (not in a task, res NULL, node and service
   NULL), ENOMEM, EAGAIN. */
struct addrinfo;
COIO_API int coio_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                              struct addrinfo **res);

/* asyncio.open_connection: resolve host (numeric addresses skip the thread
   pool), connect to each address in turn until one accepts, and return its
   reader and writer. TCP_NODELAY is set unless opts->nodelay < 0; opts may be
   NULL. A connect timeout is a coio_timeout scope around the call. 0, or -1
   with errno: the last address's connect error (ECONNREFUSED, ENETUNREACH,
   ...), ENOENT (no such host), EAGAIN (name service failed for now), EINVAL
   (port outside 0..65535, NULL, not in a task), ECANCELED, ENOMEM, EMFILE. */
COIO_API int coio_open_connection(const char *host, int port, const coio_stream_opts *opts,
                                  coio_reader **r, coio_writer **w);
/* The same over a Unix socket path; ENAMETOOLONG for a path that does not
   fit sun_path, ENOENT/ECONNREFUSED from connect. */
COIO_API int coio_open_unix_connection(const char *path, const coio_stream_opts *opts,
                                       coio_reader **r, coio_writer **w);

/* -- Servers (asyncio.start_server) ----------------------------------------- */

/* The per-connection callback runs as its own task (named after the peer,
   "client 127.0.0.1:53412", "client [::1]:53412" or "client unix"; with
   opts->stack_size bytes of stack: mind big line buffers). It borrows r and
   w: when it returns, the connection is closed (bytes written are still
   sent). Returning -1 with errno, or ending the task with coio_fail, prints
   "coio: unhandled error in client_connected_cb: ..." on stderr and closes
   the connection (ST10); a cancel (-1/ECANCELED, or a cancelled task) closes
   quietly. */
typedef int (*coio_client_cb)(coio_reader *r, coio_writer *w, void *arg);

/* Listen on host:port (host NULL: every interface, IPv4 and IPv6, one socket
   each, v6 sockets IPV6_V6ONLY; port 0: a free port per socket) and start
   accepting at once. SO_REUSEADDR is on and TCP_NODELAY set on every client
   unless opts say otherwise. Accept survives EMFILE/ENFILE/ENOBUFS/ENOMEM by
   pausing (10 ms doubling to 1 s; the pending client waits in the backlog) and
   skips clients that vanished (ECONNABORTED, ECONNRESET, EPROTO). Returns the
   server (the caller owns it: coio_server_release), or NULL with errno:
   socket/bind/listen's errors (EADDRINUSE, EACCES, EMFILE, ...), the resolve
   errors of coio_open_connection, EINVAL (cb NULL, not in a task). */
COIO_API coio_server *coio_start_server(coio_client_cb cb, void *arg, const char *host, int port,
                                        const coio_stream_opts *opts);
/* The same on a Unix socket path: a stale socket file there is replaced, and
   close removes the file if it is still ours. ENAMETOOLONG as above. */
COIO_API coio_server *coio_start_unix_server(coio_client_cb cb, void *arg, const char *path,
                                             const coio_stream_opts *opts);
/* Stop listening (connections already accepted go on). Idempotent; EINVAL for
   NULL. Usable from any task or callback of the loop. */
COIO_API int coio_server_close(coio_server *s);
/* 1 until closed. */
COIO_API int coio_server_is_serving(const coio_server *s);
/* Wait until the server is closed and every connection it accepted is gone
   (SV2): every client callback has returned and every connection's fd is
   closed, which can be later than the callback's return: the bytes its writer
   still held are sent first, and over TLS the close_notify exchange runs (at
   most tls_shutdown_timeout). coio_server_abort_clients ends all of that at
   once. 0, or -1 with ECANCELED, EINVAL. */
COIO_API int coio_server_wait_closed(coio_server *s);
/* Serve until cancelled or until coio_server_close (return 0; asyncio raises
   CancelledError here). ESHUTDOWN if already closed, EINVAL. Cancelling it
   (SV5) does what asyncio's does: close the server (stop listening; the
   clients go on), then wait as coio_server_wait_closed for every client
   callback to return, then return -1/ECANCELED. A second cancel ends that wait
   early (ECANCELED too; the clients still run). So that a shutdown does not
   wait for idle clients, call coio_server_close_clients (or abort_clients)
   first, as examples/http_server.c does on SIGINT/SIGTERM. */
COIO_API int coio_server_serve_forever(coio_server *s);
/* asyncio 3.13's Server.close_clients (SV3): close every client connection of
   s that is open now, gracefully: each writer is closed as coio_writer_close
   does (the bytes it holds are sent first, then the fd closes). The client
   callbacks see EOF at their next (or current) read, and ECONNRESET from
   write/drain (a closed writer). Never waits; the callbacks still have to
   return (coio_server_wait_closed waits for that). 0, or -1/EINVAL for NULL. */
COIO_API int coio_server_close_clients(coio_server *s);
/* asyncio 3.13's Server.abort_clients (SV4): the same, at once: what the
   writers hold unsent is dropped and every fd closed now, also the fds of
   connections whose callback has returned but which were still sending or
   saying goodbye (TLS). 0, or -1/EINVAL. */
COIO_API int coio_server_abort_clients(coio_server *s);
/* Client callbacks of s that have not returned yet (0 for NULL). */
COIO_API size_t coio_server_nclients(const coio_server *s);
/* The listening sockets: how many, and getsockname of socket i (0, or -1 with
   EINVAL for a bad index, EBADF once closed). port: the first socket's TCP
   port, or -1 (EAFNOSUPPORT for a Unix server). */
COIO_API size_t coio_server_nsockets(const coio_server *s);
COIO_API int coio_server_sockname(const coio_server *s, size_t i, struct sockaddr *sa, socklen_t *len);
COIO_API int coio_server_port(const coio_server *s);
/* Close it and give the handle back; the memory goes once the clients are done. */
COIO_API void coio_server_release(coio_server *s);

/* -- TLS (asyncio's ssl=, server_hostname=, start_tls) ---------------------
   Over OpenSSL 3, built when the Makefile finds it with pkg-config (make TLS=0
   leaves it out: then every function here fails with ENOTSUP, or returns NULL
   with errno ENOTSUP). A TLS stream is used exactly as a plain one (every reader
   and writer call works), with these differences:
     - the handshake runs inside coio_open_connection / coio_writer_start_tls, and
       for a server before client_connected_cb is called (a client whose
       handshake fails is closed quietly and the callback never runs);
     - the peer's close_notify is EOF; a peer that closes the connection without
       it ends the stream with ECONNRESET (TLS3): every byte received is still
       delivered (a partial readexactly/readuntil is ENODATA as at EOF), and the
       call that would have seen the bare EOF fails with ECONNRESET;
     - no half-close (TLS4): coio_writer_can_write_eof is 0, write_eof fails
       with ENOTSUP;
     - close (writer close/release, the server's handler returning) sends
       close_notify and waits for the peer's before the fd closes, at most
       opts->tls_shutdown_timeout (asyncio's SSL shutdown); this runs in a task
       of its own, so close returns at once and coio_writer_wait_closed returns
       when the fd is closed. No wait when the peer's close_notify came first or
       the peer closed or reset the connection; coio_server_abort_clients and
       tls_shutdown_timeout < 0 skip the wait (ours is sent if the socket has
       room); the loop ending cuts it short;
     - coio_writer_fd gives the socket, which must not be read or written.
   The errors TLS adds to the calls that connect, accept or upgrade:
     EBADMSG      the peer's certificate failed verification (untrusted,
                  self-signed, expired, wrong host name...);
     ECONNABORTED the handshake failed otherwise (no shared protocol or cipher, an
                  alert, the peer closed or reset the connection mid-handshake);
     ETIMEDOUT    the handshake took longer than opts->tls_handshake_timeout;
     EINVAL       the context lacks the role (a server context given to
                  coio_open_connection, a client one to coio_start_server);
   and to reads and writes after it: EPROTO (a TLS protocol error: bad record,
   unexpected message, an alert from the peer), ECONNRESET (unclean close,
   above); once a read failed so, writes fail with EPROTO, or EPIPE after a lost
   connection. The OpenSSL reason text of the last failure is
   coio_stream_tls_error().
   A server whose context requires client certificates (set_verify REQUIRED
   plus load_verify_locations) refuses a client without one or with one it
   cannot verify: its callback never runs; the client sees, over TLS 1.3, its
   handshake succeed and its first read fail with EPROTO (the alert, e.g.
   "tlsv13 alert certificate required", "tlsv1 alert unknown ca"), over TLS 1.2
   the handshake fail with ECONNABORTED. coio_writer_tls_peer_subject gives the
   server the client's subject.
   Cancellation: a cancel during the handshake (coio_open_connection,
   coio_writer_start_tls, a server's) fails it with ECANCELED, closes the
   connection and leaks nothing; after a cancelled start_tls the handles are a
   closed stream (writes ECONNRESET, reads EOF). A cancelled or timed-out read
   leaves the stream usable with nothing lost, also mid-record (OpenSSL keeps
   the partial record), as over TCP (ST6) and as in asyncio; releasing the
   handles closes it. */

#define COIO_TLS_CLIENT 1       /* coio_tls_context_new roles (or both) */
#define COIO_TLS_SERVER 2
#define COIO_TLS_VERIFY_NONE 0  /* verify modes: Python's CERT_NONE, */
#define COIO_TLS_VERIFY_OPTIONAL 1 /* CERT_OPTIONAL (server: ask, accept none), */
#define COIO_TLS_VERIFY_REQUIRED 2 /* CERT_REQUIRED */
#define COIO_TLS_1_2 0x0303     /* protocol versions for set_min_version */
#define COIO_TLS_1_3 0x0304

/* A new context for role COIO_TLS_CLIENT, COIO_TLS_SERVER or both (which one
   is used then: the side of the connection; start_tls: a stream accepted by a
   server is the server). Defaults, as ssl.create_default_context(): minimum
   TLS 1.2; a client verifies the peer's chain against the system store and the
   host name (COIO_TLS_VERIFY_REQUIRED, check_hostname on); a server asks for
   no client certificate. The caller owns the reference (release); streams and
   servers take their own. NULL with errno EINVAL (bad role), ENOMEM, ENOTSUP. */
COIO_API coio_tls_context *coio_tls_context_new(int role);
/* Wrap the caller's SSL_CTX * (for anything the calls below do not cover); a
   reference to it is taken (SSL_CTX_up_ref). Its verify mode is read as is; a
   client context that verifies also checks host names. NULL with EINVAL
   (NULL, bad role), ENOMEM, ENOTSUP. */
COIO_API coio_tls_context *coio_tls_context_from_ssl_ctx(void *ssl_ctx, int role);
/* The SSL_CTX * inside (borrowed), NULL for NULL. */
COIO_API void *coio_tls_context_ssl_ctx(coio_tls_context *ctx);
/* Another reference (returns ctx); release drops one, the last frees it.
   Both are thread-safe. */
COIO_API coio_tls_context *coio_tls_context_ref(coio_tls_context *ctx);
COIO_API void coio_tls_context_release(coio_tls_context *ctx);
/* The certificate chain (PEM, leaf first) and its private key (PEM; NULL: in
   certfile). 0, or -1 with errno: the file's open error (ENOENT, EACCES),
   EINVAL (NULL, not PEM, the key does not match), ENOTSUP. */
COIO_API int coio_tls_context_load_cert_chain(coio_tls_context *ctx, const char *certfile,
                                             const char *keyfile);
/* Trust the CA certificates in cafile (PEM) and/or capath (a hashed directory);
   both NULL: the system's default store. 0, or -1 with errno as above. */
COIO_API int coio_tls_context_load_verify_locations(coio_tls_context *ctx, const char *cafile,
                                                   const char *capath);
/* Verify mode COIO_TLS_VERIFY_*. EINVAL for another value or NONE while host
   names are checked (as Python). */
COIO_API int coio_tls_context_set_verify(coio_tls_context *ctx, int mode);
/* Check the server's host name (client); on with verify NONE sets REQUIRED.
   -1/EINVAL for NULL. */
COIO_API int coio_tls_context_set_check_hostname(coio_tls_context *ctx, int on);
/* Minimum protocol version COIO_TLS_1_2 or COIO_TLS_1_3; EINVAL else. */
COIO_API int coio_tls_context_set_min_version(coio_tls_context *ctx, int version);
/* ALPN: the protocols offered (client) or accepted in order of preference
   (server: the first of these the client offers); n = 0 clears. EINVAL for a
   NULL, empty or over-255-byte name, ENOMEM. */
COIO_API int coio_tls_context_set_alpn(coio_tls_context *ctx, const char *const *protos, size_t n);

/* STARTTLS (asyncio's StreamWriter.start_tls): wait until what the writer holds
   is sent, then run the TLS handshake over the connection in place, with
   opts->server_hostname and the timeouts of opts (may be NULL; the role: see
   coio_tls_context_new). The reader then reads the decrypted stream. 0, or -1
   with errno: the handshake errors above (the connection is then closed),
   EALREADY (already TLS), EBUSY (a read is in progress, or the reader holds
   unread bytes: they would belong to the handshake), EINVAL (NULL, not in a
   task, no fd, ctx lacks the role), the writer's errors, ECANCELED, ENOTSUP. */
COIO_API int coio_writer_start_tls(coio_writer *w, coio_tls_context *ctx,
                                   const coio_stream_opts *opts);
/* The OpenSSL reason text of w's last TLS failure; w NULL: of the calling
   thread's last TLS failure (after a failed coio_open_connection or
   start_tls). NULL if none. Valid until the next TLS call. */
COIO_API const char *coio_stream_tls_error(const coio_writer *w);
/* The session's facts (asyncio's get_extra_info): "TLSv1.3"...; the cipher
   ("TLS_AES_256_GCM_SHA384"...); the ALPN protocol chosen. NULL when w is NULL,
   not TLS (or closed), or (alpn) none was chosen. */
COIO_API const char *coio_writer_tls_version(const coio_writer *w);
COIO_API const char *coio_writer_tls_cipher(const coio_writer *w);
COIO_API const char *coio_writer_tls_alpn(const coio_writer *w);
/* The peer certificate's subject, RFC 2253 ("CN=localhost,O=coio"), into buf.
   Its length, or -1 with errno EINVAL (not TLS, NULL), ENOENT (the peer sent no
   certificate), ENOBUFS (len too small), ENOTSUP. */
COIO_API int coio_writer_tls_peer_subject(const coio_writer *w, char *buf, size_t len);
/* The SSL * of a TLS stream (ssl_object), borrowed; NULL if not TLS. */
COIO_API void *coio_writer_ssl(const coio_writer *w);

/* -- Datagram endpoints (asyncio.create_datagram_endpoint) -------------------
   Coroutine style, as the streams: a task receives one datagram per
   coio_datagram_recvfrom call into its own buffer, and coio_datagram_sendto
   never blocks the loop (the task waits while the socket buffer is full;
   waiting senders go in the order they called, DG2). One task receives at a
   time (EBUSY). Every call that may wait runs inside a task (else EINVAL) and
   is a cancellation point; a cancelled send sent nothing. */
typedef struct coio_datagram coio_datagram;

typedef struct {
    int family;          /* AF_UNSPEC (0), AF_INET or AF_INET6: what names resolve to */
    int reuse_port;      /* SO_REUSEPORT when > 0 */
    int allow_broadcast; /* SO_BROADCAST when > 0 */
} coio_datagram_opts;

/* A UDP endpoint (DG1): bound to local_host:local_port when local_host is not
   NULL or local_port > 0 (local_host NULL: the wildcard address; port 0: a
   free port), connected to remote_host:remote_port when remote_host is not
   NULL (then only that peer's datagrams arrive, sendto's address must be NULL
   or that peer, and an ICMP port-unreachable comes back as ECONNREFUSED from
   the next call, DG4). asyncio's reuse_address does not exist (refused there
   since 3.8.1). Names resolve as in coio_open_connection. Returns the
   endpoint (coio_datagram_close frees it), or NULL with errno: EINVAL (no
   local and no remote address, a port outside 0..65535, not in a task),
   ENOENT/EAGAIN (name resolution), EAFNOSUPPORT (no local address of the
   remote's family), socket/bind/connect/setsockopt errors (EADDRINUSE,
   EACCES, ...), ENOMEM. */
COIO_API coio_datagram *coio_datagram_open(const char *local_host, int local_port,
                                           const char *remote_host, int remote_port,
                                           const coio_datagram_opts *opts);
/* The same over Unix datagram sockets: bound to local_path (a stale socket
   file there is replaced; close removes it if still ours) and/or connected to
   remote_path. Errors as above, ENAMETOOLONG for a path too long, ENOENT or
   ECONNREFUSED from connect. */
COIO_API coio_datagram *coio_datagram_open_unix(const char *local_path, const char *remote_path,
                                                const coio_datagram_opts *opts);
/* Receive one datagram (DG3): up to cap bytes of it into buf, the sender's
   address into sa (*salen: in, its size; out, the address length; sa may be
   NULL), and *truncated (may be NULL) set to 1 if the datagram was longer
   than cap (the rest is dropped, as recvfrom(2) does), else 0. Returns the
   bytes stored; 0 is an empty datagram (DG5), never an end. -1 with errno:
   ECONNREFUSED (connected endpoint, the peer's port was unreachable; the
   endpoint stays usable, DG4), EBUSY (another task receives), EBADF (closed,
   also while waiting), ECANCELED, EINVAL (d NULL, not in a task, sa without
   salen), recvmsg's errors. */
COIO_API ssize_t coio_datagram_recvfrom(coio_datagram *d, void *buf, size_t cap,
                                        struct sockaddr *sa, socklen_t *salen, int *truncated);
/* Send one datagram of n bytes (0 is valid, DG5) to sa (NULL on a connected
   endpoint), waiting while the socket cannot take it. Returns n, or -1 with
   errno: EISCONN (connected, sa not NULL and not the peer), EDESTADDRREQ (not
   connected, sa NULL), EMSGSIZE (too long for a datagram), ECONNREFUSED (DG4),
   EBADF (closed), ECANCELED, EINVAL, sendto's errors. send: sendto to the
   connected peer. */
COIO_API ssize_t coio_datagram_sendto(coio_datagram *d, const void *buf, size_t n,
                                      const struct sockaddr *sa, socklen_t salen);
COIO_API ssize_t coio_datagram_send(coio_datagram *d, const void *buf, size_t n);
/* The fd (-1 once closed); getsockname (0, or -1 with EINVAL, EBADF); the
   local UDP port (-1/EAFNOSUPPORT for Unix). */
COIO_API int coio_datagram_fd(const coio_datagram *d);
COIO_API int coio_datagram_sockname(const coio_datagram *d, struct sockaddr *sa, socklen_t *len);
COIO_API int coio_datagram_port(const coio_datagram *d);
/* Close the socket and give the handle back: calls waiting on it return EBADF
   (the memory goes once they have). NULL is ignored. */
COIO_API void coio_datagram_close(coio_datagram *d);

/* asyncio's sock_recvfrom_into / sock_sendto (DG6) on a datagram socket fd of
   your own (its blocking mode does not matter: each call is MSG_DONTWAIT, and
   the task waits on EAGAIN). Arguments, results and errors as
   coio_datagram_recvfrom / _sendto, without EBUSY (two tasks waiting on one fd
   in one direction get EEXIST) and with EBADF for an fd not open. */
COIO_API ssize_t coio_sock_recvfrom(int fd, void *buf, size_t cap, struct sockaddr *sa,
                                    socklen_t *salen, int *truncated);
COIO_API ssize_t coio_sock_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa,
                                  socklen_t salen);

/* -- Subprocesses (asyncio.create_subprocess_exec) --------------------------- */

typedef struct coio_process coio_process;

/* What a child's stdin/stdout/stderr is. */
enum {
    COIO_INHERIT = 0,   /* ours (the default) */
    COIO_PIPE,          /* a pipe: a coio_writer for stdin, coio_readers for the outputs */
    COIO_DEVNULL,       /* /dev/null */
    COIO_STDOUT,        /* stderr only: the same as stdout */
    COIO_FD             /* the fd in coio_stdio.fd (duplicated; it stays yours) */
};
typedef struct {
    int mode;           /* COIO_INHERIT ... COIO_FD */
    int fd;             /* COIO_FD only */
} coio_stdio;

/* Zero means default everywhere: every stream inherited, our cwd and environ. */
typedef struct {
    coio_stdio in, out, err;
    const char *cwd;        /* the child's working directory, or NULL */
    char *const *envp;      /* the child's environment, or NULL for ours */
    size_t limit;           /* the output readers' line limit; 0: COIO_STREAM_LIMIT */
} coio_subprocess_opts;

/* Start argv[0] (searched in PATH, as execvp) with argv. The child gets only
   fds 0..2 (every other fd is closed in it, close-on-exec or not), no blocked
   signal and every signal at its default action. Its exit is watched through a
   pidfd (Linux) or EVFILT_PROC (kqueue), else a SIGCHLD handler that only
   reaps our own pids; other children of the process are never touched (but
   SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere, steals the status:
   returncode 255). *p gets the process, owned by the caller. 0, or -1 with
   errno: posix_spawn's (ENOENT, EACCES, ENOEXEC, ...), EBADF (bad COIO_FD fd),
   EINVAL (argv empty, p NULL, a bad mode, COIO_STDOUT for stdin/stdout, not
   in a task), EMFILE, ENOMEM, EBUSY (SIGCHLD fallback: another loop handles
   SIGCHLD). */
COIO_API int coio_subprocess_exec(char *const argv[], const coio_subprocess_opts *opts,
                                  coio_process **p);
/* The pipes (borrowed; NULL unless COIO_PIPE). The process releases them. */
COIO_API coio_writer *coio_process_stdin(coio_process *p);
COIO_API coio_reader *coio_process_stdout(coio_process *p);
COIO_API coio_reader *coio_process_stderr(coio_process *p);
COIO_API pid_t coio_process_pid(const coio_process *p);
/* The exit status once known: 1 and *rc (exit code, or -N when signal N
   ended it, as asyncio's returncode), 0 while it runs, -1/EINVAL for NULL. */
COIO_API int coio_process_returncode(coio_process *p, int *rc);
/* Wait for the exit; *rc (may be NULL) as above. Any number of tasks may wait.
   0, or -1 with ECANCELED, EINVAL. */
COIO_API int coio_process_wait(coio_process *p, int *rc);
/* Feed input to stdin (then close it; a child that stops reading is not an
   error: EPIPE is ignored), read stdout and stderr to EOF, all concurrently,
   then wait for the exit. *out and *err get malloc'd NUL-terminated copies (NULL
   with length 0 when that stream is not a pipe; out/err NULL: discarded), the
   caller frees them. input NULL with inlen 0: stdin is just closed. 0, or -1
   with errno: ECANCELED (the pieces are cancelled; bytes not yet returned stay
   in the readers), EINVAL (input without a stdin pipe, not in a task, NULL),
   ENOMEM, a read error. */
COIO_API int coio_process_communicate(coio_process *p, const void *input, size_t inlen,
                                      void **out, size_t *outlen, void **err, size_t *errlen);
/* kill(2) the child: 0, or -1 with kill's errno (EINVAL for a bad signal).
   Once the child has been reaped they do nothing and return 0 (its pid may be
   reused by then), as Popen.send_signal. terminate is SIGTERM, kill SIGKILL. */
COIO_API int coio_process_send_signal(coio_process *p, int sig);
COIO_API int coio_process_terminate(coio_process *p);
COIO_API int coio_process_kill(coio_process *p);
/* Release the pipes and the process. A child still running is killed
   (SIGKILL) and reaped before this returns, as asyncio's transport close does;
   wait for it first to let it finish. NULL is ignored. */
COIO_API void coio_process_release(coio_process *p);

/* ======================================================================== */
/* Context variables                                                        */
/* ======================================================================== */
/* asyncio's contextvars as tasks use them (PEP 567, CV1-CV6). A context maps
   variables to values. Every task runs in a copy of the context current where
   it was spawned (CV3); call_soon/call_later/call_at callbacks and done-
   callbacks run in a copy of the context current where they were scheduled
   (CV4); coio_to_thread runs its function in a copy of the caller's context,
   coio_run_in_executor's function starts from an empty context of its own
   (what it sets goes with the call), and call_soon_threadsafe callbacks run
   in the loop's (CV5). A set changes the current context only: never the parent's
   or a sibling's. Outside tasks and callbacks each thread has a context of its
   own, which coio_run's main task starts from. Copies are O(1) (a reference to
   an immutable map, CV6); get is a binary search, O(log n) in the variables
   set; set copies the map (O(n)) unless it is not shared. Values are the
   caller's pointers: coio never frees them. */
typedef struct coio_contextvar coio_contextvar;

/* What coio_contextvar_set gives, to undo it with coio_contextvar_reset; the
   caller's storage. Fields are private. */
typedef struct coio_contextvar_token {
    coio_contextvar *var;
    void *old;
    int had_old;
    int used;
    const void *ctx;
} coio_contextvar_token;

/* A variable (CV1) with a name (copied, up to 63 bytes; may be NULL) and the
   value get gives where it is not set. Variables are usually made once and
   kept; coio_contextvar_free frees one (its values in live contexts are then
   never found again). NULL with errno ENOMEM. */
COIO_API coio_contextvar *coio_contextvar_new(const char *name, void *default_value);
COIO_API void coio_contextvar_free(coio_contextvar *v);
COIO_API const char *coio_contextvar_name(const coio_contextvar *v);
/* The value in the current context, else the default (NULL for v NULL). */
COIO_API void *coio_contextvar_get(const coio_contextvar *v);
/* CV1 with LookupError: 1 if v is set in the current context (*value gets
   it), 0 if not (*value gets the default); value may be NULL. -1/EINVAL for
   v NULL. */
COIO_API int coio_contextvar_lookup(const coio_contextvar *v, void **value);
/* Set v in the current context (CV2); tok (may be NULL) records how to undo
   it. 0, or -1 with errno EINVAL (v NULL), ENOMEM (nothing changed). */
COIO_API int coio_contextvar_set(coio_contextvar *v, void *value, coio_contextvar_token *tok);
/* Restore v to what it was before the set that gave tok (unset if it was
   unset). 0, or -1 with errno: EPERM (tok used already: RuntimeError), EINVAL
   (tok made in another context: ValueError, or for another variable, or
   NULL), ENOMEM. */
COIO_API int coio_contextvar_reset(coio_contextvar *v, coio_contextvar_token *tok);

/* ======================================================================== */
/* Debug mode                                                               */
/* ======================================================================== */

/* asyncio's debug mode. A loop starts in debug mode when the environment
   variable COIO_DEBUG is set, non-empty and not "0", at coio_loop_new() (so
   also for coio_run); the variable is read once per loop. In debug mode:
   - every callback (call_soon/later/at, done-callbacks, internal ones) and every
     task step (from a resume to the next suspension or the task's end) is timed
     on CLOCK_MONOTONIC; one that takes at least the slow-callback duration
     (default 0.100 s) is reported on stderr as
         coio: Executing <task 'NAME'> took N.NNN seconds
         coio: Executing <callback SYMBOL> took N.NNN seconds
     (SYMBOL from dladdr when the dynamic symbol table has the function, else its
     address);
   - tasks spawned while it is on have their stack high-water mark measured when
     they end (coio_task_stack_used); using more than 75% of the stack is
     reported as
         coio: task 'NAME' used N of M stack bytes
     Spawning then costs an madvise and a mincore call, and the end a scan of the
     stack's resident pages;
   - while the loop runs, coio_call_soon, coio_call_later, coio_call_at,
     coio_loop_spawn (and coio_spawn*) and coio_loop_stop called on it from
     another thread fail with EPERM (only coio_call_soon_threadsafe crosses
     threads).
   "Task exception was never retrieved" (a failed task released before anyone
   looked at its error) is reported in both modes. Outside debug mode none of
   this costs more than one predictable branch per task switch. */

/* Turn debug mode on (enabled != 0) or off; takes effect at once, also on a
   running loop (call it from the loop's thread). 0, or -1/EINVAL (loop NULL or
   closed). */
COIO_API int coio_loop_set_debug(coio_loop *loop, int enabled);

/* 1 if loop is in debug mode, 0 if not (and for NULL or a closed loop). */
COIO_API int coio_loop_get_debug(coio_loop *loop);

/* The slow-callback threshold in seconds (default 0.1; 0 reports every step).
   0, or -1/EINVAL (loop NULL or closed, seconds negative or NaN). */
COIO_API int coio_loop_set_slow_callback_duration(coio_loop *loop, double seconds);
/* The threshold in seconds, or -1.0/EINVAL (loop NULL or closed). */
COIO_API double coio_loop_get_slow_callback_duration(coio_loop *loop);

/* How many bytes of its stack a finished task used at most (its control block
   at the top included), measured when it ended: a task spawned in debug mode
   gets its unused stack zeroed, and its end finds the lowest non-zero word (a
   deepest frame that only held zeros is not seen). *stack_size (if not NULL)
   gets the task's usable stack bytes whenever t is a task. Returns the count,
   or -1 with errno: EINVAL (NULL, not a task), EAGAIN (t is not done),
   ENOTSUP (not measured: spawned outside debug mode, or destroyed pending by
   coio_loop_close). */
COIO_API long coio_task_stack_used(const coio_task *t, size_t *stack_size);

/* ======================================================================== */
/* Observability: task dumps, stacks, the dump signal, fault reports       */
/* ======================================================================== */
/* Write one block per live task of the loop to out: id, name, state
   (RUNNING, suspended, ready, not started), age, what it waits on (sleep
   until T; fd N readable/writable and its deadline; lock/event/condition/
   semaphore/barrier at A, with the lock's holder; queue get/put/join with
   qsize/maxsize; await of task 'NAME' (id); gather/wait of K futures (how
   many done); thread-pool call running for S seconds; task-group exit
   waiting for K children; active timeout scopes and their deadlines), the
   backtrace of its suspended stack (innermost first, "NAME+0xOFF (module)"
   or "module+0xOFF" for addr2line), and in debug mode where it was spawned.
   The task making the dump (if any) is marked RUNNING with its own stack.
   coio_dump_tasks uses the running loop, else this thread's current loop.
   Call it on the loop's thread; other threads send the dump signal or post a
   call with coio_loop_call_soon_threadsafe. Nothing is recorded for dumps
   until they are made, except one coarse clock read per spawn (the age).
   Returns 0, or -1 with errno EINVAL (no loop, closed loop, out NULL), EPERM
   (another thread runs the loop) or EIO (writing out failed). */
COIO_API int coio_dump_tasks(FILE *out);
COIO_API int coio_loop_dump_tasks(coio_loop *loop, FILE *out);

/* asyncio's Task.get_stack(): store up to cap return addresses of t's
   frames, innermost first (for a suspended task, from the function that
   called into the scheduler, e.g. coio_sleep, outward; for the calling task
   itself, from the caller of coio_task_get_stack). Returns how many were
   stored (0 for a task that is done or has not started), or -1 with errno
   EINVAL (not a task, frames NULL with cap > 0, its loop closed), EPERM
   (another thread runs its loop) or ENOSPC (its stack has too little room
   left to walk it: the walk runs on the free part of the task's stack). */
COIO_API long coio_task_get_stack(coio_task *t, void **frames, size_t cap);
/* asyncio's Task.print_stack(): "Stack for task 'NAME' (id N) ..." and one
   line per frame (at most limit; limit < 0: all) to out. Returns 0 or -1
   with the errors of coio_task_get_stack, EINVAL for out NULL, or EIO. */
COIO_API int coio_task_print_stack(coio_task *t, FILE *out, int limit);

/* Make signal sig print the loop's task dump to stderr (0: stop). The
   process continues. When the signal interrupts a task (one stuck in a loop
   that never yields), the dump is written from the signal handler and says
   that its data may be inconsistent; when it interrupts the loop context
   (idle in its poll), the loop is woken and writes the dump itself. A second
   signal while a requested dump is still not written is handled in the
   handler. The environment variable COIO_DUMP_SIGNAL (QUIT, USR1, USR2, HUP
   or a number), read by coio_loop_new, sets it too. Do not use the same
   signal with coio_add_signal_handler. Returns 0 or -1 with errno EINVAL
   (loop NULL or closed; sig out of range, SIGKILL, SIGSTOP or a fault signal)
   or ENOSPC (16 loops already have one).

   Fault reports: while a loop is open, a SIGSEGV, SIGBUS, SIGILL, SIGFPE or
   SIGABRT (abort()) raised in a task prints
       coio: SIGSEGV in task 'NAME' (id N) at ADDR
   and the task's backtrace to stderr (once per process), then the signal
   takes its course: the handler that was installed before the first loop was
   created runs, or the default action (a core dump). A handler installed
   after the loop replaces coio's (no report). A stack overflow keeps its own
   report. COIO_FAULT_REPORT=0 in the environment (read when the first loop
   is created) turns the reports off. */
COIO_API int coio_loop_set_dump_signal(coio_loop *loop, int sig);

/* ======================================================================== */
/* Files (asynchronous file I/O: io_uring, else the thread pool)             */
/* ======================================================================== */
/* Regular files are always "ready" to epoll, so coio_read would block the
   loop on a slow disk. These calls suspend only the calling task while the
   kernel works: on io_uring when the loop has a ring (Linux 5.6+, not
   forbidden by seccomp or /proc/sys/kernel/io_uring_disabled, and
   COIO_BACKEND is not "epoll"), else on the loop's default thread pool
   (coio_to_thread's). Both backends have the same semantics and the same
   errors: a program never depends on which it got (coio_loop_backend says).
   Semantics are those of pread/pwrite: reads and writes may be short (a read
   returns 0 at end of file), an EINTR from the kernel is retried (never
   returned), O_APPEND appends whatever the offset (as Linux's pwrite), and an
   offset on a file that cannot seek (pipe, socket, terminal) is ESPIPE. A
   count above 0x7ffff000 is clamped to it (as read(2) does). Writes to files
   that cannot seek always go to the thread pool, whose threads hold SIGPIPE
   blocked: a gone reader is EPIPE without a signal on both backends.
   Cancellation: a cancelled operation that has not reached the kernel never
   runs; one the kernel has is cancelled there (IORING_OP_ASYNC_CANCEL; a pool
   thread is never interrupted) or, if already running, completes first. In
   every case the call returns -1/ECANCELED only once the kernel (or the pool
   thread) is done with the buffer: the buffer, which may live on the task's
   own stack, is never written after the task resumed. The same holds when
   the loop closes with operations in flight (the close waits for them; a
   pool thread blocked in a read from a pipe nobody writes keeps it waiting).
   A cancelled write may have written (its count is lost). Outside a task the
   calls fail with EINVAL (coio_file_close excepted). */
typedef struct coio_file coio_file;
struct iovec;
struct stat;

/* The offset argument meaning "at the file's current position" (read(2),
   write(2)): the position moves by the bytes transferred. */
#define COIO_FILE_CUR ((long long)-1)

/* openat(2) relative to dirfd (AT_FDCWD: the working directory); O_CLOEXEC
   is always added. mode is used with O_CREAT/O_TMPFILE. Returns a file, or
   NULL with errno: openat's (ENOENT, EACCES, EEXIST, EISDIR, EMFILE, ...),
   ECANCELED (an fd the kernel opened meanwhile is closed), EINVAL (not in a
   task, path NULL), ENOMEM. */
COIO_API coio_file *coio_file_openat(int dirfd, const char *path, int flags, mode_t mode);
/* coio_file_openat(AT_FDCWD, path, flags, mode). */
COIO_API coio_file *coio_file_open(const char *path, int flags, mode_t mode);
/* Adopt an open fd (coio_file_close will close it); may be called outside a
   task. Returns NULL with errno EBADF (fd not open) or ENOMEM. */
COIO_API coio_file *coio_file_from_fd(int fd);
/* The file's descriptor, or -1 with errno EINVAL (f NULL). */
COIO_API int coio_file_fd(const coio_file *f);

/* pread(2) (offset >= 0) or read(2) (offset COIO_FILE_CUR). Returns bytes
   read, 0 at end of file, or -1 with errno: the call's (EBADF, EFAULT, EIO,
   EISDIR, EAGAIN for an O_NONBLOCK pipe with nothing to read, ...), EINVAL
   (not in a task, f NULL, offset negative and not COIO_FILE_CUR), ESPIPE
   (offset on a file that cannot seek), ECANCELED, ENOMEM/EAGAIN (the pool
   could not start a thread). */
COIO_API ssize_t coio_file_read(coio_file *f, void *buf, size_t n, long long offset);
/* pwrite(2) / write(2) likewise; errors as coio_file_read plus ENOSPC, EFBIG,
   EDQUOT, EPIPE. */
COIO_API ssize_t coio_file_write(coio_file *f, const void *buf, size_t n, long long offset);
/* preadv(2)/readv(2) and pwritev(2)/writev(2); errors as above, and EINVAL for
   iovcnt < 0 or > IOV_MAX. */
COIO_API ssize_t coio_file_readv(coio_file *f, const struct iovec *iov, int iovcnt,
                                 long long offset);
COIO_API ssize_t coio_file_writev(coio_file *f, const struct iovec *iov, int iovcnt,
                                  long long offset);
/* fsync(2) / fdatasync(2). Returns 0 or -1 with errno: the call's (EIO,
   ENOSPC, EROFS/EINVAL for files that cannot sync, EBADF), EINVAL (not in a
   task, f NULL), ECANCELED, ENOMEM/EAGAIN. */
COIO_API int coio_file_fsync(coio_file *f);
COIO_API int coio_file_fdatasync(coio_file *f);
/* fstat(2) into *st (statx on io_uring, converted: the same fields). Returns
   0 or -1 with errno EBADF, EINVAL (not in a task, f or st NULL), ECANCELED,
   ENOMEM/EAGAIN. */
COIO_API int coio_file_stat(coio_file *f, struct stat *st);
/* close(2) the file and free f, whatever the outcome: f is invalid after the
   call. It is not interrupted by a cancel: the fd is closed, then the call
   returns -1/ECANCELED if the task was cancelled meanwhile. Outside a task it
   closes synchronously. Returns 0 or -1 with errno: close's (EIO, ENOSPC,
   EDQUOT: data was lost), ECANCELED, EINVAL (f NULL). */
COIO_API int coio_file_close(coio_file *f);

/* What loop uses for I/O: "io_uring+epoll" (coio_file_* on io_uring;
   coio_read/coio_write, streams and the rest on epoll) or the poller's name
   alone ("epoll", "kqueue": coio_file_* on the thread pool). The ring is set
   up the first time this or a file call asks for it; when that fails (qemu-
   user, seccomp, io_uring_disabled, kernels before 5.6) the pool takes over
   silently. The environment variable COIO_BACKEND=epoll (read then) keeps a
   loop off io_uring. Returns NULL with errno EINVAL (loop not valid or
   closed). */
COIO_API const char *coio_loop_backend(coio_loop *loop);

/* ======================================================================== */
/* Short names (opt-in)                                                     */
/* ======================================================================== */

/* Await t and return its result; NULL with errno set on failure. For results
   that may be NULL use coio_await(). */
COIO_API void *coio_await_value(coio_task *t);

#ifdef __cplusplus
}
#endif
#endif /* COIO_H */

/* With COIO_SHORT_NAMES defined before an include of coio.h (this block sits
   outside the include guard, so a later section of a file may define it and
   include coio.h again):
       coio_task *t = async(fn, arg);   // coio_spawn; release t when done with it
       void *r = await(t);              // coio_await_value: NULL + errno on failure */
#if defined(COIO_SHORT_NAMES) && !defined(COIO_SHORT_NAMES_DEFINED)
#define COIO_SHORT_NAMES_DEFINED 1
#define async(fn, arg) coio_spawn((void *(*)(void *))(fn), (void *)(arg))
#define await(t) coio_await_value(t)
#endif
