/* stream.c — asyncio's streams: StreamReader/StreamWriter over a socket or pipe fd (or a
 * reader fed by hand), open_connection/start_server over TCP and Unix sockets, and
 * getaddrinfo on the thread pool. Subprocess pipes (process.c) use coio_open_fd.
 *
 * A reader pulls: it reads from its fd only when a call needs more bytes than it holds,
 * so its buffer stays near max(limit, n) and a slow consumer leaves the data in the
 * kernel (ST7's flow control, by construction). A writer sends at once when it can and
 * keeps the rest in a copy; a detached "flusher" task, started only when the kernel
 * buffer is full, sends that copy as the fd becomes writable and releases drain().
 */
#define _GNU_SOURCE
#include "coio_int.h"
#include "dump.h"
#include "transport.h"

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_HIGH (64u * 1024u)
#define READ_CHUNK (16u * 1024u)

/* A cancellable wait on a list (drain, wait_closed, fed reader, serve_forever). */
struct lwait {
    struct coio__wait w;
    struct coio__list link;
    struct coio__task *task;
};

static void lwait_unlink(struct coio__wait *w)
{
    coio__list_del(&coio__container_of(w, struct lwait, w)->link);
}

/* Park the current task on list until wake_all/wake_one or the deadline (< 0: none;
   then the code is ETIMEDOUT); returns the wake code. */
static int lwait_park_until(struct coio__task *self, struct coio__list *list, int64_t deadline)
{
    struct lwait lw = {{coio__wait_cancel_unlink, lwait_unlink}, {NULL, NULL}, self};
    coio__list_push(list, &lw.link);
    int code = coio__park(self, &lw.w, deadline, ETIMEDOUT);
    coio__list_del(&lw.link); /* harmless when already unlinked */
    return code;
}

/* The same without a deadline. */
static int lwait_park(struct coio__task *self, struct coio__list *list)
{
    return lwait_park_until(self, list, -1);
}

static void wake_all(struct coio__list *list)
{
    while (!coio__list_empty(list)) {
        struct lwait *lw = coio__container_of(list->next, struct lwait, link);
        coio__list_del(&lw->link);
        if (!lw->task->f.loop->closed) /* a closing loop drops its tasks itself */
            coio__wake(lw->task, 0);
    }
}

/* Take a parked task out of whatever it waits on (an fd, a list) and make it
   runnable with code; its own state tells it why. */
static void interrupt(struct coio__task *t, int code)
{
    if (t && t->wait && !t->f.loop->closed) {
        if (t->wait->unlink)
            t->wait->unlink(t->wait);
        coio__wake(t, code);
    }
}

/* A task-exit guard: fn(arg) runs if the task ends while the guard is pushed
   (coio_fail from below, or the loop closing under a parked task), so that what the
   task owns is never leaked. */
struct guard {
    struct coio__scope sc;
    void (*fn)(void *);
    void *arg;
};

static void guard_abandon(struct coio__scope *sc)
{
    struct guard *g = coio__container_of(sc, struct guard, sc);
    g->fn(g->arg);
}

static void guard_push(struct guard *g, void (*fn)(void *), void *arg)
{
    struct coio__task *t = coio__self();
    g->sc.abandon = guard_abandon;
    g->fn = fn;
    g->arg = arg;
    g->sc.next = t->scopes;
    t->scopes = &g->sc;
}

static void guard_pop(struct guard *g)
{
    struct coio__task *t = coio__self();
    for (struct coio__scope **pp = &t->scopes; *pp; pp = &(*pp)->next)
        if (*pp == &g->sc) {
            *pp = g->sc.next;
            return;
        }
}

/* ---- the shared stream -------------------------------------------------------------- */

struct coio_reader {
    char *buf;              /* owned; bytes [off, off + len) are unread */
    size_t off, len, cap;
    size_t limit;
    uint8_t eof;            /* the fd said EOF, feed_eof, or the transport was closed */
    uint8_t fed;            /* no fd: data comes from coio_reader_feed_* */
    uint8_t held;           /* the user holds the handle */
    int err;                /* set_error or a read error (ECONNRESET ...): sticky */
    int eof_err;            /* reported at EOF instead of 0 once the buffer is read
                               (TLS3: ECONNRESET, the peer left without close_notify) */
    struct coio__task *waiter; /* the task inside a read call (one at a time: EBUSY) */
    struct coio__list fedq;    /* a fed reader's waiter (struct lwait) */
    double timeout;         /* coio_reader_set_timeout: bound of each read call, 0: none */
    int64_t deadline;       /* the running read call's deadline (CLOCK_MONOTONIC ns), or -1 */
};

struct coio_writer {
    char *buf;              /* owned; bytes [off, off + len) are not sent yet */
    size_t off, len, cap;
    size_t high, low;       /* drain blocks above high until <= low */
    uint8_t held;
    uint8_t closing;        /* close() called: no more writes; fd closes once flushed */
    uint8_t eof_pending;    /* write_eof() called: shut down once flushed */
    uint8_t eof_sent;
    uint8_t flushing;       /* the flusher task runs */
    uint8_t sendfiling;     /* coio_writer_sendfile owns the fd: writes only queue */
    int err;                /* the send error that lost the connection: sticky */
    struct coio__list drainers;
    struct coio__list closers; /* wait_closed */
    double timeout;         /* coio_writer_set_timeout: bound of each waiting call, 0: none */
};

struct stream {
    struct coio__transport tp; /* fd (-1 once closed, or for a fed reader), TLS */
    int refs;               /* reader handle + writer handle + flusher */
    uint8_t server_side;    /* accepted by a server (start_tls's default role) */
    uint8_t has_reader, has_writer;
    uint8_t closed;
    uint8_t abort;          /* close at once: no goodbye (abort_clients) */
    struct coio__task *goodbye; /* the task running the transport's goodbye, or NULL */
    coio_server *srv;       /* the server that accepted it, until its transport closes
                               (a reference: SV2, wait_closed waits for that) */
    struct coio__list conn_link; /* on srv->conns while srv is set */
    coio_reader r;
    coio_writer w;
};

static struct stream *of_reader(coio_reader *r) { return coio__container_of(r, struct stream, r); }
static struct stream *of_writer(coio_writer *w) { return coio__container_of(w, struct stream, w); }

static void stream_unref(struct stream *s);
static void server_conn_gone(struct stream *s);

/* The transport closes: the connection is gone (SV2). */
static void stream_close_transport(struct stream *s)
{
    s->tp.ops->close(&s->tp);
    if (s->srv)
        server_conn_gone(s);
}

/* The goodbye task ends (done, timed out, cancelled, abandoned by a closing loop,
   or never ran): the transport closes now and wait_closed returns. */
static void goodbye_end(void *arg)
{
    struct stream *s = arg;
    if (s->tp.fd >= 0)
        stream_close_transport(s);
    s->goodbye = NULL;
    wake_all(&s->w.closers);
    stream_unref(s);
}

static void *goodbye_main(void *arg)
{
    struct stream *s = arg;
    struct guard g;
    guard_push(&g, goodbye_end, s);
    int64_t deadline = coio__deadline_ns(s->tp.close_timeout);
    while (!s->abort && s->tp.ops->goodbye(&s->tp) < 0 && errno == EAGAIN &&
           coio__now_ns() < deadline && coio__transport_wait(&s->tp, deadline) == 0)
        ;
    guard_pop(&g);
    goodbye_end(s);
    return NULL;
}

/* A graceful close says goodbye first when the transport has one (TLS: the
   close_notify exchange, bounded by ssl_shutdown_timeout, TLS2). One step runs now:
   it is all when the peer's close_notify came already or the peer is gone, so a
   server closing after the client's goodbye never waits. Otherwise a task does the
   rest, holding a reference, and closes the transport; wait_closed waits for it.
   true when that task took the transport over. */
static bool goodbye_started(struct stream *s)
{
    if (!s->tp.ops->goodbye || s->abort || s->tp.close_timeout <= 0 || s->w.flushing)
        return false;
    if (s->tp.ops->goodbye(&s->tp) == 0 || errno != EAGAIN)
        return false;
    coio_loop *l = coio_loop_current();
    coio_task_opts o = {.name = "coio-tls-shutdown", .arg_dtor = goodbye_end, .eager = -1};
    coio_task *t = l ? coio_loop_spawn(l, &o, goodbye_main, s) : NULL;
    if (!t)
        return false; /* closed now: ours went out if the socket took it */
    s->goodbye = coio__as_task(t);
    s->refs++;
    coio_task_release(t);
    return true;
}

/* Close the fd: the reader then sees EOF after its buffered bytes (ST9), drain and
   wait_closed waiters are released (wait_closed: once the goodbye, if any, ended). */
static void stream_finish_close(struct stream *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    s->r.eof = 1;
    interrupt(s->r.waiter, EINTR);
    wake_all(&s->r.fedq);
    s->w.len = s->w.off = 0;
    wake_all(&s->w.drainers);
    if (s->tp.fd >= 0 && !goodbye_started(s))
        stream_close_transport(s);
    if (!s->goodbye)
        wake_all(&s->w.closers);
}

/* Close at once, without the goodbye (asyncio's transport.abort()); a goodbye
   already waiting is cut short. */
static void stream_abort(struct stream *s)
{
    s->abort = 1;
    if (s->goodbye)
        interrupt(s->goodbye, EINTR);
    stream_finish_close(s);
}

static void stream_unref(struct stream *s)
{
    if (--s->refs > 0)
        return;
    stream_finish_close(s); /* may hand the transport to its goodbye (a reference) */
    if (s->refs > 0)
        return;
    free(s->r.buf);
    free(s->w.buf);
    free(s);
}

static struct stream *stream_new(int fd, size_t limit)
{
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    coio__transport_fd_init(&s->tp, fd);
    s->r.limit = limit ? limit : COIO_STREAM_LIMIT;
    s->w.high = DEFAULT_HIGH;
    s->w.low = DEFAULT_HIGH / 4;
    coio__list_init(&s->r.fedq);
    coio__list_init(&s->w.drainers);
    coio__list_init(&s->w.closers);
    return s;
}

/* ---- reader --------------------------------------------------------------------------- */

static int reader_enter(coio_reader *r)
{
    if (!r || !coio__self()) {
        errno = EINVAL;
        return -1;
    }
    if (r->waiter) {
        errno = EBUSY;
        return -1;
    }
    r->deadline = r->timeout > 0 ? coio__deadline_ns(r->timeout) : -1;
    return 0;
}

/* Room for at least READ_CHUNK more bytes after the unread ones. */
static int reader_reserve(coio_reader *r, size_t want)
{
    if (r->cap - r->off - r->len >= want)
        return 0;
    if (r->off) {
        memmove(r->buf, r->buf + r->off, r->len);
        r->off = 0;
        if (r->cap - r->len >= want)
            return 0;
    }
    if (want > SIZE_MAX / 2 - r->len) { /* the doubling below would wrap */
        errno = ENOMEM;
        return -1;
    }
    size_t cap = r->cap ? r->cap : READ_CHUNK;
    while (cap - r->len < want)
        cap *= 2;
    char *b = realloc(r->buf, cap);
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    r->buf = b;
    r->cap = cap;
    return 0;
}

static void reader_consume(coio_reader *r, size_t n)
{
    r->off += n;
    r->len -= n;
    if (r->len == 0)
        r->off = 0;
}

/* Wait for more bytes: 1 when some arrived, 0 at EOF, -1 with errno (the sticky
   error, ECANCELED, ENOMEM). The buffer grows only on 1, and on the stored-error
   path when the read raced the error and got bytes (they stay buffered). */
static int reader_fill(coio_reader *r)
{
    if (r->err) {
        errno = r->err;
        return -1;
    }
    if (r->eof) {
        if (r->eof_err && r->len == 0) {
            errno = r->eof_err;
            return -1;
        }
        return 0;
    }
    struct stream *s = of_reader(r);
    struct coio__task *self = coio__self();
    if (r->fed) {
        r->waiter = self;
        size_t before = r->len;
        int code = lwait_park_until(self, &r->fedq, r->deadline);
        r->waiter = NULL;
        if (code == ECANCELED) { /* a delivered cancel is reported, even over an error */
            errno = ECANCELED;
            return -1;
        }
        if (r->err) {
            errno = r->err;
            return -1;
        }
        if (code) {
            errno = code;
            return -1;
        }
        return r->len > before ? 1 : r->eof ? 0 : 1;
    }
    if (s->tp.fd < 0) {
        r->eof = 1;
        return 0;
    }
    if (reader_reserve(r, READ_CHUNK) < 0)
        return -1;
    r->waiter = self;
    ssize_t n = s->tp.ops->read(&s->tp, r->buf + r->off + r->len, r->cap - r->off - r->len,
                                r->deadline);
    int e = errno;
    r->waiter = NULL;
    if (n < 0 && e == ECANCELED) { /* a delivered cancel is reported, even over an error */
        errno = ECANCELED;
        return -1;
    }
    if (n > 0) /* kept even if an error was stored meanwhile: nothing read is lost */
        r->len += (size_t)n;
    if (r->err) {
        errno = r->err;
        return -1;
    }
    if (n > 0)
        return 1;
    if (n < 0 && s->tp.unclean_eof) {
        /* TLS3: the peer left without close_notify. An EOF whose end is told as
           ECONNRESET: every byte received is still delivered (a partial read is
           ENODATA as at EOF); a call that would see the bare EOF fails instead. */
        r->eof = 1;
        r->eof_err = e;
        if (r->len)
            return 0;
        errno = e;
        return -1;
    }
    if (n == 0 || r->eof || s->closed) {
        r->eof = 1;
        return 0;
    }
    if (e == ECANCELED || e == ENOMEM || e == EINTR || e == ETIMEDOUT) {
        errno = e; /* not the connection's fault: the reader stays usable */
        return -1;
    }
    r->err = e; /* the connection is lost (ECONNRESET ...): every later read fails */
    errno = e;
    return -1;
}

coio_reader *coio_reader_new(long limit)
{
    if (limit <= 0) {
        errno = EINVAL;
        return NULL;
    }
    struct stream *s = stream_new(-1, (size_t)limit);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->r.fed = 1;
    s->r.held = 1;
    s->has_reader = 1;
    s->refs = 1;
    return &s->r;
}

int coio_reader_feed_data(coio_reader *r, const void *data, size_t n)
{
    if (!r || !r->fed || (!data && n)) {
        errno = EINVAL;
        return -1;
    }
    if (r->eof) {
        errno = EPIPE;
        return -1;
    }
    if (n == 0)
        return 0;
    if (reader_reserve(r, n) < 0)
        return -1;
    memcpy(r->buf + r->off + r->len, data, n);
    r->len += n;
    wake_all(&r->fedq);
    return 0;
}

int coio_reader_feed_eof(coio_reader *r)
{
    if (!r || !r->fed) {
        errno = EINVAL;
        return -1;
    }
    r->eof = 1;
    wake_all(&r->fedq);
    return 0;
}

int coio_reader_set_error(coio_reader *r, int err)
{
    if (!r || err <= 0) {
        errno = EINVAL;
        return -1;
    }
    r->err = err;
    interrupt(r->waiter, err);
    wake_all(&r->fedq);
    return 0;
}

int coio_reader_error(const coio_reader *r) { return r ? r->err : 0; }

/* A timeout of 0 or more seconds (infinity allowed), or -1/EINVAL (negative, NaN). */
static int check_timeout(const void *h, double seconds)
{
    if (!h || !(seconds >= 0)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int coio_reader_set_timeout(coio_reader *r, double seconds)
{
    if (check_timeout(r, seconds) < 0)
        return -1;
    r->timeout = seconds > 1e9 ? 0 : seconds; /* infinite (or ~forever): none */
    return 0;
}

double coio_reader_get_timeout(const coio_reader *r) { return r ? r->timeout : 0; }

int coio_writer_set_timeout(coio_writer *w, double seconds)
{
    if (check_timeout(w, seconds) < 0)
        return -1;
    w->timeout = seconds > 1e9 ? 0 : seconds;
    return 0;
}

double coio_writer_get_timeout(const coio_writer *w) { return w ? w->timeout : 0; }

static int64_t writer_deadline(const coio_writer *w)
{
    return w->timeout > 0 ? coio__deadline_ns(w->timeout) : -1;
}

int coio_reader_at_eof(const coio_reader *r) { return r && r->eof && r->len == 0; }

size_t coio_reader_buffered(const coio_reader *r) { return r ? r->len : 0; }

size_t coio_reader_limit(const coio_reader *r) { return r ? r->limit : 0; }

ssize_t coio_reader_read(coio_reader *r, void *buf, size_t n)
{
    if (reader_enter(r) < 0)
        return -1;
    if (r->err) {
        errno = r->err;
        return -1;
    }
    if (n == 0)
        return 0;
    if (!buf) {
        errno = EINVAL;
        return -1;
    }
    while (r->len == 0) {
        int rc = reader_fill(r);
        if (rc <= 0)
            return rc;
    }
    size_t k = r->len < n ? r->len : n;
    memcpy(buf, r->buf + r->off, k);
    reader_consume(r, k);
    return (ssize_t)k;
}

int coio_reader_read_all(coio_reader *r, void **data, size_t *len)
{
    if (reader_enter(r) < 0)
        return -1;
    if (!data) {
        errno = EINVAL;
        return -1;
    }
    int rc;
    while ((rc = reader_fill(r)) > 0)
        ;
    if (rc < 0)
        return -1; /* what was read stays buffered */
    char *out = malloc(r->len + 1);
    if (!out) {
        errno = ENOMEM;
        return -1;
    }
    if (r->len) /* r->buf is NULL until the first byte came */
        memcpy(out, r->buf + r->off, r->len);
    out[r->len] = 0;
    if (len)
        *len = r->len;
    *data = out;
    reader_consume(r, r->len);
    return 0;
}

ssize_t coio_reader_readexactly(coio_reader *r, void *buf, size_t n, coio_read_info *info)
{
    /* info is all zero on every failure but the ENODATA below (so a stored error
       that happens to be ENODATA leaves partial_len 0 and the bytes buffered). */
    if (info)
        *info = (coio_read_info){0};
    if (reader_enter(r) < 0)
        return -1;
    if (r->err) {
        errno = r->err;
        return -1;
    }
    if (n == 0)
        return 0;
    if (!buf) {
        errno = EINVAL;
        return -1;
    }
    while (r->len < n) {
        int rc = reader_fill(r);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            /* IncompleteReadError(partial, n): the buffer goes to the caller (ST4). */
            size_t k = r->len;
            if (k) /* r->buf is NULL until the first byte came */
                memcpy(buf, r->buf + r->off, k);
            reader_consume(r, k);
            if (info)
                *info = (coio_read_info){.partial_len = k, .expected = n};
            errno = ENODATA;
            return -1;
        }
    }
    memcpy(buf, r->buf + r->off, n);
    reader_consume(r, n);
    return (ssize_t)n;
}

/* The earliest end of any separator in the unread bytes from offset on, as asyncio's
   readuntil: *start gets where that separator begins. */
static bool find_sep(const coio_reader *r, size_t offset, const coio_bytes *seps, size_t nseps,
                     size_t *start, size_t *end)
{
    bool found = false;
    const char *b = r->buf + r->off;
    for (size_t i = 0; i < nseps; i++) {
        if (seps[i].len > r->len - offset)
            continue;
        const char *p = memmem(b + offset, r->len - offset, seps[i].data, seps[i].len);
        if (!p)
            continue;
        size_t s = (size_t)(p - b), e = s + seps[i].len;
        if (!found || e < *end) {
            *start = s;
            *end = e;
            found = true;
        }
    }
    return found;
}

/* readuntil_any's body. info is never NULL and is zeroed first; *own is set to
   true only when the failure is this call's own verdict on the buffered bytes
   (ENODATA at EOF, EMSGSIZE, ENOBUFS) and info was filled for it. Every other
   -1 (EINVAL, EBUSY, ECANCELED, ENOMEM, the reader's stored error, which may
   itself be ENODATA or EMSGSIZE) leaves info zero and *own false, and nothing
   was consumed. */
static ssize_t readuntil(coio_reader *r, void *buf, size_t cap, const coio_bytes *seps,
                         size_t nseps, coio_read_info *info, bool *own)
{
    *info = (coio_read_info){0};
    *own = false;
    if (reader_enter(r) < 0)
        return -1;
    if (!seps || nseps == 0 || (!buf && cap)) {
        errno = EINVAL;
        return -1;
    }
    size_t minlen = SIZE_MAX, maxlen = 0;
    for (size_t i = 0; i < nseps; i++) {
        if (!seps[i].data || seps[i].len == 0) {
            errno = EINVAL;
            return -1;
        }
        if (seps[i].len < minlen)
            minlen = seps[i].len;
        if (seps[i].len > maxlen)
            maxlen = seps[i].len;
    }
    if (r->err) {
        errno = r->err;
        return -1;
    }
    size_t offset = 0, start = 0, end = 0;
    for (;;) {
        if (r->len - offset >= minlen) {
            if (find_sep(r, offset, seps, nseps, &start, &end))
                break;
            offset = r->len + 1 > maxlen ? r->len + 1 - maxlen : 0;
            if (offset > r->limit) {
                /* LimitOverrunError: the data stays buffered (ST3). */
                *info = (coio_read_info){.consumed = offset};
                *own = true;
                errno = EMSGSIZE;
                return -1;
            }
        }
        if (r->eof && r->eof_err && r->len == 0) {
            errno = r->eof_err; /* TLS3: the end of an unclean close */
            return -1;
        }
        if (r->eof) {
            /* IncompleteReadError(all buffered bytes, None); the buffer empties. */
            if (r->len > cap) {
                *info = (coio_read_info){.needed = r->len};
                *own = true;
                errno = ENOBUFS;
                return -1;
            }
            size_t k = r->len;
            if (k)
                memcpy(buf, r->buf + r->off, k);
            reader_consume(r, k);
            *info = (coio_read_info){.partial_len = k};
            *own = true;
            errno = ENODATA;
            return -1;
        }
        int rc = reader_fill(r);
        if (rc < 0)
            return -1;
    }
    if (start > r->limit) {
        *info = (coio_read_info){.consumed = start};
        *own = true;
        errno = EMSGSIZE;
        return -1;
    }
    if (end > cap) {
        *info = (coio_read_info){.needed = end};
        *own = true;
        errno = ENOBUFS;
        return -1;
    }
    memcpy(buf, r->buf + r->off, end);
    reader_consume(r, end);
    return (ssize_t)end;
}

ssize_t coio_reader_readuntil_any(coio_reader *r, void *buf, size_t cap, const coio_bytes *seps,
                                  size_t nseps, coio_read_info *info)
{
    coio_read_info scratch;
    bool own;
    return readuntil(r, buf, cap, seps, nseps, info ? info : &scratch, &own);
}

ssize_t coio_reader_readuntil(coio_reader *r, void *buf, size_t cap, const void *sep, size_t seplen,
                              coio_read_info *info)
{
    coio_bytes b = {sep, seplen};
    return coio_reader_readuntil_any(r, buf, cap, &b, 1, info);
}

ssize_t coio_reader_readline(coio_reader *r, void *buf, size_t cap)
{
    coio_read_info info;
    coio_bytes nl = {"\n", 1};
    bool own;
    ssize_t n = readuntil(r, buf, cap, &nl, 1, &info, &own);
    if (n >= 0 || !own)
        return n; /* a stored ENODATA/EMSGSIZE is returned as is: nothing consumed */
    if (errno == ENODATA)
        return (ssize_t)info.partial_len; /* the tail without newline, then 0 */
    if (errno == EMSGSIZE) {
        /* asyncio's readline: drop the over-long line through its newline if the
           newline was seen, else the whole buffer (ST2). */
        if (info.consumed < r->len && r->buf[r->off + info.consumed] == '\n')
            reader_consume(r, info.consumed + 1);
        else
            reader_consume(r, r->len);
        errno = EMSGSIZE;
    }
    return -1;
}

void coio_reader_release(coio_reader *r)
{
    if (!r || !r->held)
        return;
    r->held = 0;
    stream_unref(of_reader(r));
}

/* ---- writer --------------------------------------------------------------------------- */

/* One nonblocking send through the transport: bytes sent, or -1 with errno
   (EAGAIN included: s->tp.want says what to wait for). */
static ssize_t raw_send(struct stream *s, const void *p, size_t n)
{
    return s->tp.ops->send(&s->tp, p, n);
}

static void writer_fail(struct stream *s, int e)
{
    s->w.err = e;
    s->w.len = s->w.off = 0;
    wake_all(&s->w.drainers);
}

static void writer_shutdown_wr(struct stream *s)
{
    s->w.eof_pending = 0;
    s->w.eof_sent = 1;
    if (s->tp.fd < 0)
        return;
    if (s->tp.ops->shutdown_wr(&s->tp) > 0)
        stream_finish_close(s); /* a pipe's only EOF is its close */
}

/* The buffer emptied: finish what close/write_eof left for this moment. */
static void writer_flushed(struct stream *s)
{
    if (s->w.closing)
        stream_finish_close(s);
    else if (s->w.eof_pending)
        writer_shutdown_wr(s);
}

static void flusher_never_ran(void *arg);

static void *flusher(void *arg)
{
    struct stream *s = arg;
    coio_writer *w = &s->w;
    struct guard g;
    guard_push(&g, flusher_never_ran, s);
    while (w->len && !w->err && s->tp.fd >= 0) {
        ssize_t k = raw_send(s, w->buf + w->off, w->len);
        if (k > 0) {
            w->off += (size_t)k;
            w->len -= (size_t)k;
            if (w->len == 0)
                w->off = 0;
            if (w->len <= w->low)
                wake_all(&w->drainers); /* every drainer at once (ST8) */
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            writer_fail(s, errno);
            break;
        }
        if (coio__transport_wait(&s->tp, -1) < 0) {
            if (errno == ECANCELED)
                break; /* loop shutdown: the data stays; release closes the fd */
            if (s->tp.fd >= 0 && errno != EBADF)
                writer_fail(s, errno);
            break;
        }
    }
    guard_pop(&g);
    w->flushing = 0;
    if (w->len == 0 || w->err)
        writer_flushed(s);
    stream_unref(s);
    return NULL;
}

static void flusher_never_ran(void *arg)
{
    struct stream *s = arg;
    s->w.flushing = 0;
    stream_unref(s);
}

static int ensure_flusher(struct stream *s)
{
    if (s->w.flushing || s->w.len == 0 || s->w.sendfiling)
        return 0;
    coio_task_opts o = {.name = "coio-stream-flush", .arg_dtor = flusher_never_ran, .eager = -1};
    coio_loop *l = coio_loop_current();
    coio_task *t = l ? coio_loop_spawn(l, &o, flusher, s) : NULL;
    if (!t)
        return -1;
    s->w.flushing = 1;
    s->refs++;
    coio_task_release(t);
    return 0;
}

static int writer_check(coio_writer *w)
{
    if (!w) {
        errno = EINVAL;
        return -1;
    }
    if (w->err) {
        errno = w->err;
        return -1;
    }
    if (w->closing || of_writer(w)->closed) {
        errno = ECONNRESET;
        return -1;
    }
    if (w->eof_pending || w->eof_sent) {
        errno = EPIPE;
        return -1;
    }
    return 0;
}

/* Append n bytes to the unsent copy. */
static int writer_append(coio_writer *w, const void *p, size_t n)
{
    if (w->cap - w->off - w->len < n) {
        if (w->off) {
            memmove(w->buf, w->buf + w->off, w->len);
            w->off = 0;
        }
        if (w->cap - w->len < n) {
            if (n > SIZE_MAX / 2 - w->len) { /* the doubling below would wrap */
                errno = ENOMEM;
                return -1;
            }
            size_t cap = w->cap ? w->cap : 4096;
            while (cap - w->len < n)
                cap *= 2;
            char *b = realloc(w->buf, cap);
            if (!b) {
                errno = ENOMEM;
                return -1;
            }
            w->buf = b;
            w->cap = cap;
        }
    }
    memcpy(w->buf + w->off + w->len, p, n);
    w->len += n;
    return 0;
}

int coio_writer_write(coio_writer *w, const void *data, size_t n)
{
    if (writer_check(w) < 0)
        return -1;
    if (!data && n) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    const char *p = data;
    if (w->len == 0 && n && !w->sendfiling) {
        ssize_t k = raw_send(s, p, n);
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            int e = errno;
            writer_fail(s, e);
            errno = e;
            return -1;
        }
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        }
    }
    if (n == 0)
        return 0;
    if (writer_append(w, p, n) < 0)
        return -1;
    return ensure_flusher(s);
}

int coio_writer_writelines(coio_writer *w, const coio_bytes *v, size_t n)
{
    if (!v && n) {
        errno = EINVAL;
        return -1;
    }
    if (writer_check(w) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (coio_writer_write(w, v[i].data, v[i].len) < 0)
            return -1;
    return 0;
}

int coio_writer_drain(coio_writer *w)
{
    struct coio__task *self = coio__self();
    if (!w || !self) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    int64_t deadline = writer_deadline(w);
    for (;;) {
        if (s->has_reader && s->r.err) {
            errno = s->r.err;
            return -1;
        }
        if (w->err) {
            errno = w->err;
            return -1;
        }
        if (w->closing || s->closed) {
            errno = ECONNRESET;
            return -1;
        }
        if (w->len <= w->high)
            return 0;
        if (ensure_flusher(s) < 0)
            return -1;
        int code = lwait_park_until(self, &w->drainers, deadline);
        if (code) {
            errno = code;
            return -1;
        }
        if (w->len <= w->low && !w->err && !w->closing && !s->closed)
            return 0;
    }
}

int coio_writer_set_write_buffer_limits(coio_writer *w, size_t high, size_t low)
{
    if (!w) {
        errno = EINVAL;
        return -1;
    }
    if (high == 0 && low == 0) {
        high = DEFAULT_HIGH;
        low = high / 4;
    } else if (low == 0 && high) {
        low = high / 4;
    }
    if (low > high) {
        errno = EINVAL;
        return -1;
    }
    w->high = high;
    w->low = low;
    if (w->len <= w->low)
        wake_all(&w->drainers);
    return 0;
}

size_t coio_writer_buffer_size(const coio_writer *w) { return w ? w->len : 0; }

/* sendfile's fallback over a transport that cannot take it (TLS): the file through
   the writer in 64 KiB pieces, each drained; the file position ends at offset + the
   bytes sent (SF2). */
static ssize_t writer_copy_file(coio_writer *w, int fd, off_t offset, size_t count)
{
    char *buf = malloc(64 * 1024);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    size_t sent = 0;
    ssize_t rc = 0;
    while (count == 0 || sent < count) {
        size_t want = 64 * 1024;
        if (count && count - sent < want)
            want = count - sent;
        ssize_t k = pread(fd, buf, want, offset + (off_t)sent);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k;
            break;
        }
        if (coio_writer_write(w, buf, (size_t)k) < 0 || coio_writer_drain(w) < 0) {
            rc = -1;
            break;
        }
        sent += (size_t)k;
    }
    int e = errno;
    free(buf);
    lseek(fd, offset + (off_t)sent, SEEK_SET);
    if (rc < 0 && sent == 0) {
        errno = e;
        return -1;
    }
    return (ssize_t)sent;
}

/* SF1-SF4 on a stream: wait until what the writer holds is sent (nothing may overtake
   it), then send the file range on the fd itself. Writes made meanwhile (by other
   tasks) only queue, and go out after it. */
ssize_t coio_writer_sendfile(coio_writer *w, int fd, off_t offset, size_t count, int flags)
{
    struct coio__task *self = coio__self();
    if (!self) {
        errno = EINVAL;
        return -1;
    }
    if (writer_check(w) < 0)
        return -1;
    struct stream *s = of_writer(w);
    if (w->sendfiling) {
        errno = EBUSY;
        return -1;
    }
    if (offset < 0 || (flags & ~COIO_SENDFILE_NO_FALLBACK) || fd < 0) {
        errno = fd < 0 ? EBADF : EINVAL;
        return -1;
    }
    int64_t deadline = writer_deadline(w);
    while (w->len) {
        if (ensure_flusher(s) < 0)
            return -1;
        int code = lwait_park_until(self, &w->drainers, deadline);
        if (code) {
            errno = code;
            return -1;
        }
        if (writer_check(w) < 0)
            return -1;
    }
    if (s->tp.fd < 0) {
        errno = ECONNRESET;
        return -1;
    }
    if (s->tp.tls) /* SF3: TLS has no sendfile(2): read + write, or EOPNOTSUPP */
        return (flags & COIO_SENDFILE_NO_FALLBACK) ? (errno = EOPNOTSUPP, -1)
                                                   : writer_copy_file(w, fd, offset, count);
    w->sendfiling = 1;
    ssize_t n = coio__sendfile(s->tp.fd, fd, offset, count, flags, deadline);
    int e = errno;
    w->sendfiling = 0;
    if (n < 0 && s->closed) {
        e = ECONNRESET; /* closed under us (abort_clients, close) */
    } else if (n < 0 && (e == EPIPE || e == ECONNRESET || e == ENOTCONN)) {
        writer_fail(s, e); /* the connection is lost: every later write says so */
    } else if (w->len && ensure_flusher(s) < 0) {
        e = errno;
        n = -1;
    }
    errno = e;
    return n;
}

int coio_writer_can_write_eof(const coio_writer *w)
{
    return w && of_writer((coio_writer *)w)->tp.ops->shutdown_wr;
}

int coio_writer_write_eof(coio_writer *w)
{
    if (!w) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    if (!s->tp.ops->shutdown_wr) { /* TLS cannot half-close (TLS4) */
        errno = ENOTSUP;
        return -1;
    }
    if (w->closing || s->closed) {
        errno = ECONNRESET;
        return -1;
    }
    if (w->eof_pending || w->eof_sent)
        return 0;
    w->eof_pending = 1;
    if (w->len == 0 || w->err)
        writer_shutdown_wr(s);
    else if (ensure_flusher(s) < 0)
        writer_shutdown_wr(s); /* no task for the rest: what is buffered is lost */
    return 0;
}

int coio_writer_close(coio_writer *w)
{
    if (!w) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    if (w->closing)
        return 0;
    w->closing = 1;
    if (w->len == 0 || w->err || s->tp.fd < 0 || ensure_flusher(s) < 0)
        stream_finish_close(s);
    return 0;
}

int coio_writer_is_closing(const coio_writer *w)
{
    return w && (w->closing || of_writer((coio_writer *)w)->closed);
}

int coio_writer_wait_closed(coio_writer *w)
{
    struct coio__task *self = coio__self();
    if (!w || !self) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    int64_t deadline = writer_deadline(w);
    while (!s->closed || s->goodbye) { /* TLS: the close_notify exchange ends first */
        int code = lwait_park_until(self, &w->closers, deadline);
        if (code) {
            errno = code;
            return -1;
        }
    }
    return 0;
}

static int writer_name(coio_writer *w, struct sockaddr *sa, socklen_t *len, bool peer)
{
    if (!w || !sa || !len) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    if (s->tp.fd < 0) {
        errno = EBADF;
        return -1;
    }
    return peer ? getpeername(s->tp.fd, sa, len) : getsockname(s->tp.fd, sa, len);
}

int coio_writer_peername(coio_writer *w, struct sockaddr *sa, socklen_t *len)
{
    return writer_name(w, sa, len, true);
}

int coio_writer_sockname(coio_writer *w, struct sockaddr *sa, socklen_t *len)
{
    return writer_name(w, sa, len, false);
}

int coio_writer_fd(const coio_writer *w) { return w ? of_writer((coio_writer *)w)->tp.fd : -1; }

void coio_writer_release(coio_writer *w)
{
    if (!w || !w->held)
        return;
    w->held = 0;
    coio_writer_close(w); /* buffered bytes are still sent, by the flusher */
    stream_unref(of_writer(w));
}

/* ---- fds, connections ----------------------------------------------------------------- */

static size_t opts_limit(const coio_stream_opts *o) { return o && o->limit ? o->limit : 0; }

static int open_stream(int fd, size_t limit, coio_reader **r, coio_writer **w)
{
    struct stream *s = stream_new(fd, limit);
    if (!s) {
        errno = ENOMEM;
        return -1;
    }
    if (r) {
        s->has_reader = s->r.held = 1;
        s->refs++;
        *r = &s->r;
    }
    if (w) {
        s->has_writer = s->w.held = 1;
        s->refs++;
        *w = &s->w;
    }
    return 0;
}

int coio_open_fd(int fd, const coio_stream_opts *opts, coio_reader **r, coio_writer **w)
{
    if (fd < 0 || (!r && !w) || (opts && opts->limit > (size_t)SSIZE_MAX)) {
        errno = EINVAL;
        return -1;
    }
    if (fcntl(fd, F_GETFD) < 0)
        return -1;
    return open_stream(fd, opts_limit(opts), r, w);
}

struct gai_job {
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo *res;
    int rc, err;
};

static void *gai_thread(void *arg)
{
    struct gai_job *j = arg;
    j->rc = getaddrinfo(j->node, j->service, j->hints, &j->res);
    j->err = errno;
    return NULL;
}

int coio_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res)
{
    if (!res || !coio__self() || (!node && !service)) {
        errno = EINVAL;
        return EAI_SYSTEM;
    }
    struct gai_job j = {node, service, hints, NULL, 0, 0};
    if (coio_to_thread(gai_thread, &j, NULL) < 0) {
        int e = errno;
        if (j.res) /* it ran, then the caller was cancelled: the result is ours to drop */
            freeaddrinfo(j.res);
        errno = e;
        return EAI_SYSTEM;
    }
    if (j.rc == EAI_SYSTEM)
        errno = j.err;
    *res = j.res;
    return j.rc;
}

/* Resolve host:port for sockets of socktype (shared by streams and datagram
   endpoints). A numeric host (or none) needs no name service and so no thread;
   anything else goes through coio_getaddrinfo, with name_flags added to its
   hints. Returns 0 or -1 with errno (ENOENT: no such name, EAGAIN: temporary
   failure, EINVAL: bad port or family). */
int coio__resolve(const char *host, int port, int family, int socktype, bool passive,
                  int name_flags, struct addrinfo **res)
{
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    char svc[8];
    snprintf(svc, sizeof svc, "%d", port);
    struct addrinfo hints = {.ai_family = family, .ai_socktype = socktype,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    unsigned char tmp[sizeof(struct in6_addr)];
    int rc;
    if (!host || inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1) {
        hints.ai_flags |= host ? AI_NUMERICHOST : 0;
        rc = getaddrinfo(host, svc, &hints, res);
    } else {
        hints.ai_flags |= name_flags;
        rc = coio_getaddrinfo(host, svc, &hints, res);
    }
    switch (rc) {
    case 0:
        return 0;
    case EAI_SYSTEM:
        return -1;
    case EAI_AGAIN:
        errno = EAGAIN;
        return -1;
    case EAI_MEMORY:
        errno = ENOMEM;
        return -1;
    case EAI_FAMILY:
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        errno = EINVAL;
        return -1;
    default:
        errno = ENOENT;
        return -1;
    }
}

static void set_nodelay(int fd, const coio_stream_opts *opts)
{
    if (!opts || opts->nodelay >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

/* ---- TLS on a stream (tls.c does the TLS; transport.h) ---------------------------- */

/* Put TLS on s's connection and run the handshake (the transport closes on failure
   by the caller). */
static int stream_tls(struct stream *s, coio_tls_context *ctx, const char *hostname,
                      bool server_side, const coio_stream_opts *opts)
{
    if (coio__tls_attach(&s->tp, ctx, hostname, server_side, opts) < 0)
        return -1;
    return coio__tls_handshake(&s->tp, opts ? opts->tls_handshake_timeout : 0);
}

struct pair {
    coio_reader **r;
    coio_writer **w;
};

static void release_pair(void *arg)
{
    struct pair *p = arg;
    coio_writer_release(*p->w);
    coio_reader_release(*p->r);
    *p->w = NULL;
    *p->r = NULL;
}

/* The client's handshake when opts ask for TLS (TLS1: server_hostname defaults to
   the host; needed when there is none and host names are checked). On failure r
   and w are released (the connection closes) and errno tells why. */
static int open_tls(const coio_stream_opts *opts, const char *host, coio_reader **r,
                    coio_writer **w)
{
    if (!opts || !opts->tls)
        return 0;
    const char *name = opts->server_hostname ? opts->server_hostname : host;
    int rc;
    if (!name && coio__tls_context_checks_host(opts->tls)) {
        errno = EINVAL;
        rc = -1;
    } else {
        struct pair pair = {r, w};
        struct guard g; /* the task ending mid-handshake (loop close) closes it */
        guard_push(&g, release_pair, &pair);
        rc = stream_tls(of_writer(*w), opts->tls, name, false, opts);
        guard_pop(&g);
    }
    if (rc < 0) {
        int e = errno;
        coio_writer_release(*w);
        coio_reader_release(*r);
        *w = NULL;
        *r = NULL;
        errno = e;
    }
    return rc;
}

int coio_writer_start_tls(coio_writer *w, coio_tls_context *ctx, const coio_stream_opts *opts)
{
    struct coio__task *self = coio__self();
    if (!w || !ctx || !self) {
        errno = EINVAL;
        return -1;
    }
    struct stream *s = of_writer(w);
    if (s->tp.tls) {
        errno = EALREADY;
        return -1;
    }
    if (s->has_reader && (s->r.waiter || s->r.len)) {
        errno = EBUSY;
        return -1;
    }
    while (w->len) { /* what was written in the clear goes first */
        if (writer_check(w) < 0 || ensure_flusher(s) < 0)
            return -1;
        int code = lwait_park(self, &w->drainers);
        if (code) {
            errno = code;
            return -1;
        }
    }
    if (writer_check(w) < 0)
        return -1;
    if (s->tp.fd < 0) {
        errno = EINVAL;
        return -1;
    }
    int role = coio__tls_context_role(ctx);
    bool server_side = role == COIO_TLS_SERVER || (role != COIO_TLS_CLIENT && s->server_side);
    s->refs++; /* the handles may be released by another task meanwhile */
    int rc = stream_tls(s, ctx, opts ? opts->server_hostname : NULL, server_side, opts);
    int e = errno;
    if (rc < 0 && e != EINVAL && e != EALREADY && e != ENOTSUP)
        stream_finish_close(s); /* asyncio closes the transport of a failed start_tls */
    stream_unref(s);
    errno = e;
    return rc;
}

const char *coio_stream_tls_error(const coio_writer *w)
{
    if (!w)
        return coio__tls_last_error();
    return coio__tls_error(&of_writer((coio_writer *)w)->tp);
}

const char *coio_writer_tls_version(const coio_writer *w)
{
    return w ? coio__tls_version(&of_writer((coio_writer *)w)->tp) : NULL;
}

const char *coio_writer_tls_cipher(const coio_writer *w)
{
    return w ? coio__tls_cipher(&of_writer((coio_writer *)w)->tp) : NULL;
}

const char *coio_writer_tls_alpn(const coio_writer *w)
{
    return w ? coio__tls_alpn(&of_writer((coio_writer *)w)->tp) : NULL;
}

int coio_writer_tls_peer_subject(const coio_writer *w, char *buf, size_t len)
{
    if (!w) {
        errno = EINVAL;
        return -1;
    }
    return coio__tls_peer_subject(&of_writer((coio_writer *)w)->tp, buf, len);
}

void *coio_writer_ssl(const coio_writer *w)
{
    return w ? coio__tls_ssl(&of_writer((coio_writer *)w)->tp) : NULL;
}

int coio_open_connection(const char *host, int port, const coio_stream_opts *opts, coio_reader **r,
                         coio_writer **w)
{
    if (!coio__self() || !host || !r || !w) {
        errno = EINVAL;
        return -1;
    }
    struct addrinfo *res;
    if (coio__resolve(host, port, opts ? opts->family : AF_UNSPEC, SOCK_STREAM, false, 0, &res) < 0)
        return -1;
    int err = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = coio_socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (coio_connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            coio_close(fd);
            if (err == ECANCELED)
                break;
            continue;
        }
        freeaddrinfo(res);
        set_nodelay(fd, opts);
        if (open_stream(fd, opts_limit(opts), r, w) < 0) {
            coio_close(fd);
            errno = ENOMEM;
            return -1;
        }
        return open_tls(opts, host, r, w);
    }
    freeaddrinfo(res);
    errno = err;
    return -1;
}

static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof sa->sun_path) {
        errno = n ? ENAMETOOLONG : EINVAL;
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int coio_open_unix_connection(const char *path, const coio_stream_opts *opts, coio_reader **r,
                              coio_writer **w)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (!coio__self() || !r || !w) {
        errno = EINVAL;
        return -1;
    }
    if (unix_addr(path, &sa, &len) < 0)
        return -1;
    int fd = coio_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (coio_connect(fd, (struct sockaddr *)&sa, len) < 0 ||
        open_stream(fd, opts_limit(opts), r, w) < 0) {
        int e = errno;
        coio_close(fd);
        errno = e;
        return -1;
    }
    return open_tls(opts, NULL, r, w);
}

/* ---- servers -------------------------------------------------------------------------- */

struct coio_server {
    int refs;                   /* the user's + one per acceptor task + one per client task */
    uint8_t closed;
    uint8_t unix_sock;
    size_t nsock;
    int *fds;                   /* listening sockets, -1 once closed; owned */
    coio_task **acceptors;      /* one per socket, references owned */
    coio_client_cb cb;
    void *arg;
    coio_stream_opts opts;
    size_t nactive;             /* client tasks not done */
    struct coio__list clients;  /* struct client of those tasks (close_clients) */
    struct coio__list conns;    /* struct stream accepted and not closed yet: a handler's,
                                   or one still flushing or saying goodbye after it
                                   (abort_clients, wait_closed: SV2, SV4) */
    struct coio__list closers;  /* wait_closed */
    struct coio__list serving;  /* serve_forever */
    char *path;                 /* Unix server: the socket file, unlinked on close; owned */
    dev_t dev;
    ino_t ino;
};

static void server_unref(coio_server *s)
{
    if (--s->refs > 0)
        return;
    coio__assert(coio__list_empty(&s->conns)); /* each holds a reference */
    coio_tls_context_release(s->opts.tls);
    free(s->fds);
    free(s->acceptors);
    free(s->path);
    free(s);
}

struct client {
    coio_server *srv;
    coio_reader *r;
    coio_writer *w;
    struct guard g;
    struct coio__list link;     /* on srv->clients until client_end */
};

static void client_end(struct client *c)
{
    coio__list_del(&c->link);
    coio_reader_release(c->r);
    coio_writer_release(c->w);
    coio_server *s = c->srv;
    free(c);
    if (--s->nactive == 0 && s->closed)
        wake_all(&s->closers);
    server_unref(s);
}

/* An accepted connection's transport closed (stream_close_transport). */
static void server_conn_gone(struct stream *st)
{
    coio_server *s = st->srv;
    st->srv = NULL;
    coio__list_del(&st->conn_link);
    if (s->closed && coio__list_empty(&s->conns))
        wake_all(&s->closers);
    server_unref(s);
}

static void report_client_error(int e, const char *msg)
{
    fprintf(stderr, "coio: unhandled error in client_connected_cb: %s%s%s\n", strerror(e),
            msg ? ": " : "", msg ? msg : "");
}

/* The client task ends without returning from the callback: coio_fail inside it
   (ST10: report it, unless it is a cancel) or the loop closing under it. */
static void client_abandoned(void *arg)
{
    struct client *c = arg;
    struct coio__task *t = coio__self();
    if (t && t->f.state == COIO_FAILED) {
        t->f.retrieved = 1; /* reported here, not again as "never retrieved" */
        report_client_error(t->f.err, t->f.errmsg);
    }
    client_end(c);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    guard_push(&c->g, client_abandoned, c);
    if (c->srv->opts.tls &&
        stream_tls(of_writer(c->w), c->srv->opts.tls, NULL, true, &c->srv->opts) < 0) {
        guard_pop(&c->g); /* the handshake failed: close quietly, no callback */
        client_end(c);
        return NULL;
    }
    int rc = c->srv->cb(c->r, c->w, c->srv->arg);
    int e = errno;
    guard_pop(&c->g);
    if (rc < 0 && e != ECANCELED)
        report_client_error(e > 0 ? e : EIO, NULL);
    client_end(c); /* closes the connection; the bytes written are still sent */
    return NULL;
}

/* The client never ran (cancelled before its first step, or the loop closed). */
static void client_never_ran(void *arg) { client_end(arg); }

/* The client task's name: "client ADDR:PORT" after the peer, "client unix"
   for a Unix-domain socket (task dumps, debug reports). */
static void client_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(buf, len, "client");
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(buf, len, "client %s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(buf, len, "client [%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    } else {
        snprintf(buf, len, ss.ss_family == AF_UNIX ? "client unix" : "client");
    }
}

static void start_client(coio_server *s, int fd)
{
    struct client *c = calloc(1, sizeof *c);
    if (c)
        coio__list_init(&c->link);
    if (!c || open_stream(fd, opts_limit(&s->opts), &c->r, &c->w) < 0) {
        free(c);
        coio_close(fd);
        return;
    }
    c->srv = s;
    of_writer(c->w)->server_side = 1;
    of_writer(c->w)->srv = s; /* the connection's reference */
    coio__list_push(&s->conns, &of_writer(c->w)->conn_link);
    s->refs++;
    s->refs++;
    s->nactive++;
    coio__list_push(&s->clients, &c->link);
    char name[64];
    client_name(fd, name, sizeof name);
    coio_task_opts o = {.name = name, .stack_size = s->opts.stack_size,
                        .arg_dtor = client_never_ran, .eager = -1};
    coio_task *t = coio_spawn_opts(&o, client_main, c);
    if (!t) {
        client_end(c);
        return;
    }
    coio_task_release(t);
}

struct acceptor_arg {
    coio_server *srv;
    size_t i;
};

static void acceptor_abandoned(void *arg) { server_unref(arg); }

static void *acceptor(void *arg)
{
    coio_server *s = ((struct acceptor_arg *)arg)->srv;
    size_t i = ((struct acceptor_arg *)arg)->i;
    free(arg);
    struct guard g;
    guard_push(&g, acceptor_abandoned, s);
    double backoff = 0.01;
    while (!s->closed && s->fds[i] >= 0) {
        int fd = coio_accept(s->fds[i], NULL, NULL);
        if (fd >= 0) {
            backoff = 0.01;
            if (!s->unix_sock)
                set_nodelay(fd, &s->opts);
            start_client(s, fd);
            continue;
        }
        int e = errno;
        if (e == ECANCELED || e == EBADF || e == EINVAL || e == ENOTSOCK)
            break;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            /* Out of fds or memory: the pending connection stays in the backlog; try
               again after a pause that grows to a second, never spinning. */
            if (coio_sleep(backoff) < 0)
                break;
            backoff = backoff * 2 > 1.0 ? 1.0 : backoff * 2;
        }
        /* ECONNABORTED, ECONNRESET, EPROTO, EPERM ...: that client is gone; go on. */
    }
    guard_pop(&g);
    server_unref(s);
    return NULL;
}

static void acceptor_never_ran(void *arg)
{
    struct acceptor_arg *a = arg;
    server_unref(a->srv);
    free(a);
}

static coio_server *server_new(coio_client_cb cb, void *arg, const coio_stream_opts *opts, size_t n)
{
    if (opts && opts->tls && !(coio__tls_context_role(opts->tls) & COIO_TLS_SERVER)) {
        errno = EINVAL; /* a client-only TLS context */
        return NULL;
    }
    coio_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fds = malloc(n * sizeof *s->fds);
    s->acceptors = calloc(n, sizeof *s->acceptors);
    if (!s->fds || !s->acceptors) {
        free(s->fds);
        free(s->acceptors);
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        s->fds[i] = -1;
    s->refs = 1;
    s->cb = cb;
    s->arg = arg;
    if (opts)
        s->opts = *opts;
    s->opts.server_hostname = NULL; /* not ours to keep */
    coio__tls_context_ref(s->opts.tls);
    coio__list_init(&s->closers);
    coio__list_init(&s->serving);
    coio__list_init(&s->clients);
    coio__list_init(&s->conns);
    return s;
}

static void close_listeners(coio_server *s)
{
    for (size_t i = 0; i < s->nsock; i++)
        if (s->fds[i] >= 0) {
            coio_close(s->fds[i]);
            s->fds[i] = -1;
        }
}

static int server_start(coio_server *s)
{
    int backlog = s->opts.backlog > 0 ? s->opts.backlog : 100;
    for (size_t i = 0; i < s->nsock; i++) {
        if (listen(s->fds[i], backlog) < 0)
            return -1;
    }
    for (size_t i = 0; i < s->nsock; i++) {
        struct acceptor_arg *a = malloc(sizeof *a);
        if (!a) {
            errno = ENOMEM;
            return -1;
        }
        *a = (struct acceptor_arg){s, i};
        coio_task_opts o = {.name = "coio-accept", .arg_dtor = acceptor_never_ran, .eager = -1};
        s->acceptors[i] = coio_spawn_opts(&o, acceptor, a);
        if (!s->acceptors[i]) {
            free(a);
            return -1;
        }
        s->refs++;
    }
    return 0;
}

static void server_fail(coio_server *s)
{
    int e = errno;
    coio_server_close(s);
    coio_server_release(s);
    errno = e;
}

coio_server *coio_start_server(coio_client_cb cb, void *arg, const char *host, int port,
                               const coio_stream_opts *opts)
{
    if (!cb || !coio__self() || (opts && opts->limit > (size_t)SSIZE_MAX)) {
        errno = EINVAL;
        return NULL;
    }
    struct addrinfo *res;
    if (coio__resolve(host, port, opts ? opts->family : AF_UNSPEC, SOCK_STREAM, true, AI_ADDRCONFIG,
                      &res) < 0)
        return NULL;
    size_t n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    coio_server *s = server_new(cb, arg, opts, n);
    if (!s) {
        freeaddrinfo(res);
        return NULL;
    }
    int one = 1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = coio_socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            goto fail;
        s->fds[s->nsock++] = fd;
        if ((!opts || opts->reuse_address >= 0) &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            goto fail;
        if (opts && opts->reuse_port > 0 &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            goto fail;
        /* A wildcard v6 socket would also take v4 and collide with the v4 one. */
        if (ai->ai_family == AF_INET6 &&
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
            goto fail;
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
            goto fail;
    }
    freeaddrinfo(res);
    res = NULL;
    if (server_start(s) < 0)
        goto fail;
    return s;
fail:
    if (res)
        freeaddrinfo(res);
    server_fail(s);
    return NULL;
}

coio_server *coio_start_unix_server(coio_client_cb cb, void *arg, const char *path,
                                    const coio_stream_opts *opts)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (!cb || !coio__self() || (opts && opts->limit > (size_t)SSIZE_MAX)) {
        errno = EINVAL;
        return NULL;
    }
    if (unix_addr(path, &sa, &len) < 0)
        return NULL;
    coio_server *s = server_new(cb, arg, opts, 1);
    if (!s)
        return NULL;
    s->unix_sock = 1;
    /* A socket file left by an earlier server is stale: replace it (asyncio does). */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = coio_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        goto fail;
    s->fds[s->nsock++] = fd;
    if (bind(fd, (struct sockaddr *)&sa, len) < 0)
        goto fail;
    if (stat(path, &st) == 0) {
        s->path = strdup(path);
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    if (server_start(s) < 0)
        goto fail;
    return s;
fail:
    server_fail(s);
    return NULL;
}

int coio_server_close(coio_server *s)
{
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    if (s->closed)
        return 0;
    s->closed = 1;
    for (size_t i = 0; i < s->nsock; i++)
        if (s->acceptors[i]) {
            coio_cancel(s->acceptors[i]);
            coio_task_release(s->acceptors[i]);
            s->acceptors[i] = NULL;
        }
    close_listeners(s);
    if (s->path) {
        /* Remove our socket file, but not one another server has put there since. */
        struct stat st;
        if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
            unlink(s->path);
    }
    wake_all(&s->serving);
    if (s->nactive == 0)
        wake_all(&s->closers);
    return 0;
}

int coio_server_is_serving(const coio_server *s) { return s && !s->closed; }

int coio_server_wait_closed(coio_server *s)
{
    struct coio__task *self = coio__self();
    if (!s || !self) {
        errno = EINVAL;
        return -1;
    }
    s->refs++;
    int rc = 0;
    while (!s->closed || s->nactive || !coio__list_empty(&s->conns)) {
        int code = lwait_park(self, &s->closers);
        if (code) {
            errno = code;
            rc = -1;
            break;
        }
    }
    int e = errno;
    server_unref(s);
    errno = e;
    return rc;
}

int coio_server_serve_forever(coio_server *s)
{
    struct coio__task *self = coio__self();
    if (!s || !self) {
        errno = EINVAL;
        return -1;
    }
    if (s->closed) {
        errno = ESHUTDOWN;
        return -1;
    }
    s->refs++;
    int code = 0;
    while (!s->closed && !code)
        code = lwait_park(self, &s->serving);
    if (code) {
        /* Cancelled: asyncio closes the server and waits for it before re-raising. */
        coio_server_close(s);
        coio_server_wait_closed(s);
    }
    server_unref(s);
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

/* SV3/SV4: close every client's connection. Gracefully: the writer is closed as
   coio_writer_close does (what it holds is sent first, then the fd closes and the
   handler's reader sees EOF). At once: what the writer holds is dropped and the fd
   closed now. Either way a handler waiting in a read wakes with EOF, and its later
   writes fail (ECONNRESET, a closed writer). Nothing here waits, and the client
   list is not changed while it is walked: closing only queues the handlers.
   Aborting also reaches the connections whose handler has returned but which are
   still flushing or saying goodbye (asyncio aborts every transport); each leaves
   the list as its transport closes, so the walk keeps the next one first. */
static int server_close_clients(coio_server *s, bool abort)
{
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    if (abort) {
        for (struct coio__list *n = s->conns.next, *next; n != &s->conns; n = next) {
            next = n->next;
            /* drops the unsent bytes, no goodbye */
            stream_abort(coio__container_of(n, struct stream, conn_link));
        }
        return 0;
    }
    for (struct coio__list *n = s->clients.next; n != &s->clients; n = n->next)
        coio_writer_close(coio__container_of(n, struct client, link)->w);
    return 0;
}

int coio_server_close_clients(coio_server *s) { return server_close_clients(s, false); }

int coio_server_abort_clients(coio_server *s) { return server_close_clients(s, true); }

size_t coio_server_nclients(const coio_server *s) { return s ? s->nactive : 0; }

size_t coio_server_nsockets(const coio_server *s) { return s ? s->nsock : 0; }

int coio_server_sockname(const coio_server *s, size_t i, struct sockaddr *sa, socklen_t *len)
{
    if (!s || i >= s->nsock || !sa || !len) {
        errno = EINVAL;
        return -1;
    }
    if (s->fds[i] < 0) {
        errno = EBADF;
        return -1;
    }
    return getsockname(s->fds[i], sa, len);
}

int coio_server_port(const coio_server *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (coio_server_sockname(s, 0, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    errno = EAFNOSUPPORT;
    return -1;
}

void coio_server_release(coio_server *s)
{
    if (!s)
        return;
    coio_server_close(s);
    server_unref(s);
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_stream(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                           struct coio__dbuf *b)
{
    (void)t;
    (void)now;
    if (w->unlink != lwait_unlink)
        return false;
    coio__db_str(b, "stream (drain, reader data, close or server)");
    return true;
}
