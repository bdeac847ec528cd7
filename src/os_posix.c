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

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#elif defined(__APPLE__)
#include <mach/mach.h>
#endif

#ifdef PAGEALLOC_FAULT_INJECTION
#include "fault.h"

#include <stdio.h>
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

static char *at(void *addr, size_t offset)
{
    return (char *)addr + offset;
}

/* An injected failure of a call that may replace a range leaves what a real
 * one may: the range unmapped, a hole another thread may take at once
 * (fault.h lets a test be that thread). */
#ifdef PAGEALLOC_FAULT_INJECTION
static void injected_hole(void *addr, size_t size)
{
    if (munmap(addr, size) == 0)
        pa_fault_hole(addr, size);
}

/* The end of the kernel mapping that holds addr, from /proc/self/maps (0 if
 * none is found). */
static uintptr_t mapping_end(uintptr_t addr)
{
    uintptr_t end = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return 0;
    char line[512];
    unsigned long long lo, hi;
    while (end == 0 && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo <= addr && addr < hi)
            end = (uintptr_t)hi;
    fclose(f);
    return end;
}

/* An injected failure of a same-size mremap onto a fixed address first moves
 * the range's first mappings (up to pa_fault_moved_mappings(), never its
 * last), as Linux 6.17 and later do when they refuse a later one; the rest of
 * the target stays as it was. False when nothing moved. */
static bool injected_partial_move(void *addr, size_t size, void *target)
{
    uintptr_t lo = (uintptr_t)addr, hi = lo + size;
    for (unsigned i = 0; i < pa_fault_moved_mappings(); i++) {
        uintptr_t end = mapping_end(lo);
        if (end == 0 || end >= hi ||
            call_mremap((void *)lo, end - lo, end - lo, MREMAP_MAYMOVE | MREMAP_FIXED,
                        at(target, lo - (uintptr_t)addr)) == MAP_FAILED)
            break;
        lo = end;
    }
    return lo != (uintptr_t)addr;
}

/* Whether [addr, addr + size) spans several kernel mappings. */
static bool injected_several(void *addr, size_t size)
{
    uintptr_t end = mapping_end((uintptr_t)addr);
    return end != 0 && end - (uintptr_t)addr < size;
}
#else
#define injected_hole(addr, size) ((void)0)
#define injected_partial_move(addr, size, target) false
#define injected_several(addr, size) false
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
    bool same_size_move = old_size == new_size && (flags & MREMAP_FIXED) != 0;
    if (err != 0) {
        /* The kernel refuses a range of several mappings with EFAULT before
         * anything else can fail, except a same-size move since 6.17. */
        if (!same_size_move && injected_several(addr, old_size))
            err = EFAULT;
        /* mremap_to() unmaps the target before checks that can still fail
         * (commit charge, copy_vma, ...); since Linux 6.17 a same-size move
         * of several mappings may instead have moved the first ones. */
        if ((flags & MREMAP_FIXED) != 0 &&
            (!same_size_move || !injected_partial_move(addr, old_size, target)))
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

bool pa_os_moves_pages(void)
{
    return have_mremap;
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

/*
 * mremap gives the grown tail the access of the block's last pages and fails
 * with EFAULT on a block of several mappings (pages of mixed states, or split
 * by the caller's own mlock or madvise of part of it). Once pages may vary,
 * the tail is made read-write after it (or the growth undone); a block of
 * several mappings grows by mapping the next range, whether pages vary or not.
 * Without mremap growth always maps the next range read-write (one call).
 * *several says whether mremap found the block several mappings: the kernel
 * checks that before anything else (RLIMIT_AS, RLIMIT_DATA, the mlock limit
 * and the free range after it all come later), so any other refusal, or a
 * growth that mremap made, means one.
 */
static int grow(void *addr, size_t old_size, size_t new_size, bool *several)
{
    char *tail = at(addr, old_size);
    size_t grow_by = new_size - old_size;
    /* With mremap the block's own mapping grows (and keeps its huge-page
     * advice): a range mapped after a block that mremap once moved would not
     * merge with it (its page offset differs), and a block of two mappings
     * can no longer move (pa_os_move). */
    if (have_mremap) {
        if (sys_mremap(addr, old_size, new_size, 0, NULL) != MAP_FAILED) {
            int err = pa_pages_may_vary() ? sys_mprotect(tail, grow_by, PROT_READ | PROT_WRITE) : 0;
            if (err != 0 && sys_munmap(tail, grow_by) != 0)
                pa_count_unmap_failure();
            return err;
        }
        *several = errno == EFAULT;
        if (!*several)
            return errno;
    }
    return map_exact(tail, grow_by, PROT_READ | PROT_WRITE) != NULL ? 0 : ENOMEM;
}

int pa_os_grow(void *addr, size_t old_size, size_t new_size)
{
    bool several = false;
    return grow(addr, old_size, new_size, &several);
}

/*
 * Whether [addr, addr + size) is one mapping, asked by growing it in place by
 * one page (see grow): the page, if the kernel gave it, is unmapped again.
 * False when even that would pass the end of the address space.
 */
static bool one_mapping(void *addr, size_t size)
{
    size_t page = pagealloc_page_size();
    if (size + page > UINTPTR_MAX - (uintptr_t)addr)
        return false;
    if (sys_mremap(addr, size, size + page, 0, NULL) == MAP_FAILED)
        return errno != EFAULT;
    if (sys_munmap(at(addr, size), page) != 0)
        pa_count_unmap_failure();
    return true;
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

/* What the system says of the kernel mappings that hold a block. */
enum shape {
    SHAPE_UNKNOWN, /* it cannot say (before Linux 6.11, /proc not mounted, qemu-user) */
    SHAPE_ONE_READ_WRITE, /* one private read-write mapping, no execute */
    SHAPE_ONE_OTHER,      /* one mapping with another access */
    SHAPE_SEVERAL,
};

#if defined(__linux__)
/* Linux 6.11's query of one mapping by address on /proc/self/maps (uapi
 * linux/fs.h, not yet in every C library's headers). */
struct procmap_query {
    uint64_t size, query_flags, query_addr;
    uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_VMA_ACCESS 0xfu /* readable 1, writable 2, executable 4, shared 8 */

/* The shape of [addr, addr + size): one query (an open, an ioctl and a
 * close, announced once) of the mapping that holds addr. */
static enum shape mapping_shape(void *addr, size_t size)
{
    if (pa_sys_enter(PA_SYS_QUERY) != 0)
        return SHAPE_UNKNOWN;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SHAPE_UNKNOWN;
    struct procmap_query q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uintptr_t)addr;
    enum shape shape = SHAPE_UNKNOWN;
    if (ioctl(fd, PROCMAP_QUERY, &q) == 0 && q.vma_start <= (uintptr_t)addr &&
        q.vma_end > (uintptr_t)addr)
        shape = q.vma_end - (uintptr_t)addr < size         ? SHAPE_SEVERAL
                : (q.vma_flags & PROCMAP_VMA_ACCESS) == 3u ? SHAPE_ONE_READ_WRITE
                                                           : SHAPE_ONE_OTHER;
    close(fd);
    return shape;
}
#else
static enum shape mapping_shape(void *addr, size_t size)
{
    (void)addr, (void)size;
    return SHAPE_UNKNOWN;
}
#endif

/*
 * Once pages may vary, a block of one read-write mapping (the system asked)
 * moves as before pages vary, with its new size (a small one anywhere, in one
 * call; a large or aligned one onto a target): the new part takes the
 * mapping's access and flags (the huge-page advice among them) and the block
 * stays one mapping, so it can grow in place and move again. Any other block
 * gets a target whose tail is made read-write first, and then only its old
 * pages move, with a same-size mremap, so that nothing can fail after the
 * move; the moved mapping keeps its page offset and stays apart from the
 * tail, and the block is two mappings from then on.
 * Only a block of one mapping moves: since Linux 6.17 a same-size mremap
 * moves a range of several mappings one mapping at a time, and a refusal
 * part-way (a userfaultfd registration, mseal, a memory cgroup's page-table
 * charge) leaves the first ones moved and returns an error, which would cut
 * the caller's block in two; before 6.17 the kernel refuses the whole range
 * (EFAULT). So on every kernel a block of several mappings cannot move:
 * ENOMEM, the block untouched. The growth in place tried first says which
 * blocks those are (grow); a block that could not ask, at the top of the
 * address space, asks the system, or else mremap growing it by a page
 * (one_mapping).
 */
int pa_os_move(void *addr, size_t old_size, size_t new_size, size_t align, uintptr_t ceiling,
               void **out)
{
    size_t span = page_table_span();
    bool vary = pa_pages_may_vary(), anywhere = align == pagealloc_page_size() && new_size < span;
    if (have_mremap && !vary && anywhere) {
        /* The kernel grows in place when it can, else moves anywhere: one call,
         * and a refusal leaves nothing to give back. EFAULT: several mappings,
         * which may grow in place (below) only. */
        void *p = sys_mremap(addr, old_size, new_size, MREMAP_MAYMOVE, NULL);
        if (p != MAP_FAILED) {
            *out = p;
            return 0;
        }
        if (errno != EFAULT)
            return errno;
    }
    bool fits = new_size <= UINTPTR_MAX - (uintptr_t)addr, several = false;
    int err = fits ? grow(addr, old_size, new_size, &several) : ENOMEM;
    if (err == 0)
        *out = addr;
    if (err != ENOMEM || !have_mremap)
        return err;
    enum shape shape = several ? SHAPE_SEVERAL
                       : vary  ? mapping_shape(addr, old_size)
                               : SHAPE_ONE_READ_WRITE;
    if (shape == SHAPE_UNKNOWN && !fits && !one_mapping(addr, old_size))
        shape = SHAPE_SEVERAL;
    if (shape == SHAPE_SEVERAL)
        return ENOMEM;
    if (vary && shape == SHAPE_ONE_READ_WRITE && anywhere) {
        /* As before pages vary. A target would outlive a refusal that comes
         * before the kernel unmaps it (RLIMIT_DATA, RLIMIT_AS, the mapping
         * limit), left reserved and counted (give_up_target). */
        void *p = sys_mremap(addr, old_size, new_size, MREMAP_MAYMOVE, NULL);
        if (p == MAP_FAILED)
            return errno == EFAULT ? ENOMEM : errno;
        *out = p;
        return 0;
    }

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
    size_t moved = new_size;
    if (shape != SHAPE_ONE_READ_WRITE) {
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
        /* One mapping moves whole or not at all: the block is where it was.
         * (EFAULT, which the kernel gives for a range of several mappings
         * before 6.17, is ENOMEM here as for any growth that cannot be done.) */
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

/* Whether the kernel knows MADV_POPULATE_WRITE: 0 not yet known, 1 yes, -1
 * no (a kernel before 5.14, or PAGEALLOC_NO_POPULATE_WRITE set for the tests). */
static _Atomic int populate_write_state;

static int populate_write_known(void)
{
    int state = atomic_load_explicit(&populate_write_state, memory_order_relaxed);
    if (state == 0) {
        const char *off = getenv("PAGEALLOC_NO_POPULATE_WRITE");
        if (!have_populate_write || (off != NULL && off[0] != '\0' && off[0] != '0')) {
            state = -1;
            atomic_store_explicit(&populate_write_state, state, memory_order_relaxed);
        }
    }
    return state;
}

/* Asks a fresh read-write page of the library's own whether the kernel knows
 * the advice, since on a caller's range EINVAL also means pages that are not
 * read-write: 0 it does, ENOSYS it does not (remembered either way), or the
 * error that kept the question from being asked. */
static int probe_populate_write(void)
{
    size_t page = pagealloc_page_size();
    void *p = sys_mmap(NULL, page, PROT_READ | PROT_WRITE, 0);
    if (p == MAP_FAILED)
        return errno;
    int err = sys_madvise(p, page, MADV_POPULATE_WRITE);
    if (sys_munmap(p, page) != 0)
        pa_count_unmap_failure();
    if (err == 0 || err == EINVAL)
        atomic_store_explicit(&populate_write_state, err == 0 ? 1 : -1, memory_order_relaxed);
    return err == EINVAL ? ENOSYS : err;
}

#if defined(__linux__)
/*
 * Writes to each page without the risk of a fault: FUTEX_WAKE_OP (waking
 * nobody) makes the kernel do an atomic add of zero on the page's first word,
 * faulting the page in writable first, and say EFAULT where the page is not
 * mapped writable (reserved, read-only, no access) instead of raising SIGSEGV.
 * No byte changes, and a byte another thread writes meanwhile is not lost.
 */
static int write_each_page(void *addr, size_t size)
{
    int err = pa_sys_enter(PA_SYS_POPULATE);
    if (err != 0)
        return err;
    size_t page = pagealloc_page_size();
    const int add_zero = FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_EQ, 0);
    for (size_t off = 0; off < size; off += page) {
        char *word = at(addr, off);
        if (syscall(SYS_futex, word, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 0, NULL, word, add_zero) < 0)
            return errno;
    }
    return 0;
}
#elif defined(__APPLE__)
/* Checks that every page is read-write (the Mach regions that cover it);
 * then ENOSYS: the caller writes to each page. */
static int write_each_page(void *addr, size_t size)
{
    vm_address_t a = (uintptr_t)addr, end = a + size;
    while (a < end) {
        int err = pa_sys_enter(PA_SYS_QUERY);
        if (err != 0)
            return err;
        vm_address_t region = a;
        vm_size_t region_size = 0;
        vm_region_basic_info_data_64_t info;
        mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
        mach_port_t object = MACH_PORT_NULL;
        if (vm_region_64(mach_task_self(), &region, &region_size, VM_REGION_BASIC_INFO_64,
                         (vm_region_info_t)&info, &count, &object) != KERN_SUCCESS ||
            region > a || (info.protection & VM_PROT_READ) == 0 ||
            (info.protection & VM_PROT_WRITE) == 0)
            return EFAULT;
        a = region + region_size;
    }
    return ENOSYS;
}
#else
/* No way to ask here (the BSDs): the caller writes to each page. */
static int write_each_page(void *addr, size_t size)
{
    (void)addr, (void)size;
    return ENOSYS;
}
#endif

int pa_os_populate(void *addr, size_t size)
{
    int state = populate_write_known();
    if (state >= 0) {
        int err = sys_madvise(addr, size, MADV_POPULATE_WRITE);
        if (err != EINVAL)
            return err;
        /* EINVAL: pages that are not read-write, unless the kernel does not
         * know the advice at all (before 5.14); a page of our own says which,
         * once. Either way nothing was written. */
        err = state == 0 ? probe_populate_write() : 0;
        if (err != ENOSYS)
            return err == 0 ? EFAULT : err;
    }
    return write_each_page(addr, size);
}
