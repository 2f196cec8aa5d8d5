# How each dependency is found: Debian's packages only, no vendored source, no downloads.
# Defines imported targets xnnd::xnnpack, xnnd::pthreadpool, xnnd::cpuinfo, xnnd::cmocka and
# the variable XNND_FLATC (the flatc program, used by conformance tests).

function(xnnd_import_library target header libname)
  find_path(${target}_INCLUDE_DIR ${header})
  find_library(${target}_LIBRARY ${libname})
  if(NOT ${target}_INCLUDE_DIR OR NOT ${target}_LIBRARY)
    message(FATAL_ERROR "xnnd: ${header} / lib${libname} not found; run scripts/install-deps "
                        "(packages listed in third-party/debian-packages.txt)")
  endif()
  add_library(xnnd::${target} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(xnnd::${target} PROPERTIES
    IMPORTED_LOCATION "${${target}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${target}_INCLUDE_DIR}")
endfunction()

xnnd_import_library(pthreadpool pthreadpool.h pthreadpool)
xnnd_import_library(cpuinfo cpuinfo.h cpuinfo)
xnnd_import_library(xnnpack xnnpack.h XNNPACK)
set_property(TARGET xnnd::xnnpack PROPERTY INTERFACE_LINK_LIBRARIES xnnd::pthreadpool xnnd::cpuinfo)

if(XNND_BUILD_TESTS)
  xnnd_import_library(cmocka cmocka.h cmocka)
  find_program(XNND_FLATC flatc)
  if(NOT XNND_FLATC)
    message(FATAL_ERROR "xnnd: flatc not found (Debian package flatbuffers-compiler)")
  endif()
endif()

find_package(Threads REQUIRED)
include(${CMAKE_CURRENT_LIST_DIR}/xnnpack_capabilities.cmake)
find_package(Python3 COMPONENTS Interpreter REQUIRED)
