#define _GNU_SOURCE
#include "support.h"

#include "pagealloc.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/ioctl.h>
#endif

size_t support_page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Calls fn for each mapping in /proc/self/maps until it returns false. */
static void each_mapping(bool (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && !fn((uintptr_t)lo, (uintptr_t)hi, arg))
            break;
    }
    fclose(f);
}

struct range {
    uintptr_t lo, hi;
    uintptr_t covered_to; /* for mapped: how far from lo the mappings reach */
    bool overlap;
};

static bool note_overlap(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct range *r = arg;
    if (lo < r->hi && hi > r->lo)
        r->overlap = true;
    return !r->overlap;
}

static bool note_cover(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct range *r = arg;
    /* /proc/self/maps is sorted by address. */
    if (lo <= r->covered_to && hi > r->covered_to)
        r->covered_to = hi;
    return r->covered_to < r->hi;
}

/*
 * Two views of the address space, because qemu-user emulates each only in
 * part: its /proc/self/maps leaves out guest mappings that the host kernel
 * merged with one of qemu's own, and its mincore fails on PROT_NONE pages.
 * On a kernel both are exact and agree. A page counts as mapped if either
 * view sees it.
 */
static bool mincore_sees(const void *p, size_t len)
{
    /* One page per call: qemu-user hands mincore to the host, which writes
     * an entry per host page (16 for a 64 KiB guest page on a 4 KiB host),
     * more than the guest asked for; and qemu reads the vector as a string. */
    unsigned char vec[256] = {0};
    size_t page = support_page_size();
    for (size_t off = 0; off < len; off += page)
        if (mincore((void *)((uintptr_t)p + off), page, (void *)vec) != 0) /* char * on BSDs */
            return false;
    return true;
}

bool support_range_unmapped(const void *p, size_t len)
{
    struct range r = {(uintptr_t)p, (uintptr_t)p + len, 0, false};
    each_mapping(note_overlap, &r);
    if (r.overlap)
        return false;
    size_t page = support_page_size();
    for (size_t off = 0; off < len; off += page)
        if (mincore_sees((const char *)p + off, page))
            return false;
    return true;
}

bool support_range_mapped(const void *p, size_t len)
{
    struct range r = {(uintptr_t)p, (uintptr_t)p + len, (uintptr_t)p, false};
    each_mapping(note_cover, &r);
    return r.covered_to >= r.hi || mincore_sees(p, len);
}

/* Never MAP_FIXED: under qemu-user the guest sees neither qemu's own
 * mappings nor, sometimes, its own, and MAP_FIXED would replace them. The
 * address is a request the kernel (or qemu) may refuse; the result says. */
bool support_map_at(void *p, size_t len)
{
#ifdef MAP_FIXED_NOREPLACE
    int exact = MAP_FIXED_NOREPLACE;
#else
    int exact = 0;
#endif
    void *q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | exact, -1, 0);
    if (q == MAP_FAILED)
        return false;
    if (q != p) {
        munmap(q, len);
        return false;
    }
    return true;
}

void support_unmap(void *p, size_t len)
{
    munmap(p, len);
}

bool support_can_move(void)
{
    return PAGEALLOC_TEST_CAN_MOVE;
}

bool support_mappings_described(void)
{
#if defined(__linux__)
    /* uapi linux/fs.h's struct procmap_query, asked of a static variable. */
    struct {
        uint64_t size, query_flags, query_addr;
        uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
        uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
        uint64_t vma_name_addr, build_id_addr;
    } q;
    static int here;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uintptr_t)&here;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ioctl(fd, _IOWR('f', 17, q), &q) == 0 && q.vma_start <= (uintptr_t)&here &&
              (uintptr_t)&here < q.vma_end;
    close(fd);
    return ok;
#else
    return false;
#endif
}

struct count {
    uintptr_t lo, hi;
    size_t n;
};

static bool count_mapping(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct count *c = arg;
    if (lo < c->hi && hi > c->lo)
        c->n++;
    return lo < c->hi;
}

size_t support_mappings_in(const void *p, size_t len)
{
    struct count c = {(uintptr_t)p, (uintptr_t)p + len, 0};
    each_mapping(count_mapping, &c);
    return c.n;
}

static bool add_size(uintptr_t lo, uintptr_t hi, void *arg)
{
    *(size_t *)arg += hi - lo;
    return true;
}

size_t support_mapped_bytes(void)
{
    size_t total = 0;
    each_mapping(add_size, &total);
    return total;
}

bool support_under_qemu(void)
{
    return PAGEALLOC_TEST_QEMU;
}

size_t support_granularity(void)
{
    return support_page_size();
}

bool support_range_given_back(const void *p, size_t len)
{
    return support_range_unmapped(p, len);
}

unsigned support_map_calls(size_t len)
{
    (void)len;
    return 1;
}

bool support_stack_at_top(void)
{
    return true;
}

/* ---- Page states ---------------------------------------------------------- */

static sigjmp_buf probe_env;

static void on_fault(int sig)
{
    (void)sig;
    siglongjmp(probe_env, 1);
}

/* Touches p under a SIGSEGV/SIGBUS handler (macOS raises SIGBUS for
 * protection faults) and says whether the touch faulted. */
static bool touch_faults(volatile unsigned char *p, bool write)
{
    struct sigaction sa, old_segv, old_bus;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    volatile bool faulted = true;
    if (sigsetjmp(probe_env, 1) == 0) {
        if (write)
            *p = 0xA5;
        else
            (void)*p;
        faulted = false;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    return faulted;
}

bool support_read_faults(const void *p)
{
    return touch_faults((volatile unsigned char *)(uintptr_t)p, false);
}

bool support_write_faults(void *p)
{
    return touch_faults(p, true);
}

struct access_query {
    uintptr_t addr;
    int access;
};

static bool note_access(const char *perms, uintptr_t lo, uintptr_t hi, struct access_query *q)
{
    if (q->addr < lo || q->addr >= hi)
        return true;
    q->access = (perms[0] == 'r' ? PAGEALLOC_READ : 0) | (perms[1] == 'w' ? PAGEALLOC_WRITE : 0) |
                (perms[2] == 'x' ? PAGEALLOC_EXEC : 0);
    return false;
}

int support_page_access(const void *p)
{
    struct access_query q = {(uintptr_t)p, -1};
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    char line[512], perms[8];
    unsigned long long lo, hi;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 &&
            !note_access(perms, (uintptr_t)lo, (uintptr_t)hi, &q))
            break;
    fclose(f);
    return q.access;
}

size_t support_resident_pages(const void *p, size_t len)
{
    unsigned char vec[256] = {0};
    size_t page = support_page_size(), resident = 0;
    for (size_t off = 0; off < len; off += page) {
        if (mincore((void *)((uintptr_t)p + off), page, (void *)vec) != 0)
            return SIZE_MAX;
        resident += vec[0] & 1;
    }
    return resident;
}
