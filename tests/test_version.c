/* Versioning: the header's macros, the library's pagealloc_version() and the
 * CMake project's version, which CMakeLists.txt reads from
 * include/pagealloc_version.h (passed in as PAGEALLOC_TEST_PROJECT_VERSION),
 * are one version. Linked with the shared library, the one a program loads. */
#include "check.h"
#include "pagealloc.h"

#include <stdio.h>
#include <string.h>

/* The number must be usable in #if. */
#if !(PAGEALLOC_VERSION >= 0)
#error "PAGEALLOC_VERSION is not a preprocessor number"
#endif

static void header_macros_are_the_cmake_project_version(void)
{
    char built[32];
    snprintf(built, sizeof built, "%d.%d.%d", PAGEALLOC_VERSION_MAJOR, PAGEALLOC_VERSION_MINOR,
             PAGEALLOC_VERSION_PATCH);
    CHECK(strcmp(built, PAGEALLOC_TEST_PROJECT_VERSION) == 0);
    CHECK(strcmp(PAGEALLOC_VERSION_STRING, PAGEALLOC_TEST_PROJECT_VERSION) == 0);
}

static void version_number_holds_major_minor_and_patch(void)
{
    CHECK(PAGEALLOC_VERSION_MINOR < 100 && PAGEALLOC_VERSION_PATCH < 100);
    CHECK(PAGEALLOC_VERSION / 10000 == PAGEALLOC_VERSION_MAJOR);
    CHECK(PAGEALLOC_VERSION / 100 % 100 == PAGEALLOC_VERSION_MINOR);
    CHECK(PAGEALLOC_VERSION % 100 == PAGEALLOC_VERSION_PATCH);
}

static void library_reports_the_version_it_was_built_as(void)
{
    CHECK(pagealloc_version() == (unsigned int)PAGEALLOC_VERSION);
}

int main(void)
{
    RUN(header_macros_are_the_cmake_project_version);
    RUN(version_number_holds_major_minor_and_patch);
    RUN(library_reports_the_version_it_was_built_as);
    return check_done();
}
