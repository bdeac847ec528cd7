/* A minimal test harness: CHECK records a failure and goes on, RUN runs one
 * named test, check_skip says a test could not run here, and check_done()
 * gives main its exit status. */
#ifndef PAGEALLOC_TEST_CHECK_H
#define PAGEALLOC_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_failures;
static int check_tests;
static int check_skips;

/* The exit status of a program whose tests passed but one of them skipped:
 * CTest's SKIP_RETURN_CODE (set on every test in tests/CMakeLists.txt), so
 * that ctest lists the program as skipped, not passed. */
#define CHECK_SKIP_CODE 77

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);    \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

/* Checks a call's NULL/false result and the errno it left. */
#define CHECK_ERRNO(failed, expected)                                                  \
    do {                                                                               \
        errno = 0;                                                                     \
        int check_failed_ = (failed);                                                  \
        int check_errno_ = errno;                                                      \
        if (!check_failed_ || check_errno_ != (expected)) {                            \
            fprintf(stderr, "%s:%d: %s: expected failure with %s, got %s (errno %d)\n", \
                    __FILE__, __LINE__, #failed, #expected,                            \
                    check_failed_ ? "failure" : "success", check_errno_);             \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

/* The running test cannot make (some of) its checks here: prints why, in
 * printf's format, and counts a skip; the test then returns (or goes on with
 * the checks it can make). A program with a skip and no failure exits with
 * CHECK_SKIP_CODE: what did not run is never reported as passing. */
#if defined(__MINGW32__)
__attribute__((format(gnu_printf, 1, 2))) /* mingw's stdio here is the C99 one */
#elif defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void check_skip(const char *why, ...)
{
    va_list ap;
    va_start(ap, why);
    printf("  skipped: ");
    vprintf(why, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    check_skips++;
}

#define RUN(test)                                                                      \
    do {                                                                               \
        int check_before_ = check_failures, check_skips_before_ = check_skips;         \
        test();                                                                        \
        check_tests++;                                                                 \
        printf("%s %s\n", check_failures != check_before_ ? "FAIL"                     \
                          : check_skips != check_skips_before_ ? "skip"               \
                                                               : "ok  ",              \
               #test);                                                                 \
        fflush(stdout);                                                                \
    } while (0)

/* The exit status for the checks made so far: 1 when one failed, else
 * CHECK_SKIP_CODE when a test skipped, else 0. main returns it (through
 * check_done); a forked child check_exits with it, and its parent passes a
 * CHECK_SKIP_CODE on with check_skip. */
static inline int check_status(void)
{
    return check_failures != 0 ? 1 : check_skips != 0 ? CHECK_SKIP_CODE : 0;
}

#if !defined(_WIN32)
#include <unistd.h>
#if defined(CHECK_COVERAGE)
void __gcov_dump(void);
#endif
/* A forked child ends with check_exit(status): _exit(status), but a coverage
 * build (CHECK_COVERAGE, tests/configs/coverage.sh) first writes the child's
 * counts, which _exit would lose. */
static inline void check_exit(int status)
{
    fflush(stdout);
    fflush(stderr);
#if defined(CHECK_COVERAGE)
    __gcov_dump();
#endif
    _exit(status);
}
#endif

static inline int check_done(void)
{
    printf("%d tests, %d failed checks, %d skipped\n", check_tests, check_failures, check_skips);
    return check_status();
}

#endif
