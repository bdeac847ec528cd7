/* The checked allocator: every misuse is reported and never reaches the
 * backing allocator, which here records each call it receives and checks
 * that each names one of its blocks with exactly the length and alignment it
 * was last given (any other forwarded call is a mismatch). */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <string.h>

#ifndef _WIN32
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static size_t page;

/* ---- A backing allocator that records its calls ------------------------- */

struct call {
    char op; /* 'a'lloc, 'r'esize, 'm' remap, 'f'ree */
    void *ptr;
    size_t len, align, new_len;
};

struct held {
    void *ptr;
    size_t len, align;
};

static struct recorder {
    struct call log[4096];
    size_t n;
    bool fail_resize;   /* resize and remap fail with ENOMEM */
    bool move_on_remap; /* remap always moves the block (a new one and a copy) */
    struct held live[4096];
    size_t n_live;
    size_t mismatches; /* calls naming no block with exactly that length and alignment */
} rec;

static void record(char op, void *ptr, size_t len, size_t align, size_t new_len)
{
    if (rec.n < sizeof rec.log / sizeof rec.log[0])
        rec.log[rec.n] = (struct call){op, ptr, len, align, new_len};
    rec.n++;
}

/* The recorder's block [ptr, len, align] exactly, or NULL (a mismatch). */
static struct held *held_exactly(void *ptr, size_t len, size_t align)
{
    for (size_t i = 0; i < rec.n_live; i++)
        if (rec.live[i].ptr == ptr && rec.live[i].len == len && rec.live[i].align == align)
            return &rec.live[i];
    rec.mismatches++;
    return NULL;
}

static void *rec_alloc(void *ctx, size_t len, size_t align)
{
    (void)ctx;
    void *p = pagealloc_map(len, align);
    record('a', p, len, align, 0);
    if (p != NULL && rec.n_live < sizeof rec.live / sizeof rec.live[0])
        rec.live[rec.n_live++] = (struct held){p, len, align};
    return p;
}

static bool rec_resize(void *ctx, void *ptr, size_t len, size_t align, size_t new_len)
{
    (void)ctx;
    record('r', ptr, len, align, new_len);
    struct held *h = held_exactly(ptr, len, align);
    if (rec.fail_resize) {
        errno = ENOMEM;
        return false;
    }
    bool done = pagealloc_realloc(ptr, len, align, new_len, false) != NULL;
    if (done && h != NULL)
        h->len = new_len;
    return done;
}

static void *rec_remap(void *ctx, void *ptr, size_t len, size_t align, size_t new_len)
{
    (void)ctx;
    record('m', ptr, len, align, new_len);
    struct held *h = held_exactly(ptr, len, align);
    if (rec.fail_resize) {
        errno = ENOMEM;
        return NULL;
    }
    void *q;
    if (rec.move_on_remap) {
        q = pagealloc_map(new_len, align);
        if (q != NULL) {
            memcpy(q, ptr, len < new_len ? len : new_len);
            pagealloc_unmap(ptr, len);
        }
    } else {
        q = pagealloc_realloc(ptr, len, align, new_len, true);
    }
    if (q != NULL && h != NULL)
        *h = (struct held){q, new_len, align};
    return q;
}

static void rec_free(void *ctx, void *ptr, size_t len, size_t align)
{
    (void)ctx;
    record('f', ptr, len, align, 0);
    struct held *h = held_exactly(ptr, len, align);
    if (h != NULL)
        *h = rec.live[--rec.n_live];
    pagealloc_unmap(ptr, len);
}

static const pagealloc_vtable rec_vtable = {rec_alloc, rec_resize, rec_remap, rec_free};

static bool last_call_is(char op, const void *ptr, size_t len, size_t align)
{
    if (rec.n == 0)
        return false;
    const struct call *k = &rec.log[rec.n - 1];
    return k->op == op && k->ptr == ptr && k->len == len && k->align == align;
}

/* ---- Reports collected -------------------------------------------------- */

static struct {
    size_t n;
    struct pagealloc_misuse last;
    void *stack[PAGEALLOC_CHECK_STACK_DEPTH];
    char call[16];
} seen;

static void collect(void *ctx, const struct pagealloc_misuse *m)
{
    (void)ctx;
    seen.n++;
    seen.last = *m;
    for (size_t i = 0; i < m->stack_depth && i < PAGEALLOC_CHECK_STACK_DEPTH; i++)
        seen.stack[i] = m->stack[i];
    snprintf(seen.call, sizeof seen.call, "%s", m->call);
}

static pagealloc_checked *checker;

/* A checker over the recorder, with both logs empty. */
static pagealloc_allocator fresh(void)
{
    memset(&rec, 0, sizeof rec);
    memset(&seen, 0, sizeof seen);
    pagealloc_allocator backing = {NULL, &rec_vtable};
    checker = pagealloc_checked_create(backing, 0, collect, NULL);
    CHECK(checker != NULL);
    return pagealloc_checked_allocator(checker);
}

/* The one report since `before` was of this kind, naming these values. */
static bool reported(size_t before, enum pagealloc_misuse_kind kind, const char *call,
                     const void *ptr, size_t len, size_t align, size_t block_len,
                     size_t block_align)
{
    const struct pagealloc_misuse *m = &seen.last;
    return seen.n == before + 1 && m->kind == kind && strcmp(seen.call, call) == 0 &&
           m->ptr == ptr && m->len == len && m->alignment == align &&
           m->block_len == block_len && m->block_alignment == block_align;
}

/* ---- Tests -------------------------------------------------------------- */

static void good_calls_pass_through_unchanged(void)
{
    pagealloc_allocator a = fresh();
    unsigned char *p = pagealloc_alloc(a, 3 * page, 64);
    CHECK(p != NULL && last_call_is('a', p, 3 * page, 64));
    support_fill(p, 3 * page, 7);
    CHECK(pagealloc_resize(a, p, 3 * page, 64, page + 1));
    CHECK(last_call_is('r', p, 3 * page, 64) && rec.log[rec.n - 1].new_len == page + 1);
    unsigned char *q = pagealloc_remap(a, p, page + 1, 64, 5 * page);
    CHECK(last_call_is('m', p, page + 1, 64));
    size_t len = q != NULL ? 5 * page : page + 1;
    q = q != NULL ? q : p;
    CHECK(support_has_pattern(q, page + 1, 7));
    pagealloc_free(a, q, len, 64);
    CHECK(last_call_is('f', q, len, 64));
    CHECK(rec.n == 4 && seen.n == 0);
    pagealloc_free(a, NULL, 0, 1); /* as the page allocator: nothing */
    CHECK(rec.n == 4 && seen.n == 0);
    CHECK(pagealloc_checked_destroy(checker) == 0 && seen.n == 0 && rec.mismatches == 0);
}

static void failed_allocations_leave_nothing_behind(void)
{
    pagealloc_allocator a = fresh();
    CHECK_ERRNO(pagealloc_alloc(a, 0, 1) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_alloc(a, page, 3) == NULL, EINVAL);
    CHECK_ERRNO(pagealloc_alloc(a, SIZE_MAX, 1) == NULL, ENOMEM);
    CHECK(pagealloc_checked_destroy(checker) == 0 && seen.n == 0);
}

static void unknown_pointers_are_reported_and_not_passed_on(void)
{
    pagealloc_allocator a = fresh();
    unsigned char *p = pagealloc_alloc(a, 2 * page, 1);
    CHECK(p != NULL);
    support_fill(p, 2 * page, 3);
    size_t calls = rec.n;
    int local;
    pagealloc_free(a, p + page, page, 1); /* inside a block, not its start */
    CHECK(reported(0, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "free", p + page, page, 1, 0, 0));
    pagealloc_free(a, &local, sizeof local, 1);
    CHECK(reported(1, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "free", &local, sizeof local, 1, 0, 0));
    CHECK_ERRNO(!pagealloc_resize(a, p + page, page, 1, 2 * page), EINVAL);
    CHECK(reported(2, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "resize", p + page, page, 1, 0, 0));
    CHECK_ERRNO(pagealloc_remap(a, p + page, page, 1, 2 * page) == NULL, EINVAL);
    CHECK(reported(3, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "remap", p + page, page, 1, 0, 0));
    CHECK_ERRNO(pagealloc_remap(a, NULL, page, 1, 2 * page) == NULL, EINVAL);
    CHECK(seen.n == 5 && seen.last.stack_depth == 0);
    CHECK(rec.n == calls && support_has_pattern(p, 2 * page, 3));
    pagealloc_free(a, p, 2 * page, 1);
    CHECK(seen.n == 5 && last_call_is('f', p, 2 * page, 1));
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

/* NULL is no block: address 0 also marks an empty slot of the table, whose
 * stale length and alignment must not make it one. */
static void a_resize_or_remap_of_null_is_an_unknown_pointer(void)
{
    pagealloc_allocator a = fresh();
    /* A fresh table's empty slots read as length 0, alignment 0. */
    CHECK_ERRNO(!pagealloc_resize(a, NULL, 0, 0, page), EINVAL);
    CHECK(reported(0, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "resize", NULL, 0, 0, 0, 0));
    CHECK_ERRNO(pagealloc_remap(a, NULL, 0, 0, page) == NULL, EINVAL);
    CHECK(reported(1, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "remap", NULL, 0, 0, 0, 0));
    CHECK_ERRNO(pagealloc_remap(a, NULL, page, 1, 2 * page) == NULL, EINVAL);
    CHECK(reported(2, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "remap", NULL, page, 1, 0, 0));
    /* Slots a freed block left: many of them, so that NULL's slot is one. */
    static void *p[150];
    for (int i = 0; i < 150; i++)
        p[i] = pagealloc_alloc(a, page + 10, 1);
    for (int i = 0; i < 150; i++)
        pagealloc_free(a, p[i], page + 10, 1);
    size_t calls = rec.n;
    CHECK_ERRNO(!pagealloc_resize(a, NULL, page + 10, 1, page), EINVAL);
    CHECK(reported(3, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "resize", NULL, page + 10, 1, 0, 0));
    CHECK_ERRNO(pagealloc_remap(a, NULL, page + 10, 1, page) == NULL, EINVAL);
    CHECK(reported(4, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "remap", NULL, page + 10, 1, 0, 0));
    CHECK(rec.n == calls && rec.mismatches == 0); /* the backing saw none of them */
    /* The table is still whole. */
    void *q = pagealloc_alloc(a, page, 1);
    pagealloc_free(a, q, page, 1);
    CHECK(seen.n == 5 && last_call_is('f', q, page, 1));
    CHECK(pagealloc_checked_destroy(checker) == 0 && seen.n == 5);
}

/* Lengths that are not whole pages reach the backing allocator as given, on
 * every path: alloc, resize, remap, free, and the free of a leak. */
static void the_backing_allocator_gets_the_exact_lengths_and_alignments(void)
{
    pagealloc_allocator a = fresh();
    unsigned char *p = pagealloc_alloc(a, 3 * page + 5, 64);
    CHECK(p != NULL && last_call_is('a', p, 3 * page + 5, 64));
    CHECK(pagealloc_resize(a, p, 3 * page + 5, 64, page + 1));
    CHECK(last_call_is('r', p, 3 * page + 5, 64) && rec.log[rec.n - 1].new_len == page + 1);
    CHECK(pagealloc_resize(a, p, page + 1, 64, 2 * page - 3));
    CHECK(last_call_is('r', p, page + 1, 64) && rec.log[rec.n - 1].new_len == 2 * page - 3);
    rec.move_on_remap = true;
    unsigned char *q = pagealloc_remap(a, p, 2 * page - 3, 64, 5 * page - 7);
    CHECK(q != NULL && last_call_is('m', p, 2 * page - 3, 64));
    CHECK(rec.log[rec.n - 1].new_len == 5 * page - 7);
    pagealloc_free(a, q, 5 * page - 7, 64);
    CHECK(last_call_is('f', q, 5 * page - 7, 64));
    unsigned char *leak = pagealloc_alloc(a, 2 * page + 7, 128);
    CHECK(pagealloc_checked_destroy(checker) == 1);
    CHECK(last_call_is('f', leak, 2 * page + 7, 128));
    CHECK(rec.mismatches == 0 && rec.n_live == 0);
}

static void a_second_free_is_a_double_free_naming_the_block(void)
{
    pagealloc_allocator a = fresh();
    void *p = pagealloc_alloc(a, page + 10, 256);
    pagealloc_free(a, p, page + 10, 256);
    size_t calls = rec.n;
    pagealloc_free(a, p, page + 10, 256);
    CHECK(reported(0, PAGEALLOC_MISUSE_DOUBLE_FREE, "free", p, page + 10, 256, page + 10, 256));
    /* Whatever length the second call gives. */
    pagealloc_free(a, p, 1, 1);
    CHECK(reported(1, PAGEALLOC_MISUSE_DOUBLE_FREE, "free", p, 1, 1, page + 10, 256));
    CHECK_ERRNO(!pagealloc_resize(a, p, page + 10, 256, page), EINVAL);
    CHECK(reported(2, PAGEALLOC_MISUSE_DOUBLE_FREE, "resize", p, page + 10, 256, page + 10, 256));
    CHECK_ERRNO(pagealloc_remap(a, p, page + 10, 256, page) == NULL, EINVAL);
    CHECK(reported(3, PAGEALLOC_MISUSE_DOUBLE_FREE, "remap", p, page + 10, 256, page + 10, 256));
    CHECK(rec.n == calls);
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

/* Only the last PAGEALLOC_CHECK_HISTORY frees are remembered (header). Each
 * other block is kept live until its free, so no address repeats. */
static void a_double_free_the_history_forgot_is_an_unknown_pointer(void)
{
    enum { N = PAGEALLOC_CHECK_HISTORY };
    pagealloc_allocator a = fresh();
    static void *others[N];
    void *p = pagealloc_alloc(a, page, 1);
    for (int i = 0; i < N; i++)
        others[i] = pagealloc_alloc(a, page, 1);
    pagealloc_free(a, p, page, 1);
    for (int i = 0; i < N - 1; i++)
        pagealloc_free(a, others[i], page, 1);
    size_t calls = rec.n;
    pagealloc_free(a, p, page, 1); /* still the oldest of the N remembered */
    CHECK(reported(0, PAGEALLOC_MISUSE_DOUBLE_FREE, "free", p, page, 1, page, 1));
    pagealloc_free(a, others[N - 1], page, 1);
    pagealloc_free(a, p, page, 1); /* forgotten now */
    CHECK(reported(1, PAGEALLOC_MISUSE_UNKNOWN_POINTER, "free", p, page, 1, 0, 0));
    CHECK(rec.n == calls + 1 && seen.n == 2);
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

static void wrong_lengths_are_reported_and_the_block_kept(void)
{
    pagealloc_allocator a = fresh();
    unsigned char *p = pagealloc_alloc(a, 2 * page, 1);
    support_fill(p, 2 * page, 5);
    size_t calls = rec.n;
    /* The page allocator would accept these (same page count) or unmap the
     * next block (one page more); the checker wants the exact length. */
    pagealloc_free(a, p, 2 * page - 1, 1);
    CHECK(reported(0, PAGEALLOC_MISUSE_WRONG_LENGTH, "free", p, 2 * page - 1, 1, 2 * page, 1));
    pagealloc_free(a, p, 3 * page, 1);
    CHECK(reported(1, PAGEALLOC_MISUSE_WRONG_LENGTH, "free", p, 3 * page, 1, 2 * page, 1));
    CHECK_ERRNO(!pagealloc_resize(a, p, page, 1, 4 * page), EINVAL);
    CHECK(reported(2, PAGEALLOC_MISUSE_WRONG_LENGTH, "resize", p, page, 1, 2 * page, 1));
    CHECK_ERRNO(pagealloc_remap(a, p, page, 1, 4 * page) == NULL, EINVAL);
    CHECK(reported(3, PAGEALLOC_MISUSE_WRONG_LENGTH, "remap", p, page, 1, 2 * page, 1));
    CHECK(rec.n == calls && support_has_pattern(p, 2 * page, 5));
    CHECK(support_range_mapped(p, 2 * page));
    pagealloc_free(a, p, 2 * page, 1);
    CHECK(seen.n == 4 && last_call_is('f', p, 2 * page, 1));
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

static void wrong_alignments_are_reported_and_the_block_kept(void)
{
    pagealloc_allocator a = fresh();
    size_t big = 16 * page;
    unsigned char *p = pagealloc_alloc(a, page, big);
    support_fill(p, page, 6);
    size_t calls = rec.n;
    pagealloc_free(a, p, page, 1);
    CHECK(reported(0, PAGEALLOC_MISUSE_WRONG_ALIGNMENT, "free", p, page, 1, page, big));
    CHECK_ERRNO(!pagealloc_resize(a, p, page, 2 * big, 2 * page), EINVAL);
    CHECK(reported(1, PAGEALLOC_MISUSE_WRONG_ALIGNMENT, "resize", p, page, 2 * big, page, big));
    CHECK_ERRNO(pagealloc_remap(a, p, page, page, 2 * page) == NULL, EINVAL);
    CHECK(reported(2, PAGEALLOC_MISUSE_WRONG_ALIGNMENT, "remap", p, page, page, page, big));
    /* A wrong length is named first when both are wrong. */
    pagealloc_free(a, p, 2 * page, 1);
    CHECK(reported(3, PAGEALLOC_MISUSE_WRONG_LENGTH, "free", p, 2 * page, 1, page, big));
    CHECK(rec.n == calls && support_has_pattern(p, page, 6));
    pagealloc_free(a, p, page, big);
    CHECK(seen.n == 4 && last_call_is('f', p, page, big));
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

static void a_failed_resize_keeps_the_old_length(void)
{
    pagealloc_allocator a = fresh();
    void *p = pagealloc_alloc(a, page, 1);
    rec.fail_resize = true;
    CHECK_ERRNO(!pagealloc_resize(a, p, page, 1, 2 * page), ENOMEM);
    CHECK_ERRNO(pagealloc_remap(a, p, page, 1, 2 * page) == NULL, ENOMEM);
    rec.fail_resize = false;
    pagealloc_free(a, p, 2 * page, 1);
    CHECK(reported(0, PAGEALLOC_MISUSE_WRONG_LENGTH, "free", p, 2 * page, 1, page, 1));
    pagealloc_free(a, p, page, 1);
    CHECK(seen.n == 1 && last_call_is('f', p, page, 1));
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

/* After a move, the block lives at the new address only: a backing
 * allocator whose remap always moves. */
static void remap_moves_the_block_in_the_table(void)
{
    pagealloc_allocator a = fresh();
    rec.move_on_remap = true;
    unsigned char *p = pagealloc_alloc(a, page + 3, 1);
    support_fill(p, page + 3, 8);
    unsigned char *q = pagealloc_remap(a, p, page + 3, 1, 3 * page);
    CHECK(q != NULL && q != p && last_call_is('m', p, page + 3, 1));
    if (q == NULL)
        return;
    CHECK(support_has_pattern(q, page + 3, 8));
    size_t calls = rec.n;
    pagealloc_free(a, p, page + 3, 1);
    CHECK(reported(0, PAGEALLOC_MISUSE_DOUBLE_FREE, "free", p, page + 3, 1, page + 3, 1));
    CHECK_ERRNO(!pagealloc_resize(a, p, page + 3, 1, page), EINVAL);
    CHECK(reported(1, PAGEALLOC_MISUSE_DOUBLE_FREE, "resize", p, page + 3, 1, page + 3, 1));
    CHECK(rec.n == calls);
    pagealloc_free(a, q, 3 * page, 1);
    CHECK(seen.n == 2 && last_call_is('f', q, 3 * page, 1) && rec.mismatches == 0);
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

/* The same over the page allocator, with the block's growth blocked so that
 * remap must move it where the system can move pages. */
static void a_block_the_page_allocator_moved_is_a_double_free_at_its_old_address(void)
{
    memset(&seen, 0, sizeof seen);
    pagealloc_checked *c = pagealloc_checked_create(pagealloc_page_allocator(), 0, collect, NULL);
    pagealloc_allocator a = pagealloc_checked_allocator(c);
    unsigned char *p = pagealloc_alloc(a, page, 1);
    unsigned char *after = p + page;
    bool mine = support_map_at(after, page);
    CHECK(mine || support_range_mapped(after, page)); /* growth in place is blocked */
    unsigned char *q = pagealloc_remap(a, p, page, 1, 2 * page);
    if (support_can_move()) {
        CHECK(q != NULL && q != p);
    } else if (q == NULL) {
        CHECK(errno == ENOMEM);
        pagealloc_free(a, p, page, 1);
    }
    if (q != NULL && q != p) {
        pagealloc_free(a, p, page, 1);
        CHECK(reported(0, PAGEALLOC_MISUSE_DOUBLE_FREE, "free", p, page, 1, page, 1));
    }
    if (q != NULL)
        pagealloc_free(a, q, 2 * page, 1);
    if (mine)
        support_unmap(after, page);
    CHECK(pagealloc_checked_destroy(c) == 0);
}

static void leaks_are_reported_counted_and_freed_at_destroy(void)
{
    pagealloc_allocator a = fresh();
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = pagealloc_alloc(a, (size_t)(i + 1) * page, 1);
    pagealloc_free(a, p[1], 2 * page, 1);
    size_t calls = rec.n;
    CHECK(pagealloc_checked_destroy(checker) == 2);
    CHECK(seen.n == 2 && seen.last.kind == PAGEALLOC_MISUSE_LEAK);
    CHECK(strcmp(seen.call, "destroy") == 0);
    CHECK(seen.last.ptr == p[0] || seen.last.ptr == p[2]);
    CHECK(seen.last.len == (seen.last.ptr == p[0] ? page : 3 * page));
    CHECK(seen.last.block_len == seen.last.len);
    CHECK(rec.n == calls + 2);
    CHECK(support_range_unmapped(p[0], page) && support_range_unmapped(p[2], 3 * page));
    CHECK(pagealloc_checked_destroy(NULL) == 0);
}

/* Enough blocks to grow the table several times; freed in an order that
 * moves entries inside its probe runs. */
static void many_blocks_are_each_found_again(void)
{
    enum { N = 3000 };
    static void *blocks[N];
    memset(&seen, 0, sizeof seen);
    pagealloc_allocator backing = pagealloc_page_allocator();
    pagealloc_checked *c = pagealloc_checked_create(backing, 0, collect, NULL);
    pagealloc_allocator a = pagealloc_checked_allocator(c);
    /* One backing block carved into N one-byte-apart blocks would do for the
     * table, but the page allocator's real addresses are the usual keys. */
    for (int i = 0; i < N; i++)
        blocks[i] = pagealloc_alloc(a, page, 1);
    for (int i = 0; i < N; i += 2)
        pagealloc_free(a, blocks[i], page, 1);
    for (int i = N - 1; i > 0; i -= 2)
        pagealloc_free(a, blocks[i], page, 1);
    CHECK(seen.n == 0);
    CHECK(pagealloc_checked_destroy(c) == 0);
    CHECK(pagealloc_stats().mapped_bytes == 0);
}

static void options_other_than_none_need_the_page_allocator(void)
{
    pagealloc_allocator backing = {NULL, &rec_vtable};
    CHECK_ERRNO(pagealloc_checked_create(backing, PAGEALLOC_CHECK_GUARD, collect, NULL) == NULL,
                EINVAL);
    CHECK_ERRNO(pagealloc_checked_create(backing, PAGEALLOC_CHECK_QUARANTINE, collect, NULL) ==
                    NULL,
                EINVAL);
    CHECK_ERRNO(pagealloc_checked_create(pagealloc_page_allocator(), 0x100u, collect, NULL) == NULL,
                EINVAL);
}

/* Not inlined, and doing work after the call, so that its return address is
 * in this function. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void *allocate_here(pagealloc_allocator a)
{
    void *p = pagealloc_alloc(a, page, 1);
    if (p != NULL)
        memset(p, 1, 1);
    return p;
}

/* Without options a report names the calling frame of the allocation. */
static void reports_name_where_the_block_was_allocated(void)
{
    pagealloc_allocator a = fresh();
    void *p = allocate_here(a);
    pagealloc_free(a, p, 2 * page, 1);
    uintptr_t from = (uintptr_t)allocate_here;
    CHECK(seen.n == 1 && seen.last.stack_depth == 1);
    CHECK((uintptr_t)seen.stack[0] > from && (uintptr_t)seen.stack[0] < from + 256);
    pagealloc_free(a, p, page, 1);
    CHECK(pagealloc_checked_destroy(checker) == 0);
}

#ifndef _WIN32
/* Runs fn in a child with stderr to a pipe; returns its wait status and
 * what it printed. */
static int in_child(void (*fn)(void), char *out, size_t out_len)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < out_len && (r = read(fds[0], out + n, out_len - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

static void double_free_with_default_report(void)
{
    pagealloc_checked *c = pagealloc_checked_create(pagealloc_page_allocator(), 0, NULL, NULL);
    pagealloc_allocator a = pagealloc_checked_allocator(c);
    void *p = pagealloc_alloc(a, page, 1);
    pagealloc_free(a, p, page, 1);
    pagealloc_free(a, p, page, 1);
}

static void remap_of_null_with_default_report(void)
{
    pagealloc_checked *c = pagealloc_checked_create(pagealloc_page_allocator(), 0, NULL, NULL);
    pagealloc_remap(pagealloc_checked_allocator(c), NULL, 0, 0, page);
}

static void leak_with_default_report(void)
{
    pagealloc_checked *c = pagealloc_checked_create(pagealloc_page_allocator(), 0, NULL, NULL);
    pagealloc_alloc(pagealloc_checked_allocator(c), 3 * page, 1);
    _exit(pagealloc_checked_destroy(c) == 1 ? 0 : 1);
}

static void the_default_report_prints_one_line_and_aborts_but_for_leaks(void)
{
    char out[1024];
    int status = in_child(double_free_with_default_report, out, sizeof out);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strncmp(out, "pagealloc checked: double free: free(0x", 39) == 0);
    CHECK(strstr(out, ", len 4096, alignment 1): the block is 4096 bytes") != NULL || page != 4096);
    /* One line (qemu-user adds its own about the signal). */
    const char *nl = strchr(out, '\n');
    CHECK(nl != NULL && (nl[1] == '\0' || support_under_qemu()));
    fputs(out, stdout); /* the line docs/checked.md shows */
    status = in_child(remap_of_null_with_default_report, out, sizeof out);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    const char *null_line = "pagealloc checked: unknown pointer: remap(0x0, len 0, alignment 0)\n";
    CHECK(strncmp(out, null_line, strlen(null_line)) == 0);
    status = in_child(leak_with_default_report, out, sizeof out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strncmp(out, "pagealloc checked: leak: destroy(0x", 35) == 0);
    CHECK(strchr(out, '\n') == out + strlen(out) - 1);
}
#endif

int main(void)
{
    page = pagealloc_page_size();
    RUN(good_calls_pass_through_unchanged);
    RUN(failed_allocations_leave_nothing_behind);
    RUN(unknown_pointers_are_reported_and_not_passed_on);
    RUN(a_resize_or_remap_of_null_is_an_unknown_pointer);
    RUN(the_backing_allocator_gets_the_exact_lengths_and_alignments);
    RUN(a_second_free_is_a_double_free_naming_the_block);
    RUN(a_double_free_the_history_forgot_is_an_unknown_pointer);
    RUN(wrong_lengths_are_reported_and_the_block_kept);
    RUN(wrong_alignments_are_reported_and_the_block_kept);
    RUN(a_failed_resize_keeps_the_old_length);
    RUN(remap_moves_the_block_in_the_table);
    RUN(a_block_the_page_allocator_moved_is_a_double_free_at_its_old_address);
    RUN(leaks_are_reported_counted_and_freed_at_destroy);
    RUN(many_blocks_are_each_found_again);
    RUN(options_other_than_none_need_the_page_allocator);
    RUN(reports_name_where_the_block_was_allocated);
#ifndef _WIN32
    RUN(the_default_report_prints_one_line_and_aborts_but_for_leaks);
#endif
    CHECK(pagealloc_stats().mapped_bytes == 0);
    return check_done();
}
