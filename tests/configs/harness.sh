# The test harness's own checks (needs only sh): tests/wine-retry.sh, the
# `wine` of the Windows configurations, runs again only a program whose Wine
# client lost its server before the program wrote anything, and passes every
# other outcome on unchanged. A stand-in for Wine's launcher plays each case.
. tests/configs/lib.sh
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/wine" <<'FAKE'
#!/bin/sh
# Counts its runs in $FAKE_RUNS; $1 says how the "program" ends.
n=$(($(cat "$FAKE_RUNS" 2>/dev/null || echo 0) + 1))
echo "$n" >"$FAKE_RUNS"
lost() { echo "wine client error:0: recvmsg: Connection reset by peer" >&2; exit 1; }
case $1 in
    lost-twice) [ "$n" -le 2 ] && lost; echo "ok   run $n"; exit 0 ;;
    lost-always) lost ;;
    lost-after-output) echo "ok   first_test"; lost ;;
    failed-check) echo "FAIL some_test"; echo "CHECK(x) failed" >&2; exit 1 ;;
    crash-silent) echo "wine: Unhandled page fault" >&2; exit 3 ;;
    passes) echo "ok   run $n"; exit 0 ;;
esac
FAKE
chmod +x "$tmp/wine"
passed=0 failed=0
# expect NAME CASE RC RUNS: the wrapper's exit status and how many runs it made.
expect() {
    rm -f "$tmp/runs"
    FAKE_RUNS="$tmp/runs" PAGEALLOC_REAL_WINE="$tmp/wine" sh tests/wine-retry.sh "$2" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$? runs=$(cat "$tmp/runs")
    if [ "$rc" = "$3" ] && [ "$runs" = "$4" ]; then
        passed=$((passed + 1)); echo "ok   $1"
    else
        failed=$((failed + 1)); cat "$tmp/out" "$tmp/err"
        echo "FAIL $1: exit $rc after $runs runs, expected exit $3 after $4"
    fi
}
expect wine_retry_runs_again_a_program_wine_lost_before_it_wrote lost-twice 0 3
expect wine_retry_gives_up_after_three_runs lost-always 1 3
expect wine_retry_passes_on_a_loss_after_the_program_wrote lost-after-output 1 1
expect wine_retry_passes_on_a_failed_check failed-check 1 1
expect wine_retry_passes_on_a_crash crash-silent 3 1
expect wine_retry_runs_a_passing_program_once passes 0 1
grep -q '^ok   run 1$' "$tmp/out" && passed=$((passed + 1)) && echo "ok   wine_retry_passes_stdout_on" ||
    { failed=$((failed + 1)); echo "FAIL wine_retry_passes_stdout_on"; }
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
