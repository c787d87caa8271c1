/* tests/helpers.h — shared by the libcheck suites: timing with slack, event
 * logs for asserting order, and a runner that checks nothing is left alive. */
#ifndef COIO_TEST_HELPERS_H
#define COIO_TEST_HELPERS_H

#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* COIO_TEST_TSAN: built with ThreadSanitizer (gcc defines __SANITIZE_THREAD__,
   clang has the feature test). */
#if defined(__SANITIZE_THREAD__)
#define COIO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COIO_TEST_TSAN 1
#endif
#endif

/* Under qemu-i386 (RUNNER=qemu-i386...), a signal handled by a thread of a
   process that has a second thread leaves it with that thread's TLS base
   (qemu 7.2 keeps one GDT for all guest threads; PORTING.md, "Known qemu 7.2
   problem (i386)"). Tests that need a signal to arrive at such a thread call
   this first: it says why on stderr and returns 1 there. Natively, and under
   every other emulator, it returns 0 and the test runs. */
static inline int qemu_i386_signal_tls_bug(const char *test)
{
    const char *r = getenv("RUNNER");
    if (!r || !strstr(r, "qemu-i386"))
        return 0;
    fprintf(stderr, "%s: not run under qemu-i386 (its signal return loads another thread's TLS "
                    "base; PORTING.md); it runs natively on i386\n", test);
    return 1;
}

#include "coio.h"

/* Time bounds are multiplied by COIO_TEST_SLACK (default 1; valgrind and qemu
   runs set more). Lower bounds are never scaled. */
static inline double slack(void)
{
    const char *s = getenv("COIO_TEST_SLACK");
    double v = s ? atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

static inline double now(void) { return coio_loop_time(NULL); }

/* Assert lo <= x <= hi * slack(). */
#define ck_assert_time(x, lo, hi)                                                                  \
    do {                                                                                           \
        double _x = (x), _lo = (lo), _hi = (hi) * slack();                                         \
        ck_assert_msg(_x >= _lo && _x <= _hi, "time %.4f not in [%.4f, %.4f]", _x, _lo, _hi);       \
    } while (0)

/* An event log: tests append short strings and compare the joined result. */
typedef struct {
    char buf[4096];
} evlog;

static inline void evlog_add(evlog *l, const char *fmt, ...)
{
    size_t n = strlen(l->buf);
    if (n && n < sizeof l->buf - 1)
        l->buf[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->buf + n, sizeof l->buf - n, fmt, ap);
    va_end(ap);
}

#define ck_assert_log(l, expected) ck_assert_str_eq((l)->buf, (expected))

/* Assert that call returns -1 with errno == code. */
#define ck_assert_err(call, code)                                                                  \
    do {                                                                                           \
        errno = 0;                                                                                 \
        ck_assert_int_eq((call), -1);                                                              \
        ck_assert_int_eq(errno, (code));                                                           \
    } while (0)

/* Capture what is written to fd 2 (coio's diagnostics) between capture_begin()
   and capture_end(), which returns it as a string (at most 8 KiB kept). */
static FILE *cap_file;
static int saved_fd2 = -1;
static char captured[8192];

static inline void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    ck_assert_ptr_nonnull(cap_file);
    saved_fd2 = dup(2);
    ck_assert_int_ge(saved_fd2, 0);
    ck_assert_int_ge(dup2(fileno(cap_file), 2), 0);
}

static inline const char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd2, 2);
    close(saved_fd2);
    saved_fd2 = -1;
    rewind(cap_file);
    size_t n = fread(captured, 1, sizeof captured - 1, cap_file);
    captured[n] = 0;
    fclose(cap_file);
    cap_file = NULL;
    return captured;
}

/* Run fn under coio_run and return its rc; *res gets the result. */
static inline int run_main(void *(*fn)(void *), void *arg, void **res)
{
    void *r = NULL;
    int rc = coio_run(fn, arg, &r);
    if (res)
        *res = r;
    return rc;
}

/* Build a suite from one TCase-adding function and run it: the main() of
   every check_*.c file. */
#define COIO_TEST_MAIN(make_suite)                                                                 \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(make_suite());                                                \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                               \
    }

#endif
