#!/usr/bin/env bash
# Install what qblock needs to build and test on Debian 12: the build
# dependencies and the oracle tools the tests compare against.  Does nothing
# when everything is present; explains what to install when it cannot
# install it itself.
set -u

build_pkgs="meson ninja-build pkg-config gcc libglib2.0-dev zlib1g-dev uuid-dev
libaio-dev libzstd-dev liburing-dev libedit-dev valgrind"
oracle_pkgs="qemu-utils libvhdi-utils libvmdk-utils libqcow-utils
python3-libvhdi python3-vmdkstream"
# clang and its runtimes: the libFuzzer targets and LeakSanitizer.
fuzz_pkgs="clang libclang-rt-14-dev"

missing=()
for p in $build_pkgs $oracle_pkgs $fuzz_pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$status" in
        *" installed") ;;
        *) missing+=("$p") ;;
    esac
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "${1:-}" = "--check" ]; then
    echo "missing packages: ${missing[*]}" >&2
    exit 1
fi

explain() {
    echo "qblock needs these Debian 12 packages: ${missing[*]}" >&2
    echo "$1" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
}

if ! command -v dpkg-query >/dev/null || ! grep -qs '^ID=debian' /etc/os-release; then
    explain "This is not a Debian system, so they cannot be installed automatically."
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        explain "Installing them needs root."
    fi
fi

echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || explain "apt-get update failed."
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    explain "apt-get install failed."
