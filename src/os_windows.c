/*
 * os.h on Windows, on ntdll's NtAllocateVirtualMemory, NtFreeVirtualMemory and
 * NtQueryVirtualMemory.
 *
 * A block is one or more adjacent reservations, each a whole number of
 * allocation-granularity units (64 KiB). The block's pages are committed; the
 * pages past its end in its last reservation (the slack) are reserved only.
 * Every reservation of a block starts before the block's end. So growth inside
 * the slack is one commit, growth past it reserves the adjacent range and
 * joins it, a shrink decommits the tail and releases whole reservations past
 * the new end, and unmap releases every reservation from the block's start.
 * Windows cannot move pages without copying: pa_os_move only grows in place.
 *
 * A reservation is told by its AllocationBase, never by where a region ends:
 * a region also ends where pages change state or protection. A released
 * reservation may be another thread's at once (os.h's ownership rule), so
 * nothing is ever discarded or released past a release that went through.
 */
#include "os.h"
#include "pagealloc.h"

#ifdef PAGEALLOC_FAULT_INJECTION
#include "fault.h"
#endif

#include <windows.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

typedef LONG ntstatus;

/* ntdll exports these; mingw-w64's user-mode headers do not declare them. */
__declspec(dllimport) ntstatus NTAPI NtAllocateVirtualMemory(HANDLE process, PVOID *base,
                                                             ULONG_PTR zero_bits, PSIZE_T size,
                                                             ULONG type, ULONG protect);
__declspec(dllimport) ntstatus NTAPI NtFreeVirtualMemory(HANDLE process, PVOID *base,
                                                         PSIZE_T size, ULONG type);
__declspec(dllimport) ntstatus NTAPI NtProtectVirtualMemory(HANDLE process, PVOID *base,
                                                            PSIZE_T size, ULONG protect,
                                                            PULONG old_protect);
__declspec(dllimport) ntstatus NTAPI NtQueryVirtualMemory(HANDLE process, PVOID base, int info_class,
                                                          PVOID info, SIZE_T info_size,
                                                          PSIZE_T returned);

#define CURRENT_PROCESS ((HANDLE)(LONG_PTR)-1)
#define MEMORY_BASIC_INFORMATION_CLASS 0
/* How often the fallback aligned reservation retries when another thread
 * takes the range between its release and its re-reservation. */
#define ALIGNED_RESERVE_TRIES 8

typedef PVOID(WINAPI *virtual_alloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG,
                                         MEM_EXTENDED_PARAMETER *, ULONG);

/* ---- What the system is like, read once --------------------------------- */

struct system {
    size_t page;
    size_t granularity;         /* where reservations may start, and their unit */
    uintptr_t lowest, highest;  /* the usable address range, inclusive */
    virtual_alloc2_fn valloc2;  /* NULL before Windows 10 1803 (or when disabled) */
};

static struct system sys_info;
static INIT_ONCE sys_once = INIT_ONCE_STATIC_INIT;

/* PAGEALLOC_NO_VIRTUALALLOC2 (tests) makes the library behave as on a Windows
 * without VirtualAlloc2, so the fallback path runs where both exist. */
static virtual_alloc2_fn find_virtual_alloc2(void)
{
    const char *off = getenv("PAGEALLOC_NO_VIRTUALALLOC2");
    HMODULE kernelbase = GetModuleHandleW(L"kernelbase.dll");
    if ((off != NULL && off[0] != '\0' && off[0] != '0') || kernelbase == NULL)
        return NULL;
    /* Through void (*)(void), the cast GCC accepts between function types. */
    return (virtual_alloc2_fn)(void (*)(void))GetProcAddress(kernelbase, "VirtualAlloc2");
}

static BOOL CALLBACK read_system(PINIT_ONCE once, PVOID param, PVOID *context)
{
    (void)once, (void)param, (void)context;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    sys_info.page = si.dwPageSize;
    sys_info.granularity = si.dwAllocationGranularity;
    sys_info.lowest = (uintptr_t)si.lpMinimumApplicationAddress;
    sys_info.highest = (uintptr_t)si.lpMaximumApplicationAddress;
    sys_info.valloc2 = find_virtual_alloc2();
    return TRUE;
}

static const struct system *sys(void)
{
    InitOnceExecuteOnce(&sys_once, read_system, NULL, NULL);
    return &sys_info;
}

/* True when `size` bytes could ever fit in the usable address range. */
static bool fits(size_t size)
{
    const struct system *s = sys();
    return size <= s->highest - s->lowest;
}

/* ---- System calls, each announced to the portable layer ----------------- */

/* Only STATUS_SUCCESS counts: Wine answers some impossible sizes with
 * informational (non-negative) statuses and no memory. */
static int alloc_error(ntstatus st)
{
    return st == 0 ? 0 : ENOMEM;
}

/* A refusal for want of the system's own resources is ENOMEM; any other
 * (a range that is not the caller's to free) EINVAL. */
static int free_error(ntstatus st)
{
    const ntstatus no_memory = (ntstatus)0xC0000017, insufficient_resources = (ntstatus)0xC000009A,
                   commitment_limit = (ntstatus)0xC000012D;
    if (st == 0)
        return 0;
    return st == no_memory || st == insufficient_resources || st == commitment_limit ? ENOMEM
                                                                                     : EINVAL;
}

/* Reserves (and, with MEM_COMMIT in `type`, commits) at *base, or anywhere
 * when *base is NULL. */
static int sys_alloc(void **base, size_t size, ULONG type)
{
    int err = pa_sys_enter(PA_SYS_MAP);
    if (err != 0)
        return err;
    SIZE_T n = size;
    return alloc_error(NtAllocateVirtualMemory(CURRENT_PROCESS, base, 0, &n, type, PAGE_READWRITE));
}

static int sys_commit(void *addr, size_t size)
{
    return sys_alloc(&addr, size, MEM_COMMIT);
}

/* Releases the whole reservation starting at addr; *released gets its size. */
static int sys_release(void *addr, size_t *released)
{
    int err = pa_sys_enter(PA_SYS_UNMAP);
    if (err != 0)
        return err;
    SIZE_T n = 0;
    err = free_error(NtFreeVirtualMemory(CURRENT_PROCESS, &addr, &n, MEM_RELEASE));
    *released = n;
#ifdef PAGEALLOC_FAULT_INJECTION
    if (err == 0)
        pa_fault_hole(addr, n);
#endif
    return err;
}

static int sys_decommit(void *addr, size_t size)
{
    int err = pa_sys_enter(PA_SYS_ADVISE);
    if (err != 0)
        return err;
    SIZE_T n = size;
    return free_error(NtFreeVirtualMemory(CURRENT_PROCESS, &addr, &n, MEM_DECOMMIT));
}

static int sys_protect(void *addr, size_t size, ULONG protect)
{
    int err = pa_sys_enter(PA_SYS_PROTECT);
    if (err != 0)
        return err;
    SIZE_T n = size;
    ULONG old;
    return NtProtectVirtualMemory(CURRENT_PROCESS, &addr, &n, protect, &old) == 0 ? 0 : EINVAL;
}

static int sys_query(void *addr, MEMORY_BASIC_INFORMATION *info)
{
    int err = pa_sys_enter(PA_SYS_QUERY);
    if (err != 0)
        return err;
    ntstatus st = NtQueryVirtualMemory(CURRENT_PROCESS, addr, MEMORY_BASIC_INFORMATION_CLASS, info,
                                       sizeof *info, NULL);
    return st == 0 ? 0 : EINVAL;
}

/* VirtualAlloc2 is kernelbase's wrapper of NtAllocateVirtualMemoryEx. */
static int sys_reserve_aligned(size_t size, size_t align, void **out)
{
    int err = pa_sys_enter(PA_SYS_MAP);
    if (err != 0)
        return err;
    MEM_ADDRESS_REQUIREMENTS req = {NULL, NULL, align};
    MEM_EXTENDED_PARAMETER param = {0};
    param.Type = MemExtendedParameterAddressRequirements;
    param.Pointer = &req;
    *out = sys()->valloc2(CURRENT_PROCESS, NULL, size, MEM_RESERVE | MEM_TOP_DOWN,
                          PAGE_READWRITE, &param, 1);
    return *out != NULL ? 0 : ENOMEM;
}

/* ---- Reservations ------------------------------------------------------- */

static char *at(void *addr, size_t offset)
{
    return (char *)addr + offset;
}

static size_t round_to_granularity(size_t size)
{
    size_t g = sys()->granularity;
    return (size + (g - 1)) & ~(g - 1);
}

/* Releases the reservation that starts at addr, trying twice: a leftover
 * reservation would block the growth of the block before it. */
static int release_retrying(void *addr, size_t *released)
{
    int err = sys_release(addr, released);
    return err == 0 ? 0 : sys_release(addr, released);
}

/* Undoes a reservation made moments ago; one the system keeps is counted. */
static void undo_reservation(void *addr)
{
    size_t released;
    if (release_retrying(addr, &released) != 0)
        pa_count_unmap_failure();
}

/* Releases the reservations that start at *addr, one after another, until
 * they cover [*addr, end); *addr ends past the last one released, so on
 * failure [*addr, end) is what is still held. */
static int release_from(char **addr, char *end)
{
    while (*addr < end) {
        size_t released;
        int err = release_retrying(*addr, &released);
        if (err != 0)
            return err;
        if (released == 0)
            return EINVAL;
        *addr += released;
    }
    return 0;
}

/* Commits the first `size` bytes of a reservation (none: nothing to do), or
 * releases it on failure. */
static int commit_or_release(void *base, size_t size)
{
    int err = size != 0 ? sys_commit(base, size) : 0;
    if (err != 0)
        undo_reservation(base);
    return err;
}

/*
 * Reserves `reserve` bytes at addr (or top-down anywhere when addr is NULL)
 * and commits the first `commit` of them: one call when they are equal.
 */
static int reserve_and_commit(void *addr, size_t reserve, size_t commit, void **out)
{
    void *base = addr;
    if (commit == reserve) {
        int err = sys_alloc(&base, reserve, MEM_RESERVE | MEM_COMMIT | (addr ? 0 : MEM_TOP_DOWN));
        if (err == 0)
            *out = base;
        return err;
    }
    int err = sys_alloc(&base, reserve, MEM_RESERVE | (addr ? 0 : MEM_TOP_DOWN));
    if (err == 0)
        err = commit_or_release(base, commit);
    if (err == 0)
        *out = base;
    return err;
}

/* Without VirtualAlloc2: reserve enough to hold an aligned range, release it,
 * and reserve the aligned range inside, which another thread may take first. */
static int reserve_aligned_fallback(size_t size, size_t align, void **out)
{
    size_t span = size + (align - sys()->granularity);
    if (span < size || !fits(span))
        return ENOMEM;
    for (int tries = 0; tries < ALIGNED_RESERVE_TRIES; tries++) {
        void *probe = NULL;
        size_t released;
        int err = sys_alloc(&probe, span, MEM_RESERVE | MEM_TOP_DOWN);
        if (err != 0)
            return err;
        /* A refused release is tried once more, not to leak the probe. */
        if ((err = release_retrying(probe, &released)) != 0) {
            pa_count_unmap_failure();
            return err;
        }
        void *aligned = at(probe, (0 - (uintptr_t)probe) & (align - 1));
        if (sys_alloc(&aligned, size, MEM_RESERVE) == 0) {
            *out = aligned;
            return 0;
        }
    }
    return ENOMEM;
}

/* Reserves `reserve` bytes aligned to `align` (more than the granularity)
 * anywhere and commits the first `commit`. */
static int map_aligned(size_t reserve, size_t commit, size_t align, void **out)
{
    void *base;
    int err = sys()->valloc2 != NULL ? sys_reserve_aligned(reserve, align, &base)
                                     : reserve_aligned_fallback(reserve, align, &base);
    if (err == 0)
        err = commit_or_release(base, commit);
    if (err == 0)
        *out = base;
    return err;
}

/* ---- os.h --------------------------------------------------------------- */

size_t pa_os_page_size(void)
{
    return sys()->page;
}

bool pa_os_moves_pages(void)
{
    return false;
}

/*
 * Reserves whole granularity units and commits `size` of them. Just below the
 * hint first (an exact address: one reservation, whatever the alignment), else
 * top-down anywhere, so blocks stack downwards from the top of the address
 * space, away from the stack, heaps and DLLs at its bottom.
 */
static int map_with(size_t size, size_t align, uintptr_t ceiling, size_t commit, void **out)
{
    size_t g = sys()->granularity;
    size_t modulus = align > g ? align : g;
    if (!fits(size) || !fits(modulus))
        return ENOMEM;
    size_t reserve = round_to_granularity(size);
    uintptr_t want = pa_place_below(ceiling, size, modulus, 0);
    if (want >= sys()->lowest && reserve_and_commit((void *)want, reserve, commit, out) == 0)
        return 0;
    if (modulus == g)
        return reserve_and_commit(NULL, reserve, commit, out);
    return map_aligned(reserve, commit, modulus, out);
}

int pa_os_map(size_t size, size_t align, uintptr_t ceiling, void **out)
{
    return map_with(size, align, ceiling, size, out);
}

/* A refused release leaves the reservations before it released, and those
 * are no longer ours: only the rest is discarded. */
int pa_os_unmap(void *addr, size_t size)
{
    char *held = addr, *end = at(addr, size);
    int err = release_from(&held, end);
    if (err != 0)
        pa_os_discard(held, (size_t)(end - held));
    return err;
}

/* Where the reservation that holds p (region m) ends, or `limit` if it
 * reaches past it: regions are walked while their AllocationBase is its. */
static int reservation_end(const MEMORY_BASIC_INFORMATION *m, char *limit, char **out)
{
    char *p = at(m->BaseAddress, m->RegionSize);
    while (p < limit) {
        MEMORY_BASIC_INFORMATION next;
        int err = sys_query(p, &next);
        if (err != 0)
            return err;
        if (next.AllocationBase != m->AllocationBase)
            break;
        p = at(next.BaseAddress, next.RegionSize);
    }
    *out = p < limit ? p : limit;
    return 0;
}

/* Calls fn on each part of [addr, addr + size) that lies in one reservation,
 * in address order, until one fails: commits, decommits and protections may
 * not span reservations. One query per region, and a region ends wherever
 * the state or protection of the pages changes: only after a whole-range
 * call was refused. */
static int walk_reservations(void *addr, size_t size, int (*fn)(void *p, size_t n, ULONG arg),
                             ULONG arg)
{
    char *p = addr, *end = at(addr, size);
    while (p < end) {
        MEMORY_BASIC_INFORMATION m;
        char *part_end;
        int err = sys_query(p, &m);
        if (err == 0)
            err = reservation_end(&m, end, &part_end);
        if (err == 0)
            err = fn(p, (size_t)(part_end - p), arg);
        if (err != 0)
            return err;
        p = part_end;
    }
    return 0;
}

/*
 * Calls fn on the whole range first: the system refuses a range that spans
 * reservations without changing any of it, and the range lies in a block the
 * library holds, so the one call touches nothing but the block. Only when it
 * is refused is the range walked reservation by reservation.
 */
static int each_reservation(void *addr, size_t size, int (*fn)(void *p, size_t n, ULONG arg),
                            ULONG arg)
{
    return fn(addr, size, arg) == 0 ? 0 : walk_reservations(addr, size, fn, arg);
}

static int decommit_part(void *p, size_t n, ULONG arg)
{
    (void)arg;
    return sys_decommit(p, n);
}

/* Decommits: the memory and its commit charge go back and the range stays
 * reserved, as pagealloc.h says of what a refused unmap keeps (recommitting
 * would charge it again for a range no one may use). */
int pa_os_discard(void *addr, size_t size)
{
    return each_reservation(addr, size, decommit_part, 0);
}

/*
 * Decommits the tail of the reservation that holds the new end, whatever
 * state its pages are in, then releases the reservations past it. The tail
 * is first decommitted in one call, which the system refuses when it spans
 * reservations; only then are the regions walked to find where the new end's
 * reservation ends. A new end on a unit's start may start a reservation (then
 * nothing of it is decommitted): one query tells, before that one call.
 * Until the decommit the block is untouched, so a failure there is reported;
 * once it is done (or a release went through) the shrink is too, and a
 * release the system refuses twice leaves that reservation and those after
 * it out of the block: decommitted (still ours until released, so no one
 * else's), left reserved and counted.
 */
int pa_os_shrink(void *addr, size_t old_size, size_t new_size)
{
    char *new_end = at(addr, new_size), *end = at(addr, old_size);
    size_t tail = old_size - new_size;
    bool unit_start = ((uintptr_t)new_end & (sys()->granularity - 1)) == 0;
    int err;
    if (!unit_start && sys_decommit(new_end, tail) == 0)
        return 0; /* the new end is inside the last reservation */
    MEMORY_BASIC_INFORMATION m;
    if ((err = sys_query(new_end, &m)) != 0)
        return err;
    bool inside = m.AllocationBase != new_end;
    if (unit_start && inside && sys_decommit(new_end, tail) == 0)
        return 0;
    char *cut = new_end;
    if (inside && (err = reservation_end(&m, end, &cut)) != 0)
        return err;
    if (cut > new_end && (err = sys_decommit(new_end, (size_t)(cut - new_end))) != 0)
        return err;
    if (cut < end && (err = release_from(&cut, end)) != 0) {
        if (cut == new_end)
            return err; /* the first release, and nothing done before it */
        each_reservation(cut, (size_t)(end - cut), decommit_part, 0);
        pa_count_unmap_failure();
    }
    return 0;
}

/*
 * The reserved pages from old_end on in the reservation that holds the
 * block's last page (they are ours), at least `want` bytes of them when there
 * are: the regions are walked while they are that reservation's and reserved,
 * since Wine shows reserved pages of different former protections as separate
 * regions. 0 when old_end is free; ENOMEM when another reservation starts
 * there or the page is committed (not the block's to grow into).
 */
static int reserved_slack(char *old_end, size_t want, size_t *out)
{
    MEMORY_BASIC_INFORMATION m;
    int err = sys_query(old_end, &m);
    if (err != 0)
        return err;
    *out = 0;
    if (m.State == MEM_FREE)
        return 0;
    if (m.State != MEM_RESERVE || m.AllocationBase == old_end)
        return ENOMEM;
    void *base = m.AllocationBase;
    char *p = at(m.BaseAddress, m.RegionSize);
    while ((size_t)(p - old_end) < want && (uintptr_t)p <= sys()->highest) {
        if ((err = sys_query(p, &m)) != 0)
            return err;
        if (m.AllocationBase != base || m.State != MEM_RESERVE)
            break;
        p = at(m.BaseAddress, m.RegionSize);
    }
    *out = (size_t)(p - old_end);
    return 0;
}

/*
 * Commits the slack of the last reservation, and when that is not enough
 * reserves the range right after it first. On failure everything done is
 * undone: the slack was uncommitted and the new reservation is released.
 * Works on sizes only: addr + new_size may be past the address space.
 */
int pa_os_grow(void *addr, size_t old_size, size_t new_size)
{
    char *old_end = at(addr, old_size);
    size_t grow_by = new_size - old_size;
    uintptr_t highest = sys()->highest;
    if ((uintptr_t)old_end > highest)
        return ENOMEM; /* the block ends where the address space does */
    size_t slack;
    int err = reserved_slack(old_end, grow_by, &slack);
    if (err != 0)
        return err;
    if (slack >= grow_by)
        return sys_commit(old_end, grow_by);

    /* The next reservation must start where the last one ends, and fit. */
    char *next = old_end + slack;
    size_t need = grow_by - slack;
    if (((uintptr_t)next & (sys()->granularity - 1)) != 0 || !fits(need) ||
        (uintptr_t)next > highest || round_to_granularity(need) - 1 > highest - (uintptr_t)next)
        return ENOMEM;
    void *joined;
    err = reserve_and_commit(next, round_to_granularity(need), need, &joined);
    if (err != 0)
        return err;
    if (slack != 0 && (err = sys_commit(old_end, slack)) != 0) {
        undo_reservation(next);
        return err;
    }
    return 0;
}

int pa_os_move(void *addr, size_t old_size, size_t new_size, size_t align, uintptr_t ceiling,
               void **out)
{
    (void)align, (void)ceiling;
    int err = pa_os_grow(addr, old_size, new_size);
    if (err == 0)
        *out = addr;
    return err;
}

/* ---- Page states ---------------------------------------------------------- */

int pa_os_reserve(size_t size, size_t align, uintptr_t ceiling, void **out)
{
    return map_with(size, align, ceiling, 0, out);
}

static int commit_part(void *p, size_t n, ULONG arg)
{
    (void)arg;
    return sys_commit(p, n);
}

int pa_os_commit(void *addr, size_t size)
{
    return each_reservation(addr, size, commit_part, 0);
}

/* A block of several reservations is decommitted one reservation at a time:
 * a refusal part-way leaves those before it decommitted (pagealloc.h). */
int pa_os_decommit(void *addr, size_t size)
{
    return each_reservation(addr, size, decommit_part, 0);
}

static int protect_part(void *p, size_t n, ULONG protect)
{
    return sys_protect(p, n, protect);
}

/* EINVAL when any page of the range is reserved, checked before any part is
 * changed: the system would refuse it in the middle of the range. */
static int all_committed(char *p, char *end)
{
    while (p < end) {
        MEMORY_BASIC_INFORMATION m;
        int err = sys_query(p, &m);
        if (err != 0)
            return err;
        if (m.State != MEM_COMMIT)
            return EINVAL;
        p = at(m.BaseAddress, m.RegionSize);
    }
    return 0;
}

int pa_os_protect(void *addr, size_t size, unsigned access)
{
    ULONG protect = PAGE_NOACCESS;
    if (access & PAGEALLOC_EXEC)
        protect = access & PAGEALLOC_WRITE ? PAGE_EXECUTE_READWRITE : PAGE_EXECUTE_READ;
    else if (access & PAGEALLOC_READ)
        protect = access & PAGEALLOC_WRITE ? PAGE_READWRITE : PAGE_READONLY;
    if (sys_protect(addr, size, protect) == 0)
        return 0;
    int err = all_committed(addr, at(addr, size));
    return err != 0 ? err : walk_reservations(addr, size, protect_part, protect);
}

/* ---- Huge pages and prefaulting ----------------------------------------- */

/* Large pages need SeLockMemoryPrivilege, are committed whole when reserved
 * and cannot be decommitted, which breaks shrink and growth in place: none. */
size_t pa_os_huge_page_size(void)
{
    return 0;
}

int pa_os_advise_huge(void *addr, size_t size)
{
    (void)addr, (void)size;
    return ENOSYS;
}

/* Pages a write reaches without a fault the process cannot survive. */
static bool writable(const MEMORY_BASIC_INFORMATION *m)
{
    return m->State == MEM_COMMIT && (m->Protect & PAGE_GUARD) == 0 &&
           (m->Protect & (PAGE_READWRITE | PAGE_EXECUTE_READWRITE)) != 0;
}

/* PrefetchVirtualMemory reads pages in but does not fault in fresh committed
 * ones: the caller touches each page (ENOSYS), once the range is known to be
 * committed and writable; else EFAULT, and nothing is touched. Committing
 * charged the pages already. */
int pa_os_populate(void *addr, size_t size)
{
    char *p = addr, *end = at(addr, size);
    while (p < end) {
        MEMORY_BASIC_INFORMATION m;
        int err = (uintptr_t)p > sys()->highest ? EFAULT : sys_query(p, &m);
        if (err != 0)
            return err == EINVAL ? EFAULT : err; /* EINVAL: no such address */
        if (!writable(&m))
            return EFAULT;
        p = at(m.BaseAddress, m.RegionSize);
    }
    return ENOSYS;
}
