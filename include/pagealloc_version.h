/* pagealloc's version: the one place it is written. CMakeLists.txt reads it
 * from here (the project version, the SONAME, pkg-config, the packages), and
 * pagealloc.h includes it. MINOR and PATCH stay below 100 (PAGEALLOC_VERSION
 * packs each into two decimal digits); _STRING is the three joined by dots. */
#ifndef PAGEALLOC_VERSION_H
#define PAGEALLOC_VERSION_H

#define PAGEALLOC_VERSION_MAJOR 0
#define PAGEALLOC_VERSION_MINOR 1
#define PAGEALLOC_VERSION_PATCH 0
#define PAGEALLOC_VERSION_STRING "0.1.0"

#endif
