#!/bin/sh
# The parts of nginx's code style a script can check in our C sources:
# 80 columns, no tabs, no trailing blanks, no C++ comments.
set -eu
cd "$(dirname "$0")/.."

status=0
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')

for f in $files; do
    awk -v f="$f" '
        length($0) > 80 { printf "%s:%d: over 80 columns\n", f, NR; bad = 1 }
        /\t/            { printf "%s:%d: tab\n", f, NR; bad = 1 }
        /[ ]+$/         { printf "%s:%d: trailing blank\n", f, NR; bad = 1 }
        /^[^"]*\/\//    { printf "%s:%d: C++ comment\n", f, NR; bad = 1 }
        END { exit bad }
    ' "$f" || status=1
done

exit $status
