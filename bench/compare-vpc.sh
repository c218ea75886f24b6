#!/usr/bin/env bash
# vpc (VHD) throughput, our qemu-img bench against QEMU 7.2's on the same
# machine, same files (cache=writeback, aio=threads):
#   - allocating 64 KiB writes at queue depth 16 into a new dynamic image
#     (target: at least 1.5x QEMU's throughput);
#   - 4 KiB reads at depth 32 from a filled dynamic image (target: 1.5x);
#   - the same reads through a two-level differencing chain (QEMU cannot
#     read those) against the dynamic image (target: at most 1.3x the time).
# Each case runs BENCH_REPEAT times (default 3); the best time counts.
# Informative only: never fails.
set -u
build=${1:-build}
ours=${OURS_IMG:-$build/qemu-img}
qemu_img=${QEMU_IMG:-/usr/bin/qemu-img}
repeat=${BENCH_REPEAT:-3}
wcount=${BENCH_WRITES:-16384}       # 64 KiB each: 1 GiB
rcount=${BENCH_READS:-262144}       # 4 KiB each over the 1 GiB

if [ ! -x "$ours" ] || [ ! -x "$qemu_img" ]; then
    echo "compare-vpc: needs $ours and $qemu_img; skipped"
    exit 0
fi
if ! "$ours" --help 2>/dev/null | grep -q '^  bench'; then
    echo "compare-vpc: $ours has no bench command; skipped"
    exit 0
fi

ours=$(cd "$(dirname "$ours")" && pwd)/$(basename "$ours")
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/compare-vpc.XXXXXX")
trap 'rm -rf "$dir"' EXIT

. "$(dirname "$0")/lib.sh"

size=$((wcount * 64 * 1024))
img=$dir/w.vhd

# 1. Allocating writes: a new image for every run.
q=$(best "rm -f $img; $qemu_img create -q -f vpc $img $size" \
    "$qemu_img" bench -w -c "$wcount" -s 64k -d 16 -t writeback -i threads \
    -f vpc "$img")
o=$(best "rm -f $img; $qemu_img create -q -f vpc $img $size" \
    "$ours" bench -w -c "$wcount" -s 64k -d 16 -t writeback -i threads \
    -f vpc "$img")
printf '%-44s qemu %6ss  ours %6ss  speedup %sx (target 1.5x)\n' \
    "vpc dynamic, allocating 64k writes, QD16" "$q" "$o" "$(ratio "$q" "$o")"

# 2. Reads from the filled image (the last run's).
q=$(best : "$qemu_img" bench -c "$rcount" -s 4k -d 32 -t writeback \
    -i threads -f vpc "$img")
o=$(best : "$ours" bench -c "$rcount" -s 4k -d 32 -t writeback -i threads \
    -f vpc "$img")
printf '%-44s qemu %6ss  ours %6ss  speedup %sx (target 1.5x)\n' \
    "vpc dynamic, 4k reads, QD32" "$q" "$o" "$(ratio "$q" "$o")"
dyn=$o

# 3. A two-level differencing chain over it: mid holds every third 64 KiB,
#    top the next third, the base the rest.
(cd "$dir" &&
 "$ours" create -q -f vpc -b w.vhd -F vpc mid.vhd &&
 "$ours" bench -c $((wcount / 3)) -w -s 64k -S 192k -d 16 -f vpc mid.vhd &&
 "$ours" create -q -f vpc -b mid.vhd -F vpc top.vhd &&
 "$ours" bench -c $((wcount / 3)) -w -s 64k -o 64k -S 192k -d 16 -f vpc \
     top.vhd) >/dev/null 2>&1
c=$(best : "$ours" bench -c "$rcount" -s 4k -d 32 -t writeback -i threads \
    -f vpc "$dir/top.vhd")
printf '%-44s dyn  %6ss  chain %5ss  time ratio %s (target <= 1.3)\n' \
    "vpc 2-level differencing chain, 4k reads" "$dyn" "$c" \
    "$(ratio "$c" "$dyn")"
exit 0
