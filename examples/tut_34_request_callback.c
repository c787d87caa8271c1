/* tut_34_request_callback.c — a request task with a done-callback, and its result
 * read directly.
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「绑定回调函数」:
 *
 *     async def request():
 *         url = 'http://www.baidu.com'
 *         status = requests.get(url)
 *         return status
 *
 *     def callback(task):                   # 回调函数
 *         print(f'Status:{task.result()}')
 *
 *     coroutine = request()
 *     task = asyncio.ensure_future(coroutine)
 *     task.add_done_callback(callback)      # 添加回调函数
 *     print(task)
 *     loop = asyncio.get_event_loop()
 *     loop.run_until_complete(task)
 *     print(task)
 *
 *     # 直接调用task.result() 也可以获得返回结果
 *     task = asyncio.ensure_future(request())
 *     print(task)
 *     loop.run_until_complete(task)
 *     print(task.result())
 *     print(task)
 *
 * The task's result is the status code (the tutorial's is the Response
 * object, printed as <Response [200]>); coio_task_describe shows a result as
 * a pointer, so 200 appears as result=0xc8. URL: argv[1], default tut_30's
 * http://127.0.0.1:8080/delay/1. Two requests in a row: 2 x N seconds.
 */
#include "tut_http.h"

#include <stdint.h>

static const char *url;

static void *request(void *arg)
{
    int status = tut_coio_get(url, NULL);
    if (status < 0)
        coio_fail(errno);
    return (void *)(intptr_t)status;
}

static void callback(coio_task *task, void *arg)
{
    void *r;
    if (coio_task_result(task, &r) == 0)
        printf("Status:<Response [%d]>\n", (int)(intptr_t)r);
}

static void print_task(coio_task *task)
{
    char repr[160];
    coio_task_describe(task, repr, sizeof repr);
    printf("%s\n", repr);
}

int main(int argc, char **argv)
{
    url = argc > 1 ? argv[1] : TUT_DEFAULT_URL;
    coio_loop *loop = coio_loop_new();
    if (!loop)
        return 1;

    coio_task *task = coio_spawn(request, NULL);     /* asyncio.ensure_future(request()) */
    coio_task_add_done_callback(task, callback, NULL);
    print_task(task);
    int rc = coio_loop_run_until_complete(loop, task, NULL);
    print_task(task);
    coio_task_release(task);

    task = coio_spawn(request, NULL);
    print_task(task);
    void *result;
    if (rc == 0)
        rc = coio_loop_run_until_complete(loop, task, NULL);
    if (rc == 0 && coio_task_result(task, &result) == 0)   /* task.result() */
        printf("<Response [%d]>\n", (int)(intptr_t)result);
    print_task(task);
    coio_task_error(task);
    coio_task_release(task);
    coio_loop_close(loop);
    if (rc < 0)
        perror(url);
    return rc == 0 ? 0 : 1;
}
