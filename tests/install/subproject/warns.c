/* Code that -Wconversion (the library's own flag) would warn about: it must
 * compile cleanly here, where only the consumer's flags apply. */
#include <stddef.h>

int consumer_narrow(size_t n);

int consumer_narrow(size_t n)
{
    int small = n;
    return small;
}
