/* timeout.c — asyncio.timeout()/timeout_at() as an enter/exit pair over caller
 * storage. The deadline is an internal callback embedded in the scope, so a
 * scope never allocates; exit tells its own expiry from other cancellations by
 * the task's cancellation count, as asyncio's Timeout.__aexit__ does.
 */
#include "coio_int.h"
#include "dump.h"

#include <math.h>

#define SCOPE_MAGIC 0xC010713Eu

/* asyncio's _State, minus CREATED: storage that was never entered is simply
   not recognised (wrong magic). */
enum { S_ENTERED = 1, S_EXPIRING, S_EXPIRED, S_EXITED };

struct tscope {
    uint32_t magic;           /* SCOPE_MAGIC from enter on */
    uint8_t state;            /* S_* */
    uint8_t entry_delivered;  /* the task's cancel_delivered at enter */
    int entry_cancelling;     /* the task's cancelling() at enter (TO2, TO7) */
    struct coio__task *task;  /* the entering task */
    double when;              /* deadline in loop time; INFINITY: none */
    struct coio__icb cb;      /* the expiry: in the heap while armed, or queued when due */
    struct coio__scope scope; /* on task->scopes while entered */
};
_Static_assert(sizeof(struct tscope) <= sizeof(coio_timeout), "coio_timeout storage too small");
_Static_assert(_Alignof(struct tscope) <= _Alignof(coio_timeout), "coio_timeout misaligned");

static inline struct tscope *S(coio_timeout *to) { return (struct tscope *)(void *)to; }
static inline const struct tscope *CS(const coio_timeout *to)
{
    return (const struct tscope *)(const void *)to;
}

static bool on_scope_list(struct coio__task *t, struct coio__scope *sc)
{
    for (struct coio__scope *p = t->scopes; p; p = p->next)
        if (p == sc)
            return true;
    return false;
}

static void scope_unlink(struct coio__task *t, struct coio__scope *sc)
{
    for (struct coio__scope **pp = &t->scopes; *pp; pp = &(*pp)->next)
        if (*pp == sc) {
            *pp = sc->next;
            return;
        }
}

/* Take the expiry off the heap or the ready queue. */
static void disarm(struct tscope *s, coio_loop *l)
{
    if (s->cb.timer.index != COIO_NOT_IN_HEAP)
        coio__heap_remove(&l->heap, &s->cb.timer);
    if (s->cb.queued) {
        coio__ready_remove(l, &s->cb.run);
        s->cb.queued = 0;
    }
}

/* asyncio's reschedule: a deadline already reached is queued like call_soon
   (so that it runs before a sleep(0) of the task, TO3), a later one is a
   timer like call_at. Heap capacity was reserved at enter: no allocation. */
static void arm(struct tscope *s, coio_loop *l)
{
    if (!(s->when < 9.0e9)) /* none (INFINITY), or ~285 years away: never */
        return;
    int64_t ns = s->when <= 0 ? 0 : (int64_t)(s->when * 1e9);
    if (ns <= coio__now_ns()) {
        s->cb.queued = 1;
        coio__ready_push(l, &s->cb.run);
        return;
    }
    s->cb.timer.when = ns;
    s->cb.timer.seq = l->timer_seq++;
    int rc = coio__heap_push(&l->heap, &s->cb.timer);
    coio__assert(rc == 0);
}

/* The deadline passed (loop context): cancel the task, as _on_timeout does. */
static void on_expire(struct coio__icb *cb)
{
    struct tscope *s = coio__container_of(cb, struct tscope, cb);
    coio__assert(s->state == S_ENTERED);
    s->state = S_EXPIRING;
    coio_cancel(&s->task->f);
}

/* The task ended inside the scope (coio_fail, loop close): disarm it. */
static void abandon(struct coio__scope *sc)
{
    struct tscope *s = coio__container_of(sc, struct tscope, scope);
    coio_loop *l = s->task->f.loop;
    disarm(s, l);
    l->heap_need--;
    s->state = S_EXITED;
}

static int enter(coio_timeout *to, double when)
{
    struct coio__task *self = coio__self();
    struct tscope *s = S(to);
    /* Entered twice is told by the task's own scope list, without reading
       the storage (it is uninitialised before the first enter). */
    if (!self || !to || on_scope_list(self, &s->scope)) {
        errno = EINVAL;
        return -1;
    }
    coio_loop *l = self->f.loop;
    /* One heap slot for the whole life of the scope, so that arming and
       rescheduling never allocate. */
    if (coio__heap_reserve(&l->heap, l->heap_need + 1) < 0) {
        errno = ENOMEM;
        return -1;
    }
    l->heap_need++;
    s->magic = SCOPE_MAGIC;
    s->state = S_ENTERED;
    s->entry_cancelling = self->cancelling;
    s->entry_delivered = self->cancel_delivered;
    s->task = self;
    s->when = when;
    s->cb.run.kind = COIO__RUN_ICB;
    s->cb.run.next = NULL;
    s->cb.timer.kind = COIO__TIMER_ICB;
    s->cb.timer.index = COIO_NOT_IN_HEAP;
    s->cb.fn = on_expire;
    s->cb.queued = 0;
    s->scope.abandon = abandon;
    s->scope.next = self->scopes;
    self->scopes = &s->scope;
    arm(s, l);
    return 0;
}

int coio_timeout_enter(coio_timeout *to, double delay)
{
    double when = isnan(delay) || delay == INFINITY ? INFINITY : coio_loop_time(NULL) + delay;
    return enter(to, when);
}

int coio_timeout_enter_at(coio_timeout *to, double when)
{
    return enter(to, isnan(when) ? INFINITY : when);
}

int coio_timeout_exit(coio_timeout *to, int rc)
{
    int err = errno;
    struct coio__task *self = coio__self();
    struct tscope *s = S(to);
    if (!self || !to || !on_scope_list(self, &s->scope) || s->magic != SCOPE_MAGIC ||
        s->task != self || (s->state != S_ENTERED && s->state != S_EXPIRING)) {
        errno = EINVAL;
        return -1;
    }
    coio_loop *l = self->f.loop;
    disarm(s, l);
    l->heap_need--;
    scope_unlink(self, &s->scope);
    if (s->state == S_EXPIRING) {
        s->state = S_EXPIRED;
        /* Only when our own uncancel brings the count back to the level seen
           at enter is the escaping ECANCELED ours (TO2, TO7). Our cancel then
           ends here, whatever the body made of it (converted, swallowed or
           replaced by another error, TO6): the task does not end CANCELLED
           because of it. */
        if (coio_uncancel() <= s->entry_cancelling) {
            self->cancel_delivered = s->entry_delivered;
            if (rc < 0 && err == ECANCELED) {
                errno = ETIMEDOUT;
                return -1;
            }
        }
    } else {
        s->state = S_EXITED;
    }
    if (rc < 0)
        errno = err;
    return rc;
}

int coio_timeout_reschedule(coio_timeout *to, double when)
{
    struct tscope *s = S(to);
    if (!to || s->magic != SCOPE_MAGIC || s->state != S_ENTERED) {
        errno = EINVAL;
        return -1;
    }
    coio_loop *l = s->task->f.loop;
    disarm(s, l);
    s->when = isnan(when) ? INFINITY : when;
    arm(s, l);
    return 0;
}

double coio_timeout_when(const coio_timeout *to)
{
    return to && CS(to)->magic == SCOPE_MAGIC ? CS(to)->when : NAN;
}

int coio_timeout_expired(const coio_timeout *to)
{
    return to && CS(to)->magic == SCOPE_MAGIC &&
           (CS(to)->state == S_EXPIRING || CS(to)->state == S_EXPIRED);
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_timeout(const struct coio__scope *sc, int64_t now, struct coio__dbuf *b)
{
    if (sc->abandon != abandon)
        return false;
    const struct tscope *s = coio__container_of(sc, struct tscope, scope);
    coio__db_str(b, "timeout scope at ");
    coio__db_hex(b, (uintptr_t)s);
    if (s->when == INFINITY) {
        coio__db_str(b, ", no deadline");
    } else {
        coio__db_str(b, ", deadline ");
        coio__db_deadline(b, s->when * 1e9 >= 9.2e18 ? INT64_MAX : (int64_t)(s->when * 1e9), now);
    }
    if (s->state == S_EXPIRING || s->state == S_EXPIRED)
        coio__db_str(b, " (expired)");
    return true;
}
