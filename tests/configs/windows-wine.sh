# Windows x86-64: cross-built with mingw-w64, the tests run under Wine.
# windows-wine-faults.sh runs it again with failure injection compiled in.
. tests/configs/lib.sh
wine_setup
build_and_test "${windows_build:-build-windows}" \
    -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake \
    ${windows_options:-}
