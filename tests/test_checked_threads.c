/* Many threads allocating, resizing, moving and freeing through one checked
 * allocator at once, each also making misuses that can never be mistaken for
 * another thread's good call: every one is reported, no good call is. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

enum { THREADS = 8, SLOTS = 16 };

static pagealloc_allocator a;
static _Atomic int reports[PAGEALLOC_MISUSE_LEAK + 1];

static void count(void *ctx, const struct pagealloc_misuse *m)
{
    (void)ctx;
    atomic_fetch_add(&reports[m->kind], 1);
}

struct worker {
    int ops;
    unsigned id, seed;
    int failures, wrong_lengths, unknown_pointers;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    size_t page = pagealloc_page_size();
    unsigned char *ptr[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    for (int op = 0; op < w->ops; op++) {
        unsigned r = support_rand(&w->seed);
        int s = (int)(r % SLOTS);
        unsigned tag = (unsigned)s * 31u + w->id;
        if (ptr[s] == NULL) {
            len[s] = 1 + (size_t)(support_rand(&w->seed) % (8 * page));
            ptr[s] = pagealloc_alloc(a, len[s], 1);
            if (ptr[s] == NULL) {
                if (errno != ENOMEM || !support_under_qemu())
                    w->failures++; /* else qemu's hinted mmap: see support.h */
                continue;
            }
            support_fill(ptr[s], len[s], tag);
        } else if (r % 5 == 0) {
            /* Misuses of this thread's own live block. */
            pagealloc_free(a, ptr[s], len[s] + 1, 1);
            pagealloc_free(a, ptr[s] + 1, len[s], 1);
            w->wrong_lengths++;
            w->unknown_pointers++;
        } else if (r % 5 == 1) {
            size_t new_len = 1 + (size_t)(support_rand(&w->seed) % (16 * page));
            unsigned char *q = pagealloc_remap(a, ptr[s], len[s], 1, new_len);
            if (q == NULL && !pagealloc_resize(a, ptr[s], len[s], 1, new_len))
                continue;
            q = q != NULL ? q : ptr[s];
            size_t keep = len[s] < new_len ? len[s] : new_len;
            if (!support_has_pattern(q, keep, tag))
                w->failures++;
            ptr[s] = q;
            len[s] = new_len;
            support_fill(q, new_len, tag);
        } else {
            if (!support_has_pattern(ptr[s], len[s], tag))
                w->failures++;
            pagealloc_free(a, ptr[s], len[s], 1);
            ptr[s] = NULL;
        }
    }
    for (int s = 0; s < SLOTS; s++)
        pagealloc_free(a, ptr[s], len[s], 1);
    return NULL;
}

/* ops calls per thread. */
static void share_one_checker(unsigned options, int ops)
{
    for (int k = 0; k <= PAGEALLOC_MISUSE_LEAK; k++)
        atomic_store(&reports[k], 0);
    pagealloc_checked *c =
        pagealloc_checked_create(pagealloc_page_allocator(), options, count, NULL);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    a = pagealloc_checked_allocator(c);
    pthread_t tid[THREADS];
    struct worker w[THREADS] = {{0}};
    for (int i = 0; i < THREADS; i++) {
        w[i].id = (unsigned)i;
        w[i].ops = ops;
        w[i].seed = (unsigned)support_seed_for((unsigned)i);
        CHECK(pthread_create(&tid[i], NULL, worker_main, &w[i]) == 0);
    }
    int wrong_lengths = 0, unknown_pointers = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        CHECK(w[i].failures == 0);
        wrong_lengths += w[i].wrong_lengths;
        unknown_pointers += w[i].unknown_pointers;
    }
    CHECK(wrong_lengths > 0);
    CHECK(atomic_load(&reports[PAGEALLOC_MISUSE_WRONG_LENGTH]) == wrong_lengths);
    CHECK(atomic_load(&reports[PAGEALLOC_MISUSE_UNKNOWN_POINTER]) == unknown_pointers);
    CHECK(atomic_load(&reports[PAGEALLOC_MISUSE_DOUBLE_FREE]) == 0);
    CHECK(atomic_load(&reports[PAGEALLOC_MISUSE_WRONG_ALIGNMENT]) == 0);
    CHECK(pagealloc_checked_destroy(c) == 0);
    CHECK(pagealloc_stats().mapped_bytes == 0);
}

static void many_threads_share_one_checker_and_each_misuse_is_reported(void)
{
    share_one_checker(0, 2000);
}

/* With the options, remap's copies and the quarantine's evictions run in
 * many threads at once too (fewer calls: each walks the stack and copies). */
static void many_threads_share_one_guarded_or_quarantining_checker(void)
{
    share_one_checker(PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE, 500);
    share_one_checker(PAGEALLOC_CHECK_QUARANTINE, 500);
}

int main(void)
{
    RUN(many_threads_share_one_checker_and_each_misuse_is_reported);
    RUN(many_threads_share_one_guarded_or_quarantining_checker);
    return check_done();
}
