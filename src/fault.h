/*
 * Test-only failure injection, compiled in only with PAGEALLOC_FAULT_INJECTION
 * (never in release builds). Every system call the OS files make goes through
 * pa_sys_enter() first; once armed, it makes chosen calls fail with a chosen
 * errno without making them, so tests can walk every error path of the OS
 * files without a real shortage of memory.
 */
#ifndef PAGEALLOC_FAULT_H
#define PAGEALLOC_FAULT_H

#include "os.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Counting from 1 the system calls of `kind` made from now on (PA_SYS_KINDS:
 * of every kind), calls number first .. first + count - 1 fail with `err`
 * (count UINT64_MAX: every call from `first` on). Process-wide; arm and
 * disarm it from one thread while no other thread calls the library.
 */
void pa_fault_arm(enum pa_sys kind, uint64_t first, uint64_t count, int err);

/* Stops failing calls; the counters below keep their values until re-armed. */
void pa_fault_disarm(void);

/*
 * The same, for the calling thread's system calls only, so that one thread
 * can drive failure paths while others use the library undisturbed. Armed
 * for a thread, its calls do not count towards the process-wide arming.
 * pa_fault_thread_injected() counts the calling thread's failed calls since
 * it was last armed.
 */
void pa_fault_arm_thread(enum pa_sys kind, uint64_t first, uint64_t count, int err);
void pa_fault_disarm_thread(void);
uint64_t pa_fault_thread_injected(void);

/*
 * Sets the function (NULL: none) told of each range that has just left the
 * library's hands where another thread could take it before the library's
 * next call: the range an injected failure of a MAP_FIXED mmap or of mremap
 * onto a fixed address unmaps (as the kernel may), and on Windows each
 * released reservation. A
 * test's hook may map that range itself, as a racing thread could, and check
 * later that the library left it alone. Process-wide; set it while no other
 * thread calls the library.
 */
typedef void (*pa_fault_hole_fn)(void *addr, size_t len);
void pa_fault_set_hole_hook(pa_fault_hole_fn hook);

/* For the OS files: tells the hook (if any) of such a range. */
void pa_fault_hole(void *addr, size_t len);

/*
 * How many of its mappings an injected failure of a same-size mremap onto a
 * fixed address (a move) really moves to the target first, never the last
 * one: Linux 6.17 and later move a range of several mappings one at a time
 * and, when they refuse one part-way, leave the earlier ones moved. 0 (the
 * default): none, as before 6.17; the target is then treated as unmapped.
 * Process-wide; set it while no other thread calls the library.
 */
void pa_fault_set_moved_mappings(unsigned k);
unsigned pa_fault_moved_mappings(void);

/* Calls of the armed kind seen since pa_fault_arm, failed or not. */
uint64_t pa_fault_seen(void);

/* Calls failed since pa_fault_arm. */
uint64_t pa_fault_injected(void);

/* The code address the last failed call was made from (its call site in the
 * OS file, after inlining), or 0: lets a test count the sites it reached. */
uintptr_t pa_fault_last_site(void);

/* For pa_sys_enter(): the errno to fail this call of `kind`, made from code
 * address `site`, with, or 0 to make it. */
int pa_fault_check(enum pa_sys kind, uintptr_t site);

#endif
