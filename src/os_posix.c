/*
 * os.h on POSIX systems: Linux, macOS, the BSDs.
 *
 * Linux grows and moves blocks with mremap. Elsewhere (or with
 * PAGEALLOC_NO_MREMAP) a block grows in place by mapping the range right
 * after it, and cannot move without copying. Both paths are compiled on every
 * system; only the choice between them depends on the platform.
 */
#define _GNU_SOURCE
#include "os.h"
#include "pagealloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef PAGEALLOC_FAULT_INJECTION
#include "fault.h"
#endif

#if defined(__linux__) && !defined(PAGEALLOC_NO_MREMAP)
static const bool have_mremap = true;
static void *call_mremap(void *addr, size_t old_size, size_t new_size, int flags, void *target)
{
    return mremap(addr, old_size, new_size, flags, target);
}
#else
static const bool have_mremap = false;
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
static void *call_mremap(void *addr, size_t old_size, size_t new_size, int flags, void *target)
{
    (void)addr, (void)old_size, (void)new_size, (void)flags, (void)target;
    errno = ENOSYS;
    return MAP_FAILED;
}
#endif

/* Flags that ask for exactly the address given without replacing anything.
 * Some kernels (before Linux 4.17, qemu-user) ignore them and treat the
 * address as a hint, so every result is still compared with the request. */
#if defined(MAP_FIXED_NOREPLACE)
#define MAP_EXACT MAP_FIXED_NOREPLACE
#elif defined(MAP_EXCL)
#define MAP_EXACT (MAP_FIXED | MAP_EXCL)
#else
#define MAP_EXACT 0
#endif

/* Linux 5.14 faults a range in with one call; older headers lack the name.
 * Elsewhere the value only marks the advice as missing (never passed on). */
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif
#if defined(__linux__)
static const bool have_populate_write = true;
#else
static const bool have_populate_write = false;
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE (-1)
#endif
#endif

/* Linux frees discarded pages at once; elsewhere MADV_FREE lets them go. */
#if defined(__linux__) || !defined(MADV_FREE)
#define DISCARD_ADVICE MADV_DONTNEED
#else
#define DISCARD_ADVICE MADV_FREE
#endif

/* ---- System calls, each announced to the portable layer ----------------- */

/* Every argument was checked before the call, so EINVAL from mmap or mremap
 * can only mean a length the system cannot place (valgrind, some BSDs say
 * EINVAL where Linux says ENOMEM), and EAGAIN on anonymous memory only that
 * mlockall(MCL_FUTURE) would pass RLIMIT_MEMLOCK: out of lockable memory.
 * Both are reported as the API documents, ENOMEM. */
static int no_room_error(int err)
{
    return err == EINVAL || err == EAGAIN ? ENOMEM : err;
}

/* Failure-injection builds inline each wrapper into its caller, so that the
 * return address pa_sys_enter() records names the call site (fault.h). */
#if defined(PAGEALLOC_FAULT_INJECTION) && defined(__GNUC__)
#define SYS_WRAPPER static inline __attribute__((always_inline))
#else
#define SYS_WRAPPER static
#endif

/* An injected failure of a call that may replace a range leaves what a real
 * one may: the range unmapped, a hole another thread may take at once
 * (fault.h lets a test be that thread). */
#ifdef PAGEALLOC_FAULT_INJECTION
static void injected_hole(void *addr, size_t size)
{
    if (munmap(addr, size) == 0)
        pa_fault_hole(addr, size);
}
#else
#define injected_hole(addr, size) ((void)0)
#endif

SYS_WRAPPER void *sys_mmap(void *addr, size_t size, int prot, int flags)
{
    int err = pa_sys_enter(PA_SYS_MAP);
    if (err != 0) {
        /* A failed MAP_FIXED may have unmapped the range (Linux 6.12 on). */
        if ((flags & (MAP_FIXED | MAP_EXACT)) == MAP_FIXED)
            injected_hole(addr, size);
        errno = err;
        return MAP_FAILED;
    }
    void *p = mmap(addr, size, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        errno = no_room_error(errno);
    return p;
}

SYS_WRAPPER int sys_munmap(void *addr, size_t size)
{
    int err = pa_sys_enter(PA_SYS_UNMAP);
    if (err != 0)
        return err;
    return munmap(addr, size) == 0 ? 0 : errno;
}

SYS_WRAPPER void *sys_mremap(void *addr, size_t old_size, size_t new_size, int flags, void *target)
{
    int err = pa_sys_enter(PA_SYS_REMAP);
    if (err != 0) {
        /* mremap_to() unmaps the target before checks that can still fail
         * (commit charge, copy_vma, ...). */
        if ((flags & MREMAP_FIXED) != 0)
            injected_hole(target, new_size);
        errno = err;
        return MAP_FAILED;
    }
    void *p = call_mremap(addr, old_size, new_size, flags, target);
    if (p == MAP_FAILED)
        errno = no_room_error(errno);
    return p;
}

SYS_WRAPPER int sys_mprotect(void *addr, size_t size, int prot)
{
    int err = pa_sys_enter(PA_SYS_PROTECT);
    if (err != 0)
        return err;
    return mprotect(addr, size, prot) == 0 ? 0 : errno;
}

SYS_WRAPPER int sys_madvise(void *addr, size_t size, int advice)
{
    int err = pa_sys_enter(advice == MADV_POPULATE_WRITE ? PA_SYS_POPULATE : PA_SYS_ADVISE);
    if (err != 0)
        return err;
    return madvise(addr, size, advice) == 0 ? 0 : errno;
}

/* ---- Helpers ------------------------------------------------------------ */

static char *at(void *addr, size_t offset)
{
    return (char *)addr + offset;
}

/* Maps exactly [addr, addr + size), replacing nothing; NULL if it is taken. */
static void *map_exact(void *addr, size_t size, int prot)
{
    void *p = sys_mmap(addr, size, prot, MAP_EXACT);
    if (p == MAP_FAILED)
        return NULL;
    if (p != addr) {
        /* The kernel took the address as a hint and put the pages elsewhere. */
        if (sys_munmap(p, size) != 0)
            pa_count_unmap_failure();
        return NULL;
    }
    return p;
}

/*
 * Reserves `size` bytes at an address a with a % modulus == offset, anywhere:
 * maps size + modulus - page bytes and unmaps the ends. The reservation is
 * PROT_NONE, which the kernel does not charge against overcommit, so the
 * over-allocation cannot make a request fail that fits.
 */
static int reserve_congruent(size_t size, size_t modulus, size_t offset, void **out)
{
    size_t page = pagealloc_page_size();
    if (size > SIZE_MAX - (modulus - page))
        return ENOMEM;
    size_t span = size + (modulus - page);
    void *r = sys_mmap(NULL, span, PROT_NONE, 0);
    if (r == MAP_FAILED)
        return errno;
    size_t front = (offset - (uintptr_t)r) & (modulus - 1);
    size_t back = span - front - size;
    int err = front != 0 ? sys_munmap(r, front) : 0;
    if (err != 0) {
        if (sys_munmap(r, span) != 0)
            pa_count_unmap_failure();
        return err;
    }
    err = back != 0 ? sys_munmap(at(r, front + size), back) : 0;
    if (err != 0) {
        if (sys_munmap(at(r, front), size + back) != 0)
            pa_count_unmap_failure();
        return err;
    }
    *out = at(r, front);
    return 0;
}

/*
 * Maps `size` bytes at an address a with a % modulus == offset: first exactly
 * under the hint, which is one system call when that range is free, else by
 * reserving size + modulus - page bytes anywhere, unmapping the ends and
 * opening the rest with `prot` (see reserve_congruent).
 */
static int map_congruent(size_t size, size_t modulus, size_t offset, uintptr_t ceiling, int prot,
                         void **out)
{
    uintptr_t want = pa_place_below(ceiling, size, modulus, offset);
    if (want != 0) {
        void *p = map_exact((void *)want, size, prot);
        if (p != NULL) {
            *out = p;
            return 0;
        }
    }
    void *r = NULL;
    int err = reserve_congruent(size, modulus, offset, &r);
    if (err != 0)
        return err;
    /* Only the part kept is opened, and charged. */
    if (prot != PROT_NONE && (err = sys_mprotect(r, size, prot)) != 0) {
        if (sys_munmap(r, size) != 0)
            pa_count_unmap_failure();
        return err;
    }
    *out = r;
    return 0;
}

/* ---- os.h --------------------------------------------------------------- */

size_t pa_os_page_size(void)
{
    /* POSIX guarantees _SC_PAGESIZE; it cannot fail. */
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int map_with(size_t size, size_t align, uintptr_t ceiling, int prot, void **out)
{
    if (align == pagealloc_page_size()) {
        /* Any address will do: the hint is only a suggestion to the kernel. */
        void *p = sys_mmap((void *)pa_place_below(ceiling, size, align, 0), size, prot, 0);
        if (p == MAP_FAILED)
            return errno;
        *out = p;
        return 0;
    }
    return map_congruent(size, align, 0, ceiling, prot, out);
}

int pa_os_map(size_t size, size_t align, uintptr_t ceiling, void **out)
{
    return map_with(size, align, ceiling, PROT_READ | PROT_WRITE, out);
}

/* munmap refuses all or nothing: the whole block is still ours to discard. */
int pa_os_unmap(void *addr, size_t size)
{
    int err = sys_munmap(addr, size);
    if (err != 0)
        pa_os_discard(addr, size);
    return err;
}

int pa_os_discard(void *addr, size_t size)
{
    return sys_madvise(addr, size, DISCARD_ADVICE);
}

int pa_os_shrink(void *addr, size_t old_size, size_t new_size)
{
    return sys_munmap(at(addr, new_size), old_size - new_size);
}

/* Set once a block was advised to use huge pages (pa_os_advise_huge). */
static _Atomic bool advised_huge;

/*
 * mremap gives the grown tail the access of the block's last pages and fails
 * with EFAULT on a block of several mappings (pages of mixed states). Once
 * pages may vary, growth maps the next range read-write instead: one call
 * where mremap needs an mprotect after it, and the kernel merges the new
 * mapping with the block's last one when their pages agree. Only once a block
 * may be advised does mremap stay (the mapping it extends keeps the advice),
 * the tail made read-write after it (or the growth undone).
 */
int pa_os_grow(void *addr, size_t old_size, size_t new_size)
{
    char *tail = at(addr, old_size);
    size_t grow_by = new_size - old_size;
    if (have_mremap &&
        (!pa_pages_may_vary() || atomic_load_explicit(&advised_huge, memory_order_relaxed))) {
        if (sys_mremap(addr, old_size, new_size, 0, NULL) != MAP_FAILED) {
            int err = pa_pages_may_vary() ? sys_mprotect(tail, grow_by, PROT_READ | PROT_WRITE) : 0;
            if (err != 0 && sys_munmap(tail, grow_by) != 0)
                pa_count_unmap_failure();
            return err;
        }
        if (errno != EFAULT || !pa_pages_may_vary())
            return errno;
    }
    return map_exact(tail, grow_by, PROT_READ | PROT_WRITE) != NULL ? 0 : ENOMEM;
}

/*
 * The kernel moves a block by moving its page-table entries; when source and
 * target sit at the same offset within the span one page-table page covers
 * (2 MiB with 4 KiB pages), it moves whole page-table pages instead, about
 * twenty times faster for large blocks.
 */
static size_t page_table_span(void)
{
    size_t page = pagealloc_page_size();
    return page * (page / sizeof(void *));
}

/*
 * A refused mremap onto `target` may have unmapped it first (see
 * sys_mremap), and another thread's mmap may have landed in the
 * hole since, so the target is no longer known to be ours. It is unmapped
 * only after an exclusive mapping re-took all of it; else it is left, maybe
 * still reserved, and counted.
 */
static void give_up_target(void *target, size_t size)
{
    void *p = map_exact(target, size, PROT_NONE);
    if (p == NULL || sys_munmap(p, size) != 0)
        pa_count_unmap_failure();
}

int pa_os_move(void *addr, size_t old_size, size_t new_size, size_t align, uintptr_t ceiling,
               void **out)
{
    size_t span = page_table_span();
    bool vary = pa_pages_may_vary();
    if (have_mremap && !vary && align == pagealloc_page_size() && new_size < span) {
        /* The kernel grows in place when it can, else moves anywhere: one call. */
        void *p = sys_mremap(addr, old_size, new_size, MREMAP_MAYMOVE, NULL);
        if (p == MAP_FAILED)
            return errno;
        *out = p;
        return 0;
    }
    bool fits = new_size <= UINTPTR_MAX - (uintptr_t)addr;
    int err = fits ? pa_os_grow(addr, old_size, new_size) : ENOMEM;
    if (err == 0)
        *out = addr;
    if (err != ENOMEM || !have_mremap)
        return err;

    /* Reserve a target that keeps the alignment and, for large blocks, the
     * offset within a page-table span, then move the pages onto it. */
    size_t modulus = align;
    if (new_size >= span && span > modulus && new_size <= SIZE_MAX - span)
        modulus = span;
    void *target;
    err = map_congruent(new_size, modulus, (uintptr_t)addr & (modulus - 1), ceiling, PROT_NONE,
                        &target);
    if (err != 0)
        return err;
    /* When pages may vary, the target's tail is made read-write first and
     * only the old pages move, so nothing can fail after the move. */
    size_t moved = new_size;
    if (vary) {
        moved = old_size;
        err = sys_mprotect(at(target, old_size), new_size - old_size, PROT_READ | PROT_WRITE);
    }
    void *p = err == 0 ? sys_mremap(addr, old_size, moved, MREMAP_MAYMOVE | MREMAP_FIXED, target)
                       : MAP_FAILED;
    if (p == MAP_FAILED) {
        if (err != 0) {
            /* The mprotect was refused and no mremap made: the target is ours. */
            if (sys_munmap(target, new_size) != 0)
                pa_count_unmap_failure();
            return err;
        }
        /* EFAULT: a block of several mappings, which mremap cannot move. */
        err = errno == EFAULT ? ENOMEM : errno;
        /* The kernel may have unmapped [target, target + moved) only; the
         * rest of the target is still ours. */
        give_up_target(target, moved);
        if (moved < new_size && sys_munmap(at(target, moved), new_size - moved) != 0)
            pa_count_unmap_failure();
        return err;
    }
    *out = p;
    return 0;
}

/* ---- Page states ---------------------------------------------------------- */

int pa_os_reserve(size_t size, size_t align, uintptr_t ceiling, void **out)
{
    /* Not MAP_NORESERVE: a PROT_NONE private mapping is not charged anyway,
     * and without it a committed range has the flags of a plain mapping
     * (it merges with its neighbours) and commit can fail honestly. */
    return map_with(size, align, ceiling, PROT_NONE, out);
}

int pa_os_commit(void *addr, size_t size)
{
    return sys_mprotect(addr, size, PROT_READ | PROT_WRITE);
}

/* One fresh PROT_NONE mapping over the range: the memory and its charge go
 * back, and the pages read as zero when committed again. */
int pa_os_decommit(void *addr, size_t size)
{
    if (sys_mmap(addr, size, PROT_NONE, MAP_FIXED) != MAP_FAILED)
        return 0;
    int err = errno;
    /* The failed call may have left the range unmapped: take it back, but
     * only if nobody else has (an exclusive map); else leave it alone. */
    return map_exact(addr, size, PROT_NONE) != NULL ? 0 : err;
}

int pa_os_protect(void *addr, size_t size, unsigned access)
{
    int prot = PROT_NONE;
    if (access & PAGEALLOC_READ)
        prot |= PROT_READ;
    if (access & PAGEALLOC_WRITE)
        prot |= PROT_WRITE;
    if (access & PAGEALLOC_EXEC)
        prot |= PROT_EXEC;
    return sys_mprotect(addr, size, prot);
}

/* ---- Huge pages and prefaulting ----------------------------------------- */

#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"

/* Reads a short sysfs file as a string; false if it cannot. */
static bool read_text(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got = read(fd, buf, n - 1);
    close(fd);
    if (got <= 0)
        return false;
    buf[got] = '\0';
    return true;
}

/* Transparent huge pages reach an advised range in `always` and `madvise`
 * modes; their size is the span one page-table entry maps, as the kernel says. */
size_t pa_os_huge_page_size(void)
{
    char buf[128];
    if (!read_text(THP_DIR "enabled", buf, sizeof buf) ||
        (strstr(buf, "[always]") == NULL && strstr(buf, "[madvise]") == NULL) ||
        !read_text(THP_DIR "hpage_pmd_size", buf, sizeof buf))
        return 0;
    unsigned long long n = strtoull(buf, NULL, 10);
    if (n <= pagealloc_page_size() || n > SIZE_MAX / 2 || (n & (n - 1)) != 0)
        return 0;
    return (size_t)n;
}

int pa_os_advise_huge(void *addr, size_t size)
{
    if (!atomic_load_explicit(&advised_huge, memory_order_relaxed))
        atomic_store_explicit(&advised_huge, true, memory_order_relaxed);
    return sys_madvise(addr, size, MADV_HUGEPAGE);
}
#else
size_t pa_os_huge_page_size(void)
{
    return 0;
}

int pa_os_advise_huge(void *addr, size_t size)
{
    (void)addr, (void)size;
    return ENOSYS;
}
#endif

/* Whether MADV_POPULATE_WRITE is worth trying: 0 not yet known, 1 yes, -1 no
 * (a kernel before 5.14, or PAGEALLOC_NO_POPULATE_WRITE set for the tests). */
static _Atomic int populate_write_state;

static bool populate_write_usable(void)
{
    int state = atomic_load_explicit(&populate_write_state, memory_order_relaxed);
    if (state == 0) {
        const char *off = getenv("PAGEALLOC_NO_POPULATE_WRITE");
        state = !have_populate_write || (off != NULL && off[0] != '\0' && off[0] != '0') ? -1 : 1;
        atomic_store_explicit(&populate_write_state, state, memory_order_relaxed);
    }
    return state > 0;
}

int pa_os_populate(void *addr, size_t size)
{
    if (!populate_write_usable())
        return ENOSYS;
    int err = sys_madvise(addr, size, MADV_POPULATE_WRITE);
    if (err == EINVAL) {
        /* Our range is plain anonymous memory: only an unknown advice is EINVAL. */
        atomic_store_explicit(&populate_write_state, -1, memory_order_relaxed);
        return ENOSYS;
    }
    return err;
}
