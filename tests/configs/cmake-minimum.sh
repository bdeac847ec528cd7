# The CMake minimum the project declares, checked three ways:
# 1. Every CMakeLists.txt declares the same `cmake_minimum_required(VERSION
#    MIN...MAX)`, and everything the CMake files use (tests/cmake_features.awk)
#    is in docs/building.md's "CMake versions" table with a version no newer
#    than MIN: a new command, variable, module or property fails here until
#    it is looked up and written there.
# 2. The cmake here configures the project with developer and deprecation
#    warnings as errors, at the top and as a subproject.
# 3. With a CMake of version MIN (the cmake here if it is MIN, or the one in
#    $PAGEALLOC_CMAKE_MINIMUM_BIN, e.g. one built from CMake's source), the
#    subproject, install and package configurations run with it. Without one
#    that part says so and the rest still counts: CI does not build CMake.
. tests/configs/lib.sh
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
lists=$(git ls-files '*CMakeLists.txt' 2>/dev/null || find . -name CMakeLists.txt -not -path './build*')
declared=$(grep -ho 'cmake_minimum_required(VERSION [0-9.]*\(\.\.\.[0-9.]*\)\?' $lists |
    sed 's/.*VERSION //' | sort -u)
minimum=${declared%%...*}
if [ "$(echo "$declared" | wc -l)" = 1 ]; then pass "every CMakeLists.txt declares $declared"
else fail "the CMakeLists.txt files declare different versions: $(echo $declared)"; fi

# 1. What the files use, against the table.
files=$(git ls-files '*CMakeLists.txt' '*.cmake' '*.cmake.in' 2>/dev/null ||
    find . \( -name CMakeLists.txt -o -name '*.cmake' -o -name '*.cmake.in' \) -not -path './build*')
table=$(awk '/^## CMake versions/ { t = 1; next } /^## / { t = 0 } t && /^\| `/' docs/building.md)
# "item<TAB>since" for every backticked item of the table's first column.
known=$(echo "$table" | awk -F'|' '{
    since = $3; gsub(/^ +| +$/, "", since)
    if (since == "before 3.0" || since == "–") since = "0"
    n = split($2, parts, "`")
    for (i = 2; i <= n; i += 2) print parts[i] "\t" since }')
# version_le A B: A <= B for dotted versions.
version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -t. -k1,1n -k2,2n -k3,3n | head -n 1)" = "$1" ]; }
missing="" newer=""
for item in $(awk -f tests/cmake_features.awk $files | sort -u | tr ' ' '\001'); do
    item=$(echo "$item" | tr '\001' ' ')
    since=$(echo "$known" | awk -F'\t' -v i="$item" '$1 == i { print $2; exit }')
    if [ -z "$since" ]; then missing="$missing
  $item"
    elif ! version_le "$since" "$minimum"; then newer="$newer
  $item (since $since)"; fi
done
if [ -z "$missing" ]; then pass "everything the CMake files use is in docs/building.md's table"
else fail "used but not in docs/building.md's CMake versions table (look up the version its docs give):$missing"; fi
if [ -z "$newer" ]; then pass "nothing used is newer than $minimum"
else fail "newer than the declared $minimum:$newer"; fi

# 2. The cmake here, warnings as errors.
running=$(cmake --version | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')
for src in . tests/install/subproject; do
    dir=build-cmake-minimum-$(basename "$src")
    rm -rf "$dir"
    if cmake -S "$src" -B "$dir" -Werror=dev -Werror=deprecated >"$dir.log" 2>&1; then
        pass "$src configures with cmake $running, warnings as errors"
    else cat "$dir.log"; fail "$src with cmake $running"; fi
done

# 3. A CMake of the declared minimum, if there is one.
bin=""
if [ "$(echo "$running" | cut -d. -f1,2)" = "$minimum" ]; then bin=$(dirname "$(command -v cmake)")
elif [ -n "${PAGEALLOC_CMAKE_MINIMUM_BIN:-}" ]; then bin=$PAGEALLOC_CMAKE_MINIMUM_BIN; fi
version=""
[ -n "$bin" ] && version=$("$bin/cmake" --version 2>/dev/null | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')
if [ -z "$bin" ]; then
    echo "not run: the configurations with cmake $minimum (the one here is $running; set" \
        "PAGEALLOC_CMAKE_MINIMUM_BIN to the bin folder of a cmake $minimum to run them)"
elif [ "$(echo "$version" | cut -d. -f1,2)" != "$minimum" ]; then
    fail "PAGEALLOC_CMAKE_MINIMUM_BIN=$bin holds cmake '$version', not $minimum"
else
    for cfg in subproject install package; do
        if PATH=$bin:$PATH sh "tests/configs/$cfg.sh" >"build-cmake-minimum-$cfg.log" 2>&1; then
            pass "the $cfg configuration with cmake $version ($(grep -E '^[0-9]+% tests passed' \
                "build-cmake-minimum-$cfg.log" | tail -n 1))"
        else
            tail -n 40 "build-cmake-minimum-$cfg.log"; fail "the $cfg configuration with cmake $version"
        fi
    done
fi
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
