# cpack's DEB and TGZ packages: both hold the libraries, headers, pkg-config
# and CMake files and the man pages with their .so links; the .deb, unpacked
# into a scratch root with dpkg -x, is what tests/install then builds and
# links against (find_package, pkg-config, shared and static-only).
. tests/configs/lib.sh
need dpkg "apt-get install -y dpkg"
need pkg-config "apt-get install -y pkg-config"
dir=build-package
root=$PWD/$dir/root
rm -rf "$dir" build-package-consumer
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DPAGEALLOC_BUILD_TESTS=OFF -DPAGEALLOC_BUILD_BENCH=OFF >"$dir.configure.log" 2>&1 &&
    cmake --build "$dir" --parallel >"$dir.build.log" 2>&1 &&
    (cd "$dir" && cpack -G DEB && cpack -G TGZ) >"$dir.cpack.log" 2>&1 ||
    { cat "$dir.configure.log" "$dir.build.log" "$dir.cpack.log" 2>/dev/null | tail -n 40; exit 1; }
deb=$(ls "$dir"/*.deb) tgz=$(ls "$dir"/*.tar.gz) || exit 1
passed=0 failed=0
check() {
    if eval "$2" >/dev/null 2>&1; then passed=$((passed + 1)); echo "ok   $1"
    else failed=$((failed + 1)); echo "FAIL $1"; fi
}
version=$(sed -n 's/^#define PAGEALLOC_VERSION_STRING "\(.*\)"/\1/p' include/pagealloc_version.h)
check "deb is libpagealloc-dev $version" "[ \"\$(dpkg-deb -f $deb Package Version)\" = \"Package: libpagealloc-dev
Version: $version\" ]"
dpkg -c "$deb" >"$dir/deb.list" && tar tzf "$tgz" >"$dir/tgz.list" || exit 1
for file in include/pagealloc.h include/pagealloc_version.h libpagealloc.so.${version%%.*} \
    libpagealloc.a pkgconfig/pagealloc.pc cmake/pagealloc/pagealloc-config.cmake \
    man3/pagealloc.3 man3/pagealloc_map.3 man3/pagealloc_unmap.3; do
    check "deb holds $file" "grep -qE '/$file( -> .*)?\$' $dir/deb.list"
    check "tgz holds $file" "grep -q '/$file\$' $dir/tgz.list"
done
dpkg -x "$deb" "$root" || exit 1
pcdir=$(dirname "$(find "$root" -name pagealloc.pc)")
libdir=$(dirname "$pcdir")
(PKG_CONFIG_PATH=$pcdir LD_LIBRARY_PATH=$libdir build_and_test build-package-consumer \
    -DCMAKE_PREFIX_PATH="$root/usr" -S tests/install) >"$dir.consumer.log" 2>&1
rc=$?
cat "$dir.consumer.log"
summary=$(grep -E '^[0-9]+% tests passed' "$dir.consumer.log" | tail -n 1)
if [ -n "$summary" ]; then
    f=$(echo "$summary" | sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    n=$(echo "$summary" | sed -E 's/.*out of ([0-9]+).*/\1/')
    passed=$((passed + n - f)) failed=$((failed + f))
else
    failed=$((failed + 1))
fi
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$rc" = 0 ] && [ "$failed" = 0 ]
