/*
 * The seam between the portable allocator (pagealloc.c) and one operating
 * system family (os_posix.c, os_windows.c). Each OS file implements exactly
 * the functions below and nothing else public.
 *
 * Every function may assume, and the portable code guarantees:
 * - addresses are page-aligned and non-NULL, sizes are non-zero multiples of
 *   the page size, and `align` is a power of two no smaller than a page;
 * - size + align does not overflow, and neither does addr + size (except
 *   addr + new_size in pa_os_move);
 * - the block passed in is one the library mapped, at its current size, and a
 *   range passed in lies inside one such block. Its pages may be in any state
 *   (pagealloc.h): growth must make the new pages committed read-write and
 *   leave the old ones as they were.
 * Each returns 0 on success or an errno value (errno itself may change).
 * Each system call is announced with pa_sys_enter() right before it is made.
 *
 * The ownership rule, which every call site must keep: the library only
 * unmaps, replaces (MAP_FIXED), discards, decommits or releases a range it
 * holds at that instant. Other threads, allocators and the C library share
 * the address space, and any range the library lets go of may be theirs a
 * moment later. After a call that may have had partial effects, a range whose
 * ownership is uncertain is re-taken only through an exclusive call
 * (MAP_FIXED_NOREPLACE, a reservation at an exact address) or left alone,
 * and counted with pa_count_unmap_failure(): leaking address space beats
 * destroying someone else's memory.
 */
#ifndef PAGEALLOC_OS_H
#define PAGEALLOC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The page size; called once, the result is cached by the caller. The OS
 * files themselves read the cached value, pagealloc_page_size(). */
size_t pa_os_page_size(void);

/* Whether pa_os_move can move a block's pages without copying them (Linux
 * mremap). Where it can, a block that cannot grow in place moves in one call,
 * and the portable code leaves new blocks no room to grow (pagealloc.c). */
bool pa_os_moves_pages(void);

/*
 * Maps `size` bytes of zeroed read-write memory at an address that is a
 * multiple of `align`. `ceiling` is the address hint (0 = none): a good place
 * is just below it (see pa_place_below). Stores the address in *out.
 */
int pa_os_map(size_t size, size_t align, uintptr_t ceiling, void **out);

/* Unmaps [addr, addr + size). On failure the part the system kept (all of it
 * on POSIX; on Windows the reservations from the refused one on) stays
 * mapped, its memory discarded as by pa_os_discard; any part before it is
 * gone, and another thread's at once. */
int pa_os_unmap(void *addr, size_t size);

/* Gives the physical memory of [addr, addr + size) back while keeping the
 * range held. POSIX: the range stays mapped and reads as zero. Windows: it is
 * decommitted (reserved), so that its commit charge goes back too. */
int pa_os_discard(void *addr, size_t size);

/* Shrinks a block from old_size to new_size in place, giving the tail back.
 * On failure the block is untouched. Once part of the tail is given back the
 * shrink succeeds: what the system then refuses to release is left out of
 * the block, its memory given back all the same (Windows: decommitted),
 * counted with pa_count_unmap_failure(). */
int pa_os_shrink(void *addr, size_t old_size, size_t new_size);

/* Grows a block from old_size to new_size without moving it; the new bytes
 * are zero. On failure (ENOMEM when the next range is taken) it is untouched. */
int pa_os_grow(void *addr, size_t old_size, size_t new_size);

/*
 * Grows a block from old_size to new_size, in place if possible, else by
 * moving its pages to a new address that is a multiple of `align` without
 * copying them (the old range is unmapped). `ceiling` is the address hint.
 * Stores the block's address in *out. On failure the block is untouched; an
 * OS that cannot move pages fails with the in-place growth's error.
 * addr + new_size may pass the end of the address space (a block high in a
 * 32-bit one): it cannot grow in place then, only move, else ENOMEM.
 */
int pa_os_move(void *addr, size_t old_size, size_t new_size, size_t align, uintptr_t ceiling,
               void **out);

/* ---- Page states (pagealloc.h, "Reservations and page states") -------- */

/* Like pa_os_map, but every page is reserved: no access, no memory, no
 * commit charge. */
int pa_os_reserve(size_t size, size_t align, uintptr_t ceiling, void **out);

/* Makes [addr, addr + size) committed read-write; reserved pages read as
 * zero, committed ones keep their bytes. ENOMEM when the system refuses. */
int pa_os_commit(void *addr, size_t size);

/* Makes [addr, addr + size) reserved, giving its memory back at once. On
 * failure the range is as it was, or, where a failed MAP_FIXED left a hole
 * that an exclusive map could not take back, left alone (not counted: it
 * cannot be told from a range still as it was). Windows: a range over several
 * reservations is decommitted one after another; a refusal leaves those
 * before it decommitted and the rest as it was. */
int pa_os_decommit(void *addr, size_t size);

/* Sets the access of [addr, addr + size) to `access`, one of the valid
 * PAGEALLOC_* access combinations (checked by the caller). */
int pa_os_protect(void *addr, size_t size, unsigned access);

/* ---- Huge pages and prefaulting ----------------------------------------- */

/*
 * The size of the huge pages the system gives an advised range (Linux with
 * transparent huge pages `always` or `madvise`), or 0 when it gives none. A
 * power of two larger than the page size. Called once; the result is cached
 * by the caller (pagealloc_huge_page_size).
 */
size_t pa_os_huge_page_size(void);

/* Asks that [addr, addr + size) be backed by huge pages wherever it holds
 * whole aligned ones, now and after it grows or moves; called only when
 * pa_os_huge_page_size() is not 0. Contents and sizes stay as they are. */
int pa_os_advise_huge(void *addr, size_t size);

/*
 * Makes every page of [addr, addr + size) resident and writable without a
 * further fault, without changing a byte. The range is meant to be committed
 * read-write; a page that is not gives EFAULT, never a fault. On failure
 * (ENOMEM when memory runs out) some pages may be resident already; none has
 * changed. ENOSYS: the system has no such call (or PAGEALLOC_NO_POPULATE_WRITE
 * is set); the caller then writes to each page itself, so an OS file answers
 * ENOSYS only once every page was found read-write, or where it cannot be
 * checked (the BSDs).
 */
int pa_os_populate(void *addr, size_t size);

/* ---- Provided by pagealloc.c to the OS files --------------------------- */

enum pa_sys {
    PA_SYS_MAP,
    PA_SYS_UNMAP,
    PA_SYS_REMAP,
    PA_SYS_ADVISE,
    PA_SYS_QUERY,
    PA_SYS_PROTECT,
    PA_SYS_POPULATE, /* a prefault: MADV_POPULATE_WRITE, or one pass touching each page */
    PA_SYS_KINDS
};

/*
 * Called right before each system call: counts it in the stats. Returns 0 to
 * go ahead, or (in fault-injection builds only) an errno value that the OS
 * file must treat as that call's failure, without making the call.
 */
int pa_sys_enter(enum pa_sys kind);

/* Counts, in pagealloc_stats().unmap_failures, a range an OS file had to
 * leave behind (refused, or no longer known to be its own to give back). */
void pa_count_unmap_failure(void);

/*
 * False until some block may hold pages that are not committed read-write
 * (after the first reservation, decommit, or protect to another access).
 * Until then growth may let new pages take the access of the block's last
 * pages, as mremap does; afterwards the OS file must make them read-write.
 */
bool pa_pages_may_vary(void);

/*
 * The highest address `a` with a + size <= ceiling and a % modulus == offset
 * (modulus a power of two, offset < modulus), or 0 when there is none or no
 * ceiling. This is where a new mapping should go under the address hint.
 */
static inline uintptr_t pa_place_below(uintptr_t ceiling, size_t size, size_t modulus,
                                       size_t offset)
{
    if (ceiling == 0 || ceiling < size)
        return 0;
    uintptr_t top = ceiling - size;
    uintptr_t a = (top & ~(uintptr_t)(modulus - 1)) + offset;
    if (a > top) {
        if (a < modulus)
            return 0;
        a -= modulus;
    }
    return a;
}

#endif
