/* heap.c — the loop's timer queue: a binary min-heap of pointers to timer
 * nodes ordered by (deadline, sequence), each node keeping its own index so
 * that removal is O(log n). The array grows by doubling and never shrinks
 * below its high-water mark, so a warm loop inserts without allocating. */
#include "coio_int.h"

#include <stdlib.h>

static inline bool before(const struct coio__timer *a, const struct coio__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(struct coio__heap *h, size_t i, struct coio__timer *t)
{
    h->v[i] = t;
    t->index = i;
}

static void sift_up(struct coio__heap *h, size_t i, struct coio__timer *t)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->v[parent]))
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct coio__heap *h, size_t i, struct coio__timer *t)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
            c++;
        if (!before(h->v[c], t))
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

int coio__heap_push(struct coio__heap *h, struct coio__timer *t)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct coio__timer **v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    sift_up(h, h->n++, t);
    return 0;
}

void coio__heap_remove(struct coio__heap *h, struct coio__timer *t)
{
    size_t i = t->index;
    coio__assert(i < h->n && h->v[i] == t);
    t->index = COIO_NOT_IN_HEAP;
    struct coio__timer *last = h->v[--h->n];
    if (i == h->n)
        return;
    /* Put the last node into the hole and restore order in whichever
       direction it is violated. */
    if (i > 0 && before(last, h->v[(i - 1) / 2]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

struct coio__timer *coio__heap_pop(struct coio__heap *h)
{
    struct coio__timer *t = coio__heap_top(h);
    if (t)
        coio__heap_remove(h, t);
    return t;
}

void coio__heap_free(struct coio__heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

int coio__heap_reserve(struct coio__heap *h, size_t n)
{
    if (n <= h->cap)
        return 0;
    size_t cap = h->cap ? h->cap : 64;
    while (cap < n)
        cap *= 2;
    struct coio__timer **v = realloc(h->v, cap * sizeof *v);
    if (!v)
        return -1;
    h->v = v;
    h->cap = cap;
    return 0;
}
