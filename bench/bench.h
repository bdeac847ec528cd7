/*
 * What the benchmark's parts share. Each worker executable links one set of
 * contenders (the system's calls, pagealloc and glibc in one; mimalloc and
 * jemalloc each in their own, since each replaces malloc in its process) and
 * worker.c, which runs one workload for one contender and prints one sample.
 * driver.c runs the workers, alternating contenders, and prints the tables.
 */
#ifndef PAGEALLOC_BENCH_H
#define PAGEALLOC_BENCH_H

#include <stddef.h>

/* One way to get memory. `align` is a power of two no smaller than a page.
 * grow may move the block and returns its address, or NULL on failure. */
struct contender {
    const char *name;
    void *(*alloc)(size_t len, size_t align);
    void (*free)(void *p, size_t len);
    void *(*grow)(void *p, size_t len, size_t new_len);
};

/* Provided by the contender file linked into each worker. */
extern const struct contender bench_contenders[];
extern const size_t bench_contender_count;

/* Worker command lines, built by the driver and parsed by the worker:
 *   WORKER allocfree CONTENDER LEN ALIGN ITERS [nowrite]
 *   WORKER grow      CONTENDER FROM TO        (doubling, touching new pages)
 *   WORKER move      CONTENDER LEN            (grow by 2 MiB when blocked)
 *   WORKER fill      CONTENDER LEN            (memset a fresh block, twice)
 *   WORKER prefault  CONTENDER LEN            (populate a fresh block, twice)
 *   WORKER threads   CONTENDER NTHREADS LEN ITERS
 *   WORKER churn     CONTENDER STEPS
 *   WORKER reserve   CONTENDER LEN ITERS     (mmap = the raw calls, pagealloc)
 *   WORKER room      pagealloc fresh|buffers|small [vary]   (room to grow)
 *   WORKER syscalls  pagealloc               (name, mmap, munmap, mremap, mprotect)
 * Each prints one line: ns per operation, then mmap, munmap and mremap calls
 * per operation from pagealloc_stats (-1 for other contenders), then up to
 * three workload-specific figures (churn: resident MiB at start, peak, end;
 * fill, prefault: CPU ns of the first pass, huge-page share of the second and
 * of the first; grow: wall ns, ns in the grow calls, huge-page share; room:
 * the share in place or bytes copied, or blocks held, then calls per doubling
 * and address space held per live byte). */
#define BENCH_FIELDS 7

#endif
