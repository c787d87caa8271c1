/* tut_33_blocking_in_task.c — a blocking call inside tasks serializes them; the fix
 * moves it to a thread (or uses a nonblocking client, as tut_32 does).
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「多任务协程」:
 *
 *     async def request():
 *         url = 'http://www.baidu.com'
 *         resp = requests.get(url)          # blocks the whole event loop
 *         print(resp)
 *         return resp
 *
 *     async def main():
 *         tasks = [request() for _ in range(1, 5)]
 *         await asyncio.gather(*tasks)
 *
 *     results = asyncio.run(main())
 *     # 但其实也依然是顺序执行,没有实现异步操作   (still sequential, not async at all)
 *
 * and the fix the tutorial's notes point to (「阻塞操作:避免在协程中使用同步阻塞
 * 代码」): run the blocking call on a thread,
 *
 *         resp = await asyncio.to_thread(requests.get, url)
 *
 * range(1, 5) is four requests. Blocking: 4 x N seconds. With to_thread the
 * four calls wait on four pool threads at the same time: N seconds. Each run
 * prints its responses and its cost. Usage: tut_33_blocking_in_task [URL
 * [COUNT]], URL by default tut_30's http://127.0.0.1:8080/delay/1, COUNT 4.
 * With COUNT 10 the blocking run takes 10 x N; to_thread's default pool has
 * min(32, CPUs + 4) threads, as Python's, so past that the calls queue.
 */
#include "tut_http.h"

#include <stdint.h>

static const char *url;
static int count = 4;
#define MAX_COUNT 64

/* The mistake: a blocking call in a task. While requests.get waits, this
   task never suspends, so the loop cannot run any other task. */
static void *request_blocking(void *arg)
{
    int status = tut_blocking_get(url);   /* resp = requests.get(url) */
    if (status < 0)
        coio_fail(errno);
    printf("<Response [%d]>\n", status);  /* print(resp) */
    return (void *)(intptr_t)status;
}

/* The function the thread runs: no coio calls in here. */
static void *blocking_get(void *u)
{
    return (void *)(intptr_t)tut_blocking_get(u);
}

/* The fix: resp = await asyncio.to_thread(requests.get, url). The task
   suspends while a pool thread blocks, and the loop runs the other tasks. */
static void *request_to_thread(void *arg)
{
    void *r;
    if (coio_to_thread(blocking_get, (void *)url, &r) < 0)
        coio_fail(errno);
    int status = (int)(intptr_t)r;
    if (status < 0)
        coio_fail(EPROTO);
    printf("<Response [%d]>\n", status);
    return r;
}

static void *main_task(void *arg)
{
    void *(*request)(void *) = (void *(*)(void *))arg;
    coio_task *tasks[MAX_COUNT];
    for (int i = 0; i < count; i++)                   /* for _ in range(1, 5) */
        tasks[i] = coio_spawn(request, NULL);
    int rc = coio_gather(tasks, (size_t)count, NULL, NULL, 0);  /* await asyncio.gather(*tasks) */
    int e = errno;
    for (int i = 0; i < count; i++) {
        coio_task_error(tasks[i]);
        coio_task_release(tasks[i]);
    }
    if (rc < 0)
        coio_fail(e);
    return NULL;
}

static int timed_run(const char *what, void *(*request)(void *))
{
    double start = coio_loop_time(NULL);
    int rc = coio_run(main_task, (void *)request, NULL);
    if (rc < 0)
        perror(url);
    printf("%s: cost time:%f\n", what, coio_loop_time(NULL) - start);
    return rc;
}

int main(int argc, char **argv)
{
    url = argc > 1 ? argv[1] : TUT_DEFAULT_URL;
    if (argc > 2)
        count = atoi(argv[2]);
    if (count < 1 || count > MAX_COUNT)
        count = 4;
    if (timed_run("blocking call in tasks", request_blocking) < 0 ||
        timed_run("asyncio.to_thread", request_to_thread) < 0)
        return 1;
    return 0;
}
