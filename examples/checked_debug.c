/* Switching the checked allocator on in a debug build: the program takes
 * its allocator from one place, which in a debug build (no NDEBUG, or
 * USE_CHECKED_ALLOCATOR=1 as the test suite builds it) is the checker over
 * the page allocator, with guard pages and a quarantine. A misuse then
 * aborts with a line naming it; a leak is printed at exit. */
#include <pagealloc.h>

#include <stdio.h>
#include <string.h>

#ifndef USE_CHECKED_ALLOCATOR
#ifdef NDEBUG
#define USE_CHECKED_ALLOCATOR 0
#else
#define USE_CHECKED_ALLOCATOR 1
#endif
#endif

static pagealloc_checked *checker;

static pagealloc_allocator program_allocator(void)
{
#if USE_CHECKED_ALLOCATOR
    if (checker == NULL)
        checker = pagealloc_checked_create(pagealloc_page_allocator(),
                                           PAGEALLOC_CHECK_GUARD | PAGEALLOC_CHECK_QUARANTINE,
                                           NULL /* print and abort */, NULL);
    if (checker != NULL)
        return pagealloc_checked_allocator(checker);
#endif
    return pagealloc_page_allocator();
}

/* At exit: 0 leaks, or the count (each one printed by the checker). */
static size_t program_allocator_done(void)
{
    return pagealloc_checked_destroy(checker);
}

int main(void)
{
    pagealloc_allocator a = program_allocator();
    size_t len = 100;
    char *text = pagealloc_alloc(a, len, 1);
    if (text == NULL)
        return 1;
    strcpy(text, "hello");
    /* Grow it: every call names the length the block has now. */
    char *grown = pagealloc_remap(a, text, len, 1, 100000);
    if (grown != NULL) {
        text = grown;
        len = 100000;
    }
    printf("%s, from a %zu-byte block%s\n", text, len,
           checker != NULL ? " checked by pagealloc_checked" : "");
    pagealloc_free(a, text, len, 1); /* with 100 here, the checker would abort */
    return program_allocator_done() == 0 && (checker != NULL) == USE_CHECKED_ALLOCATOR ? 0 : 1;
}
