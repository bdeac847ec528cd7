# Prints what the CMake files given as arguments use, one item a line, in the
# names docs/building.md's "CMake versions" table uses: `name()` for a command,
# `file(STRINGS)` for a subcommand, `$<NAME>` for a generator expression,
# `module Name` for include() and find_package(), `property NAME`, and
# variables by name (CMAKE_*, PROJECT_*, CPACK_*, WIN32). Commands the files
# define themselves (function, macro) are left out. Statements are joined
# across lines; comments are dropped.
function flush(    s, name, args, n, tok, i, j, key, m) {
    s = stmt
    stmt = ""
    if (!match(s, /^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) return
    name = tolower(substr(s, RSTART, RLENGTH))
    gsub(/[ \t(]/, "", name)
    args = substr(s, RSTART + RLENGTH)
    sub(/\)[ \t]*$/, "", args)
    used["cmd " name] = 1
    if (name == "function" || name == "macro") {
        split(args, tok, /[ \t]+/)
        for (i = 1; i in tok && tok[i] == ""; i++) {}
        defined["cmd " tolower(tok[i])] = 1
    }
    n = split(args, tok, /[ \t]+/)
    j = 0
    for (i = 1; i <= n; i++) if (tok[i] != "") toks[++j] = tok[i]
    n = j
    if (name ~ /^(file|string|list|install|cmake_path)$/ && n >= 1 && toks[1] ~ /^[A-Z_]+$/)
        used[name "(" toks[1] ")"] = 1
    if ((name == "include" || name == "find_package") && n >= 1 && toks[1] ~ /^[A-Za-z]+$/)
        used["module " toks[1]] = 1
    if (name == "set_target_properties" || name == "set_tests_properties") {
        for (i = 1; i <= n && toks[i] != "PROPERTIES"; i++) {}
        for (i++; i <= n; i += 2) used["property " toks[i]] = 1
    }
    if (name == "set_property" || name == "get_property")
        for (i = 1; i < n; i++) if (toks[i] == "PROPERTY") used["property " toks[i + 1]] = 1
    if (name == "get_target_property" && n >= 3) used["property " toks[3]] = 1
    for (i = 1; i <= n; i++) delete toks[i]
}
{
    line = $0
    if (line ~ /^[ \t]*#/) next
    if (line !~ /"/) sub(/[ \t]#.*$/, "", line)
    # Variables and generator expressions anywhere in the line.
    s = line
    while (match(s, /(CMAKE|PROJECT|CPACK)_[A-Z0-9_]*[A-Z0-9]/)) {
        v = substr(s, RSTART, RLENGTH)
        sub(/_[0-9]+$/, "_<n>", v)
        if (substr(s, RSTART - 1, 1) !~ /[A-Za-z0-9_]/) used["var " v] = 1
        s = substr(s, RSTART + RLENGTH)
    }
    if (line ~ /(^|[^A-Za-z0-9_])WIN32([^A-Za-z0-9_]|$)/) used["var WIN32"] = 1
    s = line
    while (match(s, /\$<[A-Z_]+/)) {
        used["genex $<" substr(s, RSTART + 2, RLENGTH - 2) ">"] = 1
        s = substr(s, RSTART + RLENGTH)
    }
    # Statements: from a command name to its closing parenthesis.
    t = line
    gsub(/"([^"\\]|\\.)*"/, "\"\"", t)
    stmt = stmt " " line
    depth += gsub(/\(/, "(", t) - gsub(/\)/, ")", t)
    if (depth <= 0) { depth = 0; flush() }
}
END {
    for (k in used) {
        if (k in defined) continue
        if (k ~ /^cmd /) print substr(k, 5) "()"
        else if (k ~ /^var /) print substr(k, 5)
        else if (k ~ /^genex /) print substr(k, 7)
        else print k
    }
}
