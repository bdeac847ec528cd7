/* support.h on Windows, from VirtualQuery: a page is mapped when it is not
 * MEM_FREE (reserved or committed). */
#include "support.h"

#include "pagealloc.h"

#include <windows.h>
#include <psapi.h>

static SYSTEM_INFO system_info(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si;
}

size_t support_page_size(void)
{
    return system_info().dwPageSize;
}

size_t support_granularity(void)
{
    return system_info().dwAllocationGranularity;
}

/* Calls fn for each region overlapping [p, p + len) until it returns false. */
static void each_region(const void *p, size_t len,
                        bool (*fn)(const MEMORY_BASIC_INFORMATION *m, void *arg), void *arg)
{
    const char *q = p, *end = (const char *)p + len;
    while (q < end) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(q, &m, sizeof m) == 0 || !fn(&m, arg))
            return;
        q = (const char *)m.BaseAddress + m.RegionSize;
    }
}

static bool not_free(const MEMORY_BASIC_INFORMATION *m, void *arg)
{
    *(bool *)arg = m->State != MEM_FREE;
    return *(bool *)arg;
}

static bool is_free(const MEMORY_BASIC_INFORMATION *m, void *arg)
{
    *(bool *)arg = m->State == MEM_FREE;
    return *(bool *)arg;
}

static bool not_committed(const MEMORY_BASIC_INFORMATION *m, void *arg)
{
    *(bool *)arg = m->State != MEM_COMMIT;
    return *(bool *)arg;
}

bool support_range_mapped(const void *p, size_t len)
{
    bool ok = false;
    each_region(p, len, not_free, &ok);
    return ok;
}

bool support_range_unmapped(const void *p, size_t len)
{
    bool ok = false;
    each_region(p, len, is_free, &ok);
    return ok;
}

bool support_range_given_back(const void *p, size_t len)
{
    bool ok = false;
    each_region(p, len, not_committed, &ok);
    return ok;
}

/* VirtualAlloc would round an unaligned address down: only take exact hits. */
bool support_map_at(void *p, size_t len)
{
    void *q = VirtualAlloc(p, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (q != NULL && q != p) {
        VirtualFree(q, 0, MEM_RELEASE);
        return false;
    }
    return q != NULL;
}

void support_unmap(void *p, size_t len)
{
    (void)len;
    VirtualFree(p, 0, MEM_RELEASE);
}

bool support_can_move(void)
{
    return false;
}

bool support_mappings_described(void)
{
    return false;
}

size_t support_mappings_in(const void *p, size_t len)
{
    (void)p, (void)len;
    return 0;
}

size_t support_mapped_bytes(void)
{
    SYSTEM_INFO si = system_info();
    const char *q = si.lpMinimumApplicationAddress;
    size_t total = 0;
    MEMORY_BASIC_INFORMATION m;
    while (q < (const char *)si.lpMaximumApplicationAddress && VirtualQuery(q, &m, sizeof m) != 0) {
        if (m.State != MEM_FREE)
            total += m.RegionSize;
        q = (const char *)m.BaseAddress + m.RegionSize;
    }
    return total;
}

bool support_under_qemu(void)
{
    return false;
}

unsigned support_map_calls(size_t len)
{
    return len % support_granularity() == 0 ? 1 : 2;
}

bool support_stack_at_top(void)
{
    return false;
}

/* ---- Page states ---------------------------------------------------------- */

/*
 * Each probe is one instruction followed by a label: the vectored exception
 * handler sees an access violation at the probe, notes it, and resumes at the
 * label (no longjmp out of the system's exception dispatch).
 */
#if defined(__x86_64__)
__asm__(".text\n"
        "support_probe_read:\n"
        "support_probe_read_at:\n"
        "    movzbl (%rcx), %eax\n"
        "support_probe_read_done:\n"
        "    ret\n"
        "support_probe_write:\n"
        "support_probe_write_at:\n"
        "    movb $0xA5, (%rcx)\n"
        "support_probe_write_done:\n"
        "    ret\n");
#else
#error "support_windows.c: the fault probes are written for x86-64"
#endif
void support_probe_read(const volatile void *p);
void support_probe_write(volatile void *p);
/* The probes' instructions and what follows them, as code addresses. */
extern const char support_probe_read_at[], support_probe_read_done[];
extern const char support_probe_write_at[], support_probe_write_done[];

static volatile LONG probe_faulted;

static LONG CALLBACK on_fault(EXCEPTION_POINTERS *e)
{
    void *at = e->ExceptionRecord->ExceptionAddress;
    if (e->ExceptionRecord->ExceptionCode != EXCEPTION_ACCESS_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    if (at == (void *)support_probe_read_at)
        e->ContextRecord->Rip = (DWORD64)(uintptr_t)support_probe_read_done;
    else if (at == (void *)support_probe_write_at)
        e->ContextRecord->Rip = (DWORD64)(uintptr_t)support_probe_write_done;
    else
        return EXCEPTION_CONTINUE_SEARCH;
    probe_faulted = 1;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static bool touch_faults(volatile void *p, bool write)
{
    PVOID handler = AddVectoredExceptionHandler(1, on_fault);
    probe_faulted = 0;
    if (write)
        support_probe_write(p);
    else
        support_probe_read(p);
    RemoveVectoredExceptionHandler(handler);
    return probe_faulted != 0;
}

bool support_read_faults(const void *p)
{
    return touch_faults((volatile void *)(uintptr_t)p, false);
}

bool support_write_faults(void *p)
{
    return touch_faults(p, true);
}

int support_page_access(const void *p)
{
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery(p, &m, sizeof m) == 0 || m.State == MEM_FREE)
        return -1;
    if (m.State == MEM_RESERVE)
        return PAGEALLOC_NO_ACCESS;
    switch (m.Protect & 0xFF) {
    case PAGE_READONLY:
        return PAGEALLOC_READ;
    case PAGE_READWRITE:
        return PAGEALLOC_READ | PAGEALLOC_WRITE;
    case PAGE_EXECUTE_READ:
        return PAGEALLOC_READ | PAGEALLOC_EXEC;
    case PAGE_EXECUTE_READWRITE:
        return PAGEALLOC_READ | PAGEALLOC_WRITE | PAGEALLOC_EXEC;
    default:
        return PAGEALLOC_NO_ACCESS;
    }
}

/* The working set, through kernel32's K32QueryWorkingSetEx (no psapi.lib). */
typedef BOOL(WINAPI *query_working_set_fn)(HANDLE, PVOID, DWORD);

size_t support_resident_pages(const void *p, size_t len)
{
    HMODULE kernel32 = GetModuleHandleW(L"kernel32.dll");
    query_working_set_fn query =
        (query_working_set_fn)(void (*)(void))GetProcAddress(kernel32, "K32QueryWorkingSetEx");
    if (query == NULL)
        return SIZE_MAX;
    size_t page = support_page_size(), resident = 0;
    for (size_t off = 0; off < len; off += page) {
        PSAPI_WORKING_SET_EX_INFORMATION info;
        info.VirtualAddress = (PVOID)((uintptr_t)p + off);
        if (!query(GetCurrentProcess(), &info, sizeof info))
            return SIZE_MAX;
        resident += info.VirtualAttributes.Valid;
    }
    return resident;
}
