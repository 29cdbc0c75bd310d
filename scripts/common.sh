# shellcheck shell=bash
# Sourced by run-app.sh and run-tests.sh; not meant to be run on its own.

# Repository root, whatever the caller's working directory is.
LOOPSCOPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# configure_and_build <build-dir> [cmake -D options...]
# Builds every target, or only those in the array build_targets when the caller set it.
configure_and_build() {
    local build_dir="$1"
    shift
    local generator=()
    # A build tree remembers its generator and CMake refuses to switch, so only choose one
    # for a fresh tree.
    if [[ ! -f "$build_dir/CMakeCache.txt" ]] && command -v ninja >/dev/null 2>&1; then
        generator=(-G Ninja)
    fi
    echo "==> cmake -S $LOOPSCOPE_ROOT -B $build_dir ${generator[*]} $*"
    cmake -S "$LOOPSCOPE_ROOT" -B "$build_dir" "${generator[@]}" "$@"
    local targets=()
    if [[ -n "${build_targets+set}" ]] && ((${#build_targets[@]})); then
        targets=(--target "${build_targets[@]}")
    fi
    echo "==> cmake --build $build_dir -j${LOOPSCOPE_JOBS:-2} ${targets[*]}"
    cmake --build "$build_dir" -j"${LOOPSCOPE_JOBS:-2}" "${targets[@]}"
}
