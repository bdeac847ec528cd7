# The library without CMake: the lines of docs/building.md ("Without CMake")
# run as written in a fresh copy of include/, src/, examples/ and tests/,
# and must print nothing; the same sources compile with the project's warning
# flags and -Werror; tests and examples link against the static library and
# run, test_version against the shared one too, whose exports must be
# tests/exported-symbols.txt. The documented source lists must agree with one
# another, with src/*.c (fault.c aside) and with CMakeLists.txt. No cmake is
# called. no-cmake-windows.sh runs the same for mingw-w64 under Wine.
. tests/configs/lib.sh
target=${no_cmake_target:-posix}
warnings="-Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wconversion -Wno-sign-conversion"
if [ "$target" = windows ]; then
    wine_setup
    cc=x86_64-w64-mingw32-gcc nm=x86_64-w64-mingw32-nm objdump=x86_64-w64-mingw32-objdump
    support=support_windows.c exe=.exe can_move=0 libs="-lntdll -static" runner=wine
    tests="test_map test_realloc test_reserve test_badinput test_checked test_version test_windows"
    dir=build-no-cmake-windows
else
    probe cc "apt-get install -y gcc" cc
    need nm "apt-get install -y binutils"
    cc=cc nm=nm objdump=objdump support=support_posix.c exe="" libs=-lpthread runner=""
    can_move=0
    [ "$(uname -s)" = Linux ] && can_move=1
    tests="test_map test_realloc test_reserve test_badinput test_checked test_version"
    dir=build-no-cmake
fi
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

# The command lines of one documented block (comments and blank lines left out).
doc_lines() {
    awk -v tag="<!-- no-cmake:$1 " 'index($0, tag) == 1 { want = 1; next }
        want && /^```/ { if (inside) exit; inside = 1; next }
        inside && NF && !/^#/ { print }' docs/building.md
}
# The src/*.c files a text names, sorted, on one line.
sources_in() { grep -o 'src/[A-Za-z0-9_]*\.c' | sort -u | tr '\n' ' '; }

# 1. The documented lists: each block names one list on every line that names
# sources, and its objects on the line that archives them; the two lists and
# src/fault.c are src/*.c, and the lists are the sources CMakeLists.txt names
# (fault.c aside).
all=""
ok=1
for block in posix windows; do
    list=""
    lines=$(doc_lines $block)
    [ -n "$lines" ] || { ok=0; echo "no <!-- no-cmake:$block --> block in docs/building.md"; }
    while IFS= read -r line; do
        files=$(echo "$line" | sources_in)
        if [ -z "$files" ]; then
            # An archive line: its objects, as the sources they come from.
            files=$(echo "$line" | grep -o '[A-Za-z0-9_]*\.o' | sed 's|^|src/|; s|\.o$|.c|' |
                sort -u | tr '\n' ' ')
            [ -n "$files" ] || continue
        fi
        if [ -z "$list" ]; then list=$files
        elif [ "$files" != "$list" ]; then ok=0; echo "$block: \"$line\" names $files, not $list"; fi
    done <<EOF
$lines
EOF
    all="$all $list"
    [ "$block" = "$target" ] && sources=$list
done
union=$(echo "$all" | tr ' ' '\n' | grep . | sort -u | tr '\n' ' ')
in_src=$(ls src/*.c | grep -v '^src/fault\.c$' | sources_in)
in_cmake=$(sources_in <CMakeLists.txt | tr ' ' '\n' | grep . | grep -v '^src/fault\.c$' | tr '\n' ' ')
[ "$union" = "$in_src" ] || { ok=0; echo "the documented lists name $union; src/ holds $in_src"; }
[ "$union" = "$in_cmake" ] || { ok=0; echo "the documented lists name $union; CMakeLists.txt $in_cmake"; }
if [ "$ok" = 1 ]; then pass "documented_source_lists_are_the_sources ($sources)"
else fail documented_source_lists_are_the_sources; fi

# 2. A fresh tree: the tracked files only, where git knows them, so that
# nothing generated or left over can help.
rm -rf "$dir"
tree=$PWD/$dir/tree
mkdir -p "$tree"
if git ls-files --error-unmatch include/pagealloc.h >/dev/null 2>&1; then
    git ls-files include src examples tests | while IFS= read -r f; do
        [ -e "$f" ] && printf '%s\n' "$f"
    done | tar -cf - -T - | tar -xf - -C "$tree"
else
    cp -R include src examples tests "$tree/"
fi

# 3. The documented lines, as written, one test each.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    if (cd "$tree" && sh -c "$line") >"$dir/line$n.log" 2>&1 && [ ! -s "$dir/line$n.log" ]; then
        pass "documented_line_$n ($line)"
    else
        cat "$dir/line$n.log"; fail "documented_line_$n ($line)"
    fi
done <<EOF
$(doc_lines "$target")
EOF

# 4. The same sources with the project's warnings as errors.
mkdir -p "$tree/strict"
if (cd "$tree/strict" && $cc -std=c11 -O2 $warnings -Werror -I../include -c \
        $(for s in $sources; do printf '../%s ' "$s"; done)) >"$dir/strict.log" 2>&1; then
    pass "sources_compile_without_warnings"
else
    cat "$dir/strict.log"; fail "sources_compile_without_warnings"
fi

# run NAME PROGRAM: runs a program of the tree (77 is a skip, as in CTest).
run() {
    (cd "$tree" && $runner "./$2") >"$dir/$1.run.log" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then pass "$1"
    elif [ "$rc" = 77 ]; then echo "skip $1: $(tail -n 1 "$dir/$1.run.log")"
    else cat "$dir/$1.run.log"; fail "$1 (exit $rc)"; fi
}
# build_and_run NAME FLAGS...: compiles a program against the static library.
build_and_run() {
    name=$1
    shift
    if (cd "$tree" && $cc -std=c11 -O1 $warnings -Iinclude "$@" libpagealloc.a $libs \
            -o "$name$exe") >"$dir/$name.build.log" 2>&1 && [ ! -s "$dir/$name.build.log" ]; then
        run "$name" "$name$exe"
    else
        cat "$dir/$name.build.log"; fail "$name (build)"
    fi
}

# 5. Tests and examples on the static library.
version=$(sed -n 's/^#define PAGEALLOC_VERSION_STRING "\(.*\)"$/\1/p' include/pagealloc_version.h)
test_flags="-Itests -DPAGEALLOC_TEST_CAN_MOVE=$can_move -DPAGEALLOC_TEST_QEMU=0"
test_flags="$test_flags -DPAGEALLOC_TEST_PROJECT_VERSION=\"$version\""
[ -f "$tree/growable_buffer$exe" ] && run example_growable_buffer "growable_buffer$exe"
for t in $tests; do
    build_and_run "$t" $test_flags "tests/$t.c" "tests/$support"
done
build_and_run example_arena examples/arena.c
build_and_run example_checked_debug -DUSE_CHECKED_ALLOCATOR=1 examples/checked_debug.c

# 6. The shared library: test_version loads it, and it exports exactly the
# listed names.
if [ "$target" = windows ]; then
    shared=pagealloc.dll
    exports=$($objdump -p "$tree/$shared" | awk '/\[Ordinal\/Name Pointer\] Table/ { t = 1; next }
        t && /^\t\[ *[0-9]+\] / { print $NF; next } t && !NF { t = 0 }' | sort -u)
else
    shared=libpagealloc.so
    ln -sf libpagealloc.so "$tree/libpagealloc.so.0"
    exports=$($nm -D --defined-only "$tree/$shared" | awk 'NF == 3 { print $3 }' | sort -u)
    soname=$($objdump -p "$tree/$shared" | awk '$1 == "SONAME" { print $2 }')
    major=$(sed -n 's/^#define PAGEALLOC_VERSION_MAJOR \([0-9]*\)$/\1/p' include/pagealloc_version.h)
    if [ "$soname" = "libpagealloc.so.$major" ]; then pass "shared_library_soname ($soname)"
    else fail "shared_library_soname: \"$soname\", expected libpagealloc.so.$major"; fi
fi
if [ "$exports" = "$(sort -u tests/exported-symbols.txt)" ]; then
    pass "shared_library_exports_exactly_the_listed_names"
else
    echo "$exports" | diff - tests/exported-symbols.txt
    fail "shared_library_exports_exactly_the_listed_names"
fi
if (cd "$tree" && $cc -std=c11 $warnings -Iinclude $test_flags tests/test_version.c "$shared" \
        -o "test_version_shared$exe") >"$dir/test_version_shared.build.log" 2>&1; then
    LD_LIBRARY_PATH=$tree${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        run test_version_shared "test_version_shared$exe"
else
    cat "$dir/test_version_shared.build.log"; fail "test_version_shared (build)"
fi

total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
