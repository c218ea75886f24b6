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

"$QEMU_IMG" create -q -f qcow2 --object secret,id=s0,data=x \
    -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 \
    luks.qcow2 1M
info qcow2-luks luks.qcow2

"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 3G
info vmdk-extents split.vmdk
