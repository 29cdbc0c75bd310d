#!/usr/bin/env bash
# Install the Debian 12 packages Loopscope needs to build, test and run.
#
# Idempotent: asks dpkg what is already there and only touches apt when something is missing,
# so the quick-start scripts can call it on every run at no cost.
set -euo pipefail

packages=(
    cmake
    ninja-build
    g++
    clang
    clang-format
    qt6-base-dev
    qt6-base-dev-tools
    libqt6test6
    qcoro-qt6-dev
    # The timeline's SVG export (QSvgGenerator).
    qt6-svg-dev
    libgl-dev
    # Silences "Could NOT find XKB" from Qt's CMake files.
    libxkbcommon-dev
    # clang builds: CI compiles and tests with clang 14 too.
    libclang-rt-14-dev
    # Fonts so text renders under Xvfb and QT_QPA_PLATFORM=offscreen.
    fonts-dejavu-core
    # Running the app without a display, and the tests' screenshot helper.
    xvfb
    xauth
    # Counting instructions of the benchmarks (bench/README.md).
    valgrind
)

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "setup-deps: all ${#packages[@]} packages present."
    exit 0
fi

echo "setup-deps: installing ${missing[*]}"
sudo_cmd=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup-deps: not root and sudo is missing; install as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
