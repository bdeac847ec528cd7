# The no-cmake configuration for Windows: mingw-w64, the programs run under
# Wine (see no-cmake.sh).
no_cmake_target=windows
. tests/configs/no-cmake.sh
