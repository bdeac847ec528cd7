#!/bin/sh
# `make test`: runs the suite in every configuration under tests/configs/,
# one build folder each, and ends with the summed CTest counts. A configuration
# whose tools are missing says so, with the line that installs them, and is
# counted as skipped; CI (.ci/run) installs them all. A test that skipped
# (exit 77, CTest's "Skipped") is counted apart from those that passed, and
# named.
# PAGEALLOC_CONFIGS="native man ..." runs only the configurations named.
set -u
cd "$(dirname "$0")/.."
mkdir -p build-logs
passed=0 failed=0 tests_skipped=0 skipped_tests="" ran="" skipped="" broken=""
for cfg in tests/configs/*.sh; do
    name=$(basename "$cfg" .sh)
    [ "$name" = lib ] && continue
    case " ${PAGEALLOC_CONFIGS:-$name} " in *" $name "*) ;; *) continue ;; esac
    echo "=== $name"
    log=build-logs/$name.log
    { sh "$cfg"; echo "rc=$?"; } 2>&1 | tee "$log"
    rc=$(sed -n 's/^rc=//p' "$log" | tail -n 1)
    summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ "$rc" = 77 ]; then
        skipped="$skipped $name"
        continue
    fi
    if [ -n "$summary" ]; then
        f=$(echo "$summary" | sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
        n=$(echo "$summary" | sed -E 's/.*out of ([0-9]+).*/\1/')
        # CTest counts a skipped test among the passed ones and lists it under
        # "The following tests did not run:" as "N - name (Skipped)".
        s=$(grep -E '^[[:space:]]+[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" |
            sed -E 's/^[[:space:]]+[0-9]+ - (.*) \((Skipped|Disabled)\)$/\1/')
        for t in $s; do skipped_tests="$skipped_tests $name/$t"; done
        s=$(echo $s | wc -w)
        passed=$((passed + n - f - s))
        failed=$((failed + f))
        tests_skipped=$((tests_skipped + s))
    fi
    if [ "$rc" != 0 ]; then
        broken="$broken $name"
        [ -n "$summary" ] || failed=$((failed + 1))
    else
        ran="$ran $name"
    fi
done
echo
echo "configurations run:${ran:- none}"
[ -z "$skipped" ] || echo "configurations skipped (tools missing, see above):$skipped"
[ -z "$broken" ] || echo "configurations FAILED:$broken"
[ -z "$skipped_tests" ] || echo "tests skipped (why: in the configuration's log):$skipped_tests"
echo "total: $passed passed, $failed failed, $tests_skipped skipped"
# CI installs every tool (.ci/run), so there a skipped configuration is a
# broken install step, not a missing option: PAGEALLOC_REQUIRE_ALL=1 fails it.
if [ -n "$skipped" ] && [ "${PAGEALLOC_REQUIRE_ALL:-0}" = 1 ]; then
    echo "PAGEALLOC_REQUIRE_ALL=1 and configurations were skipped:$skipped"
    exit 1
fi
[ -z "$broken" ] && [ "$failed" = 0 ]
