/* tut_21_all_tasks_gather.c — all_tasks, gather over them as one "group", and
 * current_task.
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「asyncio.gather()」 and
 * 「loop.all_tasks」 (one program: the second is the first one's opening):
 *
 *     async def main():
 *         print(f'{time.ctime()} Hello!')
 *         await asyncio.sleep(1.0)
 *         print(f'{time.ctime()} Goodbye!')
 *
 *     loop = asyncio.get_event_loop()
 *     task = loop.create_task(main())
 *     pending = asyncio.all_tasks(loop=loop)
 *     print(pending)             # {<Task pending name='Task-1' coro=<main() running ...>>}
 *     group = asyncio.gather(*pending, return_exceptions=True)
 *     print(f'group: {group}')   # group: <_GatheringFuture pending>
 *     loop.run_until_complete(group)
 *     print(f'group: {group}')   # group: <_GatheringFuture finished result=[None]>
 *     loop.close()
 *
 * and tutorial 000 (000_a8ad7bc9355203eb.txt), 「自省」: current_task() is the
 * running task (None outside one), all_tasks() the loop's unfinished tasks.
 *
 * gather() in Python returns a future at once; coio_gather is a call that waits
 * inside a task. So the "group" here is a task whose body is the gather; its
 * description shows pending before and finished after, and the gathered
 * results (one NULL: Python's [None]) are printed from the array gather filled.
 * The last part prints current_task in main and in a callback.
 */
#include <coio.h>
#include <stdio.h>
#include <time.h>

static void print_ctime_line(const char *what)       /* print(f'{time.ctime()} ...') */
{
    time_t now = time(NULL);
    char buf[32];
    /* time.ctime()'s format, e.g. "Mon Nov 23 18:29:13 2026" */
    strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", localtime(&now));
    printf("%s %s\n", buf, what);
}

static void *main_task(void *arg)
{
    print_ctime_line("Hello!");
    coio_sleep(1.0);
    print_ctime_line("Goodbye!");
    return NULL;
}

struct group {                            /* what asyncio.gather(*pending) holds */
    coio_task *aws[8];
    size_t n;
    void *results[8];
    int codes[8];
};

static void *gathering(void *arg)
{
    struct group *g = arg;
    coio_gather(g->aws, g->n, g->results, g->codes, COIO_RETURN_EXCEPTIONS);
    return NULL;
}

static void print_current(void *where)    /* print(asyncio.current_task()) */
{
    coio_task *me = coio_current_task();
    char repr[128] = "None";
    if (me)
        coio_task_describe(me, repr, sizeof repr);
    printf("current_task() in %s: %s\n", (const char *)where, repr);
}

static void *introspect(void *arg)
{
    print_current("main");
    coio_call_soon(coio_loop_current(), print_current, "a callback");
    coio_yield();                         /* let the callback run */
    return NULL;
}

int main(void)
{
    coio_loop *loop = coio_loop_new();
    if (!loop)
        return 1;
    coio_task *task = coio_loop_spawn(loop, NULL, main_task, NULL);

    /* pending = asyncio.all_tasks(loop=loop): borrowed pointers to every task
       of the current loop that is not done. */
    struct group g = {.n = 0};
    g.n = coio_all_tasks(g.aws, 8);
    char repr[128];
    printf("{");
    for (size_t i = 0; i < g.n; i++) {
        coio_task_describe(g.aws[i], repr, sizeof repr);
        printf("%s%s", i ? ", " : "", repr);
    }
    printf("}\n");

    coio_task_opts opts = {.name = "_GatheringFuture"};
    coio_task *group = coio_loop_spawn(loop, &opts, gathering, &g);
    coio_task_describe(group, repr, sizeof repr);
    printf("group: %s\n", repr);
    coio_loop_run_until_complete(loop, group, NULL);
    coio_task_describe(group, repr, sizeof repr);
    printf("group: %s\n", repr);
    printf("group results: [%s]\n", g.results[0] == NULL && g.codes[0] == 0 ? "None" : "?");
    coio_task_release(group);
    coio_task_release(task);
    coio_loop_close(loop);

    print_current("no loop");
    return coio_run(introspect, NULL, NULL) == 0 ? 0 : 1;
}
