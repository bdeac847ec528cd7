# Install rules (PAGEALLOC_INSTALL): header, both libraries, a CMake package,
# pkg-config, the man pages with a .so link per function name; and CPack's
# DEB and TGZ packages of the same files when pagealloc is the top project.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/man.cmake)

install(FILES include/pagealloc.h include/pagealloc_version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS pagealloc pagealloc_static EXPORT pagealloc-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT pagealloc-targets NAMESPACE pagealloc::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pagealloc)
configure_package_config_file(cmake/pagealloc-config.cmake.in
  ${PROJECT_BINARY_DIR}/pagealloc-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pagealloc)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pagealloc-config-version.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pagealloc-config.cmake
  ${PROJECT_BINARY_DIR}/pagealloc-config-version.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pagealloc)

# pkg-config finds the prefix from the .pc file's own place, so the installed
# tree (or an unpacked package) can be moved.
file(RELATIVE_PATH PAGEALLOC_PC_PREFIX_FROM_PCDIR
  ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" PAGEALLOC_PC_PREFIX_FROM_PCDIR "${PAGEALLOC_PC_PREFIX_FROM_PCDIR}")
configure_file(cmake/pagealloc.pc.in ${PROJECT_BINARY_DIR}/pagealloc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pagealloc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Every man/*.3, and for each further name its NAME section lists, a page
# that is only `.so man3/PAGE.3`, so that `man 3 NAME` finds it.
file(GLOB PAGEALLOC_MAN_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.3)
foreach(page IN LISTS PAGEALLOC_MAN_PAGES)
  get_filename_component(page_name ${page} NAME_WE)
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
  pagealloc_man_names(${page} names)
  foreach(name IN LISTS names)
    if(NOT name STREQUAL page_name)
      file(WRITE ${PROJECT_BINARY_DIR}/man/${name}.3 ".so man3/${page_name}.3\n")
      install(FILES ${PROJECT_BINARY_DIR}/man/${name}.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
    endif()
  endforeach()
endforeach()

if(PAGEALLOC_IS_TOP_LEVEL)
  set(CPACK_PACKAGE_NAME libpagealloc-dev)
  set(CPACK_PACKAGE_VENDOR pagealloc)
  set(CPACK_PACKAGE_CONTACT "pagealloc developers")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY ${PROJECT_DESCRIPTION})
  set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
  set(CPACK_GENERATOR DEB TGZ)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6")
  include(CPack)
endif()
