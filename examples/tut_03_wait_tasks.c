/* tut_03_wait_tasks.c — four tasks collected with asyncio.wait.
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「創建協程任務的演變」, the
 * program after the three ways:
 *
 *     async def func1(i):
 *         print(f"協程函數{i}馬上開始執行。")
 *         await asyncio.sleep(2)
 *         print(f"協程函數{i}執行完畢!")
 *
 *     async def main():
 *         tasks = []
 *         # 創建包含4個協程任務的列表
 *         for i in range(1, 5):
 *             tasks.append(asyncio.create_task(func1(i)))
 *         await asyncio.wait(tasks)
 *
 *     asyncio.run(main())
 *
 * The four tasks sleep at the same time: the run takes 2 s, not 8. (The
 * tutorial's screenshot shows them out of order; asyncio does not promise an
 * order for timers due at the same instant. coio runs them in the order they
 * were scheduled, so this program prints 1 2 3 4 every time.)
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
    coio_task *tasks[4];
    for (int i = 1; i < 5; i++)
        tasks[i - 1] = coio_spawn(func1, (void *)(intptr_t)i); /* asyncio.create_task */

    /* await asyncio.wait(tasks): timeout -1 is "no timeout", and the done /
       pending output arrays are optional (NULL: not wanted). */
    if (coio_wait(tasks, 4, -1, COIO_ALL_COMPLETED, NULL, NULL, NULL, NULL) < 0)
        perror("coio_wait");

    for (int i = 0; i < 4; i++)
        coio_task_release(tasks[i]);      /* C has no garbage collector */
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
