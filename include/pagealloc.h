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

/* ---- Version ------------------------------------------------------------ */

/* PAGEALLOC_VERSION_MAJOR, _MINOR, _PATCH and _STRING ("0.1.0"): the one
 * place the version is written, read by CMakeLists.txt too. */
#include "pagealloc_version.h"

/* The header's version as one number, for #if: MAJOR * 10000 + MINOR * 100 +
 * PATCH (minor and patch stay below 100). */
#define PAGEALLOC_VERSION \
    (PAGEALLOC_VERSION_MAJOR * 10000 + PAGEALLOC_VERSION_MINOR * 100 + PAGEALLOC_VERSION_PATCH)

/*
 * The version of the library the program runs with, as a number in
 * PAGEALLOC_VERSION's form (which gives the version of the header the program
 * was compiled with). A program built against one version runs with a library
 * of the same major version and the same or a later minor version; the shared
 * library's SONAME carries the major version. Never fails.
 */
PAGEALLOC_API unsigned int pagealloc_version(void);

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
 * pages back to the system at once. (Windows, a block grown over several
 * reservations: should the system refuse to release one once the shrink has
 * begun, the shrink still succeeds; that reservation and those after it are
 * decommitted, their memory and bytes gone (unless the system refuses that
 * too), and stay reserved outside the block, counted in
 * pagealloc_stats().unmap_failures.)
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
 * mappings (Linux at vm.max_map_count); the range is then left as it was.
 * (Windows: a range over several reservations, in a block grown past its
 * first one, is decommitted one reservation at a time in address order; if
 * the system refuses one, ENOMEM when it lacks resources, the parts in the
 * reservations before it are decommitted, their bytes gone, and the rest of
 * the range is as it was.)
 * (Linux: should the failed call have unmapped the range already, which the
 * kernel does only when it runs out of its own memory part-way, the library
 * takes the range back reserved through an exclusive mmap and succeeds; if
 * another thread has mapped it in between, that mapping is left alone and
 * the call fails: the range is no longer the block's.)
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
 * on Windows). ENOMEM when the system refuses the memory: on Linux private
 * pages are charged against the commit limit (and RLIMIT_DATA) only while
 * they are writable, so making writable pages that were reserved, or given
 * READ or no access while reserved, takes that charge at this call, which
 * RLIMIT_DATA or strict overcommit (vm.overcommit_memory 2) may refuse, as
 * they refuse pagealloc_commit; also when the system cannot split its
 * mappings (Linux at vm.max_map_count). On any failure the range is left as
 * it was, except that a range of several mappings or reservations may be
 * changed in part before the refusal.
 */
PAGEALLOC_API bool pagealloc_protect(void *ptr, size_t len, unsigned access);

/* ---- Huge pages and prefaulting ---------------------------------------- */

/*
 * Flags of pagealloc_mapx, with PAGEALLOC_RESERVE.
 *
 * PAGEALLOC_HUGE asks for the block to be backed by huge pages where the
 * system can; it is a request, never a reason to fail. Where
 * pagealloc_huge_page_size() is not 0, a block of at least one huge page is
 * placed at a multiple of the huge page size (its alignment is raised to it;
 * where no such place can be had, it is placed as without the flag) and
 * advised (Linux: MADV_HUGEPAGE); a smaller block is advised but placed
 * as usual, so that it holds huge pages once it has grown; where the size is
 * 0 the block is an ordinary block. Lengths still round to ordinary pages,
 * so unmap and realloc take the same lengths as without the flag, and realloc
 * the alignment the caller passed to mapx. A huge block grown or moved by
 * realloc stays advised where the system moves pages (Linux mremap); without
 * mremap the grown part is an ordinary mapping (no per-block state says the
 * block was huge). The same holds on Linux once pages may vary (after the
 * process's first reservation, decommit, or protect to another access) for
 * the new part of a block whose pages are not all committed read-write: a
 * move opens it read-write before moving the old pages, and such a block of
 * several mappings grows in place by mapping the next range; so does a move
 * where the system cannot say that the block is one read-write mapping
 * (before Linux 6.11, or without /proc). The old pages keep the advice.
 *
 * With PAGEALLOC_RESERVE the reservation is placed and advised the same way:
 * pages pagealloc_commit makes committed keep the advice; on Linux a range
 * pagealloc_decommit gives back loses it (decommit maps the range afresh).
 *
 * PAGEALLOC_POPULATE makes every page of the block resident before mapx
 * returns, as pagealloc_populate does; with PAGEALLOC_HUGE the advice comes
 * first, so that the pages faulted in are huge. With PAGEALLOC_RESERVE it is
 * EINVAL. If memory runs out while populating, mapx unmaps the block and
 * fails with ENOMEM.
 */
#define PAGEALLOC_HUGE 0x2u
#define PAGEALLOC_POPULATE 0x4u

/*
 * The size a huge page has here, read once, or 0 when PAGEALLOC_HUGE has no
 * effect. Linux: hpage_pmd_size (2 MiB on x86-64, 32 MiB on arm64 with
 * 16 KiB pages) when transparent huge pages are `always` or `madvise`; 0 with
 * `never`, and on Windows, macOS and the BSDs.
 */
PAGEALLOC_API size_t pagealloc_huge_page_size(void);

/*
 * Faults [ptr, ptr + len) in now: when it returns true every page of the
 * range is resident, and writing to it takes no page fault. No byte changes.
 * The range must be committed read-write pages, of one block or several, and
 * `len` is rounded up to whole pages. Linux 5.14 and later do it in one
 * MADV_POPULATE_WRITE; elsewhere the library writes to each page once, with an
 * atomic add of zero (a write access, so no read fault maps the shared zero
 * page first, and no byte another thread writes at the same time is lost;
 * on Linux the kernel does that add, FUTEX_WAKE_OP, so that a page that is
 * not writable gives an error instead of a fault).
 * Errors: EINVAL if ptr is NULL or not page-aligned, len == 0, or the range
 * passes the end of the address space; ENOMEM if memory runs out part-way
 * (MADV_POPULATE_WRITE only: where each page is written, running out of
 * memory ends the process as any write would): the pages stay committed,
 * their bytes intact, some of them resident. EFAULT if a page of the range is
 * not committed read-write (reserved, read-only, no access): no byte changes,
 * the process does not fault, pages before it may be resident; checked on
 * Linux, macOS and Windows; on the BSDs, which have no cheap way to ask, such
 * a page faults as a write to it would. (Linux says ENOMEM for a page that is
 * not mapped at all.) Other errno values come from the system.
 */
PAGEALLOC_API bool pagealloc_populate(void *ptr, size_t len);

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

/* The four calls through a table. Always inlined, even at -O0, so that the
 * allocator sees its caller's return address (the checked allocator names
 * the allocating frame with it). */
#if defined(__GNUC__) || defined(__clang__)
#define PAGEALLOC_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define PAGEALLOC_INLINE static __forceinline
#else
#define PAGEALLOC_INLINE static inline
#endif

PAGEALLOC_INLINE void *pagealloc_alloc(pagealloc_allocator a, size_t len, size_t alignment)
{
    return a.vtable->alloc(a.ctx, len, alignment);
}

PAGEALLOC_INLINE bool pagealloc_resize(pagealloc_allocator a, void *ptr, size_t len,
                                       size_t alignment, size_t new_len)
{
    return a.vtable->resize(a.ctx, ptr, len, alignment, new_len);
}

PAGEALLOC_INLINE void *pagealloc_remap(pagealloc_allocator a, void *ptr, size_t len,
                                       size_t alignment, size_t new_len)
{
    return a.vtable->remap(a.ctx, ptr, len, alignment, new_len);
}

PAGEALLOC_INLINE void pagealloc_free(pagealloc_allocator a, void *ptr, size_t len, size_t alignment)
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
    uint64_t query_calls;     /* queries of a range's state (Windows; Linux: a move once
                                 pages vary; macOS: populate's region check) */
    uint64_t unmap_failures;  /* frees the system refused (their memory was discarded),
                                 and ranges the library left reserved rather than risk
                                 another thread's memory (docs/reliability.md) */
    uint64_t protect_calls;   /* mprotect (commit, protect); NtProtectVirtualMemory */
    uint64_t populate_calls;  /* prefaults: MADV_POPULATE_WRITE, or a pass writing each page */
};

PAGEALLOC_API struct pagealloc_stats pagealloc_stats(void);

/* ---- The checked allocator --------------------------------------------- */

/*
 * An allocator over another one (its backing) that checks every call against
 * a table of its live blocks before passing it on: for debug builds, or in
 * production for the part of a program routed through it. It is an ordinary
 * pagealloc_allocator: anything built on the vtable runs on it unchanged,
 * with the results it would get from the backing allocator.
 *
 * free, resize and remap must name a live block with exactly the length it
 * was last given (by alloc, resize or remap) and the alignment it was
 * allocated with. Anything else is a misuse: the checker calls `report` and
 * does not pass the call on, so the backing allocator never sees an unknown
 * pointer, a second free, a wrong length or a wrong alignment. When report
 * returns, the call fails as a failed call would (alloc and remap: NULL;
 * resize: false; free: nothing) with errno EINVAL, and the caller's block is
 * untouched and still live. free(NULL) does nothing, as the page allocator's;
 * a resize or remap of NULL is an UNKNOWN_POINTER like any pointer the
 * table does not hold, reported before anything else is done.
 * A misuse is reported once per call, in this order: UNKNOWN_POINTER or
 * DOUBLE_FREE, then WRONG_LENGTH, then WRONG_ALIGNMENT.
 *
 * A second free is told apart from an unknown pointer by a history of the
 * last PAGEALLOC_CHECK_HISTORY frees (and, with QUARANTINE, every block in
 * the quarantine). A second free of a block the history has forgotten is
 * reported as UNKNOWN_POINTER, with block_len 0; without QUARANTINE the
 * system may meanwhile have handed the same address out again, and a free of
 * the new block with its length is then not a misuse at all.
 */
typedef struct pagealloc_checked pagealloc_checked;

enum pagealloc_misuse_kind {
    PAGEALLOC_MISUSE_UNKNOWN_POINTER = 1, /* not the start of a live block, not recently freed */
    PAGEALLOC_MISUSE_DOUBLE_FREE,         /* a block freed already, or moved by remap */
    PAGEALLOC_MISUSE_WRONG_LENGTH,        /* len is not the block's length */
    PAGEALLOC_MISUSE_WRONG_ALIGNMENT,     /* alignment is not the block's */
    PAGEALLOC_MISUSE_LEAK                 /* live at pagealloc_checked_destroy */
};

/* How many frees the history remembers, besides the quarantine. */
#define PAGEALLOC_CHECK_HISTORY 256

/* How many frames of the allocating call's stack a report can name. */
#define PAGEALLOC_CHECK_STACK_DEPTH 8

struct pagealloc_misuse {
    enum pagealloc_misuse_kind kind;
    void *ptr;                         /* as the caller passed them */
    size_t len, alignment;
    size_t block_len, block_alignment; /* as the block really is (0 when unknown) */
    /* Also: the call that was wrong ("free", "resize",
     * "remap", or "destroy" for a leak), and where the block was allocated,
     * as return addresses, innermost first, starting at the call to alloc.
     * With an option, up to PAGEALLOC_CHECK_STACK_DEPTH frames where the
     * system can walk the stack (glibc's backtrace, Windows); without, or
     * elsewhere, the calling frame alone (a stack walk would cost more than
     * the mmap + munmap it checks). stack_depth is 0 when the block is
     * unknown or the compiler cannot say. Valid during the report only. */
    const char *call;
    void *const *stack;
    size_t stack_depth;
};

/* Options for pagealloc_checked_create, OR-ed together. */
#define PAGEALLOC_CHECK_GUARD 0x1u      /* a no-access guard page before and after every block */
#define PAGEALLOC_CHECK_QUARANTINE 0x2u /* freed blocks stay reserved and no-access for a while */

/* The quarantine's limits. */
#define PAGEALLOC_CHECK_QUARANTINE_BYTES ((size_t)1 << 30)
#define PAGEALLOC_CHECK_QUARANTINE_BLOCKS 4096

/*
 * Makes a checker over `backing`. report(report_ctx, m) is called, from the
 * thread that made the call, for each misuse and at destroy for each leak;
 * it must not call this checker. report == NULL means: print one line naming
 * the misuse, the addresses and the lengths to stderr, then abort() (a leak
 * is printed and does not abort).
 *
 * PAGEALLOC_CHECK_GUARD: each block sits in a reservation of its own
 * (pagealloc_mapx with PAGEALLOC_RESERVE; only its pages are committed),
 * between no-access pages: the block starts right after one, and its last
 * page is followed by one, so that a block whose length is a multiple of the
 * page size ends exactly at a guard. Touching a byte before the block or past
 * its last page faults. The reservation leaves room after the block (up to
 * its own length, at most 64 MiB) for resize to grow in place by committing
 * more pages; a remap past that room moves the block into a new guarded
 * reservation by copying. A shrink makes the tail no-access, then
 * decommits it (whatever the states of its pages). Windows: guards are
 * reserved, uncommitted pages.
 *
 * PAGEALLOC_CHECK_QUARANTINE: a freed block is decommitted (its memory goes
 * back to the system, its pages cannot be touched) and its addresses stay
 * reserved, so that a use after free faults and its addresses are not handed
 * out again. The oldest blocks leave the quarantine (are really freed) when
 * it holds more than PAGEALLOC_CHECK_QUARANTINE_BYTES of address space (a
 * guarded block's whole reservation) or more than
 * PAGEALLOC_CHECK_QUARANTINE_BLOCKS blocks (each one to three kernel
 * mappings, well under Linux's vm.max_map_count of 65530). A block larger
 * than PAGEALLOC_CHECK_QUARANTINE_BYTES on its own is freed at once, and
 * the quarantine keeps the others.
 *
 * With either option a remap that cannot grow the block in place moves it
 * by copying into a new block (a guarded one with GUARD), on every system,
 * so that the old range is quarantined (or, without QUARANTINE, freed)
 * rather than given up by a move of the backing allocator. The copy's pages
 * are all committed read-write. A block with a page that cannot be read
 * (reserved, or no access: the caller's decommit or protect) is not copied:
 * remap fails with ENOMEM, the block untouched, as the page allocator fails
 * for a block it cannot move; the checker never faults on it.
 *
 * A decommit that fails may have left its range unmapped, and so open to
 * anyone (see pagealloc_decommit): the checker then never unmaps that
 * block's reservation, nor grows it in place again (address space leaked,
 * not someone else's memory unmapped).
 *
 * Both options need the page allocator as backing (backing.vtable ==
 * pagealloc_page_allocator().vtable), since they work on its pages.
 * Errors: NULL with EINVAL for an unknown option bit or an option whose
 * backing is not the page allocator; ENOMEM when the table cannot be mapped.
 * The table and history are mapped with pagealloc_map, never malloc, so a
 * malloc replacement may sit on top of the checker.
 */
PAGEALLOC_API pagealloc_checked *
pagealloc_checked_create(pagealloc_allocator backing, unsigned options,
                         void (*report)(void *ctx, const struct pagealloc_misuse *m),
                         void *report_ctx);

/* The allocator whose calls are checked; valid until destroy. Thread-safe. */
PAGEALLOC_API pagealloc_allocator pagealloc_checked_allocator(pagealloc_checked *c);

/*
 * Reports each block still live as PAGEALLOC_MISUSE_LEAK, frees it through
 * the backing allocator, empties the quarantine and frees the checker.
 * Returns the number of leaks. No other thread may use the checker then.
 * destroy(NULL) returns 0.
 */
PAGEALLOC_API size_t pagealloc_checked_destroy(pagealloc_checked *c);

/* ---- The cache ---------------------------------------------------------- */

/*
 * A caching allocator over the page allocator: freed blocks are kept for a
 * while and handed out again with no system call (a hit), and memory that
 * stays unused for decay_ms goes back to the system by itself, from a
 * background thread, with no further call into the cache. It is an ordinary
 * pagealloc_allocator: anything built on the vtable runs on it unchanged.
 *
 * The allocator keeps the vtable's contract (pagealloc_page_allocator), with
 * these differences:
 * - A block from the cache holds whatever its last user left in it: its
 *   bytes are not zero. A block the cache had to map (a miss) reads as zero.
 *   Bytes past len in the last page, and pages of the block's size class
 *   past len, are the cache's business: the caller uses [ptr, ptr + len).
 * - Blocks are rounded up to a size class: every page count up to 16 pages,
 *   then four classes per doubling (so at most 25 % more pages are mapped
 *   than asked for; the pages not touched take no memory). Blocks larger
 *   than PAGEALLOC_CACHE_MAX_BLOCK go straight to the page allocator, and
 *   so do their frees.
 * - free gives the block to the cache, not to the system; pagealloc_unmap
 *   must never be called on a block of the cache, live or freed. Freed
 *   blocks count in pagealloc_stats().mapped_bytes while the cache holds them.
 * - resize within the block's size class succeeds with no system call; to
 *   another class it changes the block's mapping in place (pagealloc_realloc
 *   without moving). remap within the class returns ptr; a block of up to
 *   PAGEALLOC_CACHE_COPY_MAX bytes moves to a block of the new class by
 *   copying (cheaper than the system call); a larger one moves its pages
 *   (pagealloc_realloc that may move); NULL when neither can be done, the
 *   block untouched.
 * - alloc with an alignment above the page size is served from the cache
 *   when one of the few most recently freed blocks of its class happens to
 *   be aligned enough, else mapped afresh.
 * Frees may come from any thread, for blocks allocated on any thread. Each
 * thread uses one of a fixed set of shards (a lock and per-class lists), so
 * threads do not contend; a free goes to the freeing thread's shard.
 *
 * Memory goes back on a timer: a freed block unused for decay_ms is
 * unmapped, at most two ticks (decay_ms / 2) later. The background thread
 * starts with the first free the cache keeps, wakes every decay_ms / 4
 * while the cache holds anything, and sleeps with no wake-up at all while
 * it is empty. With
 * PAGEALLOC_CACHE_NO_THREAD there is no thread: every call into the cache
 * (at most once per decay_ms / 4) and pagealloc_cache_trim give back what is
 * due. Should the thread fail to start, the cache works as with
 * NO_THREAD until a later start succeeds.
 *
 * The cache never holds more than max_bytes of freed memory, resident or
 * not, counting blocks it is unmapping at that moment: a free that does not
 * fit gives the shard's oldest blocks back first, or, if that is not
 * enough, the freed block itself.
 *
 * fork(): the child has a working cache holding what the parent's held (its
 * own copies); its background thread starts again with its next free. The
 * cache's fork handlers are registered when the library is loaded, so the
 * program's own (pthread_atfork) may use the cache.
 * Purging takes a block out of its list under the shard's lock before
 * unmapping it, so the thread never races an owner for a block. An unmap the
 * system refuses is counted as pagealloc_unmap counts it; the cache no
 * longer holds that block either way.
 */
typedef struct pagealloc_cache pagealloc_cache;

/* Flags of struct pagealloc_cache_options. */
#define PAGEALLOC_CACHE_NO_THREAD 0x1u /* no background thread: calls and trim purge */

/* The defaults (options 0); docs/cache.md gives the measurements behind them. */
#define PAGEALLOC_CACHE_DEFAULT_MAX_BYTES ((size_t)32 << 20)
#define PAGEALLOC_CACHE_DEFAULT_DECAY_MS 50u
/* The largest block the cache keeps; larger ones go to the page allocator. */
#define PAGEALLOC_CACHE_MAX_BLOCK ((size_t)16 << 20)
/* remap moves a block of at most this many bytes by copying it. */
#define PAGEALLOC_CACHE_COPY_MAX ((size_t)64 << 10)

struct pagealloc_cache_options {
    size_t max_bytes;  /* most freed memory the cache may hold; 0: the default */
    unsigned decay_ms; /* freed memory unused this long goes back to the system; 0: the default */
    unsigned flags;    /* PAGEALLOC_CACHE_NO_THREAD, or 0 */
};

/*
 * Makes a cache (options NULL: every default). Its bookkeeping is mapped
 * with pagealloc_map, never malloc. No thread is started until the first
 * free the cache keeps.
 * Errors: NULL with EINVAL for an unknown flag; ENOMEM when its bookkeeping
 * cannot be mapped; another errno if the system refuses the thread's
 * synchronization objects.
 */
PAGEALLOC_API pagealloc_cache *
pagealloc_cache_create(const struct pagealloc_cache_options *options);

/* The cache's allocator; valid until destroy. Thread-safe. */
PAGEALLOC_API pagealloc_allocator pagealloc_cache_allocator(pagealloc_cache *cache);

/*
 * Gives every freed block the cache holds back to the system now; returns
 * their bytes. Live blocks are untouched. Thread-safe. trim(NULL) returns 0.
 */
PAGEALLOC_API size_t pagealloc_cache_trim(pagealloc_cache *cache);

/*
 * Stops the background thread, gives back every block the cache holds and
 * the cache's own memory. Blocks still live (allocated and not freed) are
 * never touched: they stay mapped and usable, and are leaked (they can no
 * longer be freed: the cache is gone, and their mappings are their size
 * class's, not the length the caller knows). No other thread may use the
 * cache then. destroy(NULL) does nothing.
 */
PAGEALLOC_API void pagealloc_cache_destroy(pagealloc_cache *cache);

/* Counters of one cache since its creation; like pagealloc_stats, each
 * field is exact on its own. */
struct pagealloc_cache_stats {
    size_t cached_bytes;    /* freed memory held now (including blocks being unmapped) */
    uint64_t hits;          /* allocs served from the cache: no system call */
    uint64_t misses;        /* allocs of a cacheable size the cache had to map */
    uint64_t splits;        /* allocs served from a larger cached block shrunk to size:
                               one system call (unmapping its tail) */
    uint64_t purged_bytes;  /* bytes given back to the system: decay, trim, eviction */
    uint64_t evicted_bytes; /* of which given back to stay within max_bytes */
    uint64_t wakeups;       /* times the background thread woke to purge */
};

/* The cache's counters. Thread-safe; stats(NULL) is all zero. */
PAGEALLOC_API struct pagealloc_cache_stats pagealloc_cache_stats(pagealloc_cache *cache);

#ifdef __cplusplus
}
#endif

#endif
