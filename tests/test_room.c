/* Room to grow (docs/address-hint.md): a new block of 1 MiB or more is placed
 * with free address space above it, so that it grows in place where pages
 * cannot move (Windows, macOS, the BSDs, PAGEALLOC_NO_MREMAP), while small
 * blocks still stack right under one another. Where pages move (Linux
 * mremap) the library leaves no room by default; this test runs with
 * PAGEALLOC_ROOM=1 (tests/CMakeLists.txt) so that the placement is checked
 * there too (test_hint checks the default).
 * Counted, not timed; each test prints its counts. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t page;

/* valgrind maps a program's blocks near the bottom of the address space,
 * where the library leaves no room (docs/address-hint.md), and the hint soon
 * reaches the bottom: the counts would be valgrind's, not the library's. */
static bool under_valgrind(void)
{
    if (getenv("PAGEALLOC_UNDER_VALGRIND") == NULL)
        return false;
    printf("  left out under valgrind\n");
    return true;
}

#define MIB ((size_t)1 << 20)

/* System calls of every kind the library has made so far. */
static uint64_t calls(void)
{
    struct pagealloc_stats s = pagealloc_stats();
    return s.map_calls + s.unmap_calls + s.remap_calls + s.advise_calls + s.query_calls +
           s.protect_calls;
}

/* The first row: each fresh block of 1-16 MiB is doubled once while
 * every block before it is still live. (The first block of a process goes
 * wherever the system puts it, with no room; so, under Wine, may the first
 * few, among Wine's own mappings at the top of the address space.) */
static void fresh_blocks_of_1_to_16_MiB_double_in_place_with_earlier_blocks_live(void)
{
    if (under_valgrind())
        return;
    /* Fewer where address space is scarce: 64 blocks walk a 32-bit one down
     * to its bottom. */
    enum { N = sizeof(void *) >= 8 ? 64 : 32 };
    unsigned char *b[N];
    size_t len[N];
    int made = 0, in_place = 0;
    uint64_t growth_calls = 0;
    for (int i = 0; i < N; i++) {
        len[i] = MIB * (size_t)(1 + i % 16);
        b[i] = pagealloc_map(len[i], 1);
        CHECK(b[i] != NULL);
        if (b[i] == NULL)
            break;
        made++;
        b[i][0] = (unsigned char)i;
        uint64_t c0 = calls();
        bool grown = pagealloc_realloc(b[i], len[i], 1, 2 * len[i], false) == b[i];
        growth_calls += calls() - c0;
        if (grown) {
            in_place++;
            len[i] *= 2;
            b[i][len[i] - 1] = 1;
        }
    }
    printf("  fresh 1-16 MiB blocks doubled in place: %d of %d (%.2f system calls each)\n",
           in_place, made, made > 0 ? (double)growth_calls / made : 0.0);
    CHECK(in_place * 100 >= made * 95);
    for (int i = 0; i < made; i++) {
        CHECK(b[i][0] == (unsigned char)i);
        pagealloc_unmap(b[i], len[i]);
    }
}

/*
 * The second row: 8 buffers doubling in turn from 64 KiB to 64 MiB,
 * each through remap, and where remap says no, through a new block, a copy
 * and a free (only the first page is copied here, to check it, but the whole
 * buffer is counted). Also the address space held (mapped or reserved) per
 * live byte after each round, at its worst.
 */
static void interleaved_buffers_copy_a_third_of_what_alloc_copy_free_would_or_less(void)
{
    if (under_valgrind())
        return;
    enum { BUFS = 8 };
    const size_t from = (size_t)64 << 10, to = 64 * MIB;
    pagealloc_allocator a = pagealloc_page_allocator();
    unsigned char *b[BUFS];
    size_t held0 = support_mapped_bytes();
    for (int i = 0; i < BUFS; i++) {
        b[i] = pagealloc_map(from, 1);
        CHECK(b[i] != NULL);
        if (b[i] == NULL)
            return;
        b[i][0] = (unsigned char)(i + 1);
    }
    unsigned long long copied = 0, baseline = 0;
    int in_place = 0, moved = 0, copies = 0;
    double worst_held = 0;
    uint64_t c0 = calls();
    size_t len;
    for (len = from; len < to; len *= 2) {
        for (int i = 0; i < BUFS; i++) {
            baseline += len;
            unsigned char *q = pagealloc_remap(a, b[i], len, 1, 2 * len);
            if (q == b[i]) {
                in_place++;
            } else if (q != NULL) {
                moved++;
            } else {
                q = pagealloc_map(2 * len, 1);
                CHECK(q != NULL);
                if (q == NULL)
                    return;
                memcpy(q, b[i], page);
                pagealloc_unmap(b[i], len);
                copied += len;
                copies++;
            }
            b[i] = q;
            q[2 * len - 1] = 1;
            CHECK(q[0] == (unsigned char)(i + 1));
        }
        double held = (double)(support_mapped_bytes() - held0) / (double)(BUFS * 2 * len);
        worst_held = held > worst_held ? held : worst_held;
    }
    printf("  8 buffers, 64 KiB to 64 MiB: %d doublings in place, %d moved, %d copied;"
           " bytes copied %.3fx alloc + copy + free; %.2f system calls per doubling; address"
           " space held per live byte at worst %.2fx\n",
           in_place, moved, copies, (double)copied / (double)baseline,
           (double)(calls() - c0) / (in_place + moved + copies), worst_held);
    /* A 32-bit address space leaves room for one doubling: fewer copies than
     * alloc + copy + free (half the bytes), not a third. */
    if (sizeof(void *) >= 8)
        CHECK(copied * 3 <= baseline);
    else
        CHECK(copied * 2 < baseline);
    CHECK(worst_held <= 2.0);
    for (int i = 0; i < BUFS; i++)
        pagealloc_unmap(b[i], len);
}

/* The room is free address space, not held: nothing of it is mapped, and a
 * freed block leaves nothing behind. An alloc/free loop of such a block
 * reuses one range instead of walking down by a room each time. */
static void room_is_not_held_and_an_alloc_free_loop_reuses_one_range(void)
{
    const size_t len = 4 * MIB;
    unsigned char *first = pagealloc_map(len, 1);
    CHECK(first != NULL);
    if (first == NULL)
        return;
    CHECK(support_range_unmapped(first + len, len));
    pagealloc_unmap(first, len);
    CHECK(support_range_unmapped(first, 2 * len));
    int same = 0;
    for (int i = 0; i < 20; i++) {
        unsigned char *p = pagealloc_map(len, 1);
        CHECK(p != NULL);
        if (p == NULL)
            return;
        same += p == first;
        p[len - 1] = 1;
        pagealloc_unmap(p, len);
    }
    printf("  alloc/free loop of 4 MiB: %d of 20 at the first block's address\n", same);
    CHECK(same == 20);
}

/* Small blocks are placed right under one another, as before the room: on
 * Linux that is what lets 200,000 live 4 KiB blocks fit under the kernel's
 * limit of 65,530 mappings. */
static void small_blocks_stack_right_under_one_another(void)
{
    if (under_valgrind())
        return;
    /* Windows reserves 64 KiB per block and keeps no such limit: fewer. */
    size_t n = support_granularity() == page ? 200000 : 20000;
    /* The figure is for 4 KiB pages; with larger ones (qemu's 64 KiB)
     * as many bytes, not blocks: 200,000 blocks of 64 KiB pass what qemu's
     * address space holds. */
    if (page > 16384)
        n = n / (page / 4096);
    const size_t unit = support_granularity();
    unsigned char **b = pagealloc_map(n * sizeof *b, 1);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    size_t made = 0, adjacent = 0;
    for (; made < n; made++) {
        b[made] = pagealloc_map(page, 1);
        if (b[made] == NULL)
            break;
        if (made > 0 && b[made] + unit == b[made - 1])
            adjacent++;
    }
    printf("  live %zu-byte blocks: %zu of %zu mapped, %zu right under the one before\n", page,
           made, n, adjacent);
    CHECK(made == n);
    CHECK(adjacent * 100 >= (made - 1) * 99);
    for (size_t i = 0; i < made; i++)
        pagealloc_unmap(b[i], page);
    pagealloc_unmap(b, n * sizeof *b);
}

/* Once pages may vary (after any decommit), growth in place without mremap
 * is one mmap of the next range, read-write; with mremap it stays mremap +
 * mprotect, so that the block stays one mapping that can still move (a range
 * mapped after a block mremap once moved does not merge with it). Last: the
 * latch stays set for the rest of the process. */
static void once_pages_vary_growth_in_place_is_one_call_without_mremap_two_with_it(void)
{
#ifndef _WIN32
    unsigned char *other = pagealloc_map(page, 1);
    CHECK(other != NULL && pagealloc_decommit(other, page));
    pagealloc_unmap(other, page);
    const size_t len = 2 * MIB;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    p[0] = 7;
    uint64_t c0 = calls();
    CHECK(pagealloc_realloc(p, len, 1, 2 * len, false) == p);
    CHECK(calls() - c0 == (PAGEALLOC_TEST_CAN_MOVE ? 2u : 1u));
    p[2 * len - 1] = 1;
    CHECK(p[0] == 7 && p[len] == 0);
    pagealloc_unmap(p, 2 * len);
#endif
}

int main(void)
{
    page = pagealloc_page_size();
    support_mapped_bytes(); /* the first read may map stdio's buffers */
    RUN(fresh_blocks_of_1_to_16_MiB_double_in_place_with_earlier_blocks_live);
    RUN(interleaved_buffers_copy_a_third_of_what_alloc_copy_free_would_or_less);
    RUN(room_is_not_held_and_an_alloc_free_loop_reuses_one_range);
    RUN(small_blocks_stack_right_under_one_another);
    RUN(once_pages_vary_growth_in_place_is_one_call_without_mremap_two_with_it);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
