/*
 * The bad-input table of docs/reliability.md (Errors), row by row: each kind
 * of bad call and what it returns. A block held by the caller throughout must come out untouched.
 */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>


static size_t page;
static unsigned char *held; /* a 2-page block every row must leave alone */

static void held_block_is_untouched(void)
{
    CHECK(support_range_mapped(held, 2 * page));
    CHECK(support_has_pattern(held, 2 * page, 77));
}

static void zero_length_is_EINVAL(void)
{
    pagealloc_allocator a = pagealloc_page_allocator();
    CHECK_ERRNO(pagealloc_map(0, 1) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_alloc(a, 0, page) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(held, 0, 1, page, true) == NULL, EINVAL);
    errno = 0;
    pagealloc_unmap(held, 0);
    CHECK(errno == EINVAL);
    held_block_is_untouched();
}

static void new_len_zero_is_EINVAL_and_keeps_the_block(void)
{
    pagealloc_allocator a = pagealloc_page_allocator();
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, 0, false) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, 0, true) == NULL, EINVAL);
    CHECK_ERRNO(!pagealloc_resize(a, held, 2 * page, 1, 0), EINVAL);
    CHECK_ERRNO(pagealloc_remap(a, held, 2 * page, 1, 0) == NULL, EINVAL);
    held_block_is_untouched();
}

static void alignment_not_a_power_of_two_is_EINVAL(void)
{
    const size_t bad[] = {0, 3, 12, page + 1, 3 * page, SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 2 + 2};
    pagealloc_allocator a = pagealloc_page_allocator();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERRNO(pagealloc_map(page, bad[i]) == NULL, EINVAL);
        CHECK_ERRNO(pagealloc_alloc(a, page, bad[i]) == NULL, EINVAL);
        CHECK_ERRNO(pagealloc_realloc(held, 2 * page, bad[i], page, true) == NULL, EINVAL);
        CHECK_ERRNO(pagealloc_remap(a, held, 2 * page, bad[i], 4 * page) == NULL, EINVAL);
    }
    held_block_is_untouched();
}

static void length_overflowing_when_rounded_to_pages_is_ENOMEM(void)
{
    CHECK_ERRNO(pagealloc_map(SIZE_MAX, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(SIZE_MAX - page + 2, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, SIZE_MAX, true) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, SIZE_MAX - page + 2, false) == NULL, ENOMEM);
    held_block_is_untouched();
}

static void length_overflowing_when_the_alignment_is_added_is_ENOMEM(void)
{
    size_t top_bit = SIZE_MAX / 2 + 1;
    CHECK_ERRNO(pagealloc_map(SIZE_MAX - page, 2 * page) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(top_bit, top_bit) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(SIZE_MAX - 2 * page + 1, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, SIZE_MAX - 2 * page + 1, true) == NULL,
                ENOMEM);
    held_block_is_untouched();
}

/* Lengths that fit size_t but not the address space: the system says no. */
static void length_larger_than_the_address_space_is_ENOMEM(void)
{
    size_t huge = SIZE_MAX - 16 * page;
    CHECK_ERRNO(pagealloc_map(huge, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, huge, true) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(held, 2 * page, 1, huge, false) == NULL, ENOMEM);
    held_block_is_untouched();
}

/* Half of size_t's range as alignment: only a 32-bit process on a 64-bit
 * kernel has the room. Any alignment that fits works. */
static void huge_alignment_is_ENOMEM_unless_it_fits(void)
{
    size_t top_bit = SIZE_MAX / 2 + 1;
    errno = 0;
    unsigned char *p = pagealloc_map(page, top_bit);
    if (p != NULL) {
        CHECK(sizeof(size_t) == 4 && support_aligned(p, top_bit));
        pagealloc_unmap(p, page);
    } else {
        CHECK(errno == ENOMEM);
    }
    if (SUPPORT_UNDER_TSAN) {
        /* TSan's mmap turns a MAP_FIXED_NOREPLACE address outside its own
         * ranges (a 1 TiB multiple can be) into address 0 and keeps the flag:
         * run as root the kernel maps page 0 and TSan aborts, now and then. */
        check_skip("the 1 TiB alignment, under TSan");
        held_block_is_untouched();
        return;
    }
    size_t big = sizeof(size_t) == 4 ? (size_t)1 << 30 : (size_t)1 << 40;
    errno = 0;
    p = pagealloc_map(page, big);
    CHECK(p != NULL || errno == ENOMEM);
    if (p != NULL) {
        CHECK(support_aligned(p, big));
        pagealloc_unmap(p, page);
    }
    held_block_is_untouched();
}

static void null_pointer_is_EINVAL_for_realloc_and_nothing_for_unmap(void)
{
    pagealloc_allocator a = pagealloc_page_allocator();
    CHECK_ERRNO(pagealloc_realloc(NULL, page, 1, 2 * page, true) == NULL, EINVAL);
    CHECK_ERRNO(!pagealloc_resize(a, NULL, page, 1, 2 * page), EINVAL);
    CHECK_ERRNO(pagealloc_remap(a, NULL, page, 1, 2 * page) == NULL, EINVAL);
    uint64_t calls = pagealloc_stats().unmap_calls;
    errno = 0;
    pagealloc_unmap(NULL, page);
    pagealloc_free(a, NULL, 0, 3);
    CHECK(errno == 0);
    CHECK(pagealloc_stats().unmap_calls == calls);
    held_block_is_untouched();
}

static void misaligned_pointer_is_EINVAL(void)
{
    CHECK_ERRNO(pagealloc_realloc(held + 1, 2 * page - 1, 1, page, false) == NULL, EINVAL);
    unsigned char *off = support_aligned(held, 2 * page) ? held + page : held;
    CHECK_ERRNO(pagealloc_realloc(off, page, 2 * page, 2 * page, true) == NULL, EINVAL);
    errno = 0;
    pagealloc_unmap(held + 1, page);
    CHECK(errno == EINVAL);
    held_block_is_untouched();
}

/* An old length no block can have (its end would pass the address space). */
static void impossible_old_length_is_EINVAL(void)
{
    CHECK_ERRNO(pagealloc_realloc(held, SIZE_MAX, 1, page, false) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_realloc(held, SIZE_MAX - page, 1, page, true) == NULL, EINVAL);
    errno = 0;
    pagealloc_unmap(held, SIZE_MAX);
    CHECK(errno == EINVAL);
    held_block_is_untouched();
}

/* ---- Reservations and page states --------------------------------------- */

/* The held block is still read-write: a bad call changed no access. */
static void held_block_is_still_read_write(void)
{
    held_block_is_untouched();
    CHECK(!support_write_faults(held) && !support_write_faults(held + page));
    held[0] = support_pattern(0, 77);
    held[page] = support_pattern(page, 77);
}

static uint64_t calls_made(void)
{
    struct pagealloc_stats s = pagealloc_stats();
    return s.map_calls + s.unmap_calls + s.advise_calls + s.protect_calls + s.query_calls;
}

static void mapx_unknown_flag_is_EINVAL(void)
{
    const unsigned bad[] = {0x8u, 0x100u, 0x80000000u, ~0u};
    uint64_t calls = calls_made();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERRNO(pagealloc_mapx(page, 1, bad[i]) == NULL, EINVAL);
        CHECK_ERRNO(pagealloc_mapx(page, 1, bad[i] | PAGEALLOC_RESERVE) == NULL, EINVAL);
    }
    CHECK(calls_made() == calls);
}

static void mapx_bad_length_or_alignment_fails_as_map_does(void)
{
    CHECK_ERRNO(pagealloc_mapx(0, 1, PAGEALLOC_RESERVE) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(page, 3, PAGEALLOC_RESERVE) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_mapx(SIZE_MAX, 1, PAGEALLOC_RESERVE) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_mapx(SIZE_MAX - 2 * page + 1, 1, PAGEALLOC_RESERVE) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_mapx(SIZE_MAX - 16 * page, 1, PAGEALLOC_RESERVE) == NULL, ENOMEM);
    held_block_is_untouched();
}

/* NULL, unaligned, zero-length and overflowing ranges, for commit, decommit
 * and protect: EINVAL, no system call, nothing changed. */
static void bad_range_for_commit_decommit_protect_is_EINVAL(void)
{
    struct {
        void *p;
        size_t len;
    } bad[] = {{NULL, page}, {held + 1, page}, {held + page - 1, 1}, {held, 0},
               {held, SIZE_MAX}, {held, SIZE_MAX - page + 2}, {held + page, SIZE_MAX - page}};
    uint64_t calls = calls_made();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERRNO(!pagealloc_commit(bad[i].p, bad[i].len), EINVAL);
        CHECK_ERRNO(!pagealloc_decommit(bad[i].p, bad[i].len), EINVAL);
        CHECK_ERRNO(!pagealloc_protect(bad[i].p, bad[i].len, PAGEALLOC_READ), EINVAL);
        CHECK_ERRNO(!pagealloc_protect(bad[i].p, bad[i].len, PAGEALLOC_NO_ACCESS), EINVAL);
    }
    CHECK(calls_made() == calls);
    held_block_is_still_read_write();
}

/* WRITE or EXEC without READ, and unknown bits: EINVAL, nothing changed. */
static void protect_with_bad_access_is_EINVAL(void)
{
    const unsigned bad[] = {PAGEALLOC_WRITE, PAGEALLOC_EXEC, PAGEALLOC_WRITE | PAGEALLOC_EXEC,
                            0x8u, PAGEALLOC_READ | 0x8u, PAGEALLOC_READ | 0x80000000u, ~0u};
    uint64_t calls = calls_made();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERRNO(!pagealloc_protect(held, 2 * page, bad[i]), EINVAL);
        CHECK_ERRNO(!pagealloc_protect(NULL, 0, bad[i]), EINVAL);
    }
    CHECK(calls_made() == calls);
    held_block_is_still_read_write();
}

int main(void)
{
    page = pagealloc_page_size();
    held = pagealloc_map(2 * page, 1);
    CHECK(held != NULL);
    if (held == NULL)
        return check_done();
    support_fill(held, 2 * page, 77);
    RUN(zero_length_is_EINVAL);
    RUN(new_len_zero_is_EINVAL_and_keeps_the_block);
    RUN(alignment_not_a_power_of_two_is_EINVAL);
    RUN(length_overflowing_when_rounded_to_pages_is_ENOMEM);
    RUN(length_overflowing_when_the_alignment_is_added_is_ENOMEM);
    RUN(length_larger_than_the_address_space_is_ENOMEM);
    RUN(huge_alignment_is_ENOMEM_unless_it_fits);
    RUN(null_pointer_is_EINVAL_for_realloc_and_nothing_for_unmap);
    RUN(misaligned_pointer_is_EINVAL);
    RUN(impossible_old_length_is_EINVAL);
    RUN(mapx_unknown_flag_is_EINVAL);
    RUN(mapx_bad_length_or_alignment_fails_as_map_does);
    RUN(bad_range_for_commit_decommit_protect_is_EINVAL);
    RUN(protect_with_bad_access_is_EINVAL);
    pagealloc_unmap(held, 2 * page);
    CHECK(support_range_unmapped(held, 2 * page));
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
