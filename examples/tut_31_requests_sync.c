/* tut_31_requests_sync.c — blocking requests one after the other (no coio at all).
 * Mirrors tutorial 004 (004_dd0433425ac7a23c.txt), 「案例」, the synchronous loop:
 *
 *     logging.basicConfig(level=logging.INFO,
 *                         format='%(asctime)s - %(levelname)s: %(message)s')
 *     url = 'https://www.httpbin.org/delay/1'  # 延迟1s
 *     start_time = time.time()
 *     for _ in range(1, 10):
 *         resp = requests.get(url)
 *         logging.info(f'scraping {url}')
 *     end_time = time.time()
 *     logging.info(f'total time {start_time - end_time} s')
 *
 * range(1, 10) is nine requests; each waits for the server's delay, so the run
 * takes 9 x N seconds (the tutorial measured 18 s against the real httpbin).
 * The log goes to stderr, as logging's does. Two changes: the URL is tut_30's
 * server (argv[1], default http://127.0.0.1:8080/delay/1), and the total is
 * printed as end - start (the tutorial's start - end came out negative).
 * Usage: tut_31_requests_sync [URL [COUNT]] (COUNT: 9, the tutorial's).
 */
#define _POSIX_C_SOURCE 200809L
#include "tut_http.h"

#include <stdarg.h>
#include <sys/time.h>
#include <time.h>

/* logging.info with the tutorial's format: "2022-11-20 18:13:20,426 - INFO: ..." */
static void log_info(const char *fmt, ...)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    time_t secs = tv.tv_sec;
    struct tm tm;
    localtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s,%03d - INFO: ", stamp, (int)(tv.tv_usec / 1000));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : TUT_DEFAULT_URL;
    int count = argc > 2 ? atoi(argv[2]) : 9;
    double start_time = coio_loop_time(NULL);
    for (int i = 0; i < count; i++) {     /* for _ in range(1, 10): */
        if (tut_blocking_get(url) < 0) {  /* resp = requests.get(url) */
            perror(url);
            return 1;
        }
        log_info("scraping %s", url);
    }
    double end_time = coio_loop_time(NULL);
    log_info("total time %f s", end_time - start_time);
    return 0;
}
