#!/usr/bin/env bash
# make run: create a small demo image and open qemu-io on it.  On a
# terminal this is interactive; with piped input it runs those commands.
set -eu
build=${1:-build}
demo="$build/demo"
mkdir -p "$demo"
img="$demo/demo.raw"
if [ ! -f "$img" ]; then
    "$build/qemu-img" create -q -f raw "$img" 64M
    "$build/qemu-io" -f raw -c "write -q -P 0x61 0 64k" "$img"
fi
echo "qemu-io on $img (type 'help' for commands, 'quit' to leave)" >&2
exec "$build/qemu-io" -f raw "$img"
