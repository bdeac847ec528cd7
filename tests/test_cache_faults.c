/* The caching allocator when a system call fails (fault injection): each
 * call of a script (misses, a split, resizes, moves, evictions, purges,
 * trim) fails in turn. Every failure must come back as a failed call with
 * the block untouched, and once the cache is destroyed nothing it mapped is
 * left behind. A thread that cannot be started leaves a cache that still
 * gives memory back, on calls, and starts its thread later. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "cache_os.h"
#include "check.h"
#include "fault.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <string.h>
#ifndef _WIN32
#include <time.h>
#endif

static size_t page;

static void sleep_ms(unsigned ms)
{
#ifdef _WIN32
    Sleep(ms);
#else
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
#endif
}

struct slot {
    unsigned char *p;
    size_t len;
};

static void get(pagealloc_allocator a, struct slot *s, size_t len, unsigned seed)
{
    s->p = pagealloc_alloc(a, len, 1);
    s->len = len;
    if (s->p == NULL) {
        CHECK(errno == ENOMEM);
        return;
    }
    support_fill(s->p, len, seed);
}

static void put(pagealloc_allocator a, struct slot *s)
{
    pagealloc_free(a, s->p, s->len, 1);
    s->p = NULL;
}

/* Resizes s to new_len (resize, or remap when move), checking either outcome. */
static void change(pagealloc_allocator a, struct slot *s, size_t new_len, bool move,
                   unsigned seed)
{
    if (s->p == NULL)
        return;
    unsigned char *q = move ? pagealloc_remap(a, s->p, s->len, 1, new_len)
                            : (pagealloc_resize(a, s->p, s->len, 1, new_len) ? s->p : NULL);
    size_t keep = s->len < new_len ? s->len : new_len;
    if (q == NULL) {
        CHECK(errno == ENOMEM || errno == EAGAIN);
        CHECK(support_has_pattern(s->p, s->len, seed)); /* untouched */
        return;
    }
    CHECK(support_has_pattern(q, keep, seed));
    s->p = q;
    s->len = new_len;
    support_fill(q, new_len, seed);
}

static void script(pagealloc_cache *c)
{
    pagealloc_allocator a = pagealloc_cache_allocator(c);
    struct slot s[4];
    get(a, &s[0], 3 * page, 0);      /* misses: maps */
    get(a, &s[1], page + 1, 1);
    get(a, &s[2], 40 * page, 2);
    put(a, &s[1]);                   /* cached */
    get(a, &s[1], 2 * page, 1);      /* a hit */
    change(a, &s[0], 5 * page, false, 0);  /* grows in place */
    change(a, &s[0], 2 * page, false, 0);  /* shrinks */
    change(a, &s[0], 4 * page, true, 0);   /* moves by copying */
    change(a, &s[2], 80 * page, true, 2);  /* moves its pages */
    put(a, &s[2]);                   /* cached, 80 pages */
    get(a, &s[2], 50 * page, 2);     /* a split: its tail unmapped */
    get(a, &s[3], 30 * page, 3);
    for (unsigned i = 0; i < 4; i++) /* past max_bytes: evictions */
        put(a, &s[i]);
    get(a, &s[0], 3 * page, 0);
    pagealloc_cache_trim(c);         /* purges */
    put(a, &s[0]);
}

static uint64_t run(uint64_t n, uint64_t failures, int err)
{
    size_t base = pagealloc_stats().mapped_bytes, mapped = support_mapped_bytes();
    uint64_t refused = pagealloc_stats().unmap_failures;
    struct pagealloc_cache_options o = {100 * page, 1000000, PAGEALLOC_CACHE_NO_THREAD};
    pa_fault_arm(PA_SYS_KINDS, n, failures, err);
    pagealloc_cache *c = pagealloc_cache_create(&o);
    if (c == NULL) {
        CHECK(errno == err);
    } else {
        script(c);
    }
    pa_fault_disarm();
    uint64_t seen = pa_fault_seen();
    pagealloc_cache_destroy(c);
    CHECK(pagealloc_stats().mapped_bytes == base);
    if (pagealloc_stats().unmap_failures == refused)
        CHECK(support_mapped_bytes() == mapped);
    return seen;
}

static void each_failed_call_fails_cleanly_and_leaves_nothing(void)
{
    support_mapped_bytes(); /* the first read may map the C library's buffers */
    uint64_t calls = run(UINT64_MAX, 1, ENOMEM);
    CHECK(calls > 10);
    for (uint64_t n = 1; n <= calls; n++) {
        int before = check_failures;
        run(n, 1, ENOMEM);
        if (check_failures != before)
            fprintf(stderr, "  ... with call %llu of %llu failing\n", (unsigned long long)n,
                    (unsigned long long)calls);
    }
}

static void every_call_failing_from_one_on_fails_cleanly(void)
{
    uint64_t calls = run(UINT64_MAX, 1, ENOMEM);
    for (uint64_t n = 1; n <= calls; n += 2)
        run(n, UINT64_MAX, ENOMEM);
}

static void a_thread_that_cannot_start_leaves_calls_to_purge(void)
{
    struct pagealloc_cache_options o = {0, 10, 0};
    pagealloc_cache *c = pagealloc_cache_create(&o);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    pagealloc_allocator a = pagealloc_cache_allocator(c);
    pa_cache_fail_thread_starts(1000000, EAGAIN);
    void *p = pagealloc_alloc(a, 7 * page, 1);
    CHECK(p != NULL);
    pagealloc_free(a, p, 7 * page, 1);
    CHECK(pagealloc_cache_stats(c).cached_bytes == 7 * page);
    /* Calls purge what is due, as without a thread. */
    bool purged = false;
    for (int i = 0; i < 1000 && !purged; i++) {
        sleep_ms(5);
        void *q = pagealloc_alloc(a, page, 1);
        pagealloc_free(a, q, page, 1);
        purged = pagealloc_cache_stats(c).purged_bytes >= 7 * page;
    }
    CHECK(purged);
    CHECK(pagealloc_cache_stats(c).wakeups == 0);
    /* Once threads can start, a later call starts it, and it purges. */
    pa_cache_fail_thread_starts(0, 0);
    bool woke = false;
    for (int i = 0; i < 1000 && !woke; i++) {
        sleep_ms(5);
        void *q = pagealloc_alloc(a, page, 1);
        pagealloc_free(a, q, page, 1);
        woke = pagealloc_cache_stats(c).wakeups > 0;
    }
    CHECK(woke);
    pagealloc_cache_destroy(c);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(each_failed_call_fails_cleanly_and_leaves_nothing);
    RUN(every_call_failing_from_one_on_fails_cleanly);
    RUN(a_thread_that_cannot_start_leaves_calls_to_purge);
    return check_done();
}
