/* dump.h — task dumps, backtraces of suspended tasks, fault reports (dump.c).
 * The describers below let each primitive name what a task parked on it
 * waits for: dump.c asks each in turn with the task's wait record, and the
 * one that recognises the record (by its unlink function: nothing is stored
 * on the hot path for this) writes the description. Everything here formats
 * by hand into a fixed buffer, so that it can also run in a signal handler.
 */
#ifndef COIO_DUMP_H
#define COIO_DUMP_H

#include "coio_int.h"

#include <signal.h>
#include <stdio.h>

/* An output buffer flushed to a FILE or, in a signal handler, to a file
   descriptor with write(2). */
struct coio__dbuf {
    FILE *f;
    int fd;
    size_t n;
    char b[512];
};

COIO_HIDDEN void coio__db_flush(struct coio__dbuf *b);
COIO_HIDDEN void coio__db_str(struct coio__dbuf *b, const char *s);
COIO_HIDDEN void coio__db_strn(struct coio__dbuf *b, const char *s, size_t max);
COIO_HIDDEN void coio__db_u64(struct coio__dbuf *b, uint64_t v);
COIO_HIDDEN void coio__db_i64(struct coio__dbuf *b, int64_t v);
COIO_HIDDEN void coio__db_hex(struct coio__dbuf *b, uintptr_t v);
/* A duration in seconds with three decimals ("1.250s"). */
COIO_HIDDEN void coio__db_secs(struct coio__dbuf *b, int64_t ns);
/* "task 'NAME' (id N)" of a task or future known to be valid. */
COIO_HIDDEN void coio__db_task(struct coio__dbuf *b, const coio_future *f);
/* "until +1.250s" (deadline relative to now) */
COIO_HIDDEN void coio__db_deadline(struct coio__dbuf *b, int64_t when, int64_t now);

/* Each returns true when w is its kind of record and it wrote a description
   of what t waits on. now is CLOCK_MONOTONIC ns. */
typedef bool coio__describe_fn(const struct coio__wait *w, const struct coio__task *t,
                               int64_t now, struct coio__dbuf *b);
COIO_HIDDEN coio__describe_fn coio__describe_sync, coio__describe_queue, coio__describe_io,
    coio__describe_await, coio__describe_combine, coio__describe_executor,
    coio__describe_taskgroup, coio__describe_process, coio__describe_stream;
/* The active timeout scope of t, if its innermost scope is one (timeout.c). */
COIO_HIDDEN bool coio__describe_timeout(const struct coio__scope *s, int64_t now,
                                        struct coio__dbuf *b);
/* Is the task t alive on loop l (on its task list)? */
COIO_HIDDEN bool coio__task_live(const coio_loop *l, const struct coio__task *t);

/* Debug mode: record the spawn site below the control block; returns the new
   top for the first frame (task.c calls it before building that frame). */
COIO_HIDDEN void *coio__dump_spawn_site(struct coio__task *t);
/* The dump signal asked for a dump; called by the loop in its context. */
COIO_HIDDEN void coio__dump_requested(coio_loop *l);
/* A fault (SIGSEGV/SIGBUS from stack.c's handler, SIGILL/SIGFPE/SIGABRT from
   dump.c's) in task t: print the report unless disabled or already made. */
COIO_HIDDEN void coio__fault_report(struct coio__task *t, int sig, void *si, void *uc); /* si: siginfo_t * */
COIO_HIDDEN extern volatile sig_atomic_t coio__fault_reported;
/* Coarse CLOCK_MONOTONIC ns: a task's spawn time at a few ns per spawn. */
COIO_HIDDEN int64_t coio__coarse_now_ns(void);
/* Loop creation / close: COIO_DUMP_SIGNAL, COIO_FAULT_REPORT. */
COIO_HIDDEN void coio__dump_loop_init(coio_loop *l);
COIO_HIDDEN void coio__dump_loop_close(coio_loop *l);
/* The open loops, linked through coio_loop.gdb_link: for debuggers only
   (tools/coio-gdb.py). */
COIO_HIDDEN extern struct coio__list coio__gdb_loops;
/* Resolve addr to "name+0xoff (module)" or "module+0xoff" into buf. */
COIO_HIDDEN void coio__db_symbol(struct coio__dbuf *b, const void *addr);

#endif
