/* tut_01_run_old_and_new.c — running one coroutine, the old way and the new way.
 * Mirrors tutorial 000 (000_a8ad7bc9355203eb.txt), 「定義協程函數及執行方法的演變」.
 *
 *     async def func1(i):                      # also the @asyncio.coroutine /
 *         print(f"協程函數{i}馬上開始執行。")      # yield from version: same program
 *         await asyncio.sleep(2)
 *         print(f"協程函數{i}執行完畢!")
 *
 *     # Python 3.4-3.6: three steps
 *     loop = asyncio.get_event_loop()
 *     loop.run_until_complete(func1(1))
 *     loop.close()
 *
 *     # Python 3.7+: one call
 *     asyncio.run(func1(1))
 *
 * The tutorial shows these as two programs; this one runs both, one after the
 * other, so it prints the two lines twice and takes 2 s + 2 s.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>

/* An `async def` is a plain C function `void *fn(void *arg)` that runs as a task:
   it has its own stack, so it can suspend anywhere (coio_sleep here) and needs
   no `await` keyword. Its return value is the task's result. */
static void *func1(void *arg)
{
    int i = (int)(intptr_t)arg;
    printf("協程函數%d馬上開始執行。\n", i);
    coio_sleep(2);                        /* await asyncio.sleep(2) */
    printf("協程函數%d執行完畢!\n", i);
    return NULL;
}

int main(void)
{
    /* The old way. coio_loop_new() is asyncio.new_event_loop() (it also becomes
       this thread's current loop, like get_event_loop() did). A loop runs tasks,
       not bare functions, so the coroutine is wrapped in a task first — which is
       what run_until_complete(func1(1)) does behind your back in Python. */
    coio_loop *loop = coio_loop_new();
    if (!loop)
        return 1;
    coio_task *task = coio_loop_spawn(loop, NULL, func1, (void *)1);
    if (coio_loop_run_until_complete(loop, task, NULL) < 0)
        return 1;
    coio_task_release(task);              /* drop our handle (no garbage collector) */
    coio_loop_close(loop);

    /* The new way: asyncio.run(func1(1)). coio_run makes a fresh loop, runs the
       function as the main task, cancels leftovers and closes the loop. */
    if (coio_run(func1, (void *)1, NULL) < 0)
        return 1;
    return 0;
}
