/*
 * Real out-of-memory: in a child process whose address space is capped with
 * setrlimit(RLIMIT_AS), map, grow in place and remap-with-move fail with
 * ENOMEM, the caller's blocks stay intact, the process keeps working, and
 * memory freed afterwards can be mapped again.
 */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page;

enum { HEADROOM_MIB = 96, CHUNK_MIB = 8, MAX_CHUNKS = 64 };

/* Bytes of address space the process uses now, from /proc/self/statm. */
static size_t address_space_used(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * page;
}

/* Maps CHUNK_MIB blocks until the system refuses; returns how many. */
static int map_until_refused(unsigned char **chunks)
{
    size_t chunk = (size_t)CHUNK_MIB << 20;
    int n = 0;
    for (; n < MAX_CHUNKS; n++) {
        errno = 0;
        chunks[n] = pagealloc_map(chunk, 1);
        if (chunks[n] == NULL) {
            CHECK(errno == ENOMEM);
            break;
        }
        chunks[n][0] = (unsigned char)n;
        chunks[n][chunk - 1] = (unsigned char)n;
    }
    return n;
}

static void out_of_address_space(void)
{
    size_t big = (size_t)1 << 30;
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = address_space_used() + ((size_t)HEADROOM_MIB << 20);
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);

    /* A map larger than what is left. */
    CHECK_ERRNO(pagealloc_map(big, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(page, big) == NULL, ENOMEM);

    /* Growth in place and by moving, of a plain and of an aligned block. */
    const size_t aligns[] = {1, (size_t)1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        unsigned char *p = pagealloc_map(4 * page, aligns[i]);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        support_fill(p, 4 * page, (unsigned)i);
        size_t mapped = pagealloc_stats().mapped_bytes;
        CHECK_ERRNO(pagealloc_realloc(p, 4 * page, aligns[i], big, false) == NULL, ENOMEM);
        CHECK_ERRNO(pagealloc_realloc(p, 4 * page, aligns[i], big, true) == NULL, ENOMEM);
        pagealloc_allocator a = pagealloc_page_allocator();
        CHECK(!pagealloc_resize(a, p, 4 * page, aligns[i], big));
        CHECK(pagealloc_remap(a, p, 4 * page, aligns[i], big) == NULL);
        CHECK(pagealloc_stats().mapped_bytes == mapped);
        CHECK(support_range_mapped(p, 4 * page));
        CHECK(support_has_pattern(p, 4 * page, (unsigned)i));
        /* The process keeps working: small changes still succeed (where pages
         * cannot move, only if the next range happens to be free). */
        unsigned char *q = pagealloc_realloc(p, 4 * page, aligns[i], 8 * page, true);
        CHECK(q != NULL || !support_can_move());
        if (q != NULL) {
            CHECK(support_has_pattern(q, 4 * page, (unsigned)i));
            CHECK(support_all_zero(q + 4 * page, 4 * page));
            p = q;
        }
        pagealloc_unmap(p, q != NULL ? 8 * page : 4 * page);
    }

    /* Use up what is left, then free it: the same amount maps again. */
    static unsigned char *chunks[MAX_CHUNKS];
    int n = map_until_refused(chunks);
    CHECK(n > 0 && n < MAX_CHUNKS);
    for (int i = 0; i < n; i++) {
        CHECK(chunks[i][0] == (unsigned char)i);
        pagealloc_unmap(chunks[i], (size_t)CHUNK_MIB << 20);
    }
    int again = map_until_refused(chunks);
    CHECK(again >= n);
    for (int i = 0; i < again; i++)
        pagealloc_unmap(chunks[i], (size_t)CHUNK_MIB << 20);
    printf("  under a %d MiB headroom: %d blocks of %d MiB, freed, then %d again\n", HEADROOM_MIB,
           n, CHUNK_MIB, again);
    CHECK(pagealloc_stats().mapped_bytes == 0);
}

/* Runs fn in a child process; true when it exited with no failed check (a
 * child that skipped makes the caller skip too). */
static bool in_child(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        check_failures = check_skips = 0; /* the child's own, not the parent's so far */
        fn();
        fflush(stdout);
        check_exit(check_status());
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHECK_SKIP_CODE) {
        check_skip("in the child (why: above)");
        return true;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The limit applies to the child only, so the rest of the suite is not
 * affected by what it leaves behind. */
static void map_grow_and_move_fail_with_ENOMEM_under_RLIMIT_AS(void)
{
    CHECK(in_child(out_of_address_space));
}

/* Under mlockall(MCL_FUTURE) every new page must be locked; past
 * RLIMIT_MEMLOCK the system says EAGAIN, which the header calls ENOMEM. */
static void out_of_lockable_memory(void)
{
    /* The sanitizers' runtimes map memory of their own around each mmap, and
     * under them the locked-memory limit does not refuse these requests. */
    if (SUPPORT_UNDER_ASAN || SUPPORT_UNDER_TSAN || getenv("PAGEALLOC_UNDER_VALGRIND") != NULL) {
        check_skip("under a sanitizer or valgrind");
        return;
    }
    struct rlimit lim;
    CHECK(getrlimit(RLIMIT_MEMLOCK, &lim) == 0);
    if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > ((rlim_t)64 << 20))
        lim.rlim_max = (rlim_t)64 << 20;
    lim.rlim_cur = lim.rlim_max;
    CHECK(setrlimit(RLIMIT_MEMLOCK, &lim) == 0);
    /* root ignores the limit (CAP_IPC_LOCK): become nobody first. */
    if (geteuid() == 0)
        CHECK(setgid(65534) == 0 && setuid(65534) == 0);
    if (mlockall(MCL_FUTURE) != 0) {
        check_skip("mlockall(MCL_FUTURE) refused (errno %d)", errno);
        return;
    }
    unsigned char *p = pagealloc_map(page, 1);
    CHECK(p != NULL);
    support_fill(p, page, 4);
    size_t big = (size_t)256 << 20;
    CHECK_ERRNO(pagealloc_map(big, 1) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_map(big, (size_t)1 << 21) == NULL, ENOMEM);
    CHECK_ERRNO(pagealloc_realloc(p, page, 1, big, false) == NULL, ENOMEM);
    errno = 0;
    unsigned char *q = pagealloc_realloc(p, page, 1, big, true);
    CHECK(q == NULL && errno == ENOMEM);
    if (q != NULL) {
        pagealloc_unmap(q, big);
        return;
    }
    CHECK(support_has_pattern(p, page, 4));
    pagealloc_unmap(p, page);
    munlockall();
}

static void map_and_grow_fail_with_ENOMEM_past_RLIMIT_MEMLOCK_under_mlockall(void)
{
    CHECK(in_child(out_of_lockable_memory));
}

/* Private writable memory the process has (what RLIMIT_DATA limits), from
 * VmData in /proc/self/status. */
static size_t data_used(void)
{
    unsigned long long kib = 0;
    char line[128];
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmData: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return (size_t)kib << 10;
}

static void commit_refused(void)
{
    size_t gib = (size_t)1 << 30, headroom = (size_t)64 << 20;
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = data_used() + headroom;
    CHECK(setrlimit(RLIMIT_DATA, &lim) == 0);
    /* Reserved pages are not data: a reservation far past the limit works. */
    unsigned char *p = pagealloc_mapx(gib, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK_ERRNO(!pagealloc_commit(p, 2 * headroom), ENOMEM);
    CHECK(support_read_faults(p) && support_read_faults(p + headroom));
    /* Within the limit it works, and decommit gives the charge back. */
    for (int round = 0; round < 4; round++) {
        CHECK(pagealloc_commit(p, headroom / 2));
        CHECK(support_all_zero(p, page));
        support_fill(p, page, 2);
        CHECK(pagealloc_decommit(p, headroom / 2));
    }
    pagealloc_unmap(p, gib);
    CHECK(pagealloc_stats().mapped_bytes == 0);
}

/* RLIMIT_DATA limits private writable memory, which commit makes: in a child
 * process, a commit past it fails with ENOMEM and the pages stay reserved.
 * (valgrind emulates RLIMIT_DATA for brk only.) */
static void commit_fails_with_ENOMEM_under_RLIMIT_DATA_and_leaves_pages_reserved(void)
{
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL) {
        check_skip("under valgrind, which does not apply RLIMIT_DATA to mmap");
        return;
    }
    CHECK(in_child(commit_refused));
}

/* Reserved pages given READ are committed but not writable, so not charged:
 * within RLIMIT_DATA or far past it alike. Making them read-write takes the
 * charge then, and past the limit protect fails with ENOMEM, the pages left
 * read-only and zero. */
static void protect_refused(void)
{
    size_t gib = (size_t)1 << 30, headroom = (size_t)64 << 20;
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = data_used() + headroom;
    CHECK(setrlimit(RLIMIT_DATA, &lim) == 0);
    unsigned char *p = pagealloc_mapx(gib, 1, PAGEALLOC_RESERVE);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(pagealloc_protect(p, 4 * headroom, PAGEALLOC_READ));
    CHECK_ERRNO(!pagealloc_protect(p, 4 * headroom, PAGEALLOC_READ | PAGEALLOC_WRITE), ENOMEM);
    CHECK(!support_read_faults(p) && support_write_faults(p + headroom));
    CHECK(support_all_zero(p, page) && support_all_zero(p + 4 * headroom - page, page));
    /* Reserved pages made read-write directly: the same charge, the same refusal. */
    CHECK_ERRNO(!pagealloc_protect(p + 4 * headroom, 2 * headroom,
                                   PAGEALLOC_READ | PAGEALLOC_WRITE),
                ENOMEM);
    CHECK(support_read_faults(p + 4 * headroom));
    /* Within the limit it works. */
    CHECK(pagealloc_protect(p, headroom / 2, PAGEALLOC_READ | PAGEALLOC_WRITE));
    CHECK(!support_write_faults(p) && !support_write_faults(p + headroom / 2 - 1));
    pagealloc_unmap(p, gib);
    CHECK(pagealloc_stats().mapped_bytes == 0);
}

/* The same limit in a child: a protect to read-write past RLIMIT_DATA fails
 * with ENOMEM and the pages keep the access they had (valgrind: skipped, as
 * for commit). */
static void protect_to_read_write_fails_with_ENOMEM_under_RLIMIT_DATA(void)
{
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL) {
        check_skip("under valgrind, which does not apply RLIMIT_DATA to mmap");
        return;
    }
    CHECK(in_child(protect_refused));
}

/* Once pages may vary, a block that must move and whose growth RLIMIT_DATA
 * refuses (the kernel checks the limit before it would unmap a target) is
 * left as it was, and nothing else is left: no target reserved and counted. */
static void move_refused(void)
{
    unsigned char *r = pagealloc_mapx(page, 1, PAGEALLOC_RESERVE); /* pages vary from here on */
    CHECK(r != NULL);
    pagealloc_unmap(r, page);
    size_t len = 16 * page;
    unsigned char *p = pagealloc_map(len, 1);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    support_fill(p, len, 6);
    /* The range after the block is taken: by us, or already by another. */
    bool blocked = support_map_at(p + len, page);
    support_mapped_bytes(); /* its buffer, before the limit */
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = data_used() + 4 * page;
    CHECK(setrlimit(RLIMIT_DATA, &lim) == 0);
    size_t in_process = support_mapped_bytes();
    uint64_t failures = pagealloc_stats().unmap_failures;
    CHECK_ERRNO(pagealloc_realloc(p, len, 1, 4 * len, true) == NULL, ENOMEM);
    CHECK(pagealloc_stats().unmap_failures == failures);
    CHECK(support_mapped_bytes() == in_process);
    CHECK(support_has_pattern(p, len, 6));
    pagealloc_unmap(p, len);
    if (blocked)
        support_unmap(p + len, page);
}

static void a_move_refused_under_RLIMIT_DATA_once_pages_vary_leaves_nothing_behind(void)
{
    if (getenv("PAGEALLOC_UNDER_VALGRIND") != NULL) {
        check_skip("under valgrind, which does not apply RLIMIT_DATA to mmap");
        return;
    }
    CHECK(in_child(move_refused));
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(map_grow_and_move_fail_with_ENOMEM_under_RLIMIT_AS);
    RUN(map_and_grow_fail_with_ENOMEM_past_RLIMIT_MEMLOCK_under_mlockall);
    RUN(commit_fails_with_ENOMEM_under_RLIMIT_DATA_and_leaves_pages_reserved);
    RUN(protect_to_read_write_fails_with_ENOMEM_under_RLIMIT_DATA);
    RUN(a_move_refused_under_RLIMIT_DATA_once_pages_vary_leaves_nothing_behind);
    return check_done();
}
