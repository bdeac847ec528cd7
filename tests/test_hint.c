/* The process-wide address hint: aligned requests in one system call, blocks
 * placed downwards (away from the stack), and a taken range is no obstacle. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>

static size_t page;

/* After the first block, an aligned request is one mmap and its free one munmap
 * (on Windows a reservation, and a commit unless it is whole 64 KiB units). */
static void aligned_alloc_takes_one_system_call_in_the_steady_state(void)
{
    const size_t aligns[] = {(size_t)1 << 16, (size_t)1 << 21, (size_t)1 << 26};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t align = aligns[i] > page ? aligns[i] : 2 * page;
        void *warm = pagealloc_map(align / 2, align);
        pagealloc_unmap(warm, align / 2);
        struct pagealloc_stats before = pagealloc_stats();
        const int rounds = 50;
        for (int r = 0; r < rounds; r++) {
            unsigned char *p = pagealloc_map(align / 2, align);
            CHECK(p != NULL && support_aligned(p, align));
            if (p == NULL)
                return;
            p[0] = 1;
            pagealloc_unmap(p, align / 2);
        }
        struct pagealloc_stats after = pagealloc_stats();
        uint64_t calls = support_map_calls(align / 2);
        CHECK(after.map_calls - before.map_calls == (uint64_t)rounds * calls);
        CHECK(after.unmap_calls - before.unmap_calls == (uint64_t)rounds);
    }
}

/* Room to grow (docs/address-hint.md) is left only where pages cannot move:
 * with mremap a 4 MiB block goes right under the one before, as small ones
 * do; without it (Windows, no-mremap builds) it leaves free address space
 * above itself. The first block goes wherever the system puts it. */
static void large_blocks_get_room_to_grow_only_where_pages_cannot_move(void)
{
    const size_t len = (size_t)4 << 20;
    unsigned char *b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = pagealloc_map(len, 1);
        CHECK(b[i] != NULL);
        if (b[i] == NULL)
            return;
    }
    /* (valgrind places mappings itself, low in the address space.) */
    if (getenv("PAGEALLOC_UNDER_VALGRIND") == NULL) {
        if (PAGEALLOC_TEST_CAN_MOVE)
            CHECK(b[2] + len == b[1]);
        else
            CHECK(b[2] + len < b[1] && support_range_unmapped(b[2] + len, len));
    }
    for (int i = 0; i < 3; i++)
        pagealloc_unmap(b[i], len);
}

/* Blocks kept alive go down the address space, below the stack and below one
 * another, never up towards the stack. */
static void blocks_are_placed_downwards_away_from_the_stack(void)
{
    int on_stack = 0;
    enum { N = 32 };
    unsigned char *blocks[N];
    int downwards = 0;
    for (int i = 0; i < N; i++) {
        blocks[i] = pagealloc_map(4 * page, (size_t)1 << 16);
        CHECK(blocks[i] != NULL);
        if (blocks[i] == NULL)
            return;
        /* qemu-user and Windows put the stack below the blocks mapped. */
        if (!support_under_qemu() && support_stack_at_top())
            CHECK((uintptr_t)blocks[i] < (uintptr_t)&on_stack);
        if (i > 0 && blocks[i] < blocks[i - 1])
            downwards++;
    }
    CHECK(downwards == N - 1);
    for (int i = 0; i < N; i++) {
        pagealloc_unmap(blocks[i], 4 * page);
        CHECK(support_range_unmapped(blocks[i], 4 * page));
    }
}

/* Freeing the newest block hands its range to the next request, as the
 * kernel's own placement would, instead of walking down forever. */
static void alloc_free_loop_reuses_one_range(void)
{
    unsigned char *first = pagealloc_map(8 * page, 1);
    CHECK(first != NULL);
    pagealloc_unmap(first, 8 * page);
    for (int i = 0; i < 20; i++) {
        unsigned char *p = pagealloc_map(8 * page, 1);
        CHECK(p == first);
        pagealloc_unmap(p, 8 * page);
    }
}

/* When the range under the hint is taken, the request still succeeds. */
static void map_succeeds_when_the_hinted_range_is_taken(void)
{
    const size_t aligns[] = {1, (size_t)1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        /* Blocks start on whole reservation units (64 KiB on Windows). */
        size_t unit = support_granularity();
        size_t align = aligns[i] > unit ? aligns[i] : unit;
        unsigned char *top = pagealloc_map(page, aligns[i]);
        CHECK(top != NULL);
        if (top == NULL)
            return;
        /* The next block would go just below `top`: occupy that range. */
        unsigned char *blocker = top - align;
        bool blocked = support_map_at(blocker, align);
        unsigned char *p = pagealloc_map(page, aligns[i]);
        CHECK(p != NULL && support_aligned(p, align));
        if (p != NULL) {
            CHECK(p + page <= blocker || p >= blocker + align || !blocked);
            p[page - 1] = 1;
            pagealloc_unmap(p, page);
        }
        if (blocked)
            support_unmap(blocker, align);
        pagealloc_unmap(top, page);
        CHECK(support_range_unmapped(top, page));
    }
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(aligned_alloc_takes_one_system_call_in_the_steady_state);
    RUN(large_blocks_get_room_to_grow_only_where_pages_cannot_move);
    RUN(blocks_are_placed_downwards_away_from_the_stack);
    RUN(alloc_free_loop_reuses_one_range);
    RUN(map_succeeds_when_the_hinted_range_is_taken);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
