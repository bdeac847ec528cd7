/*
 * Threads doing random operations for a bounded time: map with random sizes
 * and alignments, shrink, grow in place, move, free, through the functions
 * and through the vtable. Each thread checks the contents of its own blocks
 * after every change; at the end the bytes mapped are back where they began.
 * PAGEALLOC_STRESS_SECONDS (default 2) and PAGEALLOC_STRESS_THREADS
 * (default 4) set the length and width of a run.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

enum { SLOTS = 24, MAX_THREADS = 64 };

struct worker {
    unsigned id;
    uint64_t rng;
    double seconds;
    unsigned long ops;
    unsigned long moved;
    unsigned long refused;
    int failures;
};

struct slot {
    unsigned char *p;
    size_t len;
    size_t align;
    unsigned seed;
};

static size_t page;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Mostly small blocks, sometimes a few MiB (the page-table-span path). */
static size_t random_len(uint64_t *rng)
{
    uint64_t r = support_rand64(rng);
    if (r % 64 == 0)
        return 1 + (size_t)(support_rand64(rng) % (4u << 20));
    return 1 + (size_t)(support_rand64(rng) % (8 * page));
}

static size_t rounded(size_t len)
{
    return (len + page - 1) / page * page;
}

/* Whole-block checks are what catch a lost page; big blocks are checked on
 * one stretch per page to keep the run fast. */
static bool holds_pattern(const struct slot *s, size_t len)
{
    if (len <= 64 * page)
        return support_has_pattern(s->p, len, s->seed);
    for (size_t off = 0; off < len; off += page) {
        size_t n = len - off < 64 ? len - off : 64;
        for (size_t i = 0; i < n; i++)
            if (s->p[off + i] != support_pattern(off + i, s->seed))
                return false;
    }
    return true;
}

static void fill_block(struct slot *s, size_t from)
{
    for (size_t i = from; i < s->len; i++)
        s->p[i] = support_pattern(i, s->seed);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pagealloc_allocator a = pagealloc_page_allocator();
    struct slot slots[SLOTS] = {{0}};
    double end = now_seconds() + w->seconds;
    while (now_seconds() < end) {
        for (int burst = 0; burst < 64; burst++, w->ops++) {
            struct slot *s = &slots[support_rand64(&w->rng) % SLOTS];
            uint64_t r = support_rand64(&w->rng);
            if (s->p == NULL) {
                s->len = random_len(&w->rng);
                s->align = (size_t)1 << (support_rand64(&w->rng) % 23);
                s->seed = (unsigned)(support_rand64(&w->rng) >> 40);
                s->p = r % 2 ? pagealloc_map(s->len, s->align)
                             : pagealloc_alloc(a, s->len, s->align);
                if (s->p == NULL && errno == ENOMEM && support_under_qemu())
                    continue; /* qemu's hinted mmap: see support.h */
                if (s->p == NULL || !support_aligned(s->p, s->align > page ? s->align : page) ||
                    !support_all_zero(s->p, s->len < 4 * page ? s->len : 4 * page)) {
                    w->failures++;
                    s->p = NULL;
                    continue;
                }
                fill_block(s, 0);
                continue;
            }
            if (!holds_pattern(s, s->len))
                w->failures++;
            if (r % 4 == 0) {
                if (r % 8 == 0)
                    pagealloc_unmap(s->p, s->len);
                else
                    pagealloc_free(a, s->p, s->len, s->align);
                s->p = NULL;
                continue;
            }
            size_t new_len = random_len(&w->rng);
            bool may_move = r % 3 != 0;
            unsigned char *q;
            if (r % 5 == 0)
                q = may_move ? pagealloc_remap(a, s->p, s->len, s->align, new_len)
                             : (pagealloc_resize(a, s->p, s->len, s->align, new_len) ? s->p : NULL);
            else
                q = pagealloc_realloc(s->p, s->len, s->align, new_len, may_move);
            if (q == NULL) {
                w->refused++;
                continue;
            }
            if ((!may_move && q != s->p) ||
                !support_aligned(q, s->align > page ? s->align : page)) {
                w->failures++;
            }
            w->moved += q != s->p;
            size_t old_len = s->len;
            s->p = q;
            s->len = new_len;
            if (!holds_pattern(s, old_len < new_len ? old_len : new_len))
                w->failures++;
            if (new_len > rounded(old_len) &&
                !support_all_zero(q + rounded(old_len),
                                  new_len - rounded(old_len) < 4 * page ? new_len - rounded(old_len)
                                                                        : 4 * page))
                w->failures++;
            fill_block(s, old_len < new_len ? old_len : new_len);
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].p != NULL && !holds_pattern(&slots[i], slots[i].len))
            w->failures++;
        pagealloc_unmap(slots[i].p, slots[i].len);
    }
    return NULL;
}

static double env_number(const char *name, double fallback)
{
    const char *v = getenv(name);
    double x = v != NULL ? atof(v) : 0;
    return x > 0 ? x : fallback;
}

static void threads_doing_random_operations_keep_their_blocks_intact(void)
{
    double seconds = env_number("PAGEALLOC_STRESS_SECONDS", 2);
    int threads = (int)env_number("PAGEALLOC_STRESS_THREADS", 4);
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    size_t before = pagealloc_stats().mapped_bytes;
    static pthread_t tid[MAX_THREADS];
    static struct worker w[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        w[i].id = (unsigned)i;
        w[i].rng = support_seed_for((unsigned)i);
        w[i].seconds = seconds;
        CHECK(pthread_create(&tid[i], NULL, worker_main, &w[i]) == 0);
    }
    unsigned long ops = 0, moved = 0, refused = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        CHECK(w[i].failures == 0);
        ops += w[i].ops;
        moved += w[i].moved;
        refused += w[i].refused;
    }
    struct pagealloc_stats s = pagealloc_stats();
    CHECK(s.mapped_bytes == before);
    CHECK(s.unmap_failures == 0);
    printf("  %d threads x %.1f s: %lu operations (%lu moved, %lu refused without copying), "
           "peak %zu KiB mapped\n",
           threads, seconds, ops, moved, refused, s.peak_mapped_bytes >> 10);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(threads_doing_random_operations_keep_their_blocks_intact);
    return check_done();
}
