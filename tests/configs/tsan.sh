# The suite under ThreadSanitizer: test_threads and test_stress race on the
# shared address hint and statistics (relaxed atomics); the other tests run
# single-threaded under the same instrumentation. tests/tsan.supp says why
# the tests' own loops over block contents are suppressed (mremap).
. tests/configs/lib.sh
probe "gcc with TSan" "apt-get install -y gcc" "gcc -fsanitize=thread"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
build_and_test build-tsan -DCMAKE_C_COMPILER=gcc -DPAGEALLOC_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer"
