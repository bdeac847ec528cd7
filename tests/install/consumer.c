/* Links against pagealloc as a consumer would (installed, unpacked from a
 * package, or built as a subproject), checks it runs the library version its
 * header names, and makes one round trip. */
#include <pagealloc.h>

int main(void)
{
    if (pagealloc_version() != PAGEALLOC_VERSION)
        return 1;
    size_t page = pagealloc_page_size();
    unsigned char *p = pagealloc_map(page, 1 << 16);
    if (p == NULL || ((size_t)p & 0xffff) != 0)
        return 1;
    p[page - 1] = 1;
    p = pagealloc_realloc(p, page, 1 << 16, 4 * page, true);
    if (p == NULL || p[page - 1] != 1 || p[4 * page - 1] != 0)
        return 1;
    pagealloc_unmap(p, 4 * page);
    return pagealloc_stats().mapped_bytes == 0 ? 0 : 1;
}
