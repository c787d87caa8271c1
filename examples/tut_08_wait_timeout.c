/* tut_08_wait_timeout.c — asyncio.wait with a timeout.
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「設置任務超時」, whose snippet is
 *
 *     done, pending = await asyncio.wait(tasks, timeout=10)
 *
 * put into the program of 「通過asyncio.wait獲取協程任務執行結果」. To show what
 * the timeout does, the first wait here uses timeout=1, shorter than the tasks'
 * 2 s: it returns after 1 s with everything still pending, and — unlike
 * wait_for — cancels nothing. The second wait, the tutorial's timeout=10, then
 * collects all four. Python equivalent:
 *
 *     async def main():
 *         tasks = [asyncio.create_task(func1(i)) for i in range(1, 5)]
 *         done, pending = await asyncio.wait(tasks, timeout=1)
 *         print(f"done: {len(done)}, pending: {len(pending)}")
 *         done, pending = await asyncio.wait(pending, timeout=10)
 *         for task in done:
 *             print(f"執行結果: {task.result()}")
 *         print(f"done: {len(done)}, pending: {len(pending)}")
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

    /* done, pending = await asyncio.wait(tasks, timeout=1): the timeout is not
       an error, the split simply says who finished in time. */
    coio_task *done[4], *pending[4];
    size_t ndone, npending;
    coio_wait(tasks, 4, 1.0, COIO_ALL_COMPLETED, done, &ndone, pending, &npending);
    printf("done: %zu, pending: %zu\n", ndone, npending);

    /* done, pending = await asyncio.wait(pending, timeout=10) */
    coio_task *still[4];
    size_t nstill = npending;
    for (size_t k = 0; k < npending; k++)
        still[k] = pending[k];
    coio_wait(still, nstill, 10.0, COIO_ALL_COMPLETED, done, &ndone, pending, &npending);
    for (size_t k = 0; k < ndone; k++) {
        void *result;
        if (coio_task_result(done[k], &result) == 0)
            printf("執行結果: %d\n", (int)(intptr_t)result);
    }
    printf("done: %zu, pending: %zu\n", ndone, npending);

    for (int i = 0; i < 4; i++)
        coio_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
