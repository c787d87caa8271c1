/* tut_24_future.c — a Future awaited by one task and completed by another.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「4. Future」:
 *
 *     async def main():
 *         future = asyncio.Future()
 *         await future
 *
 * As written, that main waits forever: nothing ever completes the future. The
 * complete program gives the future to someone who does:
 *
 *     async def set_after(future, delay, value):
 *         await asyncio.sleep(delay)
 *         future.set_result(value)
 *
 *     async def main():
 *         future = asyncio.Future()
 *         asyncio.create_task(set_after(future, 1, "hello from another task"))
 *         print("waiting for the future")
 *         print("future result:", await future)
 *
 *     asyncio.run(main())
 *
 * One second in all.
 */
#include <coio.h>
#include <stdio.h>

struct set_after_args {
    coio_future *future;
    double delay;
    const char *value;
};

static void *set_after(void *arg)
{
    struct set_after_args *a = arg;
    if (coio_sleep(a->delay) < 0)
        return NULL;
    coio_future_set_result(a->future, (void *)a->value);   /* future.set_result(value) */
    return NULL;
}

static void *main_task(void *arg)
{
    coio_future *future = coio_future_new();         /* asyncio.Future() (ours to release) */
    struct set_after_args a = {future, 1, "hello from another task"};
    coio_task *setter = coio_spawn(set_after, &a);
    printf("waiting for the future\n");
    void *value;
    if (coio_future_await(future, &value) == 0)      /* await future */
        printf("future result: %s\n", (const char *)value);
    coio_await(setter, NULL);             /* a lives on this stack: let setter end first */
    coio_task_release(setter);
    coio_future_release(future);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
