#!/usr/bin/env bash
# The installed C package: `cmake --install` into a fresh prefix, then examples/minimal_app.c
# built against it twice, with find_package(xnnd) and with pkg-config, outside the source
# tree. Both run a program compiled here and print exactly what the in-tree minimal_app prints;
# neither links the FlatBuffers builder (toolchain only).
source "$(dirname "$0")/lib/common.bash"
PREFIX=$TMP/prefix
cmake --install "$XNND_BUILD_DIR" --prefix "$PREFIX" >/dev/null
for f in include/xnnd/xnnd.h include/xnnd/runtime.h include/xnnd/backend.h include/xnnd/bundle.h \
         include/xnnd/status.def lib/libxnnd_runtime.a lib/cmake/xnnd/xnndConfig.cmake lib/pkgconfig/xnnd.pc; do
  [ -f "$PREFIX/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
if nm "$PREFIX/lib/libxnnd_runtime.a" 2>/dev/null | grep -q " T fb_builder_create$"; then
  echo "FAIL: the installed runtime library holds the FlatBuffers builder" >&2
  exit 1
fi

"$XNND" compile tests/golden/ir/convnet.ir --constants tests/golden/ir/convnet.xcb -o "$TMP/convnet.pte"
expected=$("$XNND_BUILD_DIR/minimal_app" "$TMP/convnet.pte")
echo "in-tree:      $expected"
echo "$expected" | grep -qE '^output 0 has 10 elements:( -?[0-9.e+-]+){5}$' ||
  { echo "FAIL: unexpected in-tree output" >&2; exit 1; }

# 1. CMake package
mkdir -p "$TMP/app"
cp examples/minimal_app.c "$TMP/app/"
cat >"$TMP/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(xnnd_app C)
find_package(xnnd 0.2 REQUIRED)
add_executable(minimal_app minimal_app.c)
target_compile_options(minimal_app PRIVATE -Wall -Wextra -Werror)
target_link_libraries(minimal_app PRIVATE xnnd::runtime)
CMAKE
cmake -S "$TMP/app" -B "$TMP/app/build" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$TMP/app/build" >/dev/null
got=$("$TMP/app/build/minimal_app" "$TMP/convnet.pte")
echo "find_package: $got"
[ "$got" = "$expected" ] || { echo "FAIL: find_package app printed something else" >&2; exit 1; }

# 2. pkg-config
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
[ "$(pkg-config --modversion xnnd)" = "0.2.0" ] || { echo "FAIL: pkg-config --modversion xnnd" >&2; exit 1; }
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$TMP/app_pc" examples/minimal_app.c $(pkg-config --cflags --libs xnnd)
got=$("$TMP/app_pc" "$TMP/convnet.pte")
echo "pkg-config:   $got"
[ "$got" = "$expected" ] || { echo "FAIL: pkg-config app printed something else" >&2; exit 1; }
# The runtime alone: no IR, passes, partitioner or serializer. (The FlatBuffers builder is in the
# runtime since it loads ExecuTorch programs: their XNNPACK delegates become xnnd blobs at load.)
for app in "$TMP/app/build/minimal_app" "$TMP/app_pc"; do
  if nm "$app" | grep -q -E " T (xnnd_graph_create|xnnd_pipeline_run|xnnd_partition_graph)$"; then
    echo "FAIL: $app links the toolchain" >&2; exit 1
  fi
done
echo "install: find_package and pkg-config apps agree with the in-tree minimal_app"
