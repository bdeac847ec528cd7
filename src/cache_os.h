/*
 * What the cache (cache.c) needs from the system besides pages: a lock for
 * each shard, a monotonic coarse clock, a thread that sleeps on a condition
 * with or without a timeout, and fork handlers. One file per system family
 * implements it (cache_posix.c, cache_windows.c), so that cache.c has no
 * #ifdef.
 *
 * Preconditions every function may assume: its object was initialized (and
 * not yet destroyed) by the matching _init; a waiter's wait and signal are
 * called with the waiter locked. Functions that can fail return 0 or an
 * errno value.
 */
#ifndef PAGEALLOC_CACHE_OS_H
#define PAGEALLOC_CACHE_OS_H

#include <stdatomic.h>
#include <stdint.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

typedef struct {
    SRWLOCK lock;
    CONDITION_VARIABLE cond;
} pa_cache_waiter;
typedef HANDLE pa_cache_thread;
#else
#include <pthread.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
} pa_cache_waiter;
typedef pthread_t pa_cache_thread;
#endif

/* Gives the processor to another thread (a lock's holder was preempted). */
void pa_cache_yield(void);

/*
 * The shard lock: one atomic exchange to take it and a plain release store
 * to give it back. A shard is used by one thread nearly always, so the
 * exchange is uncontended; it is the cost that matters: the hit path
 * (alloc + free) with a default pthread mutex, two atomic instructions per
 * lock, spent 73 % of its time in them here. A waiter spins briefly, then
 * yields, so a preempted holder gets to run.
 */
typedef struct {
    atomic_int taken;
} pa_cache_lock;

static inline void pa_cache_lock_init(pa_cache_lock *l)
{
    atomic_init(&l->taken, 0);
}

static inline void pa_cache_lock_destroy(pa_cache_lock *l)
{
    (void)l;
}

/* Takes the lock if it is free: nonzero when taken. */
static inline int pa_cache_lock_try(pa_cache_lock *l)
{
    return atomic_load_explicit(&l->taken, memory_order_relaxed) == 0 &&
           atomic_exchange_explicit(&l->taken, 1, memory_order_acquire) == 0;
}

static inline void pa_cache_lock_acquire(pa_cache_lock *l)
{
    while (!pa_cache_lock_try(l)) {
        for (int spin = 0; spin < 64; spin++)
            if (!atomic_load_explicit(&l->taken, memory_order_relaxed))
                break;
        if (atomic_load_explicit(&l->taken, memory_order_relaxed))
            pa_cache_yield();
    }
}

static inline void pa_cache_lock_release(pa_cache_lock *l)
{
    atomic_store_explicit(&l->taken, 0, memory_order_release);
}

/* Milliseconds on a monotonic clock of coarse resolution (a few ms), never 0. */
uint64_t pa_cache_now_ms(void);

/* A lock with a condition to wait on; the waits measure time on the clock
 * above (or one that advances with it). */
int pa_cache_waiter_init(pa_cache_waiter *w);
void pa_cache_waiter_destroy(pa_cache_waiter *w);
void pa_cache_waiter_lock(pa_cache_waiter *w);
void pa_cache_waiter_unlock(pa_cache_waiter *w);
/* Waits until signalled or timeout_ms has passed (0: no timeout); may return
 * early. */
void pa_cache_wait(pa_cache_waiter *w, unsigned timeout_ms);
void pa_cache_signal(pa_cache_waiter *w);
/* In a fork child, for a waiter the forking thread locked before fork:
 * unlocks it and makes its condition usable again (the parent's waiting
 * thread does not exist here). 0 or an errno value. */
int pa_cache_waiter_after_fork(pa_cache_waiter *w);

/* The background thread's body, in cache.c. */
void pa_cache_thread_main(void *arg);

/* Starts pa_cache_thread_main(arg) on a new thread, with every signal
 * blocked where there are signals (the program's handlers never run on it);
 * 0 or an errno value (EAGAIN when the system has no thread to give). */
int pa_cache_thread_start(pa_cache_thread *t, void *arg);
/* Waits for the thread to return and frees it. */
void pa_cache_thread_join(pa_cache_thread t);

/* One process-wide lock, statically initialized: guards the list of caches
 * the fork handlers walk. */
void pa_cache_registry_lock(void);
void pa_cache_registry_unlock(void);

/* fork's handlers, in cache.c: prepare runs in the forking thread before
 * fork, parent and child after it in each process. */
void pa_cache_fork_prepare(void);
void pa_cache_fork_parent(void);
void pa_cache_fork_child(void);

/* Registers the fork handlers once for the process (later calls do nothing);
 * does nothing where there is no fork. The POSIX file also registers them
 * when the library is loaded, before a program's own handlers can be: those
 * then run their prepare before the cache's and their child after it, and
 * may use the cache. */
void pa_cache_on_fork(void);

#ifdef PAGEALLOC_FAULT_INJECTION
/* Test builds only: the next `count` thread starts fail with `err` without
 * starting a thread. */
void pa_cache_fail_thread_starts(unsigned count, int err);
#endif

#endif
