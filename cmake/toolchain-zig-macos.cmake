# macOS, compiled and linked but not run: Zig's C compiler is clang with the
# macOS headers and libSystem stubs inside. Pass -DZIG=/path/to/zig and
# -DPAGEALLOC_MACOS_ARCH=x86_64 or aarch64.
set(CMAKE_SYSTEM_NAME Darwin)
set(CMAKE_SYSTEM_PROCESSOR ${PAGEALLOC_MACOS_ARCH})
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ZIG PAGEALLOC_MACOS_ARCH)
set(CMAKE_C_COMPILER ${ZIG})
set(CMAKE_C_COMPILER_ARG1 cc)
set(CMAKE_C_COMPILER_TARGET ${PAGEALLOC_MACOS_ARCH}-macos)
# `zig ar` and `zig ranlib`: CMAKE_AR cannot carry the subcommand itself.
set(CMAKE_AR ${ZIG})
set(CMAKE_C_ARCHIVE_CREATE "<CMAKE_AR> ar qc <TARGET> <LINK_FLAGS> <OBJECTS>")
set(CMAKE_C_ARCHIVE_APPEND "<CMAKE_AR> ar q <TARGET> <LINK_FLAGS> <OBJECTS>")
set(CMAKE_C_ARCHIVE_FINISH "<CMAKE_AR> ranlib <TARGET>")
