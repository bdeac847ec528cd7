/*
 * The checked allocator: a client of the public allocator interface that
 * keeps a table of its live blocks and checks every free, resize and remap
 * against it before the backing allocator sees the call. The page allocator
 * has no branch for it.
 */
#include "pagealloc.h"

#include "checked_sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KNOWN_OPTIONS (PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE)
#define TABLE_MIN 256 /* slots in a new table */
#define QUARANTINE_BYTES PAGEALLOC_CHECK_QUARANTINE_BYTES
#define QUARANTINE_BLOCKS PAGEALLOC_CHECK_QUARANTINE_BLOCKS
/* A guarded block's reservation leaves this much room to grow in place, at
 * most (and no more than the block's own length). */
#define GROWTH_ROOM_MAX ((size_t)64 << 20)

/* A block as the caller allocated it. */
struct block {
    uintptr_t addr; /* 0: an empty slot */
    size_t len, align;
    size_t span; /* GUARD: the length of the block's reservation; else 0 */
    bool in_doubt; /* a failed decommit left part of its range unknown */
    size_t depth;
    void *stack[PAGEALLOC_CHECK_STACK_DEPTH];
};

/* A FIFO of freed blocks; pushing onto a full one drops the oldest. */
struct ring {
    struct block *slot;
    size_t cap, head, count; /* head: the oldest */
};

struct pagealloc_checked {
    pagealloc_allocator backing;
    unsigned options;
    void (*report)(void *ctx, const struct pagealloc_misuse *m);
    void *report_ctx;
    size_t self_len; /* this struct and its rings, one mapping */
    pa_lock lock;
    /* Open addressing keyed by address, linear probing; `count` includes
     * blocks taken out while a resize or remap is under way, so that they
     * always fit back. */
    struct block *table;
    size_t cap, count;
    struct ring history;    /* the last PAGEALLOC_CHECK_HISTORY frees */
    struct ring quarantine; /* QUARANTINE: freed blocks, decommitted, oldest first */
    size_t quarantine_bytes;
};

/* ---- The table ---------------------------------------------------------- */

static size_t slot_of(size_t cap, uintptr_t addr)
{
    uint64_t h = (uint64_t)addr * 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 32) & (cap - 1);
}

/* The slot holding addr, or SIZE_MAX. Address 0 marks an empty slot, so
 * that NULL is never found. */
static size_t table_find(const pagealloc_checked *c, uintptr_t addr)
{
    if (addr == 0)
        return SIZE_MAX;
    for (size_t i = slot_of(c->cap, addr);; i = (i + 1) & (c->cap - 1)) {
        if (c->table[i].addr == addr)
            return i;
        if (c->table[i].addr == 0)
            return SIZE_MAX;
    }
}

static void table_put(struct block *table, size_t cap, const struct block *b)
{
    size_t i = slot_of(cap, b->addr);
    while (table[i].addr != 0)
        i = (i + 1) & (cap - 1);
    table[i] = *b;
}

/* Empties slot i, shifting later entries of its probe run back into place. */
static void table_remove(pagealloc_checked *c, size_t i)
{
    size_t mask = c->cap - 1;
    for (size_t j = (i + 1) & mask; c->table[j].addr != 0; j = (j + 1) & mask) {
        size_t home = slot_of(c->cap, c->table[j].addr);
        /* Entry j may move to i only if i lies on its probe path home..j. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            c->table[i] = c->table[j];
            i = j;
        }
    }
    c->table[i].addr = 0;
}

/* Makes room for one more block (load at most 3/4); false with ENOMEM. */
static bool table_reserve(pagealloc_checked *c)
{
    if ((c->count + 1) * 4 <= c->cap * 3) {
        c->count++;
        return true;
    }
    size_t cap = 2 * c->cap;
    if (cap > SIZE_MAX / sizeof(struct block)) {
        errno = ENOMEM;
        return false;
    }
    struct block *table = pagealloc_map(cap * sizeof(struct block), 1);
    if (table == NULL)
        return false;
    for (size_t i = 0; i < c->cap; i++)
        if (c->table[i].addr != 0)
            table_put(table, cap, &c->table[i]);
    pagealloc_unmap(c->table, c->cap * sizeof(struct block));
    c->table = table;
    c->cap = cap;
    c->count++;
    return true;
}

/* ---- Freed blocks ------------------------------------------------------- */

static void ring_push(struct ring *r, const struct block *b)
{
    if (r->count == r->cap) {
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    r->slot[(r->head + r->count) % r->cap] = *b;
    r->count++;
}

static struct block ring_pop(struct ring *r)
{
    struct block b = r->slot[r->head];
    r->head = (r->head + 1) % r->cap;
    r->count--;
    return b;
}

/* The newest freed block at addr, or NULL. */
static const struct block *ring_find(const struct ring *r, uintptr_t addr)
{
    for (size_t k = r->count; k-- > 0;) {
        const struct block *b = &r->slot[(r->head + k) % r->cap];
        if (b->addr == addr)
            return b;
    }
    return NULL;
}

/* ---- Reports ------------------------------------------------------------ */

static const char *kind_name(enum pagealloc_misuse_kind kind)
{
    switch (kind) {
    case PAGEALLOC_MISUSE_UNKNOWN_POINTER:
        return "unknown pointer";
    case PAGEALLOC_MISUSE_DOUBLE_FREE:
        return "double free";
    case PAGEALLOC_MISUSE_WRONG_LENGTH:
        return "wrong length";
    case PAGEALLOC_MISUSE_WRONG_ALIGNMENT:
        return "wrong alignment";
    case PAGEALLOC_MISUSE_LEAK:
        return "leak";
    }
    return "misuse";
}

/* One line on stderr, formatted on the stack (no malloc); aborts but for leaks. */
static void default_report(const struct pagealloc_misuse *m)
{
    char line[512];
    size_t n = 0;
    n += (size_t)snprintf(line, sizeof line,
                          "pagealloc checked: %s: %s(0x%llx, len %llu, alignment %llu)",
                          kind_name(m->kind), m->call, (unsigned long long)(uintptr_t)m->ptr,
                          (unsigned long long)m->len, (unsigned long long)m->alignment);
    if (n < sizeof line && m->block_len != 0)
        n += (size_t)snprintf(line + n, sizeof line - n,
                              ": the block is %llu bytes, alignment %llu",
                              (unsigned long long)m->block_len,
                              (unsigned long long)m->block_alignment);
    if (n < sizeof line && m->stack_depth != 0)
        n += (size_t)snprintf(line + n, sizeof line - n, ", allocated at");
    for (size_t i = 0; i < m->stack_depth && n < sizeof line; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " 0x%llx",
                              (unsigned long long)(uintptr_t)m->stack[i]);
    fprintf(stderr, "%s\n", line);
    if (m->kind != PAGEALLOC_MISUSE_LEAK)
        abort();
}

/* Fills m from the block the call named (b may be NULL: none is known). */
static void describe(struct pagealloc_misuse *m, enum pagealloc_misuse_kind kind,
                     const struct block *b)
{
    m->kind = kind;
    m->block_len = b != NULL ? b->len : 0;
    m->block_alignment = b != NULL ? b->align : 0;
    m->stack = b != NULL ? b->stack : NULL;
    m->stack_depth = b != NULL ? b->depth : 0;
}

static void report(const pagealloc_checked *c, const struct pagealloc_misuse *m)
{
    if (c->report != NULL)
        c->report(c->report_ctx, m);
    else
        default_report(m);
}

/*
 * Takes the live block [ptr, len, alignment] out of the table into *b (its
 * slot stays counted), or reports the misuse and fails with EINVAL.
 */
static bool take(pagealloc_checked *c, void *ptr, size_t len, size_t alignment, const char *call,
                 struct block *b)
{
    struct pagealloc_misuse m = {PAGEALLOC_MISUSE_UNKNOWN_POINTER, ptr, len, alignment, 0, 0,
                                 call, NULL, 0};
    pa_lock_acquire(&c->lock);
    size_t i = table_find(c, (uintptr_t)ptr);
    if (i != SIZE_MAX && c->table[i].len == len && c->table[i].align == alignment) {
        *b = c->table[i];
        table_remove(c, i);
        pa_lock_release(&c->lock);
        return true;
    }
    /* The report gets a copy: the table may change once the lock is let go. */
    const struct block *seen = NULL;
    if (i != SIZE_MAX) {
        seen = &c->table[i];
        describe(&m, seen->len != len ? PAGEALLOC_MISUSE_WRONG_LENGTH
                                      : PAGEALLOC_MISUSE_WRONG_ALIGNMENT, seen);
    } else {
        seen = ring_find(&c->history, (uintptr_t)ptr);
        if (seen == NULL && c->quarantine.cap != 0)
            seen = ring_find(&c->quarantine, (uintptr_t)ptr);
        describe(&m, seen != NULL ? PAGEALLOC_MISUSE_DOUBLE_FREE
                                  : PAGEALLOC_MISUSE_UNKNOWN_POINTER, seen);
    }
    if (seen != NULL) {
        *b = *seen;
        m.stack = b->stack;
    }
    pa_lock_release(&c->lock);
    report(c, &m);
    errno = EINVAL;
    return false;
}

/* Puts a block taken out by `take` back, at its possibly new address. */
static void put_back(pagealloc_checked *c, const struct block *b)
{
    pa_lock_acquire(&c->lock);
    table_put(c->table, c->cap, b);
    pa_lock_release(&c->lock);
}

/* ---- Guard pages and the quarantine ------------------------------------ */

static bool guarded(const pagealloc_checked *c)
{
    return (c->options & PAGEALLOC_CHECK_GUARD) != 0;
}

/* len in whole pages; false on overflow. */
static bool page_round(size_t len, size_t *out)
{
    size_t page = pagealloc_page_size();
    if (len > SIZE_MAX - (page - 1))
        return false;
    *out = (len + page - 1) & ~(page - 1);
    return true;
}

/* Bytes of a guarded block's reservation before the block: a guard page, or
 * a whole alignment unit so that the block keeps its alignment. */
static size_t guard_front(size_t alignment)
{
    size_t page = pagealloc_page_size();
    return alignment > page ? alignment : page;
}

/*
 * A block between no-access pages: one reservation of front guard, block,
 * room to grow and back guard, with only the block's pages committed.
 * Stores the reservation's length in *span.
 */
static void *guard_alloc(size_t len, size_t alignment, size_t *span)
{
    size_t page = pagealloc_page_size(), size;
    if (len == 0 || alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t front = guard_front(alignment);
    if (!page_round(len, &size) || size > SIZE_MAX - front - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t fixed = front + size + page;
    size_t room = size < GROWTH_ROOM_MAX ? size : GROWTH_ROOM_MAX;
    room = room <= SIZE_MAX - fixed ? room : 0;
    unsigned char *base = pagealloc_mapx(fixed + room, front, PAGEALLOC_RESERVE);
    if (base == NULL && room != 0) {
        room = 0; /* a small address space: no room to grow then */
        base = pagealloc_mapx(fixed, front, PAGEALLOC_RESERVE);
    }
    if (base == NULL)
        return NULL;
    if (!pagealloc_commit(base + front, size)) {
        int err = errno;
        pagealloc_unmap(base, fixed + room);
        errno = err;
        return NULL;
    }
    *span = fixed + room;
    return base + front;
}

/*
 * Shrinks a guarded block: its tail becomes no-access first, so the guard
 * holds whatever follows, then gives its memory back. A failed decommit may
 * have left the tail unmapped, and so anyone's: the block is then in
 * doubt, never grows in place again (old bytes could show) and its
 * reservation is never unmapped.
 */
static bool guard_shrink(struct block *b, unsigned char *tail, size_t len)
{
    if (!pagealloc_protect(tail, len, PAGEALLOC_NO_ACCESS)) {
        /* Windows refuses to protect reserved pages (a tail the caller
         * decommitted): the decommit alone makes the tail no-access, and
         * fails changing nothing (one reservation). Any other refusal
         * leaves the block untouched. */
        if (errno != EINVAL || b->in_doubt)
            return false;
        return pagealloc_decommit(tail, len);
    }
    if (!b->in_doubt && !pagealloc_decommit(tail, len))
        b->in_doubt = true;
    return true;
}

/* Resizes a guarded block in place: commits or decommits its tail, keeping
 * one guard page after the end inside the reservation. */
static bool guard_resize(struct block *b, size_t new_len)
{
    size_t page = pagealloc_page_size(), old_size, new_size;
    unsigned char *p = (unsigned char *)b->addr;
    if (new_len == 0) {
        errno = EINVAL;
        return false;
    }
    if (!page_round(b->len, &old_size) || !page_round(new_len, &new_size)) {
        errno = ENOMEM;
        return false;
    }
    if (new_size < old_size)
        return guard_shrink(b, p + new_size, old_size - new_size);
    size_t most = b->span - guard_front(b->align) - page; /* a guard page stays */
    if (new_size > old_size && (b->in_doubt || new_size > most)) {
        errno = ENOMEM;
        return false;
    }
    return new_size == old_size || pagealloc_commit(p + old_size, new_size - old_size);
}

/* Address space a block holds: its reservation, or its pages. */
static size_t footprint(const struct block *b)
{
    size_t size = 0;
    page_round(b->len, &size);
    return b->span != 0 ? b->span : size;
}

/* Frees a block for good; one in doubt is left alone (leaked). */
static void release(const pagealloc_checked *c, const struct block *b)
{
    if (b->in_doubt)
        return;
    if (b->span != 0)
        pagealloc_unmap((void *)(b->addr - guard_front(b->align)), b->span);
    else
        pagealloc_free(c->backing, (void *)b->addr, b->len, b->align);
}

/*
 * Gives up a block the caller no longer has: with QUARANTINE its pages are
 * decommitted and it waits, the oldest leaving past the limits; otherwise it
 * is freed at once.
 */
static void retire(pagealloc_checked *c, const struct block *b)
{
    size_t size;
    /* A block over the whole budget would push every other one out. */
    if (c->quarantine.cap == 0 || b->in_doubt || !page_round(b->len, &size) ||
        footprint(b) > QUARANTINE_BYTES) {
        release(c, b);
        return;
    }
    /* A failed decommit may have left the block unmapped: leave it alone. */
    if (!pagealloc_decommit((void *)b->addr, size))
        return;
    pa_lock_acquire(&c->lock);
    ring_push(&c->quarantine, b);
    c->quarantine_bytes += footprint(b);
    for (;;) {
        /* Popped under the lock, so the ring never holds more than one
         * block over the limit. */
        bool over = c->quarantine.count > QUARANTINE_BLOCKS ||
                    c->quarantine_bytes > QUARANTINE_BYTES;
        struct block old;
        if (over) {
            old = ring_pop(&c->quarantine);
            c->quarantine_bytes -= footprint(&old);
        }
        pa_lock_release(&c->lock);
        if (!over)
            return;
        release(c, &old);
        pa_lock_acquire(&c->lock);
    }
}

/*
 * Grows a block that cannot grow in place by copying it into a new one (a
 * guarded one under GUARD), so that the old range is retired (quarantined)
 * rather than unmapped by the backing allocator's move. A block with a page
 * the caller made reserved or no-access is not moved: ENOMEM, as the page
 * allocator refuses a block it cannot move, and the copy never faults.
 */
static void *move_by_copy(pagealloc_checked *c, struct block *b, size_t new_len)
{
    struct block fresh = *b;
    fresh.len = new_len;
    fresh.in_doubt = false;
    void *q = guarded(c) ? guard_alloc(new_len, b->align, &fresh.span)
                         : pagealloc_alloc(c->backing, new_len, b->align);
    if (q == NULL)
        return NULL;
    fresh.addr = (uintptr_t)q;
    if (!pa_copy_readable(q, (const void *)b->addr, b->len < new_len ? b->len : new_len)) {
        release(c, &fresh);
        errno = ENOMEM;
        return NULL;
    }
    retire(c, b);
    b->span = fresh.span;
    b->in_doubt = false;
    return q;
}

/* ---- The allocator interface -------------------------------------------- */

/*
 * The stack from the frame that called alloc on: the walk starts inside this
 * library, in more frames than one where nothing is inlined (-O0), so it is
 * skipped up to the caller's return address. Where the walk does not show
 * that address, the calling frame alone.
 */
static size_t stack_from(void *caller, void **out)
{
    void *all[PAGEALLOC_CHECK_STACK_DEPTH + 8];
    size_t n = pa_stack_capture(all, sizeof all / sizeof all[0], 0), i = 0;
    while (i < n && all[i] != caller)
        i++;
    if (i == n) {
        out[0] = caller;
        return caller != NULL;
    }
    size_t depth = 0;
    for (; i < n && depth < PAGEALLOC_CHECK_STACK_DEPTH; i++)
        out[depth++] = all[i];
    return depth;
}

static void *checked_alloc(void *ctx, size_t len, size_t alignment)
{
    pagealloc_checked *c = ctx;
    /* The header's wrappers are always inlined, so this is the caller's. */
    void *caller = PA_CALLER();
    struct block b = {0, len, alignment, 0, false, caller != NULL, {caller}};
    /* A stack walk costs more than the mmap + munmap budget allows (about
     * 2 us with glibc's backtrace): the whole stack only where the options
     * already cost system calls, else the calling frame alone. */
    if (c->options != 0)
        b.depth = stack_from(caller, b.stack);
    pa_lock_acquire(&c->lock);
    bool room = table_reserve(c);
    pa_lock_release(&c->lock);
    if (!room)
        return NULL;
    void *p = guarded(c) ? guard_alloc(len, alignment, &b.span)
                         : pagealloc_alloc(c->backing, len, alignment);
    int err = errno;
    b.addr = (uintptr_t)p;
    pa_lock_acquire(&c->lock);
    if (p != NULL)
        table_put(c->table, c->cap, &b);
    else
        c->count--;
    pa_lock_release(&c->lock);
    errno = err;
    return p;
}

static bool checked_resize(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    pagealloc_checked *c = ctx;
    struct block b;
    if (!take(c, ptr, len, alignment, "resize", &b))
        return false;
    bool done = guarded(c) ? guard_resize(&b, new_len)
                           : pagealloc_resize(c->backing, ptr, len, alignment, new_len);
    int err = errno;
    if (done)
        b.len = new_len;
    put_back(c, &b);
    errno = err;
    return done;
}

static void *checked_remap(void *ctx, void *ptr, size_t len, size_t alignment, size_t new_len)
{
    pagealloc_checked *c = ctx;
    struct block b;
    if (!take(c, ptr, len, alignment, "remap", &b))
        return NULL;
    struct block old = b;
    void *q = NULL;
    if (c->options == 0)
        q = pagealloc_remap(c->backing, ptr, len, alignment, new_len);
    else if (guarded(c) ? guard_resize(&b, new_len)
                        : pagealloc_resize(c->backing, ptr, len, alignment, new_len))
        q = ptr;
    else if (errno == ENOMEM && new_len > len)
        q = move_by_copy(c, &b, new_len);
    int err = errno;
    if (q != NULL) {
        b.addr = (uintptr_t)q;
        b.len = new_len;
    }
    pa_lock_acquire(&c->lock);
    table_put(c->table, c->cap, &b);
    /* A free of the old address is then a free of a block already gone. */
    if (q != NULL && q != ptr)
        ring_push(&c->history, &old);
    pa_lock_release(&c->lock);
    errno = err;
    return q;
}

static void checked_free(void *ctx, void *ptr, size_t len, size_t alignment)
{
    pagealloc_checked *c = ctx;
    struct block b;
    if (ptr == NULL || !take(c, ptr, len, alignment, "free", &b))
        return;
    pa_lock_acquire(&c->lock);
    c->count--;
    ring_push(&c->history, &b);
    pa_lock_release(&c->lock);
    retire(c, &b);
}

static const pagealloc_vtable checked_vtable = {checked_alloc, checked_resize, checked_remap,
                                                checked_free};

/* ---- Create and destroy ------------------------------------------------- */

pagealloc_checked *pagealloc_checked_create(pagealloc_allocator backing, unsigned options,
                                            void (*report_fn)(void *ctx,
                                                              const struct pagealloc_misuse *m),
                                            void *report_ctx)
{
    bool on_pages = backing.vtable == pagealloc_page_allocator().vtable;
    if ((options & ~KNOWN_OPTIONS) != 0 || (options != 0 && !on_pages) || backing.vtable == NULL) {
        errno = EINVAL;
        return NULL;
    }
    /* One block more than the limit: retire pushes, then evicts. */
    size_t quarantine_cap = (options & PAGEALLOC_CHECK_QUARANTINE) ? QUARANTINE_BLOCKS + 1 : 0;
    size_t self_len = sizeof(pagealloc_checked) +
                      (PAGEALLOC_CHECK_HISTORY + quarantine_cap) * sizeof(struct block);
    pagealloc_checked *c = pagealloc_map(self_len, 1);
    if (c == NULL)
        return NULL;
    c->table = pagealloc_map(TABLE_MIN * sizeof(struct block), 1);
    if (c->table == NULL) {
        pagealloc_unmap(c, self_len);
        return NULL;
    }
    c->cap = TABLE_MIN;
    c->backing = backing;
    c->options = options;
    c->report = report_fn;
    c->report_ctx = report_ctx;
    c->self_len = self_len;
    c->history.slot = (struct block *)(c + 1);
    c->history.cap = PAGEALLOC_CHECK_HISTORY;
    c->quarantine.slot = c->history.slot + PAGEALLOC_CHECK_HISTORY;
    c->quarantine.cap = quarantine_cap;
    pa_lock_init(&c->lock);
    /* The first stack walk may load the unwinder (and call malloc): here,
     * not inside some later allocation. */
    void *warm[1];
    pa_stack_capture(warm, 1, 0);
    return c;
}

pagealloc_allocator pagealloc_checked_allocator(pagealloc_checked *c)
{
    pagealloc_allocator a = {c, &checked_vtable};
    return a;
}

size_t pagealloc_checked_destroy(pagealloc_checked *c)
{
    if (c == NULL)
        return 0;
    size_t leaks = 0;
    for (size_t i = 0; i < c->cap; i++) {
        struct block *b = &c->table[i];
        if (b->addr == 0)
            continue;
        struct pagealloc_misuse m = {PAGEALLOC_MISUSE_LEAK, (void *)b->addr, b->len, b->align,
                                     b->len, b->align, "destroy", b->stack, b->depth};
        report(c, &m);
        release(c, b);
        leaks++;
    }
    while (c->quarantine.count > 0) {
        struct block old = ring_pop(&c->quarantine);
        release(c, &old);
    }
    pa_lock_destroy(&c->lock);
    pagealloc_unmap(c->table, c->cap * sizeof(struct block));
    pagealloc_unmap(c, c->self_len);
    return leaks;
}
