/*
 * pagealloc: memory straight from the operating system's virtual-memory calls.
 *
 * Blocks are whole pages, aligned to any power of two, and can shrink, grow in
 * place, move without copying and go back to the system the moment they are
 * freed. The shape follows Zig's std.heap.PageAllocator: three OS-level
 * functions (map, unmap, realloc) and a four-function allocator interface
 * (alloc, resize, remap, free) on top of them.
 *
 * Conventions for every function below:
 * - `len` is in bytes and is rounded up to whole pages; a block may be given
 *   back with any `len` that rounds to the same number of pages.
 * - `alignment` is a power of two; values up to the page size mean page
 *   alignment. Any other value fails with EINVAL.
 * - Failures return NULL (or false) and set errno; the library never prints,
 *   asserts or aborts.
 * - Every function may be called from many threads at once on different blocks.
 */
#ifndef PAGEALLOC_H
#define PAGEALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shared library exports only what this header declares (on Windows,
 * marking any symbol dllexport stops the linker from exporting all of them). */
#if defined(_WIN32) && defined(PAGEALLOC_BUILD_DLL)
#define PAGEALLOC_API __declspec(dllexport)
#elif (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#define PAGEALLOC_API __attribute__((visibility("default")))
#else
#define PAGEALLOC_API
#endif

/* The running system's page size in bytes, read once at run time and cached. */
PAGEALLOC_API size_t pagealloc_page_size(void);

/* ---- OS layer ---------------------------------------------------------- */

/*
 * Maps fresh zero-filled read-write memory covering `len` rounded up to whole
 * pages, aligned to max(alignment, page size).
 * Errors: EINVAL if len == 0 or alignment is not a power of two; ENOMEM if the
 * system is out of memory or address space (or of lockable memory, under
 * mlockall(MCL_FUTURE) and RLIMIT_MEMLOCK), or if len rounded up, or len plus
 * alignment, does not fit in the address space.
 */
PAGEALLOC_API void *pagealloc_map(size_t len, size_t alignment);

/*
 * Gives the block [ptr, ptr + len) back to the system. `len` must round to the
 * block's current page count. unmap(NULL, ...) does nothing.
 * Errors (errno set, nothing else happens): EINVAL if ptr is not page-aligned
 * or len == 0. If the system refuses to unmap (munmap fails with ENOMEM when
 * the process is at its mapping limit), the block's physical memory is still
 * given back, the address range the system kept stays reserved (on Windows a
 * block of several reservations may have released the first ones), errno is
 * set, and pagealloc_stats().unmap_failures counts it. Either way the caller
 * no longer owns any of the block.
 */
PAGEALLOC_API void pagealloc_unmap(void *ptr, size_t len);

/*
 * Changes the size of the block [ptr, ptr + len) mapped with `alignment` to
 * `new_len`, without copying any byte.
 * Returns ptr when done in place; when may_move is true it may instead return
 * a new address, still aligned to max(alignment, page size), to which the OS
 * moved the pages (the old address is then no longer mapped). Returns NULL
 * when it cannot be done without copying: the block is then untouched and
 * still valid at its old length.
 * Bytes up to min(len, new_len) are preserved; bytes past len read as zero.
 * The same page count returns ptr with no system call; a shrink gives the tail
 * pages back to the system at once.
 * Errors: EINVAL if ptr is NULL or not aligned to max(alignment, page size),
 * len or new_len is 0, or alignment is not a power of two; ENOMEM if new_len
 * does not fit, or the block cannot grow in place (and may_move is false, or
 * the system has no way to move it); other errno values come from the system.
 */
PAGEALLOC_API void *pagealloc_realloc(void *ptr, size_t len, size_t alignment, size_t new_len, bool may_move);

/* ---- Reservations and page states ------------------------------------- */

/*
 * Every page of a block is in one of three states:
 * - reserved: the address is held, no memory is behind it and none is
 *   charged against the system's commit limit; any access faults. Reserved
 *   pages read as zero once committed.
 * - committed read-write: the state of every page from pagealloc_map. Memory
 *   is behind it (the system may still supply it on first touch).
 * - committed with another access (protected): read-only, read+execute,
 *   read+write+execute, or no access at all. The memory and the bytes stay.
 * pagealloc_unmap releases a block whatever the states of its pages.
 * Growing a block (pagealloc_realloc, resize, remap) adds committed
 * read-write pages and leaves the old ones as they were; on failure the block
 * is untouched. A shrink gives the tail back whatever its state.
 *
 * For commit, decommit and protect, [ptr, ptr + len) (len rounded up to
 * whole pages) must lie inside one block the caller holds. A NULL or
 * unaligned ptr, len == 0, or a range whose end overflows fails with EINVAL
 * and changes nothing.
 */

/* Flags for pagealloc_mapx, OR-ed together. */
#define PAGEALLOC_RESERVE 0x1u /* every page reserved, none committed */

/* Access rights for pagealloc_protect, OR-ed together. */
#define PAGEALLOC_NO_ACCESS 0u
#define PAGEALLOC_READ 0x1u
#define PAGEALLOC_WRITE 0x2u /* needs PAGEALLOC_READ */
#define PAGEALLOC_EXEC 0x4u  /* needs PAGEALLOC_READ */

/*
 * pagealloc_map with flags. mapx(len, alignment, 0) is map(len, alignment).
 * With PAGEALLOC_RESERVE the block's pages are all reserved: it holds address
 * space only, so a reservation far larger than the memory of the machine
 * succeeds. It is placed as map places blocks and counts in mapped_bytes.
 * Errors: as pagealloc_map; EINVAL for a flag bit this library does not know.
 */
PAGEALLOC_API void *pagealloc_mapx(size_t len, size_t alignment, unsigned flags);

/*
 * Makes the pages of [ptr, ptr + len) committed read-write. Reserved pages
 * read as zero; committed pages keep their bytes (committing twice is
 * harmless) and become read-write.
 * Errors: EINVAL for bad input (above); ENOMEM when the system refuses the
 * memory (commit limit, RLIMIT_DATA on Linux). No byte is lost; the range is
 * left as it was, except that when it mixes pages of several states (or, on
 * Windows, spans several reservations of a grown block) a failure part way
 * may leave its first pages committed.
 */
PAGEALLOC_API bool pagealloc_commit(void *ptr, size_t len);

/*
 * Makes the pages of [ptr, ptr + len) reserved: their memory goes back to the
 * system at once (and their commit charge), the addresses stay held, any
 * access faults, and after pagealloc_commit they read as zero. Works on any
 * part of any block, from map as well as from mapx.
 * Errors: EINVAL for bad input; ENOMEM when the system cannot split its
 * mappings (Linux at vm.max_map_count); the range is then left as it was,
 * or, if the system's failed call unmapped it and another thread mapped
 * there before the library could take it back, left alone to that thread
 * (the range's bytes, which decommit discards anyway, are gone).
 */
PAGEALLOC_API bool pagealloc_decommit(void *ptr, size_t len);

/*
 * Sets the access of the committed pages of [ptr, ptr + len) to `access`
 * (PAGEALLOC_NO_ACCESS, or READ with WRITE and/or EXEC); their bytes stay,
 * and so does their memory, even with no access (unlike decommit).
 * Reserved pages differ between systems: on Linux and other POSIX systems
 * they become committed with that access (read as zero); on Windows protect
 * fails with EINVAL when any page of the range is reserved, changing nothing.
 * Errors: EINVAL for bad input, for WRITE or EXEC without READ, or for an
 * unknown bit; a combination the system refuses (write+execute under a W^X
 * policy) fails with the system's errno (EACCES on Linux and macOS, EINVAL
 * on Windows) and the range is left as it was, except that a range of
 * several mappings or reservations may be changed in part before the refusal.
 */
PAGEALLOC_API bool pagealloc_protect(void *ptr, size_t len, unsigned access);

/* ---- Allocator interface ----------------------------------------------- */

/*
 * Any allocator can fill this table. The contract of each entry is the one of
 * the page allocator's: alloc as pagealloc_map; resize changes the size in
 * place only and says whether it did; remap may also move the block and
 * returns its new address or NULL; free as pagealloc_unmap.
 */
typedef struct pagealloc_vtable {
    void *(*alloc)(void *ctx, size_t len, size_t alignment);
    bool (*resize)(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len);
    void *(*remap)(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len);
    void (*free)(void *ctx, void *ptr, size_t len, size_t alignment);
} pagealloc_vtable;

typedef struct pagealloc_allocator {
    void *ctx;
    const pagealloc_vtable *vtable;
} pagealloc_allocator;

/* The OS page allocator: alloc = map, resize = realloc without moving,
 * remap = realloc that may move, free = unmap. Its ctx is unused. */
PAGEALLOC_API pagealloc_allocator pagealloc_page_allocator(void);

static inline void *pagealloc_alloc(pagealloc_allocator a, size_t len, size_t alignment)
{
    return a.vtable->alloc(a.ctx, len, alignment);
}

static inline bool pagealloc_resize(pagealloc_allocator a, void *ptr, size_t len, size_t alignment,
                                    size_t new_len)
{
    return a.vtable->resize(a.ctx, ptr, len, alignment, new_len);
}

static inline void *pagealloc_remap(pagealloc_allocator a, void *ptr, size_t len, size_t alignment,
                                    size_t new_len)
{
    return a.vtable->remap(a.ctx, ptr, len, alignment, new_len);
}

static inline void pagealloc_free(pagealloc_allocator a, void *ptr, size_t len, size_t alignment)
{
    a.vtable->free(a.ctx, ptr, len, alignment);
}

/* ---- Statistics -------------------------------------------------------- */

/*
 * Counters since the process started, kept with relaxed atomics (cheap enough
 * to stay on). Each field is exact on its own; a snapshot taken while other
 * threads allocate is not one consistent instant.
 * System calls are counted by kind; on Windows NtAllocateVirtualMemory counts
 * as map, NtFreeVirtualMemory as unmap (release) or advise (decommit), and
 * NtQueryVirtualMemory as query. On Linux commit and protect are mprotect
 * calls and decommit an mmap; on Windows commit is a map call (MEM_COMMIT) and
 * decommit an advise call (MEM_DECOMMIT). mapped_bytes counts reserved pages.
 */
struct pagealloc_stats {
    size_t mapped_bytes;      /* bytes in blocks handed out and not yet freed */
    size_t peak_mapped_bytes; /* highest value mapped_bytes has had */
    uint64_t map_calls;       /* mmap */
    uint64_t unmap_calls;     /* munmap */
    uint64_t remap_calls;     /* mremap */
    uint64_t advise_calls;    /* madvise */
    uint64_t query_calls;     /* queries of a range's state (Windows) */
    uint64_t unmap_failures;  /* frees the system refused (their memory was discarded),
                                 and ranges the library left reserved rather than risk
                                 another thread's memory (see README, Reliability) */
    uint64_t protect_calls;   /* mprotect (commit, protect); NtProtectVirtualMemory */
};

PAGEALLOC_API struct pagealloc_stats pagealloc_stats(void);

#ifdef __cplusplus
}
#endif

#endif
