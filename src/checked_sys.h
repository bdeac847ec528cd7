/*
 * What the checked allocator needs from the system besides pages: a lock for
 * its table, the return addresses of the calling stack, and a copy that
 * does not fault on pages the caller made unreadable. One small
 * implementation per system family, so that checked.c has no #ifdef.
 */
#ifndef PAGEALLOC_CHECKED_SYS_H
#define PAGEALLOC_CHECKED_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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

/* Copies len bytes from src to dst (read-write) if every page of src can be
 * read: committed, with read access and no PAGE_GUARD. False otherwise,
 * with nothing read. */
static inline bool pa_copy_readable(void *dst, const void *src, size_t len)
{
    const DWORD readable = PAGE_READONLY | PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READ |
                           PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
    const char *p = (const char *)src, *end = p + len;
    while (p < end) {
        MEMORY_BASIC_INFORMATION info;
        if (VirtualQuery(p, &info, sizeof info) == 0 || info.State != MEM_COMMIT ||
            (info.Protect & readable) == 0 || (info.Protect & PAGE_GUARD) != 0)
            return false;
        p = (const char *)info.BaseAddress + info.RegionSize;
    }
    memcpy(dst, src, len);
    return true;
}

#else
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

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

/*
 * Copies len bytes from src to dst (read-write) if every page of src can be
 * read; false otherwise (dst then holds part of the copy). The bytes go
 * through a pipe: the kernel answers EFAULT for a page it cannot read where
 * a plain copy would fault (a portable probe; mincore does not see access).
 */
static inline bool pa_copy_readable(void *dst, const void *src, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    bool ok = fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0;
    const char *from = (const char *)src;
    char *to = (char *)dst;
    /* An empty pipe takes at least one byte, so no write waits. */
    while (ok && len > 0) {
        ssize_t in = write(fds[1], from, len < 65536 ? len : 65536);
        ok = in > 0;
        for (ssize_t done = 0, out; ok && done < in; done += out)
            ok = (out = read(fds[0], to + done, (size_t)(in - done))) > 0;
        if (ok) {
            from += in;
            to += in;
            len -= (size_t)in;
        }
    }
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    errno = err;
    return ok;
}
#endif

#endif
