/* Windows only: the page states of reservations as VirtualQuery reports
 * them, and commit, decommit and protect across the several reservations of
 * a block that grew past its first one. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <windows.h>

#include <errno.h>
#include <stdio.h>

static size_t page, gran;

static MEMORY_BASIC_INFORMATION query(const void *p)
{
    MEMORY_BASIC_INFORMATION m = {0};
    VirtualQuery(p, &m, sizeof m);
    return m;
}

/* Every page of [p, p + len) is in `state`, and committed ones have
 * `protect` (0: any). */
static bool all_in(const void *p, size_t len, DWORD state, DWORD protect)
{
    for (size_t off = 0; off < len; off += page) {
        MEMORY_BASIC_INFORMATION m = query((const char *)p + off);
        if (m.State != state || (protect != 0 && m.Protect != protect))
            return false;
    }
    return true;
}

static void a_reservation_is_reserved_only_until_committed(void)
{
    size_t len = 3 * gran + page;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(all_in(p, 4 * gran, MEM_RESERVE, 0));
    CHECK(query(p + len).AllocationBase == p);
    CHECK(pagealloc_commit(p + gran, gran));
    CHECK(all_in(p, gran, MEM_RESERVE, 0));
    CHECK(all_in(p + gran, gran, MEM_COMMIT, PAGE_READWRITE));
    CHECK(all_in(p + 2 * gran, 2 * gran, MEM_RESERVE, 0));
    CHECK(pagealloc_decommit(p + gran, gran));
    CHECK(all_in(p, 4 * gran, MEM_RESERVE, 0));
    pagealloc_unmap(p, len);
    CHECK(all_in(p, 4 * gran, MEM_FREE, 0));
}

static void protect_sets_the_page_protection(void)
{
    const struct {
        unsigned access;
        DWORD protect;
    } rows[] = {{PAGEALLOC_NO_ACCESS, PAGE_NOACCESS},
                {PAGEALLOC_READ, PAGE_READONLY},
                {PAGEALLOC_READ | PAGEALLOC_EXEC, PAGE_EXECUTE_READ},
                {PAGEALLOC_READ | PAGEALLOC_WRITE | PAGEALLOC_EXEC, PAGE_EXECUTE_READWRITE},
                {PAGEALLOC_READ | PAGEALLOC_WRITE, PAGE_READWRITE}};
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK(pagealloc_protect(p + page, 2 * page, rows[i].access));
        CHECK(all_in(p + page, 2 * page, MEM_COMMIT, rows[i].protect));
        CHECK(all_in(p, page, MEM_COMMIT, PAGE_READWRITE));
        CHECK(all_in(p + 3 * page, page, MEM_COMMIT, PAGE_READWRITE));
    }
    pagealloc_unmap(p, 4 * page);
}

/* A one-page block grown over three reservations (its first, then two
 * adjacent ones joined), or NULL when the units after it were taken. */
static unsigned char *block_over_three_reservations(size_t *len)
{
    for (int tries = 0; tries < 8; tries++) {
        unsigned char *spacer = pagealloc_map(4 * gran, gran);
        unsigned char *p = pagealloc_map(page, 1);
        pagealloc_unmap(spacer, 4 * gran);
        if (p == NULL)
            return NULL;
        *len = 2 * gran + 5 * page;
        if (pagealloc_realloc(p, page, 1, *len, false) == p &&
            query(p + 2 * gran).AllocationBase != p)
            return p;
        pagealloc_unmap(p, page);
    }
    return NULL;
}

static void commit_decommit_protect_work_across_the_reservations_of_a_grown_block(void)
{
    size_t len;
    unsigned char *p = block_over_three_reservations(&len);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    /* Two pages before the first join to two pages past the second. */
    unsigned char *r = p + gran - 2 * page;
    size_t rlen = gran + 4 * page;
    support_fill(p, len, 8);
    CHECK(pagealloc_decommit(r, rlen));
    CHECK(all_in(r, rlen, MEM_RESERVE, 0));
    CHECK(all_in(p, gran - 2 * page, MEM_COMMIT, PAGE_READWRITE));
    CHECK(support_has_pattern(p, gran - 2 * page, 8));
    CHECK(all_in(r + rlen, len - (size_t)(r + rlen - p), MEM_COMMIT, PAGE_READWRITE));

    /* A range with reserved pages cannot be protected: nothing changes. */
    CHECK_ERRNO(!pagealloc_protect(p, len, PAGEALLOC_READ), EINVAL);
    CHECK(all_in(p, gran - 2 * page, MEM_COMMIT, PAGE_READWRITE));
    CHECK(all_in(r, rlen, MEM_RESERVE, 0));

    CHECK(pagealloc_commit(r, rlen));
    CHECK(all_in(r, rlen, MEM_COMMIT, PAGE_READWRITE));
    CHECK(support_all_zero(r, rlen));
    CHECK(pagealloc_protect(r, rlen, PAGEALLOC_READ));
    CHECK(all_in(r, rlen, MEM_COMMIT, PAGE_READONLY));
    CHECK(all_in(p, gran - 2 * page, MEM_COMMIT, PAGE_READWRITE));
    CHECK(pagealloc_protect(p, len, PAGEALLOC_READ | PAGEALLOC_WRITE));
    CHECK(all_in(p, len, MEM_COMMIT, PAGE_READWRITE));
    size_t mapped = pagealloc_stats().mapped_bytes;
    pagealloc_unmap(p, len);
    CHECK(pagealloc_stats().mapped_bytes == mapped - len);
    CHECK(all_in(p, 3 * gran, MEM_FREE, 0));
}

/* Each page's state and protection in [p, p + n pages), into out. */
static void states(const unsigned char *p, size_t n, unsigned long long *out)
{
    for (size_t i = 0; i < n; i++) {
        MEMORY_BASIC_INFORMATION m = query(p + i * page);
        out[i] = (unsigned long long)m.State << 32 | (m.State == MEM_COMMIT ? m.Protect : 0);
    }
}

/*
 * What the whole-range calls and the failure-injection model (src/fault.c: a
 * refused call changes nothing) rest on: the system refuses a decommit, a
 * commit or a protection over two reservations without changing either.
 */
static void the_system_refuses_a_call_over_two_reservations_and_changes_neither(void)
{
    enum { PAGES = 4 };
    size_t len;
    unsigned char *p = block_over_three_reservations(&len);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, len, 11);
    /* Two pages each side of the first join, the outer ones reserved. */
    unsigned char *r = p + gran - 2 * page;
    CHECK(pagealloc_decommit(r, page) && pagealloc_decommit(p + gran + page, page));
    support_fill(r + page, 2 * page, 12);
    unsigned long long before[PAGES], after[PAGES];
    states(r, PAGES, before);
    DWORD old;
    CHECK(!VirtualFree(r, PAGES * page, MEM_DECOMMIT));
    CHECK(VirtualAlloc(r, PAGES * page, MEM_COMMIT, PAGE_READWRITE) == NULL);
    CHECK(!VirtualProtect(r + page, 2 * page, PAGE_READONLY, &old)); /* both committed */
    states(r, PAGES, after);
    for (size_t i = 0; i < PAGES; i++)
        CHECK(after[i] == before[i]);
    CHECK(support_has_pattern(p, gran - 2 * page, 11));
    CHECK(support_has_pattern(r + page, 2 * page, 12));
    pagealloc_unmap(p, len);
    CHECK(all_in(p, 3 * gran, MEM_FREE, 0));
}

/*
 * A range of many regions (pages of alternating protections or states) in one
 * reservation takes one system call and no query to commit, decommit,
 * protect or shrink: the regions are walked only when the system refuses the
 * whole range (it spans reservations).
 */
static void a_range_in_one_reservation_takes_one_call_and_no_query_however_many_regions(void)
{
    enum { PAGES = 64 };
    unsigned char *p = pagealloc_map(PAGES * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (size_t i = 1; i < PAGES; i += 2)
        CHECK(pagealloc_protect(p + i * page, page, PAGEALLOC_READ));
    CHECK(query(p).RegionSize == page); /* the control: many regions */
    struct pagealloc_stats s0 = pagealloc_stats();
    CHECK(pagealloc_protect(p, PAGES * page, PAGEALLOC_READ | PAGEALLOC_WRITE));
    struct pagealloc_stats s1 = pagealloc_stats();
    CHECK(all_in(p, PAGES * page, MEM_COMMIT, PAGE_READWRITE));
    printf("     protect over %d regions: %u queries\n", PAGES,
           (unsigned)(s1.query_calls - s0.query_calls));
    CHECK(s1.query_calls == s0.query_calls && s1.protect_calls - s0.protect_calls == 1);

    for (size_t i = 1; i < PAGES; i += 2)
        CHECK(pagealloc_decommit(p + i * page, page));
    s0 = pagealloc_stats();
    CHECK(pagealloc_commit(p, PAGES * page));
    s1 = pagealloc_stats();
    CHECK(all_in(p, PAGES * page, MEM_COMMIT, PAGE_READWRITE));
    CHECK(s1.query_calls == s0.query_calls && s1.map_calls - s0.map_calls == 1);

    for (size_t i = 1; i < PAGES; i += 2)
        CHECK(pagealloc_protect(p + i * page, page, PAGEALLOC_NO_ACCESS));
    s0 = pagealloc_stats();
    CHECK(pagealloc_decommit(p + page, (PAGES - 2) * page));
    s1 = pagealloc_stats();
    CHECK(all_in(p + page, (PAGES - 2) * page, MEM_RESERVE, 0));
    CHECK(s1.query_calls == s0.query_calls && s1.advise_calls - s0.advise_calls == 1);

    CHECK(pagealloc_commit(p, PAGES * page));
    for (size_t i = 1; i < PAGES; i += 2)
        CHECK(pagealloc_protect(p + i * page, page, PAGEALLOC_READ));
    s0 = pagealloc_stats();
    CHECK(pagealloc_realloc(p, PAGES * page, 1, page, false) == p);
    s1 = pagealloc_stats();
    CHECK(all_in(p + page, gran - page, MEM_RESERVE, 0));
    CHECK(s1.query_calls == s0.query_calls && s1.advise_calls - s0.advise_calls == 1);
    CHECK(s1.unmap_calls == s0.unmap_calls);
    pagealloc_unmap(p, page);
    CHECK(all_in(p, gran, MEM_FREE, 0));
}

/*
 * A shrink to a unit's start inside a reservation (a block of several units
 * mapped at once) takes one query, to tell that no reservation starts there,
 * and one decommit, however many regions its tail shows.
 */
static void a_shrink_to_a_unit_start_inside_a_reservation_takes_one_query_however_many_regions(void)
{
    size_t units = 4, unit_pages = gran / page;
    unsigned char *p = pagealloc_map(units * gran, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, gran, 13);
    for (size_t i = unit_pages; i < units * unit_pages; i += 2)
        CHECK(pagealloc_protect(p + i * page, page, PAGEALLOC_READ));
    CHECK(query(p + gran).RegionSize == page); /* the control: many regions */
    struct pagealloc_stats s0 = pagealloc_stats();
    CHECK(pagealloc_realloc(p, units * gran, 1, gran, false) == p);
    struct pagealloc_stats s1 = pagealloc_stats();
    printf("     shrink to a unit's start over %u regions: %u queries\n",
           (unsigned)(units - 1) * (unsigned)unit_pages, (unsigned)(s1.query_calls - s0.query_calls));
    CHECK(s1.query_calls - s0.query_calls == 1 && s1.advise_calls - s0.advise_calls == 1);
    CHECK(s1.unmap_calls == s0.unmap_calls);
    CHECK(all_in(p, gran, MEM_COMMIT, PAGE_READWRITE) && support_has_pattern(p, gran, 13));
    CHECK(all_in(p + gran, (units - 1) * gran, MEM_RESERVE, 0));
    pagealloc_unmap(p, gran);
    CHECK(all_in(p, units * gran, MEM_FREE, 0));
}

/* Populate writes to each page on Windows: a range with a page that is not
 * committed read-write fails with EFAULT before any page is written to
 * (writing would end the process). */
static void populate_fails_with_EFAULT_unless_every_page_is_committed_read_write(void)
{
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 2 * page, 5);
    support_fill(p + 3 * page, page, 6);
    CHECK(pagealloc_protect(p + page, page, PAGEALLOC_READ));
    CHECK_ERRNO(!pagealloc_populate(p, 4 * page), EFAULT);
    CHECK(pagealloc_protect(p + page, page, PAGEALLOC_NO_ACCESS));
    CHECK_ERRNO(!pagealloc_populate(p + page, page), EFAULT);
    CHECK(pagealloc_protect(p + page, page, PAGEALLOC_READ | PAGEALLOC_WRITE | PAGEALLOC_EXEC));
    CHECK(pagealloc_populate(p, 4 * page)); /* read-write-execute is writable */
    CHECK(pagealloc_decommit(p + 2 * page, page));
    CHECK_ERRNO(!pagealloc_populate(p, 4 * page), EFAULT);
    /* Past the block's end: its reservation's reserved tail, then free pages. */
    CHECK_ERRNO(!pagealloc_populate(p + 3 * page, 2 * page), EFAULT);
    CHECK(all_in(p + 2 * page, page, MEM_RESERVE, 0));
    CHECK(support_has_pattern(p, 2 * page, 5) && support_has_pattern(p + 3 * page, page, 6));
    pagealloc_unmap(p, 4 * page);
    unsigned char *r = pagealloc_mapx(2 * page, 1, PAGEALLOC_RESERVE);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK_ERRNO(!pagealloc_populate(r, 2 * page), EFAULT);
    CHECK(pagealloc_commit(r, 2 * page) && pagealloc_populate(r, 2 * page));
    pagealloc_unmap(r, 2 * page);
}

int main(void)
{
    page = pagealloc_page_size();
    gran = support_granularity();
    RUN(a_reservation_is_reserved_only_until_committed);
    RUN(protect_sets_the_page_protection);
    RUN(commit_decommit_protect_work_across_the_reservations_of_a_grown_block);
    RUN(the_system_refuses_a_call_over_two_reservations_and_changes_neither);
    RUN(a_range_in_one_reservation_takes_one_call_and_no_query_however_many_regions);
    RUN(a_shrink_to_a_unit_start_inside_a_reservation_takes_one_query_however_many_regions);
    RUN(populate_fails_with_EFAULT_unless_every_page_is_committed_read_write);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
