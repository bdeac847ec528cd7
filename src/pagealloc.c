/*
 * The portable part of pagealloc: argument checks, size and alignment
 * arithmetic, the address hint, the allocator vtable and the statistics.
 * Everything that talks to the system is behind os.h.
 */
#include "pagealloc.h"

#include "os.h"

/* Test builds may fail chosen system calls (fault.h); the call site is the
 * return address of pa_sys_enter, in the OS file. */
#ifdef PAGEALLOC_FAULT_INJECTION
#include "fault.h"
#define FAULT_CHECK(kind) pa_fault_check(kind, (uintptr_t)__builtin_return_address(0))
#else
#define FAULT_CHECK(kind) 0
#endif

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* ---- Checked arithmetic ------------------------------------------------ */

static bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* *out = x rounded up to a multiple of the power of two m; false on overflow. */
static bool round_up(size_t x, size_t m, size_t *out)
{
    if (x > SIZE_MAX - (m - 1))
        return false;
    *out = (x + (m - 1)) & ~(m - 1);
    return true;
}

static bool is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* Checks a range given to unmap, populate, commit, decommit or protect;
 * *size gets its length in whole pages. False (errno EINVAL) for NULL,
 * unaligned, empty or overflowing. */
static bool check_range(void *ptr, size_t len, size_t *size)
{
    size_t page = pagealloc_page_size();
    if (ptr == NULL || len == 0 || !is_aligned(ptr, page) || !round_up(len, page, size) ||
        *size > UINTPTR_MAX - (uintptr_t)ptr) {
        errno = EINVAL;
        return false;
    }
    return true;
}

/* An OS call's result as the API gives it: true, or false with errno. */
static bool os_result(int err)
{
    if (err != 0)
        errno = err;
    return err == 0;
}

/* ---- Version ------------------------------------------------------------ */

unsigned int pagealloc_version(void)
{
    return PAGEALLOC_VERSION;
}

/* ---- Page size ---------------------------------------------------------- */

static _Atomic size_t cached_page_size;

size_t pagealloc_page_size(void)
{
    size_t page = atomic_load_explicit(&cached_page_size, memory_order_relaxed);
    if (page == 0) {
        page = pa_os_page_size();
        atomic_store_explicit(&cached_page_size, page, memory_order_relaxed);
    }
    return page;
}

/* ---- Statistics --------------------------------------------------------- */

static _Atomic size_t stat_mapped;
static _Atomic size_t stat_peak;
static _Atomic uint64_t stat_sys[PA_SYS_KINDS];
static _Atomic uint64_t stat_unmap_failures;

static void stat_map(size_t bytes)
{
    size_t now = atomic_fetch_add_explicit(&stat_mapped, bytes, memory_order_relaxed) + bytes;
    size_t peak = atomic_load_explicit(&stat_peak, memory_order_relaxed);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&stat_peak, &peak, now, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static void stat_unmap(size_t bytes)
{
    atomic_fetch_sub_explicit(&stat_mapped, bytes, memory_order_relaxed);
}

int pa_sys_enter(enum pa_sys kind)
{
    atomic_fetch_add_explicit(&stat_sys[kind], 1, memory_order_relaxed);
    return FAULT_CHECK(kind);
}

void pa_count_unmap_failure(void)
{
    atomic_fetch_add_explicit(&stat_unmap_failures, 1, memory_order_relaxed);
}

struct pagealloc_stats pagealloc_stats(void)
{
    struct pagealloc_stats s;
    s.mapped_bytes = atomic_load_explicit(&stat_mapped, memory_order_relaxed);
    s.peak_mapped_bytes = atomic_load_explicit(&stat_peak, memory_order_relaxed);
    s.map_calls = atomic_load_explicit(&stat_sys[PA_SYS_MAP], memory_order_relaxed);
    s.unmap_calls = atomic_load_explicit(&stat_sys[PA_SYS_UNMAP], memory_order_relaxed);
    s.remap_calls = atomic_load_explicit(&stat_sys[PA_SYS_REMAP], memory_order_relaxed);
    s.advise_calls = atomic_load_explicit(&stat_sys[PA_SYS_ADVISE], memory_order_relaxed);
    s.query_calls = atomic_load_explicit(&stat_sys[PA_SYS_QUERY], memory_order_relaxed);
    s.unmap_failures = atomic_load_explicit(&stat_unmap_failures, memory_order_relaxed);
    s.protect_calls = atomic_load_explicit(&stat_sys[PA_SYS_PROTECT], memory_order_relaxed);
    s.populate_calls = atomic_load_explicit(&stat_sys[PA_SYS_POPULATE], memory_order_relaxed);
    return s;
}

/* ---- The address hint and room to grow ---------------------------------- */

/*
 * Room to grow (docs/address-hint.md has the figures that chose these). A new
 * block of ROOM_MIN_SIZE bytes or more is placed ROOM_FACTOR - 1 times its
 * size (at most ROOM_MAX bytes) below the hint instead of right under it, so
 * that the free address space above it lets it grow in place to ROOM_FACTOR
 * times its size (four doublings) where pages cannot move (Windows, macOS,
 * the BSDs) and in one mremap on Linux. The room is free address space, not
 * held: nothing is mapped or reserved there, growth takes it only through an
 * exclusive call, and it costs neither memory nor a mapping. Smaller blocks,
 * which rarely grow, are placed right under the hint, where adjacent ones
 * merge into few kernel mappings. Where address space is scarce (32-bit) the
 * room is one size (one doubling), at most 16 MiB. No room is left below
 * ROOM_FLOOR, where the program, its heap and, under valgrind, all its
 * mappings are: blocks there are placed as before.
 * Only where pages cannot move (pa_os_moves_pages() false): where they can
 * (Linux mremap), a block that cannot grow in place moves in one call anyway,
 * and a block alone in its 2 MiB span costs a page-table page per alloc +
 * write + free (1.7-1.8x at 1 MiB and 64 MiB in make bench), so blocks stack
 * right under the hint there. PAGEALLOC_ROOM=1 in the environment gives room
 * everywhere, PAGEALLOC_NO_ROOM=1 nowhere (tests and the benchmark compare).
 */
#define ROOM_MIN_SIZE ((size_t)1 << 20)
#if UINTPTR_MAX > 0xFFFFFFFFu
#define ROOM_FACTOR 16
#define ROOM_MAX ((size_t)1 << 36)
#define ROOM_FLOOR ((uintptr_t)1 << 32)
#else
#define ROOM_FACTOR 2
#define ROOM_MAX ((size_t)16 << 20)
#define ROOM_FLOOR ((uintptr_t)1 << 28)
#endif

/* 0 not read yet, 1 room left, -1 none. */
static _Atomic int room_state;

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' && v[0] != '0';
}

static bool room_wanted(void)
{
    int state = atomic_load_explicit(&room_state, memory_order_relaxed);
    if (state == 0) {
        bool room = env_set("PAGEALLOC_ROOM") || !pa_os_moves_pages();
        state = room && !env_set("PAGEALLOC_NO_ROOM") ? 1 : -1;
        atomic_store_explicit(&room_state, state, memory_order_relaxed);
    }
    return state > 0;
}

/* The free address space a new block of `size` bytes gets above it. */
static size_t room_for(size_t size)
{
    if (size < ROOM_MIN_SIZE || !room_wanted())
        return 0;
    return size > ROOM_MAX / (ROOM_FACTOR - 1) ? ROOM_MAX : size * (ROOM_FACTOR - 1);
}

/*
 * The low end of the most recent mapping (0 until there is one). New blocks
 * are placed below it, aligned, so that an aligned request is normally one
 * system call, and with room to grow above them (room_for). It follows where
 * blocks land: down while they stack under it, away from the main thread's
 * stack; back up over a freed block that sat right below it, so an alloc/free
 * loop reuses one range; and wherever the kernel put a block it could not
 * place under the hint, higher ones too. A lost race between threads costs
 * at most a less useful hint.
 */
static _Atomic uintptr_t next_mmap_addr_hint;
/* The top of the newest block's room (the hint before it was placed), and,
 * once that block is freed, the hint it left (its end): while the hint is
 * still there, the next block with room goes under that top again rather
 * than one more room further down. */
static _Atomic uintptr_t newest_room_top;
static _Atomic uintptr_t freed_end;

static uintptr_t hint_load(void)
{
    return atomic_load_explicit(&next_mmap_addr_hint, memory_order_relaxed);
}

/* Where a new block of `size` bytes should end at the latest (0: anywhere). */
static uintptr_t hint_ceiling(uintptr_t hint, size_t size)
{
    size_t room = room_for(size);
    if (room == 0)
        return hint;
    uintptr_t top = hint;
    if (atomic_load_explicit(&freed_end, memory_order_relaxed) == hint) {
        uintptr_t freed_top = atomic_load_explicit(&newest_room_top, memory_order_relaxed);
        top = freed_top > hint ? freed_top : hint;
    }
    return top > room && top - room >= ROOM_FLOOR ? top - room : hint;
}

static void hint_mapped(uintptr_t seen, void *block, size_t size)
{
    uintptr_t low = (uintptr_t)block, end = low + size;
    uintptr_t top = seen;
    if (atomic_load_explicit(&freed_end, memory_order_relaxed) == seen) {
        uintptr_t freed_top = atomic_load_explicit(&newest_room_top, memory_order_relaxed);
        top = freed_top > seen ? freed_top : seen;
    }
    if (atomic_compare_exchange_strong_explicit(&next_mmap_addr_hint, &seen, low,
                                                memory_order_relaxed, memory_order_relaxed)) {
        atomic_store_explicit(&newest_room_top, top >= end ? top : end, memory_order_relaxed);
        atomic_store_explicit(&freed_end, 0, memory_order_relaxed);
    }
}

static void hint_unmapped(void *block, size_t size)
{
    uintptr_t seen = (uintptr_t)block, end = seen + size;
    if (atomic_compare_exchange_strong_explicit(&next_mmap_addr_hint, &seen, end,
                                                memory_order_relaxed, memory_order_relaxed))
        atomic_store_explicit(&freed_end, end, memory_order_relaxed);
}

/* ---- Huge pages and prefaulting ----------------------------------------- */

/* SIZE_MAX until read: 0 is an answer (no huge pages). */
static _Atomic size_t cached_huge_page_size = SIZE_MAX;

size_t pagealloc_huge_page_size(void)
{
    size_t huge = atomic_load_explicit(&cached_huge_page_size, memory_order_relaxed);
    if (huge == SIZE_MAX) {
        huge = pa_os_huge_page_size();
        atomic_store_explicit(&cached_huge_page_size, huge, memory_order_relaxed);
    }
    return huge;
}

/* Zero, read through volatile: clang turns an atomic add of a constant zero
 * into a fence and a plain load, a read, which would map the zero page. */
static volatile unsigned char opaque_zero;

/* One write access per page that keeps its byte: an atomic add of zero, so
 * that no read fault maps the zero page first and no concurrent write to the
 * byte is lost. */
static int touch_pages(void *ptr, size_t size)
{
    int err = pa_sys_enter(PA_SYS_POPULATE);
    if (err != 0)
        return err;
    size_t page = pagealloc_page_size();
    for (size_t off = 0; off < size; off += page)
        atomic_fetch_add_explicit((volatile _Atomic unsigned char *)ptr + off, opaque_zero,
                                  memory_order_relaxed);
    return 0;
}

static int populate(void *ptr, size_t size)
{
    int err = pa_os_populate(ptr, size);
    return err == ENOSYS ? touch_pages(ptr, size) : err;
}

bool pagealloc_populate(void *ptr, size_t len)
{
    size_t size;
    return check_range(ptr, len, &size) && os_result(populate(ptr, size));
}

/* The alignment a block of `size` bytes is placed at: PAGEALLOC_HUGE raises it
 * to the huge page size for a block of at least one huge page. */
static size_t huge_alignment(unsigned flags, size_t size, size_t align)
{
    size_t huge = (flags & PAGEALLOC_HUGE) ? pagealloc_huge_page_size() : 0;
    return huge != 0 && size >= huge && huge > align ? huge : align;
}

/* Maps (or reserves) a new block, at a huge-page boundary when PAGEALLOC_HUGE
 * asks for one and it is large enough; where that placement fails it goes
 * where it would without the flag, since the flag is never a reason to fail. */
static int map_block(size_t size, size_t align, unsigned flags, uintptr_t hint, void **out)
{
    int (*map)(size_t, size_t, uintptr_t, void **) =
        (flags & PAGEALLOC_RESERVE) ? pa_os_reserve : pa_os_map;
    size_t huge_align = huge_alignment(flags, size, align);
    if (huge_align != align && size <= SIZE_MAX - huge_align &&
        map(size, huge_align, hint, out) == 0)
        return 0;
    return map(size, align, hint, out);
}

/* What mapx does to a new block after mapping it: the huge-page advice (a
 * request: its failure leaves an ordinary block; a block smaller than a huge
 * page takes it too, for the huge pages it will hold once grown), then the
 * prefault, whose failure the caller reports after unmapping the block. */
static int prepare_block(void *block, size_t size, unsigned flags)
{
    if ((flags & PAGEALLOC_HUGE) && pagealloc_huge_page_size() != 0)
        pa_os_advise_huge(block, size);
    return (flags & PAGEALLOC_POPULATE) ? populate(block, size) : 0;
}

/* ---- OS layer ----------------------------------------------------------- */

/* Set once any block may have pages other than committed read-write. */
static _Atomic bool pages_vary;

bool pa_pages_may_vary(void)
{
    return atomic_load_explicit(&pages_vary, memory_order_relaxed);
}

/* Called before the first call that can make pages not read-write; a block
 * is only used by one thread at a time, so relaxed order is enough. */
static void note_pages_vary(void)
{
    if (!atomic_load_explicit(&pages_vary, memory_order_relaxed))
        atomic_store_explicit(&pages_vary, true, memory_order_relaxed);
}

/* The flags pagealloc_mapx knows. */
#define KNOWN_FLAGS (PAGEALLOC_RESERVE | PAGEALLOC_HUGE | PAGEALLOC_POPULATE)

void *pagealloc_mapx(size_t len, size_t alignment, unsigned flags)
{
    size_t page = pagealloc_page_size();
    size_t size;
    if (len == 0 || !is_pow2(alignment) || (flags & ~(unsigned)KNOWN_FLAGS) != 0 ||
        ((flags & PAGEALLOC_RESERVE) && (flags & PAGEALLOC_POPULATE))) {
        errno = EINVAL;
        return NULL;
    }
    size_t align = alignment > page ? alignment : page;
    /* Every way of mapping may over-allocate by up to align - page bytes. */
    if (!round_up(len, page, &size) || size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t hint = hint_load();
    void *block;
    if (flags & PAGEALLOC_RESERVE)
        note_pages_vary();
    int err = map_block(size, align, flags, hint_ceiling(hint, size), &block);
    if (err != 0) {
        errno = err;
        return NULL;
    }
    hint_mapped(hint, block, size);
    stat_map(size);
    if ((err = prepare_block(block, size, flags)) != 0) {
        pagealloc_unmap(block, size);
        errno = err;
        return NULL;
    }
    return block;
}

void *pagealloc_map(size_t len, size_t alignment)
{
    return pagealloc_mapx(len, alignment, 0);
}

void pagealloc_unmap(void *ptr, size_t len)
{
    size_t size;
    if (ptr == NULL || !check_range(ptr, len, &size))
        return;
    int err = pa_os_unmap(ptr, size);
    if (err != 0) {
        /* What the system kept stays taken, its memory discarded. */
        atomic_fetch_add_explicit(&stat_unmap_failures, 1, memory_order_relaxed);
        errno = err;
    } else {
        hint_unmapped(ptr, size);
    }
    stat_unmap(size);
}

void *pagealloc_realloc(void *ptr, size_t len, size_t alignment, size_t new_len, bool may_move)
{
    size_t page = pagealloc_page_size();
    size_t old_size, new_size;
    if (ptr == NULL || len == 0 || new_len == 0 || !is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    size_t align = alignment > page ? alignment : page;
    if (!is_aligned(ptr, align) || !round_up(len, page, &old_size) ||
        old_size > UINTPTR_MAX - (uintptr_t)ptr) {
        errno = EINVAL;
        return NULL;
    }
    /* Past the end of the address space a block can only grow by moving. */
    if (!round_up(new_len, page, &new_size) || new_size > SIZE_MAX - align ||
        (!may_move && new_size > UINTPTR_MAX - (uintptr_t)ptr)) {
        errno = ENOMEM;
        return NULL;
    }
    if (new_size == old_size)
        return ptr;

    int err;
    void *block = ptr;
    if (new_size < old_size) {
        err = pa_os_shrink(ptr, old_size, new_size);
    } else if (!may_move) {
        err = pa_os_grow(ptr, old_size, new_size);
    } else {
        uintptr_t hint = hint_load();
        err = pa_os_move(ptr, old_size, new_size, align, hint_ceiling(hint, new_size), &block);
        if (err == 0 && block != ptr)
            hint_mapped(hint, block, new_size);
    }
    if (err != 0) {
        errno = err;
        return NULL;
    }
    if (new_size > old_size)
        stat_map(new_size - old_size);
    else
        stat_unmap(old_size - new_size);
    return block;
}

/* ---- Page states -------------------------------------------------------- */

bool pagealloc_commit(void *ptr, size_t len)
{
    size_t size;
    return check_range(ptr, len, &size) && os_result(pa_os_commit(ptr, size));
}

bool pagealloc_decommit(void *ptr, size_t len)
{
    size_t size;
    if (!check_range(ptr, len, &size))
        return false;
    note_pages_vary();
    return os_result(pa_os_decommit(ptr, size));
}

bool pagealloc_protect(void *ptr, size_t len, unsigned access)
{
    const unsigned known = PAGEALLOC_READ | PAGEALLOC_WRITE | PAGEALLOC_EXEC;
    size_t size;
    if ((access & ~known) != 0 || (access != 0 && !(access & PAGEALLOC_READ))) {
        errno = EINVAL;
        return false;
    }
    if (!check_range(ptr, len, &size))
        return false;
    if (access != (PAGEALLOC_READ | PAGEALLOC_WRITE))
        note_pages_vary();
    return os_result(pa_os_protect(ptr, size, access));
}

/* ---- Allocator interface ------------------------------------------------ */

static void *page_alloc(void *ctx, size_t len, size_t alignment)
{
    (void)ctx;
    return pagealloc_map(len, alignment);
}

static bool page_resize(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    (void)ctx;
    return pagealloc_realloc(ptr, len, alignment, new_len, false) != NULL;
}

static void *page_remap(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    (void)ctx;
    return pagealloc_realloc(ptr, len, alignment, new_len, true);
}

static void page_free(void *ctx, void *ptr, size_t len, size_t alignment)
{
    (void)ctx;
    (void)alignment;
    pagealloc_unmap(ptr, len);
}

static const pagealloc_vtable page_vtable = {page_alloc, page_resize, page_remap, page_free};

pagealloc_allocator pagealloc_page_allocator(void)
{
    pagealloc_allocator a = {NULL, &page_vtable};
    return a;
}
