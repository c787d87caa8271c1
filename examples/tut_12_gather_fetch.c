/* tut_12_gather_fetch.c — gather returning the coroutines' results as a list.
 * Mirrors tutorial 001 (001_ca346f476fc23df8.txt), 「实例 2. 并发执行任务」:
 *
 *     async def fetch(url):
 *         print(f"Fetching {url}")
 *         await asyncio.sleep(2)
 *         return f"Data from {url}"
 *
 *     async def main():
 *         results = await asyncio.gather(
 *             fetch("url1.com"),
 *             fetch("url2.com")
 *         )
 *         print(results)
 *
 *     asyncio.run(main())
 *
 * Output: two "Fetching" lines, then after 2 s
 * ['Data from url1.com', 'Data from url2.com'].
 */
#include <coio.h>
#include <stdio.h>
#include <stdlib.h>

/* A task's result is one pointer. Here it is a string the task allocates and
   whoever takes the result frees (Python's garbage collector does this part). */
static void *fetch(void *arg)
{
    const char *url = arg;
    printf("Fetching %s\n", url);
    if (coio_sleep(2) < 0)
        return NULL;                      /* cancelled: no result */
    char *data = malloc(64);
    if (data)
        snprintf(data, 64, "Data from %s", url);
    return data;
}

static void *main_task(void *arg)
{
    coio_task *tasks[2] = {coio_spawn(fetch, "url1.com"), coio_spawn(fetch, "url2.com")};
    void *results[2] = {NULL, NULL};
    if (coio_gather(tasks, 2, results, NULL, 0) == 0)
        printf("['%s', '%s']\n", (char *)results[0], (char *)results[1]); /* print(results) */
    free(results[0]);
    free(results[1]);
    coio_task_release(tasks[0]);
    coio_task_release(tasks[1]);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
