/*
 * PAGEALLOC_HUGE and pagealloc_huge_page_size: where transparent huge pages
 * are on (`always` or `madvise`), a huge block is placed at a huge-page
 * boundary and, once written, is backed by huge pages (AnonHugePages of its
 * range in /proc/self/smaps), also after growing in place and moving; an
 * ordinary block under `madvise` gets none. Elsewhere the flag changes
 * nothing, and the tests that need huge pages say why they were skipped.
 */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t page, huge;

/* ---- What the system says, read here without the library ---------------- */

/* The THP mode in brackets in `enabled` ("always", "madvise", "never"), or "". */
static const char *thp_mode(void)
{
    static char mode[16];
#ifdef __linux__
    char line[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f != NULL) {
        if (fgets(line, sizeof line, f) == NULL)
            line[0] = '\0';
        fclose(f);
    }
    const char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
    if (open != NULL && close != NULL && (size_t)(close - open - 1) < sizeof mode)
        snprintf(mode, sizeof mode, "%.*s", (int)(close - open - 1), open + 1);
#endif
    return mode;
}

static size_t pmd_size(void)
{
    unsigned long long n = 0;
#ifdef __linux__
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
    if (f != NULL) {
        if (fscanf(f, "%llu", &n) != 1)
            n = 0;
        fclose(f);
    }
#endif
    return (size_t)n;
}

/* Bytes of [p, p + len) backed by huge pages: the AnonHugePages of each
 * mapping that overlaps it, at most the overlap (Linux; 0 elsewhere). */
static size_t huge_bytes(const void *p, size_t len)
{
    size_t total = 0;
#ifdef __linux__
    uintptr_t lo = (uintptr_t)p, hi = lo + len, vlo = 0, vhi = 0;
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long a, b, kb;
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2) {
            vlo = (uintptr_t)a, vhi = (uintptr_t)b;
        } else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 && vlo < hi && vhi > lo) {
            size_t overlap = (vhi < hi ? vhi : hi) - (vlo > lo ? vlo : lo);
            size_t bytes = (size_t)kb << 10;
            total += bytes < overlap ? bytes : overlap;
        }
    }
    fclose(f);
#else
    (void)p, (void)len;
#endif
    return total;
}

/* Why huge pages cannot be checked here, or NULL when they can. */
static const char *why_no_huge_pages(void)
{
    if (huge == 0)
        return "no transparent huge pages here (THP `never`, absent, or not Linux)";
    if (support_under_qemu())
        return "qemu-user takes MADV_HUGEPAGE as a no-op and shows no AnonHugePages";
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL)
        return "valgrind places and faults pages its own way";
    return NULL;
}

static bool skipped(const char *test, const char *why)
{
    (void)test; /* RUN names it */
    if (why != NULL)
        check_skip("%s", why);
    return why != NULL;
}

/* A length of several huge pages, at least 64 MiB. */
static size_t test_len(void)
{
    size_t len = (size_t)64 << 20;
    return huge != 0 && 4 * huge > len ? 4 * huge : len;
}

static bool mostly_huge(const void *p, size_t len)
{
    size_t got = huge_bytes(p, len);
    if (got < len / 10 * 9)
        printf("  %zu of %zu KiB backed by huge pages\n", got >> 10, len >> 10);
    return got >= len / 10 * 9;
}

/* ---- Tests -------------------------------------------------------------- */

static void huge_page_size_is_the_kernels_when_thp_is_on(void)
{
    const char *mode = thp_mode();
    bool on = strcmp(mode, "always") == 0 || strcmp(mode, "madvise") == 0;
    CHECK(huge == (on ? pmd_size() : 0));
    CHECK(pagealloc_huge_page_size() == huge); /* read once, the same after */
    if (huge != 0)
        CHECK(huge > page && (huge & (huge - 1)) == 0);
    printf("  THP mode \"%s\", huge page size %zu KiB\n", mode, huge >> 10);
}

static void huge_block_starts_at_a_huge_page_boundary(void)
{
    size_t len = huge != 0 ? 2 * huge + page : (size_t)4 << 20;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    if (huge != 0)
        CHECK(support_aligned(p, huge));
    CHECK(support_all_zero(p, len));
    support_fill(p, len, 1);
    CHECK(support_has_pattern(p, len, 1));
    /* Lengths round to ordinary pages: the block ends one page past 2 huge pages. */
    CHECK(support_range_mapped(p, len));
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, len));
}

static void huge_flag_keeps_a_larger_alignment(void)
{
    size_t align = huge != 0 ? 4 * huge : (size_t)8 << 20;
    size_t len = huge != 0 ? huge : (size_t)2 << 20;
    unsigned char *p = pagealloc_mapx(len, align, PAGEALLOC_HUGE);
    CHECK(p != NULL && support_aligned(p, align));
    pagealloc_unmap(p, len);
}

static void small_huge_block_is_advised_and_placed_as_usual(void)
{
    size_t len = 3 * page;
    struct pagealloc_stats s0 = pagealloc_stats();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(p != NULL);
    CHECK(s1.advise_calls - s0.advise_calls == (huge != 0 ? 1u : 0u));
    if (p != NULL) {
        support_fill(p, len, 2);
        CHECK(support_has_pattern(p, len, 2));
        CHECK(pagealloc_realloc(p, len, 1, page, false) == p);
        pagealloc_unmap(p, page);
    }
}

static void huge_block_is_advised_once(void)
{
    if (skipped(__func__, huge == 0 ? "no huge pages here, so no advice" : NULL))
        return;
    struct pagealloc_stats s0 = pagealloc_stats();
    void *p = pagealloc_mapx(huge, 1, PAGEALLOC_HUGE);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(p != NULL);
    CHECK(s1.advise_calls - s0.advise_calls == 1);
    CHECK(s1.populate_calls == s0.populate_calls);
    pagealloc_unmap(p, huge);
}

static void written_huge_block_is_backed_by_huge_pages(void)
{
    if (skipped(__func__, why_no_huge_pages()))
        return;
    size_t len = test_len();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    memset(p, 0x5a, len);
    CHECK(mostly_huge(p, len));
    pagealloc_unmap(p, len);
}

static void ordinary_block_under_madvise_gets_no_huge_pages(void)
{
    const char *why = why_no_huge_pages();
    if (why == NULL && strcmp(thp_mode(), "madvise") != 0)
        why = "THP is `always`: every block may get huge pages";
    if (skipped(__func__, why))
        return;
    size_t len = test_len();
    unsigned char *p = pagealloc_mapx(len, huge, 0);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    memset(p, 0x5a, len);
    CHECK(huge_bytes(p, len) == 0);
    pagealloc_unmap(p, len);
}

static const char *why_no_growth(void)
{
    const char *why = why_no_huge_pages();
    if (why == NULL && !support_can_move())
        why = "without mremap growth maps a new range, which has no huge-page advice "
              "(the library keeps no per-block state to know the block was huge)";
    return why;
}

static void huge_block_grown_in_place_stays_huge(void)
{
    if (skipped(__func__, why_no_growth()))
        return;
    size_t len = test_len();
    /* Free room right after the block: map it long, shrink it, grow it back. */
    unsigned char *p = pagealloc_mapx(2 * len, 1, PAGEALLOC_HUGE);
    CHECK(p != NULL && pagealloc_realloc(p, 2 * len, 1, len, false) == p);
    if (p == NULL)
        return;
    memset(p, 1, len);
    unsigned char *q = pagealloc_realloc(p, len, 1, 2 * len, false);
    CHECK(q == p);
    if (q == NULL) {
        pagealloc_unmap(p, len);
        return;
    }
    memset(q + len, 2, len);
    CHECK(mostly_huge(q, 2 * len));
    CHECK(q[0] == 1 && q[len - 1] == 1 && q[len] == 2);
    pagealloc_unmap(q, 2 * len);
}

static void huge_block_moved_stays_huge(void)
{
    if (skipped(__func__, why_no_growth()))
        return;
    size_t len = test_len();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    memset(p, 3, len);
    bool blocked = support_map_at(p + len, page); /* so that it must move */
    unsigned char *q = pagealloc_realloc(p, len, 1, 2 * len, true);
    CHECK(q != NULL && (q != p || !blocked));
    if (q == NULL) {
        pagealloc_unmap(p, len);
    } else {
        memset(q + len, 4, len);
        CHECK(mostly_huge(q, 2 * len));
        CHECK(q[0] == 3 && q[len - 1] == 3 && q[len] == 4);
        pagealloc_unmap(q, 2 * len);
    }
    if (blocked)
        support_unmap(p + len, page);
}

static void small_huge_block_grown_by_doubling_becomes_huge(void)
{
    if (skipped(__func__, why_no_growth()))
        return;
    size_t len = (size_t)1 << 20, to = test_len(), doublings = 0;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE);
    CHECK(p != NULL);
    for (; p != NULL && len < to; len *= 2, doublings++) {
        unsigned char *q = pagealloc_realloc(p, len, 1, 2 * len, true);
        CHECK(q != NULL);
        if (q == NULL)
            break;
        p = q;
        memset(p + len, 5, len);
    }
    if (p == NULL)
        return;
    /* The block is not at a huge-page boundary: the huge page around its
     * start and end cannot be whole, nor can the one around the old end at
     * each doubling, whose lower part was written as small pages before. */
    size_t got = huge_bytes(p, len), lost = (doublings + 2) * huge;
    CHECK(got + lost >= len);
    printf("  %zu of %zu KiB backed by huge pages after %zu doublings\n", got >> 10, len >> 10,
           doublings);
    pagealloc_unmap(p, len);
}

static void huge_populate_is_backed_by_huge_pages_before_any_write(void)
{
    if (skipped(__func__, why_no_huge_pages()))
        return;
    size_t len = test_len();
    struct pagealloc_stats s0 = pagealloc_stats();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_HUGE | PAGEALLOC_POPULATE);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(s1.advise_calls - s0.advise_calls == 1);
    CHECK(s1.populate_calls - s0.populate_calls == 1);
    CHECK(mostly_huge(p, len));
    CHECK(support_all_zero(p, len));
    pagealloc_unmap(p, len);
}

static void huge_reservation_committed_and_written_is_backed_by_huge_pages(void)
{
    if (skipped(__func__, why_no_huge_pages()))
        return;
    size_t len = test_len();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE | PAGEALLOC_HUGE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, huge));
    CHECK(pagealloc_commit(p, len));
    memset(p, 6, len);
    CHECK(mostly_huge(p, len));
    pagealloc_unmap(p, len);
}

/*
 * Once pages may vary (here: after a reservation), growth must make the new
 * pages read-write whatever the old ones are. A huge block that is one
 * read-write mapping still grows in place by extending that mapping and
 * moves with its new size, so its new part keeps the advice and fills with
 * huge pages, as before pages vary. (Before, a move opened a fresh target
 * read-write and moved the old pages onto it: the new part had no advice.)
 * Runs last: the latch stays set for the process.
 */
static void huge_block_grown_or_moved_once_pages_vary_stays_huge(void)
{
    if (skipped(__func__, why_no_growth()))
        return;
    void *r = pagealloc_mapx(page, 1, PAGEALLOC_RESERVE); /* sets the latch */
    CHECK(r != NULL);
    pagealloc_unmap(r, page);
    size_t len = test_len();
    unsigned char *p = pagealloc_mapx(2 * len, 1, PAGEALLOC_HUGE);
    CHECK(p != NULL && pagealloc_realloc(p, 2 * len, 1, len, false) == p);
    if (p == NULL)
        return;
    memset(p, 1, len);
    unsigned char *q = pagealloc_realloc(p, len, 1, 2 * len, false);
    CHECK(q == p);
    if (q != NULL) {
        memset(q + len, 2, len);
        CHECK(mostly_huge(q, 2 * len));
        p = pagealloc_realloc(q, 2 * len, 1, len, false);
        CHECK(p == q);
    }
    bool blocked = support_map_at(p + len, page);
    q = pagealloc_realloc(p, len, 1, 2 * len, true);
    CHECK(q != NULL && (q != p || !blocked));
    if (q != NULL) {
        memset(q + len, 3, len);
        CHECK(mostly_huge(q, len));
        CHECK(mostly_huge(q + len, len));
        CHECK(q[0] == 1 && q[len - 1] == 1 && q[len] == 3);
        pagealloc_unmap(q, 2 * len);
    } else {
        pagealloc_unmap(p, len);
    }
    if (blocked)
        support_unmap(p + len, page);
}

static void huge_flag_with_unknown_bits_is_einval(void)
{
    CHECK_ERRNO(pagealloc_mapx(page, 1, PAGEALLOC_HUGE | 0x100u) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(0, 1, PAGEALLOC_HUGE) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(page, 3, PAGEALLOC_HUGE) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(SIZE_MAX, 1, PAGEALLOC_HUGE) == NULL, ENOMEM);
}

int main(void)
{
    page = pagealloc_page_size();
    huge = pagealloc_huge_page_size();
    RUN(huge_page_size_is_the_kernels_when_thp_is_on);
    RUN(huge_block_starts_at_a_huge_page_boundary);
    RUN(huge_flag_keeps_a_larger_alignment);
    RUN(small_huge_block_is_advised_and_placed_as_usual);
    RUN(small_huge_block_grown_by_doubling_becomes_huge);
    RUN(huge_block_is_advised_once);
    RUN(written_huge_block_is_backed_by_huge_pages);
    RUN(ordinary_block_under_madvise_gets_no_huge_pages);
    RUN(huge_block_grown_in_place_stays_huge);
    RUN(huge_block_moved_stays_huge);
    RUN(huge_populate_is_backed_by_huge_pages_before_any_write);
    RUN(huge_reservation_committed_and_written_is_backed_by_huge_pages);
    RUN(huge_flag_with_unknown_bits_is_einval);
    RUN(huge_block_grown_or_moved_once_pages_vary_stays_huge);
    return check_done();
}
