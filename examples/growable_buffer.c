/* A growable byte buffer on pagealloc: it grows by remapping, so its bytes
 * are never copied, and it gives every page back when freed. */
#include <pagealloc.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    pagealloc_allocator a = pagealloc_page_allocator();
    size_t cap = pagealloc_page_size(), len = 0;
    char *buf = pagealloc_alloc(a, cap, 1);
    if (buf == NULL)
        return 1;
    for (int i = 0; i < 100000; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        if (len + (size_t)n > cap) {
            char *grown = pagealloc_remap(a, buf, cap, 1, 2 * cap);
            if (grown == NULL) {
                /* No way to grow without copying: copy, as any allocator would. */
                grown = pagealloc_alloc(a, 2 * cap, 1);
                if (grown == NULL)
                    return 1;
                memcpy(grown, buf, len);
                pagealloc_free(a, buf, cap, 1);
            }
            buf = grown;
            cap *= 2;
        }
        memcpy(buf + len, line, (size_t)n);
        len += (size_t)n;
    }
    int ok = memcmp(buf + len - 11, "line 99999\n", 11) == 0;
    printf("%zu bytes in a %zu-byte buffer\n", len, cap);
    pagealloc_free(a, buf, cap, 1);
    return ok && pagealloc_stats().mapped_bytes == 0 ? 0 : 1;
}
