#!/usr/bin/env bash
#
# scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
#
# Run the libFuzzer targets of a -Dfuzzing=true build (default: all of
# them) for SECONDS each, starting from the checked-in corpus
# tests/fuzz/corpus-<fmt>.  New inputs go to BUILD_DIR/fuzz/corpus-<fmt>,
# crashes to BUILD_DIR/fuzz/artifacts/ (the exit status is then non-zero).
# Inputs may be as large as the largest seed (at least 64 KiB).
# FUZZ_ARGS adds libFuzzer options, e.g. "-fork=1 -ignore_ooms=1
# -ignore_timeouts=1" to stop only on crashes; with FUZZ_ARGS, the run fails
# when it wrote a crash or leak artifact (fork mode's exit status is the
# last job's, even an ignored out-of-memory).
#
#   CC=clang meson setup build-fuzz -Dfuzzing=true
#   ninja -C build-fuzz && scripts/fuzz.sh build-fuzz 60
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for t in "$build"/tests/fuzz/fuzz-*; do
        [ -f "$t" ] && [ -x "$t" ] && targets+=("$(basename "$t")")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "$0: no fuzz targets in $build (configure with -Dfuzzing=true)" >&2
    exit 1
fi

read -r -a extra <<< "${FUZZ_ARGS:-}"
rc=0
for t in "${targets[@]}"; do
    fmt=${t#fuzz-}
    corpus=$build/fuzz/corpus-$fmt
    artifacts=$build/fuzz/artifacts/$t/
    mkdir -p "$corpus" "$artifacts"
    # Inputs may grow up to the largest seed (at least 64 KiB), so that
    # libFuzzer does not cut the seeds short.
    max_len=65536
    for f in "$src/tests/fuzz/corpus-$fmt"/*; do
        [ -f "$f" ] || continue
        n=$(stat -c %s "$f")
        [ "$n" -gt "$max_len" ] && max_len=$n
    done
    start=$(mktemp)
    echo "== $t: ${seconds}s"
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 \
            -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
            -artifact_prefix="$artifacts" "${extra[@]}" \
            "$corpus" "$src/tests/fuzz/corpus-$fmt"
    status=$?
    if [ ${#extra[@]} -gt 0 ]; then
        status=0
        if [ -n "$(find "$artifacts" -newer "$start" \
                   \( -name 'crash-*' -o -name 'leak-*' \) -print)" ]; then
            status=1
        fi
    fi
    rm -f "$start"
    [ "$status" -eq 0 ] || rc=1
done
exit $rc
