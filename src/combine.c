/* combine.c — waiting on several futures at once: gather, wait, wait_for, shield and the
 * as_completed iterator (CPython 3.13 tasks.py semantics, groups G, W, WF, S, AC). Futures
 * and single awaits are in task.c; timeout scopes and task groups have their own files.
 *
 * A multi-wait puts one COIO__CN_NOTIFY node per awaited entry on that future's
 * completion list. The notify runs synchronously when the future completes and only
 * counts and decides whether to wake the waiting task, which then reads every outcome
 * itself. The nodes live on the waiting task's stack for up to SMALL_N entries; larger
 * calls allocate one array per call.
 */
#include "coio_int.h"
#include "dump.h"

#include <math.h>
#include <stdlib.h>

#define SMALL_N 8

/* One awaited position: a node on aws[i]'s completion list while it is pending. */
struct entry {
    struct coio__cnode node;  /* COIO__CN_NOTIFY; self-linked when not on a list */
    void *owner;              /* the struct multi or coio_as_completed it belongs to */
    coio_future *f;
    uint8_t first;            /* first occurrence of f in the input (duplicates collapse) */
};

/* ---- shared helpers ------------------------------------------------------------ */

/* Validate the entries for a wait by self: 0 or the errno to fail with. */
static int check_entries(struct coio__task *self, coio_task *const *aws, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        coio_future *f = aws[i];
        if (!coio__future_valid(f) || f->loop != self->f.loop || f->loop->closed)
            return EINVAL;
        if (f == &self->f)
            return EDEADLK;
    }
    return 0;
}

struct ptr_idx {
    uintptr_t p;
    size_t i;
};

static int cmp_ptr_idx(const void *a, const void *b)
{
    const struct ptr_idx *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Set e[i].first for the first occurrence of each future and return how many distinct
   futures there are. Quadratic for small n; otherwise sorts scratch (n pairs). */
static size_t mark_first(coio_task *const *aws, size_t n, struct entry *e, struct ptr_idx *scratch)
{
    size_t distinct = 0;
    if (n <= SMALL_N || !scratch) {
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < i && aws[j] != aws[i])
                j++;
            e[i].first = j == i;
            distinct += e[i].first;
        }
        return distinct;
    }
    for (size_t i = 0; i < n; i++) {
        scratch[i].p = (uintptr_t)aws[i];
        scratch[i].i = i;
    }
    qsort(scratch, n, sizeof *scratch, cmp_ptr_idx);
    for (size_t k = 0; k < n; k++) {
        uint8_t first = k == 0 || scratch[k].p != scratch[k - 1].p;
        e[scratch[k].i].first = first;
        distinct += first;
    }
    return distinct;
}

static void entry_init(struct entry *e, void *owner, coio_future *f,
                       void (*notify)(struct coio__cnode *, coio_future *))
{
    coio__list_init(&e->node.link);
    e->node.kind = COIO__CN_NOTIFY;
    e->node.task = NULL;
    e->node.notify = notify;
    e->owner = owner;
    e->f = f;
}

/* ---- the multi-wait behind gather and wait ------------------------------------------ */

enum { M_GATHER, M_GATHER_ALL, M_FIRST_COMPLETED, M_FIRST_EXCEPTION, M_ALL_COMPLETED };

struct multi {
    struct coio__wait w;
    struct coio__task *task;  /* the waiting task */
    struct entry *e;
    size_t n;
    size_t remaining;         /* entries whose future is not done yet */
    coio_future *first_failed;/* M_GATHER: the first child that failed or was cancelled */
    uint8_t mode;
    uint8_t woken;            /* the task was made ready; later notifies only count */
    uint8_t cancel_requested; /* gather: the caller was cancelled, children were too */
    uint8_t allocated;        /* e was malloc'd (n > SMALL_N) */
};

static void multi_wake(struct multi *m)
{
    if (!m->woken) {
        m->woken = 1;
        coio__wake(m->task, 0);
    }
}

static void multi_notify(struct coio__cnode *node, coio_future *f)
{
    struct entry *e = coio__container_of(node, struct entry, node);
    struct multi *m = e->owner;
    m->remaining--;
    switch (m->mode) {
    case M_GATHER:
        /* G4/G5: the first failure or cancel ends the gather at once, unless the caller's
           own cancellation is being waited out (G7). */
        if (!m->cancel_requested && !m->first_failed && f->state != COIO_FINISHED) {
            m->first_failed = f;
            multi_wake(m);
        }
        break;
    case M_FIRST_COMPLETED:
        multi_wake(m);
        break;
    case M_FIRST_EXCEPTION:
        if (f->state == COIO_FAILED) /* a cancelled task does not count (W5) */
            multi_wake(m);
        break;
    default:
        break;
    }
    if (m->remaining == 0)
        multi_wake(m);
}

static void multi_unlink(struct coio__wait *w)
{
    struct multi *m = coio__container_of(w, struct multi, w);
    for (size_t i = 0; i < m->n; i++)
        coio__list_del(&m->e[i].node.link);
    if (m->task->f.loop->closed) {
        /* Unlinked by loop close: the waiting task never resumes to clean up. */
        for (size_t i = 0; i < m->n; i++)
            coio_task_release(m->e[i].f);
        if (m->allocated)
            free(m->e);
    }
}

/* asyncio's _GatheringFuture.cancel: cancel every unfinished child and keep waiting
   until all of them are done (G7). Cancelling a plain future completes it here and
   may wake the task at once. */
static int gather_cancel(struct coio__wait *w, struct coio__task *t)
{
    struct multi *m = coio__container_of(w, struct multi, w);
    int taken = 0;
    m->cancel_requested = 1;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].f->state == COIO_PENDING && coio_cancel_msg(m->e[i].f, t->f.cancel_msg) == 1)
            taken = 1;
    return taken;
}

/* Register the pending entries, park, take every node off again. The entries are
   retained while the task is parked so that no other task can free them under us. */
static int multi_park(struct coio__task *self, struct multi *m, coio_task *const *aws,
                      int64_t deadline)
{
    m->task = self;
    m->remaining = 0;
    m->woken = 0;
    m->cancel_requested = 0;
    m->first_failed = NULL;
    m->w.unlink = multi_unlink;
    for (size_t i = 0; i < m->n; i++) {
        entry_init(&m->e[i], m, aws[i], multi_notify);
        coio_task_retain(aws[i]);
        if (aws[i]->state == COIO_PENDING) {
            coio__list_push(&aws[i]->cnodes, &m->e[i].node.link);
            m->remaining++;
        }
    }
    int code = coio__park(self, &m->w, deadline, ETIMEDOUT);
    multi_unlink(&m->w);
    return code;
}

static void multi_release(struct multi *m)
{
    for (size_t i = 0; i < m->n; i++)
        coio_task_release(m->e[i].f);
    if (m->allocated)
        free(m->e);
}

/* ---- gather ------------------------------------------------------------------------ */

/* Fill the caller's arrays (still-running children: NULL / EAGAIN) and mark every
   child's error as retrieved, present and future ones alike: gather reports errors, so
   the children must not be reported again when their handles are released (G4). */
static void gather_fill(coio_task *const *aws, size_t n, void **results, int *codes)
{
    for (size_t i = 0; i < n; i++) {
        coio_future *f = aws[i];
        void *r = NULL;
        int c = 0;
        switch (f->state) {
        case COIO_FINISHED:
            r = f->result;
            break;
        case COIO_FAILED:
            c = f->err;
            break;
        case COIO_CANCELLED:
            c = ECANCELED;
            break;
        default:
            c = EAGAIN;
            break;
        }
        f->retrieved = 1;
        if (results)
            results[i] = r;
        if (codes)
            codes[i] = c;
    }
}

/* Return -1 with the failure of f as the gather's error; a cancelled child's ECANCELED
   reaches the caller as a delivered cancel, as coio_await does (T11, G5). */
static int gather_fail(struct coio__task *self, coio_future *f)
{
    if (f->state == COIO_CANCELLED) {
        self->cancel_delivered = 1;
        errno = ECANCELED;
    } else {
        errno = f->err;
    }
    return -1;
}

COIO_SUSPENDS int coio_gather(coio_task *const *aws, size_t n, void **results, int *codes, int flags)
{
    struct coio__task *self = coio__self();
    if (!self || (n && !aws) || (flags & ~COIO_RETURN_EXCEPTIONS)) {
        errno = EINVAL;
        return -1;
    }
    int bad = check_entries(self, aws, n);
    if (bad) {
        errno = bad;
        return -1;
    }
    int all = flags & COIO_RETURN_EXCEPTIONS;
    /* Fast path: nothing to wait for, or (without RETURN_EXCEPTIONS) a child has already
       failed: return without suspending, so no cancellation is delivered here. */
    size_t pending = 0;
    coio_future *failed = NULL;
    for (size_t i = 0; i < n; i++) {
        if (aws[i]->state == COIO_PENDING)
            pending++;
        else if (!all && !failed && aws[i]->state != COIO_FINISHED)
            failed = aws[i];
    }
    if (!pending || failed) {
        gather_fill(aws, n, results, codes);
        return failed ? gather_fail(self, failed) : 0;
    }

    struct entry local[SMALL_N];
    struct multi m;
    m.n = n;
    m.e = n <= SMALL_N ? local : n > SIZE_MAX / sizeof *m.e ? NULL : malloc(n * sizeof *m.e);
    if (!m.e) {
        errno = ENOMEM;
        return -1;
    }
    m.allocated = m.e != local;
    m.mode = all ? M_GATHER_ALL : M_GATHER;
    m.w.cancel = gather_cancel;
    int code = multi_park(self, &m, aws, -1);
    gather_fill(aws, n, results, codes);
    int rc = 0, err = 0;
    if (code == ECANCELED || m.cancel_requested) {
        /* Either our cancel was broadcast to the children and waited out (G7), or the
           gather had already completed when the cancel came and it wins (as in asyncio,
           where the task's pending cancel is thrown in at the await). */
        self->cancel_delivered = 1;
        rc = -1;
        err = ECANCELED;
    } else if (m.first_failed) {
        rc = gather_fail(self, m.first_failed);
        err = errno;
    }
    multi_release(&m);
    if (rc < 0)
        errno = err;
    return rc;
}

/* ---- wait ----------------------------------------------------------------------------- */

static bool wait_satisfied(coio_task *const *aws, size_t n, int mode)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        coio_state s = (coio_state)aws[i]->state;
        if (s == COIO_PENDING)
            continue;
        done++;
        if (mode == M_FIRST_COMPLETED || (mode == M_FIRST_EXCEPTION && s == COIO_FAILED))
            return true;
    }
    return done == n;
}

COIO_SUSPENDS int coio_wait(coio_task *const *aws, size_t n, double timeout, int return_when, coio_task **done,
              size_t *ndone, coio_task **pending, size_t *npending)
{
    struct coio__task *self = coio__self();
    int mode = return_when == COIO_FIRST_COMPLETED ? M_FIRST_COMPLETED
             : return_when == COIO_FIRST_EXCEPTION ? M_FIRST_EXCEPTION
             : return_when == COIO_ALL_COMPLETED   ? M_ALL_COMPLETED
                                                   : -1;
    if (!self || !n || !aws || mode < 0 || isnan(timeout)) {
        errno = EINVAL;
        return -1;
    }
    int bad = check_entries(self, aws, n);
    if (bad) {
        errno = bad;
        return -1;
    }
    struct entry local[SMALL_N];
    struct ptr_idx *scratch = NULL;
    struct multi m;
    m.n = n;
    m.e = local;
    if (n > SMALL_N) {
        /* One allocation per call: the nodes, then the scratch used to find duplicates. */
        size_t each = sizeof *m.e + sizeof *scratch;
        m.e = n > SIZE_MAX / each ? NULL : malloc(n * each);
        if (!m.e) {
            errno = ENOMEM;
            return -1;
        }
        scratch = (struct ptr_idx *)(void *)(m.e + n);
    }
    m.allocated = m.e != local;
    mark_first(aws, n, m.e, scratch);

    int code = 0;
    bool parked = false;
    if (!wait_satisfied(aws, n, mode)) {
        m.mode = (uint8_t)mode;
        m.w.cancel = coio__wait_cancel_unlink; /* W7: the tasks waited on are left alone */
        int64_t deadline = timeout < 0 || isinf(timeout) ? -1 : coio__deadline_ns(timeout);
        code = multi_park(self, &m, aws, deadline); /* leaves the first marks alone */
        parked = true;
    }
    if (code == ECANCELED) {
        if (parked)
            multi_release(&m);
        else if (m.allocated)
            free(m.e);
        errno = ECANCELED;
        return -1;
    }
    /* A timeout (ETIMEDOUT) is not an error (W2); the split is made now, so a task that
       finished in the same instant counts as done (W3). */
    size_t nd = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        if (!m.e[i].first)
            continue;
        if (aws[i]->state != COIO_PENDING) {
            if (done)
                done[nd] = aws[i];
            nd++;
        } else {
            if (pending)
                pending[np] = aws[i];
            np++;
        }
    }
    if (ndone)
        *ndone = nd;
    if (npending)
        *npending = np;
    if (parked)
        multi_release(&m);
    else if (m.allocated)
        free(m.e);
    return 0;
}

/* ---- wait_for -------------------------------------------------------------------------- */

/* The caller's record on t's completion list. A cancel of the caller is forwarded to t
   and the caller keeps waiting for t's real end (WF5), as a plain await does. */
struct wf_wait {
    struct coio__cnode node; /* COIO__CN_AWAIT */
    struct coio__wait w;
    coio_future *t;
    uint8_t caller_cancelled;
};

static int wf_cancel(struct coio__wait *w, struct coio__task *self)
{
    struct wf_wait *r = coio__container_of(w, struct wf_wait, w);
    r->caller_cancelled = 1;
    return coio_cancel_msg(r->t, self->f.cancel_msg) == 1;
}

static void wf_unlink(struct coio__wait *w)
{
    struct wf_wait *r = coio__container_of(w, struct wf_wait, w);
    coio__list_del(&r->node.link);
    if (r->t->loop->closed) /* loop close: coio_wait_for never resumes to release t */
        coio_task_release(r->t);
}

static int wf_park(struct coio__task *self, struct wf_wait *r, int64_t deadline)
{
    coio__list_push(&r->t->cnodes, &r->node.link);
    int code = coio__park(self, &r->w, deadline, ETIMEDOUT);
    coio__list_del(&r->node.link);
    return code;
}

/* asyncio 3.12+ runs wait_for as `async with timeout(t): await x`: when the deadline
   passes the caller cancels x and keeps awaiting it, so the outcome is x's real end,
   with its CancelledError turned into TimeoutError (WF2, WF3). Here the caller parks on
   x with a deadline; on expiry it cancels x and waits again without one. If x was
   already done when the cancel would have gone out, the timeout (or the caller's own
   cancel) still wins: x completed, but the caller had not resumed from it (WF6). */
COIO_SUSPENDS int coio_wait_for(coio_task *t, double timeout, void **result)
{
    struct coio__task *self = coio__self();
    if (!coio__future_valid(t) || !self || t->loop != self->f.loop || t->loop->closed ||
        isnan(timeout)) {
        errno = EINVAL;
        return -1;
    }
    if (t == &self->f) {
        errno = EDEADLK;
        return -1;
    }
    if (timeout < 0 || isinf(timeout) || t->state != COIO_PENDING)
        return coio_await(t, result); /* no limit, or done: a plain await (WF1, WF4) */

    struct wf_wait r;
    coio__list_init(&r.node.link);
    r.node.kind = COIO__CN_AWAIT;
    r.node.task = self;
    r.node.notify = NULL;
    r.w.cancel = wf_cancel;
    r.w.unlink = wf_unlink;
    r.t = t;
    r.caller_cancelled = 0;
    uint8_t had_delivered = self->cancel_delivered;
    coio_task_retain(t);

    if (timeout > 0) {
        int code = wf_park(self, &r, coio__deadline_ns(timeout));
        if (code == 0) {
            /* t completed first: its outcome, as from coio_await (a cancel forwarded
               meanwhile shows up there as ECANCELED or an absorbed value, WF5/T10). */
            int rc = coio__outcome(t, result);
            int err = errno;
            if (rc < 0 && err == ECANCELED)
                self->cancel_delivered = 1;
            coio_task_release(t);
            if (rc < 0)
                errno = err;
            return rc;
        }
        if (code == ECANCELED) {
            /* A cancel arrived after we were woken: ours to report, after t's end. */
            r.caller_cancelled = 1;
            self->cancel_delivered = had_delivered;
        }
    }
    /* Expired (or timeout <= 0, WF4): cancel t and wait for it to really finish. */
    bool cancelled_it = t->state == COIO_PENDING && coio_cancel(t) == 1;
    while (t->state == COIO_PENDING) {
        if (wf_park(self, &r, -1) == ECANCELED) {
            r.caller_cancelled = 1;
            self->cancel_delivered = had_delivered;
        }
    }
    int rc = -1, err;
    if (cancelled_it && t->state == COIO_FINISHED) {
        if (result)
            *result = t->result; /* t absorbed the cancel and returned a value (WF3) */
        rc = 0;
        err = 0;
    } else if (cancelled_it && t->state == COIO_FAILED) {
        t->retrieved = 1; /* another error raised while being cancelled (WF3) */
        err = t->err;
    } else if (r.caller_cancelled) {
        self->cancel_delivered = 1;
        err = ECANCELED;
    } else {
        err = ETIMEDOUT;
    }
    coio_task_release(t);
    if (rc < 0)
        errno = err;
    return rc;
}

/* ---- shield --------------------------------------------------------------------------------- */

/* The link from the shielded future to its outer one. It holds a reference on both
   until the inner one completes, then copies the outcome and goes away. */
struct shield_link {
    struct coio__cnode node; /* COIO__CN_NOTIFY on inner's completion list */
    coio_future *inner, *outer;
};

static void shield_notify(struct coio__cnode *node, coio_future *inner)
{
    struct shield_link *k = coio__container_of(node, struct shield_link, node);
    coio_future *outer = k->outer;
    if (!inner) {
        /* Loop close found the inner task or future still pending: the outer one
           stays pending (its loop is closed); only the link and its references go. */
        inner = k->inner;
    } else if (outer->state != COIO_PENDING) {
        /* The outer was cancelled: nobody will look at inner's error through it (S4). */
        inner->retrieved = 1;
    } else if (inner->state == COIO_CANCELLED) {
        coio_cancel(outer); /* S2 */
    } else if (inner->state == COIO_FAILED) {
        inner->retrieved = 1; /* the error moves to the outer future */
        coio_future_set_error(outer, inner->err, inner->errmsg);
    } else {
        coio_future_set_result(outer, inner->result);
    }
    free(k);
    coio_task_release(outer);
    coio_task_release(inner); /* coio__future_complete holds its own reference */
}

coio_future *coio_shield(coio_task *t)
{
    if (!coio__future_valid(t) || t->loop->closed) {
        errno = EINVAL;
        return NULL;
    }
    if (t->state != COIO_PENDING)
        return coio_task_retain(t); /* S3 */
    struct shield_link *k = malloc(sizeof *k);
    coio_future *outer = k ? coio__future_new(t->loop) : NULL;
    if (!outer) {
        free(k);
        errno = ENOMEM;
        return NULL;
    }
    coio__list_init(&k->node.link);
    k->node.kind = COIO__CN_NOTIFY_DROP; /* owns k: dropped if inner dies pending */
    k->node.task = NULL;
    k->node.notify = shield_notify;
    k->inner = coio_task_retain(t);
    k->outer = coio_task_retain(outer);
    coio__list_push(&t->cnodes, &k->node.link);
    return outer;
}

/* ---- as_completed ---------------------------------------------------------------------------- */

/* A task parked in coio_as_completed_next(); lives on its stack. */
struct ac_wait {
    struct coio__wait w;
    struct coio__task *task;
    coio_as_completed *it;
    uint8_t freed;             /* the iterator was freed while we waited */
};

/* asyncio 3.13's _AsCompletedIterator: every distinct input gets a completion node at
   creation; completions before the deadline queue up in completion order, later ones
   are dropped, and after the deadline each input not yet yielded costs one ETIMEDOUT. */
struct coio_as_completed {
    coio_loop *loop;
    int64_t deadline;          /* CLOCK_MONOTONIC ns, or -1 */
    size_t n;                  /* input length (entries) */
    size_t ndistinct;
    size_t accounted;          /* yielded + ETIMEDOUT returned; done at ndistinct */
    size_t qhead, qtail;       /* the queue of finished futures, q[qhead..qtail) */
    coio_future **q;           /* ndistinct slots */
    struct ac_wait *waiting;   /* the record of the task parked in next(), or NULL */
    struct entry e[];          /* n entries; only first occurrences are registered */
};

static void ac_notify(struct coio__cnode *node, coio_future *f)
{
    struct entry *e = coio__container_of(node, struct entry, node);
    coio_as_completed *it = e->owner;
    if (it->deadline >= 0 && coio__now_ns() >= it->deadline)
        return; /* after the deadline: reported as a timeout, never yielded (AC2) */
    it->q[it->qtail++] = f;
    if (it->waiting) {
        struct coio__task *t = it->waiting->task;
        it->waiting->it = NULL; /* detached: ac_unlink must not touch it again */
        it->waiting = NULL;
        coio__wake(t, 0);
    }
}

coio_as_completed *coio_as_completed_new(coio_task *const *aws, size_t n, double timeout)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if ((n && !aws) || isnan(timeout)) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!coio__future_valid(aws[i]) || aws[i]->loop->closed ||
            (i > 0 && aws[i]->loop != aws[0]->loop)) {
            errno = EINVAL;
            return NULL;
        }
    }
    if (n)
        l = aws[0]->loop;
    if (n > (SIZE_MAX - sizeof(coio_as_completed)) / (sizeof(struct entry) + sizeof(void *))) {
        errno = ENOMEM;
        return NULL;
    }
    coio_as_completed *it = malloc(sizeof *it + n * (sizeof(struct entry) + sizeof(void *)));
    struct ptr_idx *scratch = n > SMALL_N ? malloc(n * sizeof *scratch) : NULL;
    if (!it || (n > SMALL_N && !scratch)) {
        free(it);
        free(scratch);
        errno = ENOMEM;
        return NULL;
    }
    it->loop = l;
    it->deadline = timeout < 0 || isinf(timeout) ? -1 : coio__deadline_ns(timeout);
    it->n = n;
    it->ndistinct = mark_first(aws, n, it->e, scratch);
    free(scratch);
    it->accounted = it->qhead = it->qtail = 0;
    it->q = (coio_future **)(void *)(it->e + n);
    it->waiting = NULL;
    for (size_t i = 0; i < n; i++) {
        entry_init(&it->e[i], it, aws[i], ac_notify);
        if (!it->e[i].first)
            continue;
        coio_task_retain(aws[i]);
        if (aws[i]->state == COIO_PENDING)
            coio__list_push(&aws[i]->cnodes, &it->e[i].node.link);
        else
            it->q[it->qtail++] = aws[i]; /* already done: first, in input order */
    }
    return it;
}

static void ac_unlink(struct coio__wait *w)
{
    struct ac_wait *a = coio__container_of(w, struct ac_wait, w);
    /* Also called at loop close after a wake (coio_int.h): by then `it` may be
       freed, so the first call detaches. */
    if (!a->freed && a->it) {
        a->it->waiting = NULL;
        a->it = NULL;
    }
}

int coio_as_completed_next(coio_as_completed *it, coio_task **t)
{
    struct coio__task *self = coio__self();
    if (!it || !self || (it->loop && it->loop != self->f.loop)) {
        errno = EINVAL;
        return -1;
    }
    if (it->waiting) {
        errno = EBUSY; /* one task at a time */
        return -1;
    }
    for (;;) {
        if (it->qhead < it->qtail) {
            coio_future *f = it->q[it->qhead++];
            it->accounted++;
            if (t)
                *t = f;
            return 1;
        }
        if (it->accounted == it->ndistinct)
            return 0;
        if (it->deadline >= 0 && coio__now_ns() >= it->deadline) {
            it->accounted++;
            errno = ETIMEDOUT;
            return -1;
        }
        struct ac_wait a = {{coio__wait_cancel_unlink, ac_unlink}, self, it, 0};
        it->waiting = &a;
        int code = coio__park(self, &a.w, it->deadline, ETIMEDOUT);
        if (a.freed) {
            errno = code == ECANCELED ? ECANCELED : EBADF; /* it is gone: do not touch */
            return -1;
        }
        /* Every way of waking (a completion, the deadline, a cancel) took us off. */
        if (code == ECANCELED) {
            errno = ECANCELED;
            return -1;
        }
    }
}

void coio_as_completed_free(coio_as_completed *it)
{
    if (!it)
        return;
    if (it->waiting) {
        /* Freed under a task waiting in next(): wake it with EBADF, as coio_close does. */
        it->waiting->freed = 1;
        coio__wake(it->waiting->task, EBADF);
    }
    for (size_t i = 0; i < it->n; i++) {
        if (!it->e[i].first)
            continue;
        coio__list_del(&it->e[i].node.link);
        coio_task_release(it->e[i].f);
    }
    free(it);
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_combine(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                            struct coio__dbuf *b)
{
    if (w->unlink == multi_unlink) {
        const struct multi *m = coio__container_of(w, struct multi, w);
        coio__db_str(b, m->mode == M_GATHER || m->mode == M_GATHER_ALL ? "gather" : "wait");
        coio__db_str(b, " of ");
        coio__db_u64(b, m->n);
        coio__db_str(b, " futures (");
        coio__db_u64(b, m->n - m->remaining);
        coio__db_str(b, " done)");
    } else if (w->unlink == wf_unlink) {
        const struct wf_wait *r = coio__container_of(w, struct wf_wait, w);
        coio__db_str(b, "wait_for of ");
        coio__db_task(b, r->t);
    } else if (w->unlink == ac_unlink) {
        const struct ac_wait *a = coio__container_of(w, struct ac_wait, w);
        coio__db_str(b, "as_completed");
        if (a->it) {
            coio__db_str(b, " (");
            coio__db_u64(b, a->it->accounted);
            coio__db_str(b, " of ");
            coio__db_u64(b, a->it->ndistinct);
            coio__db_str(b, " yielded)");
        }
    } else {
        return false;
    }
    if (t->timer.index != COIO_NOT_IN_HEAP) {
        coio__db_str(b, ", deadline ");
        coio__db_deadline(b, t->timer.when, now);
    }
    return true;
}
