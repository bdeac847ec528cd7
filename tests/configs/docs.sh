# The documentation's links: every relative link in README.md and docs/*.md
# names a file that exists, and every #anchor a heading of that file under
# GitHub's rules (tests/check_links.cmake). A second test runs the checker on
# tests/links/, a fixture of links that resolve and links that do not, and
# requires exactly the broken ones to be reported. Needs only cmake.
. tests/configs/lib.sh
need cmake "apt-get install -y cmake"
passed=0 failed=0
if out=$(cmake -DROOT=. -P tests/check_links.cmake 2>&1); then
    passed=$((passed + 1)); echo "ok   links_in_readme_and_docs_resolve"
else
    failed=$((failed + 1)); echo "$out"; echo "FAIL links_in_readme_and_docs_resolve"
fi
expected='FAIL index.md:18: heading "Ωmega": a character outside ASCII that check_links.cmake does not know
FAIL index.md:35: #repeated-2: no heading with that anchor
FAIL index.md:36: missing.md: no such file
FAIL index.md:37: other.md#missing: no heading with that anchor
FAIL index.md:38: #not-a-heading-inside-a-fence: no heading with that anchor
FAIL index.md:39: ../CMakeLists.txt#L1: an anchor into a file that is not Markdown'
if out=$(cmake -DROOT=tests/links "-DFILES=index.md;other.md" -P tests/check_links.cmake 2>&1); then
    failed=$((failed + 1)); echo "$out"; echo "FAIL link_checker_reports_each_broken_link: it passed the fixture"
elif [ "$(echo "$out" | grep '^FAIL')" != "$expected" ]; then
    failed=$((failed + 1)); echo "$out"; echo "expected:"; echo "$expected"
    echo "FAIL link_checker_reports_each_broken_link"
else
    passed=$((passed + 1)); echo "ok   link_checker_reports_each_broken_link"
fi
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
