# The Windows suite with failure injection compiled in: test_windows_faults
# fails each system call of each operation in turn (see windows-wine.sh).
windows_build=build-windows-faults
windows_options=-DPAGEALLOC_FAULT_INJECTION=ON
. tests/configs/windows-wine.sh
