# 32-bit x86 Linux (gcc -m32): every size and alignment check with a 32-bit
# size_t. Without gcc-multilib (it conflicts with the aarch64 cross compiler)
# <asm/...> is missing for -m32; the x86-64 asm headers serve, through a
# folder of the build tree.
#
# A kernel may boot with its 32-bit emulation off (ia32_emulation=0: "Exec
# format error" for every -m32 program). The tests then run under
# qemu-i386-static, as a cross build (CTest's emulator, as for aarch64), and
# the output's "m32 runner:" line says so. Under qemu-i386 two things differ:
# - it holds the whole 32-bit guest address space as one host reservation, so
#   its mremap can never grow a mapping in place (ENOMEM, whatever follows
#   the block); the library is then built without mremap (growth in place by
#   mapping the next range, as in the no-mremap configuration);
# - RLIMIT_AS and the mapping limit apply to the emulator's own reservation:
#   test_oom and test_maplimit are not built, as for every cross build.
. tests/configs/lib.sh
need gcc "apt-get install -y gcc"
dir=build-m32
mkdir -p "$dir/asm-include"
ln -sfn /usr/include/x86_64-linux-gnu/asm "$dir/asm-include/asm"
flags="-m32 -isystem $PWD/$dir/asm-include"
install="apt-get install -y --no-install-recommends libc6-dev-i386 lib32gcc-12-dev"
probe "gcc -m32" "$install" "gcc $flags" -
qemu_run="qemu-i386-static -L /"
if (probe "gcc -m32" "$install" "gcc $flags" env) >/dev/null; then
    runner=native
    echo "m32 runner: native (this kernel runs 32-bit programs)"
    set -- -DCMAKE_CROSSCOMPILING_EMULATOR=
else
    probe "gcc -m32 under qemu-i386-static" "apt-get install -y qemu-user-static" \
        "gcc $flags" $qemu_run
    runner=qemu
    echo "m32 runner: $qemu_run (this kernel does not run 32-bit programs:" \
        "built without mremap; test_oom and test_maplimit left out)"
    set -- -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=i686 \
        -DCMAKE_CROSSCOMPILING_EMULATOR="qemu-i386-static;-L;/" -DPAGEALLOC_NO_MREMAP=ON
fi
# A build folder configured for the other runner starts over: CMake keeps the
# target system it first saw.
if [ "$(cat "$dir/runner" 2>/dev/null)" != "$runner" ]; then
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
    echo "$runner" >"$dir/runner"
fi
build_and_test "$dir" -DCMAKE_C_FLAGS="$flags" "$@"
