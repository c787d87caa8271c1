/* queue.c — Queue, LifoQueue and PriorityQueue after asyncio's queues.py
 * (3.13): bounded or not, put/get that suspend, task_done/join, shutdown.
 * A woken waiter is taken off its list by the waker (asyncio's
 * _wakeup_next), and re-checks the queue when it runs: a getter cancelled
 * after its wake-up leaves the item queued and wakes the next getter (Q5), a
 * putter cancelled after its wake-up hands the free slot on (Q6). Waiters live
 * on the waiting task's stack; only the item storage is allocated (at creation,
 * and when an unbounded queue grows). */
#include "coio_int.h"
#include "dump.h"

#include <stdlib.h>

enum { FIFO, LIFO, PRIO };

struct qitem {
    void *item;
    uint64_t seq; /* PriorityQueue: insertion order breaks ties (FIFO) */
};

struct coio_queue {
    int kind;
    long maxsize;                 /* <= 0: unbounded */
    struct qitem *v;              /* ring (FIFO), stack (LIFO) or heap (PRIO); owned */
    size_t cap, head, n;
    uint64_t seq;
    int (*cmp)(const void *, const void *);
    long unfinished;              /* puts not yet matched by task_done */
    int shutdown;
    struct coio__list getters, putters, joiners; /* struct qwaiter_task on task stacks */
};

struct qwaiter {
    struct coio__list link;
    struct coio__wait w;
    uint8_t woken;
};

static int qwaiter_cancel(struct coio__wait *w, struct coio__task *t)
{
    struct qwaiter *q = coio__container_of(w, struct qwaiter, w);
    coio__list_del(&q->link);
    coio__wake(t, ECANCELED);
    return 1;
}

struct qwaiter_task {
    struct qwaiter q;
    struct coio__task *task;
    coio_queue *queue;
    struct coio__list *list;      /* getters, putters or joiners */
};

/* Wake the first waiter of list and take it off (asyncio _wakeup_next).
   Inlined: every put and get calls it. The node is left linked to itself, so
   that the waiter's unlink at loop close stays harmless. */
static inline __attribute__((always_inline)) void wakeup_next(struct coio__list *list)
{
    struct coio__list *n = list->next;
    if (n == list)
        return;
    list->next = n->next;
    n->next->prev = list;
    n->prev = n->next = n;
    struct qwaiter_task *w = coio__container_of(n, struct qwaiter_task, q.link);
    w->q.woken = 1;
    coio__wake(w->task, 0);
}

/* Only loop close unlinks these: the task is destroyed, parked or woken but
   not run. A woken getter hands its wake-up on while items are left (as Q5),
   a woken putter the free slot (as Q6), so waiters of other loops go on. */
static void qwaiter_unlink(struct coio__wait *w)
{
    struct qwaiter_task *t = coio__container_of(w, struct qwaiter_task, q.w);
    coio__list_del(&t->q.link);
    if (!t->q.woken || !t->task->f.loop->closed)
        return;
    t->q.woken = 0; /* once */
    coio_queue *q = t->queue;
    if (t->list == &q->getters && q->n)
        wakeup_next(&q->getters);
    else if (t->list == &q->putters && !coio_queue_full(q))
        wakeup_next(&q->putters);
}

/* unfinished reached 0: release every join(). */
static void wake_joiners(coio_queue *q)
{
    while (!coio__list_empty(&q->joiners))
        wakeup_next(&q->joiners);
}

static int wait_in(coio_queue *q, struct coio__task *self, struct coio__list *list,
                   struct qwaiter_task *w)
{
    w->task = self;
    w->queue = q;
    w->list = list;
    w->q.woken = 0;
    w->q.w.cancel = qwaiter_cancel;
    w->q.w.unlink = qwaiter_unlink;
    coio__list_push(list, &w->q.link);
    /* Every way out of the wait has taken the record off the list already:
       wakeup_next, qwaiter_cancel and qwaiter_unlink (loop close) unlink it. */
    return coio__park_inline(self, &w->q.w, -1, 0);
}

static coio_queue *queue_new(int kind, long maxsize, int (*cmp)(const void *, const void *))
{
    coio_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    q->cap = maxsize > 0 && maxsize < 1024 ? (size_t)maxsize : 16;
    q->v = malloc(q->cap * sizeof *q->v);
    if (!q->v) {
        free(q);
        return NULL;
    }
    coio__list_init(&q->getters);
    coio__list_init(&q->putters);
    coio__list_init(&q->joiners);
    return q;
}

coio_queue *coio_queue_new(long maxsize) { return queue_new(FIFO, maxsize, NULL); }
coio_queue *coio_lifo_queue_new(long maxsize) { return queue_new(LIFO, maxsize, NULL); }

coio_queue *coio_priority_queue_new(long maxsize, int (*cmp)(const void *, const void *))
{
    if (!cmp) {
        errno = EINVAL;
        return NULL;
    }
    return queue_new(PRIO, maxsize, cmp);
}

int coio_queue_free(coio_queue *q)
{
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    if (!coio__list_empty(&q->getters) || !coio__list_empty(&q->putters) ||
        !coio__list_empty(&q->joiners)) {
        errno = EBUSY;
        return -1;
    }
    free(q->v);
    free(q);
    return 0;
}

size_t coio_queue_qsize(const coio_queue *q) { return q ? q->n : 0; }
int coio_queue_empty(const coio_queue *q) { return !q || q->n == 0; }
int coio_queue_full(const coio_queue *q) { return q && q->maxsize > 0 && (long)q->n >= q->maxsize; }

/* coio_queue_full for a known queue, inlined on the put path. */
static inline bool is_full(const coio_queue *q) { return q->maxsize > 0 && (long)q->n >= q->maxsize; }

/* Ring index head + i (i <= cap) without a division: put/get run per item. */
static inline size_t ring_at(const coio_queue *q, size_t i)
{
    size_t k = q->head + i;
    return k >= q->cap ? k - q->cap : k;
}
long coio_queue_maxsize(const coio_queue *q) { return q ? q->maxsize : 0; }

/* ---- storage ------------------------------------------------------------------ */

static __attribute__((noinline)) int grow(coio_queue *q)
{
    size_t cap = q->cap * 2;
    struct qitem *v = malloc(cap * sizeof *v);
    if (!v) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < q->n; i++) /* unroll the ring into the new array */
        v[i] = q->v[(q->head + i) % q->cap];
    free(q->v);
    q->v = v;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static bool prio_before(const coio_queue *q, const struct qitem *a, const struct qitem *b)
{
    int c = q->cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static __attribute__((noinline)) void store_prio(coio_queue *q, struct qitem it)
{
    size_t i = q->n++; /* heap in v[0..n), head stays 0 */
    while (i > 0 && prio_before(q, &it, &q->v[(i - 1) / 2])) {
        q->v[i] = q->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->v[i] = it;
}

static inline void store(coio_queue *q, void *item)
{
    if (q->kind != PRIO) { /* seq only orders PriorityQueue ties */
        q->v[ring_at(q, q->n)].item = item;
        q->n++;
        return;
    }
    struct qitem it = {item, q->seq++};
    store_prio(q, it);
}

/* The heap pop, out of line: take() stays a few instructions for FIFO/LIFO. */
static __attribute__((noinline)) void *take_prio(coio_queue *q)
{
    void *item = q->v[0].item;
    struct qitem last = q->v[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && prio_before(q, &q->v[c + 1], &q->v[c]))
            c++;
        if (!prio_before(q, &q->v[c], &last))
            break;
        q->v[i] = q->v[c];
        i = c;
    }
    if (q->n)
        q->v[i] = last;
    return item;
}

static inline void *take(coio_queue *q)
{
    if (q->kind == FIFO) {
        void *item = q->v[q->head].item;
        q->head = ring_at(q, 1);
        q->n--;
        return item;
    }
    if (q->kind == LIFO)
        return q->v[ring_at(q, --q->n)].item;
    return take_prio(q);
}

/* ---- operations ----------------------------------------------------------------- */

/* The put of an item into a queue known to be open and not full; shared by
   put and put_nowait (a public function is not inlined into another: -fPIC
   lets it be interposed). */
static inline __attribute__((always_inline)) int put_item(coio_queue *q, void *item)
{
    if (COIO_UNLIKELY(q->n == q->cap) && grow(q) < 0)
        return -1;
    store(q, item);
    q->unfinished++;
    wakeup_next(&q->getters);
    return 0;
}

/* The get from a queue known to be non-empty. */
static inline __attribute__((always_inline)) void get_item(coio_queue *q, void **item)
{
    *item = take(q);
    wakeup_next(&q->putters);
}

int coio_queue_put_nowait(coio_queue *q, void *item)
{
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    if (q->shutdown) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (is_full(q)) {
        errno = EAGAIN;
        return -1;
    }
    return put_item(q, item);
}

int coio_queue_get_nowait(coio_queue *q, void **item)
{
    if (!q || !item) {
        errno = EINVAL;
        return -1;
    }
    if (q->n == 0) {
        errno = q->shutdown ? ESHUTDOWN : EAGAIN;
        return -1;
    }
    get_item(q, item);
    return 0;
}

COIO_SUSPENDS int coio_queue_put(coio_queue *q, void *item)
{
    struct coio__task *self = coio__self();
    if (!self || !q) {
        errno = EINVAL;
        return -1;
    }
    while (is_full(q)) {
        if (q->shutdown) {
            errno = ESHUTDOWN;
            return -1;
        }
        struct qwaiter_task w;
        int code = wait_in(q, self, &q->putters, &w);
        if (code) {
            /* Woken by a get but cancelled: the free slot goes to the next. */
            if (!is_full(q) && w.q.woken)
                wakeup_next(&q->putters);
            errno = code;
            return -1;
        }
    }
    if (q->shutdown) { /* not full, but shut down while we waited (or before) */
        errno = ESHUTDOWN;
        return -1;
    }
    return put_item(q, item);
}

COIO_SUSPENDS int coio_queue_get(coio_queue *q, void **item)
{
    struct coio__task *self = coio__self();
    if (!self || !q || !item) {
        errno = EINVAL;
        return -1;
    }
    while (q->n == 0) {
        if (q->shutdown) {
            errno = ESHUTDOWN;
            return -1;
        }
        struct qwaiter_task w;
        int code = wait_in(q, self, &q->getters, &w);
        if (code) {
            /* Woken by a put but cancelled: the item stays, the next getter
               gets the wake-up. */
            if (q->n && w.q.woken)
                wakeup_next(&q->getters);
            errno = code;
            return -1;
        }
    }
    get_item(q, item);
    return 0;
}

int coio_queue_task_done(coio_queue *q)
{
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    if (q->unfinished <= 0) {
        errno = EOVERFLOW;
        return -1;
    }
    if (--q->unfinished == 0)
        wake_joiners(q);
    return 0;
}

COIO_SUSPENDS int coio_queue_join(coio_queue *q)
{
    struct coio__task *self = coio__self();
    if (!self || !q) {
        errno = EINVAL;
        return -1;
    }
    if (q->unfinished == 0)
        return 0; /* not a suspension, so not a cancellation point (L10) */
    /* Woken joiners return even if new items were put before they ran, as
       asyncio's Event.wait does (EV2). */
    struct qwaiter_task w;
    int code = wait_in(q, self, &q->joiners, &w);
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

int coio_queue_shutdown(coio_queue *q, int immediate)
{
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    q->shutdown = 1;
    if (immediate) {
        while (q->n) {
            take(q);
            if (q->unfinished > 0)
                q->unfinished--;
        }
        if (q->unfinished == 0)
            wake_joiners(q);
    }
    while (!coio__list_empty(&q->getters))
        wakeup_next(&q->getters);
    while (!coio__list_empty(&q->putters))
        wakeup_next(&q->putters);
    return 0;
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_queue(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                          struct coio__dbuf *b)
{
    (void)t;
    (void)now;
    if (w->unlink != qwaiter_unlink)
        return false;
    const struct qwaiter_task *wt = coio__container_of(w, struct qwaiter_task, q.w);
    const coio_queue *q = wt->queue;
    coio__db_str(b, wt->list == &q->getters ? "queue get" : wt->list == &q->putters ? "queue put"
                                                                                      : "queue join");
    coio__db_str(b, " on ");
    coio__db_hex(b, (uintptr_t)q);
    coio__db_str(b, " (qsize ");
    coio__db_u64(b, q->n);
    coio__db_str(b, ", maxsize ");
    coio__db_i64(b, q->maxsize > 0 ? q->maxsize : 0);
    if (wt->list == &q->joiners) {
        coio__db_str(b, ", unfinished ");
        coio__db_i64(b, q->unfinished);
    }
    coio__db_str(b, ")");
    if (wt->q.woken)
        coio__db_str(b, " (woken, not resumed yet)");
    return true;
}
