# The path without mremap on 64-bit Arm with 16 KiB pages, as on Apple
# silicon, under qemu-user, which ignores MAP_FIXED_NOREPLACE: growth in place
# takes the plain-hint branch (the result is compared and, when the system
# put it elsewhere, unmapped), as on systems without either flag.
. tests/configs/lib.sh
probe aarch64-linux-gnu-gcc "$aarch64_install" aarch64-linux-gnu-gcc $aarch64_run
export QEMU_PAGESIZE=$((16 * 1024))
build_and_test build-aarch64-no-mremap -DPAGEALLOC_NO_MREMAP=ON \
    -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
