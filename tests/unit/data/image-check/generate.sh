#!/bin/bash
# Regenerate the image-check goldens from QEMU 7.2's qemu-img and qemu-io
# (never from ours): "qemu-img check" stdout, human and JSON, for qcow2
# images with leaks, with corruptions, with cluster statistics, and after
# repairs.  test-image-check rebuilds the text from the JSON.
set -e
QEMU_IMG=${QEMU_IMG:-/usr/bin/qemu-img}
QEMU_IO=${QEMU_IO:-/usr/bin/qemu-io}
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# check NAME ARGS... IMAGE: both outputs of one check (on copies, since
# repairs change the image); the exit status is not kept.
check() {
    local name=$1 img=${*: -1}
    shift
    cp "$img" h.qcow2
    "$QEMU_IMG" check "${@:1:$#-1}" h.qcow2 > "$out/$name.txt" 2>/dev/null ||
        true
    cp "$img" j.qcow2
    "$QEMU_IMG" check --output=json "${@:1:$#-1}" j.qcow2 \
        > "$out/$name.json" 2>/dev/null || true
}

# Two leaked clusters: refcount 1 for clusters 6 and 7, which nothing uses.
"$QEMU_IMG" create -q -f qcow2 leaks.qcow2 1M
"$QEMU_IO" -c 'write 0 64k' leaks.qcow2 > /dev/null
"$QEMU_IO" -f raw -c 'write -P 0 0x2000c 1' -c 'write -P 1 0x2000d 1' \
    -c 'write -P 0 0x2000e 1' -c 'write -P 1 0x2000f 1' leaks.qcow2 > /dev/null
truncate -s $((10 * 65536)) leaks.qcow2
check leaks leaks.qcow2
check leaks-repaired -r leaks leaks.qcow2

# Corruptions: with lazy refcounts, a crash after a write leaves the data
# cluster referenced but not counted.
"$QEMU_IMG" create -q -f qcow2 -o compat=1.1,lazy_refcounts=on corrupt.qcow2 1M
"$QEMU_IO" -c 'write -P 0x5a 0 512' -c abort corrupt.qcow2 \
    > /dev/null 2>&1 || true
check corrupt corrupt.qcow2
check corrupt-repaired -r all corrupt.qcow2

# Statistics: compressed and fragmented clusters.
"$QEMU_IMG" create -q -f qcow2 stats.qcow2 4M
"$QEMU_IO" -c 'write 0 64k' -c 'write -c 128k 64k' -c 'write 1M 64k' \
    -c 'write 64k 64k' stats.qcow2 > /dev/null
check stats stats.qcow2
