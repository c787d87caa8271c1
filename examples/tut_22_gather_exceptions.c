/* tut_22_gather_exceptions.c — gather with return_exceptions=True and =False when
 * one task raises (the "fake runtime error").
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「return_exceptions = True」
 * and 「return_exceptions = False」:
 *
 *     async def demo():
 *         return 'test'
 *     async def foo():
 *         return 'foo'
 *     async def bar():
 *         raise RuntimeError('fake runtime error')
 *
 *     async def main():
 *         task1 = asyncio.create_task(foo())
 *         task2 = asyncio.create_task(bar())
 *         task3 = asyncio.create_task(demo())
 *         result = asyncio.gather(task2, task1, task3, return_exceptions=True)
 *         return result
 *
 *     print(asyncio.run(main()).result())
 *     # [RuntimeError('fake runtime error'), 'foo', 'test']
 *
 *     # the same with return_exceptions=False:
 *     # Traceback (most recent call last): ...
 *     # RuntimeError: fake runtime error        (and exit status 1)
 *
 * C has no exceptions: a task fails with an error code plus an optional
 * message (coio_fail_msg), and whoever waits for it gets -1 with errno = that
 * code. With COIO_RETURN_EXCEPTIONS, gather puts each task's code in codes[]
 * (0 for success) next to results[], in argument order. Without it, gather
 * returns -1 with the first failure's code, which main passes on — the C
 * form of letting the exception propagate. The program runs both versions and
 * ends like the second: the error on stderr, exit status 1.
 */
#include <coio.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* RuntimeError has no errno of its own: this program uses a code of its own,
   above the errno range (any positive int is a valid task error code). */
enum { RUNTIME_ERROR = 0x1001 };

static const char *exception_name(int code)
{
    if (code == RUNTIME_ERROR)
        return "RuntimeError";
    if (code == ECANCELED)
        return "CancelledError";
    return strerror(code);
}

static void *demo(void *arg) { return "test"; }
static void *foo(void *arg) { return "foo"; }

static void *bar(void *arg)
{
    coio_fail_msg(RUNTIME_ERROR, "fake runtime error");   /* raise RuntimeError(...) */
    return NULL;                                          /* not reached */
}

static char raised[300];                  /* the "traceback" main leaves for the caller */

static void *main_task(void *arg)
{
    int flags = (int)(long)arg;           /* COIO_RETURN_EXCEPTIONS or 0 */
    coio_task *task1 = coio_spawn(foo, NULL);
    coio_task *task2 = coio_spawn(bar, NULL);
    coio_task *task3 = coio_spawn(demo, NULL);
    coio_task *tasks[3] = {task2, task1, task3};
    void *results[3];
    int codes[3];

    /* asyncio.gather(...) hands back a future that main returns; coio_gather
       waits right here instead and fills the two arrays. */
    int rc = coio_gather(tasks, 3, results, codes, flags);
    int err = errno;
    if (rc == 0) {
        printf("[");
        for (int i = 0; i < 3; i++) {
            if (i)
                printf(", ");
            if (codes[i] == 0)
                printf("'%s'", (char *)results[i]);
            else
                printf("%s('%s')", exception_name(codes[i]), coio_task_error_message(tasks[i]));
        }
        printf("]\n");
    } else {
        /* The first failure: find who raised it to pass its message on too. */
        const char *msg = coio_task_done(task2) ? coio_task_error_message(task2) : NULL;
        snprintf(raised, sizeof raised, "%s: %s", exception_name(err), msg ? msg : "");
    }
    coio_task_error(task2);               /* the error was seen: no "never retrieved" */
    coio_task_release(task1);
    coio_task_release(task2);
    coio_task_release(task3);
    if (rc < 0)
        coio_fail_msg(err, raised);       /* re-raise: main fails with the same code */
    return NULL;
}

int main(void)
{
    if (coio_run(main_task, (void *)(long)COIO_RETURN_EXCEPTIONS, NULL) < 0)
        return 1;
    if (coio_run(main_task, (void *)0L, NULL) < 0) {
        /* Python prints the traceback; its last line is the exception. */
        fprintf(stderr, "%s\n", raised);
        return 1;
    }
    return 0;
}
