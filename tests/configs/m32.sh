# 32-bit x86 Linux (gcc -m32): every size and alignment check with a 32-bit
# size_t. Without gcc-multilib (it conflicts with the aarch64 cross compiler)
# <asm/...> is missing for -m32; the x86-64 asm headers serve, through a
# folder of the build tree.
. tests/configs/lib.sh
need gcc "apt-get install -y gcc"
dir=build-m32
mkdir -p "$dir/asm-include"
ln -sfn /usr/include/x86_64-linux-gnu/asm "$dir/asm-include/asm"
flags="-m32 -isystem $PWD/$dir/asm-include"
probe "gcc -m32" "apt-get install -y --no-install-recommends libc6-dev-i386 lib32gcc-12-dev" \
    "gcc $flags"
build_and_test "$dir" -DCMAKE_C_FLAGS="$flags"
