/*
 * cache_os.h for POSIX systems: pthreads, clock_gettime and pthread_atfork.
 */
#define _GNU_SOURCE /* CLOCK_MONOTONIC_COARSE */
#include "cache_os.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

/* The coarse clocks read the time of the last tick without asking the
 * hardware: about 9 ns against 44 ns for CLOCK_MONOTONIC here. */
#if defined(CLOCK_MONOTONIC_COARSE)
#define COARSE_CLOCK CLOCK_MONOTONIC_COARSE
#elif defined(CLOCK_MONOTONIC_FAST)
#define COARSE_CLOCK CLOCK_MONOTONIC_FAST
#else
#define COARSE_CLOCK CLOCK_MONOTONIC
#endif

uint64_t pa_cache_now_ms(void)
{
    struct timespec t;
    if (clock_gettime(COARSE_CLOCK, &t) != 0)
        clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u + 1u;
}

void pa_cache_yield(void)
{
    sched_yield();
}

/* Timed waits measure on CLOCK_MONOTONIC where the condition can be told to
 * (not macOS, which has a relative wait instead), so that setting the
 * wall clock neither shortens nor stretches them. */
int pa_cache_waiter_init(pa_cache_waiter *w)
{
    int err = pthread_mutex_init(&w->lock, NULL);
    if (err != 0)
        return err;
    pthread_condattr_t attr;
    err = pthread_condattr_init(&attr);
    if (err == 0) {
#ifndef __APPLE__
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
        if (err == 0)
            err = pthread_cond_init(&w->cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (err != 0)
        pthread_mutex_destroy(&w->lock);
    return err;
}

void pa_cache_waiter_destroy(pa_cache_waiter *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

void pa_cache_waiter_lock(pa_cache_waiter *w)
{
    pthread_mutex_lock(&w->lock);
}

void pa_cache_waiter_unlock(pa_cache_waiter *w)
{
    pthread_mutex_unlock(&w->lock);
}

void pa_cache_wait(pa_cache_waiter *w, unsigned timeout_ms)
{
    if (timeout_ms == 0) {
        pthread_cond_wait(&w->cond, &w->lock);
        return;
    }
    struct timespec t;
#ifdef __APPLE__
    t.tv_sec = timeout_ms / 1000u;
    t.tv_nsec = (long)(timeout_ms % 1000u) * 1000000L;
    pthread_cond_timedwait_relative_np(&w->cond, &w->lock, &t);
#else
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(timeout_ms / 1000u);
    t.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&w->cond, &w->lock, &t);
#endif
}

void pa_cache_signal(pa_cache_waiter *w)
{
    pthread_cond_signal(&w->cond);
}

int pa_cache_waiter_after_fork(pa_cache_waiter *w)
{
    pthread_mutex_unlock(&w->lock);
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err != 0)
        return err;
#ifndef __APPLE__
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
    if (err == 0)
        err = pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    return err;
}

#ifdef PAGEALLOC_FAULT_INJECTION
static unsigned failing_starts;
static int failing_err;

void pa_cache_fail_thread_starts(unsigned count, int err)
{
    failing_starts = count;
    failing_err = err;
}
#endif

static void *run(void *arg)
{
    pa_cache_thread_main(arg);
    return NULL;
}

/* The thread runs the code of the object holding the library (the shared
 * library, or a program or plugin linked with the static one): dlclose must
 * no longer unmap it, or the thread's next instruction faults (it did, with
 * a cache not destroyed before dlclose). Nothing to pin in a program. */
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;

static void pin_library(void)
{
    Dl_info info;
    if (dladdr(&pin_once, &info) != 0 && info.dli_fname != NULL && info.dli_fname[0] != '\0')
        dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

int pa_cache_thread_start(pa_cache_thread *t, void *arg)
{
#ifdef PAGEALLOC_FAULT_INJECTION
    if (failing_starts > 0) {
        failing_starts--;
        return failing_err;
    }
#endif
    pthread_once(&pin_once, pin_library);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(t, NULL, run, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

void pa_cache_thread_join(pa_cache_thread t)
{
    pthread_join(t, NULL);
}

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;

void pa_cache_registry_lock(void)
{
    pthread_mutex_lock(&registry);
}

void pa_cache_registry_unlock(void)
{
    pthread_mutex_unlock(&registry);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void register_fork(void)
{
    pthread_atfork(pa_cache_fork_prepare, pa_cache_fork_parent, pa_cache_fork_child);
}

void pa_cache_on_fork(void)
{
    pthread_once(&fork_once, register_fork);
}

/* Handlers registered later run their prepare first and their child last:
 * registered at the first create, the cache's came after any the program
 * had registered by then, and one of those that allocated from the cache
 * deadlocked fork on a shard lock. Where there are no constructors the
 * first create registers them. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor)) static void register_fork_at_load(void)
{
    pa_cache_on_fork();
}
#endif
