# The suite under valgrind's memcheck: every test program runs inside
# valgrind (CMake's test emulator) and any memcheck error fails it.
# Where valgrind 3.19 itself differs from the kernel:
# - memcheck does not follow mremap growth onto a fixed address (the grown
#   pages are mapped read-write but marked unaddressable): tests/valgrind.supp
#   covers the tests' reads of block contents only;
# - it takes MAP_FIXED_NOREPLACE as a hint, as qemu-user does, so test_stats,
#   which counts the calls of a move, is left out;
# - after a few mremap moves its address-space manager aborts on its own
#   assertion (aspacem_minAddr <= holeStart) at a later hinted mmap, which
#   test_stress's thousands of moves always reach: left out (it runs under
#   ASan and TSan); test_ownership_race too, whose driver thread reserves
#   tens of GiB again and again;
# - its table of mappings is smaller than the kernel's: test_maplimit skips
#   itself.
. tests/configs/lib.sh
need valgrind "apt-get install -y valgrind"
export PAGEALLOC_UNDER_VALGRIND=1
ctest_args='-E ^(test_stats|test_stress|test_ownership_race)$'
build_and_test build-valgrind -DPAGEALLOC_BUILD_BENCH=OFF \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=valgrind;-q;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite;--suppressions=$PWD/tests/valgrind.supp"
