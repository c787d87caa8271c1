/* tut_16_wait_for.c — asyncio.wait_for timing out.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「3. 超时控制」:
 *
 *     async def long_task():
 *         await asyncio.sleep(10)
 *         print("Task finished")
 *
 *     async def main():
 *         try:
 *             await asyncio.wait_for(long_task(), timeout=5)
 *         except asyncio.TimeoutError:
 *             print("Task timed out")
 *
 *     asyncio.run(main())
 *
 * After 5 s wait_for cancels long_task, waits until it has really ended, and
 * reports the timeout: "Task timed out", never "Task finished". 5 s in all.
 */
#include <coio.h>
#include <errno.h>
#include <stdio.h>

static void *long_task(void *arg)
{
    if (coio_sleep(10) < 0)               /* the cancel arrives here as ECANCELED */
        return NULL;                      /* so the task ends CANCELLED */
    printf("Task finished\n");
    return NULL;
}

static void *main_task(void *arg)
{
    coio_task *t = coio_spawn(long_task, NULL);
    /* try: await asyncio.wait_for(t, timeout=5)
       except asyncio.TimeoutError:  ->  -1 with errno ETIMEDOUT */
    if (coio_wait_for(t, 5, NULL) < 0 && errno == ETIMEDOUT)
        printf("Task timed out\n");
    coio_task_release(t);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
