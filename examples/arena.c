/* A bump arena on pagealloc's reservations: 1 GiB of address space held
 * once, memory committed 64 KiB at a time as the arena grows, and given
 * back on reset while the addresses stay, so pointers into a reset arena
 * fault instead of reading stale data. */
#include <pagealloc.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ARENA_RESERVE ((size_t)1 << 30)
#define ARENA_STEP ((size_t)64 << 10)

struct arena {
    unsigned char *base;
    size_t used;      /* bytes handed out */
    size_t committed; /* bytes committed, a multiple of ARENA_STEP */
};

static int arena_init(struct arena *a)
{
    a->base = pagealloc_mapx(ARENA_RESERVE, ARENA_STEP, PAGEALLOC_RESERVE);
    a->used = a->committed = 0;
    return a->base != NULL ? 0 : -1;
}

/* `len` bytes aligned to 16, or NULL when the reservation or the system's
 * memory runs out. */
static void *arena_alloc(struct arena *a, size_t len)
{
    size_t start = (a->used + 15) & ~(size_t)15;
    if (start > ARENA_RESERVE || len > ARENA_RESERVE - start)
        return NULL;
    size_t end = start + len;
    if (end > a->committed) {
        size_t want = (end + ARENA_STEP - 1) & ~(ARENA_STEP - 1);
        if (!pagealloc_commit(a->base + a->committed, want - a->committed))
            return NULL;
        a->committed = want;
    }
    a->used = end;
    return a->base + start;
}

/* Everything handed out goes at once; the memory goes back to the system. */
static void arena_reset(struct arena *a)
{
    if (a->committed != 0)
        pagealloc_decommit(a->base, a->committed);
    a->used = a->committed = 0;
}

static void arena_free(struct arena *a)
{
    pagealloc_unmap(a->base, ARENA_RESERVE);
    a->base = NULL;
}

int main(void)
{
    struct arena a;
    if (arena_init(&a) != 0)
        return 1;
    for (int round = 0; round < 3; round++) {
        size_t total = 0;
        for (int i = 0; i < 10000; i++) {
            size_t len = 16 + (size_t)(i % 500);
            char *s = arena_alloc(&a, len);
            if (s == NULL)
                return 1;
            memset(s, 'a' + round, len);
            total += len;
        }
        /* Fresh pages read as zero even after a reset: a reused arena never
         * shows the previous round's bytes. */
        unsigned char *next = arena_alloc(&a, 1);
        if (next == NULL || *next != 0)
            return 1;
        printf("round %d: %zu bytes in 10000 allocations, %zu KiB committed of %zu MiB "
               "reserved\n",
               round, total, a.committed >> 10, ARENA_RESERVE >> 20);
        arena_reset(&a);
    }
    struct pagealloc_stats s = pagealloc_stats();
    printf("mapped (address space held): %zu MiB\n", s.mapped_bytes >> 20);
    arena_free(&a);
    return pagealloc_stats().mapped_bytes == 0 ? 0 : 1;
}
