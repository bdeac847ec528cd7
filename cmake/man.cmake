# pagealloc_man_names(PAGE OUT): the names a man page's NAME section lists with
# .Nm, in order. Used to install a .so link per name and by the test that every
# public function has a page (tests/check_man_coverage.cmake).
function(pagealloc_man_names page out)
  file(STRINGS ${page} lines)
  set(names "")
  set(in_name FALSE)
  foreach(line IN LISTS lines)
    if(line MATCHES "^\\.Sh NAME")
      set(in_name TRUE)
    elseif(in_name AND line MATCHES "^\\.Nd")
      break()
    elseif(in_name AND line MATCHES "^\\.Nm ([A-Za-z0-9_]+)")
      list(APPEND names ${CMAKE_MATCH_1})
    endif()
  endforeach()
  set(${out} ${names} PARENT_SCOPE)
endfunction()
