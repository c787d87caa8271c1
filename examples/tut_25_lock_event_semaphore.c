/* tut_25_lock_event_semaphore.c — Semaphore limiting concurrency, Lock, Event.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「4. 同步原语（类似threading）」:
 *
 *     asyncio.Lock()        lock = asyncio.Lock();  async with lock:
 *     asyncio.Event()       event = asyncio.Event(); await event.wait()
 *     asyncio.Semaphore()   sem = asyncio.Semaphore(5); async with sem:
 *
 * and tutorial 004 (004_dd0433425ac7a23c.txt), 「Semaphore」: a client should
 * limit how many requests it has in flight; a semaphore made with
 * Semaphore(concur_req) lets at most concur_req coroutines past `async with`.
 * The tutorials give the calls only; this program uses each of them:
 *
 *     async def request(sem, i):
 *         async with sem:                      # at most concur_req at a time
 *             print(f"request {i} start")
 *             await asyncio.sleep(0.5)
 *             print(f"request {i} done")
 *
 *     async def worker(lock, i):
 *         async with lock:
 *             print(f"worker {i} has the lock")
 *             await asyncio.sleep(0.1)
 *
 *     async def waiter(event, i):
 *         await event.wait()
 *         print(f"waiter {i} saw the event")
 *
 *     async def main():
 *         sem = asyncio.Semaphore(2)           # concur_req = 2
 *         await asyncio.gather(*(request(sem, i) for i in range(1, 7)))
 *         lock = asyncio.Lock()
 *         await asyncio.gather(*(worker(lock, i) for i in range(1, 4)))
 *         event = asyncio.Event()
 *         waiters = [asyncio.create_task(waiter(event, i)) for i in range(1, 4)]
 *         await asyncio.sleep(0.5)
 *         print("setting the event")
 *         event.set()
 *         await asyncio.gather(*waiters)
 *
 * Six requests two at a time take 3 x 0.5 s; the lock serializes 3 x 0.1 s;
 * the event wakes all three waiters at 0.5 s: about 2.3 s in all.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

/* The primitives are plain structs the caller owns (no allocation): init, then
   pass pointers. `async with x:` becomes acquire ... release, by hand. */
static coio_semaphore sem;
static coio_lock lock;
static coio_event event;

static void *request(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (coio_semaphore_acquire(&sem) < 0)
        return NULL;
    printf("request %d start\n", i);
    coio_sleep(0.5);
    printf("request %d done\n", i);
    coio_semaphore_release(&sem);
    return NULL;
}

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (coio_lock_acquire(&lock) < 0)
        return NULL;
    printf("worker %d has the lock\n", i);
    coio_sleep(0.1);
    coio_lock_release(&lock);
    return NULL;
}

static void *waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (coio_event_wait(&event) == 0)
        printf("waiter %d saw the event\n", i);
    return NULL;
}

/* Spawn fn(1..n), gather them, release the handles. */
static void spawn_and_gather(void *(*fn)(void *), int n)
{
    coio_task *t[8];
    for (int i = 1; i <= n; i++)
        t[i - 1] = coio_spawn(fn, (void *)(intptr_t)i);
    coio_gather(t, (size_t)n, NULL, NULL, 0);
    for (int i = 0; i < n; i++)
        coio_task_release(t[i]);
}

static void *main_task(void *arg)
{
    coio_semaphore_init(&sem, 2);         /* asyncio.Semaphore(2) */
    spawn_and_gather(request, 6);

    coio_lock_init(&lock);                /* asyncio.Lock() */
    spawn_and_gather(worker, 3);

    coio_event_init(&event);              /* asyncio.Event() */
    coio_task *waiters[3];
    for (int i = 1; i <= 3; i++)
        waiters[i - 1] = coio_spawn(waiter, (void *)(intptr_t)i);
    coio_sleep(0.5);
    printf("setting the event\n");
    coio_event_set(&event);
    coio_gather(waiters, 3, NULL, NULL, 0);
    for (int i = 0; i < 3; i++)
        coio_task_release(waiters[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
