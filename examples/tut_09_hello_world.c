/* tut_09_hello_world.c — a coroutine awaited directly, awaited as a task, and the
 * Start/End program.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt): 「asyncio 的核心概念」 1-3 and
 * 「asyncio 的基本用法 1. 运行协程」 (实例 "1. 基本协程示例" is the same hello):
 *
 *     async def say_hello():
 *         print("Hello")
 *         await asyncio.sleep(1)
 *         print("World")
 *
 *     async def main():                 # 2. 事件循环
 *         await say_hello()
 *     asyncio.run(main())
 *
 *     async def main():                 # 3. 任务
 *         task = asyncio.create_task(say_hello())
 *         await task
 *
 *     async def main():                 # 基本用法 1
 *         print("Start")
 *         await asyncio.sleep(1)
 *         print("End")
 *     asyncio.run(main())
 *
 * Three runs of 1 s each, one after the other: 3 s.
 */
#include <coio.h>
#include <stdio.h>

static void *say_hello(void *arg)
{
    printf("Hello\n");
    coio_sleep(1);
    printf("World\n");
    return NULL;
}

/* `await say_hello()` on a coroutine (no task) runs it inside the awaiting
   task. A coio task has its own stack, so the C spelling is a plain call:
   say_hello suspends the calling task at its coio_sleep. */
static void *main_await(void *arg)
{
    say_hello(NULL);
    return NULL;
}

/* task = asyncio.create_task(say_hello()); await task */
static void *main_task(void *arg)
{
    coio_task *task = coio_spawn(say_hello, NULL);
    coio_await(task, NULL);
    coio_task_release(task);
    return NULL;
}

static void *main_start_end(void *arg)
{
    printf("Start\n");
    coio_sleep(1);
    printf("End\n");
    return NULL;
}

int main(void)
{
    if (coio_run(main_await, NULL, NULL) < 0 || coio_run(main_task, NULL, NULL) < 0 ||
        coio_run(main_start_end, NULL, NULL) < 0)
        return 1;
    return 0;
}
