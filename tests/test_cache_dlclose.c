/* The shared library loaded with dlopen, a cache with its background thread
 * running, then dlclose without destroying the cache: the library stays
 * loaded, so the thread still has its code. The program does not link the
 * library (PAGEALLOC_TEST_LIBRARY is its path). Linux. */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"

#include <dlfcn.h>
#include <string.h>
#include <time.h>

static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

typedef pagealloc_cache *create_fn(const struct pagealloc_cache_options *);
typedef pagealloc_allocator allocator_fn(pagealloc_cache *);
typedef struct pagealloc_cache_stats stats_fn(pagealloc_cache *);
typedef void destroy_fn(pagealloc_cache *);

/* dlsym's object pointer as a function pointer, as POSIX has it (a cast is
 * not ISO C). */
#define LOOKUP(lib, name, fn)                                                          \
    do {                                                                               \
        void *sym_ = dlsym(lib, name);                                                 \
        memcpy(&(fn), &sym_, sizeof(fn));                                              \
    } while (0)

static void dlclose_leaves_the_running_cache_thread_its_code(void)
{
    void *lib = dlopen(PAGEALLOC_TEST_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL);
    if (lib == NULL)
        return;
    create_fn *create;
    allocator_fn *allocator;
    stats_fn *stats;
    LOOKUP(lib, "pagealloc_cache_create", create);
    LOOKUP(lib, "pagealloc_cache_allocator", allocator);
    LOOKUP(lib, "pagealloc_cache_stats", stats);
    CHECK(create != NULL && allocator != NULL && stats != NULL);
    if (create == NULL || allocator == NULL || stats == NULL)
        return;
    struct pagealloc_cache_options o = {0, 20, 0}; /* a wake-up every 5 ms */
    pagealloc_cache *cache = create(&o);
    CHECK(cache != NULL);
    if (cache == NULL)
        return;
    pagealloc_allocator a = allocator(cache);
    void *p = a.vtable->alloc(a.ctx, 4096, 1);
    CHECK(p != NULL);
    a.vtable->free(a.ctx, p, 4096, 1); /* kept: the thread starts */
    for (int i = 0; i < 3000 && stats(cache).wakeups == 0; i++)
        sleep_ms(1);
    CHECK(stats(cache).wakeups != 0);
    dlclose(lib);
    /* Still loaded (before: unmapped, and the thread's next wake-up faulted). */
    void *again = dlopen(PAGEALLOC_TEST_LIBRARY, RTLD_NOW | RTLD_NOLOAD);
    CHECK(again != NULL);
    if (again == NULL)
        return;
    /* The thread wakes and gives the block back (20 ms after the free; a
     * loaded machine may starve it: wait up to 30 s). */
    for (int i = 0; i < 3000 && stats(cache).cached_bytes != 0; i++)
        sleep_ms(10);
    CHECK(stats(cache).cached_bytes == 0);
    destroy_fn *destroy;
    LOOKUP(again, "pagealloc_cache_destroy", destroy);
    CHECK(destroy != NULL);
    if (destroy != NULL)
        destroy(cache);
    dlclose(again);
}

int main(void)
{
    RUN(dlclose_leaves_the_running_cache_thread_its_code);
    return check_done();
}
