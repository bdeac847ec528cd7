#!/bin/sh
# The Windows configurations' `wine` (wine_setup in tests/configs/lib.sh puts
# it first in PATH): runs the program under the real Wine launcher, named by
# PAGEALLOC_REAL_WINE, and passes on its output and exit status.
#
# One failure is not the program's: under load, Wine's launcher sometimes loses
# its connection to the wineserver while it starts ("wine client error:0:
# recvmsg: Connection reset by peer"; seen in CI's windows-wine-faults and in
# coverage-windows, in 0.02 s, before the program's main had run). Such a run is made again, at most twice, and says so
# on stderr. Only a run that failed, wrote nothing on stdout (every test
# program writes a line per test, flushed) and whose stderr has Wine's client
# error is made again; anything else, a crash or a failed check included, is
# passed on as it is.
set -u
real=${PAGEALLOC_REAL_WINE:?PAGEALLOC_REAL_WINE names the real wine launcher}
out=$(mktemp) && err=$(mktemp) || exit 1
trap 'rm -f "$out" "$err"' EXIT
tries=1
while :; do
    "$real" "$@" >"$out" 2>"$err"
    rc=$?
    if [ "$rc" -ne 0 ] && [ ! -s "$out" ] && [ "$tries" -lt 3 ] &&
        grep -q '^wine client error:' "$err"; then
        echo "wine-retry: Wine's client lost its server before the program wrote anything" \
            "($(head -n 1 "$err")); run $((tries + 1)) of at most 3" >&2
        tries=$((tries + 1))
        continue
    fi
    cat "$out"
    cat "$err" >&2
    exit "$rc"
done
