/* taskgroup.c — asyncio.TaskGroup as enter/spawn/exit over caller storage.
 * Each child gets a small record (one malloc per spawn, off the hot paths)
 * whose callback reaches the group one callback turn after the child ends, as
 * asyncio's _on_task_done does; that callback frees the record and the
 * group's reference (so a long-lived group holds only its pending children),
 * except that a failed child stays referenced by its failure entry. A failing
 * exit moves the failure list into a reference-counted heap copy that the
 * task keeps for coio_task_group_error.
 */
#include "coio_int.h"
#include "dump.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_MAGIC 0xC01067A9u    /* a live group in caller storage */
#define DETACHED_MAGIC 0xC01067DEu /* a heap copy of a failed group's list */

enum { G_ENTERED = 1, G_EXITED, G_ABANDONED };

struct group;

struct fentry {
    coio_task *task;       /* one reference; NULL for the body */
    int code;
    const char *message;   /* the task's errmsg (kept alive by the reference) or NULL */
    struct group *nested;  /* COIO_EGROUP: that group's heap copy, one reference; or NULL */
};

struct child {
    struct coio__cnode node; /* COIO__CN_NOTIFY on the child's completion list */
    struct coio__icb cb;     /* on_child_done, queued when the child completes */
    struct coio__list link;  /* on group->children */
    coio_task *task;         /* one reference, the group's, held until the
                                completion is processed (or the group ends) */
    struct group *g;
};

/* A live group (caller storage, GROUP_MAGIC) or a heap copy (DETACHED_MAGIC,
   only magic, refs and the failure list are used). */
struct group {
    uint32_t magic;
    uint8_t state;                   /* G_*, live groups */
    uint8_t exiting;                 /* exit has started */
    uint8_t aborting;                /* children were cancelled: spawning is refused */
    uint8_t parent_cancel_requested; /* the group cancelled its parent (at most once) */
    uint8_t entry_delivered;         /* the parent's cancel_delivered at enter */
    int refs;                        /* heap copies: task group_error, entries, live group */
    struct coio__task *parent;       /* the entering task */
    struct coio__list children;      /* struct child, in spawn order, whose completion
                                        was not processed yet */
    size_t npending;                 /* children whose completion was not processed yet */
    struct coio__wait *exit_wait;    /* set while the parent is parked in exit */
    struct fentry *errs;             /* failures in completion order (malloc'd). Capacity
                                        >= nerrs + npending + 1 once a child was spawned,
                                        so recording a failure never allocates */
    size_t nerrs, caperrs;
    struct group *result;            /* after a failing exit: the heap copy now holding
                                        the list (one reference), or NULL */
    struct coio__scope scope;        /* on parent->scopes while entered */
};
_Static_assert(sizeof(struct group) <= sizeof(coio_taskgroup), "coio_taskgroup storage too small");
_Static_assert(_Alignof(struct group) <= _Alignof(coio_taskgroup), "coio_taskgroup misaligned");

static inline struct group *G(coio_taskgroup *tg) { return (struct group *)(void *)tg; }

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

/* ---- failure lists --------------------------------------------------------- */

static void copy_unref(struct group *d);

static void free_entries(struct group *g)
{
    for (size_t i = 0; i < g->nerrs; i++) {
        if (g->errs[i].nested)
            copy_unref(g->errs[i].nested);
        coio_task_release(g->errs[i].task);
    }
    free(g->errs);
    g->errs = NULL;
    g->nerrs = g->caperrs = 0;
}

static void copy_unref(struct group *d)
{
    if (--d->refs > 0)
        return;
    free_entries(d);
    d->magic = 0;
    free(d);
}

void coio__group_error_release(const coio_taskgroup *g)
{
    if (g)
        copy_unref((struct group *)(void *)g);
}

static bool reserve(struct group *g, size_t need)
{
    if (g->caperrs >= need)
        return true;
    size_t cap = g->caperrs ? g->caperrs * 2 : 4;
    if (cap < need)
        cap = need;
    struct fentry *v = realloc(g->errs, cap * sizeof *v);
    if (!v)
        return false;
    g->errs = v;
    g->caperrs = cap;
    return true;
}

/* Capacity is reserved (see struct group), except for a body error in a group
   that never spawned, where this may fail. */
static bool add_failure(struct group *g, coio_task *t, int code, const char *msg,
                        const coio_taskgroup *nested)
{
    if (!reserve(g, g->nerrs + 1))
        return false;
    struct fentry *e = &g->errs[g->nerrs++];
    e->task = t ? coio_task_retain(t) : NULL;
    e->code = code;
    e->message = msg;
    e->nested = (struct group *)(void *)nested;
    if (e->nested)
        e->nested->refs++;
    return true;
}

/* ---- children -------------------------------------------------------------- */

static void abort_children(struct group *g)
{
    g->aborting = 1;
    for (struct coio__list *n = g->children.next; n != &g->children; n = n->next) {
        struct child *c = coio__container_of(n, struct child, link);
        if (c->task->state == COIO_PENDING)
            coio_cancel(c->task);
    }
}

/* The child completed (inside coio__future_complete): process it one
   callback turn later, as a done-callback would be. */
static void child_notify(struct coio__cnode *n, coio_future *f)
{
    struct child *c = coio__container_of(n, struct child, node);
    c->cb.queued = 1;
    coio__ready_push(f->loop, &c->cb.run);
}

/* asyncio's _on_task_done (loop context). The child leaves the group here,
   as asyncio discards it from _tasks: its record and the group's reference
   go now, so a long-lived group (an accept loop) keeps no finished stacks.
   A failure entry takes its own reference. */
static void on_child_done(struct coio__icb *cb)
{
    struct child *c = coio__container_of(cb, struct child, cb);
    struct group *g = c->g;
    coio_task *t = c->task;
    coio__list_del(&c->link);
    free(c);
    g->npending--;
    if (g->npending == 0 && g->exit_wait) {
        g->exit_wait = NULL;
        coio__wake(g->parent, 0);
    }
    if (t->state != COIO_FAILED) {
        coio_task_release(t); /* finished, or cancelled on its own: not an error (TG5) */
        return;
    }
    t->retrieved = 1;
    struct coio__task *k = coio__as_task(t);
    const coio_taskgroup *nested = k && t->err == COIO_EGROUP ? k->group_error : NULL;
    bool ok = add_failure(g, t, t->err, t->errmsg, nested);
    coio__assert(ok);
    if (!g->aborting && !g->parent_cancel_requested) {
        /* The first failure stops everything: siblings and the body (TG2).
           The parent's cancel is undone at exit (TG10). */
        abort_children(g);
        g->parent_cancel_requested = 1;
        coio_cancel(&g->parent->f);
    }
    coio_task_release(t);
}

static void free_children(struct group *g, bool cancel)
{
    coio_loop *l = g->parent->f.loop;
    while (!coio__list_empty(&g->children)) {
        struct child *c = coio__container_of(g->children.next, struct child, link);
        coio__list_del(&c->link);
        coio__list_del(&c->node.link); /* still registered if the child is pending */
        if (c->cb.queued)
            coio__ready_remove(l, &c->cb.run);
        if (cancel && !l->closed && c->task->state == COIO_PENDING)
            coio_cancel(c->task);
        coio_task_release(c->task);
        free(c);
    }
}

/* The parent ended with the group still entered (coio_fail in the body, loop
   close): children cannot outlive the group, so they are cancelled and left
   to finish detached; everything the group holds is freed. */
static void abandon(struct coio__scope *sc)
{
    struct group *g = coio__container_of(sc, struct group, scope);
    free_children(g, true);
    free_entries(g);
    g->npending = 0;
    g->exit_wait = NULL;
    g->state = G_ABANDONED;
}

/* ---- the API --------------------------------------------------------------- */

int coio_taskgroup_enter(coio_taskgroup *tg)
{
    struct coio__task *self = coio__self();
    struct group *g = G(tg);
    /* Entered twice is told by the task's own scope list, without reading
       the storage (it is uninitialised before the first enter). */
    if (!self || !tg || on_scope_list(self, &g->scope)) {
        errno = EINVAL;
        return -1;
    }
    memset(g, 0, sizeof *g);
    g->magic = GROUP_MAGIC;
    g->state = G_ENTERED;
    g->parent = self;
    g->entry_delivered = self->cancel_delivered;
    coio__list_init(&g->children);
    g->scope.abandon = abandon;
    g->scope.next = self->scopes;
    self->scopes = &g->scope;
    return 0;
}

coio_task *coio_taskgroup_spawn(coio_taskgroup *tg, const coio_task_opts *opts,
                                void *(*fn)(void *), void *arg)
{
    struct group *g = G(tg);
    int err = EINVAL;
    struct child *c = NULL;
    if (!tg || !fn || g->magic != GROUP_MAGIC || g->state != G_ENTERED || g->aborting ||
        (g->exiting && g->npending == 0))
        goto fail;
    err = ENOMEM;
    if (!reserve(g, g->nerrs + g->npending + 2) || !(c = malloc(sizeof *c)))
        goto fail;
    coio_task *t = coio_loop_spawn(g->parent->f.loop, opts, fn, arg);
    if (!t) {
        err = errno;
        goto fail;
    }
    c->task = t; /* the reference spawn returned becomes the group's; the caller
                    borrows it while the child is pending */
    c->g = g;
    c->node.kind = COIO__CN_NOTIFY;
    c->node.task = NULL;
    c->node.notify = child_notify;
    coio__list_push(&t->cnodes, &c->node.link);
    c->cb.run.kind = COIO__RUN_ICB;
    c->cb.run.next = NULL;
    c->cb.timer.kind = COIO__TIMER_ICB;
    c->cb.timer.index = COIO_NOT_IN_HEAP;
    c->cb.fn = on_child_done;
    c->cb.queued = 0;
    if (t->state != COIO_PENDING) { /* an eager child that ended in spawn (EG2) */
        coio__list_del(&c->node.link);
        child_notify(&c->node, t);
    }
    coio__list_push(&g->children, &c->link);
    g->npending++;
    return t;
fail:
    free(c);
    /* The rejected function never runs; arg is not leaked (TG9). */
    if (opts && opts->arg_dtor)
        opts->arg_dtor(arg);
    errno = err;
    return NULL;
}

struct exit_wait {
    struct coio__wait w;
    struct group *g;
};

static int exit_cancel(struct coio__wait *w, struct coio__task *t)
{
    coio__container_of(w, struct exit_wait, w)->g->exit_wait = NULL;
    coio__wake(t, ECANCELED);
    return 1;
}

static void exit_unlink(struct coio__wait *w)
{
    coio__container_of(w, struct exit_wait, w)->g->exit_wait = NULL;
}

/* asyncio's TaskGroup._aexit, with "exception escaping the body" read as
   body_rc < 0 and errno. */
int coio_taskgroup_exit(coio_taskgroup *tg, int body_rc)
{
    int body_err = body_rc < 0 ? errno : 0;
    struct coio__task *self = coio__self();
    struct group *g = G(tg);
    if (!self || !tg || !on_scope_list(self, &g->scope) || g->magic != GROUP_MAGIC ||
        g->state != G_ENTERED || g->parent != self || g->exiting) {
        errno = EINVAL;
        return -1;
    }
    g->exiting = 1;
    bool propagate = body_rc < 0 && body_err == ECANCELED; /* CancelledError escaping */
    bool swallowed = propagate; /* a delivered cancel that this exit may handle */
    if (body_rc < 0 && !g->aborting)
        abort_children(g); /* the body failed or its task is being cancelled (TG4, TG6) */
    while (g->npending) {
        struct exit_wait ew = {{exit_cancel, exit_unlink}, g};
        g->exit_wait = &ew.w;
        int code = coio__park(self, &ew.w, -1, 0);
        g->exit_wait = NULL;
        if (code == ECANCELED) {
            swallowed = true;
            if (!g->aborting) { /* cancelled from outside while waiting (TG6) */
                propagate = true;
                abort_children(g);
            }
        }
    }
    scope_unlink(self, &g->scope);
    g->state = G_EXITED;
    free_children(g, false);
    /* Undo our own cancel of the parent (TG10); if no other cancel is
       outstanding, ours was the only reason to propagate. */
    if (g->parent_cancel_requested) {
        swallowed = true; /* it may have reached the body, which reported it somehow */
        if (coio_uncancel() == 0)
            propagate = false;
    }
    if (propagate && g->nerrs == 0) {
        errno = ECANCELED;
        return -1;
    }
    if (body_rc < 0 && body_err != ECANCELED &&
        !add_failure(g, NULL, body_err, NULL, body_err == COIO_EGROUP ? self->group_error : NULL)) {
        /* No memory for even one entry: report the body's error itself. */
        if (swallowed)
            self->cancel_delivered = g->entry_delivered;
        errno = body_err;
        return -1;
    }
    if (swallowed) /* the cancels we know of end here: replaced by the group error or
                      handled; one delivered before enter is kept */
        self->cancel_delivered = g->entry_delivered;
    if (g->nerrs == 0)
        return 0;
    if (self->cancelling > 0) {
        /* An outside cancel is still outstanding: keep it pending, so the
           next suspension delivers it (TG11). */
        coio_uncancel();
        coio_cancel_msg(&self->f, self->f.cancel_msg);
    }
    struct group *d = calloc(1, sizeof(coio_taskgroup));
    if (d) {
        d->magic = DETACHED_MAGIC;
        d->refs = 2; /* this group's and the task's */
        d->errs = g->errs;
        d->nerrs = g->nerrs;
        d->caperrs = g->caperrs;
        g->errs = NULL;
        g->nerrs = g->caperrs = 0;
        g->result = d;
        if (self->group_error)
            coio__group_error_release(self->group_error);
        self->group_error = (const coio_taskgroup *)(void *)d;
    }
    /* Without memory for the copy the list stays here, readable until
       dispose, and coio_task_group_error() has nothing for this group. */
    errno = COIO_EGROUP;
    return -1;
}

/* The group whose list an accessor reads: a live group's copy once it has
   one, the storage itself otherwise; NULL if it is neither. */
static const struct group *view(const coio_taskgroup *tg)
{
    const struct group *g = (const struct group *)(const void *)tg;
    if (!g)
        return NULL;
    if (g->magic == DETACHED_MAGIC)
        return g;
    if (g->magic == GROUP_MAGIC)
        return g->result ? g->result : g;
    return NULL;
}

size_t coio_taskgroup_error_count(const coio_taskgroup *tg)
{
    const struct group *v = view(tg);
    return v ? v->nerrs : 0;
}

int coio_taskgroup_error_get(const coio_taskgroup *tg, size_t i, coio_group_failure *out)
{
    const struct group *v = view(tg);
    if (!v || !out || i >= v->nerrs) {
        errno = EINVAL;
        return -1;
    }
    const struct fentry *e = &v->errs[i];
    out->task = e->task;
    out->code = e->code;
    out->message = e->message;
    out->group = (const coio_taskgroup *)(const void *)e->nested;
    return 0;
}

void coio_taskgroup_dispose(coio_taskgroup *tg)
{
    struct group *g = G(tg);
    if (!tg || g->magic != GROUP_MAGIC || g->state == G_ENTERED)
        return;
    if (g->result)
        copy_unref(g->result);
    g->result = NULL;
    free_entries(g);
    g->magic = 0;
}

const coio_taskgroup *coio_task_group_error(const coio_task *t)
{
    if (!coio__future_valid(t) || t->state != COIO_FAILED || t->err != COIO_EGROUP)
        return NULL;
    struct coio__task *k = coio__as_task((coio_future *)t);
    return k ? k->group_error : NULL;
}

/* ---- task dumps (dump.c) ------------------------------------------------------ */

bool coio__describe_taskgroup(const struct coio__wait *w, const struct coio__task *t, int64_t now,
                              struct coio__dbuf *b)
{
    (void)t;
    (void)now;
    if (w->unlink != exit_unlink)
        return false;
    const struct exit_wait *ew = coio__container_of(w, struct exit_wait, w);
    coio__db_str(b, "task-group exit at ");
    coio__db_hex(b, (uintptr_t)ew->g);
    coio__db_str(b, ", waiting for ");
    coio__db_u64(b, ew->g->npending);
    coio__db_str(b, ew->g->npending == 1 ? " child" : " children");
    if (ew->g->aborting)
        coio__db_str(b, " (cancelled)");
    return true;
}
