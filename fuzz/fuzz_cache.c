/*
 * A libFuzzer target for the caching allocator, with a shadow model: each
 * input is a sequence of alloc, free, resize, remap and trim calls on a few
 * blocks of a small cache (max_bytes a few dozen pages, so that frees evict,
 * classes split and the cache fills). The model knows each live block's
 * length, alignment and pattern; after every step the target checks that
 * live blocks are aligned, keep their bytes, never overlap one another, that
 * that the cache never holds more than max_bytes, and that trim empties it
 * (no thread). At the end of each input
 * everything is freed and the cache destroyed: pagealloc_stats must show
 * every byte given back.
 */
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 6, MAX_STEPS = 96, MAX_PAGES = 80 };

struct block {
    unsigned char *p;
    size_t len, align;
    unsigned seed;
};

static size_t page;
static struct block blocks[SLOTS];

struct input {
    const uint8_t *data;
    size_t size;
};

static unsigned byte(struct input *in)
{
    if (in->size == 0)
        return 0;
    in->size--;
    return *in->data++;
}

static void fail(const char *what, int slot)
{
    fprintf(stderr, "fuzz_cache: %s (slot %d)\n", what, slot);
    abort();
}

static size_t length(struct input *in)
{
    size_t pages = 1 + (byte(in) % MAX_PAGES);
    size_t off = byte(in) % 3 == 0 ? byte(in) * 16u % page : 0;
    return pages * page - off;
}

/* Live blocks keep their bytes and their alignment, and never overlap. */
static void check_all(void)
{
    for (int i = 0; i < SLOTS; i++) {
        struct block *b = &blocks[i];
        if (b->p == NULL)
            continue;
        if (!support_aligned(b->p, b->align > page ? b->align : page))
            fail("misaligned", i);
        if (!support_has_pattern(b->p, b->len, b->seed))
            fail("bytes changed", i);
        for (int j = i + 1; j < SLOTS; j++) {
            struct block *o = &blocks[j];
            if (o->p != NULL && b->p < o->p + o->len && o->p < b->p + b->len)
                fail("overlap", i);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    page = pagealloc_page_size();
    size_t base = pagealloc_stats().mapped_bytes;
    size_t max_bytes = (16 + byte(&in) % 64) * page;
    struct pagealloc_cache_options o = {max_bytes, 1 + byte(&in) % 4,
                                        byte(&in) & 1 ? PAGEALLOC_CACHE_NO_THREAD : 0};
    pagealloc_cache *c = pagealloc_cache_create(&o);
    if (c == NULL)
        fail("create", -1);
    pagealloc_allocator a = pagealloc_cache_allocator(c);
    memset(blocks, 0, sizeof blocks);
    unsigned seed = 1;
    for (int step = 0; step < MAX_STEPS && in.size > 0; step++) {
        unsigned op = byte(&in), slot = byte(&in) % SLOTS;
        struct block *b = &blocks[slot];
        switch (op % 6) {
        case 0:
        case 1: /* alloc, or free a live block */
            if (b->p == NULL) {
                size_t len = length(&in), align = (size_t)1 << (byte(&in) % 16);
                b->p = pagealloc_alloc(a, len, align);
                if (b->p == NULL)
                    fail("alloc", (int)slot);
                b->len = len;
                b->align = align;
                b->seed = seed++;
                support_fill(b->p, len, b->seed);
            } else {
                pagealloc_free(a, b->p, b->len, b->align);
                b->p = NULL;
            }
            break;
        case 2: /* resize: in place or not at all */
            if (b->p != NULL) {
                size_t new_len = length(&in);
                if (pagealloc_resize(a, b->p, b->len, b->align, new_len)) {
                    size_t keep = b->len < new_len ? b->len : new_len;
                    if (!support_has_pattern(b->p, keep, b->seed))
                        fail("resize lost bytes", (int)slot);
                    b->len = new_len;
                    support_fill(b->p, new_len, b->seed);
                }
            }
            break;
        case 3: /* remap: may move; NULL leaves the block as it was */
            if (b->p != NULL) {
                size_t new_len = length(&in);
                unsigned char *q = pagealloc_remap(a, b->p, b->len, b->align, new_len);
                if (q != NULL) {
                    size_t keep = b->len < new_len ? b->len : new_len;
                    if (!support_has_pattern(q, keep, b->seed))
                        fail("remap lost bytes", (int)slot);
                    b->p = q;
                    b->len = new_len;
                    support_fill(q, new_len, b->seed);
                }
            }
            break;
        case 4:
            pagealloc_cache_trim(c);
            if (pagealloc_cache_stats(c).cached_bytes != 0 && o.flags == PAGEALLOC_CACHE_NO_THREAD)
                fail("trim left bytes", -1);
            break;
        default: /* bad calls fail with EINVAL and change nothing */
            errno = 0;
            if (pagealloc_alloc(a, 0, 1) != NULL || errno != EINVAL)
                fail("alloc(0)", -1);
            if (b->p != NULL && (pagealloc_resize(a, b->p + 1, b->len, 1, page) || errno != EINVAL))
                fail("resize of an unaligned pointer", (int)slot);
            break;
        }
        if (pagealloc_cache_stats(c).cached_bytes > max_bytes)
            fail("more than max_bytes cached", -1);
        check_all();
    }
    for (int i = 0; i < SLOTS; i++)
        if (blocks[i].p != NULL)
            pagealloc_free(a, blocks[i].p, blocks[i].len, blocks[i].align);
    pagealloc_cache_destroy(c);
    if (pagealloc_stats().mapped_bytes != base)
        fail("bytes left mapped", -1);
    return 0;
}
