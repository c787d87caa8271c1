/* tut_18_task_state.c — a task printed before and after it runs (pending -> finished).
 * Mirrors tutorial 003 (003_e2f497c25cce56da.txt), 「协程的定义」 (both programs), and
 * tutorial 004 (004_dd0433425ac7a23c.txt), 「入门」 (the ensure_future one):
 *
 *     now = lambda : time.time()
 *     async def do_some_work(x):
 *         print('Waiting: ', x)
 *
 *     start = now()
 *     coroutine = do_some_work(2)
 *     loop = asyncio.get_event_loop()
 *     task = loop.create_task(coroutine)      # 004: asyncio.ensure_future(coroutine)
 *     print(task)                             # <Task pending name='Task-1' coro=...>
 *     loop.run_until_complete(task)
 *     print(task)                             # <Task finished name='Task-1' ... result=None>
 *     print('TIME: ', now() - start)
 *
 *     async def execute(x):                   # 004
 *         print(f'Number:{x}')
 *
 * coio_task_describe() writes the C counterpart of a task's repr: kind, state,
 * name, then the result (a pointer: (nil) is None), the error code and message,
 * or nothing for pending and cancelled tasks. The first program of 003 is this
 * one without the two prints.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

static void *do_some_work(void *arg)
{
    printf("Waiting:  %d\n", (int)(intptr_t)arg);    /* print('Waiting: ', x) */
    return NULL;
}

static void *execute(void *arg)
{
    printf("Number:%d\n", (int)(intptr_t)arg);
    return NULL;
}

static void print_task(coio_task *task)           /* print(task) */
{
    char repr[160];
    coio_task_describe(task, repr, sizeof repr);
    printf("%s\n", repr);
}

int main(void)
{
    /* Tutorial 003: loop.create_task */
    double start = coio_loop_time(NULL);
    coio_loop *loop = coio_loop_new();
    if (!loop)
        return 1;
    coio_task *task = coio_loop_spawn(loop, NULL, do_some_work, (void *)2);
    print_task(task);                     /* created, not started: pending */
    coio_loop_run_until_complete(loop, task, NULL);
    print_task(task);
    printf("TIME:  %f\n", coio_loop_time(NULL) - start);
    coio_task_release(task);
    coio_loop_close(loop);

    /* Tutorial 004: asyncio.ensure_future on the current loop (coio_spawn uses
       the thread's current loop, which coio_loop_new set). */
    loop = coio_loop_new();
    if (!loop)
        return 1;
    task = coio_spawn(execute, (void *)1);
    print_task(task);
    coio_loop_run_until_complete(loop, task, NULL);
    print_task(task);
    coio_task_release(task);
    coio_loop_close(loop);
    return 0;
}
