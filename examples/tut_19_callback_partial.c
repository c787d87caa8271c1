/* tut_19_callback_partial.c — a done-callback reading the result, then one with an
 * extra bound argument (functools.partial).
 * Mirrors tutorial 003 (003_e2f497c25cce56da.txt), 「绑定回调」:
 *
 *     async def do_some_work(x):
 *         print('Waiting: ', x)
 *         return 'Done after {}s'.format(x)
 *
 *     def callback(future):
 *         print('Callback: ', future.result())
 *
 *     start = now()
 *     coroutine = do_some_work(2)
 *     loop = asyncio.get_event_loop()
 *     task = asyncio.ensure_future(coroutine)
 *     task.add_done_callback(callback)
 *     loop.run_until_complete(task)
 *     print('TIME: ', now() - start)
 *
 *     # 如果回调需要多个参数,可以通过偏函数导入
 *     def callback(t, future):
 *         print('Callback:', t, future.result())
 *     task.add_done_callback(functools.partial(callback, 2))
 *
 * and tutorial 004 (004_dd0433425ac7a23c.txt), 「绑定回调函数」, the same pattern
 * (its request() does a blocking HTTP GET; the network versions are tut_31-33).
 * The program runs twice: with callback, then with the partial one.
 * The callback runs before run_until_complete returns, as in asyncio.
 */
#include <coio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void *do_some_work(void *arg)
{
    int x = (int)(intptr_t)arg;
    printf("Waiting:  %d\n", x);
    char *s = malloc(32);
    if (s)
        snprintf(s, 32, "Done after %ds", x);
    return s;                             /* freed by main once printed */
}

/* def callback(future): the second parameter is the pointer given to
   add_done_callback — NULL here. */
static void callback(coio_task *future, void *unused)
{
    void *result;
    if (coio_task_result(future, &result) == 0)
        printf("Callback:  %s\n", (char *)result);
}

/* functools.partial(callback, 2): C binds extra arguments by passing a pointer
   to them. The struct must live until the callback has run. */
struct partial_args {
    int t;
};

static void callback_t(coio_task *future, void *arg)   /* def callback(t, future) */
{
    struct partial_args *p = arg;
    void *result;
    if (coio_task_result(future, &result) == 0)
        printf("Callback: %d %s\n", p->t, (char *)result);
}

static int run_once(void (*cb)(coio_task *, void *), void *cb_arg)
{
    double start = coio_loop_time(NULL);
    coio_loop *loop = coio_loop_new();
    if (!loop)
        return -1;
    coio_task *task = coio_spawn(do_some_work, (void *)2);   /* ensure_future */
    coio_task_add_done_callback(task, cb, cb_arg);
    void *result = NULL;
    int rc = coio_loop_run_until_complete(loop, task, &result);
    printf("TIME:  %f\n", coio_loop_time(NULL) - start);
    free(result);
    coio_task_release(task);
    coio_loop_close(loop);
    return rc;
}

int main(void)
{
    struct partial_args bound = {.t = 2};
    if (run_once(callback, NULL) < 0 || run_once(callback_t, &bound) < 0)
        return 1;
    return 0;
}
