# cmake -DLIB=<shared library> -DNM=<nm> -DOBJDUMP=<objdump> -DHEADER=<pagealloc.h>
#       -DMAN_DIR=<man> -P check_man_coverage.cmake
# Every function the library exports, and every inline helper the header
# defines, is a name some man page lists in its NAME section (.Nm), so that
# `man 3 NAME` finds it once installed.
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/exports.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/man.cmake)
pagealloc_exported_names(${LIB} "${NM}" "${OBJDUMP}" wanted)
file(STRINGS ${HEADER} inline_lines REGEX "^static inline .*[ *]pagealloc_[a-z_]+\\(")
foreach(line IN LISTS inline_lines)
  string(REGEX MATCH "pagealloc_[a-z_]+\\(" name "${line}")
  string(REPLACE "(" "" name "${name}")
  list(APPEND wanted ${name})
endforeach()
file(GLOB pages ${MAN_DIR}/*.3)
set(documented "")
foreach(page IN LISTS pages)
  pagealloc_man_names(${page} names)
  list(APPEND documented ${names})
endforeach()
set(missing ${wanted})
list(REMOVE_ITEM missing ${documented})
if(missing)
  message(FATAL_ERROR "no man page lists (.Nm) these functions: ${missing}")
endif()
list(LENGTH wanted n)
message(STATUS "all ${n} public functions have a man page: ${wanted}")
