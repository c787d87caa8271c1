/* check_queue.c — Queue, LifoQueue and PriorityQueue: the Q ids of
 * ASYNCIO-SEMANTICS.md (Q1-Q8), FIFO among equal priorities (decision 17),
 * ownership of items across cancelled gets and puts, coio_queue_free and
 * growth of unbounded queues. */
#include "helpers.h"

#include <stdint.h>

#define I(n) ((void *)(intptr_t)(n))
#define N(p) ((int)(intptr_t)(p))

static void spin(int n)
{
    for (int i = 0; i < n; i++)
        coio_yield();
}

static void join_ok(coio_task *t)
{
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
}

/* A task doing one get, put or join on a queue; cancels are absorbed so the
   task ends FINISHED and the outcome is read from here. */
typedef struct {
    coio_queue *q;
    evlog *log;
    const char *name;
    void *item;    /* put: what to put; get: what was got */
    int rc, err, done;
} op;

static void op_init(op *o, coio_queue *q, evlog *log, const char *name, void *item)
{
    memset(o, 0, sizeof *o);
    o->q = q;
    o->log = log;
    o->name = name;
    o->item = item;
    o->rc = 99;
}

static void *finish(op *o, int rc)
{
    o->err = rc < 0 ? errno : 0;
    o->rc = rc;
    o->done = 1;
    coio_absorb_cancel();
    return NULL;
}

static void *getter(void *arg)
{
    op *o = arg;
    int rc = coio_queue_get(o->q, &o->item);
    int e = errno;
    if (rc == 0 && o->log)
        evlog_add(o->log, "%s=%d", o->name, N(o->item));
    errno = e;
    return finish(o, rc);
}

static void *putter(void *arg)
{
    op *o = arg;
    int rc = coio_queue_put(o->q, o->item);
    int e = errno;
    if (rc == 0 && o->log)
        evlog_add(o->log, "%s", o->name);
    errno = e;
    return finish(o, rc);
}

static void *joiner(void *arg)
{
    op *o = arg;
    int rc = coio_queue_join(o->q);
    int e = errno;
    if (rc == 0 && o->log)
        evlog_add(o->log, "%s", o->name);
    errno = e;
    return finish(o, rc);
}

/* ======================================================================== */
/* Q1: bounds, nowait                                                       */
/* ======================================================================== */

START_TEST(test_Q1_unbounded_and_nowait_errors)
{
    /* The _nowait calls work outside a task. */
    for (long m = -5; m <= 0; m += 5) {
        coio_queue *q = coio_queue_new(m);
        ck_assert_ptr_nonnull(q);
        ck_assert_int_eq(coio_queue_maxsize(q), m);
        for (int i = 0; i < 1000; i++)
            ck_assert_int_eq(coio_queue_put_nowait(q, I(i)), 0);
        ck_assert_int_eq(coio_queue_full(q), 0);
        ck_assert_uint_eq(coio_queue_qsize(q), 1000);
        ck_assert_int_eq(coio_queue_free(q), 0);
    }
    coio_queue *q = coio_queue_new(2);
    ck_assert_int_eq(coio_queue_maxsize(q), 2);
    ck_assert_int_eq(coio_queue_empty(q), 1);
    void *it = I(-1);
    errno = 0;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_ptr_eq(it, I(-1));
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    ck_assert_int_eq(coio_queue_full(q), 0);
    ck_assert_int_eq(coio_queue_put_nowait(q, NULL), 0); /* NULL is an item */
    ck_assert_int_eq(coio_queue_full(q), 1);
    errno = 0;
    ck_assert_int_eq(coio_queue_put_nowait(q, I(3)), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_uint_eq(coio_queue_qsize(q), 2);
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_ptr_eq(it, I(1));
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_ptr_eq(it, NULL);
    /* Outside a task the suspending forms are EINVAL. */
    errno = 0;
    ck_assert_int_eq(coio_queue_get(q, &it), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_queue_put(q, I(1)), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(coio_queue_join(q), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_queue_free(q), 0);
    /* NULL */
    ck_assert_int_eq(coio_queue_put_nowait(NULL, I(1)), -1);
    ck_assert_int_eq(coio_queue_get_nowait(NULL, &it), -1);
    ck_assert_int_eq(coio_queue_get_nowait(q = coio_queue_new(0), NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_queue_free(q), 0);
    ck_assert_int_eq(coio_queue_task_done(NULL), -1);
    ck_assert_int_eq(coio_queue_shutdown(NULL, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coio_queue_free(NULL), -1);
    ck_assert_uint_eq(coio_queue_qsize(NULL), 0);
    errno = 0;
    ck_assert_ptr_null(coio_priority_queue_new(0, NULL));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static void *q1_put_blocks_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(1);
    op p, g;
    ck_assert_int_eq(coio_queue_put(q, I(1)), 0); /* not full: no wait */
    op_init(&p, q, log, "put2", I(2));
    coio_task *tp = coio_spawn(putter, &p);
    spin(3);
    ck_assert_int_eq(p.done, 0); /* full: put waits */
    void *it;
    ck_assert_int_eq(coio_queue_get(q, &it), 0);
    ck_assert_ptr_eq(it, I(1));
    evlog_add(log, "got1");
    join_ok(tp);
    ck_assert_int_eq(p.rc, 0);
    ck_assert_int_eq(coio_queue_get(q, &it), 0);
    ck_assert_ptr_eq(it, I(2));
    /* get waits while empty */
    op_init(&g, q, log, "get", NULL);
    coio_task *tg = coio_spawn(getter, &g);
    spin(3);
    ck_assert_int_eq(g.done, 0);
    evlog_add(log, "put3");
    ck_assert_int_eq(coio_queue_put(q, I(3)), 0);
    join_ok(tg);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q1_put_blocks_when_full_get_when_empty)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q1_put_blocks_main, &log, NULL), 0);
    ck_assert_log(&log, "got1 put2 put3 get=3");
}
END_TEST

/* ======================================================================== */
/* Q2: order                                                                */
/* ======================================================================== */

START_TEST(test_Q2_fifo_and_lifo_order)
{
    coio_queue *f = coio_queue_new(0), *l = coio_lifo_queue_new(0);
    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(coio_queue_put_nowait(f, I(i)), 0);
        ck_assert_int_eq(coio_queue_put_nowait(l, I(i)), 0);
    }
    void *it;
    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(coio_queue_get_nowait(f, &it), 0);
        ck_assert_int_eq(N(it), i);
        ck_assert_int_eq(coio_queue_get_nowait(l, &it), 0);
        ck_assert_int_eq(N(it), 6 - i);
    }
    ck_assert_int_eq(coio_queue_empty(f), 1);
    ck_assert_int_eq(coio_queue_empty(l), 1);
    ck_assert_int_eq(coio_queue_free(f), 0);
    ck_assert_int_eq(coio_queue_free(l), 0);
}
END_TEST

typedef struct {
    int prio, id;
} pitem;

static int by_prio(const void *a, const void *b)
{
    const pitem *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

START_TEST(test_Q2_priority_smallest_first_ties_fifo)
{
    coio_queue *q = coio_priority_queue_new(0, by_prio);
    ck_assert_ptr_nonnull(q);
    pitem small[] = {{1, 0}, {0, 1}, {1, 2}, {0, 3}, {1, 4}, {-1, 5}};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(coio_queue_put_nowait(q, &small[i]), 0);
    static const int order[] = {5, 1, 3, 0, 2, 4};
    for (int i = 0; i < 6; i++) {
        void *it;
        ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
        ck_assert_int_eq(((pitem *)it)->id, order[i]);
    }
    /* Many items, interleaved gets, several growths: priorities come out
       non-decreasing and equal ones in insertion order. */
    enum { M = 3000 };
    pitem *v = malloc(M * sizeof *v);
    ck_assert_ptr_nonnull(v);
    unsigned x = 12345;
    int got = 0;
    pitem *last = NULL;
    for (int i = 0; i < M; i++) {
        x = x * 1103515245u + 12345u;
        v[i].prio = (int)((x >> 16) % 7);
        v[i].id = i;
        ck_assert_int_eq(coio_queue_put_nowait(q, &v[i]), 0);
    }
    while (!coio_queue_empty(q)) {
        void *it;
        ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
        pitem *p = it;
        if (last)
            ck_assert(last->prio < p->prio || (last->prio == p->prio && last->id < p->id));
        last = p;
        got++;
    }
    ck_assert_int_eq(got, M);
    free(v);
    ck_assert_int_eq(coio_queue_free(q), 0);
}
END_TEST

/* Unbounded queues grow while the FIFO ring has wrapped, and the order of
   every kind survives the growth. */
START_TEST(test_unbounded_growth_keeps_order)
{
    coio_queue *f = coio_queue_new(0);
    coio_queue *l = coio_lifo_queue_new(-1);
    void *it;
    /* Wrap the ring: head moves forward before the growths. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(coio_queue_put_nowait(f, I(-1)), 0);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(coio_queue_get_nowait(f, &it), 0);
    int next_out = 0, next_in = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 300; i++)
            ck_assert_int_eq(coio_queue_put_nowait(f, I(next_in++)), 0);
        for (int i = 0; i < 100; i++) {
            ck_assert_int_eq(coio_queue_get_nowait(f, &it), 0);
            if (N(it) == -1)
                continue;
            ck_assert_int_eq(N(it), next_out++);
        }
    }
    while (coio_queue_get_nowait(f, &it) == 0)
        if (N(it) != -1)
            ck_assert_int_eq(N(it), next_out++);
    ck_assert_int_eq(next_out, next_in);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(coio_queue_put_nowait(l, I(i)), 0);
    ck_assert_uint_eq(coio_queue_qsize(l), 10000);
    for (int i = 9999; i >= 0; i--) {
        ck_assert_int_eq(coio_queue_get_nowait(l, &it), 0);
        ck_assert_int_eq(N(it), i);
    }
    ck_assert_int_eq(coio_queue_free(f), 0);
    ck_assert_int_eq(coio_queue_free(l), 0);
    /* A bounded queue larger than its first allocation grows up to maxsize. */
    coio_queue *b = coio_queue_new(5000);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(coio_queue_put_nowait(b, I(i)), 0);
    ck_assert_int_eq(coio_queue_full(b), 1);
    ck_assert_int_eq(coio_queue_put_nowait(b, I(0)), -1);
    ck_assert_int_eq(errno, EAGAIN);
    for (int i = 0; i < 5000; i++) {
        ck_assert_int_eq(coio_queue_get_nowait(b, &it), 0);
        ck_assert_int_eq(N(it), i);
    }
    ck_assert_int_eq(coio_queue_free(b), 0);
}
END_TEST

/* ======================================================================== */
/* Q3: task_done / join                                                     */
/* ======================================================================== */

static void *q3_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(0);
    ck_assert_int_eq(coio_queue_join(q), 0); /* nothing unfinished */
    errno = 0;
    ck_assert_int_eq(coio_queue_task_done(q), -1);
    ck_assert_int_eq(errno, EOVERFLOW);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(2)), 0);
    op j1, j2;
    op_init(&j1, q, log, "j1", NULL);
    op_init(&j2, q, log, "j2", NULL);
    coio_task *t1 = coio_spawn(joiner, &j1), *t2 = coio_spawn(joiner, &j2);
    void *it;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    spin(3);
    ck_assert_int_eq(j1.done, 0); /* got, but not done */
    ck_assert_int_eq(coio_queue_task_done(q), 0);
    spin(3);
    ck_assert_int_eq(j1.done, 0);
    evlog_add(log, "done2");
    ck_assert_int_eq(coio_queue_task_done(q), 0);
    /* A put before the joiners run does not hold them back (EV2). */
    ck_assert_int_eq(coio_queue_put_nowait(q, I(3)), 0);
    join_ok(t1);
    join_ok(t2);
    ck_assert_int_eq(j1.rc, 0);
    ck_assert_int_eq(j2.rc, 0);
    ck_assert_int_eq(coio_queue_task_done(q), 0); /* for item 3 (still queued) */
    errno = 0;
    ck_assert_int_eq(coio_queue_task_done(q), -1);
    ck_assert_int_eq(errno, EOVERFLOW);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q3_task_done_join_eoverflow)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q3_main, &log, NULL), 0);
    ck_assert_log(&log, "done2 j1 j2");
}
END_TEST

static void *q3_join_cancel_main(void *arg)
{
    coio_queue *q = coio_queue_new(0);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    op j;
    op_init(&j, q, NULL, "j", NULL);
    coio_task *t = coio_spawn(joiner, &j);
    spin(2);
    ck_assert_int_eq(coio_cancel(t), 1);
    join_ok(t);
    ck_assert_int_eq(j.rc, -1);
    ck_assert_int_eq(j.err, ECANCELED);
    /* The cancelled joiner left: the queue can be freed. */
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q3_cancelled_join)
{
    ck_assert_int_eq(run_main(q3_join_cancel_main, NULL, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* Q4: one wake-up per put/get, FIFO; woken waiters re-check                */
/* ======================================================================== */

static void *q4_getters_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(0);
    op g[3];
    coio_task *t[3];
    for (int i = 0; i < 3; i++) {
        op_init(&g[i], q, log, (const char *[]){"a", "b", "c"}[i], NULL);
        t[i] = coio_spawn(getter, &g[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    spin(2);
    ck_assert_int_eq(g[1].done, 0); /* one put, one getter */
    ck_assert_int_eq(coio_queue_put_nowait(q, I(2)), 0);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(3)), 0);
    for (int i = 0; i < 3; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(g[i].rc, 0);
        ck_assert_int_eq(N(g[i].item), i + 1);
    }
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q4_put_wakes_one_getter_fifo)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q4_getters_main, &log, NULL), 0);
    ck_assert_log(&log, "a=1 b=2 c=3");
}
END_TEST

static void *q4_putters_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(1);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(0)), 0);
    op p[3];
    coio_task *t[3];
    for (int i = 0; i < 3; i++) {
        op_init(&p[i], q, log, (const char *[]){"a", "b", "c"}[i], I(i + 1));
        t[i] = coio_spawn(putter, &p[i]);
        coio_yield();
    }
    for (int i = 0; i <= 3; i++) {
        void *it;
        ck_assert_int_eq(coio_queue_get(q, &it), 0);
        ck_assert_int_eq(N(it), i);
        evlog_add(log, "got%d", i);
        spin(2);
    }
    for (int i = 0; i < 3; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(p[i].rc, 0);
    }
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q4_get_wakes_one_putter_fifo)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q4_putters_main, &log, NULL), 0);
    ck_assert_log(&log, "got0 a got1 b got2 c got3");
}
END_TEST

static void *q4_recheck_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(0);
    op g;
    op_init(&g, q, log, "g", NULL);
    coio_task *t = coio_spawn(getter, &g);
    spin(2);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0); /* wakes g */
    void *it;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0); /* taken before g runs */
    ck_assert_int_eq(N(it), 1);
    spin(3);
    ck_assert_int_eq(g.done, 0); /* g found it empty and waits again */
    ck_assert_int_eq(coio_queue_put_nowait(q, I(2)), 0);
    join_ok(t);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_int_eq(N(g.item), 2);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q4_woken_getter_rechecks_and_waits_again)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q4_recheck_main, &log, NULL), 0);
    ck_assert_log(&log, "g=2");
}
END_TEST

/* ======================================================================== */
/* Q5 / Q6: cancellation never loses or inserts items                       */
/* ======================================================================== */

static void *q5_main(void *arg)
{
    coio_queue *q = coio_queue_new(0);
    op g;
    op_init(&g, q, NULL, "g", I(-1));
    coio_task *t = coio_spawn(getter, &g);
    spin(2);
    ck_assert_int_eq(coio_cancel(t), 1);
    join_ok(t);
    ck_assert_int_eq(g.rc, -1);
    ck_assert_int_eq(g.err, ECANCELED);
    ck_assert_ptr_eq(g.item, I(-1)); /* untouched */
    ck_assert_int_eq(coio_queue_put_nowait(q, I(7)), 0);
    ck_assert_uint_eq(coio_queue_qsize(q), 1);
    ck_assert_int_eq(coio_queue_free(q), 0); /* the getter left the queue */
    return NULL;
}

START_TEST(test_Q5_cancelled_get_keeps_item)
{
    ck_assert_int_eq(run_main(q5_main, NULL, NULL), 0);
}
END_TEST

static void *q5_race_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(0);
    op g[3];
    coio_task *t[3];
    for (int i = 0; i < 3; i++) {
        op_init(&g[i], q, log, (const char *[]){"a", "b", "c"}[i], I(-1));
        t[i] = coio_spawn(getter, &g[i]);
        coio_yield();
    }
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0); /* wakes a */
    ck_assert_int_eq(coio_cancel(t[0]), 1);              /* before a runs */
    join_ok(t[0]);
    ck_assert_int_eq(g[0].rc, -1);
    ck_assert_int_eq(g[0].err, ECANCELED);
    ck_assert_ptr_eq(g[0].item, I(-1));
    join_ok(t[1]); /* b was woken in a's place and got the item */
    ck_assert_int_eq(g[1].rc, 0);
    ck_assert_int_eq(N(g[1].item), 1);
    spin(2);
    ck_assert_int_eq(g[2].done, 0);
    ck_assert_uint_eq(coio_queue_qsize(q), 0);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(2)), 0);
    join_ok(t[2]);
    ck_assert_int_eq(N(g[2].item), 2);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q5_woken_then_cancelled_getter_passes_item_on)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q5_race_main, &log, NULL), 0);
    ck_assert_log(&log, "b=1 c=2");
}
END_TEST

/* Several getters cancelled at once with items arriving: nothing is lost. */
static void *q5_many_main(void *arg)
{
    coio_queue *q = coio_queue_new(0);
    enum { G = 6 };
    op g[G];
    coio_task *t[G];
    for (int i = 0; i < G; i++) {
        op_init(&g[i], q, NULL, "g", I(-1));
        t[i] = coio_spawn(getter, &g[i]);
    }
    spin(2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(coio_queue_put_nowait(q, I(100 + i)), 0); /* wakes g0..g2 */
    for (int i = 0; i < G; i += 2)
        ck_assert_int_eq(coio_cancel(t[i]), 1);                    /* g0, g2, g4 */
    for (int i = 0; i < G; i++)
        if (i % 2)
            join_ok(t[i]);
    int sum = 0;
    for (int i = 0; i < G; i++) {
        if (i % 2 == 0) {
            join_ok(t[i]);
            ck_assert_int_eq(g[i].err, ECANCELED);
            ck_assert_ptr_eq(g[i].item, I(-1));
        } else {
            ck_assert_int_eq(g[i].rc, 0);
            sum += N(g[i].item);
        }
    }
    ck_assert_int_eq(sum, 100 + 101 + 102);
    ck_assert_uint_eq(coio_queue_qsize(q), 0);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q5_cancel_drop_many_pending_getters)
{
    ck_assert_int_eq(run_main(q5_many_main, NULL, NULL), 0);
}
END_TEST

static void *q6_main(void *arg)
{
    coio_queue *q = coio_queue_new(1);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    op p;
    op_init(&p, q, NULL, "p", I(2));
    coio_task *t = coio_spawn(putter, &p);
    spin(2);
    ck_assert_int_eq(coio_cancel(t), 1);
    join_ok(t);
    ck_assert_int_eq(p.rc, -1);
    ck_assert_int_eq(p.err, ECANCELED);
    void *it;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_ptr_eq(it, I(1));
    ck_assert_int_eq(coio_queue_empty(q), 1); /* 2 was never inserted */
    ck_assert_int_eq(coio_queue_task_done(q), 0);
    errno = 0;
    ck_assert_int_eq(coio_queue_task_done(q), -1); /* and not counted */
    ck_assert_int_eq(errno, EOVERFLOW);
    ck_assert_int_eq(coio_queue_free(q), 0); /* the putter left the queue */
    return NULL;
}

START_TEST(test_Q6_cancelled_put_never_inserts)
{
    ck_assert_int_eq(run_main(q6_main, NULL, NULL), 0);
}
END_TEST

static void *q6_race_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_queue_new(1);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(0)), 0);
    op p[3];
    coio_task *t[3];
    for (int i = 0; i < 3; i++) {
        op_init(&p[i], q, log, (const char *[]){"a", "b", "c"}[i], I(i + 1));
        t[i] = coio_spawn(putter, &p[i]);
        coio_yield();
    }
    void *it;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0); /* wakes a */
    ck_assert_int_eq(coio_cancel(t[0]), 1);              /* before a runs */
    join_ok(t[0]);
    ck_assert_int_eq(p[0].rc, -1);
    ck_assert_int_eq(p[0].err, ECANCELED);
    join_ok(t[1]); /* b got the free slot */
    ck_assert_int_eq(p[1].rc, 0);
    spin(2);
    ck_assert_int_eq(p[2].done, 0);
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_int_eq(N(it), 2);
    join_ok(t[2]);
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_int_eq(N(it), 3);
    ck_assert_int_eq(coio_queue_empty(q), 1);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q6_woken_then_cancelled_putter_hands_slot_on)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q6_race_main, &log, NULL), 0);
    ck_assert_log(&log, "b c");
}
END_TEST

/* T8/L10: get from a non-empty queue, put into a non-full one and join
   with nothing unfinished are not cancellation points. */
static void *q_fast_main(void *arg)
{
    coio_queue *q = coio_queue_new(2);
    ck_assert_int_eq(coio_cancel(coio_current_task()), 1);
    ck_assert_int_eq(coio_queue_put(q, I(1)), 0);
    void *it;
    ck_assert_int_eq(coio_queue_get(q, &it), 0);
    ck_assert_ptr_eq(it, I(1));
    ck_assert_int_eq(coio_queue_task_done(q), 0);
    ck_assert_int_eq(coio_queue_join(q), 0);
    errno = 0;
    ck_assert_int_eq(coio_queue_get(q, &it), -1); /* empty: a real wait */
    ck_assert_int_eq(errno, ECANCELED);
    ck_assert_int_eq(coio_queue_free(q), 0);
    coio_absorb_cancel();
    coio_uncancel();
    return I(5);
}

START_TEST(test_Q_T8_fast_paths_not_cancellation_points)
{
    void *r = NULL;
    ck_assert_int_eq(run_main(q_fast_main, NULL, &r), 0);
    ck_assert_ptr_eq(r, I(5));
}
END_TEST

/* ======================================================================== */
/* Q7 / Q8: shutdown                                                        */
/* ======================================================================== */

static void *q7_main(void *arg)
{
    coio_queue *q = coio_queue_new(2);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(2)), 0);
    op p;
    op_init(&p, q, NULL, "p", I(3));
    coio_task *tp = coio_spawn(putter, &p);
    spin(2);
    ck_assert_int_eq(coio_queue_shutdown(q, 0), 0);
    join_ok(tp);
    ck_assert_int_eq(p.rc, -1);
    ck_assert_int_eq(p.err, ESHUTDOWN); /* blocked putter */
    errno = 0;
    ck_assert_int_eq(coio_queue_put(q, I(4)), -1);
    ck_assert_int_eq(errno, ESHUTDOWN);
    errno = 0;
    ck_assert_int_eq(coio_queue_put_nowait(q, I(4)), -1);
    ck_assert_int_eq(errno, ESHUTDOWN);
    /* Gets drain what is left, then fail. */
    void *it;
    ck_assert_int_eq(coio_queue_get(q, &it), 0);
    ck_assert_ptr_eq(it, I(1));
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    ck_assert_ptr_eq(it, I(2));
    errno = 0;
    ck_assert_int_eq(coio_queue_get(q, &it), -1);
    ck_assert_int_eq(errno, ESHUTDOWN);
    errno = 0;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), -1);
    ck_assert_int_eq(errno, ESHUTDOWN);
    ck_assert_int_eq(coio_queue_shutdown(q, 0), 0); /* again: fine */
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q7_shutdown_puts_fail_gets_drain)
{
    ck_assert_int_eq(run_main(q7_main, NULL, NULL), 0);
}
END_TEST

static void *q7_getters_main(void *arg)
{
    coio_queue *q = coio_queue_new(0);
    op g[2];
    coio_task *t[2];
    for (int i = 0; i < 2; i++) {
        op_init(&g[i], q, NULL, "g", I(-1));
        t[i] = coio_spawn(getter, &g[i]);
    }
    spin(2);
    ck_assert_int_eq(coio_queue_shutdown(q, 0), 0);
    for (int i = 0; i < 2; i++) {
        join_ok(t[i]);
        ck_assert_int_eq(g[i].rc, -1);
        ck_assert_int_eq(g[i].err, ESHUTDOWN);
    }
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q7_shutdown_fails_blocked_getters)
{
    ck_assert_int_eq(run_main(q7_getters_main, NULL, NULL), 0);
}
END_TEST

static void *q8_main(void *arg)
{
    evlog *log = arg;
    coio_queue *q = coio_lifo_queue_new(0);
    for (int i = 1; i <= 3; i++)
        ck_assert_int_eq(coio_queue_put_nowait(q, I(i)), 0);
    void *it;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0); /* taken, not yet done */
    ck_assert_ptr_eq(it, I(3));
    op j;
    op_init(&j, q, log, "joined", NULL);
    coio_task *tj = coio_spawn(joiner, &j);
    spin(2);
    ck_assert_int_eq(coio_queue_shutdown(q, 1), 0);
    ck_assert_uint_eq(coio_queue_qsize(q), 0); /* discarded */
    errno = 0;
    ck_assert_int_eq(coio_queue_get(q, &it), -1);
    ck_assert_int_eq(errno, ESHUTDOWN);
    spin(3);
    ck_assert_int_eq(j.done, 0); /* item 3 still needs its task_done */
    evlog_add(log, "done3");
    ck_assert_int_eq(coio_queue_task_done(q), 0);
    join_ok(tj);
    ck_assert_int_eq(j.rc, 0);
    errno = 0;
    ck_assert_int_eq(coio_queue_task_done(q), -1); /* the discarded ones counted */
    ck_assert_int_eq(errno, EOVERFLOW);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q8_shutdown_immediate_discards_and_counts_done)
{
    evlog log = {{0}};
    ck_assert_int_eq(run_main(q8_main, &log, NULL), 0);
    ck_assert_log(&log, "done3 joined");
}
END_TEST

static void *q8_release_join_main(void *arg)
{
    coio_queue *q = coio_priority_queue_new(1, by_prio);
    pitem a = {1, 1}, b = {0, 2};
    ck_assert_int_eq(coio_queue_put_nowait(q, &a), 0);
    op j, g, p;
    op_init(&j, q, NULL, "j", NULL);
    op_init(&p, q, NULL, "p", &b);
    coio_task *tj = coio_spawn(joiner, &j);
    coio_task *tp = coio_spawn(putter, &p);
    spin(2);
    ck_assert_int_eq(coio_queue_shutdown(q, 1), 0);
    /* The join is released by the discard; the blocked putter fails. */
    join_ok(tj);
    ck_assert_int_eq(j.rc, 0);
    join_ok(tp);
    ck_assert_int_eq(p.rc, -1);
    ck_assert_int_eq(p.err, ESHUTDOWN);
    op_init(&g, q, NULL, "g", NULL);
    coio_task *tg = coio_spawn(getter, &g);
    join_ok(tg);
    ck_assert_int_eq(g.rc, -1);
    ck_assert_int_eq(g.err, ESHUTDOWN);
    ck_assert_int_eq(coio_queue_free(q), 0);
    return NULL;
}

START_TEST(test_Q8_shutdown_immediate_releases_join)
{
    ck_assert_int_eq(run_main(q8_release_join_main, NULL, NULL), 0);
}
END_TEST

/* ======================================================================== */
/* coio_queue_free                                                          */
/* ======================================================================== */

static void *free_busy_main(void *arg)
{
    coio_queue *q = coio_queue_new(1);
    op g, p, j;
    /* a getter */
    op_init(&g, q, NULL, "g", NULL);
    coio_task *t = coio_spawn(getter, &g);
    spin(2);
    errno = 0;
    ck_assert_int_eq(coio_queue_free(q), -1);
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(coio_queue_put_nowait(q, I(1)), 0);
    join_ok(t);
    /* a putter */
    ck_assert_int_eq(coio_queue_put_nowait(q, I(2)), 0);
    op_init(&p, q, NULL, "p", I(3));
    t = coio_spawn(putter, &p);
    spin(2);
    errno = 0;
    ck_assert_int_eq(coio_queue_free(q), -1);
    ck_assert_int_eq(errno, EBUSY);
    void *it;
    ck_assert_int_eq(coio_queue_get_nowait(q, &it), 0);
    join_ok(t);
    /* a joiner: items 1, 2 and 3 were put, none is done yet */
    op_init(&j, q, NULL, "j", NULL);
    t = coio_spawn(joiner, &j);
    spin(2);
    errno = 0;
    ck_assert_int_eq(coio_queue_free(q), -1);
    ck_assert_int_eq(errno, EBUSY);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(coio_queue_task_done(q), 0);
    join_ok(t);
    ck_assert_int_eq(j.rc, 0);
    ck_assert_int_eq(coio_queue_free(q), 0); /* an item still queued is fine */
    return NULL;
}

START_TEST(test_free_ebusy_with_waiters)
{
    ck_assert_int_eq(run_main(free_busy_main, NULL, NULL), 0);
}
END_TEST

/* A producer/consumer pipeline through a small bounded queue. */
typedef struct {
    coio_queue *q;
    long sum;
    int n;
} pipe_ctx;

static void *consumer(void *arg)
{
    pipe_ctx *c = arg;
    void *it;
    while (coio_queue_get(c->q, &it) == 0) {
        c->sum += N(it);
        c->n++;
        ck_assert_int_eq(coio_queue_task_done(c->q), 0);
    }
    ck_assert_int_eq(errno, ESHUTDOWN);
    return NULL;
}

static void *pipeline_main(void *arg)
{
    pipe_ctx c = {coio_queue_new(3), 0, 0};
    coio_task *cons[3];
    for (int i = 0; i < 3; i++)
        cons[i] = coio_spawn(consumer, &c);
    for (int i = 1; i <= 2000; i++)
        ck_assert_int_eq(coio_queue_put(c.q, I(i)), 0);
    ck_assert_int_eq(coio_queue_join(c.q), 0);
    ck_assert_int_eq(c.n, 2000);
    ck_assert_int_eq(c.sum, 2000L * 2001 / 2);
    ck_assert_int_eq(coio_queue_shutdown(c.q, 0), 0);
    for (int i = 0; i < 3; i++)
        join_ok(cons[i]);
    ck_assert_int_eq(coio_queue_free(c.q), 0);
    return NULL;
}

START_TEST(test_Q3_producer_consumers_join)
{
    ck_assert_int_eq(run_main(pipeline_main, NULL, NULL), 0);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("basic");
    tcase_add_test(tc, test_Q1_unbounded_and_nowait_errors);
    tcase_add_test(tc, test_Q1_put_blocks_when_full_get_when_empty);
    tcase_add_test(tc, test_Q2_fifo_and_lifo_order);
    tcase_add_test(tc, test_Q2_priority_smallest_first_ties_fifo);
    tcase_add_test(tc, test_unbounded_growth_keeps_order);
    tcase_add_test(tc, test_Q3_task_done_join_eoverflow);
    tcase_add_test(tc, test_Q3_cancelled_join);
    tcase_add_test(tc, test_Q3_producer_consumers_join);
    tcase_add_test(tc, test_Q4_put_wakes_one_getter_fifo);
    tcase_add_test(tc, test_Q4_get_wakes_one_putter_fifo);
    tcase_add_test(tc, test_Q4_woken_getter_rechecks_and_waits_again);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_add_test(tc, test_Q5_cancelled_get_keeps_item);
    tcase_add_test(tc, test_Q5_woken_then_cancelled_getter_passes_item_on);
    tcase_add_test(tc, test_Q5_cancel_drop_many_pending_getters);
    tcase_add_test(tc, test_Q6_cancelled_put_never_inserts);
    tcase_add_test(tc, test_Q6_woken_then_cancelled_putter_hands_slot_on);
    tcase_add_test(tc, test_Q_T8_fast_paths_not_cancellation_points);
    suite_add_tcase(s, tc);

    tc = tcase_create("shutdown");
    tcase_add_test(tc, test_Q7_shutdown_puts_fail_gets_drain);
    tcase_add_test(tc, test_Q7_shutdown_fails_blocked_getters);
    tcase_add_test(tc, test_Q8_shutdown_immediate_discards_and_counts_done);
    tcase_add_test(tc, test_Q8_shutdown_immediate_releases_join);
    tcase_add_test(tc, test_free_ebusy_with_waiters);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(queue_suite)
