# Installs the library into a scratch prefix and builds a separate project
# against it with find_package(pagealloc) and with pkg-config.
. tests/configs/lib.sh
need pkg-config "apt-get install -y pkg-config"
prefix=$PWD/build-install/prefix
rm -rf build-install build-install-consumer
cmake -S . -B build-install -DCMAKE_INSTALL_PREFIX="$prefix" -DPAGEALLOC_BUILD_TESTS=OFF \
    -DPAGEALLOC_BUILD_BENCH=OFF >/dev/null || exit 1
cmake --build build-install --parallel >/dev/null || exit 1
cmake --build build-install --target install >/dev/null || exit 1
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" LD_LIBRARY_PATH="$prefix/lib" \
    build_and_test build-install-consumer -DCMAKE_PREFIX_PATH="$prefix" -S tests/install
