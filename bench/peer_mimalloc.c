/* mimalloc through its mi_ API (its library also replaces malloc in this
 * process, which is why it has a worker of its own). */
#include "bench.h"

#include <mimalloc.h>

static void *mi_alloc(size_t len, size_t align)
{
    return mi_malloc_aligned(len, align);
}

static void mi_release(void *p, size_t len)
{
    (void)len;
    mi_free(p);
}

static void *mi_grow(void *p, size_t len, size_t new_len)
{
    (void)len;
    return mi_realloc(p, new_len);
}

const struct contender bench_contenders[] = {{"mimalloc", mi_alloc, mi_release, mi_grow, NULL}};
const size_t bench_contender_count = 1;
