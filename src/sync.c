/* sync.c — Lock, Event, Condition, Semaphore/BoundedSemaphore and Barrier,
 * following asyncio's algorithms (CPython 3.13 locks.py) so that waits are
 * strictly FIFO and a cancelled waiter never strands the lock, a permit or a
 * notification. Storage is the caller's; waiters live on the waiting task's
 * stack, so nothing here allocates.
 *
 * A woken waiter stays on its primitive's list until it runs again and takes
 * itself off, as asyncio's futures do: that is what keeps newcomers from
 * barging past it (LK3, SM2) and lets a waiter cancelled after its wake-up
 * hand what it was given to the next one (LK4, SM3, CD5). A waiter whose task
 * loop close destroys (woken or not) leaves the list the same way and hands on
 * what it held, so the primitive stays usable from other loops.
 */
#include "coio_int.h"
#include "dump.h"

#include <limits.h>

struct waiter {
    struct coio__list link;   /* on the primitive's waiter list */
    struct coio__wait w;
    struct coio__task *task;
    void *prim;               /* the primitive waited on */
    uint8_t kind;             /* W_LOCK ... W_BARRIER: for task dumps (dump.c) */
    /* Loop close destroyed the task: give back what the wait held (the lock or
       a permit handed to it, a notification, its barrier seat). NULL: nothing. */
    void (*abandoned)(struct waiter *wt);
    uint8_t woken;            /* granted / notified: the task is on the ready queue */
};

enum { W_LOCK = 1, W_EVENT, W_CONDITION, W_SEMAPHORE, W_BARRIER };

/* Cancelled before being woken: leave the list, wake with ECANCELED. */
static int waiter_cancel(struct coio__wait *w, struct coio__task *t)
{
    struct waiter *wt = coio__container_of(w, struct waiter, w);
    coio__list_del(&wt->link);
    coio__wake(t, ECANCELED);
    return 1;
}

/* Only loop close unlinks these (no deadlines here): the task is destroyed,
   parked or woken but not run yet, and never comes back for what it was given. */
static void waiter_unlink(struct coio__wait *w)
{
    struct waiter *wt = coio__container_of(w, struct waiter, w);
    coio__list_del(&wt->link);
    if (wt->task->f.loop->closed && wt->abandoned) {
        void (*fn)(struct waiter *) = wt->abandoned;
        wt->abandoned = NULL; /* once */
        fn(wt);
    }
}

/* Queue the current task on list and park it. Returns the wake code; the
   waiter is off the list again when this returns. */
static int wait_on(struct coio__task *self, struct coio__list *list, struct waiter *wt,
                   void *prim, int kind, void (*abandoned)(struct waiter *))
{
    wt->task = self;
    wt->prim = prim;
    wt->kind = (uint8_t)kind;
    wt->abandoned = abandoned;
    wt->woken = 0;
    wt->w.cancel = waiter_cancel;
    wt->w.unlink = waiter_unlink;
    coio__list_push(list, &wt->link);
    int code = coio__park(self, &wt->w, -1, 0);
    coio__list_del(&wt->link);
    return code;
}

/* Wake up to n waiters not woken yet, in list order, in one pass (woken ones
   stay listed until they run, so a scan from the head per wake-up would make
   notify_all and Event.set quadratic). Returns how many were woken. */
static size_t wake_n(struct coio__list *list, size_t n)
{
    size_t woke = 0;
    for (struct coio__list *p = list->next; p != list && woke < n; p = p->next) {
        struct waiter *wt = coio__container_of(p, struct waiter, link);
        if (!wt->woken) {
            wt->woken = 1;
            coio__wake(wt->task, 0);
            woke++;
        }
    }
    return woke;
}

static bool wake_first(struct coio__list *list) { return wake_n(list, 1) == 1; }

static struct coio__task *need_task(void)
{
    struct coio__task *t = coio__self();
    if (!t)
        errno = EINVAL;
    return t;
}

/* ---- Lock ------------------------------------------------------------------ */

struct lock {
    int locked;
    struct coio__list waiters;
    struct coio__task *owner; /* the last task to acquire it, for task dumps */
};
_Static_assert(sizeof(struct lock) <= sizeof(coio_lock), "coio_lock storage too small");

static inline struct lock *L(coio_lock *l) { return (struct lock *)(void *)l; }

/* Wake the head waiter unless it is already woken (asyncio _wake_up_first).
   Only ever the head: a waiter is woken only at the head and leaves the list
   only when it runs, so a woken waiter is always the head, and skipping past
   it (as wake_first does) would hand one free lock to two tasks when a
   cancelled waiter passes its turn on after a release already woke the head. */
static void lock_wake_head(struct lock *k)
{
    if (coio__list_empty(&k->waiters))
        return;
    struct waiter *wt = coio__container_of(k->waiters.next, struct waiter, link);
    if (!wt->woken) {
        wt->woken = 1;
        coio__wake(wt->task, 0);
    }
}

/* A destroyed waiter may have been handed the lock: pass it on (as LK4). */
static void lock_abandoned(struct waiter *wt)
{
    struct lock *k = wt->prim;
    if (!k->locked)
        lock_wake_head(k);
}

void coio_lock_init(coio_lock *l)
{
    if (!l)
        return;
    struct lock *k = L(l);
    k->locked = 0;
    k->owner = NULL;
    coio__list_init(&k->waiters);
}

COIO_SUSPENDS int coio_lock_acquire(coio_lock *l)
{
    struct coio__task *self = need_task();
    if (!self || !l) {
        errno = EINVAL;
        return -1;
    }
    struct lock *k = L(l);
    if (!k->locked && coio__list_empty(&k->waiters)) {
        k->locked = 1; /* uncontended: no suspension, no cancellation point */
        k->owner = self;
        return 0;
    }
    struct waiter wt;
    int code = wait_on(self, &k->waiters, &wt, k, W_LOCK, lock_abandoned);
    if (code) {
        /* If the lock is free (we may have been handed it), make sure the
           next waiter gets its turn (LK4). */
        if (!k->locked)
            lock_wake_head(k);
        errno = code;
        return -1;
    }
    k->locked = 1;
    k->owner = self;
    return 0;
}

int coio_lock_release(coio_lock *l)
{
    if (!l) {
        errno = EINVAL;
        return -1;
    }
    struct lock *k = L(l);
    if (!k->locked) {
        errno = EPERM;
        return -1;
    }
    k->locked = 0;
    k->owner = NULL;
    lock_wake_head(k);
    return 0;
}

int coio_lock_locked(const coio_lock *l)
{
    return l && ((const struct lock *)(const void *)l)->locked;
}

/* ---- Event -------------------------------------------------------------------- */

struct event {
    int set;
    struct coio__list waiters;
};
_Static_assert(sizeof(struct event) <= sizeof(coio_event), "coio_event storage too small");

static inline struct event *E(coio_event *e) { return (struct event *)(void *)e; }

void coio_event_init(coio_event *e)
{
    if (!e)
        return;
    E(e)->set = 0;
    coio__list_init(&E(e)->waiters);
}

COIO_SUSPENDS int coio_event_wait(coio_event *e)
{
    struct coio__task *self = need_task();
    if (!self || !e) {
        errno = EINVAL;
        return -1;
    }
    if (E(e)->set)
        return 0;
    struct waiter wt;
    int code = wait_on(self, &E(e)->waiters, &wt, E(e), W_EVENT, NULL);
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

void coio_event_set(coio_event *e)
{
    if (!e || E(e)->set)
        return;
    E(e)->set = 1;
    wake_n(&E(e)->waiters, SIZE_MAX);
}

void coio_event_clear(coio_event *e)
{
    if (e)
        E(e)->set = 0;
}

int coio_event_is_set(const coio_event *e)
{
    return e && ((const struct event *)(const void *)e)->set;
}

/* ---- Condition -------------------------------------------------------------------- */

struct condition {
    coio_lock *lock;        /* the user's lock, or &own */
    coio_lock own;
    struct coio__list waiters;
};
_Static_assert(sizeof(struct condition) <= sizeof(coio_condition), "coio_condition storage too small");

static inline struct condition *C(coio_condition *c) { return (struct condition *)(void *)c; }

void coio_condition_init(coio_condition *c, coio_lock *lock)
{
    if (!c)
        return;
    struct condition *v = C(c);
    coio_lock_init(&v->own);
    v->lock = lock ? lock : &v->own;
    coio__list_init(&v->waiters);
}

coio_lock *coio_condition_lock(coio_condition *c) { return c ? C(c)->lock : NULL; }
int coio_condition_acquire(coio_condition *c) { return coio_lock_acquire(coio_condition_lock(c)); }
int coio_condition_release(coio_condition *c) { return coio_lock_release(coio_condition_lock(c)); }

static void notify(struct condition *v, size_t n) { wake_n(&v->waiters, n); }

/* A destroyed waiter that was notified passes the notification on (as CD5). */
static void condition_abandoned(struct waiter *wt)
{
    if (wt->woken)
        notify(wt->prim, 1);
}

COIO_SUSPENDS int coio_condition_wait(coio_condition *c)
{
    struct coio__task *self = need_task();
    if (!self || !c) {
        errno = EINVAL;
        return -1;
    }
    struct condition *v = C(c);
    if (!coio_lock_locked(v->lock)) {
        errno = EPERM;
        return -1;
    }
    coio_lock_release(v->lock);
    struct waiter wt;
    bool cancelled = wait_on(self, &v->waiters, &wt, v, W_CONDITION, condition_abandoned) != 0;
    /* Re-acquire even when cancelled, however often (CD4). */
    while (coio_lock_acquire(v->lock) != 0)
        cancelled = true;
    if (cancelled) {
        /* We may have consumed a notification: pass one on (CD5). */
        notify(v, 1);
        errno = ECANCELED;
        return -1;
    }
    return 0;
}

int coio_condition_wait_for(coio_condition *c, int (*pred)(void *), void *arg)
{
    if (!c || !pred) {
        errno = EINVAL;
        return -1;
    }
    while (!pred(arg))
        if (coio_condition_wait(c) < 0)
            return -1;
    return 0;
}

int coio_condition_notify(coio_condition *c, size_t n)
{
    if (!c) {
        errno = EINVAL;
        return -1;
    }
    if (!coio_lock_locked(C(c)->lock)) {
        errno = EPERM;
        return -1;
    }
    notify(C(c), n);
    return 0;
}

int coio_condition_notify_all(coio_condition *c)
{
    return coio_condition_notify(c, SIZE_MAX);
}

/* ---- Semaphore -------------------------------------------------------------------- */

struct semaphore {
    int value;
    int bound;      /* BoundedSemaphore: the initial value; -1 for a plain one */
    struct coio__list waiters;
};
_Static_assert(sizeof(struct semaphore) <= sizeof(coio_semaphore), "coio_semaphore storage too small");

static inline struct semaphore *S(coio_semaphore *s) { return (struct semaphore *)(void *)s; }

static int sem_init(coio_semaphore *s, int value, int bound)
{
    if (!s || value < 0) {
        errno = EINVAL;
        return -1;
    }
    S(s)->value = value;
    S(s)->bound = bound;
    coio__list_init(&S(s)->waiters);
    return 0;
}

int coio_semaphore_init(coio_semaphore *s, int value) { return sem_init(s, value, -1); }
int coio_bounded_semaphore_init(coio_semaphore *s, int value) { return sem_init(s, value, value); }

int coio_semaphore_locked(const coio_semaphore *s)
{
    if (!s)
        return 0;
    const struct semaphore *v = (const struct semaphore *)(const void *)s;
    /* Cancelled waiters leave the list at once, so any entry is a live one. */
    return v->value == 0 || !coio__list_empty(&v->waiters);
}

/* Hand permits to waiters while there are both (asyncio _wake_up_next). */
static bool sem_wake_next(struct semaphore *v)
{
    if (!wake_first(&v->waiters))
        return false;
    v->value--;
    return true;
}

/* A destroyed waiter gives back a permit it was granted and lets waiters
   take what is free (as SM3). */
static void sem_abandoned(struct waiter *wt)
{
    struct semaphore *v = wt->prim;
    if (wt->woken)
        v->value++;
    while (v->value > 0 && sem_wake_next(v))
        ;
}

COIO_SUSPENDS int coio_semaphore_acquire(coio_semaphore *s)
{
    struct coio__task *self = need_task();
    if (!self || !s) {
        errno = EINVAL;
        return -1;
    }
    struct semaphore *v = S(s);
    if (!coio_semaphore_locked(s)) {
        v->value--; /* FIFO: only when nobody waits */
        return 0;
    }
    struct waiter wt;
    int code = wait_on(self, &v->waiters, &wt, v, W_SEMAPHORE, sem_abandoned);
    if (code && wt.woken)
        v->value++; /* granted but not taken: give the permit back (SM3) */
    while (v->value > 0 && sem_wake_next(v))
        ;
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

int coio_semaphore_release(coio_semaphore *s)
{
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    struct semaphore *v = S(s);
    if ((v->bound >= 0 && v->value >= v->bound) || v->value == INT_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    v->value++;
    sem_wake_next(v);
    return 0;
}

int coio_semaphore_value(const coio_semaphore *s)
{
    return s ? ((const struct semaphore *)(const void *)s)->value : 0;
}

/* ---- Barrier --------------------------------------------------------------------------- */

enum { FILLING, DRAINING, RESETTING, BROKEN };

struct barrier {
    int parties;
    int count;      /* tasks inside wait() */
    int state;
    struct coio__list waiters; /* a notify-all queue (asyncio uses a Condition) */
};
_Static_assert(sizeof(struct barrier) <= sizeof(coio_barrier), "coio_barrier storage too small");

static inline struct barrier *B(coio_barrier *b) { return (struct barrier *)(void *)b; }

int coio_barrier_init(coio_barrier *b, int parties)
{
    if (!b || parties < 1) {
        errno = EINVAL;
        return -1;
    }
    B(b)->parties = parties;
    B(b)->count = 0;
    B(b)->state = FILLING;
    coio__list_init(&B(b)->waiters);
    return 0;
}

static void barrier_notify_all(struct barrier *v) { wake_n(&v->waiters, SIZE_MAX); }

/* The last task out ends a drain or reset and lets blocked newcomers in. */
static void barrier_exit(struct barrier *v)
{
    if (v->count == 0) {
        if (v->state == RESETTING || v->state == DRAINING)
            v->state = FILLING;
        barrier_notify_all(v);
    }
}

/* A destroyed task that had entered the round leaves it, as a cancelled one
   does: asyncio's finally clause of Barrier.wait. */
static void barrier_abandoned(struct waiter *wt)
{
    struct barrier *v = wt->prim;
    v->count--;
    barrier_exit(v);
}

COIO_SUSPENDS int coio_barrier_wait(coio_barrier *b)
{
    struct coio__task *self = need_task();
    if (!self || !b) {
        errno = EINVAL;
        return -1;
    }
    struct barrier *v = B(b);
    struct waiter wt;
    /* Block while the previous round drains or resets. */
    while (v->state == DRAINING || v->state == RESETTING) {
        int code = wait_on(self, &v->waiters, &wt, v, W_BARRIER, NULL);
        if (code) {
            errno = code;
            return -1;
        }
    }
    if (v->state == BROKEN) {
        errno = EPIPE;
        return -1;
    }
    int index = v->count++;
    int err = 0;
    if (index + 1 == v->parties) {
        v->state = DRAINING;
        barrier_notify_all(v);
    } else {
        while (v->state == FILLING) {
            int code = wait_on(self, &v->waiters, &wt, v, W_BARRIER, barrier_abandoned);
            if (code) {
                err = code;
                break;
            }
        }
        if (!err && (v->state == BROKEN || v->state == RESETTING))
            err = EPIPE;
    }
    v->count--;
    barrier_exit(v);
    if (err) {
        errno = err;
        return -1;
    }
    return index;
}

int coio_barrier_reset(coio_barrier *b)
{
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    struct barrier *v = B(b);
    v->state = v->count > 0 ? RESETTING : FILLING;
    barrier_notify_all(v);
    return 0;
}

int coio_barrier_abort(coio_barrier *b)
{
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    B(b)->state = BROKEN;
    barrier_notify_all(B(b));
    return 0;
}

int coio_barrier_broken(const coio_barrier *b)
{
    return b && ((const struct barrier *)(const void *)b)->state == BROKEN;
}

int coio_barrier_n_waiting(const coio_barrier *b)
{
    const struct barrier *v = (const struct barrier *)(const void *)b;
    return v && v->state == FILLING ? v->count : 0;
}

int coio_barrier_parties(const coio_barrier *b)
{
    return b ? ((const struct barrier *)(const void *)b)->parties : 0;
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_sync(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                         struct coio__dbuf *b)
{
    (void)t;
    (void)now;
    if (w->unlink != waiter_unlink)
        return false;
    const struct waiter *wt = coio__container_of(w, struct waiter, w);
    static const char *const names[] = {"?", "lock", "event", "condition", "semaphore", "barrier"};
    coio__db_str(b, names[wt->kind <= W_BARRIER ? wt->kind : 0]);
    coio__db_str(b, " at ");
    coio__db_hex(b, (uintptr_t)wt->prim);
    if (wt->woken)
        coio__db_str(b, " (granted, not resumed yet)");
    if (wt->kind == W_LOCK) {
        const struct lock *k = wt->prim;
        if (k->locked && k->owner && coio__task_live(t->f.loop, k->owner)) {
            coio__db_str(b, ", held by ");
            coio__db_task(b, &k->owner->f);
        }
    } else if (wt->kind == W_SEMAPHORE) {
        coio__db_str(b, ", value ");
        coio__db_i64(b, ((const struct semaphore *)wt->prim)->value);
    } else if (wt->kind == W_BARRIER) {
        const struct barrier *v = wt->prim;
        coio__db_str(b, ", ");
        coio__db_i64(b, v->count);
        coio__db_str(b, " of ");
        coio__db_i64(b, v->parties);
        coio__db_str(b, " parties");
    }
    return true;
}
