/*
 * What the checked allocator needs from the system besides pages: a lock for
 * its table, and the return addresses of the calling stack. One small
 * implementation per system family, so that checked.c has no #ifdef.
 */
#ifndef PAGEALLOC_CHECKED_SYS_H
#define PAGEALLOC_CHECKED_SYS_H

#include <stddef.h>

/* The return address of the current function's call: where it was called
 * from, at no cost (NULL where the compiler cannot say). A macro, so that
 * it is evaluated in the function itself. */
#if defined(__GNUC__) || defined(__clang__)
#define PA_CALLER() __builtin_return_address(0)
#else
#define PA_CALLER() NULL
#endif

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

typedef SRWLOCK pa_lock;

static inline void pa_lock_init(pa_lock *l)
{
    InitializeSRWLock(l);
}

static inline void pa_lock_destroy(pa_lock *l)
{
    (void)l; /* an SRWLOCK holds no resource */
}

static inline void pa_lock_acquire(pa_lock *l)
{
    AcquireSRWLockExclusive(l);
}

static inline void pa_lock_release(pa_lock *l)
{
    ReleaseSRWLockExclusive(l);
}

/* Fills up to max return addresses, skipping the `skip` innermost frames. */
static inline size_t pa_stack_capture(void **frames, size_t max, unsigned skip)
{
    return RtlCaptureStackBackTrace(skip + 1, (DWORD)max, frames, NULL);
}

#else
#include <pthread.h>

typedef pthread_mutex_t pa_lock;

static inline void pa_lock_init(pa_lock *l)
{
    pthread_mutex_init(l, NULL);
}

static inline void pa_lock_destroy(pa_lock *l)
{
    pthread_mutex_destroy(l);
}

static inline void pa_lock_acquire(pa_lock *l)
{
    pthread_mutex_lock(l);
}

static inline void pa_lock_release(pa_lock *l)
{
    pthread_mutex_unlock(l);
}

#ifdef PAGEALLOC_HAVE_BACKTRACE
#include <execinfo.h>

static inline size_t pa_stack_capture(void **frames, size_t max, unsigned skip)
{
    void *all[32];
    int n = backtrace(all, (int)(max + skip + 1 < 32 ? max + skip + 1 : 32));
    size_t got = 0;
    for (int i = (int)skip + 1; i < n && got < max; i++)
        frames[got++] = all[i];
    return got;
}
#else
/* No way to walk the stack here (e.g. musl): reports name no stack. */
static inline size_t pa_stack_capture(void **frames, size_t max, unsigned skip)
{
    (void)frames, (void)max, (void)skip;
    return 0;
}
#endif
#endif

#endif
