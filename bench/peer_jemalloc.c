/* jemalloc through its non-standard API (unprefixed in Debian's build: it
 * replaces malloc in its process, hence a worker of its own). */
#include "bench.h"

#include <jemalloc/jemalloc.h>

static void *je_alloc(size_t len, size_t align)
{
    return mallocx(len, MALLOCX_ALIGN(align));
}

static void je_release(void *p, size_t len)
{
    sdallocx(p, len, 0);
}

static void *je_grow(void *p, size_t len, size_t new_len)
{
    (void)len;
    return rallocx(p, new_len, 0);
}

const struct contender bench_contenders[] = {{"jemalloc", je_alloc, je_release, je_grow, NULL}};
const size_t bench_contender_count = 1;
