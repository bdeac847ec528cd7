/* support.h on Windows, from VirtualQuery: a page is mapped when it is not
 * MEM_FREE (reserved or committed). */
#include "support.h"

#include <windows.h>

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
