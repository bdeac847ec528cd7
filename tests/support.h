/* What the tests need to know about the address space, from outside the
 * library: one implementation per OS family (support_posix.c, ...). */
#ifndef PAGEALLOC_TEST_SUPPORT_H
#define PAGEALLOC_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The page size as the system reports it, not as the library does. */
size_t support_page_size(void);

/* True when every page of [p, p + len) is mapped (any protection). */
bool support_range_mapped(const void *p, size_t len);

/* True when no page of [p, p + len) is mapped. */
bool support_range_unmapped(const void *p, size_t len);

/* Maps exactly [p, p + len) read-write, outside the library, to occupy a
 * range; false if it is already taken. Undo with support_unmap. */
bool support_map_at(void *p, size_t len);
void support_unmap(void *p, size_t len);

/* Whether this build can move a block without copying (Linux with mremap). */
bool support_can_move(void);

/* The total size of every mapping in the process, to see that a failed call
 * left nothing behind. Read it once before the baseline (the first read may
 * map the C library's buffers). */
size_t support_mapped_bytes(void);

/*
 * Whether the tests run under qemu-user, whose emulation of the address
 * space differs from a kernel's in ways a few tests must allow for:
 * - it places the guest's stack low, below the blocks it maps later;
 * - its mremap with MREMAP_MAYMOVE always moves, even when the block could
 *   grow in place.
 */
bool support_under_qemu(void);

/* Byte patterns: fill with a pattern derived from seed, check it, check zero. */
static inline unsigned char support_pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

static inline void support_fill(void *p, size_t len, unsigned seed)
{
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        b[i] = support_pattern(i, seed);
}

static inline bool support_has_pattern(const void *p, size_t len, unsigned seed)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != support_pattern(i, seed))
            return false;
    return true;
}

static inline bool support_all_zero(const void *p, size_t len)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static inline bool support_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

#endif
