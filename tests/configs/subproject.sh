# pagealloc built inside another project, by add_subdirectory() and by
# FetchContent from this source tree: the consumer gets the library targets
# only (no tests, benchmark or examples, no option outside PAGEALLOC_*, its
# build type untouched) and builds with -Werror untouched by the library's
# warning flags (tests/install/subproject). The summary line adds both up.
. tests/configs/lib.sh
passed=0 failed=0 rc=0
for route in add_subdirectory FetchContent; do
    dir=build-subproject-$route
    rm -rf "$dir"
    (build_and_test "$dir" -S tests/install/subproject -DPAGEALLOC_ROUTE=$route) >"$dir.log" 2>&1 ||
        rc=1
    cat "$dir.log"
    summary=$(grep -E '^[0-9]+% tests passed' "$dir.log" | tail -n 1)
    if [ -z "$summary" ]; then failed=$((failed + 1)); continue; fi
    f=$(echo "$summary" | sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    n=$(echo "$summary" | sed -E 's/.*out of ([0-9]+).*/\1/')
    passed=$((passed + n - f)) failed=$((failed + f))
done
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$rc" = 0 ] && [ "$failed" = 0 ]
