#!/bin/bash
# Regenerate the image-info goldens from QEMU 7.2's qemu-img (never from
# ours): for each image, "qemu-img info" in human and JSON form.  The
# images themselves are thrown away; test-image-info rebuilds the human
# text from the JSON and compares.
set -e
QEMU_IMG=${QEMU_IMG:-/usr/bin/qemu-img}
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

info() {
    local name=$1
    shift
    "$QEMU_IMG" info "$@" > "$out/$name.txt"
    "$QEMU_IMG" info --output=json "$@" > "$out/$name.json"
}

"$QEMU_IMG" create -q -f raw base.raw 1M
info raw base.raw
info null-co --image-opts driver=null-co,size=1M

"$QEMU_IMG" create -q -f qcow2 bitmaps.qcow2 64M
"$QEMU_IMG" bitmap --add bitmaps.qcow2 bm0
"$QEMU_IMG" bitmap --add -g 128k bitmaps.qcow2 bm1
"$QEMU_IMG" bitmap --disable bitmaps.qcow2 bm1
info qcow2-bitmaps bitmaps.qcow2

"$QEMU_IMG" create -q -f qcow2 -b base.raw -F raw overlay.qcow2
info qcow2-backing overlay.qcow2

# The snapshot table (dates in UTC, as test-image-info sets TZ)
"$QEMU_IMG" create -q -f qcow2 snap.qcow2 1M
"$QEMU_IMG" snapshot -c snap1 snap.qcow2
"$QEMU_IMG" snapshot -c a_tag_longer_than_sixteen_characters snap.qcow2
# The first one gets a VM state size, a clock past 100 hours and an
# unknown icount (-1), by editing its table entry (docs/interop/qcow2.txt)
python3 - snap.qcow2 <<'PY'
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(64)
    table, = struct.unpack('>Q', f.read(8))
    f.seek(table + 24)
    f.write(struct.pack('>QI', 360123456789000, 0))
    f.seek(table + 40)
    f.write(struct.pack('>QQq', 5 * 1024 * 1024 + 1, 1048576, -1))
PY
TZ=UTC info qcow2-snapshots snap.qcow2

"$QEMU_IMG" create -q -f qcow2 --object secret,id=s0,data=x \
    -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 \
    luks.qcow2 1M
info qcow2-luks luks.qcow2

"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 3G
info vmdk-extents split.vmdk
