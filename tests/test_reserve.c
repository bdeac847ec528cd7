/*
 * Reservations and page states: pagealloc_mapx, commit, decommit, protect.
 * Each state is checked two ways: by touching the pages (a fault handler)
 * and by asking the system (/proc/self/maps and mincore, or VirtualQuery).
 */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CLEAR_CACHE(p, len) __builtin___clear_cache((char *)(p), (char *)(p) + (len))
#else
#define CLEAR_CACHE(p, len) ((void)(p), (void)(len))
#endif

static size_t page;

/* What the system reports for p matches `access` (qemu-user cannot always
 * say: its /proc/self/maps leaves some guest mappings out). */
static bool system_says(const void *p, int access)
{
    int got = support_page_access(p);
    return got == access || (got == -1 && support_under_qemu());
}

/* Every page of [p, p + len) faults on read and on write (one byte each). */
static bool untouchable(unsigned char *p, size_t len)
{
    for (size_t off = 0; off < len; off += page)
        if (!support_read_faults(p + off) || !support_write_faults(p + off) ||
            !system_says(p + off, PAGEALLOC_NO_ACCESS))
            return false;
    return true;
}

/* Every page of [p, p + len) can be read and written, and the system says so. */
static bool read_write(unsigned char *p, size_t len)
{
    for (size_t off = 0; off < len; off += page) {
        unsigned char old = p[off];
        bool ok = !support_read_faults(p + off) && !support_write_faults(p + off) &&
                  system_says(p + off, PAGEALLOC_READ | PAGEALLOC_WRITE);
        p[off] = old;
        if (!ok)
            return false;
    }
    return true;
}

/* No page of [p, p + len) holds memory (or the system cannot say). */
static bool holds_no_memory(const void *p, size_t len)
{
    size_t n = support_resident_pages(p, len);
    return n == 0 || n == SIZE_MAX;
}

static void mapx_without_flags_maps_zeroed_read_write_pages(void)
{
    unsigned char *p = pagealloc_mapx(3 * page, 4 * page, 0);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, 4 * page));
    CHECK(support_all_zero(p, 3 * page));
    CHECK(read_write(p, 3 * page));
    pagealloc_unmap(p, 3 * page);
    CHECK(support_range_unmapped(p, 3 * page));
}

static void reserved_pages_fault_hold_no_memory_and_count_as_mapped(void)
{
    size_t len = 64 * page;
    size_t before = pagealloc_stats().mapped_bytes;
    unsigned char *p = pagealloc_mapx(len, 16 * page, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_aligned(p, 16 * page));
    CHECK(pagealloc_stats().mapped_bytes == before + len);
    CHECK(support_range_mapped(p, len));
    CHECK(untouchable(p, len));
    CHECK(holds_no_memory(p, len));
    pagealloc_unmap(p, len);
    CHECK(pagealloc_stats().mapped_bytes == before);
    CHECK(support_range_unmapped(p, len));
}

static void commit_makes_reserved_pages_read_write_and_zero(void)
{
    size_t len = 16 * page;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_commit(p + 4 * page, 4 * page));
    CHECK(support_all_zero(p + 4 * page, 4 * page));
    CHECK(read_write(p + 4 * page, 4 * page));
    /* The pages around the committed range stay reserved. */
    CHECK(untouchable(p, 4 * page));
    CHECK(untouchable(p + 8 * page, 8 * page));
    /* An unaligned length covers the page it ends in. */
    CHECK(pagealloc_commit(p + 12 * page, 1));
    CHECK(read_write(p + 12 * page, page));
    CHECK(untouchable(p + 13 * page, page));
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, len));
}

static void committing_twice_keeps_the_bytes(void)
{
    size_t len = 8 * page;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL && pagealloc_commit(p, len));
    if (p == NULL)
        return;
    support_fill(p, len, 5);
    CHECK(pagealloc_commit(p + page, 3 * page));
    CHECK(pagealloc_commit(p, len));
    CHECK(support_has_pattern(p, len, 5));
    /* Committing pages from map is harmless too. */
    unsigned char *q = pagealloc_map(len, 1);
    CHECK(q != NULL);
    if (q != NULL) {
        support_fill(q, len, 6);
        CHECK(pagealloc_commit(q, len));
        CHECK(support_has_pattern(q, len, 6));
        pagealloc_unmap(q, len);
    }
    pagealloc_unmap(p, len);
}

static void decommit_gives_the_memory_back_and_pages_read_zero_after_commit(void)
{
    size_t len = 32 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, len, 9);
    size_t resident = support_resident_pages(p, len);
    CHECK(resident == 32 || resident == SIZE_MAX);
    CHECK(pagealloc_decommit(p + 8 * page, 16 * page));
    CHECK(holds_no_memory(p + 8 * page, 16 * page));
    CHECK(untouchable(p + 8 * page, 16 * page));
    /* The pages around the hole keep their bytes and their access. */
    CHECK(support_has_pattern(p, 8 * page, 9));
    for (size_t i = 24 * page; i < len; i++)
        CHECK(p[i] == support_pattern(i, 9));
    CHECK(read_write(p, 8 * page) && read_write(p + 24 * page, 8 * page));
    CHECK(pagealloc_commit(p + 8 * page, 16 * page));
    CHECK(support_all_zero(p + 8 * page, 16 * page));
    CHECK(read_write(p + 8 * page, 16 * page));
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, len));
}

static void decommitted_pages_of_a_reservation_read_zero_after_commit(void)
{
    size_t len = 8 * page;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL && pagealloc_commit(p, len));
    if (p == NULL)
        return;
    support_fill(p, len, 3);
    CHECK(pagealloc_decommit(p, len));
    CHECK(untouchable(p, len));
    CHECK(holds_no_memory(p, len));
    CHECK(pagealloc_commit(p, len));
    CHECK(support_all_zero(p, len));
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, len));
}

static void protect_changes_access_and_keeps_the_bytes(void)
{
    size_t len = 4 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, len, 21);
    CHECK(pagealloc_protect(p, len, PAGEALLOC_READ));
    CHECK(system_says(p, PAGEALLOC_READ));
    CHECK(!support_read_faults(p + page));
    CHECK(support_write_faults(p + page));
    CHECK(support_has_pattern(p, len, 21)); /* the faulting write changed nothing */
    size_t resident = support_resident_pages(p, len);
    CHECK(pagealloc_protect(p, len, PAGEALLOC_NO_ACCESS));
    CHECK(untouchable(p, len));
    /* No access keeps the memory, unlike decommit. Windows takes no-access
     * pages out of the working set, but they stay committed; qemu's mincore
     * cannot see PROT_NONE pages. */
#ifdef _WIN32
    CHECK(!support_range_given_back(p, len));
    (void)resident;
#else
    size_t kept = support_resident_pages(p, len);
    CHECK(kept == resident || (kept == SIZE_MAX && support_under_qemu()));
#endif
    CHECK(pagealloc_protect(p, len, PAGEALLOC_READ | PAGEALLOC_WRITE));
    CHECK(support_has_pattern(p, len, 21));
    CHECK(read_write(p, len));
    /* Commit also brings protected pages back to read-write, bytes kept. */
    CHECK(pagealloc_protect(p, page, PAGEALLOC_NO_ACCESS));
    CHECK(pagealloc_commit(p, page));
    CHECK(support_has_pattern(p, len, 21));
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, len));
}

/* The one place the systems differ: see pagealloc_protect. */
static void protect_of_reserved_pages_commits_them_on_posix_and_fails_on_windows(void)
{
    size_t len = 4 * page;
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
#ifdef _WIN32
    CHECK_ERRNO(!pagealloc_protect(p, len, PAGEALLOC_READ), EINVAL);
    CHECK(untouchable(p, len));
    /* A range of committed and reserved pages fails whole, changing nothing. */
    CHECK(pagealloc_commit(p, page));
    CHECK_ERRNO(!pagealloc_protect(p, len, PAGEALLOC_READ), EINVAL);
    CHECK(read_write(p, page));
#else
    CHECK(pagealloc_protect(p, len, PAGEALLOC_READ));
    CHECK(!support_read_faults(p) && support_write_faults(p));
    CHECK(support_all_zero(p, len));
#endif
    pagealloc_unmap(p, len);
    CHECK(support_range_unmapped(p, len));
}

/* A 1 MiB buffer with a no-access page after it. */
static void a_guard_page_faults_one_byte_past_the_end(void)
{
    size_t len = (size_t)1 << 20;
    size_t total = len + page;
    unsigned char *p = pagealloc_map(total, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    size_t end = len; /* a whole number of pages for every page size */
    CHECK(pagealloc_protect(p + end, page, PAGEALLOC_NO_ACCESS));
    CHECK(!support_write_faults(p + end - 1));
    CHECK(support_write_faults(p + end));
    CHECK(support_read_faults(p + end));
    pagealloc_unmap(p, total);
    CHECK(support_range_unmapped(p, total));
}

/* `mov eax, 42; ret` (x86 in 32 and 64 bits) or `mov w0, #42; ret` (arm64). */
static size_t return_42_code(unsigned char *out)
{
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
    static const unsigned char code[] = {0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3};
#elif defined(__aarch64__) || defined(_M_ARM64)
    static const unsigned char code[] = {0x40, 0x05, 0x80, 0x52, 0xC0, 0x03, 0x5F, 0xD6};
#else
    static const unsigned char code[1];
    (void)code;
    (void)out;
    return 0;
#endif
    memcpy(out, code, sizeof code);
    return sizeof code;
}

static void code_written_then_made_read_exec_runs(void)
{
    unsigned char *p = pagealloc_map(page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    size_t n = return_42_code(p);
    if (n == 0) {
        check_skip("no machine code for this processor");
        pagealloc_unmap(p, page);
        return;
    }
    errno = 0;
    if (!pagealloc_protect(p, page, PAGEALLOC_READ | PAGEALLOC_EXEC)) {
        check_skip("the system refuses read+exec pages (errno %d)", errno);
        CHECK(errno == EACCES || errno == EPERM);
        CHECK(read_write(p, page)); /* a refusal changes nothing */
        pagealloc_unmap(p, page);
        return;
    }
    CLEAR_CACHE(p, n);
    CHECK(system_says(p, PAGEALLOC_READ | PAGEALLOC_EXEC));
    CHECK(support_write_faults(p));
    int (*fn)(void);
    memcpy(&fn, &p, sizeof fn); /* ISO C has no cast from data to code pointers */
    CHECK(fn() == 42);
    pagealloc_unmap(p, page);
}

static void unmap_releases_a_block_whatever_its_pages_states(void)
{
    size_t len = 16 * page;
    unsigned char *p = pagealloc_mapx(len, 8 * page, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_commit(p, 8 * page));
    CHECK(pagealloc_protect(p + page, page, PAGEALLOC_READ));
    CHECK(pagealloc_protect(p + 2 * page, page, PAGEALLOC_NO_ACCESS));
    CHECK(pagealloc_decommit(p + 3 * page, page));
    size_t before = pagealloc_stats().mapped_bytes;
    pagealloc_unmap(p, len);
    CHECK(pagealloc_stats().mapped_bytes == before - len);
    CHECK(support_range_unmapped(p, len));
}

/* Committed_AS from /proc/meminfo in bytes, or SIZE_MAX where there is none. */
static size_t committed_as(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return SIZE_MAX;
    char line[128];
    unsigned long long kib;
    size_t bytes = SIZE_MAX;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Committed_AS: %llu kB", &kib) == 1)
            bytes = (size_t)kib << 10;
    fclose(f);
    return bytes;
}

static void reserving_64_GiB_commits_here_and_there_and_leaves_nothing(void)
{
    if (sizeof(void *) < 8) {
        check_skip("a 32-bit address space");
        return;
    }
    size_t len = (size_t)64 << 30, step = (size_t)1 << 30;
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL || support_under_qemu()) {
        /* valgrind's own address-space manager holds less than 64 GiB;
         * qemu-user 7.2 spins on a fault in a reservation that large. */
        printf("  under valgrind or qemu: 8 GiB instead of 64\n");
        len = (size_t)8 << 30;
    }
    size_t mapped_before = support_mapped_bytes(), charged_before = committed_as();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(support_mapped_bytes() >= mapped_before + len);
    /* No commit charge: other processes on the machine move the figure a
     * little, never by a quarter of the reservation. */
    size_t charged = committed_as();
    CHECK(charged == SIZE_MAX || charged < charged_before + len / 4);
    for (size_t off = 0; off < len; off += step) {
        CHECK(pagealloc_commit(p + off, page));
        p[off] = (unsigned char)(off / step + 1);
    }
    for (size_t off = 0; off < len; off += step) {
        CHECK(p[off] == (unsigned char)(off / step + 1));
        CHECK(support_read_faults(p + off + page));
    }
    CHECK(pagealloc_decommit(p, len));
    CHECK(support_read_faults(p));
    pagealloc_unmap(p, len);
    CHECK(support_mapped_bytes() < mapped_before + step);
    CHECK(support_range_unmapped(p, page) && support_range_unmapped(p + len - page, page));
}

/* ---- Growth and shrinking of blocks whose pages vary ---------------------- */

enum state { RW, RO, NONE, RESERVED };

enum { OLD = 4, NEW = 8 };

/* Gives each of the block's OLD pages its state; every committed page gets
 * the pattern of `seed` first. */
static void set_states(unsigned char *p, const enum state *st, unsigned seed)
{
    CHECK(pagealloc_commit(p, OLD * page));
    support_fill(p, OLD * page, seed);
    for (size_t i = 0; i < OLD; i++) {
        unsigned char *q = p + i * page;
        if (st[i] == RO)
            CHECK(pagealloc_protect(q, page, PAGEALLOC_READ));
        else if (st[i] == NONE)
            CHECK(pagealloc_protect(q, page, PAGEALLOC_NO_ACCESS));
        else if (st[i] == RESERVED)
            CHECK(pagealloc_decommit(q, page));
    }
}

/* The block's OLD pages are in their states, with their bytes (looked at
 * through a protect to read-only where they cannot be read). */
static bool has_states(unsigned char *p, const enum state *st, unsigned seed)
{
    bool ok = true;
    for (size_t i = 0; i < OLD; i++) {
        unsigned char *q = p + i * page;
        size_t off = i * page;
        switch (st[i]) {
        case RW:
            ok = ok && read_write(q, page);
            break;
        case RO:
            ok = ok && !support_read_faults(q) && support_write_faults(q) &&
                 system_says(q, PAGEALLOC_READ);
            break;
        case NONE:
        case RESERVED:
            ok = ok && untouchable(q, page);
            break;
        }
        if (st[i] == RESERVED)
            continue;
        if (st[i] == NONE)
            ok = ok && pagealloc_protect(q, page, PAGEALLOC_READ);
        for (size_t j = 0; j < page; j++)
            ok = ok && q[j] == support_pattern(off + j, seed);
        if (st[i] == NONE)
            ok = ok && pagealloc_protect(q, page, PAGEALLOC_NO_ACCESS);
    }
    return ok;
}

/* Grows a block of OLD pages in the given states to NEW pages: either the new
 * pages are read-write and zero and the old ones as they were, or the call
 * fails with ENOMEM and the block is untouched. With `blocked`, the range
 * after the block is taken first (a move, where the system can move). */
static void grow_keeps_states(const enum state *st, bool may_move, bool blocked)
{
    unsigned char *p = pagealloc_mapx(OLD * page, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    set_states(p, st, 31);
    bool taken = blocked && support_map_at(p + OLD * page, (NEW - OLD) * page);
    errno = 0;
    unsigned char *q = pagealloc_realloc(p, OLD * page, 1, NEW * page, may_move);
    if (q == NULL) {
        CHECK(errno == ENOMEM);
        CHECK(has_states(p, st, 31));
        pagealloc_unmap(p, OLD * page);
    } else {
        CHECK(taken ? q != p : true);
        CHECK(has_states(q, st, 31));
        /* Touched under the fault handler first, so a wrong state fails here. */
        bool usable = read_write(q + OLD * page, (NEW - OLD) * page);
        CHECK(usable);
        CHECK(usable && support_all_zero(q + OLD * page, (NEW - OLD) * page));
        pagealloc_unmap(q, NEW * page);
        CHECK(support_range_unmapped(q, NEW * page));
    }
    if (taken)
        support_unmap(p + OLD * page, (NEW - OLD) * page);
}

static const enum state all_reserved[OLD] = {RESERVED, RESERVED, RESERVED, RESERVED};
static const enum state all_read_only[OLD] = {RO, RO, RO, RO};
static const enum state all_no_access[OLD] = {NONE, NONE, NONE, NONE};
static const enum state mixed[OLD] = {RW, RO, RESERVED, NONE};
static const enum state read_write_then_reserved[OLD] = {RW, RW, RESERVED, RESERVED};

static void each_layout(void (*fn)(const enum state *st))
{
    fn(all_reserved);
    fn(all_read_only);
    fn(all_no_access);
    fn(mixed);
    fn(read_write_then_reserved);
}

static void grow_in_place(const enum state *st)
{
    grow_keeps_states(st, false, false);
}


/* qemu-user 7.2 moves a block of several mappings that the kernel refuses
 * to move (EFAULT), then gives its pages wrong access and spins on the
 * next fault: under qemu only blocks of one state may move. */
static bool one_state(const enum state *st)
{
    for (size_t i = 1; i < OLD; i++)
        if (st[i] != st[0])
            return false;
    return true;
}

static void grow_may_move(const enum state *st)
{
    if (one_state(st) || !support_under_qemu())
        grow_keeps_states(st, true, false);
}

static void grow_must_move(const enum state *st)
{
    if (support_granularity() == page && (one_state(st) || !support_under_qemu()))
        grow_keeps_states(st, true, true);
}

static void growth_adds_read_write_pages_and_keeps_the_old_states(void)
{
    each_layout(grow_in_place);
    each_layout(grow_may_move);
}

static void a_move_keeps_the_old_states_or_fails_with_the_block_untouched(void)
{
    each_layout(grow_must_move);
}

static void shrink(const enum state *st)
{
    unsigned char *p = pagealloc_mapx(NEW * page, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    set_states(p, st, 41);
    CHECK(pagealloc_commit(p + (NEW - 1) * page, page));
    CHECK(pagealloc_protect(p + (NEW - 1) * page, page, PAGEALLOC_READ));
    CHECK(pagealloc_realloc(p, NEW * page, 1, OLD * page, false) == p);
    CHECK(support_range_given_back(p + OLD * page, (NEW - OLD) * page));
    CHECK(has_states(p, st, 41));
    pagealloc_unmap(p, OLD * page);
    CHECK(support_range_unmapped(p, NEW * page));
}

/*
 * Registers [p, p + len) with a new userfaultfd (missing pages, faults from
 * user space only, which needs no privilege) and returns it, or -1 with
 * *why set when the system will not. Registering splits the mapping there.
 */
static int register_userfaultfd(void *p, size_t len, const char **why)
{
#if defined(__linux__) && defined(SYS_userfaultfd) && defined(UFFD_USER_MODE_ONLY)
    static char reason[160];
    *why = reason;
    char sysctl[16] = "?";
    FILE *f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
    if (f != NULL) {
        if (fscanf(f, "%15s", sysctl) != 1)
            sysctl[0] = '\0';
        fclose(f);
    }
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    if (fd < 0) {
        snprintf(reason, sizeof reason,
                 "userfaultfd refused (errno %d; vm.unprivileged_userfaultfd is %s)", errno, sysctl);
        return -1;
    }
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg = {.range = {(uintptr_t)p, len},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(fd, UFFDIO_API, &api) != 0 || ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
        snprintf(reason, sizeof reason, "userfaultfd registration refused (errno %d)", errno);
        close(fd);
        return -1;
    }
    return fd;
#else
    (void)p, (void)len;
    *why = "no userfaultfd here";
    return -1;
#endif
}

static void close_userfaultfd(int fd)
{
#if defined(__linux__)
    close(fd);
#else
    (void)fd;
#endif
}

/*
 * The kernel refuses to move a mapping registered with userfaultfd. Since
 * Linux 6.17 it moves a range of several mappings one mapping at a time, so a
 * move of a block whose third mapping is registered stops there, the first
 * two already at the target. The library must not let that happen: the
 * growth fails with ENOMEM and every page is where it was, in its state, with
 * its bytes.
 */
static void a_move_the_kernel_would_refuse_part_way_leaves_the_block_whole(void)
{
    static const enum state st[OLD] = {RW, RO, RW, RW};
    if (!support_can_move()) {
        check_skip("no move without copying here");
        return;
    }
    unsigned char *p = pagealloc_mapx(OLD * page, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    set_states(p, st, 51);
    const char *why = NULL;
    int fd = register_userfaultfd(p + 2 * page, 2 * page, &why);
    if (fd < 0) {
        check_skip("%s", why);
        pagealloc_unmap(p, OLD * page);
        return;
    }
    bool taken = support_map_at(p + OLD * page, (NEW - OLD) * page);
    CHECK(taken);
    errno = 0;
    unsigned char *q = pagealloc_realloc(p, OLD * page, 1, NEW * page, true);
    CHECK(q == NULL && errno == ENOMEM);
    if (q == NULL) {
        /* Looked at by asking first: reading a page that went would fault. */
        bool whole = support_range_mapped(p, OLD * page);
        CHECK(whole);
        CHECK(whole && has_states(p, st, 51));
    } else {
        CHECK(has_states(q, st, 51));
    }
    close_userfaultfd(fd);
    if (q != NULL)
        pagealloc_unmap(q, NEW * page);
    else
        pagealloc_unmap(p, OLD * page);
    if (taken)
        support_unmap(p + OLD * page, (NEW - OLD) * page);
}

/*
 * Once pages may vary, a block of one read-write mapping that must move moves
 * with its new size where the system can say what the block is (Linux 6.11's
 * PROCMAP_QUERY): it stays one mapping, so it can move again. Were its old
 * pages moved apart from a tail opened on the target, it would be two
 * mappings, which never move: the second growth would return NULL and the
 * caller would have to copy.
 */
static void a_block_moved_once_pages_varying_moves_again_without_copying(void)
{
    if (!support_can_move()) {
        check_skip("no move without copying here");
        return;
    }
    if (!support_mappings_described()) {
        check_skip("the system cannot describe a mapping (PROCMAP_QUERY, Linux 6.11)");
        return;
    }
    /* Pages may vary from here on (the library's process-wide latch). */
    unsigned char *r = pagealloc_mapx(page, 1, PAGEALLOC_RESERVE);
    CHECK(r != NULL);
    if (r != NULL)
        pagealloc_unmap(r, page);
    size_t len = 4 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, len, 61);
    for (int i = 0; i < 3; i++) {
        /* The range after the block is taken: by us, or already by another. */
        bool blocked = support_map_at(p + len, page);
        unsigned char *q = pagealloc_realloc(p, len, 1, 2 * len, true);
        if (blocked)
            support_unmap(p + len, page);
        CHECK(q != NULL && q != p);
        if (q == NULL)
            break;
        CHECK(support_has_pattern(q, len, 61));
        CHECK(support_all_zero(q + len, len));
        CHECK(support_mappings_in(q, 2 * len) == 1);
        support_fill(q, 2 * len, 61);
        p = q;
        len *= 2;
    }
    pagealloc_unmap(p, len);
}

static void a_shrink_gives_the_tail_back_whatever_its_state(void)
{
    each_layout(shrink);
}

static void stats_count_protection_changes(void)
{
    unsigned char *p = pagealloc_map(2 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    uint64_t before = pagealloc_stats().protect_calls;
    CHECK(pagealloc_protect(p, page, PAGEALLOC_READ));
    CHECK(pagealloc_stats().protect_calls >= before + 1);
    pagealloc_unmap(p, 2 * page);
}

/* System calls other than queries of a range's state (Windows). */
static uint64_t calls_made(void)
{
    struct pagealloc_stats s = pagealloc_stats();
    return s.map_calls + s.unmap_calls + s.remap_calls + s.advise_calls + s.protect_calls;
}

static void reserve_commit_decommit_release_are_one_system_call_each(void)
{
    size_t len = 16 * support_granularity();
    uint64_t c0 = calls_made();
    unsigned char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    uint64_t c1 = calls_made();
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_commit(p, len));
    uint64_t c2 = calls_made();
    CHECK(pagealloc_decommit(p, len));
    uint64_t c3 = calls_made();
    pagealloc_unmap(p, len);
    uint64_t c4 = calls_made();
    CHECK(c1 - c0 == 1 && c2 - c1 == 1 && c3 - c2 == 1 && c4 - c3 == 1);
}

int main(void)
{
    page = pagealloc_page_size();
    support_mapped_bytes();
    RUN(mapx_without_flags_maps_zeroed_read_write_pages);
    RUN(reserved_pages_fault_hold_no_memory_and_count_as_mapped);
    RUN(commit_makes_reserved_pages_read_write_and_zero);
    RUN(committing_twice_keeps_the_bytes);
    RUN(decommit_gives_the_memory_back_and_pages_read_zero_after_commit);
    RUN(decommitted_pages_of_a_reservation_read_zero_after_commit);
    RUN(protect_changes_access_and_keeps_the_bytes);
    RUN(protect_of_reserved_pages_commits_them_on_posix_and_fails_on_windows);
    RUN(a_guard_page_faults_one_byte_past_the_end);
    RUN(code_written_then_made_read_exec_runs);
    RUN(unmap_releases_a_block_whatever_its_pages_states);
    RUN(growth_adds_read_write_pages_and_keeps_the_old_states);
    RUN(a_move_keeps_the_old_states_or_fails_with_the_block_untouched);
    RUN(a_move_the_kernel_would_refuse_part_way_leaves_the_block_whole);
    RUN(a_block_moved_once_pages_varying_moves_again_without_copying);
    RUN(a_shrink_gives_the_tail_back_whatever_its_state);
    RUN(stats_count_protection_changes);
    RUN(reserve_commit_decommit_release_are_one_system_call_each);
    /* Last: under qemu-user a freed hole this large makes its later
     * placement searches crawl. */
    RUN(reserving_64_GiB_commits_here_and_there_and_leaves_nothing);
    return check_done();
}
