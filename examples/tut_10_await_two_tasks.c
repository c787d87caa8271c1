/* tut_10_await_two_tasks.c — two tasks awaited one after the other (the scheduler walk-through).
 * Mirrors tutorial 002 (002_b83f952ded8968fe.txt), 「解析协程运行时」:
 *
 *     async def a():
 *         print("欢迎使用 a ！")
 *         await asyncio.sleep(1)
 *         print("欢迎回到 a ！")
 *
 *     async def b():
 *         print("欢迎来到 b ！")
 *         await asyncio.sleep(2)
 *         print("欢迎回到 b ！")
 *
 *     async def main():
 *         task1 = asyncio.create_task(a())
 *         task2 = asyncio.create_task(b())
 *         print("准备开始")
 *         await task1
 *         print("task1 结束")
 *         await task2
 *         print("task2 结束")
 *
 *     if __name__ == "__main__":
 *         start = time.perf_counter()
 *         asyncio.run(main())
 *         print('花费 {} s'.format(time.perf_counter() - start))
 *
 * The tutorial's eleven steps hold here word for word: creating the tasks does
 * not run them; "准备开始" comes first; a and b start when main suspends in
 * `await task1`; a wakes after 1 s, b after 2 s. Total: 2 s, not 3.
 */
#include <coio.h>
#include <stdio.h>

static void *a(void *arg)
{
    printf("欢迎使用 a ！\n");
    coio_sleep(1);
    printf("欢迎回到 a ！\n");
    return NULL;
}

static void *b(void *arg)
{
    printf("欢迎来到 b ！\n");
    coio_sleep(2);
    printf("欢迎回到 b ！\n");
    return NULL;
}

static void *main_task(void *arg)
{
    coio_task *task1 = coio_spawn(a, NULL);
    coio_task *task2 = coio_spawn(b, NULL);
    printf("准备开始\n");
    coio_await(task1, NULL);              /* await task1: main suspends, a and b run */
    printf("task1 结束\n");
    coio_await(task2, NULL);
    printf("task2 结束\n");
    coio_task_release(task1);
    coio_task_release(task2);
    return NULL;
}

int main(void)
{
    double start = coio_loop_time(NULL);  /* time.perf_counter(): a monotonic clock */
    int rc = coio_run(main_task, NULL, NULL);
    printf("花费 %f s\n", coio_loop_time(NULL) - start);
    return rc == 0 ? 0 : 1;
}
