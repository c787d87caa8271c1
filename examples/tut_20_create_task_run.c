/* tut_20_create_task_run.c — asyncio.run with a task that is awaited, and with one
 * that is only created.
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「Python 3.7 引入: asyncio.run()」
 * and 「asyncio.create_task」:
 *
 *     async def execute(x):
 *         print(f'Number:{x}')
 *
 *     async def main():                   # 1
 *         task = asyncio.create_task(execute(1))
 *         await task
 *
 *     async def main():                   # 2: created, never awaited
 *         asyncio.create_task(execute(1))
 *
 *     asyncio.run(main())
 *
 * Both print "Number:1". In the second, main returns before execute has
 * started; asyncio.run stops the loop one iteration later, and that iteration
 * gives the new task its first step before run() cancels what is left. coio_run
 * ends the same way. (A task that suspends before that point is cancelled
 * there: fire-and-forget tasks need someone to wait for them.)
 *
 * The tutorial also prints a coroutine object that is never run
 * (`coroutine = execute(1); print(coroutine)`): C has no such object — a
 * function and its argument do nothing until spawned.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

static void *execute(void *arg)
{
    printf("Number:%d\n", (int)(intptr_t)arg);
    return NULL;
}

static void *main_await(void *arg)
{
    coio_task *task = coio_spawn(execute, (void *)1);
    coio_await(task, NULL);
    coio_task_release(task);
    return NULL;
}

static void *main_no_await(void *arg)
{
    /* Releasing our handle at once makes it fire-and-forget: the loop keeps
       its own reference until the task is done. */
    coio_task_release(coio_spawn(execute, (void *)1));
    return NULL;
}

int main(void)
{
    if (coio_run(main_await, NULL, NULL) < 0 || coio_run(main_no_await, NULL, NULL) < 0)
        return 1;
    return 0;
}
