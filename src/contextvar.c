/* contextvar.c — asyncio's contextvars as tasks use them (CV1-CV6).
 *
 * A context is an immutable map from variable ids to values: a sorted array with a
 * reference count (NULL is the empty context). Copying a context, as every spawn and
 * every call_soon does, is taking a reference: O(1), no allocation (CV6). Lookup is a
 * binary search, O(log n). set makes a new array (O(n)) unless the context is not
 * shared, then it changes in place (copy on write).
 *
 * Where the current context lives: in the running task (task->ctx), else in the slot of
 * the callback the loop is running (a handle's, a to_thread job's: coio__tls_cbslot),
 * else in the thread's own slot. Contexts never cross threads shared: coio_to_thread
 * hands its job a private copy, so reference counts need no atomics.
 */
#include "coio_int.h"

#include <stdlib.h>
#include <string.h>

struct coio__ctx {
    int refs;
    uint32_t n;                 /* entries, sorted by id */
    struct ctx_entry {
        uint64_t id;
        void *value;
    } e[];
};

struct coio_contextvar {
    uint64_t id;                /* unique for the process; entries are keyed by it */
    void *def;
    char name[64];
};

static atomic_uint_fast64_t next_id = 1;
static _Thread_local struct coio__ctx *thread_ctx;  /* outside tasks and callbacks */
_Thread_local struct coio__ctx **coio__tls_cbslot;  /* the running callback's, or NULL */

struct coio__ctx *coio__ctx_ref(struct coio__ctx *c)
{
    if (c)
        c->refs++;
    return c;
}

void coio__ctx_release(struct coio__ctx *c)
{
    if (c && --c->refs == 0)
        free(c);
}

/* The slot holding the current context. */
static struct coio__ctx **cur_slot(void)
{
    struct coio__task *t = coio__self();
    if (t)
        return &t->ctx;
    return coio__tls_cbslot ? coio__tls_cbslot : &thread_ctx;
}

struct coio__ctx *coio__ctx_capture(void) { return coio__ctx_ref(*cur_slot()); }

struct coio__ctx *coio__ctx_clone(void)
{
    struct coio__ctx *c = *cur_slot();
    if (!c)
        return NULL;
    size_t sz = sizeof *c + c->n * sizeof c->e[0];
    struct coio__ctx *d = malloc(sz);
    if (!d)
        return NULL; /* the job runs in an empty context: documented */
    memcpy(d, c, sz);
    d->refs = 1;
    return d;
}

/* Index of id in c, or of where it would go (*found says which). */
static uint32_t find(const struct coio__ctx *c, uint64_t id, bool *found)
{
    uint32_t lo = 0, hi = c ? c->n : 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->e[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = c && lo < c->n && c->e[lo].id == id;
    return lo;
}

/* Store (id, value) in *slot; del: remove id instead. 0 or -1/ENOMEM. */
static int put(struct coio__ctx **slot, uint64_t id, void *value, bool del)
{
    struct coio__ctx *c = *slot;
    bool found;
    uint32_t i = find(c, id, &found);
    if (del && !found)
        return 0;
    if (found && !del && c->refs == 1) { /* ours alone: in place */
        c->e[i].value = value;
        return 0;
    }
    uint32_t n = c ? c->n : 0;
    uint32_t m = del ? n - 1 : found ? n : n + 1;
    if (m == 0) {
        coio__ctx_release(c);
        *slot = NULL;
        return 0;
    }
    struct coio__ctx *d = malloc(sizeof *d + m * sizeof d->e[0]);
    if (!d) {
        errno = ENOMEM;
        return -1;
    }
    d->refs = 1;
    d->n = m;
    if (i)
        memcpy(d->e, c->e, i * sizeof d->e[0]);
    if (del) {
        memcpy(d->e + i, c->e + i + 1, (n - i - 1) * sizeof d->e[0]);
    } else {
        d->e[i].id = id;
        d->e[i].value = value;
        uint32_t from = found ? i + 1 : i;
        if (n > from)
            memcpy(d->e + i + 1, c->e + from, (n - from) * sizeof d->e[0]);
    }
    coio__ctx_release(c);
    *slot = d;
    return 0;
}

coio_contextvar *coio_contextvar_new(const char *name, void *default_value)
{
    coio_contextvar *v = calloc(1, sizeof *v);
    if (!v) {
        errno = ENOMEM;
        return NULL;
    }
    v->id = atomic_fetch_add(&next_id, 1);
    v->def = default_value;
    if (name) {
        strncpy(v->name, name, sizeof v->name - 1);
    }
    return v;
}

void coio_contextvar_free(coio_contextvar *v) { free(v); }

const char *coio_contextvar_name(const coio_contextvar *v) { return v ? v->name : NULL; }

int coio_contextvar_lookup(const coio_contextvar *v, void **value)
{
    if (!v) {
        errno = EINVAL;
        return -1;
    }
    const struct coio__ctx *c = *cur_slot();
    bool found;
    uint32_t i = find(c, v->id, &found);
    if (value)
        *value = found ? c->e[i].value : v->def;
    return found;
}

void *coio_contextvar_get(const coio_contextvar *v)
{
    void *val = NULL;
    coio_contextvar_lookup(v, &val);
    return val;
}

int coio_contextvar_set(coio_contextvar *v, void *value, coio_contextvar_token *tok)
{
    if (!v) {
        errno = EINVAL;
        return -1;
    }
    struct coio__ctx **slot = cur_slot();
    void *old = NULL;
    int had = coio_contextvar_lookup(v, &old);
    if (put(slot, v->id, value, false) < 0)
        return -1;
    if (tok)
        *tok = (coio_contextvar_token){.var = v, .old = old, .had_old = had, .used = 0,
                                       .ctx = slot};
    return 0;
}

int coio_contextvar_reset(coio_contextvar *v, coio_contextvar_token *tok)
{
    if (!v || !tok || tok->var != v) {
        errno = EINVAL;
        return -1;
    }
    if (tok->used) {
        errno = EPERM; /* RuntimeError: used once already */
        return -1;
    }
    struct coio__ctx **slot = cur_slot();
    if (tok->ctx != (const void *)slot) {
        errno = EINVAL; /* ValueError: made in another context */
        return -1;
    }
    if (put(slot, v->id, tok->old, !tok->had_old) < 0)
        return -1;
    tok->used = 1;
    return 0;
}
