/* tut_11_gather_two.c — two coroutines run concurrently with asyncio.gather.
 * Mirrors tutorial 002 (002_b83f952ded8968fe.txt), 「解析协程运行时」, second
 * program (the same a() and b() as tut_10, main replaced by one line):
 *
 *     async def main():
 *         await asyncio.gather(a(), b())
 *
 *     start = time.perf_counter()
 *     asyncio.run(main())
 *     print('花费 {} s'.format(time.perf_counter() - start))
 *
 * and tutorial 001 (001_ca346f476fc23df8.txt), 「2. 并发执行多个任务」, which is
 * the same program with other words:
 *
 *     async def task1():
 *         print("Task 1 started")
 *         await asyncio.sleep(1)
 *         print("Task 1 finished")
 *
 *     async def task2():
 *         print("Task 2 started")
 *         await asyncio.sleep(2)
 *         print("Task 2 finished")
 *
 *     async def main():
 *         await asyncio.gather(task1(), task2())
 *
 *     asyncio.run(main())
 *
 * Both runs take 2 s (the longer sleep), so the whole program takes 4 s.
 */
#include <coio.h>
#include <errno.h>
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

static void *task1(void *arg)
{
    printf("Task 1 started\n");
    coio_sleep(1);
    printf("Task 1 finished\n");
    return NULL;
}

static void *task2(void *arg)
{
    printf("Task 2 started\n");
    coio_sleep(2);
    printf("Task 2 finished\n");
    return NULL;
}

/* await asyncio.gather(f(), g()): gather wraps each coroutine in a task; in C
   we spawn them ourselves, gather, and drop our handles. arg is {f, g}. */
static void *gather_main(void *arg)
{
    void *(**fns)(void *) = arg;
    coio_task *tasks[2] = {coio_spawn(fns[0], NULL), coio_spawn(fns[1], NULL)};
    int rc = coio_gather(tasks, 2, NULL, NULL, 0);
    coio_task_release(tasks[0]);
    coio_task_release(tasks[1]);
    if (rc < 0)
        coio_fail(errno);                 /* let asyncio.run report it */
    return NULL;
}

int main(void)
{
    void *(*ab[2])(void *) = {a, b};
    double start = coio_loop_time(NULL);
    if (coio_run(gather_main, ab, NULL) < 0)
        return 1;
    printf("花费 %f s\n", coio_loop_time(NULL) - start);

    void *(*t12[2])(void *) = {task1, task2};
    return coio_run(gather_main, t12, NULL) == 0 ? 0 : 1;
}
