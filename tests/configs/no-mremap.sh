# The POSIX path without mremap, as macOS and the BSDs have it, built on Linux:
# growth in place by mapping the next range, no move without copying.
. tests/configs/lib.sh
build_and_test build-no-mremap -DPAGEALLOC_NO_MREMAP=ON
