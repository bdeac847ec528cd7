# 64-bit Arm Linux with 64 KiB pages, cross-built and run under qemu-user.
. tests/configs/lib.sh
need aarch64-linux-gnu-gcc "apt-get install -y gcc-aarch64-linux-gnu"
need qemu-aarch64-static "apt-get install -y qemu-user-static"
export QEMU_PAGESIZE=$((64 * 1024))
build_and_test build-aarch64-64k -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
