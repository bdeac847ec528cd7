# The host's own build: gcc (or cc), Linux, mremap.
. tests/configs/lib.sh
build_and_test build-native
