#!/usr/bin/env bash
# qcow2 throughput, our qemu-img bench against QEMU 7.2's on the same
# machine, same files (cache=writeback, aio=threads):
#   - allocating 64 KiB writes at queue depth 16 into a new image;
#   - 4 KiB reads at depth 32 from the filled image;
#   - allocating 4 KiB writes, one per cluster, into an overlay of the
#     filled image: every write copies the rest of its cluster up from the
#     backing file (copy-on-write).
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
    echo "compare-qcow2: needs $ours and $qemu_img; skipped"
    exit 0
fi
if ! "$ours" create -f qcow2 -o help >/dev/null 2>&1; then
    echo "compare-qcow2: $ours has no qcow2 driver; skipped"
    exit 0
fi

dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/compare-qcow2.XXXXXX")
trap 'rm -rf "$dir"' EXIT

. "$(dirname "$0")/lib.sh"

size=$((wcount * 64 * 1024))
img=$dir/w.qcow2
top=$dir/top.qcow2

# speedup LABEL QEMU_SECS OURS_SECS
speedup() {
    printf '%-48s qemu %6ss  ours %6ss  speedup %sx\n' \
        "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

# 1. Allocating writes: a new image for every run.
q=$(best "rm -f $img; $qemu_img create -q -f qcow2 $img $size" \
    "$qemu_img" bench -w -c "$wcount" -s 64k -d 16 -t writeback -i threads \
    -f qcow2 "$img")
o=$(best "rm -f $img; $qemu_img create -q -f qcow2 $img $size" \
    "$ours" bench -w -c "$wcount" -s 64k -d 16 -t writeback -i threads \
    -f qcow2 "$img")
speedup "qcow2, allocating 64k writes, QD16" "$q" "$o"

# 2. Reads from the filled image (the last run's).
q=$(best : "$qemu_img" bench -c "$rcount" -s 4k -d 32 -t writeback \
    -i threads -f qcow2 "$img")
o=$(best : "$ours" bench -c "$rcount" -s 4k -d 32 -t writeback -i threads \
    -f qcow2 "$img")
speedup "qcow2, 4k reads, QD32" "$q" "$o"

# 3. Copy-on-write into an overlay: 4 KiB at the start of every cluster.
mk_top="rm -f $top; $qemu_img create -q -f qcow2 -b $img -F qcow2 $top"
q=$(best "$mk_top" "$qemu_img" bench -w -c "$wcount" -s 4k -S 64k -d 16 \
    -t writeback -i threads -f qcow2 "$top")
o=$(best "$mk_top" "$ours" bench -w -c "$wcount" -s 4k -S 64k -d 16 \
    -t writeback -i threads -f qcow2 "$top")
speedup "qcow2 overlay, 4k COW writes per cluster, QD16" "$q" "$o"
exit 0
