/* tut_05_wait_results.c — results through asyncio.wait's done set (unordered).
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「通過asyncio.wait獲取協程任務執行結果」:
 *
 *     async def func1(i):
 *         print(f"協程函數{i}馬上開始執行。")
 *         await asyncio.sleep(2)
 *         return i
 *
 *     async def main():
 *         tasks = []
 *         for i in range(1, 5):
 *             tasks.append(asyncio.create_task(func1(i)))
 *         # 獲取任務執行結果。
 *         done, pending = await asyncio.wait(tasks)
 *         for task in done:
 *             print(f"執行結果: {task.result()}")
 *
 *     asyncio.run(main())
 *
 * In Python `done` is a set, so the results come out in no particular order
 * (the tutorial's point). coio_wait fills plain arrays in input order instead —
 * a stricter, stable order. The check of this example (examples/expected/)
 * still compares the result lines as a set: their order is not what the
 * program promises.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

static void *func1(void *arg)
{
    int i = (int)(intptr_t)arg;
    printf("協程函數%d馬上開始執行。\n", i);
    coio_sleep(2);
    return (void *)(intptr_t)i;           /* return i: the task's result */
}

static void *main_task(void *arg)
{
    coio_task *tasks[4];
    for (int i = 1; i < 5; i++)
        tasks[i - 1] = coio_spawn(func1, (void *)(intptr_t)i);

    /* done, pending = await asyncio.wait(tasks) */
    coio_task *done[4], *pending[4];
    size_t ndone, npending;
    if (coio_wait(tasks, 4, -1, COIO_ALL_COMPLETED, done, &ndone, pending, &npending) < 0) {
        perror("coio_wait");
        return NULL;
    }
    for (size_t k = 0; k < ndone; k++) {  /* for task in done: */
        void *result;
        if (coio_task_result(done[k], &result) == 0) /* task.result() */
            printf("執行結果: %d\n", (int)(intptr_t)result);
    }

    for (int i = 0; i < 4; i++)
        coio_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
