/*
 * The caching allocator: a client of the public API (pagealloc_map, unmap,
 * realloc) that keeps freed blocks in per-thread shards, by size class, and
 * gives them back to the system once unused for decay_ms, from a background
 * thread. The page allocator has no branch for it; what it needs from the
 * system besides pages is behind cache_os.h.
 *
 * Ownership of a cached block: it belongs to the ring it sits in, and is
 * only taken out of it under its shard's lock, by a hit, an eviction or a
 * purge. Whoever takes it out holds it alone, so a purge never races an
 * owner for a block (the ownership rule of src/os.h is kept by
 * pagealloc_unmap beneath).
 */
#include "pagealloc.h"

#include "cache_os.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

/* ---- Policy ------------------------------------------------------------- */

/* Shards: a thread takes the next one on its first call (round-robin); with
 * more threads than shards some share one, and a lock, still correctly. */
#define SHARDS 8
/* Size classes by page count: every count up to EXACT_PAGES, then
 * CLASSES_PER_DOUBLING per doubling (at most 25 % more pages mapped than
 * asked for, untouched pages taking no memory). EXACT_PAGES must be a power
 * of two of at least CLASSES_PER_DOUBLING, itself a power of two. */
#define EXACT_PAGES 16u
#define EXACT_SHIFT 4u /* log2(EXACT_PAGES) */
#define CLASSES_PER_DOUBLING 4u
#define DOUBLING_SHIFT 2u /* log2(CLASSES_PER_DOUBLING) */
/* Blocks a shard keeps per class; the oldest goes back when a free finds
 * the ring full. */
#define RING_SLOTS 64u
/* An alloc aligned above the page looks at this many of the newest blocks
 * of its class for one aligned enough. */
#define ALIGN_SCAN 4u
/* An alloc whose class is empty takes a block of one of this many classes
 * above it (up to twice its size with four classes per doubling) and gives
 * its tail back. */
#define SPLIT_CLASSES 4u
/* A purge pass takes at most this many blocks out under a lock at a time. */
#define BATCH 32u
/* The background thread wakes every decay_ms / TICK_DIVISOR while the cache
 * holds anything: a block goes back between decay_ms and 1.25 decay_ms (plus
 * a tick of stamping delay) after its free. */
#define TICK_DIVISOR 4u

/* ---- Data ---------------------------------------------------------------- */

struct entry {
    void *ptr;
    uint64_t freed_ms; /* 0: freed since the last purge pass (stamped by it) */
};

/* A stack with its oldest end open to the purge: push and pop at the top
 * (the newest, most likely resident block first), purge at the bottom. */
struct ring {
    unsigned head, count; /* e[head] is the oldest */
    struct entry e[RING_SLOTS];
};

/* Classes for the smallest page size, 4 KiB: class_of(4096 pages) + 1 for
 * PAGEALLOC_CACHE_MAX_BLOCK of 16 MiB (create checks it). */
#define CLASSES_MAX 48u

struct shard {
    _Alignas(64) pa_cache_lock lock;
    size_t held;     /* bytes of the blocks in the rings */
    size_t inflight; /* bytes taken out by a purge and not yet unmapped */
    size_t credit;   /* bytes of max_bytes this shard may hold: held + inflight <= credit */
    uint64_t hits, evicted;
    struct ring ring[CLASSES_MAX];
};

struct pagealloc_cache {
    size_t max_bytes;
    unsigned decay_ms, tick_ms, flags;
    size_t page;
    unsigned page_shift;
    size_t max_pages; /* the largest cached block, in pages */
    unsigned classes;
    size_t credit_chunk; /* credit a shard takes from the pool at a time */
    size_t self_len;
    _Atomic size_t free_credit;    /* max_bytes less every shard's credit */
    _Atomic bool thread_running;   /* frees leave stamping to the thread */
    _Atomic bool idle;             /* a free must wake (or start) the thread */
    _Atomic uint64_t next_pass_ms; /* no thread: when a call next purges */
    _Atomic uint64_t purged, wakeups, misses, splits;
    /* Held by a purge pass from taking a batch out to unmapping it, and by
     * fork's handlers: a child is never forked with a batch half unmapped
     * by a thread it does not have (its bytes counted for ever). */
    pa_cache_lock purge_lock;
    pa_cache_waiter waiter; /* guards started, stop, thread */
    bool started, stop;
    pa_cache_thread thread;
    pagealloc_cache *next; /* the registry of caches (fork), under its lock */
    struct shard shard[SHARDS];
};

/* ---- Size classes -------------------------------------------------------- */

static unsigned log2_floor(size_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)(sizeof(unsigned long long) * 8 - 1) - (unsigned)__builtin_clzll(x);
#else
    unsigned k = 0;
    while (x >>= 1)
        k++;
    return k;
#endif
}

/* The class of a block of `pages` pages (1 <= pages <= max_pages). */
static unsigned class_of(size_t pages)
{
    if (pages <= EXACT_PAGES)
        return (unsigned)pages - 1;
    size_t m = pages - 1;
    unsigned k = log2_floor(m);
    size_t j = ((m - ((size_t)1 << k)) >> (k - DOUBLING_SHIFT)) + 1; /* 1..CLASSES_PER_DOUBLING */
    return EXACT_PAGES + (k - EXACT_SHIFT) * CLASSES_PER_DOUBLING + (unsigned)j - 1;
}

/* The pages of a block of class cls. */
static size_t class_pages(unsigned cls)
{
    if (cls < EXACT_PAGES)
        return (size_t)cls + 1;
    unsigned i = cls - EXACT_PAGES;
    unsigned k = EXACT_SHIFT + i / CLASSES_PER_DOUBLING;
    size_t j = i % CLASSES_PER_DOUBLING + 1;
    return ((size_t)1 << k) + (j << (k - DOUBLING_SHIFT));
}

static size_t class_bytes(const pagealloc_cache *c, unsigned cls)
{
    return class_pages(cls) << c->page_shift;
}

/* The pages len rounds up to (len > 0; never overflows). */
static size_t pages_of(const pagealloc_cache *c, size_t len)
{
    return ((len - 1) >> c->page_shift) + 1;
}

/* The bytes a block of len bytes is mapped with: its class's, or its own
 * whole pages when it is too large to cache; false when that overflows. */
static bool mapped_len(const pagealloc_cache *c, size_t len, size_t *out)
{
    size_t pages = pages_of(c, len);
    if (pages <= c->max_pages) {
        *out = class_bytes(c, class_of(pages));
        return true;
    }
    if (pages > (SIZE_MAX >> c->page_shift))
        return false;
    *out = pages << c->page_shift;
    return true;
}

static bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* ---- Rings ----------------------------------------------------------------- */

static struct entry *ring_at(struct ring *r, unsigned i)
{
    return &r->e[(r->head + i) & (RING_SLOTS - 1)];
}

static void ring_push(struct ring *r, void *ptr, uint64_t stamp)
{
    struct entry *e = ring_at(r, r->count++);
    e->ptr = ptr;
    e->freed_ms = stamp;
}

static void *ring_pop(struct ring *r)
{
    return ring_at(r, --r->count)->ptr;
}

static void *ring_take_oldest(struct ring *r)
{
    void *p = r->e[r->head].ptr;
    r->head = (r->head + 1) & (RING_SLOTS - 1);
    r->count--;
    return p;
}

/* One of the ALIGN_SCAN newest blocks aligned to `align`, taken out, or NULL. */
static void *ring_take_aligned(struct ring *r, size_t align)
{
    unsigned scan = r->count < ALIGN_SCAN ? r->count : ALIGN_SCAN;
    for (unsigned n = 1; n <= scan; n++) {
        unsigned i = r->count - n;
        void *p = ring_at(r, i)->ptr;
        if (((uintptr_t)p & (align - 1)) == 0) {
            for (; i + 1 < r->count; i++)
                *ring_at(r, i) = *ring_at(r, i + 1);
            r->count--;
            return p;
        }
    }
    return NULL;
}

/* Gives blocks freed since the last pass the time of this one. They sit on
 * top: stamps never decrease from the bottom up. */
static void ring_stamp(struct ring *r, uint64_t now)
{
    for (unsigned i = r->count; i-- > 0;) {
        struct entry *e = ring_at(r, i);
        if (e->freed_ms != 0)
            break;
        e->freed_ms = now;
    }
}

/* ---- Threads and shards ---------------------------------------------------- */

#if (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
#define INITIAL_EXEC __attribute__((tls_model("initial-exec")))
#else
#define INITIAL_EXEC
#endif

/* 1 + the calling thread's shard index, or 0 before its first call. The
 * initial-exec model makes it one load even in the shared library. */
static _Thread_local unsigned my_shard INITIAL_EXEC;
static _Atomic unsigned next_shard;

static struct shard *shard_of(pagealloc_cache *c)
{
    unsigned i = my_shard;
    if (i == 0) {
        i = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % SHARDS + 1;
        my_shard = i;
    }
    return &c->shard[i - 1];
}

/* ---- Credit: max_bytes shared out among the shards ------------------------ */

/* Takes up to max(need, credit_chunk) bytes of credit from the pool. */
static size_t take_credit(pagealloc_cache *c, size_t need)
{
    size_t want = need > c->credit_chunk ? need : c->credit_chunk;
    size_t avail = atomic_load_explicit(&c->free_credit, memory_order_relaxed);
    size_t take;
    do {
        take = avail < want ? avail : want;
        if (take == 0)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(&c->free_credit, &avail, avail - take,
                                                    memory_order_relaxed, memory_order_relaxed));
    return take;
}

/* Returns a locked shard's credit beyond what it holds plus `reserve`. */
static void return_credit(pagealloc_cache *c, struct shard *s, size_t reserve)
{
    size_t keep = s->held + s->inflight;
    keep = keep > SIZE_MAX - reserve ? SIZE_MAX : keep + reserve;
    if (s->credit > keep) {
        atomic_fetch_add_explicit(&c->free_credit, s->credit - keep, memory_order_relaxed);
        s->credit = keep;
    }
}

/* Unmaps the locked shard's oldest block (a free that does not fit must
 * not wait for the purge); false when the shard holds none. */
static bool evict_oldest(pagealloc_cache *c, struct shard *s)
{
    struct ring *best = NULL;
    uint64_t best_stamp = 0;
    unsigned best_cls = 0;
    for (unsigned k = c->classes; k-- > 0;) {
        struct ring *r = &s->ring[k];
        if (r->count == 0)
            continue;
        uint64_t t = r->e[r->head].freed_ms;
        t = t == 0 ? UINT64_MAX : t;
        if (best == NULL || t < best_stamp) {
            best = r;
            best_stamp = t;
            best_cls = k;
        }
    }
    if (best == NULL)
        return false;
    size_t size = class_bytes(c, best_cls);
    void *p = ring_take_oldest(best);
    s->held -= size;
    s->evicted += size;
    pagealloc_unmap(p, size);
    atomic_fetch_add_explicit(&c->purged, size, memory_order_relaxed);
    return true;
}

/* Makes room in a locked shard for `size` more bytes within its credit,
 * taking credit from the pool, else evicting its oldest blocks; false when
 * even an empty shard cannot get the credit. */
static bool make_room(pagealloc_cache *c, struct shard *s, size_t size)
{
    while (s->held + s->inflight + size > s->credit) {
        s->credit += take_credit(c, s->held + s->inflight + size - s->credit);
        if (s->held + s->inflight + size <= s->credit)
            return true;
        if (!evict_oldest(c, s))
            return false;
    }
    return true;
}

/* ---- Purging ------------------------------------------------------------- */

struct batch {
    unsigned n;
    size_t bytes;
    void *ptr[BATCH];
    size_t len[BATCH];
};

/* Gives back what is due in one shard at `now` (everything when `all`),
 * adding the bytes to *given; returns the bytes it still holds. */
static size_t purge_shard(pagealloc_cache *c, struct shard *s, uint64_t now, bool all,
                          size_t *given)
{
    bool more;
    do {
        struct batch b;
        b.n = 0;
        b.bytes = 0;
        more = false;
        pa_cache_lock_acquire(&c->purge_lock);
        pa_cache_lock_acquire(&s->lock);
        for (unsigned k = 0; k < c->classes && !more; k++) {
            struct ring *r = &s->ring[k];
            ring_stamp(r, now);
            while (r->count > 0 &&
                   (all || r->e[r->head].freed_ms + c->decay_ms <= now)) {
                if (b.n == BATCH) {
                    more = true;
                    break;
                }
                b.len[b.n] = class_bytes(c, k);
                b.ptr[b.n] = ring_take_oldest(r);
                b.bytes += b.len[b.n++];
            }
        }
        s->held -= b.bytes;
        s->inflight += b.bytes;
        pa_cache_lock_release(&s->lock);
        /* Taken out under the lock: these blocks are this pass's alone. */
        for (unsigned i = 0; i < b.n; i++)
            pagealloc_unmap(b.ptr[i], b.len[i]);
        atomic_fetch_add_explicit(&c->purged, b.bytes, memory_order_relaxed);
        *given += b.bytes;
        pa_cache_lock_acquire(&s->lock);
        s->inflight -= b.bytes;
        if (!more)
            return_credit(c, s, all ? 0 : c->credit_chunk);
        size_t left = s->held + s->inflight;
        pa_cache_lock_release(&s->lock);
        pa_cache_lock_release(&c->purge_lock);
        if (!more)
            return left;
    } while (true);
}

/* A purge pass over every shard, adding the bytes it gives back to *given;
 * returns the bytes the cache still holds. */
static size_t purge_all(pagealloc_cache *c, uint64_t now, bool all, size_t *given)
{
    size_t left = 0;
    for (unsigned i = 0; i < SHARDS; i++)
        left += purge_shard(c, &c->shard[i], now, all, given);
    return left;
}

static size_t held_bytes(pagealloc_cache *c)
{
    size_t held = 0;
    for (unsigned i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shard[i];
        pa_cache_lock_acquire(&s->lock);
        held += s->held + s->inflight;
        pa_cache_lock_release(&s->lock);
    }
    return held;
}

/* ---- The background thread ---------------------------------------------- */

/* Starts the thread if it is not running (waiter locked); false if the
 * system refuses, the cache then purging on calls until a later try. */
static bool start_thread(pagealloc_cache *c)
{
    if (c->started || c->stop || (c->flags & PAGEALLOC_CACHE_NO_THREAD))
        return c->started;
    if (pa_cache_thread_start(&c->thread, c) != 0)
        return false;
    c->started = true;
    atomic_store_explicit(&c->thread_running, true, memory_order_relaxed);
    return true;
}

/* A free found the thread idle (or not started): wakes or starts it. */
static void wake(pagealloc_cache *c)
{
    pa_cache_waiter_lock(&c->waiter);
    if (start_thread(c) && atomic_load(&c->idle)) {
        atomic_store(&c->idle, false);
        pa_cache_signal(&c->waiter);
    } else if (!c->started) {
        atomic_store(&c->idle, false); /* no thread: calls purge (maybe_purge) */
    }
    pa_cache_waiter_unlock(&c->waiter);
}

void pa_cache_thread_main(void *arg)
{
    pagealloc_cache *c = arg;
    pa_cache_waiter_lock(&c->waiter);
    while (!c->stop) {
        if (atomic_load(&c->idle)) {
            pa_cache_wait(&c->waiter, 0); /* empty: no wake-up until a free */
            continue;
        }
        pa_cache_waiter_unlock(&c->waiter);
        atomic_fetch_add_explicit(&c->wakeups, 1, memory_order_relaxed);
        size_t given = 0;
        if (purge_all(c, pa_cache_now_ms(), false, &given) == 0) {
            /* Idle first, then look again: a free that pushed after this
             * look sees idle and wakes the thread. */
            atomic_store(&c->idle, true);
            if (held_bytes(c) != 0)
                atomic_store(&c->idle, false);
        }
        pa_cache_waiter_lock(&c->waiter);
        if (!c->stop && !atomic_load(&c->idle))
            pa_cache_wait(&c->waiter, c->tick_ms);
    }
    pa_cache_waiter_unlock(&c->waiter);
}

/* Without a running thread, a call purges what is due, at most once a tick. */
static void maybe_purge(pagealloc_cache *c)
{
    if (atomic_load_explicit(&c->thread_running, memory_order_relaxed))
        return;
    uint64_t now = pa_cache_now_ms();
    uint64_t next = atomic_load_explicit(&c->next_pass_ms, memory_order_relaxed);
    if (now < next || !atomic_compare_exchange_strong_explicit(&c->next_pass_ms, &next,
                                                               now + c->tick_ms,
                                                               memory_order_relaxed,
                                                               memory_order_relaxed))
        return;
    if (!(c->flags & PAGEALLOC_CACHE_NO_THREAD)) {
        pa_cache_waiter_lock(&c->waiter);
        start_thread(c);
        pa_cache_waiter_unlock(&c->waiter);
    }
    size_t given = 0;
    purge_all(c, now, false, &given);
}

/* ---- fork() ------------------------------------------------------------ */

static pagealloc_cache *registry;

void pa_cache_fork_prepare(void)
{
    pa_cache_registry_lock();
    for (pagealloc_cache *c = registry; c != NULL; c = c->next) {
        pa_cache_waiter_lock(&c->waiter);
        pa_cache_lock_acquire(&c->purge_lock);
        for (unsigned i = 0; i < SHARDS; i++)
            pa_cache_lock_acquire(&c->shard[i].lock);
    }
}

void pa_cache_fork_parent(void)
{
    for (pagealloc_cache *c = registry; c != NULL; c = c->next) {
        for (unsigned i = SHARDS; i-- > 0;)
            pa_cache_lock_release(&c->shard[i].lock);
        pa_cache_lock_release(&c->purge_lock);
        pa_cache_waiter_unlock(&c->waiter);
    }
    pa_cache_registry_unlock();
}

/* The child has the forking thread alone: no purger. Blocks the parent's
 * thread was to stamp get the fork's time; the next free starts a thread. */
void pa_cache_fork_child(void)
{
    uint64_t now = pa_cache_now_ms();
    for (pagealloc_cache *c = registry; c != NULL; c = c->next) {
        for (unsigned i = SHARDS; i-- > 0;) {
            for (unsigned k = 0; k < c->classes; k++)
                ring_stamp(&c->shard[i].ring[k], now);
            pa_cache_lock_release(&c->shard[i].lock);
        }
        pa_cache_lock_release(&c->purge_lock);
        c->started = false;
        atomic_store(&c->thread_running, false);
        atomic_store(&c->next_pass_ms, 0);
        if (pa_cache_waiter_after_fork(&c->waiter) != 0)
            c->flags |= PAGEALLOC_CACHE_NO_THREAD; /* no condition to wait on */
        atomic_store(&c->idle, !(c->flags & PAGEALLOC_CACHE_NO_THREAD));
    }
    pa_cache_registry_unlock();
}

/* ---- The allocator --------------------------------------------------------- */

/* A block of class cls from another thread's shard (frees passed between
 * threads land in the freeing thread's shard), looking only where no one is
 * busy; a hit, or NULL. */
static void *take_elsewhere(pagealloc_cache *c, struct shard *s, unsigned cls, size_t alignment)
{
    void *p = NULL;
    for (unsigned i = 1; i < SHARDS && p == NULL; i++) {
        struct shard *o = &c->shard[((unsigned)(s - c->shard) + i) % SHARDS];
        if (!pa_cache_lock_try(&o->lock))
            continue;
        struct ring *r = &o->ring[cls];
        if (r->count > 0)
            p = alignment <= c->page ? ring_pop(r) : ring_take_aligned(r, alignment);
        if (p != NULL) {
            o->held -= class_bytes(c, cls);
            o->hits++;
        }
        pa_cache_lock_release(&o->lock);
    }
    return p;
}

/* A block of one of the SPLIT_CLASSES classes above cls in the shard, shrunk
 * to class cls: one system call, where a miss makes one to map the block,
 * one to unmap it later, and a page fault for each page it touches. NULL
 * when the shard has none (or the shrink fails: the block is then given
 * back whole). */
static void *take_larger(pagealloc_cache *c, struct shard *s, unsigned cls)
{
    void *p = NULL;
    unsigned from = cls;
    pa_cache_lock_acquire(&s->lock);
    for (unsigned k = cls + 1; k < c->classes && k <= cls + SPLIT_CLASSES && p == NULL; k++) {
        if (s->ring[k].count > 0) {
            p = ring_pop(&s->ring[k]);
            from = k;
            s->held -= class_bytes(c, k);
        }
    }
    pa_cache_lock_release(&s->lock);
    if (p == NULL)
        return NULL;
    size_t big = class_bytes(c, from), size = class_bytes(c, cls);
    if (pagealloc_realloc(p, big, 1, size, false) == NULL) {
        pagealloc_unmap(p, big);
        atomic_fetch_add_explicit(&c->purged, big, memory_order_relaxed);
        return NULL;
    }
    atomic_fetch_add_explicit(&c->purged, big - size, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->splits, 1, memory_order_relaxed);
    return p;
}

static void *cache_alloc(void *ctx, size_t len, size_t alignment)
{
    pagealloc_cache *c = ctx;
    if (len == 0 || !is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    size_t pages = pages_of(c, len);
    if (pages > c->max_pages)
        return pagealloc_map(len, alignment);
    unsigned cls = class_of(pages);
    size_t size = class_bytes(c, cls);
    struct shard *s = shard_of(c);
    void *p = NULL;
    pa_cache_lock_acquire(&s->lock);
    struct ring *r = &s->ring[cls];
    if (r->count > 0)
        p = alignment <= c->page ? ring_pop(r) : ring_take_aligned(r, alignment);
    if (p != NULL) {
        s->held -= size;
        s->hits++;
    }
    pa_cache_lock_release(&s->lock);
    maybe_purge(c);
    if (p != NULL)
        return p;
    if ((p = take_elsewhere(c, s, cls, alignment)) != NULL)
        return p;
    if (alignment <= c->page && (p = take_larger(c, s, cls)) != NULL)
        return p;
    atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
    return pagealloc_map(size, alignment);
}

static void cache_free(void *ctx, void *ptr, size_t len, size_t alignment)
{
    pagealloc_cache *c = ctx;
    (void)alignment;
    if (ptr == NULL)
        return;
    if (len == 0 || ((uintptr_t)ptr & (c->page - 1)) != 0) {
        errno = EINVAL;
        return;
    }
    size_t pages = pages_of(c, len);
    if (pages > c->max_pages) {
        pagealloc_unmap(ptr, len);
        return;
    }
    unsigned cls = class_of(pages);
    size_t size = class_bytes(c, cls);
    if (size > c->max_bytes) {
        pagealloc_unmap(ptr, size);
        return;
    }
    uint64_t stamp = atomic_load_explicit(&c->thread_running, memory_order_relaxed)
                         ? 0
                         : pa_cache_now_ms();
    struct shard *s = shard_of(c);
    pa_cache_lock_acquire(&s->lock);
    struct ring *r = &s->ring[cls];
    if (r->count == RING_SLOTS) {
        void *old = ring_take_oldest(r);
        s->held -= size;
        s->evicted += size;
        pagealloc_unmap(old, size);
        atomic_fetch_add_explicit(&c->purged, size, memory_order_relaxed);
    }
    bool kept = make_room(c, s, size);
    if (kept) {
        ring_push(r, ptr, stamp);
        s->held += size;
    }
    pa_cache_lock_release(&s->lock);
    if (!kept)
        pagealloc_unmap(ptr, size);
    else if (atomic_load_explicit(&c->idle, memory_order_relaxed))
        wake(c);
    maybe_purge(c);
}

/* Checks a block's arguments as pagealloc_realloc does; false with errno. */
static bool check_block(pagealloc_cache *c, void *ptr, size_t len, size_t alignment,
                        size_t new_len, size_t *old_size, size_t *new_size)
{
    size_t align = alignment > c->page ? alignment : c->page;
    if (ptr == NULL || len == 0 || new_len == 0 || !is_pow2(alignment) ||
        ((uintptr_t)ptr & (align - 1)) != 0 || !mapped_len(c, len, old_size)) {
        errno = EINVAL;
        return false;
    }
    if (!mapped_len(c, new_len, new_size)) {
        errno = ENOMEM;
        return false;
    }
    return true;
}

static bool cache_resize(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    pagealloc_cache *c = ctx;
    size_t old_size, new_size;
    if (!check_block(c, ptr, len, alignment, new_len, &old_size, &new_size))
        return false;
    return old_size == new_size ||
           pagealloc_realloc(ptr, old_size, alignment, new_size, false) != NULL;
}

static void *cache_remap(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    pagealloc_cache *c = ctx;
    size_t old_size, new_size;
    if (!check_block(c, ptr, len, alignment, new_len, &old_size, &new_size))
        return NULL;
    if (old_size == new_size)
        return ptr;
    size_t keep = len < new_len ? len : new_len;
    size_t cacheable = c->max_pages << c->page_shift;
    if (keep <= PAGEALLOC_CACHE_COPY_MAX && old_size <= cacheable && new_size <= cacheable) {
        void *q = cache_alloc(c, new_len, alignment);
        if (q == NULL)
            return NULL;
        memcpy(q, ptr, keep);
        cache_free(c, ptr, len, alignment);
        return q;
    }
    return pagealloc_realloc(ptr, old_size, alignment, new_size, true);
}

static const pagealloc_vtable cache_vtable = {cache_alloc, cache_resize, cache_remap, cache_free};

/* ---- Public functions ------------------------------------------------------ */

pagealloc_cache *pagealloc_cache_create(const struct pagealloc_cache_options *options)
{
    struct pagealloc_cache_options o = {0, 0, 0};
    if (options != NULL)
        o = *options;
    if ((o.flags & ~PAGEALLOC_CACHE_NO_THREAD) != 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t self_len = sizeof(pagealloc_cache);
    pagealloc_cache *c = pagealloc_map(self_len, 64);
    if (c == NULL)
        return NULL;
    c->self_len = self_len;
    c->max_bytes = o.max_bytes != 0 ? o.max_bytes : PAGEALLOC_CACHE_DEFAULT_MAX_BYTES;
    c->decay_ms = o.decay_ms != 0 ? o.decay_ms : PAGEALLOC_CACHE_DEFAULT_DECAY_MS;
    c->tick_ms = c->decay_ms / TICK_DIVISOR != 0 ? c->decay_ms / TICK_DIVISOR : 1;
    c->flags = o.flags;
    c->page = pagealloc_page_size();
    c->page_shift = log2_floor(c->page);
    c->max_pages = PAGEALLOC_CACHE_MAX_BLOCK >> c->page_shift;
    if (c->max_pages == 0)
        c->max_pages = 1;
    c->max_pages = class_pages(class_of(c->max_pages)); /* a class's own size */
    c->classes = class_of(c->max_pages) + 1;
    if (c->classes > CLASSES_MAX) { /* pages below 4 KiB: cache fewer sizes */
        c->classes = CLASSES_MAX;
        c->max_pages = class_pages(CLASSES_MAX - 1);
    }
    c->credit_chunk = c->max_bytes / (2 * SHARDS);
    atomic_init(&c->free_credit, c->max_bytes);
    atomic_init(&c->thread_running, false);
    atomic_init(&c->idle, !(o.flags & PAGEALLOC_CACHE_NO_THREAD));
    atomic_init(&c->next_pass_ms, 0);
    atomic_init(&c->purged, 0);
    atomic_init(&c->wakeups, 0);
    atomic_init(&c->misses, 0);
    atomic_init(&c->splits, 0);
    int err = pa_cache_waiter_init(&c->waiter);
    if (err != 0) {
        pagealloc_unmap(c, self_len);
        errno = err;
        return NULL;
    }
    pa_cache_lock_init(&c->purge_lock);
    for (unsigned i = 0; i < SHARDS; i++)
        pa_cache_lock_init(&c->shard[i].lock);
    pa_cache_on_fork();
    pa_cache_registry_lock();
    c->next = registry;
    registry = c;
    pa_cache_registry_unlock();
    return c;
}

pagealloc_allocator pagealloc_cache_allocator(pagealloc_cache *cache)
{
    pagealloc_allocator a = {cache, &cache_vtable};
    return a;
}

size_t pagealloc_cache_trim(pagealloc_cache *cache)
{
    if (cache == NULL)
        return 0;
    size_t given = 0;
    purge_all(cache, pa_cache_now_ms(), true, &given);
    return given;
}

void pagealloc_cache_destroy(pagealloc_cache *cache)
{
    if (cache == NULL)
        return;
    pa_cache_waiter_lock(&cache->waiter);
    cache->stop = true;
    pa_cache_signal(&cache->waiter);
    bool started = cache->started;
    pa_cache_waiter_unlock(&cache->waiter);
    if (started)
        pa_cache_thread_join(cache->thread);
    size_t given = 0;
    purge_all(cache, pa_cache_now_ms(), true, &given);
    pa_cache_registry_lock();
    for (pagealloc_cache **p = &registry; *p != NULL; p = &(*p)->next) {
        if (*p == cache) {
            *p = cache->next;
            break;
        }
    }
    pa_cache_registry_unlock();
    for (unsigned i = 0; i < SHARDS; i++)
        pa_cache_lock_destroy(&cache->shard[i].lock);
    pa_cache_lock_destroy(&cache->purge_lock);
    pa_cache_waiter_destroy(&cache->waiter);
    pagealloc_unmap(cache, cache->self_len);
}

struct pagealloc_cache_stats pagealloc_cache_stats(pagealloc_cache *cache)
{
    struct pagealloc_cache_stats st;
    memset(&st, 0, sizeof st);
    if (cache == NULL)
        return st;
    /* Every shard locked at once (in index order, as fork's handler takes
     * them): credit moves between shards, so a sum taken one shard at a time
     * could add up holdings of different instants and pass max_bytes. */
    for (unsigned i = 0; i < SHARDS; i++)
        pa_cache_lock_acquire(&cache->shard[i].lock);
    for (unsigned i = 0; i < SHARDS; i++) {
        struct shard *s = &cache->shard[i];
        st.cached_bytes += s->held + s->inflight;
        st.hits += s->hits;
        st.evicted_bytes += s->evicted;
    }
    for (unsigned i = SHARDS; i-- > 0;)
        pa_cache_lock_release(&cache->shard[i].lock);
    st.purged_bytes = atomic_load_explicit(&cache->purged, memory_order_relaxed);
    st.wakeups = atomic_load_explicit(&cache->wakeups, memory_order_relaxed);
    st.misses = atomic_load_explicit(&cache->misses, memory_order_relaxed);
    st.splits = atomic_load_explicit(&cache->splits, memory_order_relaxed);
    return st;
}
