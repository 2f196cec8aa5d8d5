# What the installed XNNPACK can do, from its header and library (never from a release name).
# Each capability becomes XNND_HAVE_<SYMBOL>=0/1 in XNND_XNNPACK_CAPABILITY_DEFS, compiled into
# the XNNPACK backend; the code takes the newer call where it exists. Debian 12 ships the
# 2022-02-16 snapshot (none of these); Debian 13 the 2024-11-08 one (all of them).
include(CheckSymbolExists)

set(XNND_XNNPACK_CAPABILITIES
  xnn_define_unary                  # unary operators by enum (clamp, hardswish, sigmoid, convert, gelu, tanh, ...)
  xnn_define_binary                 # binary operators by enum (add, subtract, multiply, divide, ...)
  xnn_define_static_reduce          # mean/sum over axes (replaces global average pooling)
  xnn_define_static_mean
  xnn_define_static_transpose
  xnn_define_concatenate2
  xnn_define_even_split2
  xnn_define_static_slice
  xnn_define_copy
  xnn_define_batch_matrix_multiply
  xnn_reshape_runtime
  xnn_setup_runtime_v2
  xnn_create_weights_cache
  XNN_FLAG_KEEP_DIMS)

set(CMAKE_REQUIRED_QUIET ON)
set(CMAKE_REQUIRED_INCLUDES ${xnnpack_INCLUDE_DIR} ${pthreadpool_INCLUDE_DIR})
set(CMAKE_REQUIRED_LIBRARIES ${xnnpack_LIBRARY} ${pthreadpool_LIBRARY} ${cpuinfo_LIBRARY} Threads::Threads m)
# The check itself must work: both releases have xnn_create_runtime_v2.
check_symbol_exists(xnn_create_runtime_v2 xnnpack.h XNND_XNNPACK_BASELINE)
if(NOT XNND_XNNPACK_BASELINE)
  message(FATAL_ERROR "xnnd: cannot compile and link a test against xnnpack.h / ${xnnpack_LIBRARY}; "
                      "see CMakeFiles/CMakeConfigureLog.yaml")
endif()
set(XNND_XNNPACK_CAPABILITY_DEFS "")
set(_xnnd_have "")
set(_xnnd_lack "")
foreach(sym ${XNND_XNNPACK_CAPABILITIES})
  string(TOUPPER "XNND_HAVE_${sym}" var)
  check_symbol_exists(${sym} xnnpack.h ${var})
  if(${var})
    list(APPEND XNND_XNNPACK_CAPABILITY_DEFS ${var}=1)
    list(APPEND _xnnd_have ${sym})
  else()
    list(APPEND XNND_XNNPACK_CAPABILITY_DEFS ${var}=0)
    list(APPEND _xnnd_lack ${sym})
  endif()
endforeach()
unset(CMAKE_REQUIRED_QUIET)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_LIBRARIES)
list(JOIN _xnnd_have " " _xnnd_have)
list(JOIN _xnnd_lack " " _xnnd_lack)
message(STATUS "xnnd: XNNPACK has: ${_xnnd_have}")
message(STATUS "xnnd: XNNPACK lacks: ${_xnnd_lack}")
