/* A minimal test harness: CHECK records a failure and goes on, RUN runs one
 * named test, and check_done() gives main its exit status. */
#ifndef PAGEALLOC_TEST_CHECK_H
#define PAGEALLOC_TEST_CHECK_H

#include <stdio.h>

static int check_failures;
static int check_tests;

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

#define RUN(test)                                                                      \
    do {                                                                               \
        int check_before_ = check_failures;                                            \
        test();                                                                        \
        check_tests++;                                                                 \
        printf("%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #test);   \
        fflush(stdout);                                                                \
    } while (0)

static inline int check_done(void)
{
    printf("%d tests, %d failed checks\n", check_tests, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#endif
