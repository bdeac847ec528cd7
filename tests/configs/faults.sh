# The suite with failure injection compiled in: test_faults fails each system
# call of a scripted sequence in turn, and every other test runs on the
# injection-enabled library with nothing armed.
. tests/configs/lib.sh
build_and_test build-faults -DPAGEALLOC_FAULT_INJECTION=ON
