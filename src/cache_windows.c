/*
 * cache_os.h for Windows: SRW locks, condition variables, a thread of its
 * own, GetTickCount64. There is no fork.
 */
#include "cache_os.h"

#include <errno.h>

uint64_t pa_cache_now_ms(void)
{
    return GetTickCount64() + 1u; /* a memory read; 10-16 ms resolution */
}

void pa_cache_yield(void)
{
    SwitchToThread();
}

int pa_cache_waiter_init(pa_cache_waiter *w)
{
    InitializeSRWLock(&w->lock);
    InitializeConditionVariable(&w->cond);
    return 0;
}

void pa_cache_waiter_destroy(pa_cache_waiter *w)
{
    (void)w; /* neither holds a resource */
}

void pa_cache_waiter_lock(pa_cache_waiter *w)
{
    AcquireSRWLockExclusive(&w->lock);
}

void pa_cache_waiter_unlock(pa_cache_waiter *w)
{
    ReleaseSRWLockExclusive(&w->lock);
}

void pa_cache_wait(pa_cache_waiter *w, unsigned timeout_ms)
{
    SleepConditionVariableSRW(&w->cond, &w->lock, timeout_ms == 0 ? INFINITE : timeout_ms, 0);
}

void pa_cache_signal(pa_cache_waiter *w)
{
    WakeConditionVariable(&w->cond);
}

int pa_cache_waiter_after_fork(pa_cache_waiter *w)
{
    (void)w;
    return 0;
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

static const char pin_anchor = 0; /* an address in this module */

static DWORD WINAPI run(LPVOID arg)
{
    pa_cache_thread_main(arg);
    return 0;
}

int pa_cache_thread_start(pa_cache_thread *t, void *arg)
{
#ifdef PAGEALLOC_FAULT_INJECTION
    if (failing_starts > 0) {
        failing_starts--;
        return failing_err;
    }
#endif
    /* The thread runs this module's code: FreeLibrary must no longer unload
     * it (the DLL, or a DLL linked with the static library). */
    HMODULE self;
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                       (LPCWSTR)(const void *)&pin_anchor, &self);
    /* A small stack: the thread only walks the cache's lists. */
    HANDLE h = CreateThread(NULL, 64 * 1024, run, arg, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (h == NULL)
        return EAGAIN;
    *t = h;
    return 0;
}

void pa_cache_thread_join(pa_cache_thread t)
{
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}

static SRWLOCK registry = SRWLOCK_INIT;

void pa_cache_registry_lock(void)
{
    AcquireSRWLockExclusive(&registry);
}

void pa_cache_registry_unlock(void)
{
    ReleaseSRWLockExclusive(&registry);
}

void pa_cache_on_fork(void)
{
}
