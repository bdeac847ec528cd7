/* fork() and the caching allocator: the child has a working cache holding
 * its copies of the parent's cached blocks, and a background thread again;
 * forking while other threads use the cache deadlocks nothing. POSIX only. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "pagealloc.h"
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t page;

static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Runs child() in a child process with a deadline; true if it exited 0. */
static bool in_child(int (*child)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60); /* a deadlock fails the test instead of hanging it */
        _exit(child());
    }
    int status;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid)
        return false;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFEXITED(status))
        fprintf(stderr, "  child %d exited with %d\n", (int)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "  child %d killed by signal %d\n", (int)pid, WTERMSIG(status));
    return false;
}

static pagealloc_cache *cache;
static unsigned char *cached_block;

/* Under ASan, waits until the cache's background thread has run (so its
 * start-up is over) before a fork. A new thread's start-up mallocs inside
 * the C library and ASan (pthread_getattr_np's calloc and free), and GCC
 * 12's libasan takes no lock of its allocator around fork: a fork in the
 * middle leaves a size class's lock held forever in the child, whose own
 * thread start then waits on it (a program without pagealloc does the same:
 * docs/cache.md, "fork"). Natively glibc's malloc is fork-safe: no wait. */
static void let_the_cache_thread_start(void)
{
    for (int i = 0; SUPPORT_UNDER_ASAN && i < 3000; i++) {
        if (pagealloc_cache_stats(cache).wakeups != 0)
            return;
        sleep_ms(1);
    }
}

static int child_reuses_and_purges(void)
{
    pagealloc_allocator a = pagealloc_cache_allocator(cache);
    /* The parent's cached block is the child's copy, served as a hit. */
    if (pagealloc_alloc(a, 5 * page, 1) != cached_block)
        return 1;
    if (!support_has_pattern(cached_block, 5 * page, 5))
        return 2;
    pagealloc_free(a, cached_block, 5 * page, 1);
    /* A new background thread gives it back with no further call. */
    for (int i = 0; i < 3000; i++) {
        if (pagealloc_cache_stats(cache).cached_bytes == 0)
            return support_range_unmapped(cached_block, 5 * page) ? 0 : 3;
        sleep_ms(10);
    }
    return 4;
}

static void the_child_has_a_working_cache_and_thread(void)
{
    /* A decay far longer than the fork takes: the child's hit needs the
     * block still cached (with 20 ms, the wait for the thread under ASan
     * on a loaded machine let the parent's thread purge it first). */
    struct pagealloc_cache_options o = {0, 1000, 0};
    cache = pagealloc_cache_create(&o);
    CHECK(cache != NULL);
    if (cache == NULL)
        return;
    pagealloc_allocator a = pagealloc_cache_allocator(cache);
    /* The block the child finds cached, filled with a pattern. */
    cached_block = pagealloc_alloc(a, 5 * page, 1);
    CHECK(cached_block != NULL);
    if (cached_block == NULL)
        return;
    support_fill(cached_block, 5 * page, 5);
    pagealloc_free(a, cached_block, 5 * page, 1);
    let_the_cache_thread_start();
    CHECK(in_child(child_reuses_and_purges));
    /* The parent's cache is as it was, and purges on its own too. */
    bool emptied = false;
    for (int i = 0; i < 3000 && !emptied; i++) {
        emptied = pagealloc_cache_stats(cache).cached_bytes == 0;
        sleep_ms(10);
    }
    CHECK(emptied);
    pagealloc_cache_destroy(cache);
}

static atomic_bool stop;
static atomic_int churning; /* threads past their start-up */

static void *churn(void *arg)
{
    pagealloc_allocator a = pagealloc_cache_allocator(arg);
    unsigned state = 3;
    atomic_fetch_add(&churning, 1);
    while (!atomic_load(&stop)) {
        size_t len = (1 + support_rand(&state) % 8) * page;
        unsigned char *p = pagealloc_alloc(a, len, 1);
        if (p != NULL) {
            p[0] = 1;
            pagealloc_free(a, p, len, 1);
        }
    }
    return NULL;
}

static int child_allocates(void)
{
    pagealloc_allocator a = pagealloc_cache_allocator(cache);
    for (int i = 0; i < 100; i++) {
        unsigned char *p = pagealloc_alloc(a, (size_t)(1 + i % 8) * page, 1);
        if (p == NULL)
            return 1;
        p[0] = 1;
        pagealloc_free(a, p, (size_t)(1 + i % 8) * page, 1);
    }
    pagealloc_cache_destroy(cache);
    return 0;
}

static int threads;
static pthread_t thread[2];

/* A cache whose thread is busy purging (decay 1 ms), and two threads
 * running body on it; false (and no cache) if it cannot be made. */
static bool start_threads(void *(*body)(void *))
{
    struct pagealloc_cache_options o = {0, 1, 0};
    cache = pagealloc_cache_create(&o);
    CHECK(cache != NULL);
    if (cache == NULL)
        return false;
    atomic_store(&stop, false);
    atomic_store(&churning, 0);
    threads = 0;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&thread[threads], NULL, body, cache) == 0)
            threads++;
    CHECK(threads == 2);
    /* Under ASan no fork in the middle of a thread's start-up (see
     * let_the_cache_thread_start); natively the first forks race them. */
    while (SUPPORT_UNDER_ASAN && atomic_load(&churning) < threads)
        sleep_ms(1);
    let_the_cache_thread_start();
    return true;
}

static void stop_threads(void)
{
    atomic_store(&stop, true);
    for (int i = 0; i < threads; i++)
        pthread_join(thread[i], NULL);
    pagealloc_cache_destroy(cache);
}

static void forking_while_threads_use_the_cache_deadlocks_nothing(void)
{
    if (!start_threads(churn))
        return;
    for (int i = 0; i < 20; i++)
        CHECK(in_child(child_allocates));
    stop_threads();
}

/* Frees batches of touched blocks, so that the background thread (decay
 * 1 ms) is often unmapping a batch of them when the main thread forks. */
static void *free_batches(void *arg)
{
    pagealloc_allocator a = pagealloc_cache_allocator(arg);
    unsigned char *p[48];
    atomic_fetch_add(&churning, 1);
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 48; i++) {
            p[i] = pagealloc_alloc(a, 8 * page, 1);
            if (p[i] != NULL)
                memset(p[i], 1, 8 * page);
        }
        for (int i = 0; i < 48; i++)
            if (p[i] != NULL)
                pagealloc_free(a, p[i], 8 * page, 1);
        sleep_ms(2);
    }
    return NULL;
}

static int child_trims_to_nothing(void)
{
    /* No block of the child's is live: trim leaves the cache empty. */
    pagealloc_cache_trim(cache);
    return pagealloc_cache_stats(cache).cached_bytes == 0 ? 0 : 1;
}

static void a_child_forked_while_the_thread_unmaps_holds_no_bytes_after_trim(void)
{
    if (!start_threads(free_batches))
        return;
    /* Before the fix about one fork in three caught a batch in flight. */
    int failed = 0;
    for (int i = 0; i < 40; i++) {
        sleep_ms(1);
        failed += !in_child(child_trims_to_nothing);
    }
    CHECK(failed == 0);
    stop_threads();
}

/* The program's own fork handlers, registered before its first cache,
 * allocate from it: before the parent forks and in the child. */
static void use_the_cache(void)
{
    pagealloc_allocator a = pagealloc_cache_allocator(cache);
    unsigned char *p = pagealloc_alloc(a, page, 1);
    if (p != NULL)
        pagealloc_free(a, p, page, 1);
}

static void child_handler(void)
{
    alarm(60); /* the alarm of the process that forked is not inherited */
    use_the_cache();
}

static int fork_with_handlers_that_use_the_cache(void)
{
    pthread_atfork(use_the_cache, NULL, child_handler);
    cache = pagealloc_cache_create(NULL);
    if (cache == NULL)
        return 1;
    use_the_cache();
    let_the_cache_thread_start();
    return in_child(child_allocates) ? 0 : 2;
}

static void fork_handlers_the_program_registered_first_may_use_the_cache(void)
{
    /* In a child of its own: the handlers stay registered there, and no
     * cache has been created in this process yet (main runs this first). */
    CHECK(in_child(fork_with_handlers_that_use_the_cache));
}

int main(void)
{
    page = pagealloc_page_size();
    if (SUPPORT_UNDER_TSAN) {
        /* Its runtime kills a child of a threaded process that starts a
         * thread, as the child's cache does. */
        check_skip("ThreadSanitizer kills a forked child that starts a thread");
        return check_done();
    }
    RUN(fork_handlers_the_program_registered_first_may_use_the_cache); /* first */
    RUN(the_child_has_a_working_cache_and_thread);
    RUN(forking_while_threads_use_the_cache_deadlocks_nothing);
    RUN(a_child_forked_while_the_thread_unmaps_holds_no_bytes_after_trim);
    return check_done();
}
