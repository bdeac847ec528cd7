/* Windows only: what reservations and committed pages look like after each
 * operation, and both ways of reserving with a large alignment. CTest runs it
 * twice, the second time with PAGEALLOC_NO_VIRTUALALLOC2=1 (the fallback). */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <windows.h>

#include <errno.h>
#include <stdlib.h>

static size_t page, gran;

static MEMORY_BASIC_INFORMATION query(const void *p)
{
    MEMORY_BASIC_INFORMATION m = {0};
    VirtualQuery(p, &m, sizeof m);
    return m;
}

/* True when every page of [p, p + len) is in `state` (MEM_COMMIT, ...). */
static bool all_in_state(const void *p, size_t len, DWORD state)
{
    for (size_t off = 0; off < len; off += page)
        if (query((const char *)p + off).State != state)
            return false;
    return true;
}

/* The reservation (allocation base) the page at p belongs to. */
static void *reservation_of(const void *p)
{
    return query(p).AllocationBase;
}

static void shrink_decommits_the_tail_and_keeps_the_rest(void)
{
    unsigned char *p = pagealloc_map(8 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 8 * page, 1);
    struct pagealloc_stats before = pagealloc_stats();
    CHECK(pagealloc_realloc(p, 8 * page, 1, 3 * page, false) == p);
    struct pagealloc_stats after = pagealloc_stats();
    CHECK(after.advise_calls - before.advise_calls == 1);
    CHECK(after.unmap_calls == before.unmap_calls);
    CHECK(all_in_state(p, 3 * page, MEM_COMMIT));
    CHECK(all_in_state(p + 3 * page, 5 * page, MEM_RESERVE));
    CHECK(support_has_pattern(p, 3 * page, 1));
    pagealloc_unmap(p, 3 * page);
    CHECK(all_in_state(p, gran, MEM_FREE));
}

/*
 * A reservation ends where its AllocationBase changes, not where a region of
 * one state or protection does: a block with a read-only page, or with its
 * page at the new end decommitted, shrinks as any other.
 */
static void shrink_works_whatever_the_state_and_protection_of_the_pages(void)
{
    unsigned char *p = pagealloc_map(page, 1);
    CHECK(p != NULL && pagealloc_realloc(p, page, 1, 2 * gran, false) == p);
    if (p == NULL)
        return;
    support_fill(p, 2 * gran, 3);
    DWORD old;
    CHECK(VirtualProtect(p + 2 * page, page, PAGE_READONLY, &old));
    CHECK(pagealloc_realloc(p, 2 * gran, 1, page, false) == p);
    CHECK(support_has_pattern(p, page, 3) && all_in_state(p, page, MEM_COMMIT));
    CHECK(all_in_state(p + page, gran - page, MEM_RESERVE));
    CHECK(all_in_state(p + gran, gran, MEM_FREE));
    pagealloc_unmap(p, page);
    CHECK(all_in_state(p, 2 * gran, MEM_FREE));

    p = pagealloc_map(8 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 8 * page, 4);
    CHECK(VirtualFree(p + 3 * page, page, MEM_DECOMMIT));
    CHECK(pagealloc_realloc(p, 8 * page, 1, 3 * page, false) == p);
    CHECK(support_has_pattern(p, 3 * page, 4) && all_in_state(p + 3 * page, 5 * page, MEM_RESERVE));
    pagealloc_unmap(p, 3 * page);
    CHECK(all_in_state(p, gran, MEM_FREE));
}

static void grow_inside_the_reservation_is_one_commit(void)
{
    unsigned char *p = pagealloc_map(page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    p[0] = 42;
    CHECK(all_in_state(p + page, gran - page, MEM_RESERVE));
    struct pagealloc_stats before = pagealloc_stats();
    CHECK(pagealloc_realloc(p, page, 1, gran, false) == p);
    struct pagealloc_stats after = pagealloc_stats();
    CHECK(after.map_calls - before.map_calls == 1);
    CHECK(after.unmap_calls == before.unmap_calls && after.advise_calls == before.advise_calls);
    CHECK(all_in_state(p, gran, MEM_COMMIT));
    CHECK(reservation_of(p + gran - 1) == p);
    CHECK(p[0] == 42 && support_all_zero(p + page, gran - page));
    pagealloc_unmap(p, gran);
    CHECK(all_in_state(p, gran, MEM_FREE));
}

/* A one-page block with `units` free granularity units right after its
 * reservation: a block mapped above it first is freed again. */
static unsigned char *block_with_free_units_after(size_t units)
{
    unsigned char *kept[8];
    unsigned char *found = NULL;
    int n = 0;
    while (found == NULL && n < 8) {
        unsigned char *spacer = pagealloc_map(units * gran, gran);
        unsigned char *p = pagealloc_map(page, 1);
        pagealloc_unmap(spacer, units * gran);
        if (p == NULL)
            break;
        if (support_range_unmapped(p + gran, units * gran))
            found = p;
        else
            kept[n++] = p; /* held until the end, so the next try goes elsewhere */
    }
    while (n > 0)
        pagealloc_unmap(kept[--n], page);
    return found;
}

static void grow_joins_adjacent_reservations_and_unmap_releases_them_all(void)
{
    unsigned char *p = block_with_free_units_after(4);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, page, 2);
    /* Into the next unit, then two more: three reservations. */
    CHECK(pagealloc_realloc(p, page, 1, gran + page, false) == p);
    CHECK(pagealloc_realloc(p, gran + page, 1, 3 * gran + 5 * page, true) == p);
    CHECK(support_has_pattern(p, page, 2));
    CHECK(support_all_zero(p + page, 3 * gran + 4 * page));
    CHECK(all_in_state(p, 3 * gran + 5 * page, MEM_COMMIT));
    CHECK(all_in_state(p + 3 * gran + 5 * page, gran - 5 * page, MEM_RESERVE));
    CHECK(reservation_of(p + gran - 1) == p);
    CHECK(reservation_of(p + gran) == p + gran);
    CHECK(reservation_of(p + 3 * gran) != p);
    support_fill(p, 3 * gran + 5 * page, 3);
    size_t mapped = pagealloc_stats().mapped_bytes;
    pagealloc_unmap(p, 3 * gran + 5 * page);
    CHECK(pagealloc_stats().mapped_bytes == mapped - (3 * gran + 5 * page));
    CHECK(all_in_state(p, 4 * gran, MEM_FREE));
}

static void shrink_releases_whole_reservations_past_the_new_end(void)
{
    unsigned char *p = block_with_free_units_after(3);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_realloc(p, page, 1, 3 * gran + page, false) == p);
    support_fill(p, 3 * gran + page, 4);
    /* To the middle of the first reservation: the other two go entirely. */
    CHECK(pagealloc_realloc(p, 3 * gran + page, 1, 2 * page, false) == p);
    CHECK(support_has_pattern(p, 2 * page, 4));
    CHECK(all_in_state(p + 2 * page, gran - 2 * page, MEM_RESERVE));
    CHECK(all_in_state(p + gran, 3 * gran, MEM_FREE));
    /* To exactly the end of a reservation: the next one goes, nothing else. */
    CHECK(pagealloc_realloc(p, 2 * page, 1, 2 * gran, false) == p);
    CHECK(pagealloc_realloc(p, 2 * gran, 1, gran, false) == p);
    CHECK(all_in_state(p, gran, MEM_COMMIT));
    CHECK(all_in_state(p + gran, gran, MEM_FREE));
    CHECK(support_has_pattern(p, 2 * page, 4));
    pagealloc_unmap(p, gran);
    CHECK(all_in_state(p, 2 * gran, MEM_FREE));
}

static void grow_fails_when_the_next_unit_is_taken(void)
{
    unsigned char *p = block_with_free_units_after(1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_map_at(p + gran, page));
    support_fill(p, page, 5);
    size_t mapped = pagealloc_stats().mapped_bytes;
    CHECK_ERRNO(pagealloc_realloc(p, page, 1, gran + page, true) == NULL, ENOMEM);
    CHECK(pagealloc_stats().mapped_bytes == mapped);
    CHECK(all_in_state(p + page, gran - page, MEM_RESERVE));
    CHECK(support_has_pattern(p, page, 5));
    /* Inside its own reservation it still grows. */
    CHECK(pagealloc_realloc(p, page, 1, gran, false) == p);
    pagealloc_unmap(p, gran);
    support_unmap(p + gran, page);
    CHECK(all_in_state(p, 2 * gran, MEM_FREE));
}

/*
 * The reserved tail of a block's reservation may show as several regions:
 * Wine splits reserved pages by the protection they had before they were
 * decommitted. Growth in place takes all of the tail, however it shows.
 */
static void grow_in_place_uses_the_whole_reserved_tail_however_many_regions_it_shows(void)
{
    unsigned char *p = pagealloc_map(8 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 8 * page, 6);
    CHECK(pagealloc_protect(p + 3 * page, page, PAGEALLOC_READ));
    CHECK(pagealloc_protect(p + 5 * page, page, PAGEALLOC_NO_ACCESS));
    CHECK(pagealloc_realloc(p, 8 * page, 1, 2 * page, false) == p);
    CHECK(all_in_state(p + 2 * page, gran - 2 * page, MEM_RESERVE));
    if (query(p + 2 * page).RegionSize == gran - 2 * page)
        printf("     (the reserved tail shows as one region here)\n");
    CHECK(pagealloc_realloc(p, 2 * page, 1, gran, false) == p);
    CHECK(all_in_state(p, gran, MEM_COMMIT) && query(p + gran - 1).AllocationBase == p);
    CHECK(support_has_pattern(p, 2 * page, 6) && support_all_zero(p + 2 * page, gran - 2 * page));
    pagealloc_unmap(p, gran);
    CHECK(all_in_state(p, gran, MEM_FREE));
}

static bool fallback_expected(void)
{
    const char *off = getenv("PAGEALLOC_NO_VIRTUALALLOC2");
    HMODULE kernelbase = GetModuleHandleW(L"kernelbase.dll");
    return (off != NULL && off[0] != '\0' && off[0] != '0') || kernelbase == NULL ||
           GetProcAddress(kernelbase, "VirtualAlloc2") == NULL;
}

/*
 * 128 KiB to 1 GiB, with the range under the hint taken, so the library must
 * reserve anywhere: in one VirtualAlloc2 call, or (fallback) by reserving
 * more, releasing it, and reserving the aligned range inside.
 */
static void large_alignments_without_the_hint(void)
{
    bool fallback = fallback_expected();
    printf("     (aligned reservations by %s)\n", fallback ? "the fallback" : "VirtualAlloc2");
    for (unsigned shift = 17; shift <= 30; shift++) {
        size_t align = (size_t)1 << shift;
        unsigned char *top = pagealloc_map(page, 1);
        CHECK(top != NULL);
        if (top == NULL)
            return;
        /* Where the next block would go under the hint. */
        uintptr_t want = ((uintptr_t)top - 3 * page) & ~(uintptr_t)(align - 1);
        bool blocked = support_map_at((void *)want, gran);
        struct pagealloc_stats before = pagealloc_stats();
        unsigned char *p = pagealloc_map(3 * page, align);
        struct pagealloc_stats after = pagealloc_stats();
        CHECK(p != NULL && support_aligned(p, align) && p != (unsigned char *)want);
        if (p != NULL) {
            CHECK(fallback ? after.unmap_calls > before.unmap_calls
                           : after.unmap_calls == before.unmap_calls);
            CHECK(all_in_state(p, 3 * page, MEM_COMMIT));
            CHECK(all_in_state(p + 3 * page, gran - 3 * page, MEM_RESERVE));
            CHECK(reservation_of(p) == p);
            CHECK(support_all_zero(p, 3 * page));
            support_fill(p, 3 * page, shift);
            CHECK(support_has_pattern(p, 3 * page, shift));
            pagealloc_unmap(p, 3 * page);
            CHECK(all_in_state(p, gran, MEM_FREE));
        }
        if (blocked)
            support_unmap((void *)want, gran);
        pagealloc_unmap(top, page);
    }
}

/* With the hint's range free, any alignment is one exact reservation. */
static void large_alignments_under_the_hint(void)
{
    for (unsigned shift = 17; shift <= 30; shift++) {
        size_t align = (size_t)1 << shift;
        unsigned char *p = pagealloc_map(gran, align);
        CHECK(p != NULL && support_aligned(p, align));
        if (p == NULL)
            return;
        struct pagealloc_stats before = pagealloc_stats();
        unsigned char *q = pagealloc_map(gran, align);
        struct pagealloc_stats after = pagealloc_stats();
        CHECK(q != NULL && support_aligned(q, align));
        CHECK(q != NULL && q < p);
        CHECK(after.map_calls - before.map_calls == 1 && after.unmap_calls == before.unmap_calls);
        pagealloc_unmap(q, gran);
        pagealloc_unmap(p, gran);
        CHECK(all_in_state(p, gran, MEM_FREE));
        if (q != NULL)
            CHECK(all_in_state(q, gran, MEM_FREE));
    }
}

static void sizes_past_the_address_space_fail_with_ENOMEM(void)
{
    size_t huge = (size_t)1 << 62;
    CHECK_ERRNO(pagealloc_map(huge, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(page, huge) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(page, (size_t)1 << 47) == NULL, ENOMEM);
    unsigned char *p = pagealloc_map(page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK_ERRNO(pagealloc_realloc(p, page, 1, huge, true) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, page, 1, SIZE_MAX - 2 * gran + 1, true) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, page, 1, SIZE_MAX - 2 * gran + 1, false) == NULL, ENOMEM);
    CHECK(all_in_state(p + page, gran - page, MEM_RESERVE));
    pagealloc_unmap(p, page);
}

int main(void)
{
    page = pagealloc_page_size();
    gran = support_granularity();
    RUN(shrink_decommits_the_tail_and_keeps_the_rest);
    RUN(grow_inside_the_reservation_is_one_commit);
    RUN(grow_joins_adjacent_reservations_and_unmap_releases_them_all);
    RUN(shrink_releases_whole_reservations_past_the_new_end);
    RUN(shrink_works_whatever_the_state_and_protection_of_the_pages);
    RUN(grow_fails_when_the_next_unit_is_taken);
    RUN(grow_in_place_uses_the_whole_reserved_tail_however_many_regions_it_shows);
    RUN(large_alignments_under_the_hint);
    RUN(large_alignments_without_the_hint);
    RUN(sizes_past_the_address_space_fail_with_ENOMEM);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
