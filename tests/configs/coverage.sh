# Line and branch coverage of src/ by the suite: gcc --coverage, with failure
# injection compiled in so that the fault walks count, then gcovr. Reported,
# not thresholded: the configuration passes when the tests pass. Prints the
# summary and each file's figures; the lines and branches no test reaches go,
# per file, to build-coverage/coverage-lines.txt and coverage-branches.txt
# (docs/coverage.md says why the rest cannot be reached).
. tests/configs/lib.sh
need gcovr "apt-get install -y gcovr"
probe "gcc --coverage" "apt-get install -y gcc" "gcc --coverage"
dir=build-coverage
# The counts of an earlier run would add up with this one's.
[ -d "$dir" ] && find "$dir" -name '*.gcda' -delete
# -O0 (Debug), so that each line and branch counts as written (at -Og gcov
# credits some conditions to a neighbouring line). The shared library keeps
# libgcov's names to itself, so that the exported-names test sees the
# library's own. CHECK_COVERAGE: forked children write their counts too
# (check_exit in tests/check.h).
build_and_test "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
    -DPAGEALLOC_FAULT_INJECTION=ON -DPAGEALLOC_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS="--coverage -fprofile-update=atomic -DCHECK_COVERAGE=1" \
    -DCMAKE_SHARED_LINKER_FLAGS="-Wl,--exclude-libs,libgcov.a"
rc=$?
coverage_report "$dir" || exit 1
exit $rc
