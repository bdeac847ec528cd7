# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer: any
# report fails the test (-fno-sanitize-recover, halt_on_error).
. tests/configs/lib.sh
probe "gcc with ASan and UBSan" "apt-get install -y gcc" "gcc -fsanitize=address,undefined"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build_and_test build-asan-ubsan -DCMAKE_C_COMPILER=gcc -DPAGEALLOC_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
