/* pagealloc_map, pagealloc_unmap and pagealloc_page_size. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>

static size_t page;

static void page_size_is_the_systems_and_a_power_of_two(void)
{
    CHECK(pagealloc_page_size() == support_page_size());
    CHECK((page & (page - 1)) == 0);
    CHECK(pagealloc_page_size() == pagealloc_page_size());
}

/*
 * A process's first block has no hint to go under, so a large alignment is
 * over-allocated and trimmed. The over-allocation (32 GiB here, more than
 * this machine's memory) must not count as memory in use: the request needs
 * one page. Must run first, while the hint is still unset.
 */
static void a_first_map_with_a_32_GiB_alignment_needs_no_more_than_its_page(void)
{
    CHECK(pagealloc_stats().map_calls == 0);
    if (sizeof(size_t) < 8)
        return; /* a 32-bit address space has no 32 GiB-aligned room to spare */
    size_t align = (size_t)1 << 35;
    unsigned char *p = pagealloc_map(page, align);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, align) && support_all_zero(p, page));
    p[0] = p[page - 1] = 1;
    pagealloc_unmap(p, page);
    CHECK(support_range_unmapped(p, page));
}

/* Sizes from one byte to 1 GiB: zeroed, writable, page-aligned, and gone
 * from the address space after unmap. */
static void map_returns_zeroed_writable_pages_from_1_byte_to_1_GiB(void)
{
    const size_t sizes[] = {1, 100, page - 1, page, page + 1, 3 * page, 65536 + 1, 1u << 20,
                            (64u << 20) + 7, (size_t)1 << 30};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        size_t rounded = (len + page - 1) / page * page;
        unsigned char *p = pagealloc_map(len, 1);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK(support_aligned(p, page));
        CHECK(support_range_mapped(p, rounded));
        /* One byte per page is enough to see zero-fill without touching 1 GiB. */
        size_t step = rounded > (64u << 20) ? rounded / 64 : page;
        for (size_t off = 0; off < rounded; off += step)
            CHECK(p[off] == 0);
        CHECK(p[rounded - 1] == 0);
        p[0] = 1;
        p[len - 1] = 2;
        p[rounded - 1] = 3;
        CHECK(p[0] == (len == 1 ? 2 : 1));
        pagealloc_unmap(p, len);
        CHECK(support_range_unmapped(p, rounded));
    }
}

static void map_aligns_to_every_power_of_two_up_to_1_GiB(void)
{
    for (unsigned shift = 0; shift <= 30; shift++) {
        size_t align = (size_t)1 << shift;
        size_t len = 3 * page + 1;
        unsigned char *p = pagealloc_map(len, align);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK(support_aligned(p, align > page ? align : page));
        CHECK(support_range_mapped(p, 4 * page));
        support_fill(p, len, shift);
        CHECK(support_has_pattern(p, len, shift));
        pagealloc_unmap(p, len);
        CHECK(support_range_unmapped(p, 4 * page));
    }
}

/* Over-allocating for alignment must not leave the trimmed ends mapped. */
static void aligned_map_leaves_nothing_around_the_block(void)
{
    size_t align = (size_t)1 << 21;
    unsigned char *p = pagealloc_map(page, align);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, align));
    unsigned char *q = pagealloc_map(page, align);
    CHECK(q != NULL && support_aligned(q, align));
    pagealloc_unmap(p, page);
    pagealloc_unmap(q, page);
    CHECK(support_range_unmapped(p - align + page, 2 * align - page));
    if (q != NULL)
        CHECK(support_range_unmapped(q - align + page, 2 * align - page));
}

static void map_rejects_zero_length_with_EINVAL(void)
{
    CHECK_ERRNO(pagealloc_map(0, 1) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_map(0, page) == NULL, EINVAL);
}

static void map_rejects_alignments_that_are_not_powers_of_two_with_EINVAL(void)
{
    const size_t bad[] = {0, 3, 6, page + 1, 3 * page, SIZE_MAX, SIZE_MAX / 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERRNO(pagealloc_map(page, bad[i]) == NULL, EINVAL);
}

static void map_fails_with_ENOMEM_when_sizes_overflow_or_cannot_fit(void)
{
    size_t top_bit = SIZE_MAX / 2 + 1;
    CHECK_ERRNO(pagealloc_map(SIZE_MAX, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(SIZE_MAX - page + 2, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(top_bit, top_bit) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(SIZE_MAX - page, page * 2) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(SIZE_MAX - 2 * page + 1, 1) == NULL, ENOMEM);
    /* Half of size_t's range as alignment fits only in a 32-bit process on a
     * 64-bit kernel, which gets all 4 GiB of addresses. */
    errno = 0;
    void *p = pagealloc_map(page, top_bit);
    if (p != NULL) {
        CHECK(sizeof(size_t) == 4 && support_aligned(p, top_bit));
        pagealloc_unmap(p, page);
    } else {
        CHECK(errno == ENOMEM);
    }
}

static void unmap_accepts_any_length_with_the_same_page_count(void)
{
    unsigned char *p = pagealloc_map(3 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    pagealloc_unmap(p, 2 * page + 1);
    CHECK(support_range_unmapped(p, 3 * page));
}

static void unmap_of_null_does_nothing(void)
{
    struct pagealloc_stats before = pagealloc_stats();
    errno = 0;
    pagealloc_unmap(NULL, page);
    pagealloc_unmap(NULL, 0);
    CHECK(errno == 0);
    struct pagealloc_stats after = pagealloc_stats();
    CHECK(after.unmap_calls == before.unmap_calls);
}

static void unmap_rejects_a_misaligned_pointer_or_zero_length_with_EINVAL(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    errno = 0;
    pagealloc_unmap(p + 1, page);
    CHECK(errno == EINVAL);
    errno = 0;
    pagealloc_unmap(p, 0);
    CHECK(errno == EINVAL);
    errno = 0;
    pagealloc_unmap(p, SIZE_MAX);
    CHECK(errno == EINVAL);
    CHECK(support_range_mapped(p, 2 * page));
    p[2 * page - 1] = 1;
    pagealloc_unmap(p, 2 * page);
    CHECK(support_range_unmapped(p, 2 * page));
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(a_first_map_with_a_32_GiB_alignment_needs_no_more_than_its_page);
    RUN(page_size_is_the_systems_and_a_power_of_two);
    RUN(map_returns_zeroed_writable_pages_from_1_byte_to_1_GiB);
    RUN(map_aligns_to_every_power_of_two_up_to_1_GiB);
    RUN(aligned_map_leaves_nothing_around_the_block);
    RUN(map_rejects_zero_length_with_EINVAL);
    RUN(map_rejects_alignments_that_are_not_powers_of_two_with_EINVAL);
    RUN(map_fails_with_ENOMEM_when_sizes_overflow_or_cannot_fit);
    RUN(unmap_accepts_any_length_with_the_same_page_count);
    RUN(unmap_of_null_does_nothing);
    RUN(unmap_rejects_a_misaligned_pointer_or_zero_length_with_EINVAL);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
