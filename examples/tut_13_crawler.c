/* tut_13_crawler.c — the crawler simulation: awaiting coroutines in a loop (sequential)
 * versus tasks (concurrent).
 * Mirrors tutorial 002 (002_b83f952ded8968fe.txt), 「异步接口同步实现」 and
 * 「使用Task实现异步」:
 *
 *     async def crawl_page(url):
 *         print('crawling {}'.format(url))
 *         sleep_time = int(url.split('_')[-1])
 *         await asyncio.sleep(sleep_time)
 *         print('OK {}'.format(url))
 *
 *     async def main(urls):                           # 1. sequential: 1 + 2 = 3 s
 *         for url in urls:
 *             await crawl_page(url)
 *
 *     async def main(urls):                           # 2. tasks: max(1, 2) = 2 s
 *         tasks = [asyncio.create_task(crawl_page(url)) for url in urls]
 *         for task in tasks:
 *             await task
 *         # or: await asyncio.gather(*tasks)
 *
 *     start = time.perf_counter()
 *     asyncio.run(main(['url_1', 'url_2']))
 *     print("Cost {} s".format(time.perf_counter() - start))
 *
 * Both programs run here one after the other: "Cost 3.0..." then "Cost 2.0...".
 */
#include <coio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *crawl_page(void *arg)
{
    const char *url = arg;
    printf("crawling %s\n", url);
    int sleep_time = atoi(strrchr(url, '_') + 1);  /* int(url.split('_')[-1]) */
    coio_sleep(sleep_time);
    printf("OK %s\n", url);
    return NULL;
}

static const char *urls[] = {"url_1", "url_2"};
#define NURLS 2

/* 1. `await crawl_page(url)` on a coroutine runs it to the end before the loop
   continues: a plain call in C, and just as sequential. */
static void *main_sequential(void *arg)
{
    for (int i = 0; i < NURLS; i++)
        crawl_page((void *)urls[i]);
    return NULL;
}

/* 2. Tasks run concurrently; awaiting them one by one only collects them. */
static void *main_tasks(void *arg)
{
    coio_task *tasks[NURLS];
    for (int i = 0; i < NURLS; i++)
        tasks[i] = coio_spawn(crawl_page, (void *)urls[i]);
    for (int i = 0; i < NURLS; i++) {
        coio_await(tasks[i], NULL);
        coio_task_release(tasks[i]);
    }
    return NULL;
}

int main(void)
{
    double start = coio_loop_time(NULL);
    if (coio_run(main_sequential, NULL, NULL) < 0)
        return 1;
    printf("Cost %f s\n", coio_loop_time(NULL) - start);

    start = coio_loop_time(NULL);
    if (coio_run(main_tasks, NULL, NULL) < 0)
        return 1;
    printf("Cost %f s\n", coio_loop_time(NULL) - start);
    return 0;
}
