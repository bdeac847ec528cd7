/* What the tests need to know about the address space, from outside the
 * library: one implementation per OS family (support_posix.c, ...). */
#ifndef PAGEALLOC_TEST_SUPPORT_H
#define PAGEALLOC_TEST_SUPPORT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The page size as the system reports it, not as the library does. */
size_t support_page_size(void);

/* True when every page of [p, p + len) is mapped (any protection). */
bool support_range_mapped(const void *p, size_t len);

/* True when no page of [p, p + len) is mapped. */
bool support_range_unmapped(const void *p, size_t len);

/* Maps exactly [p, p + len) read-write, outside the library, to occupy a
 * range; false if it is already taken. Undo with support_unmap. */
bool support_map_at(void *p, size_t len);
void support_unmap(void *p, size_t len);

/* Whether this build can move a block without copying (Linux with mremap). */
bool support_can_move(void);

/* Whether the system describes a mapping by address, as the library asks it
 * to before a move once pages may vary (Linux 6.11's PROCMAP_QUERY; not
 * under qemu-user, whose /proc/self/maps is an emulation, nor elsewhere). */
bool support_mappings_described(void);

/* How many of the system's mappings hold [p, p + len) (Linux: lines of
 * /proc/self/maps), or 0 where it cannot say (Windows). */
size_t support_mappings_in(const void *p, size_t len);

/* The total size of every mapping in the process, to see that a failed call
 * left nothing behind. Read it once before the baseline (the first read may
 * map the C library's buffers). */
size_t support_mapped_bytes(void);

/*
 * Whether the tests run under qemu-user, whose emulation of the address
 * space differs from a kernel's in ways a few tests must allow for:
 * - it places the guest's stack low, below the blocks it maps later;
 * - its mremap with MREMAP_MAYMOVE always moves, even when the block could
 *   grow in place;
 * - with pages larger than the host's (QEMU_PAGESIZE=65536), an mmap with an
 *   address hint now and then fails with ENOMEM while other threads map
 *   (the same call without a hint succeeds; a kernel ignores a bad hint);
 * - it moves a block of several mappings (pages of mixed states) that a
 *   kernel refuses to move, then spins on the next fault in it; and after a
 *   very large reservation (64 GiB) its placement searches crawl.
 */
bool support_under_qemu(void);

/* Whether the tests were built with ThreadSanitizer or AddressSanitizer:
 * their runtimes intercept mmap and map memory of their own, which a few
 * tests must allow for (each says how). */
#if defined(__SANITIZE_THREAD__)
#define SUPPORT_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SUPPORT_UNDER_TSAN 1
#endif
#endif
#ifndef SUPPORT_UNDER_TSAN
#define SUPPORT_UNDER_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SUPPORT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SUPPORT_UNDER_ASAN 1
#endif
#endif
#ifndef SUPPORT_UNDER_ASAN
#define SUPPORT_UNDER_ASAN 0
#endif

/* ---- Where Windows differs (support_windows.c) ------------------------- */

/* The unit in which the system reserves address space: the page size on
 * POSIX, the allocation granularity (64 KiB) on Windows. A block's range is
 * rounded up to it, so the range right after a block is another process
 * mapping's only from the next unit on. */
size_t support_granularity(void);

/* True when no page of [p, p + len) holds memory: unmapped, or (Windows)
 * still reserved but decommitted, as the tail of a shrunk block is until the
 * whole reservation goes. On POSIX the same as support_range_unmapped. */
bool support_range_given_back(const void *p, size_t len);

/* The map system calls pagealloc_map(len, ...) makes when it can place the
 * block under the hint: 1, or on Windows 2 (reserve, then commit) when len is
 * not a whole number of granularity units. */
unsigned support_map_calls(size_t len);

/* Whether the main thread's stack sits above the blocks the system maps, as
 * on Linux and macOS; Windows puts it near the bottom of the address space. */
bool support_stack_at_top(void);

/* ---- Page states, by touching and by asking the system ----------------- */

/* True when reading the byte at p faults (POSIX: SIGSEGV or SIGBUS under a
 * handler, with sigsetjmp; Windows: a vectored exception handler). */
bool support_read_faults(const void *p);

/* True when writing the byte 0xA5 at p faults; a faulting write changes
 * nothing, a write that does not fault leaves 0xA5 there. */
bool support_write_faults(void *p);

/* The access the system reports for the page at p, as PAGEALLOC_READ,
 * _WRITE and _EXEC bits (reserved pages: 0), or -1 when it cannot say:
 * unmapped, or left out of qemu-user's /proc/self/maps. */
int support_page_access(const void *p);

/* How many pages of [p, p + len) hold memory now (POSIX: mincore; Windows:
 * the working set), or SIZE_MAX when the system cannot say (qemu-user's
 * mincore fails on PROT_NONE pages). */
size_t support_resident_pages(const void *p, size_t len);

/* ---- Random choices that a run can repeat ------------------------------ */

/*
 * The seed of this run's random choices: PAGEALLOC_TEST_SEED from the
 * environment (decimal, or hex with 0x) when set, else one from the clock and
 * the address space's layout, so that each run tries other choices. The first
 * call prints it ("seed: N"); a failing run's output thus names the seed that
 * repeats its choices (threads still interleave their own way). Call it, or
 * support_seed_for, from the main thread before starting others.
 */
static inline uint64_t support_seed(void)
{
    static uint64_t seed;
    static bool chosen;
    if (!chosen) {
        const char *env = getenv("PAGEALLOC_TEST_SEED");
        char *end = NULL;
        bool given = env != NULL && *env != '\0';
        if (given) {
            seed = (uint64_t)strtoull(env, &end, 0);
            if (*end != '\0') {
                printf("PAGEALLOC_TEST_SEED=%s is not a number: using the clock\n", env);
                given = false;
            }
        }
        if (!given)
            seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&chosen ^
                   (uint64_t)clock();
        chosen = true;
        if (given)
            printf("seed: %" PRIu64 " (from PAGEALLOC_TEST_SEED)\n", seed);
        else
            printf("seed: %" PRIu64 " (PAGEALLOC_TEST_SEED=%" PRIu64 " repeats it)\n", seed, seed);
        fflush(stdout);
    }
    return seed;
}

/* A state for the generator of thread (or stream) i, from the run's seed:
 * different for each i, never 0 (splitmix64's mix). */
static inline uint64_t support_seed_for(unsigned i)
{
    uint64_t z = support_seed() + 0x9e3779b97f4a7c15ull * ((uint64_t)i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z != 0 ? z : 1;
}

/* A small pseudo-random generator for the threaded tests: each thread keeps
 * its own state (from support_seed_for), so runs repeat from their seed. */
static inline unsigned support_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* xorshift64*, for tests that want 64 bits at a time (state never 0). */
static inline uint64_t support_rand64(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

/* Byte patterns: fill with a pattern derived from seed, check it, check zero. */
static inline unsigned char support_pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

static inline void support_fill(void *p, size_t len, unsigned seed)
{
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        b[i] = support_pattern(i, seed);
}

static inline bool support_has_pattern(const void *p, size_t len, unsigned seed)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != support_pattern(i, seed))
            return false;
    return true;
}

static inline bool support_all_zero(const void *p, size_t len)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static inline bool support_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

#endif
