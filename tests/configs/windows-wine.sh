# Windows x86-64: cross-built with mingw-w64, the tests run under Wine.
. tests/configs/lib.sh
need x86_64-w64-mingw32-gcc "apt-get install -y mingw-w64 wine64"
need wine "apt-get install -y mingw-w64 wine64"
# A prefix of our own, made once before the tests so that no test waits for
# it; no display is needed, and the Mono/Gecko installers are switched off.
export WINEPREFIX="$PWD/build-windows/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p build-windows
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    timeout 300 wineboot --init >/dev/null 2>&1 || { echo "wineboot failed"; exit 1; }
fi
wineserver -w
build_and_test build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake \
    -DPAGEALLOC_BUILD_BENCH=OFF
