/* The allocator interface: the page allocator's vtable, and an arena built
 * on any vtable and offering one itself, to show the interface composes.
 * Built a second time with PAGEALLOC_TEST_ON_CHECKED: the same tests on the
 * checked allocator over the page allocator, which must give the same
 * results and report nothing. Built again with PAGEALLOC_TEST_ON_CACHE: the
 * same tests on the caching allocator (with PAGEALLOC_TEST_ON_CHECKED too:
 * the checker over the cache), where a freed block goes back to the system
 * at pagealloc_cache_trim. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <string.h>

static size_t page;

#ifndef PAGEALLOC_TEST_ON_CHECKED
#define PAGEALLOC_TEST_ON_CHECKED 0
#endif
#ifndef PAGEALLOC_TEST_ON_CACHE
#define PAGEALLOC_TEST_ON_CACHE 0
#endif

static pagealloc_cache *cache;

/* Freed blocks leave the process: at once, or from the cache at trim. */
static void settle(void)
{
    pagealloc_cache_trim(cache);
}

static pagealloc_allocator tested;
static size_t mapped_base; /* the checker's own table and history */
static int misuses;

static void count_misuse(void *ctx, const struct pagealloc_misuse *m)
{
    (void)ctx;
    fprintf(stderr, "misuse %d in %s\n", (int)m->kind, m->call);
    misuses++;
}

static void page_allocator_entries_are_map_realloc_and_unmap(void)
{
    pagealloc_allocator a = tested;
    unsigned char *p = pagealloc_alloc(a, 3 * page, 1);
    CHECK(p != NULL && support_aligned(p, page));
    if (p == NULL)
        return;
    support_fill(p, 3 * page, 1);
    CHECK(pagealloc_resize(a, p, 3 * page, 1, page));
    CHECK(support_range_given_back(p + page, 2 * page));
    CHECK(pagealloc_resize(a, p, page, 1, 3 * page));
    CHECK(support_has_pattern(p, page, 1));
    /* Without a way to move pages, remap fails when the next page is taken. */
    unsigned char *q = pagealloc_remap(a, p, 3 * page, 1, 3 * page + 1);
    CHECK(q != NULL || !support_can_move());
    size_t q_len = q != NULL ? 3 * page + 1 : 3 * page;
    if (q == NULL)
        q = p;
    CHECK(support_has_pattern(q, page, 1));
    pagealloc_free(a, q, q_len, 1);
    settle();
    CHECK(support_range_unmapped(q, q_len));
    CHECK_ERRNO(pagealloc_alloc(a, 0, 1) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_alloc(a, page, 5) == NULL, EINVAL);
    pagealloc_free(a, NULL, 0, 1);
}

/* ---- A bump arena on top of any allocator ------------------------------- */

struct arena {
    pagealloc_allocator backing;
    unsigned char *chunk; /* current chunk; earlier chunks are chained in their first bytes */
    size_t chunk_len;
    size_t used;
};

struct chunk_header {
    unsigned char *prev;
    size_t prev_len;
};

static void *arena_alloc(void *ctx, size_t len, size_t alignment)
{
    struct arena *ar = ctx;
    if (len == 0 || alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t start = ar->chunk == NULL ? 0 : (ar->used + alignment - 1) & ~(alignment - 1);
    if (ar->chunk == NULL || start + len > ar->chunk_len) {
        size_t need = sizeof(struct chunk_header) + alignment + len;
        /* Grow the chunk in place first: the arena keeps one block then. */
        if (ar->chunk != NULL && start + len <= 2 * ar->chunk_len &&
            pagealloc_resize(ar->backing, ar->chunk, ar->chunk_len, page, 2 * ar->chunk_len)) {
            ar->chunk_len *= 2;
        } else {
            size_t chunk_len = need > 4 * page ? need : 4 * page;
            unsigned char *c = pagealloc_alloc(ar->backing, chunk_len, page);
            if (c == NULL)
                return NULL;
            struct chunk_header h = {ar->chunk, ar->chunk_len};
            memcpy(c, &h, sizeof h);
            ar->chunk = c;
            ar->chunk_len = chunk_len;
            ar->used = sizeof h;
            start = (ar->used + alignment - 1) & ~(alignment - 1);
        }
    }
    ar->used = start + len;
    return ar->chunk + start;
}

static bool arena_resize(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    struct arena *ar = ctx;
    (void)alignment;
    /* Only the newest allocation can change size, within its chunk. */
    unsigned char *p = ptr;
    if (p + len != ar->chunk + ar->used || (size_t)(p - ar->chunk) + new_len > ar->chunk_len)
        return new_len <= len;
    ar->used = (size_t)(p - ar->chunk) + new_len;
    return true;
}

static void *arena_remap(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    return arena_resize(ctx, ptr, len, alignment, new_len) ? ptr : NULL;
}

static void arena_free(void *ctx, void *ptr, size_t len, size_t alignment)
{
    (void)alignment;
    arena_resize(ctx, ptr, len, 1, 0);
}

static void arena_release(struct arena *ar)
{
    while (ar->chunk != NULL) {
        struct chunk_header h;
        memcpy(&h, ar->chunk, sizeof h);
        pagealloc_free(ar->backing, ar->chunk, ar->chunk_len, page);
        ar->chunk = h.prev;
        ar->chunk_len = h.prev_len;
    }
}

static const pagealloc_vtable arena_vtable = {arena_alloc, arena_resize, arena_remap, arena_free};

static void an_arena_on_the_vtable_serves_and_releases_everything(void)
{
    struct arena ar = {tested, NULL, 0, 0};
    pagealloc_allocator a = {&ar, &arena_vtable};
    enum { N = 2000 };
    static unsigned char *items[N];
    static size_t lens[N];
    for (int i = 0; i < N; i++) {
        lens[i] = 1 + (size_t)(i * 37 % 700);
        size_t align = (size_t)1 << (i % 7);
        items[i] = pagealloc_alloc(a, lens[i], align);
        CHECK(items[i] != NULL && support_aligned(items[i], align));
        if (items[i] == NULL)
            return;
        memset(items[i], i & 0xff, lens[i]);
    }
    /* The newest item grows in place; an older one cannot. */
    CHECK(pagealloc_resize(a, items[N - 1], lens[N - 1], 1, lens[N - 1] + 8));
    CHECK(!pagealloc_resize(a, items[0], lens[0], 1, lens[0] + 8));
    bool intact = true;
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < lens[i]; j++)
            intact = intact && items[i][j] == (unsigned char)(i & 0xff);
    CHECK(intact);
    CHECK(pagealloc_stats().mapped_bytes > mapped_base);
    arena_release(&ar);
    settle();
    CHECK(pagealloc_stats().mapped_bytes == mapped_base);
    CHECK(support_range_unmapped(items[0], 1));
    CHECK(support_range_unmapped(items[N - 1], 1));
}

int main(void)
{
    page = pagealloc_page_size();
    pagealloc_checked *c = NULL;
    tested = pagealloc_page_allocator();
    if (PAGEALLOC_TEST_ON_CACHE) {
        cache = pagealloc_cache_create(NULL);
        CHECK(cache != NULL);
        if (cache == NULL)
            return check_done();
        tested = pagealloc_cache_allocator(cache);
        mapped_base = pagealloc_stats().mapped_bytes;
    }
    if (PAGEALLOC_TEST_ON_CHECKED) {
        c = pagealloc_checked_create(tested, 0, count_misuse, NULL);
        CHECK(c != NULL);
        if (c == NULL)
            return check_done();
        tested = pagealloc_checked_allocator(c);
        mapped_base = pagealloc_stats().mapped_bytes;
    }
    RUN(page_allocator_entries_are_map_realloc_and_unmap);
    RUN(an_arena_on_the_vtable_serves_and_releases_everything);
    CHECK(pagealloc_checked_destroy(c) == 0 && misuses == 0);
    pagealloc_cache_destroy(cache);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
