/* Growth in place, the only growth where pages cannot move (macOS, the BSDs,
 * PAGEALLOC_NO_MREMAP): the range after the block is mapped to it, and
 * nothing is left behind when that range is taken. */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

static size_t page;

static const size_t aligns[] = {1, (size_t)1 << 16, (size_t)1 << 21};

/* A 2-page block with `alignment` whose next two pages are free and whose
 * fifth page is taken (mapped outside the library): mapped as five pages,
 * shrunk to two, then the last page occupied. */
static unsigned char *block_before_a_gap(size_t alignment, unsigned seed)
{
    unsigned char *p = pagealloc_map(5 * page, alignment);
    if (p == NULL)
        return NULL;
    if (pagealloc_realloc(p, 5 * page, alignment, 2 * page, false) != p) {
        pagealloc_unmap(p, 5 * page);
        return NULL;
    }
    if (!support_map_at(p + 4 * page, page)) {
        pagealloc_unmap(p, 2 * page);
        return NULL;
    }
    support_fill(p, 2 * page, seed);
    return p;
}

static void release_block_before_a_gap(unsigned char *p, size_t len)
{
    pagealloc_unmap(p, len);
    support_unmap(p + 4 * page, page);
    CHECK(support_range_unmapped(p, 5 * page));
}

static void growth_into_a_partly_taken_range_fails_and_leaves_nothing_mapped(void)
{
    pagealloc_allocator a = pagealloc_page_allocator();
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        unsigned char *p = block_before_a_gap(aligns[i], (unsigned)i);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        size_t mapped = pagealloc_stats().mapped_bytes;
        size_t in_process = support_mapped_bytes();
        CHECK_ERRNO(pagealloc_realloc(p, 2 * page, aligns[i], 5 * page, false) == NULL, ENOMEM);
        CHECK_ERRNO(pagealloc_realloc(p, 2 * page, aligns[i], 8 * page, false) == NULL, ENOMEM);
        CHECK(!pagealloc_resize(a, p, 2 * page, aligns[i], 5 * page));
        CHECK(support_mapped_bytes() == in_process);
        CHECK(support_range_unmapped(p + 2 * page, 2 * page));
        CHECK(support_has_pattern(p, 2 * page, (unsigned)i));
        CHECK(pagealloc_stats().mapped_bytes == mapped);
        release_block_before_a_gap(p, 2 * page);
    }
}

static void growth_up_to_a_taken_range_succeeds_in_place(void)
{
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        unsigned char *p = block_before_a_gap(aligns[i], (unsigned)i);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK(pagealloc_realloc(p, 2 * page, aligns[i], 3 * page + 1, false) == p);
        CHECK(pagealloc_realloc(p, 3 * page + 1, aligns[i], 4 * page, false) == p);
        CHECK(support_has_pattern(p, 2 * page, (unsigned)i));
        CHECK(support_all_zero(p + 2 * page, 2 * page));
        p[4 * page - 1] = 1;
        CHECK(support_range_mapped(p, 5 * page));
        release_block_before_a_gap(p, 4 * page);
    }
}

/*
 * A block the caller split into several kernel mappings (its own madvise or
 * mlock of part of it; the pages stay committed read-write) grows in place by
 * mapping the next range, as a block of mixed page states does, whether or
 * not pages vary in the process (nothing in this file makes them vary). It
 * cannot move (a block of several mappings never does): ENOMEM, untouched.
 */
static void a_block_the_caller_split_in_two_mappings_still_grows_in_place(void)
{
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
    if (support_under_qemu()) {
        check_skip("qemu-user takes madvise advice as a no-op: the block stays one mapping");
        return;
    }
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL) {
        /* Its table of the client's mappings still sees one. */
        check_skip("valgrind's mremap refuses a range of several mappings with ENOMEM, not "
                   "the kernel's EFAULT");
        return;
    }
    unsigned char *p = block_before_a_gap(1, 9);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(madvise(p, page, MADV_NOHUGEPAGE) == 0);
    CHECK(support_mappings_in(p, 2 * page) == 2);
    bool grown = pagealloc_realloc(p, 2 * page, 1, 4 * page, false) == p;
    CHECK(grown);
    if (!grown) {
        release_block_before_a_gap(p, 2 * page);
        return;
    }
    CHECK(support_has_pattern(p, 2 * page, 9));
    CHECK(support_all_zero(p + 2 * page, 2 * page));
    CHECK_ERRNO(pagealloc_realloc(p, 4 * page, 1, 8 * page, true) == NULL, ENOMEM);
    CHECK(support_has_pattern(p, 2 * page, 9) && support_range_mapped(p, 4 * page));
    release_block_before_a_gap(p, 4 * page);
#else
    check_skip("no madvise here that splits a mapping");
#endif
}

/* Without a way to move pages, remap is growth in place or NULL (the caller
 * copies), and no mremap is ever called. */
static void without_mremap_remap_grows_in_place_or_returns_NULL(void)
{
    if (support_can_move())
        return;
    pagealloc_allocator a = pagealloc_page_allocator();
    uint64_t remaps = pagealloc_stats().remap_calls;
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        unsigned char *p = block_before_a_gap(aligns[i], (unsigned)i);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        size_t in_process = support_mapped_bytes();
        CHECK_ERRNO(pagealloc_realloc(p, 2 * page, aligns[i], 5 * page, true) == NULL, ENOMEM);
        CHECK(pagealloc_remap(a, p, 2 * page, aligns[i], 64 * page) == NULL);
        CHECK(support_mapped_bytes() == in_process);
        CHECK(support_range_unmapped(p + 2 * page, 2 * page));
        CHECK(support_has_pattern(p, 2 * page, (unsigned)i));
        CHECK(pagealloc_remap(a, p, 2 * page, aligns[i], 4 * page) == p);
        CHECK(support_has_pattern(p, 2 * page, (unsigned)i));
        CHECK(support_all_zero(p + 2 * page, 2 * page));
        release_block_before_a_gap(p, 4 * page);
    }
    CHECK(pagealloc_stats().remap_calls == remaps);
}

int main(void)
{
    page = pagealloc_page_size();
    support_mapped_bytes(); /* the first read may map stdio's buffers */
    RUN(growth_into_a_partly_taken_range_fails_and_leaves_nothing_mapped);
    RUN(growth_up_to_a_taken_range_succeeds_in_place);
    RUN(without_mremap_remap_grows_in_place_or_returns_NULL);
    RUN(a_block_the_caller_split_in_two_mappings_still_grows_in_place);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
