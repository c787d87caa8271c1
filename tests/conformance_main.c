/* conformance_main.c — the port conformance tests (tests/arch_conformance.h)
 * as a plain program, for a new port before libcheck is built for it:
 * `make check-riscv64`, or `make conformance` natively. Each test runs in its
 * own child process, bounded by COIO_CONF_TIMEOUT seconds (default 60; the
 * Makefile gives runs under RUNNER 600): a port that corrupts a frame can
 * make a test spin forever. The exit status is the number of failures. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void conf_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: check failed: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

#define CONF_CHECK(cond, ...) ((cond) ? (void)0 : conf_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))
#include "arch_conformance.h"

int main(void)
{
    int failed = 0, n = (int)(sizeof conf_tests / sizeof conf_tests[0]);
    const char *env = getenv("COIO_CONF_TIMEOUT");
    unsigned limit = env && atoi(env) > 0 ? (unsigned)atoi(env) : 60;
    for (int i = 0; i < n; i++) {
        const struct conf_test *t = &conf_tests[i];
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 99;
        }
        if (pid == 0) {
            alarm(limit); /* SIGALRM's default action ends the child */
            t->fn();
            _exit(0);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0)
            ;
        int ok = t->expect_abort ? WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT
                                 : WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!ok) {
            failed++;
            if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
                printf("FAIL %s (timed out after %u s)\n", t->name, limit);
            else if (WIFSIGNALED(st))
                printf("FAIL %s (signal %d)\n", t->name, WTERMSIG(st));
            else
                printf("FAIL %s (exit %d)\n", t->name, WEXITSTATUS(st));
        } else {
            printf("ok   %s\n", t->name);
        }
    }
    printf("conformance (%s): %d passed, %d failed\n", COIO_ARCH_NAME, n - failed, failed);
    return failed;
}
