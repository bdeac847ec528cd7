# Shared by the configuration scripts: each sources this, checks its tools
# with `need`, then calls `build_and_test DIR [cmake options...]`.

# need COMMAND "how to install it": exits 77 (skipped) when COMMAND is missing.
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "skipped: $1 not found; install with: $2"
        exit 77
    fi
}

# build_and_test DIR [cmake options...]: configures, builds and runs CTest
# (with the extra CTest options in $ctest_args, if set).
build_and_test() {
    dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; exit 1; }
    cmake --build "$dir" --parallel >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; exit 1; }
    grep -i 'warning' "$dir.build.log" && { echo "compiler warnings in $dir"; exit 1; }
    ctest --test-dir "$dir" --output-on-failure --timeout 600 -j 2 ${ctest_args:-}
}
