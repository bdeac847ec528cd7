/*
 * Failure injection (built only with PAGEALLOC_FAULT_INJECTION): a scripted
 * sequence of operations that reaches every system-call site of the OS file
 * is run again and again, failing its 1st, 2nd, ... system call, then every
 * call from the Nth on. Each time: the failing operation returns NULL with the
 * injected errno, the block the caller holds is intact and readable at its
 * old length, and once everything is freed nothing is left mapped.
 */
#include "check.h"
#include "fault.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static size_t page;

/* ---- What the address space looks like, from /proc/self/maps ------------ */

enum { MAX_RANGES = 4096 };

struct snapshot {
    size_t n;
    uintptr_t lo[MAX_RANGES], hi[MAX_RANGES];
};

static void take_snapshot(struct snapshot *s)
{
    s->n = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    char line[512];
    unsigned long long lo, hi;
    while (s->n < MAX_RANGES && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2) {
            s->lo[s->n] = (uintptr_t)lo;
            s->hi[s->n] = (uintptr_t)hi;
            s->n++;
        }
    fclose(f);
}

/* Unmaps, and counts, every byte mapped now that was not mapped in `before`:
 * what the script leaked (the script maps nothing else). `report` lists the
 * ranges on stderr. */
static size_t unmap_new_ranges(const struct snapshot *before, bool report)
{
    static struct snapshot now;
    take_snapshot(&now);
    size_t leaked = 0;
    for (size_t i = 0; i < now.n; i++) {
        uintptr_t lo = now.lo[i];
        while (lo < now.hi[i]) {
            /* The next stretch of [lo, hi) that `before` does not cover. */
            uintptr_t hi = now.hi[i];
            bool covered = false;
            for (size_t j = 0; j < before->n; j++) {
                if (before->lo[j] <= lo && lo < before->hi[j]) {
                    lo = before->hi[j] < now.hi[i] ? before->hi[j] : now.hi[i];
                    covered = true;
                    break;
                }
                if (before->lo[j] > lo && before->lo[j] < hi)
                    hi = before->lo[j];
            }
            if (covered)
                continue;
            if (report)
                fprintf(stderr, "  left mapped: %#lx-%#lx\n", (unsigned long)lo,
                        (unsigned long)hi);
            leaked += hi - lo;
            munmap((void *)lo, hi - lo);
            lo = hi;
        }
    }
    return leaked;
}

/* ---- The script ---------------------------------------------------------- */

struct block {
    unsigned char *p;
    size_t len;
    size_t align;
    unsigned seed;
};

enum { BLOCKS = 8, BLOCKERS = 8 };

struct run {
    int err;          /* the injected errno */
    bool persistent;  /* more calls than the Nth fail */
    struct block b[BLOCKS];
    void *blocker[BLOCKERS];
    size_t blocker_len[BLOCKERS];
    int blockers;
    uintptr_t hint;   /* the library's address hint, as this test models it */
    int failed_ops;   /* operations that reported the injected failure */
    const char *failed_step;
};

static const char *current_step;

static size_t rounded(size_t len)
{
    return (len + page - 1) / page * page;
}

static size_t effective_align(size_t align)
{
    return align > page ? align : page;
}

/* Occupies [p, p + len) outside the library (nothing if it is taken). */
static void block_range(struct run *r, uintptr_t p, size_t len)
{
    if (p != 0 && r->blockers < BLOCKERS && support_map_at((void *)p, len)) {
        r->blocker[r->blockers] = (void *)p;
        r->blocker_len[r->blockers] = len;
        r->blockers++;
    }
}

/* The library's hint moves to each new block; freeing the block it points at
 * moves it back up over that block. */
static void hint_mapped(struct run *r, const void *p)
{
    r->hint = (uintptr_t)p;
}

static void note_failure(struct run *r)
{
    r->failed_ops++;
    r->failed_step = current_step;
}

static void do_map(struct run *r, int slot, size_t len, size_t align, unsigned seed)
{
    struct block *b = &r->b[slot];
    size_t mapped = pagealloc_stats().mapped_bytes;
    uint64_t injected = pa_fault_injected();
    errno = 0;
    unsigned char *p = pagealloc_map(len, align);
    if (p == NULL) {
        CHECK(pa_fault_injected() != injected);
        CHECK(errno == r->err);
        CHECK(pagealloc_stats().mapped_bytes == mapped);
        note_failure(r);
        return;
    }
    CHECK(support_aligned(p, effective_align(align)));
    CHECK(support_range_mapped(p, rounded(len)));
    CHECK(support_all_zero(p, rounded(len)));
    support_fill(p, len, seed);
    b->p = p;
    b->len = len;
    b->align = align;
    b->seed = seed;
    hint_mapped(r, p);
}

static void do_realloc(struct run *r, int slot, size_t new_len, bool may_move)
{
    struct block *b = &r->b[slot];
    if (b->p == NULL)
        return;
    size_t mapped = pagealloc_stats().mapped_bytes;
    uint64_t injected = pa_fault_injected();
    errno = 0;
    unsigned char *q = pagealloc_realloc(b->p, b->len, b->align, new_len, may_move);
    if (q == NULL) {
        /* Without mremap, growth that cannot be done in place fails with
         * ENOMEM whatever made it fail. */
        bool grows = rounded(new_len) > rounded(b->len);
        if (grows && !support_can_move())
            CHECK(errno == ENOMEM || errno == r->err);
        else
            CHECK(pa_fault_injected() != injected && errno == r->err);
        CHECK(support_range_mapped(b->p, rounded(b->len)));
        CHECK(support_has_pattern(b->p, b->len, b->seed));
        CHECK(pagealloc_stats().mapped_bytes == mapped);
        note_failure(r);
        return;
    }
    size_t keep = b->len < new_len ? b->len : new_len;
    CHECK(may_move || q == b->p);
    CHECK(support_aligned(q, effective_align(b->align)));
    CHECK(support_has_pattern(q, keep, b->seed));
    if (new_len > rounded(b->len))
        CHECK(support_all_zero(q + rounded(b->len), rounded(new_len) - rounded(b->len)));
    CHECK(support_range_mapped(q, rounded(new_len)));
    if (q != b->p) {
        CHECK(support_range_unmapped(b->p, rounded(b->len)));
        hint_mapped(r, q);
    }
    support_fill(q, new_len, b->seed);
    b->p = q;
    b->len = new_len;
}

static void do_unmap(struct run *r, int slot)
{
    struct block *b = &r->b[slot];
    if (b->p == NULL)
        return;
    uint64_t failures = pagealloc_stats().unmap_failures;
    errno = 0;
    pagealloc_unmap(b->p, b->len);
    if (pagealloc_stats().unmap_failures != failures) {
        /* Refused: the addresses stay reserved, the memory went back (unless
         * giving it back failed too), and the caller can see it. */
        CHECK(errno == r->err);
        CHECK(pagealloc_stats().unmap_failures == failures + 1);
        CHECK(support_range_mapped(b->p, rounded(b->len)));
        if (!r->persistent)
            CHECK(support_all_zero(b->p, rounded(b->len)));
        note_failure(r);
        support_unmap(b->p, rounded(b->len));
    } else {
        CHECK(support_range_unmapped(b->p, rounded(b->len)));
        if (r->hint == (uintptr_t)b->p)
            r->hint = (uintptr_t)b->p + rounded(b->len);
    }
    b->p = NULL;
}

/* Maps a block and occupies the page right after it, so that it cannot grow
 * in place. */
static void map_with_taken_neighbour(struct run *r, int slot, size_t len, size_t align,
                                     unsigned seed)
{
    do_map(r, slot, len, align, seed);
    if (r->b[slot].p != NULL)
        block_range(r, (uintptr_t)r->b[slot].p + rounded(len), page);
}

static void step(const char *name)
{
    current_step = name;
}

/* Reaches every system-call site of the OS file on Linux. */
static void script(struct run *r)
{
    size_t two_mib = (size_t)1 << 21;
    size_t span = page * (page / sizeof(void *));

    step("map, page-aligned");
    do_map(r, 0, 3 * page, 1, 1);
    step("map, aligned, under the hint");
    do_map(r, 1, page, two_mib, 2);
    step("map, aligned, hint taken: over-allocate and trim");
    block_range(r, pa_place_below(r->hint, 2 * page, two_mib, 0), 2 * page);
    do_map(r, 2, page + 1, two_mib, 3);
    step("shrink");
    do_realloc(r, 0, page, false);
    step("grow in place");
    do_realloc(r, 0, 3 * page - 7, false);
    step("remap that grows in place");
    do_realloc(r, 0, page, true);
    do_realloc(r, 0, 2 * page, true);
    step("remap, page-aligned, moves");
    map_with_taken_neighbour(r, 3, 2 * page, 1, 4);
    do_realloc(r, 3, 8 * page, true);
    step("remap, aligned, moves onto a reservation under the hint");
    map_with_taken_neighbour(r, 4, 2 * page, 65536, 5);
    do_realloc(r, 4, 40 * page, true);
    step("remap, large, hint taken: reserve, trim, move");
    map_with_taken_neighbour(r, 5, span, 1, 6);
    if (r->b[5].p != NULL)
        block_range(r, pa_place_below(r->hint, 2 * span, span, (uintptr_t)r->b[5].p & (span - 1)),
                    page);
    do_realloc(r, 5, 2 * span, true);
    step("remap shrinks");
    do_realloc(r, 5, span / 2, true);
    step("unmap");
    for (int i = 0; i < BLOCKS; i++)
        do_unmap(r, i);
    for (int i = 0; i < r->blockers; i++)
        support_unmap(r->blocker[i], r->blocker_len[i]);
}

/* ---- The walks ----------------------------------------------------------- */

enum { MAX_SITES = 64, MIN_SITES = 19 };
static uintptr_t sites[MAX_SITES];
static int n_sites;

static void note_site(uintptr_t site)
{
    for (int i = 0; i < n_sites; i++)
        if (sites[i] == site)
            return;
    if (n_sites < MAX_SITES)
        sites[n_sites++] = site;
}

static int injected_failures;

/*
 * Runs go(ctx) with calls n .. n + count - 1 failing with err, notes the
 * call site that failed, checks that mapped_bytes came back, and unmaps and
 * counts in *leaked what the run left mapped (listing it when `report`).
 */
static void armed_run(void (*go)(void *), void *ctx, uint64_t n, uint64_t count, int err,
                      bool report, size_t *leaked)
{
    static struct snapshot before;
    size_t mapped = pagealloc_stats().mapped_bytes;
    take_snapshot(&before);
    pa_fault_arm(PA_SYS_KINDS, n, count, err);
    go(ctx);
    pa_fault_disarm();
    uint64_t injected = pa_fault_injected();
    injected_failures += (int)injected;
    if (injected != 0)
        note_site(pa_fault_last_site());
    CHECK(pagealloc_stats().mapped_bytes == mapped);
    *leaked = unmap_new_ranges(&before, report);
}

static void run_script(void *r)
{
    script(r);
}

/* Runs the script with the Nth call (and, if persistent, every later one)
 * failing; returns how many calls the run made. */
static uint64_t run_with_fault(uint64_t n, uint64_t count, int err, size_t *leaked)
{
    bool persistent = count > 1;
    static struct run r;
    memset(&r, 0, sizeof r);
    r.err = err;
    r.persistent = persistent;
    armed_run(run_script, &r, n, count, err,
              !persistent || getenv("PAGEALLOC_TEST_VERBOSE") != NULL, leaked);
    if (getenv("PAGEALLOC_TEST_VERBOSE") != NULL || (!persistent && *leaked != 0))
        fprintf(stderr, "  call %llu of %llu failed with errno %d: %d operations failed (%s), %zu "
                        "bytes left mapped\n",
                (unsigned long long)n, (unsigned long long)pa_fault_seen(), err, r.failed_ops,
                r.failed_step != NULL ? r.failed_step : "none", *leaked);
    return pa_fault_seen();
}

/* Fails call 1, 2, ... of the script in turn (the script's length varies a
 * little from run to run with where the kernel puts things); returns how
 * many runs it took. */
static uint64_t walk(uint64_t limit, uint64_t count, int err, size_t *worst_leak)
{
    uint64_t n = 1;
    for (; n <= limit; n++) {
        size_t leaked = 0;
        uint64_t seen = run_with_fault(n, count, err, &leaked);
        if (seen > limit)
            limit = seen;
        if (leaked > *worst_leak)
            *worst_leak = leaked;
    }
    return n - 1;
}

static uint64_t script_calls;

/* A run without faults: counts the calls and checks the script reached the
 * paths it means to (a usable hint costs one call, a taken one more). */
static void script_runs_cleanly_without_faults(void)
{
    struct snapshot *before = malloc(sizeof *before);
    static struct run r;
    memset(&r, 0, sizeof r);
    take_snapshot(before);
    pa_fault_arm(PA_SYS_KINDS, UINT64_MAX, 1, ENOMEM);
    script(&r);
    pa_fault_disarm();
    CHECK(r.failed_ops == 0 || !support_can_move());
    CHECK(unmap_new_ranges(before, true) == 0);
    script_calls = pa_fault_seen();
    printf("  the script makes %llu system calls\n", (unsigned long long)script_calls);
    CHECK(script_calls >= 20);
    free(before);
}

/* A single failing call, wherever it falls, fails one operation cleanly. */
static void each_single_failure_is_reported_and_leaks_nothing(void)
{
    const int errs[] = {ENOMEM, EAGAIN};
    for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++) {
        size_t leaked = 0;
        uint64_t runs = walk(script_calls, 1, errs[e], &leaked);
        CHECK(leaked == 0);
        printf("  errno %d: failed each of %llu calls in turn\n", errs[e],
               (unsigned long long)runs);
    }
}

/* When every call from the Nth on fails (the system stays out of memory), the
 * operations still fail cleanly and keep the caller's blocks. What is left is
 * address space only (a trim and its clean-up both refused), never memory
 * that was touched. */
static void persistent_failure_fails_cleanly_from_every_call_on(void)
{
    /* The largest reservation the script makes: the large remap's target,
     * 2 spans, over-allocated by a span less a page to be trimmed. */
    size_t span = page * (page / sizeof(void *));
    size_t bound = 3 * span - page;
    size_t worst = 0;
    uint64_t runs = walk(script_calls, 2, ENOMEM, &worst);
    printf("  failed each pair of consecutive calls: %llu runs, at most %zu bytes of address "
           "space left reserved\n",
           (unsigned long long)runs, worst);
    CHECK(runs >= script_calls && worst <= bound);
    worst = 0;
    runs = walk(script_calls, UINT64_MAX, ENOMEM, &worst);
    printf("  failed every call from each of %llu calls on; at most %zu bytes of address space "
           "left reserved\n",
           (unsigned long long)runs, worst);
    CHECK(runs >= script_calls && worst <= bound);
}

static void a_fault_armed_for_one_kind_fails_only_that_kind(void)
{
    unsigned char *p = pagealloc_map(4 * page, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, 4 * page, 9);
    pa_fault_arm(PA_SYS_UNMAP, 1, 1, EBUSY);
    unsigned char *q = pagealloc_map(page, 1);
    CHECK(q != NULL);
    CHECK_ERRNO(pagealloc_realloc(p, 4 * page, 1, page, false) == NULL, EBUSY);
    CHECK(support_has_pattern(p, 4 * page, 9));
    CHECK(pagealloc_realloc(p, 4 * page, 1, page, false) == p);
    pa_fault_disarm();
    CHECK(pa_fault_seen() == 2 && pa_fault_injected() == 1);
    pagealloc_unmap(p, page);
    pagealloc_unmap(q, page);
    CHECK(support_range_unmapped(p, 4 * page));
}

/* ---- A refused move onto a reservation ----------------------------------- */

/* The hole hook plays another thread: it maps the range the library just lost
 * and fills it, as a racing mmap could. */
static void *taken;
static size_t taken_len;

static void take_the_hole(void *addr, size_t len)
{
    if (taken == NULL && support_map_at(addr, len)) {
        taken = addr;
        taken_len = len;
        support_fill(addr, len, 77);
    }
}

/*
 * When mremap onto the reservation fails after the kernel unmapped it, and
 * another thread has mapped the hole, the library must leave that mapping
 * alone: it cannot tell it from its own reservation, so it leaves the range
 * and counts it in unmap_failures.
 */
static void a_refused_move_leaves_the_lost_target_alone(void)
{
    if (!support_can_move())
        return;
    size_t span = page * (page / sizeof(void *));
    const size_t lens[] = {2 * page, span};
    const size_t aligns[] = {65536, 1};
    for (int i = 0; i < 2; i++) {
        struct run r = {0};
        map_with_taken_neighbour(&r, 0, lens[i], aligns[i], 3);
        CHECK(r.b[0].p != NULL);
        if (r.b[0].p == NULL)
            continue;
        uint64_t failures = pagealloc_stats().unmap_failures;
        taken = NULL;
        pa_fault_set_hole_hook(take_the_hole);
        pa_fault_arm(PA_SYS_REMAP, 1, UINT64_MAX, ENOMEM);
        CHECK_ERRNO(pagealloc_realloc(r.b[0].p, lens[i], aligns[i], 20 * lens[i], true) == NULL,
                    ENOMEM);
        pa_fault_disarm();
        pa_fault_set_hole_hook(NULL);
        CHECK(taken != NULL);
        CHECK(support_has_pattern(r.b[0].p, lens[i], 3));
        if (taken != NULL) {
            CHECK(support_range_mapped(taken, taken_len));
            CHECK(support_has_pattern(taken, taken_len, 77));
            CHECK(pagealloc_stats().unmap_failures == failures + 1);
            support_unmap(taken, taken_len);
        }
        pagealloc_unmap(r.b[0].p, lens[i]);
        for (int j = 0; j < r.blockers; j++)
            support_unmap(r.blocker[j], r.blocker_len[j]);
    }
}

/* ---- A move refused part-way ------------------------------------------- */

/*
 * Since Linux 6.17 a same-size mremap onto a fixed address moves a range of
 * several mappings one mapping at a time; refused part-way, it leaves the
 * first ones at the target and fails. The fault model does the same
 * (pa_fault_set_moved_mappings). Such a block must not be moved at all: the
 * growth fails with ENOMEM and every page is where it was, in its state, with
 * its bytes, whatever the kernel.
 */
static void a_block_of_several_mappings_is_never_moved_in_part(void)
{
    if (!support_can_move())
        return;
    unsigned char *p = pagealloc_mapx(4 * page, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_commit(p, 2 * page));
    support_fill(p, 2 * page, 12);
    bool blocked = support_map_at(p + 4 * page, page);
    CHECK(blocked);
    pa_fault_set_moved_mappings(1);
    const uint64_t counts[] = {1, UINT64_MAX};
    for (int i = 0; i < 2; i++) {
        pa_fault_arm(PA_SYS_REMAP, 1, counts[i], ENOMEM);
        CHECK_ERRNO(pagealloc_realloc(p, 4 * page, 1, 16 * page, true) == NULL, ENOMEM);
        pa_fault_disarm();
        /* Touched under the fault handler first (a write check leaves 0xA5). */
        bool whole = support_range_mapped(p, 4 * page) && !support_read_faults(p) &&
                     !support_write_faults(p + page - 1);
        CHECK(whole);
        if (!whole)
            break;
        p[page - 1] = support_pattern(page - 1, 12);
        CHECK(support_has_pattern(p, 2 * page, 12));
        CHECK(support_read_faults(p + 2 * page) && support_read_faults(p + 3 * page));
    }
    pa_fault_set_moved_mappings(0);
    pagealloc_unmap(p, 4 * page);
    if (blocked)
        support_unmap(p + 4 * page, page);
}

/* ---- Page states: reservations, commit, decommit, protect --------------- */

/*
 * A second script for the call sites of reservations and page states, with a
 * block model that records each page's state: 'w' read-write with its
 * pattern, 'r' read-only with its pattern, 'z' read-only zero (a reserved
 * page protected: POSIX commits it), 'n' untouchable (reserved or no access). It runs after the first script, because its first reservation sets
 * the library's "pages may vary" latch for the rest of the process.
 */
enum { STATE_PAGES = 1024 };

struct sblock {
    unsigned char *p;
    size_t pages;
    char st[STATE_PAGES];
    bool hole; /* a failed decommit may have left part of it unmapped */
};

struct srun {
    int err;
    bool persistent;
    struct sblock b[6];
    void *blocker[5];
    int blockers;
    int failed_ops;
};

static bool page_as_recorded(unsigned char *q, char st, size_t off, unsigned seed)
{
    if (st == 'n')
        return support_read_faults(q) && support_write_faults(q);
    bool ok = !support_read_faults(q) && support_write_faults(q) == (st != 'w');
    if (ok && st == 'w')
        q[0] = support_pattern(off, seed);
    for (size_t i = 0; ok && i < page; i++)
        ok = q[i] == (st == 'z' ? 0 : support_pattern(off + i, seed));
    return ok;
}

static bool sblock_as_recorded(const struct sblock *b, unsigned seed)
{
    for (size_t i = 0; i < b->pages; i++)
        if (!page_as_recorded(b->p + i * page, b->st[i], i * page, seed)) {
            if (getenv("PAGEALLOC_TEST_VERBOSE") != NULL)
                fprintf(stderr, "  %s: page %zu is not '%c'\n", current_step, i, b->st[i]);
            return false;
        }
    return true;
}

/* A failed operation reported the injected errno (or ENOMEM, which growth
 * reports when no way of growing is left). */
static void note_state_failure(struct srun *r, bool growth)
{
    CHECK(errno == r->err || (growth && errno == ENOMEM));
    r->failed_ops++;
}

static void s_reserve(struct srun *r, int slot, size_t pages, size_t align)
{
    struct sblock *b = &r->b[slot];
    size_t mapped = pagealloc_stats().mapped_bytes;
    errno = 0;
    b->p = pagealloc_mapx(pages * page, align, PAGEALLOC_RESERVE);
    if (b->p == NULL) {
        note_state_failure(r, false);
        CHECK(pagealloc_stats().mapped_bytes == mapped);
        return;
    }
    b->pages = pages;
    memset(b->st, 'n', sizeof b->st);
    CHECK(sblock_as_recorded(b, 0));
}

/* Commits, protects to read-only or decommits pages [first, first + n). */
static void s_change(struct srun *r, int slot, size_t first, size_t n, char to)
{
    struct sblock *b = &r->b[slot];
    if (b->p == NULL)
        return;
    unsigned char *q = b->p + first * page;
    errno = 0;
    bool ok = to == 'w'   ? pagealloc_commit(q, n * page)
              : to == 'r' ? pagealloc_protect(q, n * page, PAGEALLOC_READ)
                          : pagealloc_decommit(q, n * page);
    if (!ok) {
        note_state_failure(r, false);
    } else {
        for (size_t i = first; i < first + n; i++) {
            unsigned char *pg = b->p + i * page;
            char was = b->st[i];
            b->st[i] = to == 'r' && was == 'n' ? 'z' : to;
            if (to == 'w' && (was == 'n' || was == 'z')) {
                /* Reserved pages read as zero once committed. */
                CHECK(support_all_zero(pg, page));
                for (size_t j = 0; j < page; j++)
                    pg[j] = support_pattern(i * page + j, 0);
            }
        }
    }
    /* A failed decommit may have left the range unmapped: untouchable too. */
    CHECK(sblock_as_recorded(b, 0) ||
          (!ok && to == 'n' && support_read_faults(q) && support_write_faults(q)));
    /* One failed mmap over the range: the exclusive re-take still decommits. */
    CHECK(ok || to != 'n' || r->persistent);
    if (!ok && to == 'n') {
        memset(b->st + first, 'n', n);
        b->hole = true;
    }
}

static void s_grow(struct srun *r, int slot, size_t pages, bool may_move)
{
    struct sblock *b = &r->b[slot];
    if (b->p == NULL)
        return;
    size_t mapped = pagealloc_stats().mapped_bytes;
    errno = 0;
    unsigned char *q = pagealloc_realloc(b->p, b->pages * page, 1, pages * page, may_move);
    if (q == NULL) {
        note_state_failure(r, true);
        CHECK(pagealloc_stats().mapped_bytes == mapped);
        CHECK(sblock_as_recorded(b, 0));
        return;
    }
    CHECK(may_move || q == b->p);
    unsigned char *tail = q + b->pages * page;
    size_t tail_len = (pages - b->pages) * page;
    bool usable = !support_write_faults(tail) && !support_write_faults(tail + tail_len - 1);
    CHECK(usable);
    b->p = q;
    if (!usable) {
        /* Recorded as it is, so the script goes on without touching it. */
        fprintf(stderr, "  %s: the grown pages are not read-write\n", current_step);
        memset(b->st + b->pages, 'n', pages - b->pages);
        b->pages = pages;
        return;
    }
    tail[0] = 0;
    tail[tail_len - 1] = 0;
    CHECK(support_all_zero(tail, tail_len));
    for (size_t i = b->pages; i < pages; i++)
        for (size_t j = 0; j < page; j++)
            q[i * page + j] = support_pattern(i * page + j, 0);
    memset(b->st + b->pages, 'w', pages - b->pages);
    b->pages = pages;
    CHECK(sblock_as_recorded(b, 0));
}

/* Reaches the call sites of mapx(RESERVE), commit, decommit and protect, and
 * of growth once pages may vary (mremap then mprotect; the exact map of the
 * next range for a block of several mappings; the move that opens the
 * target's tail first). */
static void states_script(struct srun *r)
{
    step("reserve, page-aligned");
    s_reserve(r, 0, 8, 1);
    step("reserve, aligned");
    s_reserve(r, 1, 4, 65536);
    step("commit");
    s_change(r, 0, 0, 4, 'w');
    step("protect");
    s_change(r, 0, 1, 1, 'r');
    step("decommit");
    s_change(r, 0, 2, 1, 'n');
    step("grow a block of several mappings in place");
    s_grow(r, 0, 10, false);
    step("grow a reserved block in place");
    s_grow(r, 1, 6, false);
    step("move a reserved block");
    s_reserve(r, 2, 2, 1);
    if (r->b[2].p != NULL && support_map_at(r->b[2].p + 2 * page, page))
        r->blocker[r->blockers++] = r->b[2].p + 2 * page;
    s_grow(r, 2, 8, true);
    step("a block of several mappings does not move");
    s_reserve(r, 3, 4, 1);
    s_change(r, 3, 0, 2, 'w');
    if (r->b[3].p != NULL && support_map_at(r->b[3].p + 4 * page, page))
        r->blocker[r->blockers++] = r->b[3].p + 4 * page;
    s_grow(r, 3, 8, true);
    step("move a block of one read-write mapping with its new size");
    s_reserve(r, 4, 4, 1);
    s_change(r, 4, 0, 4, 'w');
    if (r->b[4].p != NULL && support_map_at(r->b[4].p + 4 * page, page))
        r->blocker[r->blockers++] = r->b[4].p + 4 * page;
    s_grow(r, 4, 8, true);
    step("move a large block of one read-write mapping with its new size");
    size_t huge = pagealloc_huge_page_size(), hp = huge / page;
    if (hp != 0 && 2 * hp <= STATE_PAGES) {
        s_reserve(r, 5, hp, 1);
        s_change(r, 5, 0, hp, 'w');
        if (r->b[5].p != NULL && support_map_at(r->b[5].p + huge, page))
            r->blocker[r->blockers++] = r->b[5].p + huge;
        s_grow(r, 5, 2 * hp, true);
    }
    step("unmap");
    for (int i = 0; i < 6; i++) {
        struct sblock *b = &r->b[i];
        uint64_t failures = pagealloc_stats().unmap_failures;
        if (b->p == NULL)
            continue;
        errno = 0;
        pagealloc_unmap(b->p, b->pages * page);
        if (pagealloc_stats().unmap_failures != failures) {
            /* Refused: the addresses stay held and the caller is told. */
            note_state_failure(r, false);
            CHECK(b->hole || support_range_mapped(b->p, b->pages * page));
            support_unmap(b->p, b->pages * page);
        }
    }
    for (int i = 0; i < r->blockers; i++)
        support_unmap(r->blocker[i], page);
}

static void run_states_script(void *r)
{
    states_script(r);
}

static uint64_t states_run(uint64_t n, uint64_t count, int err, size_t *leaked)
{
    static struct srun r;
    memset(&r, 0, sizeof r);
    r.err = err;
    r.persistent = count > 1;
    armed_run(run_states_script, &r, n, count, err, count == 1, leaked);
    if ((count == 1 && *leaked != 0) || getenv("PAGEALLOC_TEST_VERBOSE") != NULL)
        fprintf(stderr, "  page states: call %llu of %llu failed, %d operations failed\n",
                (unsigned long long)n, (unsigned long long)pa_fault_seen(), r.failed_ops);
    return pa_fault_seen();
}

static void page_state_calls_fail_cleanly_at_every_system_call(void)
{
    size_t leaked = 0;
    uint64_t calls = states_run(UINT64_MAX, 1, ENOMEM, &leaked);
    CHECK(leaked == 0);
    printf("  the page-state script makes %llu system calls\n", (unsigned long long)calls);
    const int errs[] = {ENOMEM, EAGAIN};
    for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++)
        for (uint64_t n = 1; n <= calls; n++) {
            uint64_t seen = states_run(n, 1, errs[e], &leaked);
            CHECK(leaked == 0);
            if (seen > calls)
                calls = seen;
        }
    size_t worst = 0;
    for (uint64_t n = 1; n <= calls; n++) {
        states_run(n, UINT64_MAX, ENOMEM, &leaked);
        if (leaked > worst)
            worst = leaked;
    }
    printf("  failed each call, then every call from each on: at most %zu bytes of address "
           "space left reserved\n",
           worst);
}

/* Once a block may be huge-advised, growth of a block whose pages vary keeps
 * mremap (which carries the advice) and makes the tail read-write after it:
 * the script again, each call failed in turn, to reach those sites. Last: the
 * latch stays set. Where the system has no huge pages the path is unreachable. */
static void page_state_calls_fail_cleanly_once_a_block_was_huge_advised(void)
{
    if (pagealloc_huge_page_size() == 0)
        return;
    pagealloc_unmap(pagealloc_mapx(page, 1, PAGEALLOC_HUGE), page);
    size_t leaked = 0;
    uint64_t calls = states_run(UINT64_MAX, 1, ENOMEM, &leaked);
    CHECK(leaked == 0);
    for (uint64_t n = 1; n <= calls; n++) {
        uint64_t seen = states_run(n, 1, ENOMEM, &leaked);
        CHECK(leaked == 0);
        if (seen > calls)
            calls = seen;
    }
}

int main(void)
{
    page = pagealloc_page_size();
    printf("fault injection\n");
    fflush(stdout);
    RUN(script_runs_cleanly_without_faults);
    RUN(each_single_failure_is_reported_and_leaks_nothing);
    RUN(persistent_failure_fails_cleanly_from_every_call_on);
    RUN(a_fault_armed_for_one_kind_fails_only_that_kind);
    RUN(a_refused_move_leaves_the_lost_target_alone);
    RUN(a_block_of_several_mappings_is_never_moved_in_part);
    /* From here on an injected failure of a move leaves its first mapping
     * moved, as Linux 6.17 does. */
    pa_fault_set_moved_mappings(1);
    RUN(page_state_calls_fail_cleanly_at_every_system_call);
    RUN(page_state_calls_fail_cleanly_once_a_block_was_huge_advised);
    printf("  %d injected failures at %d distinct call sites (code offsets from pagealloc_map:",
           injected_failures, n_sites);
    for (int i = 0; i < n_sites; i++)
        printf(" %+ld", (long)(sites[i] - (uintptr_t)pagealloc_map));
    printf(")\n");
    /* Every site the script can reach on Linux (docs/reliability.md, How it
     * is tested); only qemu-user and valgrind reach the compare-and-unmap of
     * map_exact, and only a system with huge pages the growth that keeps
     * mremap once pages vary. */
    CHECK(n_sites >= MIN_SITES - (pagealloc_huge_page_size() == 0));
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
