/*
 * Failure injection (PAGEALLOC_FAULT_INJECTION builds, Linux and Windows) of
 * the huge-page advice and of the prefault. The advice is a request: when it fails the block is an
 * ordinary one. A prefault that fails in mapx gives the block back and
 * reports ENOMEM; one that fails in pagealloc_populate leaves every byte as
 * it was. Failing each system call of mapx(HUGE | POPULATE) in turn never
 * leaves a block mapped that the caller was not given.
 */
#include "check.h"
#include "fault.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

static size_t page, huge;

/* A block large enough to be advised where there are huge pages. */
static size_t block_len(void)
{
    return huge != 0 ? 2 * huge : (size_t)4 << 20;
}

/* Whether the library populates by writing each page from the start:
 * forced by the environment, or a system without a prefault call. */
static bool forced_writing(void)
{
#ifdef _WIN32
    return true;
#else
    const char *forced = getenv("PAGEALLOC_NO_POPULATE_WRITE");
    return forced != NULL && forced[0] == '1';
#endif
}

static void failed_advice_leaves_an_ordinary_block(void)
{
    if (huge == 0) {
        check_skip("no huge pages here, so no advice");
        return;
    }
    size_t len = block_len();
    pa_fault_arm(PA_SYS_ADVISE, 1, 1, ENOMEM);
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE);
    pa_fault_disarm();
    CHECK(pa_fault_injected() == 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, huge));
    CHECK(support_all_zero(p, len));
    support_fill(p, len, 1);
    CHECK(support_has_pattern(p, len, 1));
    pagealloc_unmap(p, len);
}

static void failed_prefault_in_mapx_gives_the_block_back(void)
{
    const unsigned flags[] = {PAGEALLOC_POPULATE, PAGEALLOC_POPULATE | PAGEALLOC_HUGE};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        size_t before = support_mapped_bytes();
        struct pagealloc_stats s0 = pagealloc_stats();
        pa_fault_arm(PA_SYS_POPULATE, 1, 1, ENOMEM);
        CHECK_ERRNO(pagealloc_mapx(block_len(), 1, flags[i]) == NULL, ENOMEM);
        pa_fault_disarm();
        CHECK(pa_fault_injected() == 1);
        CHECK(pagealloc_stats().mapped_bytes == s0.mapped_bytes);
        CHECK(support_mapped_bytes() == before);
    }
}

static void failed_populate_keeps_every_byte(void)
{
    size_t len = 32 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, len / 2, 2);
    const int errs[] = {ENOMEM, EFAULT, EAGAIN};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        pa_fault_arm(PA_SYS_POPULATE, 1, 1, errs[i]);
        CHECK_ERRNO(!pagealloc_populate(p, len), errs[i]);
        pa_fault_disarm();
    }
    CHECK(support_range_mapped(p, len));
    CHECK(support_has_pattern(p, len / 2, 2));
    CHECK(support_all_zero(p + len / 2, len / 2));
    CHECK(pagealloc_populate(p, len));
    pagealloc_unmap(p, len);
}

/* Fails call n (of any kind) of mapx(HUGE | POPULATE), or every call from n
 * on; false once the call sequence is shorter than n. */
static bool fail_call(uint64_t n, uint64_t count, uintptr_t *site)
{
    size_t len = block_len();
    size_t before = support_mapped_bytes();
    struct pagealloc_stats s0 = pagealloc_stats();
    pa_fault_arm(PA_SYS_KINDS, n, count, ENOMEM);
    errno = 0;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE | PAGEALLOC_POPULATE);
    int err = errno;
    pa_fault_disarm();
    *site = pa_fault_last_site();
    if (pa_fault_injected() == 0) {
        CHECK(p != NULL);
        pagealloc_unmap(p, len);
        return false;
    }
    struct pagealloc_stats s1 = pagealloc_stats();
    if (p != NULL) {
        /* Absorbed: the advice, or the huge placement (then placed as usual). */
        CHECK(support_all_zero(p, len));
        support_fill(p, len, 3);
        CHECK(support_has_pattern(p, len, 3));
        pagealloc_unmap(p, len);
    } else {
        CHECK(err == ENOMEM);
        CHECK(s1.mapped_bytes == s0.mapped_bytes);
        /* Only when the unmap after a failed prefault fails too does a range
         * stay: never-touched by the caller, counted, its memory discarded. */
        CHECK(support_mapped_bytes() == before || s1.unmap_failures > s0.unmap_failures);
    }
    return true;
}

static void every_call_of_a_huge_prefaulted_mapx_may_fail(void)
{
    uintptr_t sites[16];
    size_t nsites = 0;
    uint64_t n = 1;
    for (; n < 64; n++) {
        /* One call, two in a row (the huge placement's two tries), all from n. */
        uintptr_t site[3] = {0, 0, 0};
        if (!fail_call(n, 1, &site[0]) || !fail_call(n, 2, &site[1]) ||
            !fail_call(n, UINT64_MAX, &site[2]))
            break;
        for (int k = 0; k < 3; k++) {
            bool known = false;
            for (size_t i = 0; i < nsites; i++)
                known |= sites[i] == site[k];
            if (!known && nsites < 16)
                sites[nsites++] = site[k];
        }
    }
    CHECK(n > 2);
    printf("  %llu calls failed in turn, at %zu call sites\n", (unsigned long long)(n - 1), nsites);
}

/*
 * EINVAL from MADV_POPULATE_WRITE means a page that is not read-write, or a
 * kernel before 5.14. A fresh page of the library's own tells which, once;
 * afterwards EINVAL is EFAULT, and the advice stays in use. A reserved range
 * fails with EFAULT, whichever way the library prefaults, and nothing faults.
 */
static void populate_of_reserved_pages_is_EFAULT_and_keeps_the_advice(void)
{
    size_t len = 16 * page;
    unsigned char *r = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(r != NULL && p != NULL);
    if (r == NULL || p == NULL)
        return;
    struct pagealloc_stats s0 = pagealloc_stats();
    CHECK_ERRNO(!pagealloc_populate(r, len), EFAULT);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK_ERRNO(!pagealloc_populate(r, len), EFAULT);
    struct pagealloc_stats s2 = pagealloc_stats();
    CHECK(support_read_faults(r) && support_read_faults(r + len - 1));
    /* The probe maps one page, once; later refusals cost one call. */
    CHECK(s1.map_calls - s0.map_calls == (forced_writing() ? 0u : 1u));
    CHECK(s2.map_calls == s1.map_calls && s2.populate_calls - s1.populate_calls <= 1);
    if (!forced_writing()) {
        /* The advice is still in use: an EINVAL from it is taken as EFAULT,
         * not as a missing advice to write each page instead. */
        pa_fault_arm(PA_SYS_POPULATE, 1, 1, EINVAL);
        CHECK_ERRNO(!pagealloc_populate(p, len), EFAULT);
        pa_fault_disarm();
        CHECK(pa_fault_seen() == 1);
    }
    struct pagealloc_stats s3 = pagealloc_stats();
    CHECK(pagealloc_populate(p, len));
    CHECK(pagealloc_stats().populate_calls - s3.populate_calls == 1);
    CHECK(support_all_zero(p, len));
    pagealloc_unmap(p, len);
    pagealloc_unmap(r, len);
}

/* Runs fn in a child process where there are processes (the probe's answer,
 * which fn learns, stays there; so does a fault that would end the process):
 * true when it exited with no failed check. Elsewhere runs it here. */
static bool in_child(void (*fn)(void))
{
#ifdef _WIN32
    int before = check_failures;
    fn();
    return check_failures == before;
#else
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        fflush(stdout);
        _exit(check_failures == 0 ? 0 : 1);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
#endif
}

static void populate_of_reserved_pages_is_EFAULT_and_keeps_the_advice_in_a_child(void)
{
    CHECK(in_child(populate_of_reserved_pages_is_EFAULT_and_keeps_the_advice));
}

/* Last: after the probe the process keeps writing each page. */
static void unknown_prefault_advice_falls_back_to_writing_each_page(void)
{
    size_t len = 16 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    p[0] = 4;
    /* A kernel before 5.14 answers MADV_POPULATE_WRITE with EINVAL, on the
     * caller's range and on the library's probe page alike; where the library
     * writes each page, the first failed call is that pass. */
    struct pagealloc_stats s0 = pagealloc_stats();
    pa_fault_arm(PA_SYS_POPULATE, 1, 2, EINVAL);
    bool ok = pagealloc_populate(p, len);
    pa_fault_disarm();
    struct pagealloc_stats s1 = pagealloc_stats();
    if (forced_writing()) {
        CHECK(!ok); /* no advice was tried: the failed call was the writing pass */
        CHECK(s1.populate_calls - s0.populate_calls == 1);
    } else {
        CHECK(ok);
        /* the advice, the probe's advice, then the pass */
        CHECK(s1.populate_calls - s0.populate_calls == 3);
    }
    /* From now on one call, the writing pass: failing it fails populate. */
    pa_fault_arm(PA_SYS_POPULATE, 1, 1, ENOMEM);
    CHECK_ERRNO(!pagealloc_populate(p, len), ENOMEM);
    pa_fault_disarm();
    CHECK(pa_fault_seen() == 1);
    CHECK(p[0] == 4 && support_all_zero(p + 1, len - 1));
    pagealloc_unmap(p, len);
}

int main(void)
{
    page = pagealloc_page_size();
    huge = pagealloc_huge_page_size();
    support_mapped_bytes(); /* the first read may map the C library's buffers */
    RUN(failed_advice_leaves_an_ordinary_block);
    RUN(failed_prefault_in_mapx_gives_the_block_back);
    RUN(failed_populate_keeps_every_byte);
    RUN(every_call_of_a_huge_prefaulted_mapx_may_fail);
    RUN(populate_of_reserved_pages_is_EFAULT_and_keeps_the_advice_in_a_child);
    RUN(unknown_prefault_advice_falls_back_to_writing_each_page);
    return check_done();
}
