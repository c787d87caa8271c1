/* coio_int.h — internal structures shared by the files in src/: loop, futures and tasks,
 * wait records, timers, stacks. Nothing here is public; every non-static symbol
 * is coio__-prefixed because a static library has no other namespace barrier.
 */
#ifndef COIO_INT_H
#define COIO_INT_H

#include "coio.h"
#include "arch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#if defined(__GNUC__)
#define COIO_LIKELY(x) __builtin_expect(!!(x), 1)
/* On the public calls that suspend the calling task: they stay functions of
   their own even in link-time optimised programs, because where a task is
   suspended is what task dumps, coio_task_get_stack and gdb's `coio bt` show
   (tests/check_dump.c asserts them, also under LTO). Without LTO a call into
   the library is never inlined anyway, so this costs nothing there. GCC's
   noclone too: a .constprop clone would show under another name. */
#if defined(__clang__)
#define COIO_SUSPENDS __attribute__((noinline))
#else
#define COIO_SUSPENDS __attribute__((noinline, noclone))
#endif
#define COIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define COIO_HIDDEN __attribute__((visibility("hidden")))
#else
#define COIO_LIKELY(x) (x)
#define COIO_SUSPENDS
#define COIO_UNLIKELY(x) (x)
#define COIO_HIDDEN
#endif

#define coio__container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* A broken internal invariant: report and abort. User misuse never gets here. */
#define coio__assert(c) ((c) ? (void)0 : coio__panic(__FILE__, __LINE__, #c))
COIO_HIDDEN _Noreturn void coio__panic(const char *file, int line, const char *what);

/* AddressSanitizer fiber annotations are compiled in under -fsanitize=address. */
#if defined(__SANITIZE_ADDRESS__)
#define COIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COIO_ASAN 1
#endif
#endif

/* ThreadSanitizer fiber annotations are compiled in under -fsanitize=thread:
   every task is a TSan fiber (its own logical thread), and each switch
   synchronizes, since the tasks of one loop run one after another. */
#if defined(__SANITIZE_THREAD__)
#define COIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COIO_TSAN 1
#endif
#endif

/* ------------------------------------------------------------------------ */
/* Intrusive doubly linked list (circular, with a head node).               */
/* ------------------------------------------------------------------------ */
struct coio__list {
    struct coio__list *prev, *next;
};

static inline void coio__list_init(struct coio__list *h) { h->prev = h->next = h; }
static inline bool coio__list_empty(const struct coio__list *h) { return h->next == h; }
static inline void coio__list_push(struct coio__list *h, struct coio__list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void coio__list_del(struct coio__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* ------------------------------------------------------------------------ */
/* Timers: nodes of the loop's binary min-heap (heap.c).                     */
/* ------------------------------------------------------------------------ */
#define COIO_NOT_IN_HEAP SIZE_MAX

struct coio__timer {
    int64_t when;   /* deadline, CLOCK_MONOTONIC ns */
    uint64_t seq;   /* scheduling order: breaks ties so equal deadlines are FIFO */
    size_t index;   /* position in heap.v, or COIO_NOT_IN_HEAP */
    uint8_t kind;   /* COIO__TIMER_TASK (a task's sleep/timeout), COIO__TIMER_HANDLE or
                       COIO__TIMER_ICB (an internal callback, struct coio__icb) */
};
enum { COIO__TIMER_TASK = 1, COIO__TIMER_HANDLE = 2, COIO__TIMER_ICB = 3 };

struct coio__heap {
    struct coio__timer **v; /* owned by the heap (realloc'd; grows, never per insert once warm) */
    size_t n, cap;
};

COIO_HIDDEN int coio__heap_push(struct coio__heap *h, struct coio__timer *t);
COIO_HIDDEN void coio__heap_remove(struct coio__heap *h, struct coio__timer *t);
COIO_HIDDEN struct coio__timer *coio__heap_pop(struct coio__heap *h);
COIO_HIDDEN void coio__heap_free(struct coio__heap *h);
COIO_HIDDEN int coio__heap_reserve(struct coio__heap *h, size_t n);
static inline struct coio__timer *coio__heap_top(const struct coio__heap *h)
{
    return h->n ? h->v[0] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Ready queue entries.                                                      */
/* ------------------------------------------------------------------------ */
/* Something that can sit on the ready queue: a task to resume or a handle to
   run. Invariant: on at most one queue (loop->ready or loop->batch). */
struct coio__runnable {
    struct coio__runnable *next;
    uint8_t kind; /* COIO__RUN_TASK, COIO__RUN_HANDLE or COIO__RUN_ICB */
};
enum { COIO__RUN_TASK = 1, COIO__RUN_HANDLE = 2, COIO__RUN_ICB = 3,
       COIO__RUN_EAGER = 4 /* marks the loop context's return from an eager step (task.c) */ };

/* An internal callback that needs no allocation: it lives in its owner's
   storage (a timeout scope, a task-group child record) and runs fn in the
   loop context in ready-queue order, as a call_soon handle would; its timer,
   when armed in loop->heap, queues it when due, as call_at would. The owner
   takes it off the heap / ready queue (coio__ready_remove) before the storage
   goes away; loop close only clears `queued`. */
struct coio__icb {
    struct coio__runnable run;  /* kind COIO__RUN_ICB; on ready/batch while queued */
    struct coio__timer timer;   /* kind COIO__TIMER_ICB; in loop->heap while armed */
    void (*fn)(struct coio__icb *cb);
    uint8_t queued;
};

/* A structured scope (timeout scope, task group) entered by a task, whose
   storage is usually on that task's stack. If the task ends while the scope
   is still entered (coio_fail from inside it, loop close), abandon() detaches
   it from the loop, so that no timer or callback refers to dead storage. */
struct coio__scope {
    struct coio__scope *next;   /* the next outer scope of the same task */
    void (*abandon)(struct coio__scope *s);
};

/* An entry on a future's completion list: an awaiting task or a done-callback.
   Entries are processed in registration order when the future completes. */
struct coio__task;
struct coio__cnode {
    struct coio__list link;
    uint8_t kind;             /* COIO__CN_AWAIT, COIO__CN_CALLBACK, COIO__CN_NOTIFY or
                                 COIO__CN_NOTIFY_DROP */
    struct coio__task *task;  /* COIO__CN_AWAIT: the waiting task */
    /* COIO__CN_NOTIFY: called synchronously on completion (after the node is
       unlinked); used by waits on several futures at once. COIO__CN_NOTIFY_DROP:
       the same, and also called with f == NULL when loop close finds the future
       (task or plain) still pending, for a node that owns what it holds (shield's
       link): it then only releases that, waking nobody. */
    void (*notify)(struct coio__cnode *n, coio_future *f);
};
enum { COIO__CN_AWAIT = 1, COIO__CN_CALLBACK = 2, COIO__CN_NOTIFY = 3, COIO__CN_NOTIFY_DROP = 4 };

/* ------------------------------------------------------------------------ */
/* Handles: call_soon / call_later / call_at, and scheduled done-callbacks.  */
/* ------------------------------------------------------------------------ */
enum { COIO__H_CALL = 1, COIO__H_DONE_CB = 2 };

struct coio_handle {
    struct coio__runnable run;  /* on loop->ready/batch while queued */
    struct coio__timer timer;   /* in loop->heap while a call_later/at waits */
    struct coio__cnode cnode;   /* done-callbacks: on the future's completion list */
    coio_loop *loop;
    uint8_t type;               /* COIO__H_CALL or COIO__H_DONE_CB */
    uint8_t cancelled;          /* set by coio_handle_cancel; a queued one is skipped */
    uint8_t done;               /* callback started (or skipped): no longer cancellable */
    int refs;                   /* the loop's (until run/skipped) + retains */
    union {
        struct { void (*cb)(void *); void *arg; } call;
        struct { void (*cb)(coio_task *, void *); void *arg; coio_future *fut; } done_cb;
    } u;
    coio_handle *free_next;     /* on loop->free_handles when recycled */
    struct coio__ctx *ctx;      /* contextvars: the context the callback runs in, a reference */
};

/* ------------------------------------------------------------------------ */
/* Futures and tasks.                                                        */
/* ------------------------------------------------------------------------ */
#define COIO__FUT_MAGIC 0xC010F07Eu
#define COIO__DEAD_MAGIC 0xDEADF07Eu
enum { COIO__FUT_PLAIN = 1, COIO__FUT_TASK = 2 };

struct coio_future {
    uint32_t magic;         /* COIO__FUT_MAGIC while alive */
    uint8_t kind;           /* COIO__FUT_PLAIN or COIO__FUT_TASK */
    uint8_t state;          /* coio_state */
    uint8_t retrieved;      /* a failure was looked at (F4/D3) */
    int refs;               /* handle references; 0 frees */
    coio_loop *loop;        /* owner; holds a loop reference */
    void *result;
    int err;                /* failure code when FAILED */
    char *errmsg;           /* malloc'd copy or NULL; owned */
    char *cancel_msg;       /* malloc'd copy or NULL; owned */
    struct coio__list cnodes; /* struct coio__cnode entries, registration order */
    uint64_t id;
    char name[64];
};

struct coio__task;

/* What a parked task waits on. Lives on the waiting task's stack. */
struct coio__wait {
    /* The task is being cancelled (asyncio's fut_waiter.cancel()): return 1 if
       the cancel was taken — the wait was unlinked and the task woken with
       ECANCELED, or the cancel was forwarded to the awaited future — or 0 if
       it could not be (then it is delivered when the task next resumes). */
    int (*cancel)(struct coio__wait *w, struct coio__task *t);
    /* Unlink from the wait structure without waking (timeout, loop close). Loop
       close also calls it for a task that was woken but had not run yet (the
       record stays in task->parked_on until the task resumes), so it must be safe
       after a wake or an earlier unlink; with the loop closed, it releases or
       hands on what the waiting function would have on resuming (a reference,
       a lock or permit it was given). */
    void (*unlink)(struct coio__wait *w);
};

struct coio__stack {
    void *map;          /* start of the mapping (guard page included) */
    size_t map_size;    /* bytes mapped */
    size_t size;        /* usable bytes requested (pool key) */
    uint8_t guarded;    /* the lowest `guard` bytes fault: COIO__GUARD_PAGE or _REGION, else 0 */
    unsigned vg_id;     /* valgrind stack id */
    size_t guard;       /* bytes at the bottom of map that fault (0: none; the canary
                           sits at map); the usable stack is [map + guard, map + map_size) */
    struct coio__slab *slab; /* the slab it was carved from (stack.c), or NULL */
};

struct coio__task {
    _Alignas(8) struct coio_future f; /* must be first: a task is a future; the
                                         alignment keeps the size a multiple of 8
                                         on 32-bit ABIs too) */
    struct coio__runnable run;  /* ready-queue link */
    void *sp;                   /* saved stack pointer while not running */
    void *(*fn)(void *);
    void *arg;
    void (*arg_dtor)(void *);
    struct coio__wait *wait;    /* set while parked on something, else NULL */
    struct coio__wait *parked_on; /* the record parked on, kept from park until the
                                     task resumes (wake clears only `wait`) */
    struct coio__timer timer;   /* sleep or timeout deadline (in heap while armed) */
    int timer_code;             /* wake code when the timer fires: 0 or ETIMEDOUT */
    int wake_code;              /* why the task was woken: 0, ECANCELED, ETIMEDOUT, EBADF */
    int cancelling;             /* asyncio's cancelling() counter */
    uint8_t must_cancel;        /* a cancel request waiting to be delivered */
    uint8_t cancel_delivered;   /* ECANCELED was delivered and not absorbed */
    uint8_t started;            /* fn has been called */
    uint8_t queued;             /* on ready/batch */
    uint8_t shutdown_cancelled; /* coio_run's shutdown has cancelled it once */
    struct coio__list all_link; /* on loop->tasks while not done */
    struct coio__stack stack;   /* the stack this struct lives at the top of */
    uint64_t *canary;           /* unguarded stacks: the lowest word, which must stay 0 */
    const coio_taskgroup *group_error; /* the failures of the last task group whose
                                          exit failed in this task, for a COIO_EGROUP
                                          failure: a heap copy, one reference owned
                                          here (taskgroup.c), released with the task */
    struct coio__scope *scopes; /* entered timeout scopes / task groups, innermost first */
    size_t stack_used;          /* debug mode: the stack high-water mark in bytes, measured
                                   when the task ends (debug.c); 0 until then */
    uint8_t dbg_stack;          /* debug mode at spawn: the stack was zeroed for measuring */
    int64_t born;               /* spawn time, coarse CLOCK_MONOTONIC ns (task dumps) */
    void **spawn_site;          /* debug mode: [count, return addresses...] below this
                                   block on the task's stack (dump.c), else NULL */
    struct coio__ctx *ctx;      /* contextvars: the task's context, a reference (contextvar.c) */
#ifdef COIO_ASAN
    void *asan_fake;            /* fake-stack save slot across switches */
#endif
#ifdef COIO_TSAN
    void *tsan_fiber;           /* this task's TSan fiber (task.c) */
#endif
};

static inline struct coio__task *coio__as_task(coio_future *f)
{
    return f && f->kind == COIO__FUT_TASK ? (struct coio__task *)f : NULL;
}

/* ------------------------------------------------------------------------ */
/* Stacks (stack.c).                                                         */
/* ------------------------------------------------------------------------ */
struct coio__stack_pool {
    void *head;         /* free stacks not from a slab, linked through their top word */
    size_t n;           /* how many */
    size_t max;         /* keep at most this many; the rest are unmapped */
    /* Default-size stacks are carved from slabs (stack.c) */
    struct coio__slab *partial; /* slabs with free stacks, most recently freed-into first */
    struct coio__slab *slabs;   /* every slab of this pool */
    struct coio__slab *cur;     /* the slab new stacks are carved from */
    size_t slab_free;           /* free stacks in all slabs */
    uint8_t trim;               /* unmap idle slabs beyond max (else keep them until
                                   the loop closes: stack.c slab_put) */
};

/* How a stack is guarded (struct coio__stack.guarded). */
enum { COIO__GUARD_NONE = 0, COIO__GUARD_PAGE = 1, COIO__GUARD_REGION = 2 };
/* Map a stack of at least size usable bytes; returns 0 or -1/errno. */
COIO_HIDDEN int coio__stack_get(struct coio__stack_pool *pool, size_t size, struct coio__stack *st);
/* Return a stack to the pool (pool may be NULL: unmap). */
COIO_HIDDEN void coio__stack_put(struct coio__stack_pool *pool, struct coio__stack *st);
COIO_HIDDEN void coio__stack_pool_drain(struct coio__stack_pool *pool);
/* Overflow reporter: SIGSEGV handler on an alternate stack (per thread). */
COIO_HIDDEN int coio__overflow_guard_acquire(void);
COIO_HIDDEN void coio__overflow_guard_release(void);
COIO_HIDDEN _Noreturn void coio__stack_overflow(struct coio__task *t, const void *addr);
COIO_HIDDEN size_t coio__page_size(void);


/* ------------------------------------------------------------------------ */
/* Poller (poll_epoll.c / poll_kqueue.c behind poll.h) and the fd table.     */
/* ------------------------------------------------------------------------ */
struct coio__poller;

struct coio__fd {
    struct coio__task *rd;  /* task waiting for readability, or NULL */
    struct coio__task *wr;  /* task waiting for writability, or NULL */
    uint8_t registered;     /* added to the poller (edge-triggered, both directions) */
    uint8_t known;          /* O_NONBLOCK was ensured */
    uint8_t sock;           /* known is set and the fd is a socket (coio_write sends with
                               COIO__MSG_NOSIGNAL; other fds take the SIGPIPE-holding path) */
    uint8_t stream;         /* known is set and the fd is a SOCK_STREAM socket */
    uint8_t rdok;           /* registered: may be readable (an IN event came since the
                               last EAGAIN, or short read of a stream socket); coio_read
                               parks before reading a stream socket when clear */
    uint8_t hup;            /* a hang-up/error event came: short reads prove nothing */
    int err;                /* socket error an event carried (the poller may have
                               consumed SO_ERROR), for coio_connect; else 0 */
};

/* ------------------------------------------------------------------------ */
/* The loop.                                                                 */
/* ------------------------------------------------------------------------ */
#define COIO__LOOP_MAGIC 0xC0101009u

struct coio_loop {
    uint32_t magic;
    int refs;                        /* 1 until closed + 1 per live future/task struct */
    struct coio__runnable *ready;    /* FIFO for the next iteration */
    struct coio__runnable **ready_tail;
    struct coio__runnable *batch;    /* the current iteration's remaining entries */
    struct coio__heap heap;          /* timers: handles and task deadlines */
    struct coio__poller *poller;
    struct coio__fd *fds;            /* indexed by fd; grown on demand; owned */
    int nfds;
    int io_waiters;                  /* tasks parked on an fd */
    void *sp;                        /* the loop context's saved sp while a task runs */
    struct coio__task *current;      /* task running now, NULL in the loop context */
    struct coio__task *zombie;       /* finished task whose loop reference is still held */
    coio_future *until;              /* run_until_complete's target */
    struct coio__list tasks;         /* pending tasks (all_tasks) */
    struct coio__list futures;       /* live plain futures, until loop close (task.c) */
    size_t ntasks;
    struct coio__stack_pool pool;
    /* Control blocks of finished tasks on their (slab, default-size) stacks,
       most recently freed first, linked through run.next: spawn takes the
       cache-warm block and its stack back in a few instructions (task.c). At
       most pool.max of them (they stay mapped either way: idle slabs are kept
       until close), or COIO__HOT_MAX when the pool trims idle slabs; given
       back to the pool at loop close. */
    struct coio__task *hot;
    unsigned nhot;
    coio_handle *free_handles;       /* recycled handle structs */
    size_t nfree_handles;
    size_t heap_need;                /* live tasks + handles in the heap: heap capacity
                                        is kept >= this so arming a task's timer never
                                        allocates */
    uint64_t timer_seq, task_seq, fut_seq;
    uint8_t running, stopping, closed;
    uint8_t debug;                   /* debug mode (debug.c): tested once per switch */
    uint8_t eager;                   /* spawn eagerly by default (coio_loop_set_eager) */
    coio_loop *prev_current;         /* thread's current loop before run started */
    /* Set by other threads and signal handlers (threadsafe.c, signal.c) when they
       left work for this loop; the loop clears it when it takes that work. */
    atomic_uint xpending;
    struct coio__xq *xq;             /* call_soon_threadsafe queue; owned (threadsafe.c) */
    /* Debug mode (debug.c; the flag `debug` sits with the hot flags above):
       slow-step threshold and the running step's start, CLOCK_MONOTONIC ns;
       the thread of the current run, for the EPERM check. */
    int64_t slow_ns;
    int64_t step_start;
    pthread_t thread;
    coio_executor *default_ex;       /* coio_to_thread's pool, made on first use; joined
                                        and freed by coio_loop_close (executor.c) */
    /* Files on io_uring (file.c): the ring, set up on first use (ring_tried);
       ring_ops file operations whose completion is pending (each also counted
       in io_waiters); ring_inflight SQEs whose CQE is pending, cancels too. */
    struct coio__ring *ring;
    int ring_ops;
    unsigned ring_inflight;
    uint8_t ring_tried;
    int dump_sig;                    /* coio_loop_set_dump_signal's signal, or 0 (dump.c) */
    atomic_int dump_req;             /* the dump signal asked for a dump in the loop context */
    struct coio__list gdb_link;      /* on coio__gdb_loops from creation to close (dump.c) */
#ifdef COIO_ASAN
    const void *thread_stack_bottom; /* the loop context's stack, for ASan */
    size_t thread_stack_size;
    void *asan_fake;                 /* the loop context's fake-stack slot */
#endif
#ifdef COIO_TSAN
    void *tsan_fiber;                /* the running thread's own TSan fiber (begin_run) */
#endif
};

extern _Thread_local coio_loop *coio__tls_loop;      /* this thread's current loop */
extern _Thread_local coio_loop *coio__tls_running;   /* the loop running on this thread */

static inline struct coio__task *coio__self(void)
{
    coio_loop *l = coio__tls_running;
    return l ? l->current : NULL;
}

COIO_HIDDEN int64_t coio__now_ns(void);
COIO_HIDDEN int64_t coio__deadline_ns(double seconds); /* now + seconds, saturating */

/* Scheduling core (loop.c). Pushing and waking are inline: every primitive's
   wake-up runs them, from other files than the loop's. */
static inline void coio__ready_push(coio_loop *l, struct coio__runnable *r)
{
    r->next = NULL;
    *l->ready_tail = r;
    l->ready_tail = &r->next;
}
/* Take r off the ready queue or the current batch (rare paths only: O(n)). */
COIO_HIDDEN bool coio__ready_remove(coio_loop *l, struct coio__runnable *r);
/* Make a parked task runnable with the given wake code; disarms its timer. */
static inline void coio__wake(struct coio__task *t, int code)
{
    coio_loop *l = t->f.loop;
    if (COIO_UNLIKELY(t->timer.index != COIO_NOT_IN_HEAP))
        coio__heap_remove(&l->heap, &t->timer);
    t->wait = NULL;
    t->wake_code = code;
    t->queued = 1;
    coio__ready_push(l, &t->run);
}
/* Park the current task on w (may be NULL) until woken, optionally until an
   absolute deadline (< 0: none) when it wakes with timer_code. Returns the wake
   code; ECANCELED means a cancellation was delivered (task flag set). */
COIO_HIDDEN int coio__park(struct coio__task *self, struct coio__wait *w, int64_t deadline, int timer_code);
/* sleep(0) for the running task self: to the tail of the ready queue, then
   park as coio__park(self, NULL, -1, 0) does (SL1). */
COIO_HIDDEN int coio__yield(struct coio__task *self);
/* The default wait-record cancel: unlink, wake with ECANCELED, return 1. */
COIO_HIDDEN int coio__wait_cancel_unlink(struct coio__wait *w, struct coio__task *t);
COIO_HIDDEN _Noreturn void coio__task_exit(struct coio__task *t);
COIO_HIDDEN void coio__loop_unref(coio_loop *l);
COIO_HIDDEN coio_handle *coio__handle_alloc(coio_loop *l);
COIO_HIDDEN void coio__handle_unref(coio_handle *h);
COIO_HIDDEN bool coio__loop_valid(const coio_loop *l);
COIO_HIDDEN bool coio__future_valid(const coio_future *f);

/* Debug mode (debug.c); every caller tests l->debug first, so that the
   normal path costs one predictable branch. */
COIO_HIDDEN void coio__debug_loop_init(coio_loop *l);           /* COIO_DEBUG, defaults */
/* A task step ends (from) and/or begins (to); NULL is the loop context.
   Returns to (so that the caller need not keep it across the call). */
COIO_HIDDEN struct coio__task *coio__debug_switch(coio_loop *l, struct coio__task *from,
                                                  struct coio__task *to);
COIO_HIDDEN void coio__debug_run_handle(coio_loop *l, coio_handle *h); /* timed run */
COIO_HIDDEN void coio__debug_run_icb(coio_loop *l, struct coio__icb *cb);
/* A loop call from a thread other than the running loop's: sets EPERM, true. */
COIO_HIDDEN bool coio__debug_foreign(const coio_loop *l);
COIO_HIDDEN void coio__debug_stack_prepare(struct coio__task *t); /* at spawn */
COIO_HIDDEN void coio__debug_stack_measure(struct coio__task *t); /* at exit */

/* ------------------------------------------------------------------------ */
/* Switching and parking (the scheduler's hot path; loop.c uses these too).  */
/* ------------------------------------------------------------------------ */
/* Inline so that the primitives that park on every operation (queues) and
   coio_yield do not pay a call into loop.c; other waits call coio__park. */
#ifdef COIO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef COIO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static inline void coio__check_canary(struct coio__task *t)
{
    if (COIO_UNLIKELY(t->canary && *t->canary != 0))
        coio__stack_overflow(t, t->canary);
}

/* Leave the running context (task `from`, or the loop context if NULL) for
   `to` (NULL: the loop context). `dying`: `from` never runs again. */
static inline __attribute__((always_inline)) void coio__ctx_switch(coio_loop *l,
                                                                   struct coio__task *from,
                                                                   struct coio__task *to,
                                                                   bool dying)
{
    /* D2: times task steps. First, and `to` comes back as the result, so that
       nothing has to live across the call: the normal path keeps its registers. */
    if (COIO_UNLIKELY(l->debug))
        to = coio__debug_switch(l, from, to);
    void **save = from ? &from->sp : &l->sp;
    void *sp = to ? to->sp : l->sp;
    l->current = to;
#ifdef COIO_ASAN
    void **fake = from ? &from->asan_fake : &l->asan_fake;
    const void *bottom;
    size_t size;
    if (to) {
        size_t g = to->stack.guard;
        bottom = (char *)to->stack.map + g;
        size = to->stack.map_size - g;
    } else {
        bottom = l->thread_stack_bottom;
        size = l->thread_stack_size;
    }
    __sanitizer_start_switch_fiber(dying ? NULL : fake, bottom, size);
    coio__switch(save, sp, to);
    __sanitizer_finish_switch_fiber(*fake, NULL, NULL);
#else
    (void)dying;
#ifdef COIO_TSAN
    /* Immediately before the switch, as TSan asks. Without the no_sync flag
       the switch is a release by `from` and an acquire by `to`: what one task
       of the loop did happens before what the next one does. */
    __tsan_switch_to_fiber(to ? to->tsan_fiber : l->tsan_fiber, 0);
#endif
    coio__switch(save, sp, to);
#endif
}

/* The task to run after the current one stops, or NULL for the loop context.
   Runs on a task stack. */
static inline __attribute__((always_inline)) struct coio__task *coio__next_task(coio_loop *l)
{
    struct coio__runnable *r = l->batch;
    if (!r) {
        /* Batch done. Start the next one here only if the loop context would
           do nothing else first: no I/O to poll, no timers, no stop, and the
           run_until_complete target still pending. */
        r = l->ready;
        if (!r || l->stopping || l->io_waiters || l->heap.n ||
            (l->until && l->until->state != COIO_PENDING) ||
            atomic_load_explicit(&l->xpending, memory_order_relaxed))
            return NULL;
        l->ready = NULL;
        l->ready_tail = &l->ready;
    }
    if (r->kind != COIO__RUN_TASK) {
        l->batch = r; /* callbacks run in the loop context */
        return NULL;
    }
    l->batch = r->next;
    struct coio__task *t = coio__container_of(r, struct coio__task, run);
    t->queued = 0;
    return t;
}

/* coio__park's body; see there. A constant w == NULL or deadline < 0 drops
   the cancel or timer branch. */
static inline __attribute__((always_inline)) int coio__park_inline(struct coio__task *self,
                                                                   struct coio__wait *w,
                                                                   int64_t deadline,
                                                                   int timer_code)
{
    coio_loop *l = self->f.loop;
    self->wait = w;
    self->parked_on = w;
    self->wake_code = 0;
    if (deadline >= 0) {
        self->timer.when = deadline;
        self->timer.seq = l->timer_seq++;
        self->timer_code = timer_code;
        /* Capacity was reserved at spawn (heap_need): this cannot allocate. */
        int rc = coio__heap_push(&l->heap, &self->timer);
        coio__assert(rc == 0);
    }
    /* A cancel requested while we were running is delivered by cancelling
       what we now wait on (asyncio: __step cancels the new fut_waiter). */
    if (COIO_UNLIKELY(self->must_cancel) && w && w->cancel(w, self))
        self->must_cancel = 0;
    coio__check_canary(self);
    struct coio__task *next = coio__next_task(l);
    if (next != self)
        coio__ctx_switch(l, self, next, false);
    else {
        if (COIO_UNLIKELY(l->debug)) /* a new step of the same task */
            coio__debug_switch(l, self, self);
        l->current = self;
    }
    self->parked_on = NULL;
    int code = self->wake_code;
    if (COIO_UNLIKELY(self->must_cancel)) {
        /* Woken for another reason, but a cancel arrived meanwhile: it wins,
           as asyncio throws CancelledError into the resumed coroutine. */
        self->must_cancel = 0;
        code = ECANCELED;
    }
    if (COIO_UNLIKELY(code == ECANCELED))
        self->cancel_delivered = 1;
    return code;
}

/* coio__yield's body. */
static inline __attribute__((always_inline)) int coio__yield_inline(struct coio__task *self)
{
    self->queued = 1;
    coio__ready_push(self->f.loop, &self->run);
    return coio__park_inline(self, NULL, -1, 0);
}

/* Futures (task.c). */
COIO_HIDDEN void coio__future_complete(coio_future *f);  /* wake awaiters, schedule callbacks */
COIO_HIDDEN void coio__future_free(coio_future *f);
COIO_HIDDEN coio_future *coio__future_new(coio_loop *l);
/* Map a done future to 0 + *result or -1/errno, marking failures retrieved. */
COIO_HIDDEN int coio__outcome(coio_future *f, void **result);
COIO_HIDDEN void coio__task_release_loopref(struct coio__task *t);
/* How many finished tasks' blocks the loop keeps for the next spawns (loop->hot)
   when its pool trims idle slabs, and giving them back to the stack pool (loop
   close, before the pool drains). */
#define COIO__HOT_MAX 8
COIO_HIDDEN void coio__task_cache_drain(coio_loop *l);
COIO_HIDDEN void coio__run_done_callback(coio_handle *h);
COIO_HIDDEN void coio__task_destroy_pending(struct coio__task *t); /* loop close */
/* Loop close, after the tasks: drop the done-callbacks and shield links of plain
   futures still pending (the futures stay valid until their handles go). */
COIO_HIDDEN void coio__futures_loop_close(coio_loop *l);

/* Timeout scopes and task groups (timeout.c, taskgroup.c). */
/* Abandon the scopes t left entered: it is ending (task exit, loop close). */
static inline void coio__scopes_abandon(struct coio__task *t)
{
    while (t->scopes) {
        struct coio__scope *s = t->scopes;
        t->scopes = s->next;
        s->abandon(s);
    }
}
/* Drop the task's reference to its group_error copy. */
COIO_HIDDEN void coio__group_error_release(const coio_taskgroup *g);

/* Context variables (contextvar.c). A context is immutable and refcounted (NULL:
   empty); capture takes a reference to the current one (O(1)), clone a private copy
   (for another thread). coio__tls_cbslot points at the slot of the callback the
   loop (or a pool thread) is running, NULL otherwise. */
struct coio__ctx;
COIO_HIDDEN struct coio__ctx *coio__ctx_capture(void);
COIO_HIDDEN struct coio__ctx *coio__ctx_clone(void);
COIO_HIDDEN struct coio__ctx *coio__ctx_ref(struct coio__ctx *c);
COIO_HIDDEN void coio__ctx_release(struct coio__ctx *c);
extern _Thread_local struct coio__ctx **coio__tls_cbslot;

/* Cross-thread calls (threadsafe.c), the thread pool (executor.c), signals
   (signal.c). */
struct coio__xq;
COIO_HIDDEN int coio__xq_open(coio_loop *l);
/* Queue the batch of cross-thread calls (and due signal callbacks) on the
   ready queue; called by the loop when xpending is set. */
COIO_HIDDEN void coio__xq_schedule(coio_loop *l);
/* Post cb(arg) to the loop of q from any thread; drop(arg), if not NULL, runs
   instead when the loop closes first. Returns 0, or -1 with errno EINVAL (the
   loop is closed: neither runs) or ENOMEM. */
COIO_HIDDEN int coio__xq_post(struct coio__xq *q, void (*cb)(void *), void (*drop)(void *), void *arg);
COIO_HIDDEN struct coio__xq *coio__xq_ref(struct coio__xq *q);
COIO_HIDDEN void coio__xq_unref(struct coio__xq *q);   /* any thread */
/* Loop close, after its tasks are gone and before the poller is: join the
   default pool, give back signals, drop cross-thread calls not yet run. */
COIO_HIDDEN void coio__threads_loop_close(coio_loop *l);
COIO_HIDDEN void coio__executor_loop_close(coio_loop *l);
COIO_HIDDEN void coio__signal_loop_close(coio_loop *l);
/* Run the callbacks of signals that arrived for l (loop thread). */
COIO_HIDDEN void coio__signal_dispatch(coio_loop *l);
/* coio_run's SIGINT handling (R3): installed only over SIG_DFL. */
struct coio__run_sigint {
    coio_task *main;    /* cancelled by the first SIGINT */
    int interrupted;    /* a SIGINT cancelled main */
    int installed;
};
COIO_HIDDEN void coio__sigint_run_begin(coio_loop *l, struct coio__run_sigint *rs);
COIO_HIDDEN void coio__sigint_run_end(coio_loop *l, struct coio__run_sigint *rs);

/* Files on io_uring (file.c): the loop hands the queued SQEs to the kernel
   (one io_uring_enter, none when nothing is queued) and takes completions
   (no system call); loop close, after the tasks, closes the ring. submit
   returns true when SQEs stay queued (the kernel refused them for now). */
COIO_HIDDEN bool coio__file_submit(coio_loop *l);
COIO_HIDDEN void coio__file_reap(coio_loop *l);
COIO_HIDDEN void coio__file_loop_close(coio_loop *l);
/* coio_to_thread(fn, arg) for file operations: a loop close that finds fn
   running waits for it to return, because fn writes to the task's buffer
   (executor.c). 0 or -1 with errno (ECANCELED: fn never ran or has returned). */
COIO_HIDDEN int coio__to_thread_waited(void *(*fn)(void *), void *arg);

/* I/O (io.c). */
COIO_HIDDEN void coio__io_event(coio_loop *l, int fd, unsigned ev, int err);
COIO_HIDDEN void coio__io_close_all(coio_loop *l);
/* Writes that never raise SIGPIPE (io.c). One send(2) on a socket that went
   through coio__sock_nosigpipe; one write(2) on any other fd (SIGPIPE held
   blocked around it, and the one it raised taken back). Bytes written or
   -1/errno (EPIPE, EAGAIN, ...). */
COIO_HIDDEN ssize_t coio__sock_send(int fd, const void *buf, size_t n);
COIO_HIDDEN ssize_t coio__write_nosigpipe(int fd, const void *buf, size_t n);
/* Where send(2) has no MSG_NOSIGNAL: set SO_NOSIGPIPE on a socket (once, when
   coio first sees it). A no-op elsewhere. */
COIO_HIDDEN void coio__sock_nosigpipe(int fd);
/* coio_read with an absolute deadline (CLOCK_MONOTONIC ns, < 0: none): -1/ETIMEDOUT
   when it passes first (streams.c's per-operation timeouts). */
COIO_HIDDEN ssize_t coio__read_until(int fd, void *buf, size_t n, int64_t deadline);
/* Park the running task until fd is ready in one direction, without the poll(2)
   that coio_wait_readable/writable make first: for callers that just saw EAGAIN.
   0, or -1 with errno ETIMEDOUT (deadline passed; < 0: none), ECANCELED, EBADF,
   EEXIST (another task waits on that direction), EINVAL (not in a task). */
COIO_HIDDEN int coio__fd_wait(int fd, bool write, int64_t deadline);
/* Resolve host:port for sockets of socktype (stream.c; datagram.c uses it too):
   0, or -1 with errno ENOENT, EAGAIN, ENOMEM, EINVAL. */
struct addrinfo;
COIO_HIDDEN int coio__resolve(const char *host, int port, int family, int socktype, bool passive,
                              int name_flags, struct addrinfo **res);
/* coio_sendfile with a deadline (< 0: none), for coio_writer_sendfile (sendfile.c). */
COIO_HIDDEN ssize_t coio__sendfile(int out, int in, off_t offset, size_t count, int flags,
                                   int64_t deadline);
/* Set FD_CLOEXEC on fd, and O_NONBLOCK if nonblock: 0 or -1/errno. */
COIO_HIDDEN int coio__fd_flags(int fd, bool nonblock);

/* Portability. accept4(2) and pipe2(2) are used where the system has them;
   -DCOIO_FORCE_PORTABLE selects the POSIX fallbacks (fcntl after accept, socket
   and pipe; SIGPIPE held blocked instead of MSG_NOSIGNAL; no pidfd) so that
   they are tested on Linux too. */
#if !defined(COIO_FORCE_PORTABLE) && (defined(__linux__) || defined(__FreeBSD__) || \
    defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__))
#define COIO_HAVE_ACCEPT4 1
#define COIO_HAVE_PIPE2 1
#endif

/* Fault injection points (test builds with COIO_FAULTS only). Last, so that
   nothing above is renamed. */
#include "fault.h"

#endif
