# cmake -DLIB=<shared library> -DLIST=<exported-symbols.txt> -DNM=<nm>
#       -DOBJDUMP=<objdump> -DSONAME=<expected SONAME or empty> -P check_exports.cmake
# The shared library exports exactly the names in LIST (one per line, sorted):
# an accidental export or a removal fails. ELF: `nm -D`; a DLL: the export
# table from `objdump -p`. For ELF, also checks the SONAME.
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/exports.cmake)
pagealloc_exported_names(${LIB} "${NM}" "${OBJDUMP}" exported)
file(STRINGS ${LIST} expected)
set(extra ${exported})
list(REMOVE_ITEM extra ${expected})
set(missing ${expected})
list(REMOVE_ITEM missing ${exported})
if(extra OR missing)
  message(FATAL_ERROR "exported but not in ${LIST}: ${extra}\n"
    "in the list but not exported: ${missing}")
endif()
list(LENGTH exported n)
message(STATUS "${LIB}: exports the ${n} listed names")
if(SONAME)
  execute_process(COMMAND ${OBJDUMP} -p ${LIB} OUTPUT_VARIABLE dump RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT dump MATCHES "SONAME +([^\n]+)")
    message(FATAL_ERROR "no SONAME in ${LIB}")
  endif()
  if(NOT CMAKE_MATCH_1 STREQUAL SONAME)
    message(FATAL_ERROR "SONAME is ${CMAKE_MATCH_1}, expected ${SONAME}")
  endif()
  message(STATUS "SONAME ${SONAME}")
endif()
