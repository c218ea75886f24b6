#!/usr/bin/env bash
# make run: create a small demo image and open qemu-io on it.  On a
# terminal this is interactive; with piped input it runs those commands.
set -eu
build=${1:-build}
demo="$build/demo"
mkdir -p "$demo"
img="$demo/demo.vhd"
if [ ! -f "$img" ]; then
    # A dynamic VHD with one allocated block, so 'map' has something to show.
    "$build/qemu-img" create -q -f vpc "$img" 64M
    "$build/qemu-io" -f vpc -c "write -q -P 0x61 0 64k" "$img"
fi
echo "qemu-io on $img (type 'help' for commands, 'quit' to leave)" >&2
exec "$build/qemu-io" -f vpc "$img"
