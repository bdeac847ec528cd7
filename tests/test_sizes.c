/* Size and alignment arithmetic at the top of size_t and of the address
 * space, where a 32-bit build (4 GiB) reaches it with ordinary requests. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>

static size_t page;

static const size_t aligns[] = {1, (size_t)1 << 20, (size_t)1 << 30};

/* With align >= page, SIZE_MAX + 1 - align is the smallest page count whose
 * size plus alignment no longer fits; one page less still fits the sums but
 * is more than any address space holds. Neither may wrap around. */
static void lengths_that_overflow_with_the_alignment_added_fail_with_ENOMEM(void)
{
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t align = aligns[i] > page ? aligns[i] : page;
        CHECK_ERRNO(pagealloc_map(SIZE_MAX - align - page + 2, aligns[i]) == NULL, ENOMEM);
        CHECK_ERRNO(pagealloc_map(SIZE_MAX - align - page + 1, aligns[i]) == NULL, ENOMEM);
        CHECK_ERRNO(pagealloc_map(SIZE_MAX - align + 1, aligns[i]) == NULL, ENOMEM);
    }
}

static void three_GiB_aligned_to_1_GiB_fails_with_ENOMEM_in_a_32_bit_process(void)
{
    if (sizeof(size_t) != 4)
        return;
    CHECK_ERRNO(pagealloc_map((size_t)3 << 30, (size_t)1 << 30) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(((size_t)3 << 30) - page, (size_t)1 << 30) == NULL, ENOMEM);
}

static void a_1_GiB_aligned_block_cannot_grow_past_the_top_of_size_t(void)
{
    size_t align = (size_t)1 << 30;
    unsigned char *p = pagealloc_map(page, align);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, align));
    support_fill(p, page, 1);
    size_t mapped = pagealloc_stats().mapped_bytes;
    const size_t lens[] = {SIZE_MAX - align - page + 2, SIZE_MAX - align + 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        CHECK_ERRNO(pagealloc_realloc(p, page, align, lens[i], true) == NULL, ENOMEM);
        CHECK_ERRNO(pagealloc_realloc(p, page, align, lens[i], false) == NULL, ENOMEM);
    }
    CHECK(support_has_pattern(p, page, 1));
    CHECK(pagealloc_stats().mapped_bytes == mapped);
    pagealloc_unmap(p, page);
    CHECK(support_range_unmapped(p, page));
}

/* The new end, ptr + new_len rounded up, would wrap around to address 0. */
static void growth_in_place_past_the_end_of_the_address_space_fails_with_ENOMEM(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 2 * page, 2);
    size_t to_end = (size_t)(UINTPTR_MAX - (uintptr_t)p) + 1;
    size_t before = support_mapped_bytes();
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, to_end, false) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, to_end - 1, false) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, 2 * page, 1, to_end + page, false) == NULL, ENOMEM);
    CHECK(support_mapped_bytes() == before);
    CHECK(support_has_pattern(p, 2 * page, 2));
    CHECK(support_range_mapped(p, 2 * page));
    pagealloc_unmap(p, 2 * page);
    CHECK(support_range_unmapped(p, 2 * page));
}

/*
 * A 32-bit process's first blocks lie just under its stack, a few hundred MiB
 * from the end of the address space; growing one past that end must move it
 * where the system can, not fail. On 64-bit systems, or without a way to
 * move, the request cannot be met and fails with ENOMEM. (Run first, while
 * blocks still go where the kernel puts them.)
 */
static void a_block_near_the_end_of_the_address_space_grows_past_it_by_moving(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 2 * page, 3);
    size_t to_end = (size_t)(UINTPTR_MAX - (uintptr_t)p) + 1;
    size_t new_len = to_end + ((size_t)64 << 20);
    bool can_move = sizeof(size_t) == 4 && support_can_move();
    errno = 0;
    unsigned char *q = pagealloc_realloc(p, 2 * page, 1, new_len, true);
    int err = errno;
    if (q != NULL) {
        CHECK(can_move && q != p);
        CHECK((uintptr_t)q <= UINTPTR_MAX - new_len);
        CHECK(support_has_pattern(q, 2 * page, 3));
        CHECK(support_range_mapped(q, new_len));
        q[new_len - 1] = 1;
        pagealloc_unmap(q, new_len);
        CHECK(support_range_unmapped(q, new_len));
    } else {
        CHECK(err == ENOMEM);
        CHECK(!can_move || to_end > (size_t)1 << 30);
        CHECK(support_has_pattern(p, 2 * page, 3));
        pagealloc_unmap(p, 2 * page);
    }
    CHECK(support_range_unmapped(p, 2 * page));
}

static void unmap_of_a_length_that_wraps_the_address_space_does_nothing(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    size_t to_end = (size_t)(UINTPTR_MAX - (uintptr_t)p) + 1;
    errno = 0;
    pagealloc_unmap(p, to_end);
    CHECK(errno == EINVAL);
    errno = 0;
    pagealloc_unmap(p, to_end + page);
    CHECK(errno == EINVAL);
    CHECK(support_range_mapped(p, 2 * page));
    p[2 * page - 1] = 1;
    pagealloc_unmap(p, 2 * page);
    CHECK(support_range_unmapped(p, 2 * page));
}

int main(void)
{
    page = pagealloc_page_size();
    support_mapped_bytes(); /* the first read may map stdio's buffers */
    RUN(a_block_near_the_end_of_the_address_space_grows_past_it_by_moving);
    RUN(lengths_that_overflow_with_the_alignment_added_fail_with_ENOMEM);
    RUN(three_GiB_aligned_to_1_GiB_fails_with_ENOMEM_in_a_32_bit_process);
    RUN(a_1_GiB_aligned_block_cannot_grow_past_the_top_of_size_t);
    RUN(growth_in_place_past_the_end_of_the_address_space_fails_with_ENOMEM);
    RUN(unmap_of_a_length_that_wraps_the_address_space_does_nothing);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
