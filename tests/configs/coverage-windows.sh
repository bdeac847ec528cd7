# Line and branch coverage of src/ on Windows: the mingw-w64 build with
# --coverage at -O0 and failure injection on, its tests run under Wine (each
# program writes its counts at the build folder's path, through Wine's Z:
# drive), then gcovr with the host's gcov (gcc 12 on both sides, the same
# data format). Reported, not thresholded, as in coverage.sh; figures in
# docs/coverage.md. (-static-libgcc: as the toolchain file's default, which
# setting the shared linker flags replaces.)
. tests/configs/lib.sh
need gcovr "apt-get install -y gcovr"
wine_setup
dir=build-coverage-windows
[ -d "$dir" ] && find "$dir" -name '*.gcda' -delete
build_and_test "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake \
    -DCMAKE_BUILD_TYPE=Debug -DPAGEALLOC_FAULT_INJECTION=ON -DPAGEALLOC_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS="--coverage -fprofile-update=atomic" \
    -DCMAKE_SHARED_LINKER_FLAGS="-static-libgcc -Wl,--exclude-libs,libgcov.a"
rc=$?
coverage_report "$dir" || exit 1
exit $rc
