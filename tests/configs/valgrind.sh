# The suite under valgrind's memcheck: every test program runs inside
# valgrind (CMake's test emulator) and any memcheck error fails it.
# tests/valgrind.supp: memcheck does not follow mremap growth onto a fixed
# address; test_maplimit skips itself (valgrind's table of mappings is
# smaller than the kernel's); test_stats is left out: valgrind 3.19 takes
# MAP_FIXED_NOREPLACE as a hint, as qemu-user does, and one of its checks
# counts the calls of a move that assume the kernel's behaviour.
. tests/configs/lib.sh
need valgrind "apt-get install -y valgrind"
export PAGEALLOC_UNDER_VALGRIND=1
dir=build-valgrind
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAGEALLOC_BUILD_BENCH=OFF \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=valgrind;-q;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite;--suppressions=$PWD/tests/valgrind.supp" \
    >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" --parallel >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; exit 1; }
grep -i 'warning' "$dir.build.log" && { echo "compiler warnings in $dir"; exit 1; }
ctest --test-dir "$dir" --output-on-failure --timeout 600 -j 2 -E '^test_stats$'
