/* tut_32_aiohttp.c — ten requests as ten tasks with a nonblocking client: all wait
 * at the same time.
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「结合aiohttp 模块实现异步请求」
 * (both versions; the second, the @asyncio.coroutine one, adds the prints):
 *
 *     async def get(url):
 *         session = aiohttp.ClientSession()
 *         resp = await session.get(url)
 *         await resp.text()
 *         await session.close()
 *         return resp
 *
 *     async def request():
 *         url = 'https://www.httpbin.org/delay/1'
 *         print(f'Waiting for {url}...')
 *         resp = await get(url)
 *         print(f'ger response{resp}')
 *
 *     tasks = [asyncio.ensure_future(request()) for _ in range(10)]
 *     loop = asyncio.get_event_loop()
 *     loop.run_until_complete(asyncio.wait(tasks))
 *     end = time.time()
 *     print(f'cost time:{end - start}')
 *
 * Ten "Waiting for" lines at once, ten responses about N seconds later (the
 * tutorial: 2.45 s against the real httpbin for N = 1), then the cost: N s,
 * not 10 x N. aiohttp's response repr also prints the headers; this prints the
 * first line only. URL: argv[1], default http://127.0.0.1:8080/delay/1 (tut_30).
 */
#include "tut_http.h"

static const char *url;

static void *request(void *arg)
{
    printf("Waiting for %s...\n", url);
    int status = tut_coio_get(url, NULL); /* resp = await get(url): this task suspends */
    if (status < 0) {
        perror(url);
        coio_fail(errno);
    }
    printf("ger response<ClientResponse(%s) [%d %s]>\n", url, status, status == 200 ? "OK" : "?");
    return NULL;
}

/* asyncio.wait(tasks) is itself a coroutine that run_until_complete wraps in a
   task; in C that task is this function. */
static void *wait_all(void *arg)
{
    coio_wait(arg, 10, -1, COIO_ALL_COMPLETED, NULL, NULL, NULL, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    url = argc > 1 ? argv[1] : TUT_DEFAULT_URL;
    double start = coio_loop_time(NULL);
    coio_loop *loop = coio_loop_new();    /* get_event_loop() */
    if (!loop)
        return 1;
    coio_task *tasks[10];
    for (int i = 0; i < 10; i++)
        tasks[i] = coio_spawn(request, NULL);   /* asyncio.ensure_future(request()) */
    coio_task *waiter = coio_spawn(wait_all, tasks);
    coio_loop_run_until_complete(loop, waiter, NULL);
    int failed = 0;
    for (int i = 0; i < 10; i++) {
        failed |= coio_task_state(tasks[i]) != COIO_FINISHED;
        coio_task_error(tasks[i]);        /* looked at: no "never retrieved" report */
        coio_task_release(tasks[i]);
    }
    coio_task_release(waiter);
    coio_loop_close(loop);
    printf("cost time:%f\n", coio_loop_time(NULL) - start);
    return failed;
}
