/* tut_23_loop_callbacks.c — plain callbacks on the loop: call_soon, call_later,
 * run_forever, stop, close.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「常用类、方法和函数 2. 事件循环」:
 *
 *     loop.run_forever()                  永久运行事件循环
 *     loop.stop()                         停止事件循环
 *     loop.close()                        关闭事件循环
 *     loop.call_soon(print, "Hello")      安排回调函数立即执行
 *     loop.call_later(5, callback)        延迟执行回调
 *
 * put together as one program:
 *
 *     def callback():
 *         print("5 seconds later")
 *         loop.stop()
 *
 *     loop = asyncio.new_event_loop()
 *     loop.call_soon(print, "Hello")
 *     loop.call_later(5, callback)
 *     loop.run_forever()              # returns once callback has called stop()
 *     loop.close()
 *
 * "Hello" at once, "5 seconds later" after 5 s, then the program ends.
 */
#include <coio.h>
#include <stdio.h>

static coio_loop *loop;

/* A callback is void cb(void *arg); call_soon's extra arguments travel in arg. */
static void print_cb(void *arg)
{
    printf("%s\n", (const char *)arg);
}

static void callback(void *arg)
{
    printf("5 seconds later\n");
    coio_loop_stop(loop);                 /* run_forever returns after this iteration */
}

int main(void)
{
    loop = coio_loop_new();
    if (!loop)
        return 1;
    coio_call_soon(loop, print_cb, "Hello");
    coio_call_later(loop, 5, callback, NULL);
    coio_loop_run_forever(loop);
    coio_loop_close(loop);
    return 0;
}
