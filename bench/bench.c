/* make bench: pagealloc against the floor, raw mmap + munmap, as ratios of
 * medians measured in the same run. */
#define _GNU_SOURCE
#include "pagealloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

enum { REPS = 15, ITERS = 200 };

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double raw_alloc_free(size_t len, size_t align)
{
    (void)align;
    double t0 = now_ns();
    for (int i = 0; i < ITERS; i++) {
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 1;
        munmap(p, len);
    }
    return (now_ns() - t0) / ITERS;
}

static double pagealloc_alloc_free(size_t len, size_t align)
{
    double t0 = now_ns();
    for (int i = 0; i < ITERS; i++) {
        char *p = pagealloc_map(len, align);
        p[0] = 1;
        pagealloc_unmap(p, len);
    }
    return (now_ns() - t0) / ITERS;
}

/* Median of REPS runs, alternating with the floor so both see the same machine. */
static void row(const char *name, size_t len, size_t align)
{
    double floor[REPS], ours[REPS];
    raw_alloc_free(len, align);
    pagealloc_alloc_free(len, align);
    struct pagealloc_stats s0 = pagealloc_stats();
    for (int r = 0; r < REPS; r++) {
        floor[r] = raw_alloc_free(len, align);
        ours[r] = pagealloc_alloc_free(len, align);
    }
    struct pagealloc_stats s1 = pagealloc_stats();
    qsort(floor, REPS, sizeof floor[0], cmp_double);
    qsort(ours, REPS, sizeof ours[0], cmp_double);
    double ops = (double)REPS * ITERS;
    printf("| %-28s | %9.0f | %9.0f | %5.2f | %4.2f + %4.2f |\n", name, floor[REPS / 2],
           ours[REPS / 2], ours[REPS / 2] / floor[REPS / 2],
           (double)(s1.map_calls - s0.map_calls) / ops,
           (double)(s1.unmap_calls - s0.unmap_calls) / ops);
}

int main(void)
{
    size_t page = pagealloc_page_size();
    printf("alloc + touch one byte + free; median ns per operation over %d runs of %d\n\n",
           REPS, ITERS);
    printf("| %-28s | %9s | %9s | %5s | %11s |\n", "workload", "mmap+munmap", "pagealloc",
           "ratio", "mmap + munmap per op");
    printf("|------------------------------|-----------|-----------|-------|-------------|\n");
    char name[64];
    const size_t sizes[] = {page, 64 * 1024, 1u << 20, 64u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        snprintf(name, sizeof name, "%zu KiB, page-aligned", sizes[i] >> 10);
        row(name, sizes[i], 1);
    }
    const size_t aligns[] = {64 * 1024, 2u << 20, 64u << 20, 1u << 30};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        snprintf(name, sizeof name, "1 MiB, %zu KiB-aligned", aligns[i] >> 10);
        row(name, 1u << 20, aligns[i]);
    }
    return 0;
}
