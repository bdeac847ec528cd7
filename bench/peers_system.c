/*
 * Contenders that need no other library: the system calls themselves (the
 * floor, and two other ways to place an aligned block), pagealloc, pagealloc
 * growing by alloc + copy + free, pagealloc's caching allocator, and the C
 * library's allocator.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "pagealloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *sys_map(void *addr, size_t len, int flags)
{
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* The floor: one mmap wherever the kernel likes (alignment ignored). */
static void *mmap_alloc(size_t len, size_t align)
{
    (void)align;
    return sys_map(NULL, len, 0);
}

static void mmap_free(void *p, size_t len)
{
    munmap(p, len);
}

static void *mmap_grow(void *p, size_t len, size_t new_len)
{
    void *q = mremap(p, len, new_len, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : q;
}

/* One mmap at an aligned address with nothing else around it, found once per
 * process: where an aligned allocator's block sits in the steady state. */
static void *mmap_at_aligned_alloc(size_t len, size_t align)
{
    static char *spot;
    static size_t spot_len, spot_align;
    if (spot == NULL || spot_len != len || spot_align != align) {
        char *r = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (r == MAP_FAILED)
            return NULL;
        munmap(r, len + align);
        spot = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
        spot_len = len;
        spot_align = align;
    }
    return sys_map(spot, len, MAP_FIXED_NOREPLACE);
}

/* Zig's and rpmalloc's way: map len + align, unmap both ends. */
static void *mmap_trim_alloc(size_t len, size_t align)
{
    size_t page = pagealloc_page_size();
    if (align <= page)
        return sys_map(NULL, len, 0);
    size_t span = len + align - page;
    char *r = sys_map(NULL, span, 0);
    if (r == NULL)
        return NULL;
    char *p = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
    if (p != r)
        munmap(r, (size_t)(p - r));
    size_t back = span - (size_t)(p - r) - len;
    if (back != 0)
        munmap(p + len, back);
    return p;
}

static void *pa_alloc(size_t len, size_t align)
{
    return pagealloc_map(len, align);
}

static void pa_free(void *p, size_t len)
{
    pagealloc_unmap(p, len);
}

static void *pa_grow(void *p, size_t len, size_t new_len)
{
    return pagealloc_realloc(p, len, 1, new_len, true);
}

static void *pa_huge_alloc(size_t len, size_t align)
{
    return pagealloc_mapx(len, align, PAGEALLOC_HUGE);
}

/* The physical floor of a fill: memory made resident before the timing. */
static void *pa_resident_alloc(size_t len, size_t align)
{
    return pagealloc_mapx(len, align, PAGEALLOC_POPULATE);
}

/* What a user without remap would do: a new block, a copy, a free. */
static void *pa_copy_grow(void *p, size_t len, size_t new_len)
{
    void *q = pagealloc_map(new_len, 1);
    if (q == NULL)
        return NULL;
    memcpy(q, p, len);
    pagealloc_unmap(p, len);
    return q;
}

/* The checked allocator over the page allocator, made on first use. */
static pagealloc_allocator checked(unsigned options)
{
    static pagealloc_checked *c[2];
    if (c[options != 0] == NULL)
        c[options != 0] = pagealloc_checked_create(pagealloc_page_allocator(), options, NULL, NULL);
    return pagealloc_checked_allocator(c[options != 0]);
}

static void *checked_alloc(size_t len, size_t align)
{
    return pagealloc_alloc(checked(0), len, align);
}

/* The checker wants the alignment of the alloc: the rows that run it are
 * page-aligned. */
static void checked_free(void *p, size_t len)
{
    pagealloc_free(checked(0), p, len, pagealloc_page_size());
}

static void *guarded_alloc(size_t len, size_t align)
{
    return pagealloc_alloc(checked(PAGEALLOC_CHECK_GUARD), len, align);
}

static void guarded_free(void *p, size_t len)
{
    pagealloc_free(checked(PAGEALLOC_CHECK_GUARD), p, len, pagealloc_page_size());
}

/* The caching allocator with its default options, made on first use, never
 * trimmed or destroyed: what a program that just uses it gets. */
static pagealloc_cache *cache_instance(void)
{
    static pagealloc_cache *cache;
    if (cache == NULL)
        cache = pagealloc_cache_create(NULL);
    return cache;
}

static void *cache_alloc(size_t len, size_t align)
{
    pagealloc_cache *cache = cache_instance();
    return cache != NULL ? pagealloc_alloc(pagealloc_cache_allocator(cache), len, align) : NULL;
}

/* The free wants the alignment of the alloc: the rows that run the cache are
 * page-aligned. */
static void cache_free(void *p, size_t len)
{
    pagealloc_free(pagealloc_cache_allocator(cache_instance()), p, len, pagealloc_page_size());
}

static void *cache_grow(void *p, size_t len, size_t new_len)
{
    return pagealloc_remap(pagealloc_cache_allocator(cache_instance()), p, len,
                           pagealloc_page_size(), new_len);
}

static void cache_counters(double *hits, double *misses)
{
    pagealloc_cache *cache = cache_instance();
    struct pagealloc_cache_stats s = {0};
    if (cache != NULL)
        s = pagealloc_cache_stats(cache);
    *hits = (double)s.hits;
    *misses = (double)s.misses;
}

static void *glibc_alloc(size_t len, size_t align)
{
    return aligned_alloc(align, len);
}

static void glibc_free(void *p, size_t len)
{
    (void)len;
    free(p);
}

static void *glibc_grow(void *p, size_t len, size_t new_len)
{
    (void)len;
    return realloc(p, new_len);
}

const struct contender bench_contenders[] = {
    {"mmap", mmap_alloc, mmap_free, mmap_grow, NULL},
    {"mmap@aligned", mmap_at_aligned_alloc, mmap_free, NULL, NULL},
    {"mmap+trim", mmap_trim_alloc, mmap_free, NULL, NULL},
    {"pagealloc", pa_alloc, pa_free, pa_grow, NULL},
    {"pagealloc+copy", pa_alloc, pa_free, pa_copy_grow, NULL},
    {"glibc", glibc_alloc, glibc_free, glibc_grow, NULL},
    {"pagealloc-huge", pa_huge_alloc, pa_free, pa_grow, NULL},
    {"resident", pa_resident_alloc, pa_free, NULL, NULL},
    {"pagealloc+checked", checked_alloc, checked_free, NULL, NULL},
    {"pagealloc+guard", guarded_alloc, guarded_free, NULL, NULL},
    {"pagealloc-cache", cache_alloc, cache_free, cache_grow, cache_counters},
};
const size_t bench_contender_count = sizeof bench_contenders / sizeof bench_contenders[0];
