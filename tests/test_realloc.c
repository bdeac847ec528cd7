/* pagealloc_realloc: shrink, grow in place, move without copying, errors. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>

static size_t page;
/* The unit address space is reserved in: page size, or 64 KiB on Windows. */
static size_t unit;

static void same_page_count_returns_the_block_without_a_system_call(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    struct pagealloc_stats before = pagealloc_stats();
    CHECK(pagealloc_realloc(p, 2 * page, 1, 2 * page - 100, false) == p);
    CHECK(pagealloc_realloc(p, 2 * page - 100, 1, page + 1, true) == p);
    struct pagealloc_stats after = pagealloc_stats();
    CHECK(after.map_calls == before.map_calls && after.unmap_calls == before.unmap_calls &&
          after.remap_calls == before.remap_calls);
    pagealloc_unmap(p, 2 * page);
    CHECK(support_range_unmapped(p, 2 * page));
}

static void shrink_keeps_the_address_and_gives_the_tail_back(void)
{
    unsigned char *p = pagealloc_map(8 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 8 * page, 1);
    size_t mapped = pagealloc_stats().mapped_bytes;
    CHECK(pagealloc_realloc(p, 8 * page, 1, 3 * page - 5, false) == p);
    CHECK(support_has_pattern(p, 3 * page - 5, 1));
    CHECK(support_range_mapped(p, 3 * page));
    /* Windows keeps the tail reserved (decommitted) until the block goes. */
    CHECK(support_range_given_back(p + 3 * page, 5 * page));
    CHECK(pagealloc_stats().mapped_bytes == mapped - 5 * page);
    pagealloc_unmap(p, 3 * page);
    CHECK(support_range_unmapped(p, 8 * page));
}

static void grow_in_place_when_the_next_range_is_free(void)
{
    /* Shrinking first frees exactly the range the block then grows into. */
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_realloc(p, 4 * page, 1, 2 * page, false) == p);
    support_fill(p, 2 * page, 2);
    CHECK(pagealloc_realloc(p, 2 * page, 1, 4 * page, false) == p);
    CHECK(support_has_pattern(p, 2 * page, 2));
    CHECK(support_all_zero(p + 2 * page, 2 * page));
    p[4 * page - 1] = 1;
    CHECK(support_range_mapped(p, 4 * page));
    pagealloc_unmap(p, 4 * page);
    CHECK(support_range_unmapped(p, 4 * page));
}

/* Maps a block of two reservation units (two pages but on Windows) with
 * `align` and occupies the range right after it. */
static unsigned char *block_with_taken_neighbour(size_t align, unsigned seed)
{
    /* Where a shrink gives the tail back (POSIX), the range it frees is free
     * for certain; a block placed under the hint seldom has a free one after
     * it, and under qemu-user it may lie next to qemu's own mappings. */
    unsigned char *shrunk = pagealloc_map(3 * unit, align);
    if (shrunk != NULL && pagealloc_realloc(shrunk, 3 * unit, align, 2 * unit, false) == shrunk) {
        if (support_map_at(shrunk + 2 * unit, page)) {
            support_fill(shrunk, 2 * unit, seed);
            return shrunk;
        }
        pagealloc_unmap(shrunk, 2 * unit);
    } else if (shrunk != NULL) {
        pagealloc_unmap(shrunk, 3 * unit);
    }
    /* A rejected block stays mapped until the end, so that the next try does
     * not get the same hole again (under ASan the holes are few). */
    unsigned char *rejected[8];
    unsigned char *found = NULL;
    int tries = 0;
    for (; tries < 8 && found == NULL; tries++) {
        unsigned char *p = pagealloc_map(2 * unit, align);
        rejected[tries] = p;
        if (p == NULL)
            break;
        if (support_map_at(p + 2 * unit, page)) {
            support_fill(p, 2 * unit, seed);
            found = p;
            rejected[tries] = NULL;
        }
    }
    for (int i = 0; i < tries; i++)
        pagealloc_unmap(rejected[i], 2 * unit);
    return found;
}

static void grow_in_place_fails_cleanly_when_the_next_range_is_taken(void)
{
    unsigned char *p = block_with_taken_neighbour(1, 3);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    size_t mapped = pagealloc_stats().mapped_bytes;
    CHECK_ERRNO(pagealloc_realloc(p, 2 * unit, 1, 6 * unit, false) == NULL, ENOMEM);
    CHECK(support_has_pattern(p, 2 * unit, 3));
    CHECK(support_range_mapped(p, 2 * unit + page));
    CHECK(pagealloc_stats().mapped_bytes == mapped);
    pagealloc_allocator a = pagealloc_page_allocator();
    CHECK(!pagealloc_resize(a, p, 2 * unit, 1, 6 * unit));
    CHECK(support_has_pattern(p, 2 * unit, 3));
    pagealloc_unmap(p, 2 * unit);
    support_unmap(p + 2 * unit, page);
    CHECK(support_range_unmapped(p, 2 * unit + page));
}

/* Where the system can move pages, remap moves the block and keeps its bytes
 * and its alignment; elsewhere it returns NULL and the block stays. */
static void remap_moves_without_copying_and_keeps_the_alignment(void)
{
    const size_t aligns[] = {1, 65536, (size_t)1 << 21, (size_t)1 << 26, (size_t)1 << 30};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t align = aligns[i] > page ? aligns[i] : page;
        unsigned char *p = block_with_taken_neighbour(aligns[i], (unsigned)i);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        unsigned char *q = pagealloc_realloc(p, 2 * unit, aligns[i], 40 * unit, true);
        if (support_can_move()) {
            CHECK(q != NULL && q != p);
            if (q == NULL)
                q = p;
            CHECK(support_aligned(q, align));
            CHECK(support_has_pattern(q, 2 * unit, (unsigned)i));
            CHECK(support_all_zero(q + 2 * unit, 38 * unit));
            CHECK(support_range_unmapped(p, 2 * unit));
            CHECK(support_range_mapped(p + 2 * unit, page));
            pagealloc_unmap(q, 40 * unit);
            CHECK(support_range_unmapped(q, 40 * unit));
        } else {
            CHECK(q == NULL);
            CHECK(support_has_pattern(p, 2 * unit, (unsigned)i));
            pagealloc_unmap(p, 2 * unit);
            CHECK(support_range_unmapped(p, 2 * unit));
        }
        support_unmap(p + 2 * unit, page);
    }
}

/* A large block moves to the same offset within a page-table span, so the
 * kernel can move whole page-table pages instead of single entries. */
static void remap_of_a_large_block_keeps_its_offset_in_the_page_table_span(void)
{
    if (!support_can_move())
        return;
    size_t span = page * (page / sizeof(void *));
    size_t len = 2 * span;
    for (int tries = 0; tries < 8; tries++) {
        unsigned char *p = pagealloc_map(len, 1);
        CHECK(p != NULL);
        if (p == NULL)
            return;
        if (!support_map_at(p + len, page)) {
            pagealloc_unmap(p, len);
            continue;
        }
        p[0] = 7;
        p[len - 1] = 9;
        unsigned char *q = pagealloc_realloc(p, len, 1, 2 * len, true);
        CHECK(q != NULL && q != p);
        if (q != NULL) {
            CHECK(((uintptr_t)q & (span - 1)) == ((uintptr_t)p & (span - 1)));
            CHECK(q[0] == 7 && q[len - 1] == 9 && q[len] == 0);
            pagealloc_unmap(q, 2 * len);
            CHECK(support_range_unmapped(q, 2 * len));
        }
        support_unmap(p + len, page);
        return;
    }
    /* No free range after a large block in 8 tries. */
    CHECK(false);
}

static void remap_grows_in_place_when_it_can(void)
{
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_realloc(p, 4 * page, 1, page, true) == p);
    unsigned char *q = pagealloc_realloc(p, page, 1, 4 * page, true);
    /* qemu-user's mremap moves the block even when it could grow in place. */
    CHECK(q == p || (support_under_qemu() && q != NULL));
    if (q == NULL)
        q = p;
    pagealloc_unmap(q, 4 * page);
    CHECK(support_range_unmapped(q, 4 * page));
}

static void contents_survive_shrink_then_grow_back(void)
{
    unsigned char *p = pagealloc_map(16 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 16 * page, 4);
    size_t len = 16 * page, valid = len;
    const size_t steps[] = {10 * page + 3, 2 * page, 12 * page, page, 64 * page};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t old_rounded = (len + page - 1) / page * page;
        unsigned char *q = pagealloc_realloc(p, len, 1, steps[i], true);
        CHECK(q != NULL);
        if (q == NULL)
            break;
        valid = valid < steps[i] ? valid : steps[i];
        CHECK(support_has_pattern(q, valid, 4));
        if (steps[i] > old_rounded)
            CHECK(support_all_zero(q + old_rounded, steps[i] - old_rounded));
        p = q;
        len = steps[i];
    }
    size_t rounded = (len + page - 1) / page * page;
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, rounded));
}

static void realloc_rejects_bad_arguments_with_EINVAL(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 2 * page, 5);
    CHECK_ERRNO(pagealloc_realloc(NULL, page, 1, 2 * page, true) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(p, 0, 1, 2 * page, true) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, 0, true) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 3, page, true) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 0, page, false) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(p + 1, 2 * page, 1, page, false) == NULL, EINVAL);
    unsigned char *misaligned = support_aligned(p, 2 * page) ? p + page : p;
    CHECK_ERRNO(pagealloc_realloc(misaligned, page, 2 * page, 2 * page, false) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(p, SIZE_MAX, 1, page, false) == NULL, EINVAL);
    CHECK(support_has_pattern(p, 2 * page, 5));
    CHECK(support_range_mapped(p, 2 * page));
    pagealloc_unmap(p, 2 * page);
}

static void realloc_fails_with_ENOMEM_and_keeps_the_block_when_new_len_overflows(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 2 * page, 6);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, SIZE_MAX, true) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, SIZE_MAX - page, false) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, SIZE_MAX - 2 * page + 1, true) == NULL, ENOMEM);
    CHECK(support_has_pattern(p, 2 * page, 6));
    CHECK(support_range_mapped(p, 2 * page));
    pagealloc_unmap(p, 2 * page);
    CHECK(support_range_unmapped(p, 2 * page));
}

int main(void)
{
    page = pagealloc_page_size();
    unit = support_granularity();
    RUN(same_page_count_returns_the_block_without_a_system_call);
    RUN(shrink_keeps_the_address_and_gives_the_tail_back);
    RUN(grow_in_place_when_the_next_range_is_free);
    RUN(grow_in_place_fails_cleanly_when_the_next_range_is_taken);
    RUN(remap_moves_without_copying_and_keeps_the_alignment);
    RUN(remap_of_a_large_block_keeps_its_offset_in_the_page_table_span);
    RUN(remap_grows_in_place_when_it_can);
    RUN(contents_survive_shrink_then_grow_back);
    RUN(realloc_rejects_bad_arguments_with_EINVAL);
    RUN(realloc_fails_with_ENOMEM_and_keeps_the_block_when_new_len_overflows);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
