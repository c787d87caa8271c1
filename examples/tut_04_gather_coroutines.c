/* tut_04_gather_coroutines.c — the same four coroutines collected with asyncio.gather.
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「創建協程任務的演變」, the
 * gather version:
 *
 *     async def main():
 *         tasks = []
 *         for i in range(1, 5):
 *             # 這里未由協程函數創建協程任務
 *             tasks.append(func1(i))
 *         # gather自動將函數列表封裝成了協程任務。
 *         await asyncio.gather(*tasks)
 *
 *     asyncio.run(main())
 *
 * In C there are no coroutine objects waiting to be wrapped: a function becomes
 * concurrent when it is spawned as a task, so the list holds tasks and
 * coio_gather receives those — exactly what gather() builds internally.
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
        tasks[i - 1] = coio_spawn(func1, (void *)(intptr_t)i);

    /* await asyncio.gather(*tasks): results and per-task error codes are
       optional output arrays; flags 0 means return_exceptions=False. */
    if (coio_gather(tasks, 4, NULL, NULL, 0) < 0)
        perror("coio_gather");

    for (int i = 0; i < 4; i++)
        coio_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
