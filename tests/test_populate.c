/*
 * PAGEALLOC_POPULATE and pagealloc_populate: every page is resident when the
 * call returns (mincore), writing the whole block then takes no page fault
 * (getrusage minor faults), no byte changes, bad input is EINVAL. CTest runs
 * this program twice: with MADV_POPULATE_WRITE where the kernel has it, and
 * with PAGEALLOC_NO_POPULATE_WRITE=1, which makes the library write to each
 * page instead, as it does where the system has no such call.
 */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static size_t page;

enum { BLOCK_MIB = 16 };

#ifndef _WIN32
/* Pages of [p, p + len) resident now, by mincore. */
static size_t resident_pages(const void *p, size_t len)
{
    static unsigned char vec[(BLOCK_MIB << 20) / 4096];
    size_t n = len / page, count = 0;
    if (n > sizeof vec || mincore((void *)(uintptr_t)p, len, (void *)vec) != 0)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* Minor faults taken while writing every byte of [p, p + len). */
static long faults_writing(unsigned char *p, size_t len, int value)
{
    long before = minor_faults();
    memset(p, value, len);
    return minor_faults() - before;
}

/* qemu-user takes an madvise it does not emulate (MADV_POPULATE_WRITE) as a
 * no-op that succeeds, and its mincore reports the host's smaller pages. */
static bool residency_observable(void)
{
    return !support_under_qemu();
}
#endif

static void populate_makes_every_page_resident_and_keeps_it_zero(void)
{
    size_t len = (size_t)BLOCK_MIB << 20;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
#ifndef _WIN32
    CHECK(resident_pages(p, len) == 0);
#endif
    struct pagealloc_stats s0 = pagealloc_stats();
    CHECK(pagealloc_populate(p, len));
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(s1.populate_calls - s0.populate_calls == 1);
    CHECK(s1.map_calls == s0.map_calls && s1.advise_calls == s0.advise_calls);
#ifndef _WIN32
    if (residency_observable()) {
        CHECK(resident_pages(p, len) == len / page);
        CHECK(support_all_zero(p, len)); /* under ASan this also faults its shadow in */
        CHECK(faults_writing(p, len, 7) == 0);
    }
#endif
    pagealloc_unmap(p, len);
}

static void populated_block_reads_as_zero(void)
{
    size_t len = (size_t)BLOCK_MIB << 20;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL && pagealloc_populate(p, len));
    if (p != NULL) {
        CHECK(support_all_zero(p, len));
        pagealloc_unmap(p, len);
    }
}

static void writing_an_unpopulated_block_takes_faults(void)
{
#ifndef _WIN32
    /* The control of the test above: the same write without populate. */
    size_t len = (size_t)BLOCK_MIB << 20;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    if (residency_observable())
        CHECK(faults_writing(p, len, 7) > 0);
    pagealloc_unmap(p, len);
#endif
}

static void populate_keeps_every_byte(void)
{
    size_t len = 64 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    /* Written pages, untouched pages, and a written byte at each page's start. */
    support_fill(p, len / 2, 3);
    for (size_t off = len / 2 + 2 * page; off < len; off += 2 * page)
        p[off] = 0xa5;
    CHECK(pagealloc_populate(p, len));
    CHECK(support_has_pattern(p, len / 2, 3));
    for (size_t off = len / 2; off < len; off += page) {
        bool written = (off - len / 2) % (2 * page) == 0 && off != len / 2;
        CHECK(p[off] == (written ? 0xa5 : 0));
        CHECK(support_all_zero(p + off + 1, page - 1));
    }
    pagealloc_unmap(p, len);
}

static void populate_works_on_part_of_a_block_and_rounds_to_pages(void)
{
    size_t len = 16 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_populate(p + 4 * page, 2 * page + 1)); /* pages 4, 5 and 6 */
#ifndef _WIN32
    if (residency_observable()) {
        CHECK(resident_pages(p, 4 * page) == 0);
        CHECK(resident_pages(p + 4 * page, 3 * page) == 3);
        CHECK(resident_pages(p + 7 * page, 9 * page) == 0);
    }
#endif
    pagealloc_unmap(p, len);
}

static void mapx_populate_gives_a_resident_zero_block(void)
{
    size_t len = (size_t)BLOCK_MIB << 20;
    struct pagealloc_stats s0 = pagealloc_stats();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_POPULATE);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(s1.populate_calls - s0.populate_calls == 1);
    CHECK(s1.mapped_bytes - s0.mapped_bytes == len);
#ifndef _WIN32
    if (residency_observable()) {
        CHECK(resident_pages(p, len) == len / page);
        CHECK(support_all_zero(p, len)); /* under ASan this also faults its shadow in */
        CHECK(faults_writing(p, len, 9) == 0);
    }
#endif
    pagealloc_unmap(p, len);
    p = pagealloc_mapx(len, (size_t)1 << 21, PAGEALLOC_POPULATE);
    CHECK(p != NULL && support_aligned(p, (size_t)1 << 21) && support_all_zero(p, len));
    pagealloc_unmap(p, len);
}

static void populate_rejects_bad_input(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    p[0] = 1;
    CHECK_ERRNO(!pagealloc_populate(NULL, page), EINVAL);
    CHECK_ERRNO(!pagealloc_populate(p, 0), EINVAL);
    CHECK_ERRNO(!pagealloc_populate(p + 1, page), EINVAL);
    CHECK_ERRNO(!pagealloc_populate(p, SIZE_MAX), EINVAL);
    CHECK_ERRNO(!pagealloc_populate(p, SIZE_MAX - (uintptr_t)p), EINVAL);
    CHECK_ERRNO(pagealloc_mapx(page, 1, PAGEALLOC_POPULATE | 0x1u) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(page, 1, PAGEALLOC_POPULATE | 0x80u) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(0, 1, PAGEALLOC_POPULATE) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(SIZE_MAX, 1, PAGEALLOC_POPULATE) == NULL, ENOMEM);
    CHECK(p[0] == 1 && support_range_mapped(p, 2 * page));
    pagealloc_unmap(p, 2 * page);
}

/*
 * A range with pages that are not read-write: reserved, read-only, no
 * access, and read-write pages followed by reserved ones. populate fails
 * with EFAULT and writes nothing; before, the library took the kernel's
 * EINVAL for a missing advice and wrote to each page itself, which killed
 * the process, so on POSIX this runs in a child. Afterwards a read-write
 * block is still populated whole.
 */
static void pages_not_read_write(void)
{
    size_t len = 8 * page;
    unsigned char *r = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(r != NULL && p != NULL);
    if (r == NULL || p == NULL)
        return;
    CHECK_ERRNO(!pagealloc_populate(r, len), EFAULT);
    CHECK(support_read_faults(r) && support_read_faults(r + len - 1));
    CHECK_ERRNO(!pagealloc_populate(r, len), EFAULT);

    support_fill(p, len, 5);
    CHECK(pagealloc_protect(p, len, PAGEALLOC_READ));
    CHECK_ERRNO(!pagealloc_populate(p, len), EFAULT);
    CHECK(support_has_pattern(p, len, 5) && support_write_faults(p + len - 1));
    CHECK(pagealloc_protect(p, len, PAGEALLOC_NO_ACCESS));
    CHECK_ERRNO(!pagealloc_populate(p + page, page), EFAULT);
    CHECK(pagealloc_protect(p, len, PAGEALLOC_READ | PAGEALLOC_WRITE));
    CHECK(pagealloc_decommit(p + len / 2, len / 2));
    CHECK_ERRNO(!pagealloc_populate(p, len), EFAULT);
    CHECK(support_has_pattern(p, len / 2, 5) && support_read_faults(p + len / 2));
    pagealloc_unmap(p, len);
    pagealloc_unmap(r, len);

    size_t big = (size_t)BLOCK_MIB << 20;
    unsigned char *q = pagealloc_map(big, 1);
    CHECK(q != NULL && pagealloc_populate(q, big));
#ifndef _WIN32
    if (q != NULL && residency_observable())
        CHECK(resident_pages(q, big) == big / page);
#endif
    pagealloc_unmap(q, big);
}

static void populate_of_pages_not_read_write_fails_with_EFAULT_and_writes_nothing(void)
{
    const char *forced = getenv("PAGEALLOC_NO_POPULATE_WRITE");
    if (support_under_qemu() && (forced == NULL || forced[0] != '1')) {
        check_skip("qemu-user takes MADV_POPULATE_WRITE as a no-op that succeeds, "
                   "on any range (test_populate_by_writing runs it)");
        return;
    }
#ifdef _WIN32
    pages_not_read_write();
#else
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pages_not_read_write();
        fflush(stdout);
        _exit(check_failures == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status))
        printf("  the child died of signal %d\n", WTERMSIG(status));
#endif
}

#if defined(__linux__)
/* In a child whose address space is capped: a populated block that does not
 * fit fails with ENOMEM and leaves nothing mapped; one that fits is resident.
 * (RLIMIT_AS counts a block when it is mapped, so the cap stops mapx before
 * it populates; a shortage during the populate itself is failure injection's,
 * test_populate_faults.) */
static void populate_under_rlimit_as(void)
{
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL || support_under_qemu()) {
        check_skip("setrlimit(RLIMIT_AS) applies to the emulator too");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        size_t before = support_mapped_bytes();
        struct rlimit lim;
        lim.rlim_cur = lim.rlim_max = before + ((size_t)64 << 20);
        int bad = setrlimit(RLIMIT_AS, &lim) != 0;
        errno = 0;
        bad += pagealloc_mapx((size_t)128 << 20, 1, PAGEALLOC_POPULATE) != NULL || errno != ENOMEM;
        bad += support_mapped_bytes() != before;
        unsigned char *p = pagealloc_mapx((size_t)16 << 20, 1, PAGEALLOC_POPULATE);
        bad += p == NULL || resident_pages(p, (size_t)16 << 20) != ((size_t)16 << 20) / page;
        check_exit(bad);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

int main(void)
{
    page = pagealloc_page_size();
    const char *forced = getenv("PAGEALLOC_NO_POPULATE_WRITE");
    printf("prefault by %s\n", forced != NULL && forced[0] == '1'
                                   ? "writing each page (PAGEALLOC_NO_POPULATE_WRITE=1)"
                                   : "the system's call where it has one");
#ifndef _WIN32
    /* Resolve memset and getrusage, and fault in their data, before counting. */
    static unsigned char warm[4096];
    faults_writing(warm, sizeof warm, 1);
#endif
    RUN(populate_makes_every_page_resident_and_keeps_it_zero);
    RUN(populated_block_reads_as_zero);
    RUN(writing_an_unpopulated_block_takes_faults);
    RUN(populate_keeps_every_byte);
    RUN(populate_works_on_part_of_a_block_and_rounds_to_pages);
    RUN(mapx_populate_gives_a_resident_zero_block);
    RUN(populate_rejects_bad_input);
    RUN(populate_of_pages_not_read_write_fails_with_EFAULT_and_writes_nothing);
#if defined(__linux__)
    RUN(populate_under_rlimit_as);
#endif
    return check_done();
}
