#!/usr/bin/env bash
# make bench: micro-benchmarks, then side-by-side comparisons with QEMU 7.2.
# Prints one line per case; timings are informative and never fail a build.
set -u
build=${1:-build}
here=$(dirname "$0")

for b in "$build"/bench/bench-*; do
    [ -f "$b" ] && [ -x "$b" ] && "$b"
done
for s in "$here"/compare-*.sh; do
    [ -x "$s" ] && "$s" "$build"
done
exit 0
