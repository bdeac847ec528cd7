# The CMake version the project declares is the one it is tested with: every
# CMakeLists.txt declares the same minimum, and when the cmake here is that
# version (Debian 12's 3.25; no older CMake is packaged for Debian 12 or on
# npm), the project configures with developer and deprecation warnings made
# errors, at the top and as a subproject. The other configurations build and
# test with it. Elsewhere it says so and is skipped.
. tests/configs/lib.sh
declared=$(grep -ho 'cmake_minimum_required(VERSION [0-9.]*' $(git ls-files '*CMakeLists.txt' 2>/dev/null ||
    find . -name CMakeLists.txt -not -path './build*') | sed 's/.*VERSION //' | sort -u)
running=$(cmake --version | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')
passed=0 failed=0
if [ "$(echo "$declared" | wc -l)" = 1 ]; then passed=$((passed + 1)); echo "ok   every CMakeLists.txt declares $declared"
else failed=$((failed + 1)); echo "FAIL the CMakeLists.txt files declare different minimums:" $declared; fi
if [ "$running" != "$(echo "$declared" | head -n 1)" ]; then
    echo "skipped: cmake $running is not the declared minimum $declared; install with: apt-get install -y cmake (Debian 12)"
    exit 77
fi
for src in . tests/install/subproject; do
    dir=build-cmake-minimum-$(basename "$src")
    rm -rf "$dir"
    if cmake -S "$src" -B "$dir" -Werror=dev -Werror=deprecated >"$dir.log" 2>&1; then
        passed=$((passed + 1)); echo "ok   $src configures with cmake $running, warnings as errors"
    else failed=$((failed + 1)); cat "$dir.log"; echo "FAIL $src with cmake $running"; fi
done
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
