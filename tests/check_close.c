/* check_close.c — coio_loop_close under tasks still pending on a loop driven by
 * hand: waiters of Lock, Event, Condition, Semaphore, Barrier and queues that
 * were woken (or not) but never ran hand on what they were given, so the
 * primitive works again from another loop; awaits and shields leak nothing.
 * (coio_loop_close reports each such task on stderr: expected here.) */
#include "helpers.h"

#include <stdatomic.h>
#include <unistd.h>

/* Primitives in static storage: they outlive the loops that used them. */
static coio_lock lock;
static coio_event ev;
static coio_condition cond;
static coio_semaphore sem;
static coio_barrier bar;

/* Run exactly one iteration of l (L7: stop before run_forever). */
static void iterate(coio_loop *l)
{
    ck_assert_int_eq(coio_loop_stop(l), 0);
    ck_assert_int_eq(coio_loop_run_forever(l), 0);
}

static void stop_cb(void *l) { coio_loop_stop(l); }

/* Run l until t is done, or give up after a few seconds (a stranded waiter
   would otherwise hang the test). */
static void run_until(coio_loop *l, coio_task *t)
{
    coio_handle *h = coio_call_later(l, 3.0 * slack(), stop_cb, l);
    ck_assert_ptr_nonnull(h);
    coio_loop_run_until_complete(l, t, NULL);
    coio_handle_cancel(h);
    ck_assert_msg(coio_task_done(t), "the waiter of the other loop was never woken");
}

static void close_and_release(coio_loop *l, coio_task **ts, size_t n)
{
    ck_assert_int_eq(coio_loop_close(l), 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(coio_task_done(ts[i]), 1);
        coio_task_release(ts[i]); /* unmaps the stack: stale records would now fault */
    }
}

/* ---- workers ------------------------------------------------------------------ */

typedef struct {
    int got;   /* the operation returned */
    int rc;
    void *item;
} work;

static void *lock_holder(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coio_lock_acquire(&lock), 0);
    return NULL; /* keeps the lock */
}

static void *lock_waiter(void *arg)
{
    work *w = arg;
    w->rc = coio_lock_acquire(&lock);
    w->got = 1;
    if (w->rc == 0)
        coio_lock_release(&lock);
    return NULL;
}

static void *event_waiter(void *arg)
{
    work *w = arg;
    w->rc = coio_event_wait(&ev);
    w->got = 1;
    return NULL;
}

static void *cond_waiter(void *arg)
{
    work *w = arg;
    ck_assert_int_eq(coio_condition_acquire(&cond), 0);
    w->rc = coio_condition_wait(&cond);
    w->got = 1;
    coio_condition_release(&cond);
    return NULL;
}

static void *cond_notifier(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coio_condition_acquire(&cond), 0);
    ck_assert_int_eq(coio_condition_notify(&cond, 1), 0);
    coio_condition_release(&cond);
    return NULL;
}

static void *sem_waiter(void *arg)
{
    work *w = arg;
    w->rc = coio_semaphore_acquire(&sem);
    w->got = 1;
    return NULL;
}

static void *bar_waiter(void *arg)
{
    work *w = arg;
    w->rc = coio_barrier_wait(&bar);
    w->got = 1;
    return NULL;
}

/* ---- Lock ------------------------------------------------------------------------ */

static void *lock_reuse_main(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coio_lock_acquire(&lock), 0);
    work w = {0};
    coio_task *t = coio_spawn(lock_waiter, &w);
    coio_yield();
    ck_assert_int_eq(w.got, 0); /* queued behind us */
    ck_assert_int_eq(coio_lock_release(&lock), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(w.got, 1);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(coio_lock_locked(&lock), 0);
    return NULL;
}

START_TEST(test_close_lock_woken_waiter_hands_lock_on)
{
    coio_lock_init(&lock);
    coio_loop *a = coio_loop_new();
    work w1 = {0}, w2 = {0};
    coio_task *ts[3];
    ts[0] = coio_loop_spawn(a, NULL, lock_holder, NULL);
    ts[1] = coio_loop_spawn(a, NULL, lock_waiter, &w1);
    ts[2] = coio_loop_spawn(a, NULL, lock_waiter, &w2);
    iterate(a); /* the holder takes the lock, both waiters park */
    ck_assert_int_eq(coio_lock_release(&lock), 0); /* hands it to w1, which never runs */
    close_and_release(a, ts, 3);
    ck_assert_int_eq(w1.got + w2.got, 0);
    ck_assert_int_eq(coio_lock_locked(&lock), 0);
    ck_assert_int_eq(run_main(lock_reuse_main, NULL, NULL), 0);
}
END_TEST

START_TEST(test_close_lock_handed_to_waiter_of_other_loop)
{
    coio_lock_init(&lock);
    coio_loop *a = coio_loop_new(), *b = coio_loop_new();
    work wa = {0}, wb = {0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, lock_holder, NULL);
    ts[1] = coio_loop_spawn(a, NULL, lock_waiter, &wa);
    iterate(a);
    coio_task *tb = coio_loop_spawn(b, NULL, lock_waiter, &wb);
    iterate(b); /* b's waiter queues behind a's */
    ck_assert_int_eq(coio_lock_release(&lock), 0); /* wakes a's waiter */
    close_and_release(a, ts, 2);
    run_until(b, tb);
    ck_assert_int_eq(wb.got, 1);
    ck_assert_int_eq(wb.rc, 0);
    ck_assert_int_eq(coio_lock_locked(&lock), 0);
    coio_task_release(tb);
    ck_assert_int_eq(coio_loop_close(b), 0);
}
END_TEST

/* ---- Event ----------------------------------------------------------------------- */

static void *event_setter(void *arg)
{
    (void)arg;
    coio_event_set(&ev);
    return NULL;
}

static void *event_reuse_main(void *arg)
{
    (void)arg;
    work w1 = {0}, w2 = {0};
    coio_task *t1 = coio_spawn(event_waiter, &w1), *t2 = coio_spawn(event_waiter, &w2);
    coio_yield();
    ck_assert_int_eq(w1.got + w2.got, 0);
    coio_task_release(coio_spawn(event_setter, NULL));
    ck_assert_int_eq(coio_await(t1, NULL), 0);
    ck_assert_int_eq(coio_await(t2, NULL), 0);
    coio_task_release(t1);
    coio_task_release(t2);
    ck_assert_int_eq(w1.rc, 0);
    ck_assert_int_eq(w2.rc, 0);
    return NULL;
}

START_TEST(test_close_event_woken_waiters_leave_list)
{
    coio_event_init(&ev);
    coio_loop *a = coio_loop_new();
    work w1 = {0}, w2 = {0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, event_waiter, &w1);
    ts[1] = coio_loop_spawn(a, NULL, event_waiter, &w2);
    iterate(a);
    coio_event_set(&ev); /* wakes both; neither runs */
    close_and_release(a, ts, 2);
    ck_assert_int_eq(w1.got + w2.got, 0);
    coio_event_clear(&ev);
    ck_assert_int_eq(run_main(event_reuse_main, NULL, NULL), 0);
}
END_TEST

/* ---- Condition ------------------------------------------------------------------- */

START_TEST(test_close_condition_notification_passed_on)
{
    coio_condition_init(&cond, NULL);
    coio_loop *a = coio_loop_new(), *b = coio_loop_new();
    work wa = {0}, wb = {0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, cond_waiter, &wa);
    iterate(a); /* a's waiter waits, the lock is free again */
    coio_task *tb = coio_loop_spawn(b, NULL, cond_waiter, &wb);
    iterate(b); /* b's waiter waits behind it */
    ts[1] = coio_loop_spawn(a, NULL, cond_notifier, NULL);
    iterate(a); /* notify(1) wakes a's waiter, which does not run again */
    close_and_release(a, ts, 2);
    ck_assert_int_eq(wa.got, 0);
    run_until(b, tb); /* the notification reached b's waiter */
    ck_assert_int_eq(wb.got, 1);
    ck_assert_int_eq(wb.rc, 0);
    ck_assert_int_eq(coio_lock_locked(coio_condition_lock(&cond)), 0);
    coio_task_release(tb);
    ck_assert_int_eq(coio_loop_close(b), 0);
}
END_TEST

/* ---- Semaphore ------------------------------------------------------------------- */

static void *sem_reuse_main(void *arg)
{
    (void)arg;
    ck_assert_int_eq(coio_semaphore_acquire(&sem), 0); /* no suspension */
    ck_assert_int_eq(coio_semaphore_value(&sem), 0);
    work w = {0};
    coio_task *t = coio_spawn(sem_waiter, &w);
    coio_yield();
    ck_assert_int_eq(w.got, 0);
    ck_assert_int_eq(coio_semaphore_release(&sem), 0);
    ck_assert_int_eq(coio_await(t, NULL), 0);
    coio_task_release(t);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_int_eq(coio_semaphore_value(&sem), 0);
    return NULL;
}

START_TEST(test_close_semaphore_granted_permit_returned)
{
    ck_assert_int_eq(coio_semaphore_init(&sem, 0), 0);
    coio_loop *a = coio_loop_new();
    work w1 = {0}, w2 = {0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, sem_waiter, &w1);
    ts[1] = coio_loop_spawn(a, NULL, sem_waiter, &w2);
    iterate(a);
    ck_assert_int_eq(coio_semaphore_release(&sem), 0); /* granted to w1, never taken */
    ck_assert_int_eq(coio_semaphore_value(&sem), 0);
    close_and_release(a, ts, 2);
    ck_assert_int_eq(w1.got + w2.got, 0);
    ck_assert_int_eq(coio_semaphore_value(&sem), 1);
    ck_assert_int_eq(coio_semaphore_locked(&sem), 0);
    ck_assert_int_eq(run_main(sem_reuse_main, NULL, NULL), 0);
}
END_TEST

/* ---- Barrier --------------------------------------------------------------------- */

static void *bar_reuse_main(void *arg)
{
    int parties = (int)(intptr_t)arg;
    work w[3] = {{0}};
    coio_task *t[3];
    for (int i = 0; i < parties; i++)
        t[i] = coio_spawn(bar_waiter, &w[i]);
    int seen = 0;
    for (int i = 0; i < parties; i++) {
        ck_assert_int_eq(coio_await(t[i], NULL), 0);
        coio_task_release(t[i]);
        ck_assert_int_eq(w[i].got, 1);
        ck_assert_int_ge(w[i].rc, 0);
        ck_assert_int_lt(w[i].rc, parties);
        seen |= 1 << w[i].rc;
    }
    ck_assert_int_eq(seen, (1 << parties) - 1); /* each index once */
    ck_assert_int_eq(coio_barrier_n_waiting(&bar), 0);
    return NULL;
}

START_TEST(test_close_barrier_woken_waiter_leaves_round)
{
    ck_assert_int_eq(coio_barrier_init(&bar, 2), 0);
    coio_loop *a = coio_loop_new();
    work w1 = {0}, w2 = {0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, bar_waiter, &w1);
    ts[1] = coio_loop_spawn(a, NULL, bar_waiter, &w2);
    iterate(a); /* w2 completes the round and returns; w1 is woken, not run */
    ck_assert_int_eq(w1.got, 0);
    ck_assert_int_eq(w2.got, 1);
    ck_assert_int_eq(w2.rc, 1);
    close_and_release(a, ts, 2);
    ck_assert_int_eq(coio_barrier_broken(&bar), 0);
    ck_assert_int_eq(coio_barrier_n_waiting(&bar), 0);
    ck_assert_int_eq(run_main(bar_reuse_main, (void *)(intptr_t)2, NULL), 0);
}
END_TEST

START_TEST(test_close_barrier_parked_waiters_leave_round)
{
    ck_assert_int_eq(coio_barrier_init(&bar, 3), 0);
    coio_loop *a = coio_loop_new();
    work w1 = {0}, w2 = {0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, bar_waiter, &w1);
    ts[1] = coio_loop_spawn(a, NULL, bar_waiter, &w2);
    iterate(a);
    ck_assert_int_eq(coio_barrier_n_waiting(&bar), 2);
    close_and_release(a, ts, 2);
    ck_assert_int_eq(coio_barrier_n_waiting(&bar), 0);
    ck_assert_int_eq(run_main(bar_reuse_main, (void *)(intptr_t)3, NULL), 0);
}
END_TEST

/* ---- Queue ----------------------------------------------------------------------- */

static coio_queue *queue;

static void *q_getter(void *arg)
{
    work *w = arg;
    w->rc = coio_queue_get(queue, &w->item);
    w->got = 1;
    return NULL;
}

static void *q_putter(void *arg)
{
    work *w = arg;
    w->rc = coio_queue_put(queue, w->item);
    w->got = 1;
    return NULL;
}

START_TEST(test_close_queue_woken_getter_hands_item_on)
{
    queue = coio_queue_new(0);
    coio_loop *a = coio_loop_new(), *b = coio_loop_new();
    work wa = {0}, wb = {0};
    coio_task *ts[1];
    ts[0] = coio_loop_spawn(a, NULL, q_getter, &wa);
    iterate(a);
    coio_task *tb = coio_loop_spawn(b, NULL, q_getter, &wb);
    iterate(b);
    int item = 42;
    ck_assert_int_eq(coio_queue_put_nowait(queue, &item), 0); /* wakes a's getter */
    close_and_release(a, ts, 1);
    ck_assert_int_eq(wa.got, 0);
    ck_assert_int_eq(coio_queue_qsize(queue), 1); /* the item stayed */
    run_until(b, tb);
    ck_assert_int_eq(wb.rc, 0);
    ck_assert_ptr_eq(wb.item, &item);
    ck_assert_int_eq(coio_queue_qsize(queue), 0);
    coio_task_release(tb);
    ck_assert_int_eq(coio_loop_close(b), 0);
    ck_assert_int_eq(coio_queue_free(queue), 0);
}
END_TEST

START_TEST(test_close_queue_woken_putter_hands_slot_on)
{
    queue = coio_queue_new(1);
    int first = 1, mine = 2, theirs = 3;
    ck_assert_int_eq(coio_queue_put_nowait(queue, &first), 0);
    coio_loop *a = coio_loop_new(), *b = coio_loop_new();
    work wa = {0}, wb = {0};
    wa.item = &mine;
    wb.item = &theirs;
    coio_task *ts[1];
    ts[0] = coio_loop_spawn(a, NULL, q_putter, &wa);
    iterate(a);
    coio_task *tb = coio_loop_spawn(b, NULL, q_putter, &wb);
    iterate(b);
    void *got = NULL;
    ck_assert_int_eq(coio_queue_get_nowait(queue, &got), 0); /* wakes a's putter */
    ck_assert_ptr_eq(got, &first);
    close_and_release(a, ts, 1);
    ck_assert_int_eq(wa.got, 0);
    run_until(b, tb);
    ck_assert_int_eq(wb.rc, 0);
    ck_assert_int_eq(coio_queue_qsize(queue), 1);
    ck_assert_int_eq(coio_queue_get_nowait(queue, &got), 0);
    ck_assert_ptr_eq(got, &theirs); /* never a's item: its put did not happen */
    coio_task_release(tb);
    ck_assert_int_eq(coio_loop_close(b), 0);
    ck_assert_int_eq(coio_queue_free(queue), 0);
}
END_TEST

/* ---- awaits and shields: nothing leaks (valgrind / LSan runs) ------------------------ */

static void *awaiter(void *arg)
{
    coio_await(arg, NULL);
    return NULL;
}

START_TEST(test_close_woken_awaiter_releases_future)
{
    coio_loop *a = coio_loop_new();
    ck_assert_int_eq(coio_loop_set_current(a), 0);
    coio_future *f = coio_future_new();
    ck_assert_ptr_nonnull(f);
    coio_task *ts[1];
    ts[0] = coio_loop_spawn(a, NULL, awaiter, f);
    iterate(a);
    ck_assert_int_eq(coio_future_set_result(f, NULL), 0); /* wakes the awaiter */
    close_and_release(a, ts, 1);
    coio_task_release(f); /* the last reference, once the awaiter's was dropped */
}
END_TEST

static void *sleeper(void *arg)
{
    (void)arg;
    coio_sleep(60);
    return NULL;
}

START_TEST(test_close_pending_shielded_task_frees_link)
{
    coio_loop *a = coio_loop_new();
    coio_task *ts[1];
    ts[0] = coio_loop_spawn(a, NULL, sleeper, NULL);
    coio_future *outer = coio_shield(ts[0]);
    ck_assert_ptr_nonnull(outer);
    ck_assert_ptr_ne(outer, ts[0]);
    iterate(a); /* the inner task sleeps */
    close_and_release(a, ts, 1);
    ck_assert_int_eq(coio_task_state(outer), COIO_PENDING); /* nothing completes it now */
    coio_task_release(outer);
}
END_TEST

START_TEST(test_close_unstarted_shielded_task_frees_link)
{
    coio_loop *a = coio_loop_new();
    coio_task *ts[1];
    ts[0] = coio_loop_spawn(a, NULL, sleeper, NULL);
    coio_future *outer = coio_shield(ts[0]);
    ck_assert_ptr_nonnull(outer);
    close_and_release(a, ts, 1);
    coio_task_release(outer);
}
END_TEST

/* ---- plain futures still pending at close --------------------------------------------- */

START_TEST(test_close_pending_shielded_future_frees_link)
{
    /* A shield of a plain future: the link holds both futures, and only the inner
       one's completion would ever drop it. Close drops it; both stay pending and
       valid, and can no longer be completed (EINVAL). */
    coio_loop *a = coio_loop_new();
    ck_assert_int_eq(coio_loop_set_current(a), 0);
    coio_future *inner = coio_future_new();
    ck_assert_ptr_nonnull(inner);
    coio_future *outer = coio_shield(inner);
    ck_assert_ptr_nonnull(outer);
    ck_assert_ptr_ne(outer, inner);
    coio_future *outer2 = coio_shield(outer); /* a chain: the second link goes too */
    ck_assert_ptr_nonnull(outer2);
    ck_assert_int_eq(coio_loop_close(a), 0);
    ck_assert_int_eq(coio_task_state(inner), COIO_PENDING);
    ck_assert_int_eq(coio_task_state(outer), COIO_PENDING);
    ck_assert_int_eq(coio_task_state(outer2), COIO_PENDING);
    ck_assert_err(coio_future_set_result(inner, NULL), EINVAL);
    ck_assert_err(coio_future_set_error(inner, EIO, "late"), EINVAL);
    ck_assert_err(coio_cancel(outer), EINVAL);
    ck_assert_err(coio_shield(inner) ? 0 : -1, EINVAL);
    ck_assert_int_eq(coio_task_state(outer), COIO_PENDING);
    coio_task_release(outer);  /* any order: each release frees only its own */
    coio_task_release(inner);
    coio_task_release(outer2); /* the last one frees the loop's memory too */
}
END_TEST

static void count_cb(coio_future *f, void *arg)
{
    (void)f;
    ++*(int *)arg;
}

START_TEST(test_close_done_callbacks_of_pending_future_dropped)
{
    coio_loop *a = coio_loop_new();
    ck_assert_int_eq(coio_loop_set_current(a), 0);
    int calls = 0;
    coio_future *f = coio_future_new(), *g = coio_future_new();
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(coio_future_add_done_callback(f, count_cb, &calls), 0);
    ck_assert_int_eq(coio_future_add_done_callback(f, count_cb, &calls), 0);
    ck_assert_int_eq(coio_future_add_done_callback(g, count_cb, &calls), 0);
    ck_assert_int_eq(coio_future_set_result(g, NULL), 0); /* g's callback is queued */
    coio_task_release(g); /* its queued callback keeps it */
    ck_assert_int_eq(coio_loop_close(a), 0);
    ck_assert_int_eq(calls, 0); /* nothing runs after close */
    /* The registrations went with the loop: nothing left to remove, nothing to add. */
    ck_assert_int_eq(coio_future_remove_done_callback(f, count_cb, &calls), 0);
    ck_assert_err(coio_future_add_done_callback(f, count_cb, &calls), EINVAL);
    ck_assert_err(coio_future_set_result(f, NULL), EINVAL);
    ck_assert_int_eq(coio_future_done(f), 0);
    ck_assert_int_eq(calls, 0);
    coio_future_release(f);
}
END_TEST

/* ---- thread-pool waiters woken but not run ----------------------------------------------- */

static atomic_int marker_ran, dtor_calls, blocker_ran, blocker_go;

static void *quick_fn(void *arg) { return arg; }

static void *marker_fn(void *arg)
{
    atomic_store(&marker_ran, 1);
    return arg;
}

static void *blocker_fn(void *arg)
{
    atomic_store(&blocker_ran, 1);
    for (int i = 0; i < 10000 && !atomic_load(&blocker_go); i++)
        usleep(1000);
    return arg;
}

static void count_dtor(void *p)
{
    (void)p;
    atomic_fetch_add(&dtor_calls, 1);
}

typedef struct {
    coio_executor *ex;
    void *(*fn)(void *);
    int got, rc;
} xwork;

static void *exec_waiter(void *arg)
{
    xwork *w = arg;
    coio_executor_opts o = {.result_dtor = count_dtor};
    void *r = NULL;
    w->rc = coio_run_in_executor_opts(w->ex, &o, w->fn, w, &r);
    w->got = 1;
    return NULL;
}

START_TEST(test_close_executor_woken_waiter_drops_result)
{
    /* One worker: when marker_fn runs, quick_fn's completion is already posted. */
    coio_executor *ex = coio_executor_new(1);
    ck_assert_ptr_nonnull(ex);
    coio_loop *a = coio_loop_new();
    xwork w1 = {ex, quick_fn, 0, 0}, w2 = {ex, marker_fn, 0, 0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, exec_waiter, &w1);
    ts[1] = coio_loop_spawn(a, NULL, exec_waiter, &w2);
    iterate(a); /* both submit and park */
    for (int i = 0; i < 5000 && !atomic_load(&marker_ran); i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&marker_ran), 1);
    iterate(a); /* quick_fn's completion wakes w1's task, which does not run */
    ck_assert_int_eq(w1.got, 0);
    close_and_release(a, ts, 2);
    ck_assert_int_eq(coio_executor_free(ex), 0); /* joins: marker_fn's job is settled */
    ck_assert_int_eq(w1.got + w2.got, 0);
    /* Neither result reached its caller: both went to the destructor. */
    ck_assert_int_eq(atomic_load(&dtor_calls), 2);
}
END_TEST

START_TEST(test_close_executor_cancelled_queued_waiter_frees_job)
{
    coio_executor *ex = coio_executor_new(1);
    ck_assert_ptr_nonnull(ex);
    coio_loop *a = coio_loop_new();
    xwork w0 = {ex, blocker_fn, 0, 0}, w1 = {ex, quick_fn, 0, 0};
    coio_task *ts[2];
    ts[0] = coio_loop_spawn(a, NULL, exec_waiter, &w0);
    ts[1] = coio_loop_spawn(a, NULL, exec_waiter, &w1);
    iterate(a); /* the worker runs blocker_fn; quick_fn waits in the queue */
    for (int i = 0; i < 5000 && !atomic_load(&blocker_ran); i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&blocker_ran), 1);
    ck_assert_int_eq(coio_cancel(ts[1]), 1); /* dequeued, its task woken, never run */
    close_and_release(a, ts, 2);
    atomic_store(&blocker_go, 1);
    ck_assert_int_eq(coio_executor_free(ex), 0);
    ck_assert_int_eq(w0.got + w1.got, 0);
    ck_assert_int_eq(atomic_load(&dtor_calls), 1); /* blocker_fn's result only */
    /* The cancelled job held a reference to ex: leak checkers see it if lost. */
}
END_TEST

static Suite *close_suite(void)
{
    Suite *s = suite_create("close");
    TCase *tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_close_lock_woken_waiter_hands_lock_on);
    tcase_add_test(tc, test_close_lock_handed_to_waiter_of_other_loop);
    tcase_add_test(tc, test_close_event_woken_waiters_leave_list);
    tcase_add_test(tc, test_close_condition_notification_passed_on);
    tcase_add_test(tc, test_close_semaphore_granted_permit_returned);
    tcase_add_test(tc, test_close_barrier_woken_waiter_leaves_round);
    tcase_add_test(tc, test_close_barrier_parked_waiters_leave_round);
    tcase_add_test(tc, test_close_queue_woken_getter_hands_item_on);
    tcase_add_test(tc, test_close_queue_woken_putter_hands_slot_on);
    tcase_add_test(tc, test_close_woken_awaiter_releases_future);
    tcase_add_test(tc, test_close_pending_shielded_task_frees_link);
    tcase_add_test(tc, test_close_unstarted_shielded_task_frees_link);
    tcase_add_test(tc, test_close_pending_shielded_future_frees_link);
    tcase_add_test(tc, test_close_done_callbacks_of_pending_future_dropped);
    tcase_add_test(tc, test_close_executor_woken_waiter_drops_result);
    tcase_add_test(tc, test_close_executor_cancelled_queued_waiter_frees_job);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(close_suite)
