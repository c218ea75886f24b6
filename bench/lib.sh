# Shared by the compare-<format>.sh scripts (sourced, not run): timing of
# one qemu-img bench run, best of $repeat runs, and time ratios.

# secs PROG ARGS...: "Run completed in S seconds." of one bench run
secs() {
    "$@" 2>/dev/null | sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p'
}

# best SETUP PROG ARGS...: the best of $repeat runs; SETUP (a shell
# command, may be :) runs before each
best() {
    local setup=$1 b= t
    shift
    for _ in $(seq "$repeat"); do
        eval "$setup"
        t=$(secs "$@")
        [ -z "$t" ] && { echo ""; return; }
        if [ -z "$b" ] || awk "BEGIN { exit !($t < $b) }"; then
            b=$t
        fi
    done
    echo "$b"
}

ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk "BEGIN { printf \"%.2f\", $1 / $2 }"
    else
        echo "(failed)"
    fi
}
