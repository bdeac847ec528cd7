# Shared by the configuration scripts: each sources this, checks its tools
# with `need`, then calls `build_and_test DIR [cmake options...]`.

# need COMMAND "how to install it": exits 77 (skipped) when COMMAND is missing.
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "skipped: $1 not found; install with: $2"
        exit 77
    fi
}

# probe WHAT "how to install it" COMPILE_COMMAND [RUNNER...]: compiles a
# trivial C program with COMPILE_COMMAND (its flags included) and runs it,
# under RUNNER if given (RUNNER "-" means: compile and link only). Exits 77
# (skipped) with the install line when either step fails: a command that is
# present is not yet a toolchain that works (a cross gcc without its C library,
# wine64 without the wine launcher).
probe() {
    what=$1 how=$2 cc=$3
    shift 3
    for tool in "${cc%% *}" "${1:--}"; do
        [ "$tool" = - ] || need "$tool" "$how"
    done
    tmp=$(mktemp -d) || exit 1
    printf 'int main(void) { return 0; }\n' >"$tmp/probe.c"
    if ! $cc "$tmp/probe.c" -o "$tmp/probe.exe" >"$tmp/log" 2>&1; then
        echo "skipped: $what cannot build a program ($(head -c 200 "$tmp/log" | head -n 1));" \
            "install with: $how"
        rm -rf "$tmp"
        exit 77
    fi
    if [ "${1:-}" != - ] && ! "$@" "$tmp/probe.exe" >"$tmp/log" 2>&1; then
        echo "skipped: a program built by $what does not run${1:+ under $*}; install with: $how"
        rm -rf "$tmp"
        exit 77
    fi
    rm -rf "$tmp"
}

# The aarch64 configurations' toolchain: the cross gcc links only with its C
# library (a Recommends of gcc-aarch64-linux-gnu), and qemu runs the programs.
aarch64_install="apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static"
aarch64_run="qemu-aarch64-static -L /usr/aarch64-linux-gnu"

# wine_setup: for the Windows configurations, checks mingw-w64 and Wine work
# and makes the one Wine prefix they share before any test waits for it (no
# display needed; the Mono and Gecko installers are switched off).
wine_setup() {
    install="apt-get install -y mingw-w64 wine64 wine"
    probe x86_64-w64-mingw32-gcc "$install" x86_64-w64-mingw32-gcc -
    need wine "$install"
    export WINEPREFIX="$PWD/build-wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        timeout 300 wineboot --init >/dev/null 2>&1 ||
            { echo "skipped: wineboot cannot make a Wine prefix; install with: $install"; exit 77; }
    fi
    # One server for the prefix, for the whole configuration, started before
    # any test: Wine programs that start a server together, or start while a
    # server with no client left is shutting down, can fail with "recvmsg:
    # Connection reset by peer". It persists until the configuration's shell
    # exits (a server left by an interrupted run is stopped first); its output
    # goes nowhere, so that it holds no pipe of make's open.
    wineserver -k >/dev/null 2>&1
    wineserver -w
    wineserver -p </dev/null >/dev/null 2>&1
    trap 'wineserver -k >/dev/null 2>&1' EXIT
    # Every `wine` of the configuration (CTest's emulator, the scripts' runs)
    # goes through tests/wine-retry.sh, which runs again a program whose Wine
    # client lost its server before the program wrote anything.
    case $(command -v wine) in
        "$PWD/build-wine-bin/wine") ;;
        *) PAGEALLOC_REAL_WINE=$(command -v wine) && export PAGEALLOC_REAL_WINE ;;
    esac
    mkdir -p build-wine-bin
    ln -sf "$PWD/tests/wine-retry.sh" build-wine-bin/wine
    export PATH="$PWD/build-wine-bin:$PATH"
    probe "x86_64-w64-mingw32-gcc with wine" "$install" x86_64-w64-mingw32-gcc wine
}

# build_and_test DIR [cmake options...]: configures, builds and runs CTest
# (with the extra CTest options in $ctest_args, if set), then says why each
# skipped test skipped.
build_and_test() {
    dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; exit 1; }
    cmake --build "$dir" --parallel >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; exit 1; }
    grep -i 'warning' "$dir.build.log" && { echo "compiler warnings in $dir"; exit 1; }
    (cd "$dir" && ctest --output-on-failure --timeout 600 -j 2 ${ctest_args:-})
    ctest_rc=$?
    skip_reasons "$dir/Testing/Temporary/LastTest.log"
    return $ctest_rc
}

# skip_reasons LOG: from CTest's log of every test's output, one line per
# check_skip (tests/check.h) of the last run: "skipped: PROGRAM/TEST: why".
# --output-on-failure shows nothing of a test that skipped.
skip_reasons() {
    [ -f "$1" ] || return 0
    awk '/^[0-9]+\/[0-9]+ Test: / { prog = $3; why = "" }
        /^  skipped: / { sub(/^  skipped: /, ""); why = why == "" ? $0 : why "; " $0 }
        /^skip / && why != "" { print "skipped: " prog "/" $2 ": " why; why = "" }' "$1"
}

# coverage_report DIR: gcovr's line and branch figures for src/ from the
# counts in DIR, per file, on stdout; the lines and branches no test reaches,
# per file, in DIR/coverage-lines.txt and DIR/coverage-branches.txt. One pass
# of gcov over the counts (to DIR/coverage.json), then the reports from it.
coverage_report() {
    cdir=$1
    gcovr --root . --filter src/ --exclude-unreachable-branches --object-directory "$cdir" \
        --json "$cdir/coverage.json" "$cdir" >"$cdir.gcovr.log" 2>&1 ||
        { cat "$cdir.gcovr.log"; return 1; }
    gcovr --add-tracefile "$cdir/coverage.json" --txt "$cdir/coverage-lines.txt" &&
        gcovr --add-tracefile "$cdir/coverage.json" --branches --txt "$cdir/coverage-branches.txt" &&
        gcovr --add-tracefile "$cdir/coverage.json" --print-summary >"$cdir/coverage-summary.txt" ||
        return 1
    echo "coverage of src/ (what no test reaches, per file: $cdir/coverage-lines.txt," \
        "$cdir/coverage-branches.txt):"
    for kind in lines branches; do
        awk -v k="$kind" '/^(src\/|TOTAL)/ { printf "  %-8s %-20s %5s of %5s  %s\n", k, $1, $3, $2, $4 }' \
            "$cdir/coverage-$kind.txt"
    done
    grep -E '^(lines|functions|branches):' "$cdir/coverage-summary.txt"
}
