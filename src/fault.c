/*
 * Failure injection for tests (fault.h), built only with
 * PAGEALLOC_FAULT_INJECTION: pa_sys_enter() asks pa_fault_check() before each
 * system call whether to fail it.
 */
#include "fault.h"

#include <stdatomic.h>

static _Atomic int fault_err; /* 0: disarmed */
static _Atomic int fault_kind;
static _Atomic uint64_t fault_first, fault_last, fault_seen, fault_injected;
static _Atomic uintptr_t fault_site;
static _Atomic(pa_fault_hole_fn) hole_hook;
static _Atomic unsigned moved_mappings;

/* One thread's own arming (pa_fault_arm_thread): only it reads and writes it. */
struct thread_fault {
    int err, kind;
    uint64_t first, last, seen, injected;
};
static _Thread_local struct thread_fault thread_fault;

static uint64_t last_call(uint64_t first, uint64_t count)
{
    return count > UINT64_MAX - first ? UINT64_MAX : first + count - 1;
}

void pa_fault_arm(enum pa_sys kind, uint64_t first, uint64_t count, int err)
{
    atomic_store(&fault_err, 0);
    atomic_store(&fault_kind, (int)kind);
    atomic_store(&fault_first, first);
    atomic_store(&fault_last, last_call(first, count));
    atomic_store(&fault_seen, 0);
    atomic_store(&fault_injected, 0);
    atomic_store(&fault_site, 0);
    atomic_store(&fault_err, count != 0 ? err : 0);
}

void pa_fault_disarm(void)
{
    atomic_store(&fault_err, 0);
}

void pa_fault_arm_thread(enum pa_sys kind, uint64_t first, uint64_t count, int err)
{
    struct thread_fault t = {count != 0 ? err : 0, (int)kind, first, last_call(first, count), 0, 0};
    thread_fault = t;
}

void pa_fault_disarm_thread(void)
{
    thread_fault.err = 0;
}

uint64_t pa_fault_thread_injected(void)
{
    return thread_fault.injected;
}

uint64_t pa_fault_seen(void)
{
    return atomic_load(&fault_seen);
}

uint64_t pa_fault_injected(void)
{
    return atomic_load(&fault_injected);
}

uintptr_t pa_fault_last_site(void)
{
    return atomic_load(&fault_site);
}

void pa_fault_set_hole_hook(pa_fault_hole_fn hook)
{
    atomic_store(&hole_hook, hook);
}

void pa_fault_set_moved_mappings(unsigned k)
{
    atomic_store(&moved_mappings, k);
}

unsigned pa_fault_moved_mappings(void)
{
    return atomic_load(&moved_mappings);
}

void pa_fault_hole(void *addr, size_t len)
{
    pa_fault_hole_fn hook = atomic_load(&hole_hook);
    if (hook != NULL)
        hook(addr, len);
}

static int thread_check(enum pa_sys kind)
{
    struct thread_fault *t = &thread_fault;
    if (t->kind != PA_SYS_KINDS && t->kind != (int)kind)
        return 0;
    uint64_t n = ++t->seen;
    if (n < t->first || n > t->last)
        return 0;
    t->injected++;
    return t->err;
}

int pa_fault_check(enum pa_sys kind, uintptr_t site)
{
    if (thread_fault.err != 0)
        return thread_check(kind);
    int err = atomic_load_explicit(&fault_err, memory_order_relaxed);
    if (err == 0)
        return 0;
    int armed = atomic_load(&fault_kind);
    if (armed != PA_SYS_KINDS && armed != (int)kind)
        return 0;
    uint64_t n = atomic_fetch_add(&fault_seen, 1) + 1;
    if (n < atomic_load(&fault_first) || n > atomic_load(&fault_last))
        return 0;
    atomic_fetch_add(&fault_injected, 1);
    atomic_store(&fault_site, site);
    return err;
}
