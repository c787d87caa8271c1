/* tut_02_create_task_three_ways.c — the three ways of making a task out of a coroutine.
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「創建協程任務的演變」.
 *
 *     # 方法1:使用ensure_future方法
 *     task1 = asyncio.ensure_future(func1(1))
 *     task2 = asyncio.ensure_future(func1(2))
 *     # 方法2:使用loop.create_task方法
 *     task1 = loop.create_task(func1(1))
 *     task2 = loop.create_task(func1(2))
 *     # 方法3:使用Python 3.7提供的asyncio.create_task方法
 *     task1 = asyncio.create_task(func1(1))
 *     task2 = asyncio.create_task(func1(2))
 *
 * The tutorial lists the three as alternatives; here all six tasks are made
 * inside one main and waited for together, so the whole run takes 2 s, not 6.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

static void *func1(void *arg)
{
    int i = (int)(intptr_t)arg;
    printf("協程函數%d馬上開始執行。\n", i);
    coio_sleep(2);
    printf("協程函數%d執行完畢!\n", i);
    return NULL;
}

static void *main_task(void *arg)
{
    coio_task *tasks[6];

    /* 方法1: asyncio.ensure_future(coro) — on a coroutine it is create_task on
       the current loop; coio_spawn is exactly that. */
    tasks[0] = coio_spawn(func1, (void *)1);
    tasks[1] = coio_spawn(func1, (void *)2);

    /* 方法2: loop.create_task(coro) — the loop named explicitly. */
    coio_loop *loop = coio_loop_current();
    tasks[2] = coio_loop_spawn(loop, NULL, func1, (void *)1);
    tasks[3] = coio_loop_spawn(loop, NULL, func1, (void *)2);

    /* 方法3: asyncio.create_task(coro, name=...) — coio_spawn, or coio_spawn_opts
       when you want a name (or a stack size). */
    coio_task_opts opts = {.name = "task1"};
    tasks[4] = coio_spawn_opts(&opts, func1, (void *)1);
    opts.name = "task2";
    tasks[5] = coio_spawn_opts(&opts, func1, (void *)2);

    /* None of them has started yet: a task begins on a later loop iteration,
       when main suspends here. await asyncio.wait(tasks): */
    coio_wait(tasks, 6, -1, COIO_ALL_COMPLETED, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 6; i++)
        coio_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
