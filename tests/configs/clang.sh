# The same suite built by clang, which must compile it without a warning too.
. tests/configs/lib.sh
probe clang "apt-get install -y clang" clang
build_and_test build-clang -DCMAKE_C_COMPILER=clang
