/* tut_14_producer_consumer.c — two producers, two consumers, one queue; the consumers
 * are cancelled after 10 s and everything is gathered with return_exceptions=True.
 * Mirrors tutorial 002 (002_b83f952ded8968fe.txt), 「生产者消费者模型的协程版本」:
 *
 *     async def consumer(queue, id):
 *         while True:
 *             val = await queue.get()
 *             print('{} get a val : {}'.format(id, val))
 *             await asyncio.sleep(1)
 *
 *     async def producer(queue, id):
 *         for _ in range(5):
 *             val = random.randint(1, 10)
 *             await queue.put(val)
 *             print('{} put a val: {}'.format(id, val))
 *             await asyncio.sleep(1)
 *
 *     async def main():
 *         queue = asyncio.Queue()
 *         consumer_1 = asyncio.create_task(consumer(queue, 'consumer_1'))
 *         consumer_2 = asyncio.create_task(consumer(queue, 'consumer_2'))
 *         producer_1 = asyncio.create_task(producer(queue, 'producer_1'))
 *         producer_2 = asyncio.create_task(producer(queue, 'producer_2'))
 *         await asyncio.sleep(10)
 *         consumer_1.cancel()
 *         consumer_2.cancel()
 *         await asyncio.gather(consumer_1, consumer_2, producer_1, producer_2,
 *                              return_exceptions=True)
 *
 *     start = time.perf_counter()
 *     asyncio.run(main())
 *     print("Cost {} s".format(time.perf_counter() - start))
 *
 * Twenty lines in rounds of four (put, put, get, get), one round a second, then
 * nothing until the cancel at 10 s: "Cost 10.0... s".
 *
 * Two differences in the details, both deliberate:
 * - random.randint is seeded from the OS in Python; here a small generator with
 *   a fixed seed (or argv[1]) makes the values repeatable, so the output can be
 *   checked line by line.
 * - In the tutorial's printed output the two consumers swap places in some
 *   rounds. That comes from timers due at the same instant, whose order asyncio
 *   leaves open (the author's clock ticked coarsely enough for the four sleeps
 *   of a round to tie). coio runs such timers in the order they were set, so
 *   here consumer_1 always takes producer_1's value.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* random.randint(lo, hi) from a fixed-seed linear congruential generator
   (the constants of C's rand() example; the high bits are the good ones). */
static uint32_t rng_state = 2019;
static int randint(int lo, int hi)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return lo + (int)((rng_state >> 16) % (uint32_t)(hi - lo + 1));
}

struct worker {                           /* the (queue, id) arguments */
    coio_queue *queue;
    const char *id;
};

static void *consumer(void *arg)
{
    struct worker *w = arg;
    for (;;) {                            /* while True: */
        void *item;
        if (coio_queue_get(w->queue, &item) < 0)  /* val = await queue.get() */
            return NULL;                  /* cancelled: the task ends CANCELLED */
        printf("%s get a val : %d\n", w->id, (int)(intptr_t)item);
        if (coio_sleep(1) < 0)
            return NULL;
    }
}

static void *producer(void *arg)
{
    struct worker *w = arg;
    for (int n = 0; n < 5; n++) {
        int val = randint(1, 10);
        /* Queue items are pointers; a small int travels inside one. */
        if (coio_queue_put(w->queue, (void *)(intptr_t)val) < 0)
            return NULL;
        printf("%s put a val: %d\n", w->id, val);
        if (coio_sleep(1) < 0)
            return NULL;
    }
    return NULL;
}

static void *main_task(void *arg)
{
    coio_queue *queue = coio_queue_new(0);          /* asyncio.Queue(): unbounded */
    struct worker c1 = {queue, "consumer_1"}, c2 = {queue, "consumer_2"};
    struct worker p1 = {queue, "producer_1"}, p2 = {queue, "producer_2"};
    coio_task *consumer_1 = coio_spawn(consumer, &c1);
    coio_task *consumer_2 = coio_spawn(consumer, &c2);
    coio_task *producer_1 = coio_spawn(producer, &p1);
    coio_task *producer_2 = coio_spawn(producer, &p2);

    coio_sleep(10);
    coio_cancel(consumer_1);              /* consumer_1.cancel() */
    coio_cancel(consumer_2);

    /* return_exceptions=True: wait for all four; each one's outcome lands in
       codes[] (0, or an error code: ECANCELED for the two consumers) instead
       of the first failure being raised. */
    coio_task *all[4] = {consumer_1, consumer_2, producer_1, producer_2};
    int codes[4];
    coio_gather(all, 4, NULL, codes, COIO_RETURN_EXCEPTIONS);

    for (int i = 0; i < 4; i++)
        coio_task_release(all[i]);
    coio_queue_free(queue);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rng_state = (uint32_t)strtoul(argv[1], NULL, 10);
    double start = coio_loop_time(NULL);
    int rc = coio_run(main_task, NULL, NULL);
    printf("Cost %f s\n", coio_loop_time(NULL) - start);
    return rc == 0 ? 0 : 1;
}
