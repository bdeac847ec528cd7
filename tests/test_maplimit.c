/*
 * The kernel's mapping table full (vm.max_map_count): a child process fills
 * it with one-page mappings separated by holes, then shrinks and frees blocks
 * whose unmap must split a kernel mapping, which munmap refuses with ENOMEM.
 * The library does not crash; a refused shrink fails with the block intact;
 * a refused free still gives the memory back and is counted in
 * pagealloc_stats().unmap_failures.
 */
#define _GNU_SOURCE
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page;

static long max_map_count(void)
{
    long n = -1;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &n) != 1)
            n = -1;
        fclose(f);
    }
    return n;
}

/* True when no page of [p, p + len) is in physical memory. */
static bool not_resident(void *p, size_t len)
{
    static unsigned char vec[64];
    if (len / page > sizeof vec || mincore(p, len, vec) != 0)
        return false;
    for (size_t i = 0; i < len / page; i++)
        if (vec[i] & 1)
            return false;
    return true;
}

/*
 * Three blocks side by side, which the kernel merges into one mapping: low,
 * mid and high. Unmapping mid, or the tail of mid, splits that mapping.
 * The hint puts each new block right below the previous one.
 */
static bool map_three_adjacent(unsigned char **low, unsigned char **mid, unsigned char **high,
                               size_t len)
{
    for (int tries = 0; tries < 8; tries++) {
        *high = pagealloc_map(len, 1);
        *mid = pagealloc_map(len, 1);
        *low = pagealloc_map(len, 1);
        if (*high != NULL && *mid == *high - len && *low == *mid - len)
            return true;
        pagealloc_unmap(*high, len);
        pagealloc_unmap(*mid, len);
        pagealloc_unmap(*low, len);
    }
    return false;
}

/*
 * Takes every free slot of the mapping table: reserves a range and unmaps
 * every other page of it, each unmap adding one mapping, until the kernel
 * refuses. Returns the range, to be unmapped in one call.
 */
static unsigned char *fill_mapping_table(long max, size_t *len, long *added)
{
    *len = (size_t)(2 * max + 2) * page;
    unsigned char *r = mmap(NULL, *len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                            -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    *added = 0;
    for (long i = 0; i < max; i++) {
        if (munmap(r + (size_t)(2 * i + 1) * page, page) != 0)
            break;
        (*added)++;
    }
    return r;
}

static void at_the_mapping_limit(long max)
{
    size_t len = 8 * page;
    unsigned char *low, *mid, *high;
    bool adjacent = map_three_adjacent(&low, &mid, &high, len);
    CHECK(adjacent);
    if (!adjacent)
        return;
    support_fill(mid, len, 1);
    support_fill(low, len, 2);

    size_t filler_len;
    long added;
    unsigned char *filler = fill_mapping_table(max, &filler_len, &added);
    CHECK(filler != NULL);
    if (filler == NULL)
        return;
    /* Nothing below may print or allocate until the table is emptied. */

    /* Moving mid (its neighbour high is taken) must split the mapping: small
     * and large moves are refused, or done with the contents kept. */
    size_t mapped = pagealloc_stats().mapped_bytes;
    uint64_t failures_before_moves = pagealloc_stats().unmap_failures;
    const size_t move_to[] = {4 * len, (size_t)4 << 20};
    int moves_refused = 0;
    bool moves_clean = true;
    for (int i = 0; i < 2; i++) {
        errno = 0;
        unsigned char *q = pagealloc_realloc(mid, len, 1, move_to[i], true);
        if (q == NULL) {
            moves_refused++;
            moves_clean = moves_clean && errno == ENOMEM && support_has_pattern(mid, len, 1) &&
                          pagealloc_stats().mapped_bytes == mapped;
        } else {
            /* Put it back where the rest of the test expects it. */
            moves_clean = moves_clean && support_has_pattern(q, len, 1);
            moves_clean = moves_clean && pagealloc_realloc(q, move_to[i], 1, len, true) == q;
            mid = q;
            mapped = pagealloc_stats().mapped_bytes;
        }
    }

    uint64_t moves_left = pagealloc_stats().unmap_failures - failures_before_moves;

    /* Shrinking mid gives back its tail, in the middle of the mapping. */
    errno = 0;
    bool shrink_refused = pagealloc_realloc(mid, len, 1, len / 2, false) == NULL;
    int shrink_errno = errno;
    bool shrink_kept = support_has_pattern(mid, len, 1) && pagealloc_stats().mapped_bytes == mapped;

    /* Freeing mid splits the mapping too: refused, but its memory goes back. */
    uint64_t failures = pagealloc_stats().unmap_failures;
    errno = 0;
    pagealloc_unmap(mid, len);
    int free_errno = errno;
    bool free_counted = pagealloc_stats().unmap_failures == failures + 1;
    bool discarded = not_resident(mid, len) && support_all_zero(mid, len);
    bool still_reserved = support_range_mapped(mid, len);

    /* Freeing low (the end of the mapping) needs no split and succeeds. */
    pagealloc_unmap(low, len);
    bool low_freed = support_range_unmapped(low, len);

    /* New blocks may or may not fit; either way the answer is clean. */
    errno = 0;
    unsigned char *fresh = pagealloc_map(page, (size_t)1 << 21);
    int fresh_errno = errno;

    munmap(filler, filler_len);

    printf("  vm.max_map_count %ld: filled %ld slots; %d of 2 moves refused (%llu targets left "
           "reserved); shrink %s (errno %d), free %s (errno %d, memory %s), aligned map %s\n",
           max, added, moves_refused, (unsigned long long)moves_left,
           shrink_refused ? "refused" : "done", shrink_errno,
           free_counted ? "refused" : "done", free_errno, discarded ? "given back" : "kept",
           fresh != NULL ? "done" : "refused");
    CHECK(added > 0);
    CHECK(moves_clean && moves_refused == 2);
    /* A refused move onto a reservation cannot tell whether the kernel
     * unmapped the target: it leaves it and counts it, at most once a move. */
    CHECK(moves_left <= 1);
    CHECK(shrink_refused && shrink_errno == ENOMEM && shrink_kept);
    CHECK(free_counted && free_errno == ENOMEM && discarded && still_reserved);
    CHECK(low_freed);
    CHECK(fresh != NULL || fresh_errno == ENOMEM);
    pagealloc_unmap(fresh, page);

    /* With room in the table again, everything works as before. The refused
     * block's addresses stay reserved: the caller no longer owns them. */
    support_unmap(mid, len);
    CHECK(pagealloc_realloc(high, len, 1, len / 2, false) == high);
    pagealloc_unmap(high, len / 2);
    CHECK(support_range_unmapped(low, 3 * len));
    CHECK(pagealloc_stats().mapped_bytes == 0);
}

static void refused_shrink_and_free_at_the_mapping_limit_fail_cleanly(void)
{
    long max = max_map_count();
    /* TSan's runtime maps memory of its own as it goes, which a full table
     * refuses: it would abort the child, not the library. */
    if (SUPPORT_UNDER_TSAN || getenv("PAGEALLOC_UNDER_VALGRIND") != NULL) {
        /* valgrind keeps its own table of the client's mappings, with room
         * for fewer than vm.max_map_count. */
        check_skip("under ThreadSanitizer or valgrind");
        return;
    }
    if (max <= 0 || max > 1000000) {
        check_skip("vm.max_map_count unreadable or too large (%ld)", max);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        at_the_mapping_limit(max);
        fflush(stdout);
        check_exit(check_failures == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    page = pagealloc_page_size();
    RUN(refused_shrink_and_free_at_the_mapping_limit_fail_cleanly);
    return check_done();
}
