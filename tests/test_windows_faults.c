/*
 * Windows, failure injection (PAGEALLOC_FAULT_INJECTION builds only): each
 * operation runs again and again with its 1st, 2nd, ... system call failing
 * (then each pair of consecutive calls: an operation and its clean-up), until
 * it runs without reaching a failure. Each time the operation either reports
 * ENOMEM with the block intact at its old length, or is done (a failure the
 * library could do without, or one after the shrink was done, then counted);
 * every reservation it released is taken at once by "another thread" (the
 * hole hook of fault.h) and never touched again; once everything is freed
 * nothing is left reserved but what unmap_failures counted.
 */
#include "check.h"
#include "fault.h"
#include "pagealloc.h"
#include "support.h"

#include <windows.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

/* ---- Another thread, played by the hole hook ---------------------------- */

/* Each reservation the library releases while the hook is set is taken at
 * once and filled, as another thread's VirtualAlloc could. */
enum { MAX_SENTINELS = 16 };
static struct {
    unsigned char *p;
    size_t len;
} sentinel[MAX_SENTINELS];
static int sentinels;

static void take_the_hole(void *addr, size_t len)
{
    if (sentinels < MAX_SENTINELS && support_map_at(addr, len)) {
        support_fill(addr, len, 100u + (unsigned)sentinels);
        sentinel[sentinels].p = addr;
        sentinel[sentinels].len = len;
        sentinels++;
    }
}

/* Whether each sentinel is still committed and holds its bytes. */
static bool sentinels_intact(void)
{
    for (int i = 0; i < sentinels; i++)
        if (!all_committed(sentinel[i].p, sentinel[i].len) ||
            !support_has_pattern(sentinel[i].p, sentinel[i].len, 100u + (unsigned)i))
            return false;
    return true;
}

/* Whether each page of [p, p + len) is either not committed (given back) or
 * one a sentinel took. */
static bool given_back_or_taken(const unsigned char *p, size_t len)
{
    for (const unsigned char *q = p; q < p + len; q += page) {
        bool taken = false;
        for (int i = 0; i < sentinels; i++)
            taken = taken || (q >= sentinel[i].p && q < sentinel[i].p + sentinel[i].len);
        MEMORY_BASIC_INFORMATION m;
        if (!taken && (VirtualQuery(q, &m, sizeof m) == 0 || m.State == MEM_COMMIT))
            return false;
    }
    return true;
}

static void free_sentinels(void)
{
    for (int i = 0; i < sentinels; i++)
        VirtualFree(sentinel[i].p, 0, MEM_RELEASE);
    sentinels = 0;
}

/* Releases what the library left reserved in [p, p + span) (each such
 * reservation must have been counted) and returns its size. */
static size_t free_leftovers(unsigned char *p, size_t span)
{
    size_t left = 0;
    for (unsigned char *q = p; q < p + span;) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(q, &m, sizeof m) == 0)
            break;
        if (m.State != MEM_FREE && (unsigned char *)m.AllocationBase >= p) {
            left += m.RegionSize;
            VirtualFree(m.AllocationBase, 0, MEM_RELEASE);
        }
        q = (unsigned char *)m.BaseAddress + m.RegionSize;
    }
    return left;
}

static size_t round_gran(size_t len)
{
    return (len + gran - 1) / gran * gran;
}

/* ---- realloc ------------------------------------------------------------- */

/* One realloc: the block it starts from (mapped with map_len, then grown in
 * place to mid_len and to len; `units` free granularity units after its
 * reservation first) and the new length. */
struct op {
    const char *name;
    size_t map_len, mid_len, len, units, new_len;
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
    size_t now = o->map_len;
    const size_t steps[] = {o->mid_len, o->len};
    for (int i = 0; i < 2; i++) {
        if (steps[i] == now)
            continue;
        if (pagealloc_realloc(p, now, 1, steps[i], false) == NULL) {
            pagealloc_unmap(p, now);
            return NULL;
        }
        now = steps[i];
    }
    support_fill(p, o->len, 7);
    return p;
}

/*
 * Runs realloc with calls k .. k + count - 1 failing, while the hook takes
 * each released reservation; false once no call failed. Either the block is
 * as it was (NULL, ENOMEM) or the change is done (a failure the library could
 * absorb, or a release refused after the shrink was done, then counted); what
 * the other thread took is never touched, by the call or by the caller's
 * later unmap; a block whose growth failed can grow once the failures stop.
 */
static bool realloc_failing_calls(const struct op *o, uint64_t k, uint64_t count)
{
    unsigned char *p = block(o);
    CHECK(p != NULL);
    if (p == NULL)
        return false;
    size_t span = round_gran(o->len > o->new_len ? o->len : o->new_len);
    size_t before = pagealloc_stats().mapped_bytes;
    uint64_t failures = pagealloc_stats().unmap_failures;
    pa_fault_set_hole_hook(take_the_hole);
    pa_fault_arm(PA_SYS_KINDS, k, count, ENOMEM);
    errno = 0;
    unsigned char *q = pagealloc_realloc(p, o->len, 1, o->new_len, o->may_move);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    pa_fault_set_hole_hook(NULL);
    size_t len = o->len;
    if (q == NULL) {
        CHECK(failed && err == ENOMEM);
        CHECK(pagealloc_stats().mapped_bytes == before);
        CHECK(all_committed(p, o->len) && support_has_pattern(p, o->len, 7));
    } else {
        size_t keep = o->len < o->new_len ? o->len : o->new_len;
        CHECK(q == p && all_committed(p, o->new_len) && support_has_pattern(p, keep, 7));
        CHECK(pagealloc_stats().mapped_bytes - before ==
              ((o->new_len + page - 1) & ~(page - 1)) - ((o->len + page - 1) & ~(page - 1)));
        /* A shrink gives the tail back at once, what the system refused too. */
        if (o->new_len < o->len)
            CHECK(given_back_or_taken(p + o->new_len, o->len - o->new_len));
        len = o->new_len;
    }
    CHECK(sentinels_intact());
    if (q == NULL && o->new_len > o->len) {
        /* Nothing the failure left behind stands in the block's way. */
        free_sentinels();
        q = pagealloc_realloc(p, o->len, 1, o->new_len, o->may_move);
        CHECK(q == p);
        if (q == p)
            len = o->new_len;
    }
    pagealloc_unmap(p, len);
    CHECK(sentinels_intact());
    free_sentinels();
    size_t left = free_leftovers(p, span);
    CHECK(left == 0 || pagealloc_stats().unmap_failures > failures);
    return failed;
}

static void realloc_failures_leave_the_block_intact_or_done_and_touch_no_one_else(void)
{
    const struct op ops[] = {
        {"grow inside the reservation", page, page, page, 1, 8 * page, false},
        {"grow across reservations", 3 * page, 3 * page, 3 * page, 3, 2 * gran + page, true},
        {"shrink inside the reservation", 8 * page, 8 * page, 8 * page, 1, 2 * page, false},
        {"shrink to a reservation's end", page, page, gran + page, 2, gran, false},
        {"shrink to a unit's start inside the reservation", 3 * gran, 3 * gran, 3 * gran, 1, gran,
         false},
        {"shrink across three reservations", page, gran + page, 2 * gran + page, 3, page, false},
        {"shrink to the middle of the second of three", page, gran + page, 3 * gran + page, 4,
         gran + 2 * page, false},
    };
    size_t baseline = support_mapped_bytes();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const struct op *o = &ops[i];
        for (uint64_t count = 1; count <= 2; count++) {
            uint64_t k = 1;
            while (k < MAX_CALLS && realloc_failing_calls(o, k, count))
                k++;
            printf("     %s: %u runs, %u consecutive calls failing from each call in turn\n",
                   o->name, (unsigned)(k - 1), (unsigned)count);
            CHECK(k > 1 && k < MAX_CALLS);
            CHECK(support_mapped_bytes() == baseline);
        }
    }
}

/*
 * A block of three reservations shrinks to its first page while the system
 * refuses to release the reservation number `refused` (1: the second of the
 * block, 2: the third; both tries). The shrink is done (the tail's first part
 * was decommitted, or a release went through) and counted; the tail is given
 * back at once all the same: what the system kept is decommitted, reserved
 * outside the block, and none of the caller's bytes stay in it.
 */
static void shrink_with_release_refused(unsigned refused)
{
    const struct op o = {"", page, gran + page, 2 * gran + page, 3, 0, false};
    unsigned char *p = block(&o);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    uint64_t failures = pagealloc_stats().unmap_failures;
    pa_fault_set_hole_hook(take_the_hole);
    pa_fault_arm(PA_SYS_UNMAP, refused, 2, ENOMEM);
    unsigned char *q = pagealloc_realloc(p, o.len, 1, page, false);
    pa_fault_disarm();
    pa_fault_set_hole_hook(NULL);
    CHECK(q == p && pa_fault_injected() == 2);
    CHECK(pagealloc_stats().unmap_failures == failures + 1);
    CHECK(all_committed(p, page) && support_has_pattern(p, page, 7));
    CHECK(given_back_or_taken(p + page, round_gran(o.len) - page));
    CHECK(sentinels_intact());
    pagealloc_unmap(p, page);
    free_sentinels();
    CHECK(free_leftovers(p, round_gran(o.len)) != 0); /* the refused reservation(s) */
}

static void a_shrink_whose_release_is_refused_still_gives_the_tail_back(void)
{
    size_t baseline = support_mapped_bytes();
    shrink_with_release_refused(1);
    shrink_with_release_refused(2);
    CHECK(support_mapped_bytes() == baseline);
}

/*
 * A decommit over the three reservations of a grown block, with the system
 * refusing its decommit call number `k` (the first is the one whole-range
 * call, which a range over several reservations never gets past): each
 * reservation's part is decommitted whole or left as it was, those decommitted
 * come first, and a failure says ENOMEM. False once no call failed.
 */
static bool decommit_refused_at(uint64_t k)
{
    const struct op o = {"", page, gran + page, 2 * gran + page, 3, 0, false};
    unsigned char *p = block(&o);
    CHECK(p != NULL);
    if (p == NULL)
        return false;
    /* From the middle of the first reservation to the middle of the third. */
    unsigned char *from = p + gran / 2, *to = p + 2 * gran + page;
    unsigned char *part[] = {from, p + gran, p + 2 * gran, to};
    for (int i = 0; i < 3; i++)
        support_fill(part[i], (size_t)(part[i + 1] - part[i]), 20u + (unsigned)i);
    pa_fault_arm(PA_SYS_ADVISE, k, 1, ENOMEM);
    errno = 0;
    bool ok = pagealloc_decommit(from, (size_t)(to - from));
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    CHECK(ok || (failed && err == ENOMEM));
    bool as_it_was = false;
    for (int i = 0; i < 3; i++) {
        size_t n = (size_t)(part[i + 1] - part[i]);
        bool decommitted = support_range_given_back(part[i], n);
        bool kept = all_committed(part[i], n) && support_has_pattern(part[i], n, 20u + (unsigned)i);
        CHECK(ok ? decommitted : as_it_was ? kept : decommitted || kept);
        as_it_was = as_it_was || kept;
    }
    CHECK(ok || as_it_was); /* a failure leaves the refused reservation as it was */
    CHECK(all_committed(p, gran / 2) && support_has_pattern(p, page, 7));
    pagealloc_unmap(p, o.len);
    return failed;
}

static void a_decommit_refused_part_way_leaves_only_the_reservations_before_it_decommitted(void)
{
    size_t baseline = support_mapped_bytes();
    uint64_t k = 1;
    while (k < MAX_CALLS && decommit_refused_at(k))
        k++;
    printf("     decommit of three reservations: %u calls refused in turn\n", (unsigned)(k - 1));
    CHECK(k > 3 && k < MAX_CALLS);
    CHECK(support_mapped_bytes() == baseline);
}

/* ---- unmap --------------------------------------------------------------- */

/*
 * Unmaps a block of three reservations with calls k .. k + count - 1
 * failing: the reservations released before a refused one belong to the
 * system again (the hook takes them) and are not discarded; what the library
 * still holds is discarded (decommitted) and counted.
 */
static bool unmap_failing_calls(uint64_t k, uint64_t count)
{
    const struct op o = {"", page, gran + page, 2 * gran + page, 3, 0, false};
    unsigned char *p = block(&o);
    CHECK(p != NULL);
    if (p == NULL)
        return false;
    size_t span = round_gran(o.len);
    uint64_t failures = pagealloc_stats().unmap_failures;
    pa_fault_set_hole_hook(take_the_hole);
    pa_fault_arm(PA_SYS_KINDS, k, count, ENOMEM);
    errno = 0;
    pagealloc_unmap(p, o.len);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    pa_fault_set_hole_hook(NULL);
    CHECK(sentinels_intact());
    bool refused = pagealloc_stats().unmap_failures != failures;
    CHECK(!refused || (failed && err == ENOMEM));
    /* What the library kept holds no memory: it is decommitted. */
    CHECK(given_back_or_taken(p, span));
    free_sentinels();
    CHECK(free_leftovers(p, span) == 0 || refused);
    return failed;
}

static void unmap_failures_discard_only_what_is_still_the_blocks(void)
{
    size_t baseline = support_mapped_bytes();
    for (uint64_t count = 1; count <= 2; count++) {
        uint64_t k = 1;
        while (k < MAX_CALLS && unmap_failing_calls(k, count))
            k++;
        printf("     unmap of three reservations: %u runs, %u consecutive calls failing\n",
               (unsigned)(k - 1), (unsigned)count);
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

/* A refused release is counted; the range stays reserved, as pagealloc.h
 * says: decommitted, so neither its memory nor its commit charge is kept for
 * a range no one may use any more. */
static void a_refused_unmap_leaves_the_range_reserved_and_is_counted(void)
{
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 4 * page, 9);
    uint64_t failures = pagealloc_stats().unmap_failures;
    /* Twice: the library tries a refused release once more. */
    pa_fault_arm(PA_SYS_UNMAP, 1, 2, ENOMEM);
    errno = 0;
    pagealloc_unmap(p, 4 * page);
    int err = errno;
    pa_fault_disarm();
    CHECK(err == ENOMEM);
    CHECK(pagealloc_stats().unmap_failures == failures + 1);
    CHECK(support_range_mapped(p, 4 * page) && support_range_given_back(p, 4 * page));
    VirtualFree(p, 0, MEM_RELEASE);
    CHECK(support_range_unmapped(p, gran));
}

/* However many regions its pages show (here 64, of alternating protections),
 * a block of one reservation whose release is refused gives its memory back
 * in one decommit, with no query. */
static void a_refused_unmap_gives_the_memory_back_in_one_call_whatever_its_regions(void)
{
    enum { PAGES = 64 };
    unsigned char *p = pagealloc_map(PAGES * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, PAGES * page, 10);
    for (size_t i = 0; i < PAGES; i += 2)
        CHECK(pagealloc_protect(p + i * page, page, PAGEALLOC_READ));
    struct pagealloc_stats before = pagealloc_stats();
    pa_fault_arm(PA_SYS_UNMAP, 1, 2, ENOMEM);
    pagealloc_unmap(p, PAGES * page);
    pa_fault_disarm();
    struct pagealloc_stats after = pagealloc_stats();
    CHECK(after.unmap_failures == before.unmap_failures + 1);
    CHECK(after.query_calls == before.query_calls);
    CHECK(after.advise_calls - before.advise_calls == 1 && after.map_calls == before.map_calls);
    CHECK(support_range_mapped(p, PAGES * page) && support_range_given_back(p, PAGES * page));
    VirtualFree(p, 0, MEM_RELEASE);
    CHECK(support_range_unmapped(p, PAGES * page));
}

/* ---- The aligned reservation without VirtualAlloc2 ---------------------- */

/* The run's path, as the library chooses it (test_windows checks which ran). */
static bool fallback_path(void)
{
    const char *off = getenv("PAGEALLOC_NO_VIRTUALALLOC2");
    HMODULE kernelbase = GetModuleHandleW(L"kernelbase.dll");
    return (off != NULL && off[0] != '\0' && off[0] != '0') || kernelbase == NULL ||
           GetProcAddress(kernelbase, "VirtualAlloc2") == NULL;
}

/* The block that sets the hint, and the range under it taken, for a 1 MiB
 * aligned map to go elsewhere; the test frees them with free_hint_blocker. */
static struct {
    unsigned char *top;
    void *blocked;
} hint_blocker;

static void block_the_hint(void)
{
    const size_t len = 3 * page, align = (size_t)1 << 20;
    hint_blocker.top = pagealloc_map(page, 1);
    CHECK(hint_blocker.top != NULL);
    void *want = (void *)(((uintptr_t)hint_blocker.top - len) & ~(uintptr_t)(align - 1));
    hint_blocker.blocked = hint_blocker.top != NULL && support_map_at(want, gran) ? want : NULL;
}

static void free_hint_blocker(void)
{
    if (hint_blocker.blocked != NULL)
        support_unmap(hint_blocker.blocked, gran);
    pagealloc_unmap(hint_blocker.top, page);
}

/*
 * The fallback reserves a probe, releases it and reserves the aligned range
 * inside; another thread (the hook) takes every probe the moment it is
 * released. After its tries the map fails with ENOMEM, leaving all of what
 * the other thread took alone. With VirtualAlloc2 nothing is released: it
 * succeeds.
 */
static void an_aligned_map_whose_range_another_thread_keeps_taking_fails_touching_none_of_it(void)
{
    block_the_hint();
    size_t before = pagealloc_stats().mapped_bytes;
    pa_fault_set_hole_hook(take_the_hole);
    errno = 0;
    unsigned char *p = pagealloc_map(3 * page, (size_t)1 << 20);
    int err = errno;
    pa_fault_set_hole_hook(NULL);
    if (fallback_path()) {
        printf("     fallback: %d probes taken by the other thread\n", sentinels);
        CHECK(p == NULL && err == ENOMEM && sentinels > 1);
        CHECK(pagealloc_stats().mapped_bytes == before);
    } else {
        CHECK(p != NULL && support_aligned(p, (size_t)1 << 20) && sentinels == 0);
        pagealloc_unmap(p, 3 * page);
    }
    CHECK(sentinels_intact());
    free_sentinels();
    free_hint_blocker();
}

/*
 * The fallback's probe, refused release twice: the map fails with ENOMEM and
 * the probe is what stays reserved, counted once in unmap_failures (run last:
 * the probe is left where it is). With VirtualAlloc2 no release is made.
 */
static void a_probe_the_system_will_not_release_is_counted_and_is_all_that_stays(void)
{
    size_t baseline = support_mapped_bytes();
    uint64_t failures = pagealloc_stats().unmap_failures;
    block_the_hint();
    pa_fault_arm(PA_SYS_UNMAP, 1, 2, ENOMEM);
    errno = 0;
    unsigned char *p = pagealloc_map(3 * page, (size_t)1 << 20);
    int err = errno;
    uint64_t refused = pa_fault_injected();
    pa_fault_disarm();
    free_hint_blocker();
    if (fallback_path()) {
        size_t probe = round_gran(3 * page) + ((size_t)1 << 20) - gran;
        CHECK(p == NULL && err == ENOMEM && refused == 2);
        CHECK(pagealloc_stats().unmap_failures == failures + 1);
        CHECK(support_mapped_bytes() == baseline + probe);
    } else {
        CHECK(p != NULL && refused == 0);
        pagealloc_unmap(p, 3 * page);
        CHECK(support_mapped_bytes() == baseline);
    }
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

/* Runs `op` (0 commit, 1 decommit, 2 protect to no access in the first
 * reservation, 3 the same into the second) over the three reservations of a
 * grown block, with calls k .. k + count - 1 failing (two: the whole-range
 * call and the walk after it): first page read-only, the rest of the first
 * reservation read-write with a pattern, the other two decommitted (but for
 * the first two pages of the second with op 3). Each reservation's part of the range ends all
 * as it was or all changed, and committed bytes stay. False once no call
 * failed. */
static bool state_op_failing_calls(int op, uint64_t k, uint64_t count)
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
    size_t kept = op == 3 ? gran + 2 * page : gran;
    CHECK(pagealloc_decommit(p + kept, len - kept));
    CHECK(pagealloc_protect(p, page, PAGEALLOC_READ));
    unsigned long long before[STATE_PAGES];
    for (size_t i = 0; i < pages; i++)
        before[i] = page_state(p + i * page);
    const unsigned long long after[] = {(unsigned long long)MEM_COMMIT << 32 | PAGE_READWRITE,
                                        (unsigned long long)MEM_RESERVE << 32,
                                        (unsigned long long)MEM_COMMIT << 32 | PAGE_NOACCESS};
    pa_fault_arm(PA_SYS_KINDS, k, count, ENOMEM);
    errno = 0;
    bool ok = op == 0   ? pagealloc_commit(p + half * page, len - half * page)
              : op == 1 ? pagealloc_decommit(p + half * page, len - half * page)
                        : pagealloc_protect(p + page, kept - page, PAGEALLOC_NO_ACCESS);
    int err = errno;
    bool failed = pa_fault_injected() != 0;
    pa_fault_disarm();
    CHECK(ok || (failed && err == ENOMEM));
    if (op >= 2) {
        CHECK(all_old_or_all_new(p, 1, gran / page, before, after[2]));
        CHECK(all_old_or_all_new(p, gran / page, kept / page, before, after[2]));
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
    const char *names[] = {"commit", "decommit", "protect", "protect across two"};
    for (int op = 0; op < 4; op++) {
        for (uint64_t count = 1; count <= 2; count++) {
            uint64_t k = 1;
            while (k < MAX_CALLS && state_op_failing_calls(op, k, count))
                k++;
            printf("     %s: %u runs, %u consecutive calls failing from each call in turn\n",
                   names[op], (unsigned)(k - 1),
                   (unsigned)count);
            CHECK(k > 1 && k < MAX_CALLS);
            CHECK(support_mapped_bytes() == baseline);
        }
    }
}

int main(void)
{
    page = pagealloc_page_size();
    gran = support_granularity();
    RUN(realloc_failures_leave_the_block_intact_or_done_and_touch_no_one_else);
    RUN(a_shrink_whose_release_is_refused_still_gives_the_tail_back);
    RUN(a_decommit_refused_part_way_leaves_only_the_reservations_before_it_decommitted);
    RUN(unmap_failures_discard_only_what_is_still_the_blocks);
    RUN(map_failures_report_ENOMEM_and_leak_nothing);
    RUN(a_refused_unmap_leaves_the_range_reserved_and_is_counted);
    RUN(a_refused_unmap_gives_the_memory_back_in_one_call_whatever_its_regions);
    RUN(reserve_failures_report_ENOMEM_and_leak_nothing);
    RUN(page_state_failures_report_ENOMEM_and_change_whole_reservations);
    RUN(an_aligned_map_whose_range_another_thread_keeps_taking_fails_touching_none_of_it);
    RUN(a_probe_the_system_will_not_release_is_counted_and_is_all_that_stays); /* last */
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
