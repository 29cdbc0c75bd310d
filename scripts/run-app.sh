#!/usr/bin/env bash
# Quick start 1: install what is missing, build Loopscope (Release) and start the visualizer.
#
#   scripts/run-app.sh [app options...]      e.g. --scenario example1, --quit-after 5000, --help
#
# The build goes to build/ at the repository root (LOOPSCOPE_BUILD_DIR overrides it).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$LOOPSCOPE_ROOT/scripts/setup-deps.sh"

build_dir="${LOOPSCOPE_BUILD_DIR:-$LOOPSCOPE_ROOT/build}"
configure_and_build "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOPSCOPE_BUILD_APP=ON

app="$build_dir/app/loopscope"
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" || -n "${QT_QPA_PLATFORM:-}" ]]; then
    exec "$app" "$@"
fi
echo "==> No DISPLAY set: running under xvfb-run -a (a virtual X server; the window is not visible)."
exec xvfb-run -a "$app" "$@"
