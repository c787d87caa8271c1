/* tut_06_gather_results.c — results through asyncio.gather (in argument order).
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「通過asyncio.gather獲取協程任務執行結果」:
 *
 *     async def func1(i):
 *         print(f"協程函數{i}馬上開始執行。")
 *         await asyncio.sleep(2)
 *         return i
 *
 *     async def main():
 *         tasks = []
 *         for i in range(1, 5):
 *             tasks.append(func1(i))
 *         results = await asyncio.gather(*tasks)
 *         for result in results:
 *             print(f"執行結果: {result}")
 *
 *     asyncio.run(main())
 *
 * gather's results are in the order the tasks were given, whatever order they
 * finish in: 1 2 3 4 every time.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

static void *func1(void *arg)
{
    int i = (int)(intptr_t)arg;
    printf("協程函數%d馬上開始執行。\n", i);
    coio_sleep(2);
    return (void *)(intptr_t)i;
}

static void *main_task(void *arg)
{
    coio_task *tasks[4];
    for (int i = 1; i < 5; i++)
        tasks[i - 1] = coio_spawn(func1, (void *)(intptr_t)i);

    /* results = await asyncio.gather(*tasks): the caller provides the list. */
    void *results[4];
    if (coio_gather(tasks, 4, results, NULL, 0) == 0)
        for (int k = 0; k < 4; k++)       /* for result in results: */
            printf("執行結果: %d\n", (int)(intptr_t)results[k]);
    else
        perror("coio_gather");

    for (int i = 0; i < 4; i++)
        coio_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
