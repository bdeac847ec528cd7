/* The checked allocator with GUARD and QUARANTINE when a system call fails:
 * each call of a script fails in turn (fault injection). Every failure must
 * come back as a failed call with the block untouched, the table must stay
 * true (no misuse is reported for the script's good calls), and once the
 * checker is destroyed nothing it mapped is left behind. */
#include "check.h"
#include "fault.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <string.h>

static size_t page;
static int misuses;

static void count(void *ctx, const struct pagealloc_misuse *m)
{
    (void)ctx;
    (void)m;
    misuses++;
}

struct slot {
    unsigned char *p;
    size_t len;
};

/* Resizes s to new_len (resize, or remap when move), checking either outcome. */
static void change(pagealloc_allocator a, struct slot *s, size_t new_len, bool move,
                   unsigned seed)
{
    if (s->p == NULL)
        return;
    unsigned char *q = move ? pagealloc_remap(a, s->p, s->len, 1, new_len)
                            : (pagealloc_resize(a, s->p, s->len, 1, new_len) ? s->p : NULL);
    size_t keep = s->len < new_len ? s->len : new_len;
    if (q == NULL) {
        CHECK(errno == ENOMEM || errno == EAGAIN);
        CHECK(support_has_pattern(s->p, s->len, seed)); /* untouched */
        return;
    }
    CHECK(support_has_pattern(q, keep, seed));
    CHECK(support_all_zero(q + keep, new_len - keep));
    s->p = q;
    s->len = new_len;
    support_fill(q, new_len, seed);
}

static void script(pagealloc_allocator a)
{
    struct slot s[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    size_t lens[3] = {3 * page, page + 1, 2 * page};
    for (unsigned i = 0; i < 3; i++) {
        s[i].p = pagealloc_alloc(a, lens[i], 1);
        CHECK(s[i].p != NULL || errno == ENOMEM || errno == EAGAIN);
        s[i].len = lens[i];
        if (s[i].p != NULL)
            support_fill(s[i].p, s[i].len, i);
    }
    change(a, &s[0], 5 * page, false, 0);  /* commit within the room */
    change(a, &s[0], 2 * page, false, 0);  /* decommit the tail */
    change(a, &s[1], 40 * page, true, 1);  /* past the room: a move */
    pagealloc_free(a, s[2].p, s[2].len, 1); /* into the quarantine */
    change(a, &s[0], 64 * page, true, 0);
    for (unsigned i = 0; i < 2; i++)
        pagealloc_free(a, s[i].p, s[i].len, 1);
}

static uint64_t run(uint64_t n, uint64_t failures, int err)
{
    size_t base = pagealloc_stats().mapped_bytes, mapped = support_mapped_bytes();
    uint64_t refused = pagealloc_stats().unmap_failures;
    misuses = 0;
    pagealloc_checked *c = pagealloc_checked_create(
        pagealloc_page_allocator(), PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE, count, NULL);
    CHECK(c != NULL);
    if (c == NULL)
        return 0;
    pa_fault_arm(PA_SYS_KINDS, n, failures, err);
    script(pagealloc_checked_allocator(c));
    pa_fault_disarm();
    uint64_t seen = pa_fault_seen();
    CHECK(misuses == 0);
    CHECK(pagealloc_checked_destroy(c) == 0);
    /* After one failure the checker is sure of every range it holds, and
     * gives all back; a refused munmap keeps its addresses. Under repeated
     * failures a decommit may leave a range in doubt, which is leaked. */
    if (failures == 1) {
        CHECK(pagealloc_stats().mapped_bytes == base);
        if (pagealloc_stats().unmap_failures == refused)
            CHECK(support_mapped_bytes() == mapped);
    }
    return seen;
}

static void each_failed_call_fails_cleanly_and_leaves_nothing(void)
{
    /* The first read may map the C library's buffers, and the first checker
     * loads the stack unwinder (glibc's backtrace loads libgcc_s). */
    pagealloc_checked_destroy(pagealloc_checked_create(pagealloc_page_allocator(), 0, NULL, NULL));
    support_mapped_bytes();
    uint64_t calls = run(UINT64_MAX, 1, ENOMEM);
    CHECK(calls > 10);
    for (uint64_t n = 1; n <= calls; n++) {
        int before = check_failures;
        run(n, 1, ENOMEM);
        if (check_failures != before)
            fprintf(stderr, "  ... with call %llu of %llu failing\n", (unsigned long long)n,
                    (unsigned long long)calls);
    }
}

static void every_call_failing_from_one_on_fails_cleanly(void)
{
    uint64_t calls = run(UINT64_MAX, 1, ENOMEM);
    for (uint64_t n = 1; n <= calls; n += 3)
        run(n, UINT64_MAX, ENOMEM);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(each_failed_call_fails_cleanly_and_leaves_nothing);
    RUN(every_call_failing_from_one_on_fails_cleanly);
    return check_done();
}
