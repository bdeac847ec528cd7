# The shadow-model fuzzer (fuzz/fuzz_ops.c) under libFuzzer with ASan and
# UBSan, library included, for PAGEALLOC_FUZZ_SECONDS (default 60) from the
# seed corpus in fuzz/corpus, run as a CTest test. libFuzzer prints its seed;
# PAGEALLOC_TEST_SEED=N (below 2^32) gives it back.
. tests/configs/lib.sh
need clang "apt-get install -y clang libclang-rt-14-dev"
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' |
    clang -x c -fsanitize=fuzzer,address -o /dev/null - >/dev/null 2>&1; then
    echo "skipped: clang cannot link libFuzzer; install with: apt-get install -y libclang-rt-14-dev"
    exit 77
fi
build_and_test build-fuzz -DCMAKE_C_COMPILER=clang -DPAGEALLOC_BUILD_FUZZ=ON \
    -DPAGEALLOC_BUILD_TESTS=OFF -DPAGEALLOC_BUILD_BENCH=OFF \
    -DPAGEALLOC_FUZZ_SECONDS="${PAGEALLOC_FUZZ_SECONDS:-60}" \
    -DPAGEALLOC_FUZZ_SEED="${PAGEALLOC_TEST_SEED:-0}" \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
