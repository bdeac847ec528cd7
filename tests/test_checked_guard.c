/* The checked allocator's guard pages and quarantine, checked by touching:
 * a byte before a block or past its last page faults, a freed block faults
 * while it is in the quarantine, and the quarantine stays within its limits. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static size_t page;
static size_t misuses;
static struct pagealloc_misuse last;

static void *last_stack[PAGEALLOC_CHECK_STACK_DEPTH];

/* The stack is valid during the call only: it is copied. */
static void collect(void *ctx, const struct pagealloc_misuse *m)
{
    (void)ctx;
    misuses++;
    last = *m;
    for (size_t i = 0; i < m->stack_depth && i < PAGEALLOC_CHECK_STACK_DEPTH; i++)
        last_stack[i] = m->stack[i];
    last.stack = last_stack;
}

static pagealloc_checked *checker;

static pagealloc_allocator make(unsigned options)
{
    misuses = 0;
    checker = pagealloc_checked_create(pagealloc_page_allocator(), options, collect, NULL);
    CHECK(checker != NULL);
    return pagealloc_checked_allocator(checker);
}

/* The page at p is held with no access (a guard), not an unmapped hole that
 * another mapping could fill; qemu-user's maps may not say (-1). */
static bool held_no_access(const void *p)
{
    int access = support_page_access(p);
    return access == 0 || (access == -1 && support_under_qemu());
}

/* The bytes just inside [p, p + len) can be written (and are put back); the
 * ones just outside fault. */
static bool guarded_exactly(unsigned char *p, size_t len)
{
    size_t end = (len + page - 1) / page * page;
    unsigned char first = p[0], last_byte = p[len - 1], end_byte = p[end - 1];
    bool inside = !support_write_faults(p) && !support_write_faults(p + len - 1) &&
                  !support_write_faults(p + end - 1);
    p[0] = first, p[len - 1] = last_byte, p[end - 1] = end_byte;
    return inside && support_read_faults(p - 1) && support_write_faults(p - 1) &&
           support_read_faults(p + end) && support_write_faults(p + end) &&
           held_no_access(p - 1) && held_no_access(p + end);
}

static void guard_pages_sit_right_before_and_after_each_block(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD);
    unsigned char *p = pagealloc_alloc(a, 2 * page, 1);
    unsigned char *q = pagealloc_alloc(a, page + 1, 1);
    unsigned char *r = pagealloc_alloc(a, 3 * page, 16 * page);
    CHECK(p != NULL && q != NULL && r != NULL);
    if (p == NULL || q == NULL || r == NULL)
        return;
    CHECK(support_aligned(p, page) && support_aligned(r, 16 * page));
    CHECK(support_all_zero(p, 2 * page) && support_all_zero(r, 3 * page));
    CHECK(guarded_exactly(p, 2 * page)); /* page-multiple: its end meets the guard */
    CHECK(guarded_exactly(q, page + 1));
    CHECK(guarded_exactly(r, 3 * page));
    pagealloc_free(a, p, 2 * page, 1);
    pagealloc_free(a, q, page + 1, 1);
    pagealloc_free(a, r, 3 * page, 16 * page);
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
}

static void growth_and_shrinking_keep_the_guards(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD);
    unsigned char *p = pagealloc_alloc(a, 4 * page, 1);
    support_fill(p, 4 * page, 9);
    /* In place within the room the reservation keeps after the block. */
    CHECK(pagealloc_resize(a, p, 4 * page, 1, 6 * page));
    CHECK(support_has_pattern(p, 4 * page, 9) && support_all_zero(p + 4 * page, 2 * page));
    CHECK(guarded_exactly(p, 6 * page));
    CHECK(pagealloc_resize(a, p, 6 * page, 1, 2 * page));
    CHECK(support_has_pattern(p, 2 * page, 9) && guarded_exactly(p, 2 * page));
    /* Past the room: resize refuses, remap moves the block by copying. */
    CHECK_ERRNO(!pagealloc_resize(a, p, 2 * page, 1, 64 * page), ENOMEM);
    unsigned char *q = pagealloc_remap(a, p, 2 * page, 1, 64 * page);
    CHECK(q != NULL && q != p);
    if (q == NULL)
        return;
    CHECK(support_has_pattern(q, 2 * page, 9) && support_all_zero(q + 2 * page, 62 * page));
    CHECK(guarded_exactly(q, 64 * page));
    pagealloc_free(a, q, 64 * page, 1);
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
}

/* The reservation leaves room to grow up to the block's own length (header):
 * growth to the end of that room keeps the back guard, a page more is
 * refused by resize and moved by remap. */
static void growth_to_the_end_of_the_room_keeps_the_back_guard(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD);
    unsigned char *p = pagealloc_alloc(a, 4 * page, 1);
    support_fill(p, 4 * page, 3);
    CHECK(pagealloc_resize(a, p, 4 * page, 1, 8 * page));
    CHECK(guarded_exactly(p, 8 * page) && support_has_pattern(p, 4 * page, 3));
    CHECK_ERRNO(!pagealloc_resize(a, p, 8 * page, 1, 8 * page + 1), ENOMEM);
    CHECK(guarded_exactly(p, 8 * page));
    unsigned char *q = pagealloc_remap(a, p, 8 * page, 1, 8 * page + 1);
    CHECK(q != NULL && q != p);
    if (q == NULL)
        return;
    CHECK(support_has_pattern(q, 4 * page, 3) && guarded_exactly(q, 8 * page + 1));
    pagealloc_free(a, q, 8 * page + 1, 1);
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
}

/* Each new page is committed, also when the growth is a single page (or a
 * single byte over a page boundary), by resize and by remap. */
static void growth_by_one_page_commits_that_page(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD);
    unsigned char *p = pagealloc_alloc(a, 4 * page, 1);
    CHECK(pagealloc_resize(a, p, 4 * page, 1, page));
    CHECK(pagealloc_resize(a, p, page, 1, 2 * page));
    CHECK(!support_read_faults(p + page) && support_all_zero(p + page, page));
    CHECK(guarded_exactly(p, 2 * page));
    CHECK(pagealloc_resize(a, p, 2 * page, 1, 2 * page + 1));
    CHECK(!support_read_faults(p + 2 * page) && guarded_exactly(p, 2 * page + 1));
    CHECK(pagealloc_remap(a, p, 2 * page + 1, 1, 4 * page) == p);
    CHECK(!support_read_faults(p + 3 * page) && guarded_exactly(p, 4 * page));
    pagealloc_free(a, p, 4 * page, 1);
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
}

/* Pages the caller decommitted or made no-access: a shrink over them works
 * (Windows refuses to protect reserved pages), and a remap that must copy
 * refuses the block with ENOMEM rather than fault on them; a read-only page
 * is copied. Each with guard pages, and with the quarantine alone (growth in
 * place blocked by a neighbour). */
static void blocks_with_unreadable_pages_shrink_and_are_never_copied(void)
{
    static const unsigned options[] = {PAGEALLOC_CHECK_GUARD,
                                       PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE,
                                       PAGEALLOC_CHECK_QUARANTINE};
    size_t unit = support_granularity(), len = 4 * unit;
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++) {
        pagealloc_allocator a = make(options[k]);
        bool guard = (options[k] & PAGEALLOC_CHECK_GUARD) != 0;
        unsigned char *p = pagealloc_alloc(a, len, 1);
        support_fill(p, len, 5);
        CHECK(pagealloc_decommit(p + 2 * unit, 2 * unit));
        CHECK(pagealloc_resize(a, p, len, 1, page));
        CHECK(support_has_pattern(p, page, 5));
        CHECK(!guard || guarded_exactly(p, page));
        CHECK(!support_read_faults(p) && support_read_faults(p + page));
        pagealloc_free(a, p, page, 1);
        for (unsigned access = 0; access < 3; access++) {
            p = pagealloc_alloc(a, len, 1);
            support_fill(p, unit, 6);
            support_fill(p + unit, unit, 7);
            support_fill(p + 2 * unit, 2 * unit, 8);
            bool mine = !guard && support_map_at(p + len, unit);
            if (!guard && !mine && !support_range_mapped(p + len, unit) &&
                support_under_qemu()) {
                /* qemu-user may answer an exact mmap with another address
                 * (TOOLCHAINS.md): no neighbour to block the growth. */
                check_skip("qemu-user would not map a neighbour right after the block");
                pagealloc_free(a, p, len, 1);
                continue;
            }
            CHECK(guard || mine || support_range_mapped(p + len, unit));
            CHECK(access == 0 ? pagealloc_decommit(p + unit, unit)
                              : pagealloc_protect(p + unit, unit,
                                                  access == 1 ? PAGEALLOC_NO_ACCESS
                                                              : PAGEALLOC_READ));
            size_t new_len = 64 * unit;
            unsigned char *q = pagealloc_remap(a, p, len, 1, new_len);
            if (access < 2) {
                CHECK(q == NULL && errno == ENOMEM);
                CHECK(support_has_pattern(p, unit, 6) && support_read_faults(p + unit));
                CHECK(support_has_pattern(p + 2 * unit, 2 * unit, 8));
                CHECK(!guard || guarded_exactly(p, len));
                pagealloc_free(a, p, len, 1);
            } else {
                CHECK(q != NULL && q != p);
                if (q != NULL) {
                    CHECK(support_has_pattern(q, unit, 6));
                    CHECK(support_has_pattern(q + unit, unit, 7));
                    CHECK(support_has_pattern(q + 2 * unit, 2 * unit, 8));
                    CHECK(support_all_zero(q + len, new_len - len));
                    CHECK(!support_write_faults(q + unit)); /* copied into read-write pages */
                    pagealloc_free(a, q, new_len, 1);
                }
            }
            if (mine)
                support_unmap(p + len, unit);
        }
        CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
    }
}

/* Not inlined, and doing work after the call, so that its return address is
 * in this function. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void *allocate_here(pagealloc_allocator a)
{
    void *p = pagealloc_alloc(a, page, 1);
    if (p != NULL)
        memset(p, 1, 1);
    return p;
}

/* With an option, where the C library can walk the stack (glibc's
 * backtrace, Windows), a report names the allocating stack, not only the
 * calling frame. */
static void reports_name_the_allocating_stack(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD);
    unsigned char *p = allocate_here(a);
    pagealloc_free(a, p, 2 * page, 1);
    uintptr_t from = (uintptr_t)allocate_here, first = (uintptr_t)last.stack[0];
    /* The first frame is the call to alloc (not one inside the library). */
    CHECK(misuses == 1 && last.stack_depth > 0 && first > from && first < from + 256);
    CHECK(PAGEALLOC_TEST_HAVE_STACK ? last.stack_depth > 1 : last.stack_depth == 1);
    pagealloc_free(a, p, page, 1);
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

static void a_misuse_of_a_guarded_block_leaves_it_guarded(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE);
    unsigned char *p = pagealloc_alloc(a, page, 1);
    support_fill(p, page, 4);
    pagealloc_free(a, p, 2 * page, 1);
    CHECK(misuses == 1 && last.kind == PAGEALLOC_MISUSE_WRONG_LENGTH && last.block_len == page);
    CHECK(support_has_pattern(p, page, 4) && guarded_exactly(p, page));
    pagealloc_free(a, p, page, 1);
    CHECK(misuses == 1 && pagealloc_checked_destroy(checker) == 0);
}

static void a_use_after_free_faults_under_quarantine(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_QUARANTINE);
    unsigned char *p = pagealloc_alloc(a, 8 * page, 1);
    support_fill(p, 8 * page, 2);
    pagealloc_free(a, p, 8 * page, 1);
    CHECK(support_read_faults(p) && support_read_faults(p + 8 * page - 1));
    CHECK(support_write_faults(p + 3 * page));
    /* Held reserved, not unmapped: no one else can map there. */
    CHECK(held_no_access(p) && held_no_access(p + 7 * page));
    CHECK(!support_map_at(p, page) && !support_map_at(p + 7 * page, page));
    size_t resident = support_resident_pages(p, 8 * page);
    CHECK(resident == 0 || resident == SIZE_MAX); /* the memory went back */
    /* Its addresses are not handed out again while it waits. */
    for (int i = 0; i < 50; i++) {
        unsigned char *q = pagealloc_alloc(a, 8 * page, 1);
        CHECK(q != NULL && (q + 8 * page <= p || q >= p + 8 * page));
        pagealloc_free(a, q, 8 * page, 1);
    }
    CHECK(support_read_faults(p));
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
}

static void a_block_moved_by_remap_faults_at_its_old_address(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE);
    unsigned char *p = pagealloc_alloc(a, page, 1);
    unsigned char *q = pagealloc_remap(a, p, page, 1, 100 * page);
    CHECK(q != NULL && q != p && support_read_faults(p));
    pagealloc_free(a, p, page, 1);
    CHECK(misuses == 1 && last.kind == PAGEALLOC_MISUSE_DOUBLE_FREE);
    pagealloc_free(a, q, 100 * page, 1);
    CHECK(misuses == 1 && pagealloc_checked_destroy(checker) == 0);
}

/* Without guard pages the block is copied too when it cannot grow in place,
 * so that its old range stays in the quarantine rather than being unmapped
 * by the page allocator's move. */
static void a_block_moved_under_the_quarantine_alone_keeps_its_old_range_reserved(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_QUARANTINE);
    size_t len = support_granularity();
    unsigned char *p = pagealloc_alloc(a, len, 1);
    support_fill(p, len, 7);
    bool mine = support_map_at(p + len, len);
    CHECK(mine || support_range_mapped(p + len, page)); /* growth in place is blocked */
    unsigned char *q = pagealloc_remap(a, p, len, 1, 2 * len);
    CHECK(q != NULL && q != p);
    if (q != NULL) {
        CHECK(support_has_pattern(q, len, 7) && support_all_zero(q + len, len));
        CHECK(support_read_faults(p) && held_no_access(p) && held_no_access(p + len - page));
        CHECK(!support_map_at(p, page));
        pagealloc_free(a, p, len, 1);
        CHECK(misuses == 1 && last.kind == PAGEALLOC_MISUSE_DOUBLE_FREE && last.block_len == len);
        pagealloc_free(a, q, 2 * len, 1);
    }
    if (mine)
        support_unmap(p + len, len);
    CHECK(misuses == (q != NULL) && pagealloc_checked_destroy(checker) == 0);
}

/* A block larger than the whole budget is freed at once; the blocks already
 * in the quarantine stay there. */
static void a_block_over_the_quarantine_budget_leaves_the_others_quarantined(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_QUARANTINE);
    unsigned char *p = pagealloc_alloc(a, page, 1);
    pagealloc_free(a, p, page, 1);
    size_t big_len = PAGEALLOC_CHECK_QUARANTINE_BYTES + page;
    unsigned char *big = pagealloc_alloc(a, big_len, 1);
    if (big == NULL) {
        check_skip("no room for a block over the quarantine's %zu bytes",
                   (size_t)PAGEALLOC_CHECK_QUARANTINE_BYTES);
    } else {
        size_t before = pagealloc_stats().mapped_bytes;
        pagealloc_free(a, big, big_len, 1);
        CHECK(pagealloc_stats().mapped_bytes == before - big_len);
        CHECK(support_range_unmapped(big, page) && support_range_unmapped(big + big_len - 1, 1));
    }
    CHECK(support_read_faults(p) && held_no_access(p) && !support_map_at(p, page));
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
}

/* The quarantine remembers more than the history: a second free long after
 * is still a double free. */
static void a_quarantined_block_is_a_double_free_long_after(void)
{
    pagealloc_allocator a = make(PAGEALLOC_CHECK_QUARANTINE);
    void *p = pagealloc_alloc(a, page, 1);
    pagealloc_free(a, p, page, 1);
    for (int i = 0; i < 2 * PAGEALLOC_CHECK_HISTORY; i++)
        pagealloc_free(a, pagealloc_alloc(a, page, 1), page, 1);
    pagealloc_free(a, p, page, 1);
    CHECK(misuses == 1 && last.kind == PAGEALLOC_MISUSE_DOUBLE_FREE && last.block_len == page);
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

/* The number of the process's kernel mappings, or SIZE_MAX where there is
 * no /proc/self/maps to count them in. */
static size_t mapping_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return SIZE_MAX;
    size_t n = 0;
    for (int ch; (ch = fgetc(f)) != EOF;)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* Frees n blocks of len bytes, one at a time; returns the largest address
 * space the process held (pagealloc_stats) above `base` along the way. */
static size_t churn(pagealloc_allocator a, size_t n, size_t len, size_t base)
{
    size_t most = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = pagealloc_alloc(a, len, 1);
        CHECK(p != NULL);
        if (p == NULL)
            break;
        p[0] = 1;
        pagealloc_free(a, p, len, 1);
        size_t now = pagealloc_stats().mapped_bytes - base;
        most = now > most ? now : most;
    }
    return most;
}

static void the_quarantine_keeps_to_its_limits_under_a_long_churn(void)
{
    size_t base = pagealloc_stats().mapped_bytes;
    size_t maps0 = mapping_count();
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE);
    size_t self = pagealloc_stats().mapped_bytes - base;
    /* Small blocks: the count limit. Each reserves 4 pages of address space
     * (guard, block, room to grow, guard), in one to three kernel mappings. */
    size_t most = churn(a, 2 * PAGEALLOC_CHECK_QUARANTINE_BLOCKS, page, base);
    size_t maps1 = mapping_count();
    most = churn(a, 2 * PAGEALLOC_CHECK_QUARANTINE_BLOCKS, page, base);
    size_t maps2 = mapping_count();
    CHECK(most <= self + PAGEALLOC_CHECK_QUARANTINE_BLOCKS * 4 * page + 64 * page);
    CHECK(most >= PAGEALLOC_CHECK_QUARANTINE_BLOCKS * 4 * page); /* it did fill up */
    if (maps0 != SIZE_MAX) {
        CHECK(maps1 <= maps0 + 3 * PAGEALLOC_CHECK_QUARANTINE_BLOCKS + 64);
        CHECK(maps2 <= maps1 + 64); /* no growth once full */
    }
    /* Large blocks: the address-space limit (each reserves about 16 MiB). */
    size_t len = (size_t)8 << 20;
    most = churn(a, 2 * PAGEALLOC_CHECK_QUARANTINE_BYTES / len, len, base);
    CHECK(most <= self + PAGEALLOC_CHECK_QUARANTINE_BYTES + 4 * len);
    CHECK(most >= PAGEALLOC_CHECK_QUARANTINE_BYTES / 2); /* it did fill up */
    CHECK(misuses == 0 && pagealloc_checked_destroy(checker) == 0);
    CHECK(pagealloc_stats().mapped_bytes == base);
}

static void destroy_empties_the_quarantine_and_frees_leaks(void)
{
    size_t base = pagealloc_stats().mapped_bytes;
    pagealloc_allocator a = make(PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE);
    unsigned char *p = pagealloc_alloc(a, page, 1);
    unsigned char *q = pagealloc_alloc(a, 2 * page, 1);
    pagealloc_free(a, p, page, 1);
    CHECK(pagealloc_checked_destroy(checker) == 1);
    CHECK(misuses == 1 && last.kind == PAGEALLOC_MISUSE_LEAK && last.ptr == q);
    CHECK(support_range_unmapped(p - page, 3 * page) && support_range_unmapped(q - page, 4 * page));
    CHECK(pagealloc_stats().mapped_bytes == base);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(guard_pages_sit_right_before_and_after_each_block);
    RUN(growth_and_shrinking_keep_the_guards);
    RUN(growth_to_the_end_of_the_room_keeps_the_back_guard);
    RUN(growth_by_one_page_commits_that_page);
    RUN(blocks_with_unreadable_pages_shrink_and_are_never_copied);
    RUN(reports_name_the_allocating_stack);
    RUN(a_misuse_of_a_guarded_block_leaves_it_guarded);
    RUN(a_use_after_free_faults_under_quarantine);
    RUN(a_block_moved_by_remap_faults_at_its_old_address);
    RUN(a_block_moved_under_the_quarantine_alone_keeps_its_old_range_reserved);
    RUN(a_block_over_the_quarantine_budget_leaves_the_others_quarantined);
    RUN(a_quarantined_block_is_a_double_free_long_after);
    RUN(the_quarantine_keeps_to_its_limits_under_a_long_churn);
    RUN(destroy_empties_the_quarantine_and_frees_leaks);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
