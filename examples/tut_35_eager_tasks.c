/* tut_35_eager_tasks.c — eager tasks, asyncio 3.12's eager_task_factory:
 *
 *     async def child(name, delay):
 *         print(f"{name}: started")
 *         if delay:
 *             await asyncio.sleep(delay)
 *         print(f"{name}: done")
 *         return name
 *
 *     async def main():
 *         t = asyncio.create_task(child("lazy", 0.1))
 *         print("main: after create_task (lazy)")
 *         await t
 *         asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
 *         t = asyncio.create_task(child("eager", 0.1))
 *         print("main: after create_task (eager)")
 *         await t
 *         t = asyncio.create_task(child("quick", 0))
 *         print(f"main: quick is done already: {t.done()}")
 *
 *     asyncio.run(main())
 *
 * A lazy task starts on a later loop iteration; an eager one runs inside the
 * spawn call until it first suspends, and one that never suspends comes back
 * done. Two 0.1 s sleeps: about 0.2 s.
 */
#include <coio.h>
#include <stdio.h>

struct job {
    const char *name;
    double delay;
};

static void *child(void *arg)
{
    struct job *j = arg;
    printf("%s: started\n", j->name);
    if (j->delay > 0)
        coio_sleep(j->delay);
    printf("%s: done\n", j->name);
    return (void *)j->name;
}

static void *main_task(void *arg)
{
    (void)arg;
    struct job lazy = {"lazy", 0.1}, eager = {"eager", 0.1}, quick = {"quick", 0};
    coio_task *t = coio_spawn(child, &lazy);
    printf("main: after spawn (lazy)\n");
    coio_await(t, NULL);
    coio_task_release(t);

    coio_loop_set_eager(coio_loop_current(), 1); /* asyncio's eager_task_factory */
    t = coio_spawn(child, &eager);
    printf("main: after spawn (eager)\n");
    coio_await(t, NULL);
    coio_task_release(t);

    t = coio_spawn(child, &quick);
    printf("main: quick is done already: %s\n", coio_task_done(t) ? "True" : "False");
    coio_task_release(t);
    return NULL;
}

int main(void)
{
    return coio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
