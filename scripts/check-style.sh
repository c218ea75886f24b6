#!/bin/sh
# Check the C sources against the rules of QEMU's style guide that a
# script can check: every if/else/for/while body braced (opening brace on
# the statement's line), no C++ comments, "/*" and "*/" of multi-line
# comments on lines of their own, no tabs, no trailing white space, at most
# 80 columns.  With a build directory, also compile every file of its
# compile_commands.json with -Werror=vla.
#
# Usage: scripts/check-style.sh [-B BUILDDIR] [FILE...]
# Without FILEs, checks the C files of the source tree (git's view of it,
# untracked files included, when it is a checkout).  Prints one line per
# problem (file:line: message) and exits 1 if there was any.
set -u

builddir=
if [ "${1:-}" = "-B" ]; then
    builddir=$(cd "$2" && pwd) || exit 2
    shift 2
fi

if [ $# -eq 0 ]; then
    cd "$(dirname "$0")/.." || exit 2
    if git rev-parse --git-dir >/dev/null 2>&1; then
        files=$(git ls-files --cached --others --exclude-standard \
                '*.c' '*.h')
    else
        files=$(find . -path ./build -prune -o -name '*.[ch]' -print)
    fi
    for f in $files; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
fi
[ $# -gt 0 ] || exit 0

status=0

# Character-based checks (columns count characters, not UTF-8 bytes).
if LC_ALL=C.UTF-8 grep -nHP '^.{81}' "$@" |
        sed 's/^\([^:]*:[0-9]*\):.*/\1: line longer than 80 columns/' |
        grep .; then
    status=1
fi
if grep -nHP '\t' "$@" | sed 's/^\([^:]*:[0-9]*\):.*/\1: tab/' | grep .; then
    status=1
fi
if grep -nHP '[ \t]+$' "$@" |
        sed 's/^\([^:]*:[0-9]*\):.*/\1: trailing white space/' | grep .; then
    status=1
fi

# Statement checks, on the text with comments and literals blanked out.
if ! awk '
function report(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg
    bad = 1
}

# Blank out string and character literals and comments; reports "//".
function clean(s,    out, i, c, n, q) {
    out = ""
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (incomment) {
            if (c == "*" && substr(s, i + 1, 1) == "/") {
                if (incomment == 2 && substr(s, 1, i - 1) !~ /^[ \t]*$/) {
                    report("block comment: \"*/\" not on a line of its own")
                }
                incomment = 0
                i++
            }
            continue
        }
        if (c == "/" && substr(s, i + 1, 1) == "*") {
            incomment = 1
            i++
            out = out " "
            if (index(substr(s, i + 1), "*/") == 0) {
                incomment = 2
                if (substr(s, i + 1) !~ /^\*?[ \t]*$/) {
                    report("block comment: text after \"/*\" on its line")
                }
            }
            continue
        }
        if (c == "/" && substr(s, i + 1, 1) == "/") {
            report("C++ comment")
            break
        }
        if (c == "\"" || c == "\047") {
            q = c
            out = out q
            for (i++; i <= n; i++) {
                c = substr(s, i, 1)
                if (c == "\\") {
                    i++
                } else if (c == q) {
                    break
                }
            }
            out = out q
            continue
        }
        out = out c
    }
    return out
}

# Index just past the parenthesis that closes the first "(" of s at or
# after start, updating depth; 0 if it does not close on this line.
function close_paren(s, start,    i, c) {
    for (i = start; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "(") {
            depth++
        } else if (c == ")") {
            depth--
            if (depth == 0) {
                return i + 1
            }
        }
    }
    return 0
}

# What follows a controlling expression: only "{" is acceptable, ";"
# after a do-while loop'"'"'s while, and in a macro nothing at all after a
# "while (0)" or a loop (the FOREACH macros: the user gives the body).
function check_rest(rest) {
    gsub(/^[ \t]+|[ \t]+$/, "", rest)
    if (rest == "{" || (pending_kw == "while" && rest == ";")) {
        return
    }
    if (pending_macro && rest == "" && pending_kw != "if") {
        return
    }
    report("\"" pending_kw "\" body without braces on the same line")
}

FNR == 1 {
    incomment = 0
    inmacro = 0
    pending = 0
}

{
    line = $0
    continued = line ~ /\\$/
    sub(/\\$/, "", line)
    if (!inmacro && line ~ /^[ \t]*#/) {
        inmacro = continued
        clean(line)
        next
    }
    linemacro = inmacro
    inmacro = inmacro && continued
    line = clean(line)

    if (pending) {
        end = close_paren(line, 1)
        if (end) {
            pending = 0
            check_rest(substr(line, end))
        }
        next
    }

    # "else" must be followed by "{" or "if".
    if (match(line, /(^|[^A-Za-z0-9_])else([^A-Za-z0-9_]|$)/)) {
        rest = substr(line, RSTART + RLENGTH - 1)
        sub(/^else/, "", rest)
        gsub(/^[ \t]+|[ \t]+$/, "", rest)
        if (rest != "{" && rest !~ /^if[ \t]*\(/) {
            report("\"else\" body without braces on the same line")
        }
    }

    # Statements that start a line (possibly after "} else").
    stmt = "^[ \t]*(}[ \t]*)?(else[ \t]+)?"
    stmt = stmt "(if|for|while|[A-Z_]*FOREACH[A-Z_]*)[ \t]*\\("
    if (match(line, stmt)) {
        kw = substr(line, 1, RSTART + RLENGTH - 2)
        sub(/^[ \t}]*(else[ \t]+)?/, "", kw)
        sub(/[ \t]*$/, "", kw)
        pending_kw = kw
        pending_macro = linemacro
        depth = 0
        end = close_paren(line, RSTART + RLENGTH - 1)
        if (end) {
            check_rest(substr(line, end))
        } else {
            pending = 1
        }
    }
}

END {
    exit bad
}
' "$@"; then
    status=1
fi

# VLAs: the compiler knows best.  Recompile each file with -Werror=vla.
if [ -n "$builddir" ]; then
    cc_db="$builddir/compile_commands.json"
    if [ ! -f "$cc_db" ]; then
        echo "$cc_db: not found" >&2
        exit 2
    fi
    if ! python3 - "$cc_db" <<'EOF'
import json, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor


def syntax_only(entry):
    # The file's own command line, minus outputs, plus -Werror=vla.
    args, skip = [], False
    for a in shlex.split(entry["command"]):
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
        elif a not in ("-MD", "-MMD", "-c"):
            args.append(a)
    args += ["-fsyntax-only", "-Werror=vla", "-fdiagnostics-color=never"]
    res = subprocess.run(args, cwd=entry["directory"], capture_output=True,
                         text=True)
    return res.returncode, res.stderr


with ThreadPoolExecutor() as pool:
    results = list(pool.map(syntax_only, json.load(open(sys.argv[1]))))
for rc, err in results:
    sys.stdout.write(err)
sys.exit(1 if any(rc for rc, err in results) else 0)
EOF
    then
        status=1
    fi
fi

exit $status
