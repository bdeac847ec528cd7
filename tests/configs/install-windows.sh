# The install route on Windows (mingw-w64, run under Wine): install the
# cross-built library into a scratch prefix and build tests/install against
# it, so that the static links prove the CMake target and pkg-config's
# Libs.private carry -lntdll, and the installed DLL's exports are checked.
. tests/configs/lib.sh
need pkg-config "apt-get install -y pkg-config"
wine_setup
prefix=$PWD/build-install-windows/prefix
rm -rf build-install-windows build-install-windows-consumer
cmake -S . -B build-install-windows -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DPAGEALLOC_BUILD_TESTS=OFF >build-install-windows.log 2>&1 &&
    cmake --build build-install-windows --parallel >>build-install-windows.log 2>&1 &&
    cmake --build build-install-windows --target install >>build-install-windows.log 2>&1 ||
    { cat build-install-windows.log; exit 1; }
# pkg-config for the cross target: only the prefix's .pc files, none of the host's.
PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH="" WINEPATH="$prefix/bin" \
    build_and_test build-install-windows-consumer -S tests/install \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-mingw-w64.cmake" \
    -DCMAKE_PREFIX_PATH=/ -DCMAKE_FIND_ROOT_PATH="$prefix"
