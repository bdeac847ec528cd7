# 64-bit Arm Linux with 4 KiB pages, cross-built and run under qemu-user.
. tests/configs/lib.sh
probe aarch64-linux-gnu-gcc "$aarch64_install" aarch64-linux-gnu-gcc $aarch64_run
export QEMU_PAGESIZE=$((4 * 1024))
build_and_test build-aarch64-4k -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
