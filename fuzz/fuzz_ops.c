/*
 * A libFuzzer target with a shadow model: each input is a sequence of
 * operations (map or reserve, unmap, realloc in place or moving, the vtable's
 * resize and remap, commit, decommit and protect of a run of pages, calls
 * with bad arguments, a neighbour page taken to force a move) on a few
 * blocks. The model knows each block's length, alignment and pattern, and the
 * state of each of its pages (read-write, read-only, no access, reserved) and
 * whether its bytes are the pattern or zero; after every step the target
 * checks alignment, that kept bytes are kept, that new and recommitted pages
 * read as zero, that each page's access is the model's (by touching it under
 * a fault handler), that in-place results keep the address, and that bad
 * calls fail with the documented errno. At the end of each input everything is freed and /proc/self/maps
 * must show none of the ranges the blocks ever occupied.
 *
 * A few more slots hold blocks of one checked allocator per input (over the
 * page allocator, with no option, GUARD, QUARANTINE or both, chosen by the
 * input), driven with good calls and misuses alike: a wrong length or
 * alignment, a pointer inside a block or on the stack, NULL, a block freed
 * or moved already. The shadow knows the checker's live blocks and every free
 * and move, so it predicts which calls are misuses, the report each gets
 * (kind, values, block), that nothing else happens to the block, and for
 * good calls the result: in place or moved, refused only where the contract
 * allows, guard pages around each guarded block, freed and moved ranges held
 * no-access by the quarantine. Leaks left at the end are counted by destroy.
 */
#define _GNU_SOURCE
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { SLOTS = 6, CSLOTS = 4, MAX_STEPS = 64, MAX_RANGES = 4 * MAX_STEPS, MAX_PAGES = 1024 };
enum { MAX_BLOCK_PAGES = MAX_PAGES + 2 };

/* A page's access in the model, and what its bytes are. */
enum access { RW, RO, NONE, RESERVED };
enum content { PATTERN, ZERO, UNKNOWN };

struct block {
    unsigned char *p;
    size_t len;
    size_t align;
    unsigned seed;
    size_t valid;  /* bytes [0, valid) hold the pattern where content says so */
    bool varied;   /* some page was ever not read-write, or it moved once pages
                      may vary where the system cannot describe a mapping
                      (Linux before 6.11, qemu-user: the moved pages and the new
                      tail are then two mappings, and a block of several never
                      moves again); a block of one read-write mapping moves
                      whole where it can (PROCMAP_QUERY) */
    unsigned char access[MAX_BLOCK_PAGES];
    unsigned char content[MAX_BLOCK_PAGES];
};

/* The library's process-wide latch (pa_pages_may_vary): set by the first
 * reservation, decommit or protect, the checker's options' included. */
static bool pages_may_vary;

/* Whether a move now leaves a block of read-write pages two mappings: once
 * pages may vary, where the library cannot ask the system what the block is. */
static bool moves_apart(void)
{
    static int described = -1;
    if (described < 0)
        described = support_mappings_described();
    return pages_may_vary && !described;
}

struct range {
    unsigned char *p;
    size_t len;
};

static size_t page;
static struct block blocks[SLOTS + CSLOTS]; /* the last CSLOTS: the checker's */
static struct range seen[MAX_RANGES]; /* every range a block occupied */
static size_t n_seen;
static struct range taken[SLOTS + CSLOTS]; /* pages taken outside the library */

/* Reads the input a byte at a time; zeros once it runs out. */
struct input {
    const uint8_t *data;
    size_t size;
};

static unsigned byte(struct input *in)
{
    if (in->size == 0)
        return 0;
    in->size--;
    return *in->data++;
}

/* The byte loops that fill and check blocks are most of the work; tracing
 * their comparisons would only slow the fuzzer down. */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage", "address"), noinline))
#else
#define NO_COVERAGE
#endif

/* The pattern is made of 8-byte words, each a hash of its index and the
 * block's seed, written and compared with memcpy (the same on any byte
 * order): a byte at a time was most of the fuzzer's time. */
NO_COVERAGE static uint64_t pattern_word(size_t k, unsigned seed)
{
    uint64_t x = ((uint64_t)k + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)seed * 0xbf58476d1ce4e5b9ull;
    return x ^ x >> 29;
}

/* Writes (or, with check, compares) bytes [from, to) of the pattern. */
NO_COVERAGE static bool pattern_range(unsigned char *p, size_t from, size_t to, unsigned seed,
                                      bool check)
{
    while (from < to) {
        size_t k = from / 8, skip = from % 8;
        size_t n = to - from < 8 - skip ? to - from : 8 - skip;
        unsigned char bytes[8];
        uint64_t w = pattern_word(k, seed);
        if (n == 8) {
            /* A whole word: one load or store (constant-size memcpy). */
            uint64_t cur;
            memcpy(&cur, p + from, 8);
            if (check && cur != w)
                return false;
            if (!check)
                memcpy(p + from, &w, 8);
            from += 8;
            continue;
        }
        memcpy(bytes, &w, 8);
        if (check) {
            if (memcmp(p + from, bytes + skip, n) != 0)
                return false;
        } else {
            memcpy(p + from, bytes + skip, n);
        }
        from += n;
    }
    return true;
}

static void pattern_fill(unsigned char *p, size_t from, size_t to, unsigned seed)
{
    pattern_range(p, from, to, seed, false);
}

NO_COVERAGE static bool all_zero(const unsigned char *p, size_t len)
{
    uint64_t any = 0, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        any |= w;
    }
    for (; i < len; i++)
        any |= p[i];
    return any == 0;
}

/* After each step, mincore (one system call) says whether pages are mapped:
 * reading /proc/self/maps each time would make the target ten times slower.
 * /proc/self/maps is read once per input, at the end. */
static bool range_mapped(void *p, size_t len)
{
    static unsigned char vec[MAX_PAGES + 2];
    size_t n = 0;
    for (size_t off = 0; off < len; off += n * page) {
        n = (len - off) / page < MAX_PAGES ? (len - off) / page : MAX_PAGES;
        if (mincore((char *)p + off, n * page, vec) != 0)
            return false;
    }
    return true;
}

static bool range_unmapped(void *p, size_t len)
{
    unsigned char v;
    for (size_t off = 0; off < len; off += page)
        if (mincore((char *)p + off, page, &v) == 0 || errno != ENOMEM)
            return false;
    return true;
}

/* True when no range in seen[] overlaps a mapping in /proc/self/maps. */
static bool none_left_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return false;
    char line[512];
    bool clean = true;
    unsigned long long lo, hi;
    while (clean && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%llx-%llx", &lo, &hi) != 2)
            continue;
        for (size_t i = 0; i < n_seen; i++)
            if ((uintptr_t)lo < (uintptr_t)seen[i].p + seen[i].len &&
                (uintptr_t)hi > (uintptr_t)seen[i].p) {
                fprintf(stderr, "fuzz_ops: %llx-%llx overlaps a freed block at %p\n", lo, hi,
                        (void *)seen[i].p);
                clean = false;
            }
    }
    fclose(f);
    return clean;
}

static void fail(const char *what, size_t slot)
{
    fprintf(stderr, "fuzz_ops: %s (slot %zu: %p len %zu align %zu)\n", what, slot,
            (void *)blocks[slot].p, blocks[slot].len, blocks[slot].align);
    abort();
}

static void expect(bool ok, const char *what, size_t slot)
{
    if (!ok)
        fail(what, slot);
}

static size_t rounded(size_t len)
{
    return (len + page - 1) / page * page;
}

static size_t effective(size_t align)
{
    return align > page ? align : page;
}

/* Lengths from one byte to MAX_PAGES pages (4 MiB with 4 KiB pages, enough
 * for the page-table-span path), biased towards page boundaries. */
static size_t read_len(struct input *in)
{
    unsigned a = byte(in), b = byte(in), c = byte(in);
    /* Mostly up to 32 pages; 1 in 16 up to MAX_PAGES. */
    size_t pages = b >= 240 ? ((size_t)a << 4 | (b & 15)) % MAX_PAGES : a % 32;
    switch (c % 4) {
    case 0: return pages * page + 1 + c % page;  /* just past a boundary */
    case 1: return pages * page + page;          /* a whole number of pages */
    case 2: return pages * page + page - c % 8;  /* just before one */
    default: return 1 + (size_t)c * 37 % (4 * page);
    }
}

static size_t read_align(struct input *in)
{
    return (size_t)1 << (byte(in) % 24);
}

static void note_range(unsigned char *p, size_t len)
{
    if (n_seen < MAX_RANGES) {
        seen[n_seen].p = p;
        seen[n_seen].len = rounded(len);
        n_seen++;
    }
}

static size_t pages_of(size_t len)
{
    return rounded(len) / page;
}

/* Writes the pattern over [from, len) on read-write pages; bytes on other
 * pages in that range are no longer known. */
static void fill_from(struct block *b, size_t from)
{
    for (size_t i = from / page; i < pages_of(b->len); i++) {
        size_t lo = i * page > from ? i * page : from;
        size_t hi = (i + 1) * page < b->len ? (i + 1) * page : b->len;
        if (b->access[i] == RW) {
            pattern_fill(b->p, lo, hi, b->seed);
            b->content[i] = PATTERN;
        } else if (b->access[i] != RESERVED) {
            b->content[i] = UNKNOWN;
        }
    }
    b->valid = b->len;
}

/* Readable pages hold what the model says, up to `valid`. */
static void check_contents(size_t slot)
{
    struct block *b = &blocks[slot];
    for (size_t i = 0; i < pages_of(b->valid); i++) {
        if (b->access[i] == NONE || b->access[i] == RESERVED)
            continue;
        size_t hi = (i + 1) * page < b->valid ? (i + 1) * page : b->valid;
        if (b->content[i] == PATTERN)
            expect(pattern_range(b->p, i * page, hi, b->seed, true), "pattern lost", slot);
        else if (b->content[i] == ZERO)
            expect(all_zero(b->p + i * page, page), "zero page not zero", slot);
    }
}

/* Each page of [first, first + n) faults exactly as its access says. */
static void check_access(size_t slot, size_t first, size_t n)
{
    struct block *b = &blocks[slot];
    for (size_t i = first; i < first + n; i++) {
        unsigned char *q = b->p + i * page;
        bool readable = b->access[i] == RW || b->access[i] == RO;
        expect(support_read_faults(q) != readable, "read access is not the model's", slot);
        if (b->access[i] == RW) {
            unsigned char old = q[0];
            expect(!support_write_faults(q), "read-write page refused a write", slot);
            q[0] = old;
        } else {
            expect(support_write_faults(q), "write to a page without write access", slot);
        }
    }
}

/* Zero read-write pages get the pattern, so the model keeps checking them. */
static void refresh(struct block *b, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++)
        if (b->access[i] == RW && b->content[i] != PATTERN) {
            size_t hi = (i + 1) * page < b->len ? (i + 1) * page : b->len;
            pattern_fill(b->p, i * page, hi, b->seed);
            b->content[i] = PATTERN;
        }
}

/* A block from map, or with `reserve` from mapx(PAGEALLOC_RESERVE). */
static void do_map(struct input *in, size_t slot, bool reserve)
{
    struct block *b = &blocks[slot];
    size_t len = read_len(in), align = read_align(in);
    size_t mapped = pagealloc_stats().mapped_bytes;
    unsigned char *p = reserve ? pagealloc_mapx(len, align, PAGEALLOC_RESERVE)
                               : pagealloc_map(len, align);
    expect(p != NULL, "map failed", slot);
    expect(support_aligned(p, effective(align)), "map misaligned", slot);
    expect(pagealloc_stats().mapped_bytes == mapped + rounded(len), "map not counted", slot);
    b->p = p;
    b->len = len;
    b->align = align;
    b->seed = byte(in);
    b->varied = reserve;
    pages_may_vary = pages_may_vary || reserve;
    memset(b->access, reserve ? RESERVED : RW, sizeof b->access);
    memset(b->content, ZERO, sizeof b->content);
    note_range(p, len);
    if (reserve) {
        check_access(slot, 0, pages_of(len) < 4 ? pages_of(len) : 4);
        b->valid = len;
        return;
    }
    expect(all_zero(p, rounded(len)), "new block not zero", slot);
    fill_from(b, 0);
}

static void release_taken(size_t slot)
{
    if (taken[slot].p != NULL)
        munmap(taken[slot].p, taken[slot].len);
    taken[slot].p = NULL;
}

/* Occupies the page right after the block so that it cannot grow in place. */
static void take_neighbour(size_t slot)
{
    struct block *b = &blocks[slot];
    release_taken(slot);
    unsigned char *next = b->p + rounded(b->len);
    void *q = mmap(next, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (q != MAP_FAILED && q != next)
        munmap(q, page);
    if (q == next) {
        taken[slot].p = next;
        taken[slot].len = page;
    }
}

/* kind: 0 realloc in place, 1 realloc that may move, 2 vtable resize,
 * 3 vtable remap. */
static void do_resize(struct input *in, size_t slot, unsigned kind)
{
    struct block *b = &blocks[slot];
    size_t new_len = read_len(in);
    bool may_move = kind == 1 || kind == 3;
    pagealloc_allocator a = pagealloc_page_allocator();
    size_t mapped = pagealloc_stats().mapped_bytes;
    unsigned char *q;
    errno = 0;
    switch (kind) {
    case 0: q = pagealloc_realloc(b->p, b->len, b->align, new_len, false); break;
    case 1: q = pagealloc_realloc(b->p, b->len, b->align, new_len, true); break;
    case 2: q = pagealloc_resize(a, b->p, b->len, b->align, new_len) ? b->p : NULL; break;
    default: q = pagealloc_remap(a, b->p, b->len, b->align, new_len); break;
    }
    if (q == NULL) {
        /* Only growth can be refused, and only when it cannot be done without
         * copying; the block must be untouched. */
        expect(rounded(new_len) > rounded(b->len), "shrink refused", slot);
        expect(kind == 2 || errno == ENOMEM, "refused growth without ENOMEM", slot);
        /* mremap cannot move a block of several mappings (pages that vary). */
        expect(!may_move || !support_can_move() || b->varied, "move refused where mremap exists",
               slot);
        expect(pagealloc_stats().mapped_bytes == mapped, "refusal changed the stats", slot);
        expect(range_mapped(b->p, rounded(b->len)), "refused block unmapped", slot);
        check_contents(slot);
        return;
    }
    expect(may_move || q == b->p, "in-place result moved", slot);
    expect(support_aligned(q, effective(b->align)), "result misaligned", slot);
    expect(range_mapped(q, rounded(new_len)), "result not mapped", slot);
    if (rounded(new_len) == rounded(b->len))
        expect(q == b->p, "same page count moved", slot);
    if (q != b->p) {
        expect(range_unmapped(b->p, rounded(b->len)), "old range still mapped", slot);
        note_range(q, new_len);
    } else if (rounded(new_len) < rounded(b->len)) {
        expect(range_unmapped(q + rounded(new_len), rounded(b->len) - rounded(new_len)),
               "shrunk tail still mapped", slot);
    }
    if (rounded(new_len) > rounded(b->len))
        expect(all_zero(q + rounded(b->len), rounded(new_len) - rounded(b->len)),
               "new pages not zero", slot);
    size_t keep = b->valid < new_len ? b->valid : new_len;
    bool moved = q != b->p;
    size_t old_pages = pages_of(b->len);
    b->varied = b->varied || (moved && moves_apart());
    b->p = q;
    b->len = new_len;
    b->valid = keep;
    /* New pages are read-write and zero; old ones keep their state. */
    for (size_t i = old_pages; i < pages_of(new_len); i++) {
        b->access[i] = RW;
        b->content[i] = ZERO;
    }
    if (pages_of(new_len) > old_pages)
        check_access(slot, old_pages, pages_of(new_len) - old_pages);
    check_contents(slot);
    /* Bytes between the old length and the end of its page keep whatever
     * was there; the model writes the pattern over them. */
    fill_from(b, keep);
    if (moved)
        release_taken(slot);
}

static void do_unmap(size_t slot)
{
    struct block *b = &blocks[slot];
    check_contents(slot);
    errno = 0;
    pagealloc_unmap(b->p, b->len);
    expect(errno == 0, "unmap set errno", slot);
    expect(range_unmapped(b->p, rounded(b->len)), "unmapped block still mapped", slot);
    b->p = NULL;
    release_taken(slot);
}

/* commit, decommit or protect of a run of the block's pages. */
static void do_state(struct input *in, size_t slot)
{
    struct block *b = &blocks[slot];
    size_t pages = pages_of(b->len);
    size_t first = byte(in) % pages;
    size_t n = 1 + byte(in) % (pages - first);
    unsigned kind = byte(in) % 6;
    static const unsigned protections[] = {PAGEALLOC_NO_ACCESS, PAGEALLOC_READ,
                                           PAGEALLOC_READ | PAGEALLOC_WRITE,
                                           PAGEALLOC_READ | PAGEALLOC_EXEC};
    unsigned char *q = b->p + first * page;
    errno = 0;
    bool ok = kind == 0   ? pagealloc_commit(q, n * page - (byte(in) % page))
              : kind == 1 ? pagealloc_decommit(q, n * page)
                          : pagealloc_protect(q, n * page, protections[kind - 2]);
    expect(ok, "commit, decommit or protect failed", slot);
    for (size_t i = first; i < first + n; i++) {
        unsigned char *a = &b->access[i], *c = &b->content[i];
        if (kind == 1 || (*a == RESERVED && kind == 2)) {
            /* Decommitted; or reserved pages stay so with no access. */
            *a = RESERVED;
            *c = ZERO;
            continue;
        }
        if (*a == RESERVED)
            *c = ZERO; /* commit, or (POSIX) protect, makes them zero pages */
        *a = kind == 0 || kind == 4 ? RW : kind == 2 ? NONE : RO;
    }
    b->varied = b->varied || kind != 0;
    pages_may_vary = pages_may_vary || kind != 0;
    check_access(slot, first, n);
    check_contents(slot);
    refresh(b, first, n);
}

/* Bad calls fail with the documented errno and change nothing. */
static void do_bad_call(struct input *in, size_t slot)
{
    struct block *b = &blocks[slot];
    size_t huge = SIZE_MAX - (size_t)byte(in);
    unsigned kind = byte(in) % 12;
    void *r = NULL;
    int want = EINVAL;
    errno = 0;
    switch (kind) {
    case 0: r = pagealloc_map(0, 1); break;
    case 1: r = pagealloc_map(page, 3 << (byte(in) % 20)); break;
    case 2: r = pagealloc_map(huge, 1); want = ENOMEM; break;
    case 3: r = pagealloc_map(page, (SIZE_MAX >> 1) + 1); want = ENOMEM; break;
    case 4: r = pagealloc_realloc(NULL, page, 1, page, true); break;
    case 5: r = b->p ? pagealloc_realloc(b->p, b->len, b->align, 0, true) : NULL; break;
    case 6:
        r = b->p ? pagealloc_realloc(b->p, b->len, b->align, huge, true) : NULL;
        want = ENOMEM;
        break;
    case 7: r = b->p ? pagealloc_realloc(b->p, b->len, 5, page, false) : NULL; break;
    case 8: r = pagealloc_mapx(page, 1, 0x8u << (byte(in) % 28)); break;
    case 9: r = pagealloc_commit(NULL, page) ? b->p : NULL; break;
    case 10: r = b->p && pagealloc_decommit(b->p + 1, page) ? b->p : NULL; break;
    default:
        r = b->p && pagealloc_protect(b->p, page, PAGEALLOC_WRITE << (byte(in) % 2)) ? b->p : NULL;
        break;
    }
    expect(r == NULL, "bad call succeeded", slot);
    if (kind < 5 || kind == 8 || kind == 9 || b->p != NULL)
        expect(errno == want, "bad call: wrong errno", slot);
    if (b->p != NULL)
        check_contents(slot);
}

/* ---- The checked allocator ---------------------------------------------- */

static pagealloc_checked *checker;
static unsigned options;
static size_t room_end[SLOTS + CSLOTS]; /* GUARD: how far the block can grow in place */

/* Every block the checker freed or moved away from, oldest first. */
static struct freed {
    unsigned char *p;
    size_t len, align;
} freed[MAX_RANGES];
static size_t n_freed;

/* The reports: how many, and the last one (its call name copied). */
static size_t reports;
static struct pagealloc_misuse last_report;
static char last_call[16];

static void on_report(void *ctx, const struct pagealloc_misuse *m)
{
    (void)ctx;
    reports++;
    last_report = *m;
    snprintf(last_call, sizeof last_call, "%s", m->call);
}

static pagealloc_allocator checked(void)
{
    return pagealloc_checked_allocator(checker);
}

static bool guard_on(void)
{
    return (options & PAGEALLOC_CHECK_GUARD) != 0;
}

static bool quarantine_on(void)
{
    return (options & PAGEALLOC_CHECK_QUARANTINE) != 0;
}

/* The misuse the checker must report for a call naming (p, len, align), or
 * 0 for a good call, with the block the report names: the checker's table
 * first, then its frees and moves, newest first (the history outlasts an
 * input). */
static int predict(const void *p, size_t len, size_t align, size_t *block_len, size_t *block_align)
{
    *block_len = *block_align = 0;
    if (p == NULL)
        return PAGEALLOC_MISUSE_UNKNOWN_POINTER;
    for (size_t s = SLOTS; s < SLOTS + CSLOTS; s++) {
        const struct block *b = &blocks[s];
        if (b->p != p)
            continue;
        *block_len = b->len;
        *block_align = b->align;
        return b->len != len     ? PAGEALLOC_MISUSE_WRONG_LENGTH
               : b->align != align ? PAGEALLOC_MISUSE_WRONG_ALIGNMENT
                                   : 0;
    }
    for (size_t k = n_freed; k-- > 0;)
        if (freed[k].p == p) {
            *block_len = freed[k].len;
            *block_align = freed[k].align;
            return PAGEALLOC_MISUSE_DOUBLE_FREE;
        }
    return PAGEALLOC_MISUSE_UNKNOWN_POINTER;
}

static void note_freed(unsigned char *p, size_t len, size_t align)
{
    if (n_freed < MAX_RANGES)
        freed[n_freed++] = (struct freed){p, len, align};
}

/* A guarded block has a no-access page right before it and right after its
 * last page. */
static void check_guards(size_t slot)
{
    struct block *b = &blocks[slot];
    if (guard_on())
        expect(support_read_faults(b->p - 1) && support_read_faults(b->p + rounded(b->len)),
               "guard page missing", slot);
}

/* A block the checker let go of (freed, or moved away from): held reserved
 * under QUARANTINE, else gone, with its guards. */
static void check_retired(unsigned char *p, size_t len, size_t slot)
{
    if (quarantine_on())
        expect(range_mapped(p, rounded(len)) && support_read_faults(p),
               "retired block not held no-access", slot);
    else if (guard_on())
        expect(range_unmapped(p - page, rounded(len) + 2 * page), "guarded block left mapped",
               slot);
    else
        expect(range_unmapped(p, rounded(len)), "freed block left mapped", slot);
}

/* Records where a new or moved checked block lives (with GUARD, its whole
 * reservation: front guard or alignment unit, block, room, back guard). */
static void note_checked(size_t slot)
{
    struct block *b = &blocks[slot];
    size_t size = rounded(b->len), room = size < ((size_t)64 << 20) ? size : (size_t)64 << 20;
    room_end[slot] = size + room;
    if (guard_on()) {
        size_t front = effective(b->align);
        if (n_seen < MAX_RANGES)
            seen[n_seen++] = (struct range){b->p - front, front + size + room + page};
    } else {
        note_range(b->p, b->len);
    }
}

static void c_alloc(struct input *in, size_t slot)
{
    struct block *b = &blocks[slot];
    size_t len = read_len(in), align = read_align(in), before = reports;
    unsigned char *p = pagealloc_alloc(checked(), len, align);
    expect(p != NULL && reports == before, "checked alloc failed", slot);
    expect(support_aligned(p, effective(align)), "checked alloc misaligned", slot);
    expect(all_zero(p, rounded(len)), "new checked block not zero", slot);
    b->p = p;
    b->len = len;
    b->align = align;
    b->seed = byte(in);
    b->varied = false;
    memset(b->access, RW, sizeof b->access);
    memset(b->content, ZERO, sizeof b->content);
    note_checked(slot);
    fill_from(b, 0);
    check_guards(slot);
}

static void c_free(size_t slot)
{
    struct block *b = &blocks[slot];
    size_t before = reports;
    check_contents(slot);
    pagealloc_free(checked(), b->p, b->len, b->align);
    expect(reports == before, "good free reported", slot);
    check_retired(b->p, b->len, slot);
    note_freed(b->p, b->len, b->align);
    b->p = NULL;
    release_taken(slot);
}

/* Some page of the first `len` bytes cannot be read: a copy must refuse. */
static bool has_unreadable(const struct block *b, size_t len)
{
    for (size_t i = 0; i < pages_of(len); i++)
        if (b->access[i] == NONE || b->access[i] == RESERVED)
            return true;
    return false;
}

/* resize (move false) or remap of a checked block, a good call. */
static void c_resize(struct input *in, size_t slot, bool move)
{
    struct block *b = &blocks[slot];
    size_t new_len = read_len(in), before = reports;
    bool grows = rounded(new_len) > rounded(b->len);
    errno = 0;
    unsigned char *q = move ? pagealloc_remap(checked(), b->p, b->len, b->align, new_len)
                            : pagealloc_resize(checked(), b->p, b->len, b->align, new_len) ? b->p
                                                                                           : NULL;
    expect(reports == before, "good resize or remap reported", slot);
    bool fits = !guard_on() || rounded(new_len) <= room_end[slot];
    if (q == NULL) {
        expect(grows && errno == ENOMEM, "refused without growth or ENOMEM", slot);
        /* GUARD grows in place within its room; with an option remap copies
         * whatever it can read; without, it is the page allocator's remap. */
        expect(!fits || !guard_on(), "guarded growth within the room refused", slot);
        if (move && options != 0)
            expect(has_unreadable(b, b->len), "copy refused a readable block", slot);
        if (move && options == 0)
            expect(!support_can_move() || b->varied, "move refused where mremap exists", slot);
        check_contents(slot);
        check_guards(slot);
        return;
    }
    expect(move || q == b->p, "resize moved", slot);
    expect(!guard_on() || (q == b->p) == fits, "guarded block moved within its room", slot);
    expect(support_aligned(q, effective(b->align)), "checked result misaligned", slot);
    if (rounded(new_len) == rounded(b->len))
        expect(q == b->p, "same page count moved", slot);
    bool moved = q != b->p, copied = moved && options != 0;
    size_t keep = b->valid < new_len ? b->valid : new_len, old_pages = pages_of(b->len);
    if (moved) {
        expect(!options || !has_unreadable(b, b->len), "copied an unreadable page", slot);
        check_retired(b->p, b->len, slot);
        note_freed(b->p, b->len, b->align);
    }
    if (grows)
        expect(all_zero(q + rounded(b->len), rounded(new_len) - rounded(b->len)),
               "new checked pages not zero", slot);
    b->p = q;
    b->len = new_len;
    b->valid = keep;
    /* A copy is all read-write; a move of the page allocator or growth in
     * place keeps the old pages' states, the new ones read-write and zero. */
    for (size_t i = copied ? 0 : old_pages; i < pages_of(new_len); i++) {
        b->access[i] = RW;
        if (i >= old_pages)
            b->content[i] = ZERO;
    }
    if (copied) {
        b->varied = false;
        note_checked(slot);
    } else if (moved) {
        b->varied = b->varied || moves_apart();
        note_range(q, new_len);
    }
    check_access(slot, copied ? 0 : old_pages, pages_of(new_len) - (copied ? 0 : old_pages));
    check_contents(slot);
    check_guards(slot);
    fill_from(b, keep);
    if (moved)
        release_taken(slot);
}

/* One call the checker must report and not pass on; the block named (if
 * any) is untouched. A call the shadow finds good after all (a stale
 * address handed out again with the same length) is not made. */
static void c_misuse(struct input *in, size_t slot)
{
    struct block *b = &blocks[slot];
    unsigned what = byte(in) % 7, call = byte(in) % 3, x = byte(in);
    int local;
    unsigned char *p = b->p;
    size_t len = b->len, align = b->align;
    switch (what) {
    case 0: len += 1 + x; break;
    case 1: len = len > 1 + (size_t)x ? len - 1 - x : len + page; break;
    case 2: align = align < ((size_t)1 << 30) ? align << (1 + x % 3) : 1; break;
    case 3: p += 1 + (size_t)x * 64 % rounded(b->len); break;
    case 4: p = (unsigned char *)&local; break;
    case 5: p = NULL; len = x % 2 ? 0 : len; align = x % 2 ? 0 : align; break;
    default:
        if (n_freed == 0)
            return;
        p = freed[x % n_freed].p;
        len = x & 1 ? freed[x % n_freed].len : len;
        break;
    }
    size_t block_len, block_align, before = reports;
    if (p == NULL && call == 0) {
        pagealloc_free(checked(), NULL, len, align); /* nothing, as the page allocator's */
        expect(reports == before, "free(NULL) reported", slot);
        return;
    }
    int kind = predict(p, len, align, &block_len, &block_align);
    if (kind == 0)
        return;
    static const char *const names[] = {"free", "resize", "remap"};
    errno = 0;
    void *r = NULL;
    switch (call) {
    case 0: pagealloc_free(checked(), p, len, align); break;
    case 1: r = pagealloc_resize(checked(), p, len, align, len + page) ? p : NULL; break;
    default: r = pagealloc_remap(checked(), p, len, align, len + page); break;
    }
    const struct pagealloc_misuse *m = &last_report;
    expect(reports == before + 1, "misuse not reported once", slot);
    expect((int)m->kind == kind && strcmp(last_call, names[call]) == 0, "wrong misuse reported",
           slot);
    expect(m->ptr == p && m->len == len && m->alignment == align, "report names another call",
           slot);
    expect(m->block_len == block_len && m->block_alignment == block_align,
           "report names another block", slot);
    expect(r == NULL && errno == EINVAL, "misuse did not fail with EINVAL", slot);
    check_contents(slot);
    check_guards(slot);
}

/* Good blocks with bad arguments: the errors of the page allocator, and no
 * report. */
static void c_bad_args(struct input *in, size_t slot)
{
    struct block *b = &blocks[slot];
    unsigned kind = byte(in) % 5;
    size_t before = reports;
    errno = 0;
    void *r = NULL;
    int want = EINVAL;
    switch (kind) {
    case 0: r = pagealloc_alloc(checked(), 0, 1); break;
    case 1: r = pagealloc_alloc(checked(), page, 3); break;
    case 2: r = pagealloc_alloc(checked(), SIZE_MAX - page, 1); want = ENOMEM; break;
    case 3: r = pagealloc_remap(checked(), b->p, b->len, b->align, 0); break;
    default:
        r = pagealloc_resize(checked(), b->p, b->len, b->align, SIZE_MAX) ? b->p : NULL;
        want = ENOMEM;
        break;
    }
    expect(r == NULL && errno == want, "checked bad call: wrong result", slot);
    expect(reports == before, "bad argument reported as a misuse", slot);
    check_contents(slot);
}

static void do_checked(struct input *in, unsigned op, size_t slot)
{
    if (checker == NULL) {
        static const unsigned choices[] = {0, PAGEALLOC_CHECK_GUARD, PAGEALLOC_CHECK_QUARANTINE,
                                           PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE};
        options = choices[byte(in) % 4];
        checker = pagealloc_checked_create(pagealloc_page_allocator(), options, on_report, NULL);
        expect(checker != NULL, "checker not created", slot);
        pages_may_vary = pages_may_vary || options != 0;
    }
    if (blocks[slot].p == NULL) {
        c_alloc(in, slot);
        return;
    }
    if (op & 8) {
        do_state(in, slot);
        return;
    }
    switch (op % 8) {
    case 0: c_free(slot); break;
    case 1: take_neighbour(slot); break;
    case 2: c_misuse(in, slot); break;
    case 3: c_resize(in, slot, false); break;
    case 5: c_bad_args(in, slot); break;
    default: c_resize(in, slot, true); break;
    }
}

/* Destroy reports each block still live as a leak and frees it, and the
 * quarantine's blocks. */
static void end_checked(void)
{
    if (checker == NULL)
        return;
    size_t live = 0, before = reports;
    for (size_t s = SLOTS; s < SLOTS + CSLOTS; s++) {
        live += blocks[s].p != NULL;
        blocks[s].p = NULL;
        release_taken(s);
    }
    expect(pagealloc_checked_destroy(checker) == live, "destroy counted other leaks", SLOTS);
    expect(reports == before + live && (live == 0 || last_report.kind == PAGEALLOC_MISUSE_LEAK),
           "leaks not reported", SLOTS);
    checker = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    page = pagealloc_page_size();
    n_seen = 0;
    n_freed = 0;
    expect(pagealloc_stats().mapped_bytes == 0, "bytes mapped before the input", 0);
    for (int step = 0; step < MAX_STEPS && in.size > 0; step++) {
        unsigned op = byte(&in);
        /* The top four bits pick the slot: 12 to 15 the checker's. */
        if ((op >> 4) >= 12) {
            do_checked(&in, op, SLOTS + (op >> 4) - 12);
            continue;
        }
        size_t slot = (op >> 4) % SLOTS;
        if (blocks[slot].p == NULL) {
            do_map(&in, slot, (op & 8) != 0);
            continue;
        }
        if (op & 8) {
            do_state(&in, slot);
            continue;
        }
        switch (op % 8) {
        case 0: do_unmap(slot); break;
        case 1: take_neighbour(slot); break;
        case 2: do_bad_call(&in, slot); break;
        default: do_resize(&in, slot, op % 8 == 7 ? 1 : op % 8 - 3); break;
        }
    }
    for (size_t s = 0; s < SLOTS; s++)
        if (blocks[s].p != NULL)
            do_unmap(s);
    end_checked();
    expect(none_left_mapped(), "range left mapped", 0);
    expect(pagealloc_stats().mapped_bytes == 0, "bytes mapped after the input", 0);
    expect(pagealloc_stats().unmap_failures == 0, "unmap refused", 0);
    return 0;
}
