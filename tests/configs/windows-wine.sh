# Windows x86-64: cross-built with mingw-w64, the tests run under Wine.
# windows-wine-faults.sh runs it again with failure injection compiled in.
. tests/configs/lib.sh
install="apt-get install -y mingw-w64 wine64 wine"
probe x86_64-w64-mingw32-gcc "$install" x86_64-w64-mingw32-gcc -
need wine "$install"
# One Wine prefix for both, made before the tests so that none waits for it;
# no display is needed, and the Mono and Gecko installers are switched off.
export WINEPREFIX="$PWD/build-wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    timeout 300 wineboot --init >/dev/null 2>&1 ||
        { echo "skipped: wineboot cannot make a Wine prefix; install with: $install"; exit 77; }
fi
wineserver -w
probe "x86_64-w64-mingw32-gcc with wine" "$install" x86_64-w64-mingw32-gcc wine
build_and_test "${windows_build:-build-windows}" \
    -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake \
    ${windows_options:-}
