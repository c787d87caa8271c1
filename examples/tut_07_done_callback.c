/* tut_07_done_callback.c — a done-callback on each task.
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「給任務添加回調函數」:
 *
 *     async def func1(i):
 *         print(f"協程函數{i}馬上開始執行。")
 *         await asyncio.sleep(2)
 *         return i
 *
 *     # 回調函數
 *     def callback(future):
 *         print(f"執行結果:{future.result()}")
 *
 *     async def main():
 *         tasks = []
 *         for i in range(1, 5):
 *             task = asyncio.create_task(func1(i))
 *             # 注意這里,增加回調函數
 *             task.add_done_callback(callback)
 *             tasks.append(task)
 *         await asyncio.wait(tasks)
 *
 *     asyncio.run(main())
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

/* def callback(future): a done-callback gets the task and the extra pointer
   given at registration (unused here). It runs on the loop soon after the task
   is done, never inside the task, and must not suspend. */
static void callback(coio_task *future, void *unused)
{
    void *result;
    if (coio_task_result(future, &result) == 0)   /* future.result() */
        printf("執行結果:%d\n", (int)(intptr_t)result);
}

static void *main_task(void *arg)
{
    coio_task *tasks[4];
    for (int i = 1; i < 5; i++) {
        coio_task *task = coio_spawn(func1, (void *)(intptr_t)i);
        coio_task_add_done_callback(task, callback, NULL); /* task.add_done_callback(callback) */
        tasks[i - 1] = task;
    }
    coio_wait(tasks, 4, -1, COIO_ALL_COMPLETED, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 4; i++)
        coio_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
