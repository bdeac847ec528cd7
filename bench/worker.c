/*
 * One sample of one workload for one contender (see bench.h for the command
 * lines). Each sample runs in a fresh process, after a warm-up, so that the
 * driver can alternate contenders and so that address-space layout luck is
 * sampled rather than fixed by one run.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "pagealloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const struct contender *c;
static size_t page;
static double out[BENCH_FIELDS];

static double clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

/* The process's CPU time (user + system): for single long operations, where
 * waiting for a CPU on a shared machine would otherwise be most of the noise. */
static double cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static size_t arg_size(const char *s)
{
    return (size_t)strtoull(s, NULL, 0);
}

static void die(const char *what)
{
    fprintf(stderr, "worker: %s failed (%s)\n", what, c != NULL ? c->name : "?");
    exit(1);
}

/* Writes one byte in each page of [p + from, p + to). */
static void touch(char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i += page)
        p[i] = 1;
}

/* ---- pagealloc's system calls around a timed section -------------------- */

static struct pagealloc_stats stats0;
static bool counts_calls;

static void calls_begin(void)
{
    stats0 = pagealloc_stats();
}

static void calls_end(double ops)
{
    struct pagealloc_stats s = pagealloc_stats();
    out[1] = counts_calls ? (double)(s.map_calls - stats0.map_calls) / ops : -1;
    out[2] = counts_calls ? (double)(s.unmap_calls - stats0.unmap_calls) / ops : -1;
    out[3] = counts_calls ? (double)(s.remap_calls - stats0.remap_calls) / ops : -1;
}

/* ---- Workloads ---------------------------------------------------------- */

static bool write_first_byte = true;

static void alloc_free_loop(size_t len, size_t align, size_t iters)
{
    for (size_t i = 0; i < iters; i++) {
        char *p = c->alloc(len, align);
        if (p == NULL)
            die("alloc");
        if (write_first_byte)
            p[0] = 1;
        c->free(p, len);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The loop in ten timed batches; the sample is the median batch, so that a
 * batch the scheduler interrupted does not count. */
static void allocfree(size_t len, size_t align, size_t iters, bool write)
{
    enum { BATCHES = 10 };
    double t[BATCHES];
    size_t per_batch = iters / BATCHES > 0 ? iters / BATCHES : 1;
    write_first_byte = write;
    alloc_free_loop(len, align, iters / 4 + 10);
    calls_begin();
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_ns();
        alloc_free_loop(len, align, per_batch);
        t[b] = (now_ns() - t0) / (double)per_batch;
    }
    qsort(t, BATCHES, sizeof t[0], cmp_double);
    out[0] = (t[BATCHES / 2 - 1] + t[BATCHES / 2]) / 2;
    calls_end((double)(per_batch * BATCHES));
}

/* Share of [p, p + len) backed by huge pages: AnonHugePages of the mappings
 * that overlap it in /proc/self/smaps, at most the overlap of each. */
static double huge_share(const void *p, size_t len)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + len, vlo = 0, vhi = 0;
    double bytes = 0;
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long a, b, kb;
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2) {
            vlo = (uintptr_t)a, vhi = (uintptr_t)b;
        } else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 && vlo < hi && vhi > lo) {
            double overlap = (double)((vhi < hi ? vhi : hi) - (vlo > lo ? vlo : lo));
            bytes += (double)kb * 1024 < overlap ? (double)kb * 1024 : overlap;
        }
    }
    fclose(f);
    return bytes / (double)len;
}

static double grown_huge_share;

/* Doubles a block from `from` to `to` bytes, touching every new page; adds
 * the time spent inside the grow calls to *in_calls. */
static void grow_run(size_t from, size_t to, double *in_calls)
{
    char *p = c->alloc(from, page);
    if (p == NULL)
        die("alloc");
    touch(p, 0, from);
    for (size_t len = from; len < to; len *= 2) {
        double t0 = cpu_ns();
        p = c->grow(p, len, 2 * len);
        *in_calls += cpu_ns() - t0;
        if (p == NULL)
            die("grow");
        touch(p, len, 2 * len);
    }
    grown_huge_share = huge_share(p, to);
    c->free(p, to);
}

static void grow(size_t from, size_t to)
{
    double warm = 0, in_calls = 0;
    grow_run(from, from * 64 < to ? from * 64 : to, &warm);
    calls_begin();
    double t0 = now_ns(), c0 = cpu_ns();
    grow_run(from, to, &in_calls);
    out[0] = cpu_ns() - c0;
    out[4] = now_ns() - t0;
    out[5] = in_calls;
    out[6] = grown_huge_share;
    calls_end(1);
}

/* Maps a fresh block (not timed), then times one pass that makes all of it
 * resident: a memset of every byte (fill), or a prefault (the floor `mmap`
 * writes one byte per page, pagealloc contenders call pagealloc_populate).
 * Stores the share of the block backed by huge pages in *share. */
static double fill_once(size_t len, bool prefault, double *share)
{
    char *p = c->alloc(len, page);
    if (p == NULL)
        die("alloc");
    double t0 = cpu_ns();
    if (!prefault)
        memset(p, 1, len);
    else if (strcmp(c->name, "mmap") == 0)
        touch(p, 0, len);
    else if (!pagealloc_populate(p, len))
        die("populate");
    double t = cpu_ns() - t0;
    *share = huge_share(p, len);
    c->free(p, len);
    return t;
}

/* The first pass of the process (often cold: on a VM whose balloon gave free
 * memory back to the host, its huge pages fault on the host too), then a
 * second on the memory the first freed (warm). */
static void fill(size_t len, bool prefault)
{
    out[4] = fill_once(len, prefault, &out[6]);
    calls_begin();
    out[0] = fill_once(len, prefault, &out[5]);
    calls_end(1);
}

/* Fills the block's pages, then occupies the page after its end so that it
 * cannot grow in place, and times the growth by 2 MiB that must move it. */
static void move(size_t full_len)
{
    size_t extra = (size_t)2 << 20;
    /* Round 0, on a smaller block, is the warm-up. */
    for (int round = 0; round < 2; round++) {
        size_t len = round == 0 ? full_len / 16 : full_len;
        char *p = c->alloc(len, page);
        if (p == NULL)
            die("alloc");
        char *lo = (char *)(((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1));
        char *hi = (char *)(((uintptr_t)p + len) & ~(uintptr_t)(page - 1));
#ifdef MADV_POPULATE_WRITE
        if (madvise(lo, (size_t)(hi - lo), MADV_POPULATE_WRITE) != 0)
#endif
            touch(lo, 0, (size_t)(hi - lo));
        /* An allocator's own mapping may end a little past the block. */
        char *end = (char *)(((uintptr_t)p + len + page - 1) & ~(uintptr_t)(page - 1));
        void *blocker = MAP_FAILED;
        for (int i = 0; i < 4 && blocker == MAP_FAILED; i++, end += page)
            blocker = mmap(end, page, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        calls_begin();
        double t0 = now_ns(), c0 = cpu_ns();
        char *q = c->grow(p, len, len + extra);
        out[0] = cpu_ns() - c0;
        out[6] = now_ns() - t0;
        calls_end(1);
        if (q == NULL)
            die("grow");
        out[4] = q != p; /* 1 if the block moved */
        out[5] = ((uintptr_t)q & (((size_t)2 << 20) - 1)) == ((uintptr_t)p & (((size_t)2 << 20) - 1));
        c->free(q, len + extra);
        if (blocker != MAP_FAILED)
            munmap(blocker, page);
    }
}

struct thread_arg {
    pthread_barrier_t *start;
    size_t len, iters;
};

static void *thread_main(void *arg)
{
    struct thread_arg *a = arg;
    alloc_free_loop(a->len, page, a->iters / 4 + 10);
    pthread_barrier_wait(a->start); /* warmed up */
    pthread_barrier_wait(a->start); /* counting and timing */
    alloc_free_loop(a->len, page, a->iters);
    return NULL;
}

/* n threads, each running the alloc + free loop; time per operation per thread. */
static void threads(size_t n, size_t len, size_t iters)
{
    pthread_t tid[16];
    pthread_barrier_t start;
    struct thread_arg a = {&start, len, iters};
    if (n < 1 || n > 16)
        die("thread count");
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&tid[i], NULL, thread_main, &a) != 0)
            die("pthread_create");
    pthread_barrier_wait(&start);
    calls_begin();
    double t0 = now_ns();
    pthread_barrier_wait(&start);
    for (size_t i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    out[0] = (now_ns() - t0) / (double)iters;
    calls_end((double)(n * iters));
    pthread_barrier_destroy(&start);
}

static double resident_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * (double)page / (1 << 20);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/*
 * Random blocks of 1 to 256 pages (sizes spread evenly on a log scale) in 256
 * slots: each step frees the slot's block or allocates one and writes to all
 * its pages. Records resident memory before, at the peak, and after all is freed.
 */
static void churn(size_t steps)
{
    enum { SLOTS = 256 };
    static char *block[SLOTS];
    static size_t size[SLOTS];
    out[4] = resident_mib();
    calls_begin();
    double t0 = now_ns();
    for (size_t s = 0; s < steps; s++) {
        uint64_t r = next_random();
        size_t i = (size_t)(r % SLOTS);
        if (block[i] != NULL) {
            c->free(block[i], size[i]);
            block[i] = NULL;
            continue;
        }
        size_t pages = 1 + (size_t)((r >> 8) % ((uint64_t)1 << ((r >> 40) % 9)));
        size[i] = pages * page;
        block[i] = c->alloc(size[i], page);
        if (block[i] == NULL)
            die("alloc");
        touch(block[i], 0, size[i]);
    }
    for (size_t i = 0; i < SLOTS; i++)
        if (block[i] != NULL)
            c->free(block[i], size[i]);
    out[0] = (now_ns() - t0) / (double)steps;
    calls_end((double)steps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out[5] = (double)ru.ru_maxrss / 1024;
    out[6] = resident_mib();
}

/* ---- Room to grow (docs/address-hint.md) ------------------------------------ */

/* Address space held by the process: the sum of its mappings' lengths. */
static double held_bytes(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    double total = 0;
    char line[512];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        unsigned long long a, b;
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2)
            total += (double)(b - a);
    }
    if (f != NULL)
        fclose(f);
    return total;
}

/* pagealloc's system calls of every kind since s0. */
static double calls_since(struct pagealloc_stats s0)
{
    struct pagealloc_stats s = pagealloc_stats();
    return (double)(s.map_calls - s0.map_calls + s.unmap_calls - s0.unmap_calls + s.remap_calls -
                    s0.remap_calls + s.advise_calls - s0.advise_calls + s.protect_calls -
                    s0.protect_calls + s.query_calls - s0.query_calls);
}

/* Once pages may vary (a decommit anywhere in the process), growth must make
 * the new pages read-write itself: the "vary" rows. */
static void make_pages_vary(void)
{
    char *p = pagealloc_map(page, 1);
    if (p == NULL || !pagealloc_decommit(p, page))
        die("decommit");
    pagealloc_unmap(p, page);
}

/* 32 fresh blocks of 1-16 MiB, each doubled once in place (resize) while the
 * ones before it stay live: out[4] the share done in place, out[5] system
 * calls per doubling, out[6] address space held per live byte at the end. */
static void room_fresh(void)
{
    enum { N = 32 };
    char *b[N];
    size_t len[N];
    double held0 = held_bytes(), live = 0;
    int in_place = 0;
    struct pagealloc_stats s0 = pagealloc_stats();
    double t0 = cpu_ns();
    for (int i = 0; i < N; i++) {
        len[i] = ((size_t)1 << 20) * (size_t)(1 + i % 16);
        b[i] = pagealloc_map(len[i], 1);
        if (b[i] == NULL)
            die("alloc");
        touch(b[i], 0, len[i]);
        if (pagealloc_realloc(b[i], len[i], 1, 2 * len[i], false) == b[i]) {
            in_place++;
            touch(b[i], len[i], 2 * len[i]);
            len[i] *= 2;
        }
        live += (double)len[i];
    }
    out[0] = cpu_ns() - t0;
    out[4] = (double)in_place / N;
    out[5] = calls_since(s0) / N;
    out[6] = (held_bytes() - held0) / live;
    for (int i = 0; i < N; i++)
        pagealloc_unmap(b[i], len[i]);
}

/* 8 buffers doubling in turn from 64 KiB to 64 MiB, every page written;
 * remap, or where it says no a new block, a copy and a free: out[4] the bytes
 * copied over those of an alloc + copy + free at every doubling, out[5]
 * system calls per doubling (the copies' map and unmap included), out[6]
 * address space held per live byte after each round, at its worst. */
static void room_buffers(void)
{
    enum { BUFS = 8 };
    const size_t from = (size_t)64 << 10, to = (size_t)64 << 20;
    pagealloc_allocator a = pagealloc_page_allocator();
    char *b[BUFS];
    double held0 = held_bytes(), copied = 0, baseline = 0, worst = 0, doublings = 0;
    for (int i = 0; i < BUFS; i++) {
        b[i] = pagealloc_map(from, 1);
        if (b[i] == NULL)
            die("alloc");
        touch(b[i], 0, from);
    }
    struct pagealloc_stats s0 = pagealloc_stats();
    double t0 = cpu_ns();
    size_t len;
    for (len = from; len < to; len *= 2) {
        for (int i = 0; i < BUFS; i++) {
            char *q = pagealloc_remap(a, b[i], len, 1, 2 * len);
            if (q == NULL) {
                if ((q = pagealloc_map(2 * len, 1)) == NULL)
                    die("alloc");
                memcpy(q, b[i], len);
                pagealloc_unmap(b[i], len);
                copied += (double)len;
            }
            baseline += (double)len;
            doublings++;
            b[i] = q;
            touch(q, len, 2 * len);
        }
        double held = (held_bytes() - held0) / ((double)BUFS * 2 * (double)len);
        worst = held > worst ? held : worst;
    }
    out[0] = cpu_ns() - t0;
    out[4] = copied / baseline;
    out[5] = calls_since(s0) / doublings;
    out[6] = worst;
    for (int i = 0; i < BUFS; i++)
        pagealloc_unmap(b[i], len);
}

/* As many live 4 KiB blocks as pagealloc gives, up to 200,000: out[4]. */
static void room_small(void)
{
    enum { N = 200000 };
    static char *b[N];
    size_t n = 0;
    double t0 = cpu_ns();
    while (n < N && (b[n] = pagealloc_map(page, 1)) != NULL)
        n++;
    out[0] = cpu_ns() - t0;
    out[4] = (double)n;
    while (n > 0)
        pagealloc_unmap(b[--n], page);
}

static void room(const char *what, bool vary)
{
    if (vary)
        make_pages_vary();
    calls_begin();
    if (strcmp(what, "fresh") == 0)
        room_fresh();
    else if (strcmp(what, "buffers") == 0)
        room_buffers();
    else if (strcmp(what, "small") == 0)
        room_small();
    else
        die("room workload");
    calls_end(1);
}

/* ---- Reservations: reserve + commit + write + decommit + release -------- */

/* The raw system calls: the floor. */
static void reserve_cycle_raw(size_t len)
{
    int anon = MAP_PRIVATE | MAP_ANONYMOUS;
    char *p = mmap(NULL, len, PROT_NONE, anon, -1, 0);
    if (p == MAP_FAILED || mprotect(p, len, PROT_READ | PROT_WRITE) != 0)
        die("reserve/commit");
    p[0] = 1;
    if (mmap(p, len, PROT_NONE, anon | MAP_FIXED, -1, 0) != p || munmap(p, len) != 0)
        die("decommit/release");
}

static void reserve_cycle_pagealloc(size_t len)
{
    char *p = pagealloc_mapx(len, 1, PAGEALLOC_RESERVE);
    if (p == NULL || !pagealloc_commit(p, len))
        die("reserve/commit");
    p[0] = 1;
    if (!pagealloc_decommit(p, len))
        die("decommit");
    pagealloc_unmap(p, len);
}

/* The cycle in ten timed batches, as allocfree; only the "mmap" (raw calls)
 * and "pagealloc" contenders have it. */
static void reserve(size_t len, size_t iters)
{
    enum { BATCHES = 10 };
    void (*cycle)(size_t) = counts_calls ? reserve_cycle_pagealloc : reserve_cycle_raw;
    double t[BATCHES];
    size_t per_batch = iters / BATCHES > 0 ? iters / BATCHES : 1;
    for (size_t i = 0; i < iters / 4 + 10; i++)
        cycle(len);
    calls_begin();
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_ns();
        for (size_t i = 0; i < per_batch; i++)
            cycle(len);
        t[b] = (now_ns() - t0) / (double)per_batch;
    }
    qsort(t, BATCHES, sizeof t[0], cmp_double);
    out[0] = (t[BATCHES / 2 - 1] + t[BATCHES / 2]) / 2;
    calls_end((double)(per_batch * BATCHES));
}

/* pagealloc's system calls for each kind of operation, one line each:
 * name, then mmap, munmap, mremap, mprotect calls. */
static void report(const char *name, struct pagealloc_stats s0)
{
    struct pagealloc_stats s = pagealloc_stats();
    printf("%s %llu %llu %llu %llu\n", name, (unsigned long long)(s.map_calls - s0.map_calls),
           (unsigned long long)(s.unmap_calls - s0.unmap_calls),
           (unsigned long long)(s.remap_calls - s0.remap_calls),
           (unsigned long long)(s.protect_calls - s0.protect_calls));
}

/* Occupies the page after [p, p + len) so that the block cannot grow in place. */
static void *block_after(char *p, size_t len)
{
    void *b = mmap(p + len, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    return b == MAP_FAILED ? NULL : b;
}

static void syscalls(void)
{
    size_t small = (size_t)64 << 10, mib = (size_t)1 << 20, big = (size_t)64 << 20;
    struct pagealloc_stats s0;
    /* Warm the hint for the aligned case: the steady state is what counts. */
    pagealloc_unmap(pagealloc_map(mib, 2 * mib), mib);

    s0 = pagealloc_stats();
    char *p = pagealloc_map(small, 1);
    report("alloc", s0);
    s0 = pagealloc_stats();
    pagealloc_unmap(p, small);
    report("free", s0);
    s0 = pagealloc_stats();
    p = pagealloc_map(mib, 2 * mib);
    report("aligned_alloc", s0);
    pagealloc_unmap(p, mib);

    p = pagealloc_map(small, 1);
    s0 = pagealloc_stats();
    if (pagealloc_realloc(p, small, 1, small / 2, false) != p)
        die("shrink");
    report("shrink", s0);
    s0 = pagealloc_stats();
    if (pagealloc_realloc(p, small / 2, 1, small, false) != p)
        die("grow in place");
    report("grow", s0);
    void *b = block_after(p, small);
    s0 = pagealloc_stats();
    char *q = pagealloc_realloc(p, small, 1, 2 * small, true);
    if (q == NULL)
        die("move");
    report(q != p ? "move_small" : "move_small_in_place", s0);
    pagealloc_unmap(q, 2 * small);
    if (b != NULL)
        munmap(b, page);

    p = pagealloc_map(big, 1);
    b = block_after(p, big);
    s0 = pagealloc_stats();
    q = pagealloc_realloc(p, big, 1, 2 * big, true);
    if (q == NULL)
        die("move");
    report(q != p ? "move_large" : "move_large_in_place", s0);
    pagealloc_unmap(q, 2 * big);
    if (b != NULL)
        munmap(b, page);

    s0 = pagealloc_stats();
    p = pagealloc_mapx(mib, 1, PAGEALLOC_RESERVE);
    report("reserve", s0);
    s0 = pagealloc_stats();
    if (p == NULL || !pagealloc_commit(p, mib))
        die("commit");
    report("commit", s0);
    s0 = pagealloc_stats();
    if (!pagealloc_decommit(p, mib))
        die("decommit");
    report("decommit", s0);
    s0 = pagealloc_stats();
    pagealloc_unmap(p, mib);
    report("release", s0);
}

int main(int argc, char **argv)
{
    page = pagealloc_page_size();
    if (argc < 3) {
        fprintf(stderr, "usage: %s WORKLOAD CONTENDER ARGS... (see bench.h)\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < bench_contender_count; i++)
        if (strcmp(bench_contenders[i].name, argv[2]) == 0)
            c = &bench_contenders[i];
    if (c == NULL) {
        fprintf(stderr, "worker: no contender %s here\n", argv[2]);
        return 2;
    }
    counts_calls = strncmp(c->name, "pagealloc", 9) == 0;
    const char *w = argv[1];
    if (strcmp(w, "allocfree") == 0 && (argc == 6 || argc == 7))
        allocfree(arg_size(argv[3]), arg_size(argv[4]), arg_size(argv[5]),
                  argc == 6 || strcmp(argv[6], "nowrite") != 0);
    else if (strcmp(w, "grow") == 0 && argc == 5 && c->grow != NULL)
        grow(arg_size(argv[3]), arg_size(argv[4]));
    else if ((strcmp(w, "fill") == 0 || strcmp(w, "prefault") == 0) && argc == 4)
        fill(arg_size(argv[3]), strcmp(w, "prefault") == 0);
    else if (strcmp(w, "move") == 0 && argc == 4 && c->grow != NULL)
        move(arg_size(argv[3]));
    else if (strcmp(w, "threads") == 0 && argc == 6)
        threads(arg_size(argv[3]), arg_size(argv[4]), arg_size(argv[5]));
    else if (strcmp(w, "churn") == 0 && argc == 4)
        churn(arg_size(argv[3]));
    else if (strcmp(w, "reserve") == 0 && argc == 5 &&
             (counts_calls || strcmp(c->name, "mmap") == 0))
        reserve(arg_size(argv[3]), arg_size(argv[4]));
    else if (strcmp(w, "room") == 0 && (argc == 4 || argc == 5) && counts_calls)
        room(argv[3], argc == 5 && strcmp(argv[4], "vary") == 0);
    else if (strcmp(w, "syscalls") == 0 && counts_calls) {
        syscalls();
        return 0;
    } else {
        fprintf(stderr, "worker: bad command line for %s\n", w);
        return 2;
    }
    for (int i = 0; i < BENCH_FIELDS; i++)
        printf("%s%.6g", i ? " " : "", out[i]);
    printf("\n");
    return 0;
}
