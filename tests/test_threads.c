/* Many threads mapping, resizing, moving and unmapping at once. */
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <pthread.h>

enum { THREADS = 8, OPS = 3000, SLOTS = 16 };

struct worker {
    unsigned id;
    unsigned seed;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    size_t page = pagealloc_page_size();
    unsigned char *ptr[SLOTS] = {0};
    size_t len[SLOTS] = {0}, align[SLOTS] = {0};
    for (int op = 0; op < OPS; op++) {
        unsigned r = support_rand(&w->seed);
        int s = (int)(r % SLOTS);
        unsigned tag = (unsigned)s * 31u + w->id;
        if (ptr[s] == NULL) {
            len[s] = 1 + (size_t)(support_rand(&w->seed) % (16 * page));
            align[s] = (size_t)1 << (support_rand(&w->seed) % 18);
            ptr[s] = pagealloc_map(len[s], align[s]);
            if (ptr[s] == NULL && errno == ENOMEM && support_under_qemu())
                continue; /* qemu's hinted mmap: see support.h */
            if (ptr[s] == NULL || !support_aligned(ptr[s], align[s] > page ? align[s] : page)) {
                w->failures++;
                ptr[s] = NULL;
                continue;
            }
            support_fill(ptr[s], len[s], tag);
        } else if (r % 3 == 0) {
            size_t new_len = 1 + (size_t)(support_rand(&w->seed) % (32 * page));
            unsigned char *q = pagealloc_realloc(ptr[s], len[s], align[s], new_len, r % 2 == 0);
            if (q != NULL) {
                size_t keep = len[s] < new_len ? len[s] : new_len;
                if (!support_has_pattern(q, keep, tag) ||
                    !support_aligned(q, align[s] > page ? align[s] : page))
                    w->failures++;
                ptr[s] = q;
                len[s] = new_len;
                support_fill(q, new_len, tag);
            } else if (!support_has_pattern(ptr[s], len[s], tag)) {
                w->failures++;
            }
        } else {
            if (!support_has_pattern(ptr[s], len[s], tag))
                w->failures++;
            pagealloc_unmap(ptr[s], len[s]);
            ptr[s] = NULL;
        }
    }
    for (int s = 0; s < SLOTS; s++)
        pagealloc_unmap(ptr[s], len[s]);
    return NULL;
}

static void many_threads_map_resize_and_unmap_at_once(void)
{
    size_t before = pagealloc_stats().mapped_bytes;
    pthread_t tid[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].id = (unsigned)i;
        w[i].seed = (unsigned)support_seed_for((unsigned)i);
        w[i].failures = 0;
        CHECK(pthread_create(&tid[i], NULL, worker_main, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        CHECK(w[i].failures == 0);
    }
    CHECK(pagealloc_stats().mapped_bytes == before);
    CHECK(pagealloc_stats().unmap_failures == 0);
}

int main(void)
{
    RUN(many_threads_map_resize_and_unmap_at_once);
    return check_done();
}
