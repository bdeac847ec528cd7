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

/* The highest mapped_bytes stays as the peak after the blocks are freed. */
static void peak_stays_after_the_blocks_are_freed(void)
{
    size_t len = 64 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    struct pagealloc_stats s0 = pagealloc_stats();
    pagealloc_unmap(p, len);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(s1.mapped_bytes == s0.mapped_bytes - len);
    CHECK(s1.peak_mapped_bytes == s0.peak_mapped_bytes);
    CHECK(s1.peak_mapped_bytes >= s0.mapped_bytes);
}

/* With a 1 GiB alignment too, the steady state is one map call and one unmap
 * call: the block goes back under the hint, aligned, with no trimming. */
static void aligned_alloc_at_1_GiB_is_one_map_call_in_the_steady_state(void)
{
    if (sizeof(void *) < 8)
        return; /* a 32-bit address space has few 1 GiB-aligned ranges */
    size_t align = (size_t)1 << 30, len = 16 * page;
    pagealloc_unmap(pagealloc_map(len, align), len);
    struct pagealloc_stats s0 = pagealloc_stats();
    const int rounds = 10;
    for (int r = 0; r < rounds; r++) {
        unsigned char *p = pagealloc_map(len, align);
        CHECK(p != NULL && support_aligned(p, align));
        if (p == NULL)
            return;
        p[0] = 1;
        pagealloc_unmap(p, len);
    }
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(s1.map_calls - s0.map_calls == (uint64_t)rounds * support_map_calls(len));
    CHECK(s1.unmap_calls - s0.unmap_calls == (uint64_t)rounds);
}

/* A small block that cannot grow in place moves with one mremap and nothing else. */
static void a_small_move_is_one_remap_call(void)
{
    if (!support_can_move())
        return;
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    /* Under the hint, the range after the block is usually taken already. */
    bool blocker = support_map_at(p + 4 * page, page);
    p[0] = 5;
    struct pagealloc_stats s0 = pagealloc_stats();
    unsigned char *q = pagealloc_realloc(p, 4 * page, 1, 8 * page, true);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(q != NULL && q[0] == 5);
    CHECK(s1.remap_calls - s0.remap_calls == 1);
    CHECK(s1.map_calls == s0.map_calls && s1.unmap_calls == s0.unmap_calls);
    CHECK(s1.mapped_bytes - s0.mapped_bytes == 4 * page);
    if (q != NULL)
        pagealloc_unmap(q, 8 * page);
    else
        pagealloc_unmap(p, 4 * page);
    if (blocker)
        support_unmap(p + 4 * page, page);
}

/*
 * A block of a page-table span or more that cannot grow in place: one mremap
 * that fails in place, one mmap reserving a target under the hint with the
 * block's alignment and offset within the span, one mremap onto it. The kernel
 * then moves whole page-table pages (about 20 times faster for 1 GiB).
 */
static void a_large_move_keeps_alignment_and_span_offset_in_three_calls(void)
{
    if (!support_can_move())
        return;
    size_t span = page * (page / sizeof(void *));
    size_t align = 16 * page;
    size_t len = span + align; /* not a whole number of spans */
    unsigned char *p = pagealloc_map(len, align);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    bool blocker = support_map_at(p + len, page);
    p[0] = 1;
    p[len - 1] = 2;
    struct pagealloc_stats s0 = pagealloc_stats();
    unsigned char *q = pagealloc_realloc(p, len, align, 2 * len, true);
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(q != NULL && q != p);
    if (q == NULL) {
        pagealloc_unmap(p, len);
    } else {
        CHECK(support_aligned(q, align));
        CHECK(((uintptr_t)q & (span - 1)) == ((uintptr_t)p & (span - 1)));
        CHECK(q[0] == 1 && q[len - 1] == 2 && q[len] == 0);
        CHECK(s1.remap_calls - s0.remap_calls == 2);
        /* qemu-user takes MAP_FIXED_NOREPLACE as a mere hint when the range is
         * taken, so the library may have to fall back to over-allocating there. */
        if (!support_under_qemu())
            CHECK(s1.map_calls - s0.map_calls == 1 && s1.unmap_calls == s0.unmap_calls);
        CHECK(s1.mapped_bytes - s0.mapped_bytes == len);
        pagealloc_unmap(q, 2 * len);
        CHECK(support_range_unmapped(q, 2 * len));
    }
    if (blocker)
        support_unmap(p + len, page);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(stats_follow_mapped_bytes_and_their_peak);
    RUN(page_aligned_alloc_and_free_are_one_system_call_each);
    RUN(shrink_and_grow_in_place_are_one_system_call_each);
    RUN(peak_stays_after_the_blocks_are_freed);
    RUN(aligned_alloc_at_1_GiB_is_one_map_call_in_the_steady_state);
    RUN(a_small_move_is_one_remap_call);
    RUN(a_large_move_keeps_alignment_and_span_offset_in_three_calls);
    struct pagealloc_stats s = pagealloc_stats();
    CHECK(s.mapped_bytes == 0);
    CHECK(s.unmap_failures == 0);
    return check_done();
}
