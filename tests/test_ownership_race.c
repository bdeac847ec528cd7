/*
 * The library never touches address space it does not hold. One thread
 * drives failure paths in a loop while the others map, fill and check blocks
 * of their own (by the raw system call and by pagealloc_map, which places
 * right under the hint where the driver's failed calls also work): not one
 * byte of theirs may change or vanish.
 *
 * The driver's failures:
 * - Linux, any build: growing a 4-page block to more than the machine's
 *   memory and swap with may_move, which the overcommit check refuses with
 *   ENOMEM only after the kernel unmapped the reservation it was moving to;
 * - failure-injection builds (this thread's calls only): on Linux refused
 *   moves, whose injected mremap unmaps the target as the kernel may; on
 *   Windows a shrink and an unmap of a block of three reservations refused
 *   after its first release.
 * PAGEALLOC_RACE_SECONDS (default 2) sets the length of a run;
 * PAGEALLOC_RACE_INJECTED_ONLY drives injected failures only.
 */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#ifdef PAGEALLOC_TEST_FAULTS
#include "fault.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysinfo.h>
#endif
#endif

enum { VICTIMS = 3, SLOTS = 4 };

static size_t page;
static atomic_bool stop;
static atomic_ulong lost_blocks;

/* ---- The system, bypassing the library ---------------------------------- */

#ifdef _WIN32
static void *raw_map(size_t len)
{
    return VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN, PAGE_READWRITE);
}

static void raw_unmap(void *p, size_t len)
{
    (void)len;
    VirtualFree(p, 0, MEM_RELEASE);
}

static void catch_faults(void)
{
}
#define CATCH_FAULTS 0

/* Every page committed, so that reading it cannot fault. */
static bool accessible(const void *p, size_t len)
{
    const char *q = p, *end = q + len;
    while (q < end) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(q, &m, sizeof m) == 0 || m.State != MEM_COMMIT)
            return false;
        q = (const char *)m.BaseAddress + m.RegionSize;
    }
    return true;
}
#else
static void *raw_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void raw_unmap(void *p, size_t len)
{
    munmap(p, len);
}

/* msync fails with ENOMEM when part of the range is not mapped. */
static bool accessible(const void *p, size_t len)
{
    return msync((void *)p, len, MS_ASYNC) == 0;
}

/* A block that vanishes between that check and the reads faults: the
 * reading thread jumps back and counts it, rather than the process dying. */
static _Thread_local sigjmp_buf *fault_jump;

static void on_fault(int sig)
{
    if (fault_jump == NULL) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    siglongjmp(*fault_jump, 1);
}

static void catch_faults(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}
#define CATCH_FAULTS 1
#endif

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- Blocks that must stay as their owner left them --------------------- */

struct block {
    uint64_t *p;
    size_t len;
    uint64_t seed;
    bool raw;
};

static uint64_t word(uint64_t seed, size_t i)
{
    return (seed * 0x9e3779b97f4a7c15u) ^ (uint64_t)i;
}

/* One word in each page: the library acts on whole pages, and a page
 * unmapped, discarded or replaced loses it. */
static bool write_words(const struct block *b)
{
    size_t step = page / sizeof(uint64_t);
    for (size_t i = 0; i < b->len / sizeof(uint64_t); i += step)
        b->p[i] = word(b->seed, i);
    return true;
}

static bool words_as_written(const struct block *b)
{
    size_t step = page / sizeof(uint64_t);
    for (size_t i = 0; i < b->len / sizeof(uint64_t); i += step)
        if (b->p[i] != word(b->seed, i))
            return false;
    return true;
}

/* fn(b), or false if it touched a page that is no longer mapped. */
static bool guarded(bool (*fn)(const struct block *), const struct block *b)
{
#if CATCH_FAULTS
    sigjmp_buf jump;
    if (sigsetjmp(jump, 0) != 0) {
        fault_jump = NULL;
        return false;
    }
    fault_jump = &jump;
    bool ok = fn(b);
    fault_jump = NULL;
    return ok;
#else
    return fn(b);
#endif
}

/* False (and counted) if the block vanished right after it was mapped. */
static bool fill(const struct block *b)
{
    if (guarded(write_words, b))
        return true;
    atomic_fetch_add(&lost_blocks, 1);
    return false;
}

/* Still mapped, and every page as written. */
static bool intact(const struct block *b)
{
    return accessible(b->p, b->len) && guarded(words_as_written, b);
}

static void release(struct block *b)
{
    if (!intact(b)) {
        /* Someone else's now, or nobody's: never freed by its old owner. */
        atomic_fetch_add(&lost_blocks, 1);
    } else if (b->raw) {
        raw_unmap(b->p, b->len);
    } else {
        pagealloc_unmap(b->p, b->len);
    }
    b->p = NULL;
}

struct victim {
    uint64_t rng;
    unsigned long blocks;
};

/* Keeps a few blocks of 64 KiB to 1 MiB, replacing one at a time, checking each before
 * it goes. Blocks alternate between the raw system call and pagealloc_map. */
static void *victim(void *arg)
{
    struct victim *v = arg;
    struct block slot[SLOTS] = {{0}};
    for (unsigned long n = 0; !atomic_load(&stop); n++) {
        struct block *b = &slot[n % SLOTS];
        if (b->p != NULL)
            release(b);
        b->len = (size_t)65536 * (size_t)(1 + support_rand64(&v->rng) % 16);
        b->raw = n % 2 == 0;
        b->p = b->raw ? raw_map(b->len) : pagealloc_map(b->len, n % 4 == 1 ? 65536 : 1);
        if (b->p == NULL)
            continue;
        b->seed = support_rand64(&v->rng);
        v->blocks++;
        if (!fill(b))
            b->p = NULL;
    }
    for (int i = 0; i < SLOTS; i++)
        if (slot[i].p != NULL)
            release(&slot[i]);
    return NULL;
}

/* ---- The driver ----------------------------------------------------------- */

struct driver {
    unsigned long refused;     /* failures driven */
    unsigned long unexpected;  /* results other than the refusal asked for */
};

/* A size the overcommit check must refuse, or 0 when none can be driven. */
static size_t unaffordable_size(void)
{
#ifdef __linux__
    if (sizeof(size_t) < 8 || !support_can_move() || support_under_qemu())
        return 0;
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = 1;
    if (f != NULL) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = 1;
        fclose(f);
    }
    struct sysinfo si;
    if (mode == 1 || sysinfo(&si) != 0)
        return 0;
    uint64_t have = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
    uint64_t want = (uint64_t)1 << 35;
    while (want <= 2 * have)
        want *= 2;
    return (size_t)want; /* 64-bit only */
#else
    return 0;
#endif
}

/* One move the system refuses after unmapping its target. */
static void drive_overcommit_refusal(struct driver *d, struct block *own, size_t huge)
{
    errno = 0;
    void *q = pagealloc_realloc(own->p, own->len, 1, huge, true);
    if (q == NULL && errno == ENOMEM) {
        d->refused++;
    } else if (q == NULL) {
        d->unexpected++;
    } else {
        d->unexpected++;
        own->p = pagealloc_realloc(q, huge, 1, own->len, true);
    }
}

#ifdef PAGEALLOC_TEST_FAULTS
#ifdef _WIN32
/* A block of three reservations (page, then grown twice in place into the
 * room a block mapped above it and freed leaves, unless a victim took it). */
static unsigned char *three_reservations(size_t gran, size_t *len)
{
    unsigned char *spacer = pagealloc_map(2 * gran, gran);
    unsigned char *p = pagealloc_map(page, 1);
    pagealloc_unmap(spacer, 2 * gran);
    if (p == NULL)
        return NULL;
    if (pagealloc_realloc(p, page, 1, gran + page, false) == NULL) {
        pagealloc_unmap(p, page);
        return NULL;
    }
    if (pagealloc_realloc(p, gran + page, 1, 2 * gran + page, false) == NULL) {
        pagealloc_unmap(p, gran + page);
        return NULL;
    }
    *len = 2 * gran + page;
    return p;
}

/* Gives other threads a moment to take what was just released. */
static void pause_briefly(void)
{
    Sleep(0);
}

/* Frees a reservation the library counted as left behind. */
static void free_leftover(unsigned char *base)
{
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery(base, &m, sizeof m) != 0 && m.State != MEM_FREE && m.AllocationBase == base)
        VirtualFree(base, 0, MEM_RELEASE);
}

/* Its first release goes through, the second is refused twice (the library
 * tries once more): by unmap, or by a shrink to one page. */
static void drive_injected_failure(struct driver *d, unsigned long n)
{
    size_t gran = support_granularity(), len;
    unsigned char *p = three_reservations(gran, &len);
    if (p == NULL)
        return;
    uint64_t failures = pagealloc_stats().unmap_failures;
    pa_fault_arm_thread(PA_SYS_UNMAP, 2, 2, ENOMEM);
    if (n % 2 == 0) {
        pagealloc_unmap(p, len);
        pa_fault_disarm_thread();
        pause_briefly();
        free_leftover(p + gran);
        free_leftover(p + 2 * gran);
    } else {
        unsigned char *q = pagealloc_realloc(p, len, 1, page, false);
        pa_fault_disarm_thread();
        pause_briefly();
        /* The block is intact at len (NULL) or one page long. */
        pagealloc_unmap(p, q == NULL ? len : page);
        free_leftover(p + 2 * gran);
    }
    if (pagealloc_stats().unmap_failures != failures)
        d->refused++;
}
#else
/* A move whose mremaps all fail; the one onto the target unmaps it first. */
static void drive_injected_failure(struct driver *d, unsigned long n)
{
    (void)n;
    unsigned char *p = pagealloc_map(2 * page, 65536);
    if (p == NULL)
        return;
    pa_fault_arm_thread(PA_SYS_REMAP, 1, UINT64_MAX, ENOMEM);
    void *q = pagealloc_realloc(p, 2 * page, 65536, 64 * page, true);
    uint64_t injected = pa_fault_thread_injected(); /* since the arming */
    pa_fault_disarm_thread();
    if (q == NULL && injected >= 2)
        d->refused++;
    else if (q != NULL)
        d->unexpected++;
    pagealloc_unmap(q != NULL ? q : p, q != NULL ? 64 * page : 2 * page);
}
#endif
#define CAN_INJECT 1
#else
#define CAN_INJECT 0
static void drive_injected_failure(struct driver *d, unsigned long n)
{
    (void)d, (void)n;
}
#endif

static size_t huge_size;

static void *driver(void *arg)
{
    struct driver *d = arg;
    struct block own = {NULL, 4 * page, 42, false};
    own.p = pagealloc_map(own.len, 1);
    if (own.p == NULL)
        return NULL;
    fill(&own);
    for (unsigned long n = 0; !atomic_load(&stop); n++) {
        if (CAN_INJECT && (huge_size == 0 || n % 2 == 1))
            drive_injected_failure(d, n);
        else if (huge_size != 0)
            drive_overcommit_refusal(d, &own, huge_size);
        if (own.p == NULL || !intact(&own))
            d->unexpected++;
        if (own.p == NULL)
            return NULL;
    }
    pagealloc_unmap(own.p, own.len);
    return NULL;
}

static void other_threads_blocks_survive_every_failure_path(void)
{
    huge_size = getenv("PAGEALLOC_RACE_INJECTED_ONLY") != NULL ? 0 : unaffordable_size();
    catch_faults();
    if (huge_size == 0 && !CAN_INJECT) {
        check_skip("no failure to drive (needs Linux with overcommit checks, or a "
                   "failure-injection build)");
        return;
    }
    const char *env = getenv("PAGEALLOC_RACE_SECONDS");
    double seconds = env != NULL ? atof(env) : 2.0;
    struct victim v[VICTIMS];
    struct driver d = {0, 0};
    pthread_t vt[VICTIMS], dt;
    for (int i = 0; i < VICTIMS; i++) {
        v[i].rng = support_seed_for((unsigned)i);
        v[i].blocks = 0;
        CHECK(pthread_create(&vt[i], NULL, victim, &v[i]) == 0);
    }
    CHECK(pthread_create(&dt, NULL, driver, &d) == 0);
    for (double end = now_seconds() + seconds; now_seconds() < end;) {
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    atomic_store(&stop, true);
    pthread_join(dt, NULL);
    unsigned long blocks = 0;
    for (int i = 0; i < VICTIMS; i++) {
        pthread_join(vt[i], NULL);
        blocks += v[i].blocks;
    }
    unsigned long lost = atomic_load(&lost_blocks);
    printf("  %.1f s: %lu failures driven (%s), %lu blocks of other threads, %lu changed or "
           "gone\n",
           seconds, d.refused,
           huge_size != 0 ? (CAN_INJECT ? "refused moves and injected" : "refused moves")
                          : "injected",
           blocks, lost);
    CHECK(d.refused > 0 && d.unexpected == 0);
    CHECK(blocks > 0);
    CHECK(lost == 0);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(other_threads_blocks_survive_every_failure_path);
    return check_done();
}
