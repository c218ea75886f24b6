#!/usr/bin/env bash
# Our qemu-img bench against QEMU 7.2's, same command line, same machine.
#
# For each case: calibrate a request count that takes about a second with
# QEMU's binary, then run both binaries alternately three times and keep
# the median time.  Prints
#   <case>: ours=<ns/req> qemu=<ns/req> ratio=<ours/qemu>
# (a time ratio: below 1 means we are faster), plus IOPS for the O_DIRECT
# case.  Informative only: never fails.
set -u
build=${1:-build}
ours=${QEMU_IMG_OURS:-$build/qemu-img}
qemu=${QEMU_IMG:-/usr/bin/qemu-img}
target_s=${BENCH_SECONDS:-1}

if [ ! -x "$ours" ] || [ ! -x "$qemu" ]; then
    echo "compare-qemu: needs $ours and $qemu; skipped"
    exit 0
fi

# A disk-backed directory: O_DIRECT does not work on tmpfs.
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/compare-qemu.XXXXXX")
trap 'rm -rf "$dir"' EXIT
img="$dir/bench.raw"
head -c $((256 * 1024 * 1024)) /dev/urandom > "$img"

# Seconds one run of binary $1 takes for $2 requests (rest: bench options).
run_s() {
    local bin=$1 count=$2
    shift 2
    "$bin" bench -c "$count" "$@" 2>/dev/null |
        sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p'
}

median3() {
    printf '%s\n' "$@" | sort -g | sed -n 2p
}

compare() {
    local label=$1 iops=$2
    shift 2
    local count=1000 s q o qs=() os=() i

    # Grow the count until a QEMU run takes a quarter second, then scale.
    while :; do
        s=$(run_s "$qemu" "$count" "$@")
        if [ -z "$s" ]; then
            printf '%s: failed (qemu-img bench %s)\n' "$label" "$*"
            return
        fi
        if awk -v s="$s" 'BEGIN { exit !(s >= 0.25) }' ||
           [ "$count" -ge 100000000 ]; then
            break
        fi
        count=$((count * 4))
    done
    count=$(awk -v s="$s" -v c="$count" -v t="$target_s" \
            'BEGIN { n = c * t / (s > 0 ? s : 0.001); printf "%d", n < c ? c : n }')

    for i in 1 2 3; do
        qs+=("$(run_s "$qemu" "$count" "$@")")
        os+=("$(run_s "$ours" "$count" "$@")")
    done
    for s in "${qs[@]}" "${os[@]}"; do
        if [ -z "$s" ]; then
            printf '%s: failed (one of the runs printed no time)\n' "$label"
            return
        fi
    done
    q=$(median3 "${qs[@]}")
    o=$(median3 "${os[@]}")
    awk -v l="$label" -v q="$q" -v o="$o" -v c="$count" -v iops="$iops" '
        BEGIN {
            qn = q * 1e9 / c; on = o * 1e9 / c
            ratio = (qn > 0) ? on / qn : 0
            printf "%s: ours=%.0f qemu=%.0f ratio=%.2f", l, on, qn, ratio
            if (iops) {
                oi = (o > 0) ? c / o : 0
                qi = (q > 0) ? c / q : 0
                printf " (IOPS ours=%.0f qemu=%.0f)", oi, qi
            }
            printf " [%d requests, median of 3]\n", c
        }'
}

nullco=driver=null-co,size=1G
compare "null-co read 4k QD1" 0 -s 4k -d 1 --image-opts "$nullco"
compare "null-co read 4k QD64" 0 -s 4k -d 64 --image-opts "$nullco"

cat "$img" > /dev/null      # warm the page cache for the writeback cases
compare "file writeback read 4k QD1" 0 -s 4k -d 1 -t writeback -f raw "$img"
compare "file writeback read 4k QD32" 0 -s 4k -d 32 -t writeback -f raw \
    "$img"
compare "file none/native read 4k QD32" 1 -s 4k -d 32 -t none -i native \
    -f raw "$img"
exit 0
