# The suite unoptimized (CMAKE_BUILD_TYPE=Debug: -O0 -g), as a developer's
# build or a debugger session runs it: nothing inlined, every frame there.
# What depends on the optimizer (the checked allocator's recorded allocation
# site, uninitialized reads the optimizer hid) shows here first.
. tests/configs/lib.sh
build_and_test build-debug -DCMAKE_BUILD_TYPE=Debug
