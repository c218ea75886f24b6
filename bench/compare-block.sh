#!/usr/bin/env bash
# Request throughput of our block layer (build/bench/bench-block) against
# QEMU 7.2's `qemu-img bench`, same cases, same machine.  Prints ns per
# request for both and our time as a fraction of QEMU's (smaller is better).
# Informative only: never fails.
set -u
build=${1:-build}
ours="$build/bench/bench-block"
qemu_img=${QEMU_IMG:-/usr/bin/qemu-img}
count=${BENCH_COUNT:-200000}

if [ ! -x "$ours" ] || [ ! -x "$qemu_img" ]; then
    echo "compare-block: needs $ours and $qemu_img; skipped"
    exit 0
fi

# A disk-backed directory: O_DIRECT does not work on tmpfs.
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/compare-block.XXXXXX")
trap 'rm -rf "$dir"' EXIT
img="$dir/bench.raw"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$img"
cat "$img" > /dev/null      # cached for the writeback cases

# ns per request of one qemu-img bench run ("Run completed in S seconds.").
qemu_ns() {
    local s
    s=$("$qemu_img" bench -c "$count" -s 4k "$@" 2>/dev/null |
        sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p')
    [ -n "$s" ] && echo "$s $count" | awk '{ printf "%.0f", $1 * 1e9 / $2 }'
}

# ns per request of one bench-block run.
ours_ns() {
    "$ours" -c "$count" -s 4k "$@" 2>/dev/null |
        awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ns/request") print $i }'
}

compare() {
    local label=$1; shift
    local q o
    q=$(qemu_ns "$@")
    o=$(ours_ns "$@")
    if [ -n "$q" ] && [ -n "$o" ]; then
        printf '%-36s qemu %7s ns  ours %7s ns  ratio %s\n' "$label" "$q" "$o" \
            "$(echo "$o $q" | awk '{ printf "%.2f", $1 / $2 }')"
    else
        printf '%-36s qemu %7s ns  ours %7s ns  (failed)\n' "$label" \
            "${q:--}" "${o:--}"
    fi
}

nullco=driver=null-co,size=1G
compare "null-co QD1" -d 1 --image-opts "$nullco"
compare "null-co QD64" -d 64 --image-opts "$nullco"
compare "file writeback threads QD1" -d 1 -t writeback -i threads -f raw "$img"
compare "file writeback threads QD32" -d 32 -t writeback -i threads -f raw "$img"
compare "file none native QD32" -d 32 -t none -i native -f raw "$img"
exit 0
