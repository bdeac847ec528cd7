# 64-bit Arm Linux with 64 KiB pages, cross-built and run under qemu-user.
. tests/configs/lib.sh
probe aarch64-linux-gnu-gcc "$aarch64_install" aarch64-linux-gnu-gcc $aarch64_run
export QEMU_PAGESIZE=$((64 * 1024))
build_and_test build-aarch64-64k -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
