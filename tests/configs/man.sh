# The man pages as installed: every man/*.3 lint-clean under `mandoc -T lint`
# at every level (style included), its cross-references (.Xr) to pagealloc
# pages resolved against the installed set; and every installed `.so` link
# (one per function name a page lists) shows its page. One "test" per file.
# That every public function has a page is test_version's neighbour in CTest
# (every_public_function_has_a_man_page).
. tests/configs/lib.sh
need mandoc "apt-get install -y mandoc"
dir=build-man
man=$PWD/$dir/prefix/share/man
rm -rf "$dir"
cmake -S . -B "$dir" -DCMAKE_INSTALL_PREFIX="$PWD/$dir/prefix" -DPAGEALLOC_BUILD_TESTS=OFF \
    -DPAGEALLOC_BUILD_BENCH=OFF >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; exit 1; }
cmake --build "$dir" --target install >/dev/null || exit 1
# makewhatis is in /usr/sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin makewhatis "$man" || exit 1
passed=0 failed=0
for page in man/*.3; do
    # Other projects' pages (mmap(2), malloc(3), ...) may or may not be on the
    # machine; that and the state of the system's own database are not ours.
    out=$(MANPATH=$man mandoc -T lint -W style "$page" 2>&1 |
        awk '!(/referenced manual not found: Xr / && !/Xr pagealloc/) && !/mandoc\.db/')
    if [ -z "$out" ]; then passed=$((passed + 1)); echo "ok   lint $page"
    else failed=$((failed + 1)); echo "$out"; echo "FAIL lint $page"; fi
done
for link in "$man"/man3/*.3; do
    grep -q '^\.so ' "$link" || continue
    name=$(basename "$link" .3)
    if (cd "$man" && mandoc -T markdown "man3/$name.3" 2>&1 | tr -d '\\' | grep -qE "^[*][*]$name[*][*]"); then
        passed=$((passed + 1)); echo "ok   link $name(3)"
    else failed=$((failed + 1)); echo "FAIL link $name(3): $(cat "$link")"; fi
done
total=$((passed + failed))
echo "$((100 * passed / total))% tests passed, $failed tests failed out of $total"
[ "$failed" = 0 ]
