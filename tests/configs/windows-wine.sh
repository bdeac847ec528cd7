# Windows x86-64: cross-built with mingw-w64, the tests run under Wine.
# windows-wine-faults.sh runs it again with failure injection compiled in.
. tests/configs/lib.sh
need x86_64-w64-mingw32-gcc "apt-get install -y mingw-w64 wine64"
need wine "apt-get install -y mingw-w64 wine64"
# One Wine prefix for both, made before the tests so that none waits for it;
# no display is needed, and the Mono and Gecko installers are switched off.
export WINEPREFIX="$PWD/build-wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    timeout 300 wineboot --init >/dev/null 2>&1 || { echo "wineboot failed"; exit 1; }
fi
wineserver -w
build_and_test "${windows_build:-build-windows}" \
    -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake -DPAGEALLOC_BUILD_BENCH=OFF \
    ${windows_options:-}
