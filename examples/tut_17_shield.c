/* tut_17_shield.c — asyncio.shield keeps a task alive when its awaiter gives up.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「常用类、方法和函数 6. 实用工具」:
 *
 *     asyncio.shield(coro)    保护任务不被取消    await asyncio.shield(critical_task)
 *     asyncio.wait_for(coro, timeout)  带超时的等待  try: await asyncio.wait_for(task, 5)
 *
 * The table gives only the calls; this is the usual program around them:
 *
 *     async def critical_task():
 *         print("critical: saving")
 *         await asyncio.sleep(2)
 *         print("critical: saved")
 *         return "ok"
 *
 *     async def main():
 *         critical = asyncio.create_task(critical_task())
 *         try:
 *             await asyncio.wait_for(asyncio.shield(critical), timeout=1)
 *         except asyncio.TimeoutError:
 *             print("waiter: timed out, critical task still running:", not critical.done())
 *         print("waiter: result", await critical)
 *
 *     asyncio.run(main())
 *
 * wait_for cancels what it waits for on timeout — here the shield, not the
 * task behind it, so critical_task finishes its 2 s. Total 2 s.
 */
#include <coio.h>
#include <errno.h>
#include <stdio.h>

static void *critical_task(void *arg)
{
    printf("critical: saving\n");
    if (coio_sleep(2) < 0)
        return NULL;
    printf("critical: saved\n");
    return "ok";
}

static void *main_task(void *arg)
{
    coio_task *critical = coio_spawn(critical_task, NULL);

    /* asyncio.shield(critical): a new future that completes like critical but
       whose cancellation stops at the shield. We own one reference to it. */
    coio_future *shielded = coio_shield(critical);
    if (coio_wait_for(shielded, 1, NULL) < 0 && errno == ETIMEDOUT)
        printf("waiter: timed out, critical task still running: %s\n",
               coio_task_done(critical) ? "False" : "True");
    coio_future_release(shielded);

    void *result;
    if (coio_await(critical, &result) == 0)          /* await critical */
        printf("waiter: result %s\n", (char *)result);
    coio_task_release(critical);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
