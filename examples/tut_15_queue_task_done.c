/* tut_15_queue_task_done.c — a producer and a consumer on an asyncio.Queue with task_done.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「实例 3. 使用异步队列」:
 *
 *     async def producer(queue):
 *         for i in range(5):
 *             await queue.put(i)
 *             await asyncio.sleep(0.1)
 *
 *     async def consumer(queue):
 *         while True:
 *             item = await queue.get()
 *             print(f"Consumed {item}")
 *             queue.task_done()
 *
 *     async def main():
 *         queue = asyncio.Queue()
 *         await asyncio.gather(
 *             producer(queue),
 *             consumer(queue)
 *         )
 *
 * As printed in the tutorial this program never ends: the consumer loops
 * forever, so gather never returns. This version finishes the way task_done
 * is meant for — main waits for queue.join() (every item consumed), then
 * cancels the consumer and gathers with return_exceptions=True:
 *
 *     async def main():
 *         queue = asyncio.Queue()
 *         prod = asyncio.create_task(producer(queue))
 *         cons = asyncio.create_task(consumer(queue))
 *         await prod
 *         await queue.join()
 *         cons.cancel()
 *         await asyncio.gather(prod, cons, return_exceptions=True)
 *
 * Output: Consumed 0 .. Consumed 4, one every 0.1 s; about 0.5 s in all.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

static void *producer(void *arg)
{
    coio_queue *queue = arg;
    for (int i = 0; i < 5; i++) {
        if (coio_queue_put(queue, (void *)(intptr_t)i) < 0)
            return NULL;
        if (coio_sleep(0.1) < 0)
            return NULL;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    coio_queue *queue = arg;
    for (;;) {
        void *item;
        if (coio_queue_get(queue, &item) < 0)
            return NULL;                  /* cancelled */
        printf("Consumed %d\n", (int)(intptr_t)item);
        coio_queue_task_done(queue);      /* queue.task_done() */
    }
}

static void *main_task(void *arg)
{
    coio_queue *queue = coio_queue_new(0);
    coio_task *prod = coio_spawn(producer, queue);
    coio_task *cons = coio_spawn(consumer, queue);
    coio_await(prod, NULL);
    coio_queue_join(queue);               /* await queue.join(): all items task_done */
    coio_cancel(cons);
    coio_task *both[2] = {prod, cons};
    coio_gather(both, 2, NULL, NULL, COIO_RETURN_EXCEPTIONS);
    coio_task_release(prod);
    coio_task_release(cons);
    coio_queue_free(queue);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
