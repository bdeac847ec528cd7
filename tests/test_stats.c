/* pagealloc_stats: bytes mapped now and at peak, and system calls by kind. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

static size_t page;

static void stats_follow_mapped_bytes_and_their_peak(void)
{
    struct pagealloc_stats s0 = pagealloc_stats();
    unsigned char *a = pagealloc_map(3 * page - 1, 1);
    unsigned char *b = pagealloc_map(5 * page, 1);
    CHECK(a != NULL && b != NULL);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(s1.mapped_bytes == s0.mapped_bytes + 8 * page);
    CHECK(s1.peak_mapped_bytes >= s1.mapped_bytes);
    CHECK(pagealloc_realloc(b, 5 * page, 1, 2 * page, false) == b);
    struct pagealloc_stats s2 = pagealloc_stats();
    CHECK(s2.mapped_bytes == s0.mapped_bytes + 5 * page);
    CHECK(s2.peak_mapped_bytes == s1.peak_mapped_bytes);
    pagealloc_unmap(a, 3 * page - 1);
    pagealloc_unmap(b, 2 * page);
    CHECK(pagealloc_stats().mapped_bytes == s0.mapped_bytes);
}

static void page_aligned_alloc_and_free_are_one_system_call_each(void)
{
    struct pagealloc_stats s0 = pagealloc_stats();
    void *p = pagealloc_map(16 * page, 1);
    struct pagealloc_stats s1 = pagealloc_stats();
    pagealloc_unmap(p, 16 * page);
    struct pagealloc_stats s2 = pagealloc_stats();
    CHECK(p != NULL);
    CHECK(s1.map_calls - s0.map_calls == 1 && s1.unmap_calls == s0.unmap_calls);
    CHECK(s2.unmap_calls - s1.unmap_calls == 1 && s2.map_calls == s1.map_calls);
}

static void shrink_and_grow_in_place_are_one_system_call_each(void)
{
    unsigned char *p = pagealloc_map(8 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    struct pagealloc_stats s0 = pagealloc_stats();
    CHECK(pagealloc_realloc(p, 8 * page, 1, 4 * page, false) == p);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(pagealloc_realloc(p, 4 * page, 1, 8 * page, false) == p);
    struct pagealloc_stats s2 = pagealloc_stats();
    /* Advice counts too: a shrink on Windows is a decommit. */
    uint64_t calls0 = s0.map_calls + s0.unmap_calls + s0.remap_calls + s0.advise_calls;
    uint64_t calls1 = s1.map_calls + s1.unmap_calls + s1.remap_calls + s1.advise_calls;
    uint64_t calls2 = s2.map_calls + s2.unmap_calls + s2.remap_calls + s2.advise_calls;
    CHECK(calls1 - calls0 == 1);
    CHECK(calls2 - calls1 == 1);
    pagealloc_unmap(p, 8 * page);
    CHECK(support_range_unmapped(p, 8 * page));
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(stats_follow_mapped_bytes_and_their_peak);
    RUN(page_aligned_alloc_and_free_are_one_system_call_each);
    RUN(shrink_and_grow_in_place_are_one_system_call_each);
    struct pagealloc_stats s = pagealloc_stats();
    CHECK(s.mapped_bytes == 0);
    CHECK(s.unmap_failures == 0);
    return check_done();
}
