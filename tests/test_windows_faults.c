/*
 * Windows, failure injection (PAGEALLOC_FAULT_INJECTION builds only): each
 * operation runs again and again, its 1st, 2nd, ... system call failing, until
 * it runs without reaching a failure. Each time the operation reports ENOMEM
 * (or, for a try the library can do without, such as the reservation under
 * the hint, succeeds anyway), the block it was given is intact at its old
 * length, and once everything is freed nothing is left reserved.
 */
#include "check.h"
#include "fault.h"
#include "pagealloc.h"
#include "support.h"

#include <windows.h>

#include <errno.h>

enum { MAX_CALLS = 32 };

static size_t page, gran;

static bool all_committed(const void *p, size_t len)
{
    for (size_t off = 0; off < len; off += page) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery((const char *)p + off, &m, sizeof m) == 0 || m.State != MEM_COMMIT)
            return false;
    }
    return true;
}

/* One realloc: the block it starts from (mapped with map_len, then grown in
 * place to len; `units` free granularity units after its reservation first)
 * and the new length. */
struct op {
    const char *name;
    size_t map_len, len, units, new_len;
    bool may_move;
};

static unsigned char *block(const struct op *o)
{
    /* A block mapped just above it and freed again leaves the units free. */
    unsigned char *spacer = pagealloc_map(o->units * gran, gran);
    unsigned char *p = pagealloc_map(o->map_len, 1);
    pagealloc_unmap(spacer, o->units * gran);
    if (p == NULL)
        return NULL;
    if (o->len != o->map_len && pagealloc_realloc(p, o->map_len, 1, o->len, false) == NULL) {
        pagealloc_unmap(p, o->map_len);
        return NULL;
    }
    support_fill(p, o->len, 7);
    return p;
}

/* Runs realloc with call `k` failing; false once no call failed. */
static bool realloc_failing_call(const struct op *o, uint64_t k)
{
    unsigned char *p = block(o);
    CHECK(p != NULL);
    if (p == NULL)
        return false;
    size_t before = pagealloc_stats().mapped_bytes;
    pa_fault_arm(PA_SYS_KINDS, k, 1, ENOMEM);
    errno = 0;
    unsigned char *q = pagealloc_realloc(p, o->len, 1, o->new_len, o->may_move);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    if (!failed) {
        CHECK(q == p);
        pagealloc_unmap(p, o->new_len);
        return false;
    }
    CHECK(q == NULL && err == ENOMEM);
    CHECK(pagealloc_stats().mapped_bytes == before);
    CHECK(all_committed(p, o->len) && support_has_pattern(p, o->len, 7));
    if (q != NULL)
        printf("     %s: call %u failed, yet realloc succeeded\n", o->name, (unsigned)k);
    pagealloc_unmap(p, q != NULL ? o->new_len : o->len);
    return true;
}

static void realloc_failures_leave_the_block_intact_and_leak_nothing(void)
{
    /* Shrinks of a block of several reservations are left out: the system
     * refusing the decommit after the release leaves that release done. */
    const struct op ops[] = {
        {"grow inside the reservation", page, page, 1, 8 * page, false},
        {"grow across reservations", 3 * page, 3 * page, 3, 2 * gran + page, true},
        {"shrink inside the reservation", 8 * page, 8 * page, 1, 2 * page, false},
        {"shrink to a reservation's end", page, gran + page, 2, gran, false},
    };
    size_t baseline = support_mapped_bytes();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const struct op *o = &ops[i];
        uint64_t k = 1;
        while (k < MAX_CALLS && realloc_failing_call(o, k))
            k++;
        printf("     %s: %u system calls failed in turn\n", o->name, (unsigned)(k - 1));
        CHECK(k > 1 && k < MAX_CALLS);
        CHECK(support_mapped_bytes() == baseline);
    }
}

/* Maps with call `k` failing and with the range under the hint taken when
 * `align` is large, so the aligned path (VirtualAlloc2 or fallback) runs. */
static bool map_failing_call(size_t len, size_t align, uint64_t k)
{
    unsigned char *top = pagealloc_map(page, 1);
    CHECK(top != NULL);
    if (top == NULL)
        return false;
    void *want = (void *)(((uintptr_t)top - len) & ~(uintptr_t)(align - 1));
    bool blocked = align > gran && support_map_at(want, gran);
    size_t before = pagealloc_stats().mapped_bytes;
    pa_fault_arm(PA_SYS_KINDS, k, 1, ENOMEM);
    errno = 0;
    unsigned char *p = pagealloc_map(len, align);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    if (p != NULL) {
        /* Succeeded: no failure reached, or only one it could do without. */
        CHECK(support_aligned(p, align) && all_committed(p, len) && support_all_zero(p, len));
        pagealloc_unmap(p, len);
    } else {
        CHECK(failed && err == ENOMEM);
        CHECK(pagealloc_stats().mapped_bytes == before);
    }
    if (blocked)
        support_unmap(want, gran);
    pagealloc_unmap(top, page);
    return failed;
}

static void map_failures_report_ENOMEM_and_leak_nothing(void)
{
    const size_t aligns[] = {1, gran, (size_t)1 << 20, (size_t)1 << 30};
    size_t baseline = support_mapped_bytes();
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        uint64_t k = 1;
        while (k < MAX_CALLS && map_failing_call(3 * page, aligns[i], k))
            k++;
        printf("     map aligned to %zu: %u system calls failed in turn\n", aligns[i],
               (unsigned)(k - 1));
        CHECK(k > 1 && k < MAX_CALLS);
        CHECK(support_mapped_bytes() == baseline);
    }
}

/* A refused release is counted; the memory is discarded (reads as zero) and
 * the range stays reserved, as pagealloc.h says. */
static void a_refused_unmap_discards_the_memory_and_is_counted(void)
{
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 4 * page, 9);
    uint64_t failures = pagealloc_stats().unmap_failures;
    pa_fault_arm(PA_SYS_UNMAP, 1, 1, ENOMEM);
    errno = 0;
    pagealloc_unmap(p, 4 * page);
    int err = errno;
    pa_fault_disarm();
    CHECK(err == ENOMEM);
    CHECK(pagealloc_stats().unmap_failures == failures + 1);
    CHECK(support_range_mapped(p, 4 * page) && support_all_zero(p, 4 * page));
    VirtualFree(p, 0, MEM_RELEASE);
    CHECK(support_range_unmapped(p, gran));
}

/* ---- Reservations and page states ---------------------------------------- */

static bool reserve_failing_call(size_t align, uint64_t k)
{
    size_t before = pagealloc_stats().mapped_bytes;
    pa_fault_arm(PA_SYS_KINDS, k, 1, ENOMEM);
    errno = 0;
    unsigned char *p = pagealloc_mapx(3 * page, align, PAGEALLOC_RESERVE);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    if (p != NULL) {
        MEMORY_BASIC_INFORMATION m;
        CHECK(support_aligned(p, align > page ? align : page));
        CHECK(VirtualQuery(p, &m, sizeof m) != 0 && m.State == MEM_RESERVE);
        pagealloc_unmap(p, 3 * page);
    } else {
        CHECK(failed && err == ENOMEM);
        CHECK(pagealloc_stats().mapped_bytes == before);
    }
    return failed;
}

static void reserve_failures_report_ENOMEM_and_leak_nothing(void)
{
    const size_t aligns[] = {1, gran, (size_t)1 << 20};
    size_t baseline = support_mapped_bytes();
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        uint64_t k = 1;
        while (k < MAX_CALLS && reserve_failing_call(aligns[i], k))
            k++;
        CHECK(k > 1 && k < MAX_CALLS);
        CHECK(support_mapped_bytes() == baseline);
    }
}

/* A page's state and protection, as one number to compare. */
static unsigned long long page_state(const void *p)
{
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery(p, &m, sizeof m) == 0)
        return 0;
    return (unsigned long long)m.State << 32 | (m.State == MEM_COMMIT ? m.Protect : 0);
}

enum { STATE_PAGES = 64 };

/* Pages [from, to) of p are all in their `before` states, or all in `after`. */
static bool all_old_or_all_new(unsigned char *p, size_t from, size_t to,
                               const unsigned long long *before, unsigned long long after)
{
    bool old = true, changed = true;
    for (size_t i = from; i < to; i++) {
        unsigned long long now = page_state(p + i * page);
        old = old && now == before[i];
        changed = changed && now == after;
    }
    return old || changed;
}

/* Runs `op` (0 commit, 1 decommit, 2 protect to no access) over the three
 * reservations of a grown block, with call `k` failing: first page
 * read-only, the rest of the first reservation read-write with a pattern,
 * the other two decommitted. Each reservation's part of the range ends all
 * as it was or all changed, and committed bytes stay. False once no call
 * failed. */
static bool state_op_failing_call(int op, uint64_t k)
{
    size_t len = 2 * gran + 5 * page, pages = len / page, half = gran / page / 2;
    unsigned char *spacer = pagealloc_map(4 * gran, gran);
    unsigned char *p = pagealloc_map(page, 1);
    pagealloc_unmap(spacer, 4 * gran);
    CHECK(p != NULL && pages <= STATE_PAGES);
    if (p == NULL || pages > STATE_PAGES || pagealloc_realloc(p, page, 1, len, false) != p) {
        pagealloc_unmap(p, page);
        return false;
    }
    support_fill(p, gran, 4);
    CHECK(pagealloc_decommit(p + gran, len - gran));
    CHECK(pagealloc_protect(p, page, PAGEALLOC_READ));
    unsigned long long before[STATE_PAGES];
    for (size_t i = 0; i < pages; i++)
        before[i] = page_state(p + i * page);
    const unsigned long long after[] = {(unsigned long long)MEM_COMMIT << 32 | PAGE_READWRITE,
                                        (unsigned long long)MEM_RESERVE << 32,
                                        (unsigned long long)MEM_COMMIT << 32 | PAGE_NOACCESS};
    pa_fault_arm(PA_SYS_KINDS, k, 1, ENOMEM);
    errno = 0;
    bool ok = op == 0   ? pagealloc_commit(p + half * page, len - half * page)
              : op == 1 ? pagealloc_decommit(p + half * page, len - half * page)
                        : pagealloc_protect(p + page, gran - page, PAGEALLOC_NO_ACCESS);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    CHECK(ok || (failed && err == ENOMEM));
    if (op == 2) {
        CHECK(all_old_or_all_new(p, 1, gran / page, before, after[op]));
    } else {
        CHECK(all_old_or_all_new(p, half, gran / page, before, after[op]));
        CHECK(all_old_or_all_new(p, gran / page, 2 * gran / page, before, after[op]));
        CHECK(all_old_or_all_new(p, 2 * gran / page, pages, before, after[op]));
    }
    CHECK(page_state(p) == before[0]);
    if (page_state(p + page) == before[1])
        CHECK(support_has_pattern(p, op == 1 ? half * page : gran, 4));
    pagealloc_unmap(p, len);
    return failed;
}

static void page_state_failures_report_ENOMEM_and_change_whole_reservations(void)
{
    size_t baseline = support_mapped_bytes();
    for (int op = 0; op < 3; op++) {
        uint64_t k = 1;
        while (k < MAX_CALLS && state_op_failing_call(op, k))
            k++;
        printf("     %s: %u system calls failed in turn\n",
               op == 0 ? "commit" : op == 1 ? "decommit" : "protect", (unsigned)(k - 1));
        CHECK(k > 1 && k < MAX_CALLS);
        CHECK(support_mapped_bytes() == baseline);
    }
}

int main(void)
{
    page = pagealloc_page_size();
    gran = support_granularity();
    RUN(realloc_failures_leave_the_block_intact_and_leak_nothing);
    RUN(map_failures_report_ENOMEM_and_leak_nothing);
    RUN(a_refused_unmap_discards_the_memory_and_is_counted);
    RUN(reserve_failures_report_ENOMEM_and_leak_nothing);
    RUN(page_state_failures_report_ENOMEM_and_change_whole_reservations);
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
