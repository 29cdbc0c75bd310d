#!/usr/bin/env bash
# Quick start 2: install what is missing, build Loopscope with warnings as errors and run every
# test with CTest. Exits non-zero if the build or any test fails.
#
#   scripts/run-tests.sh               Release build in build/
#   scripts/run-tests.sh --sanitize    AddressSanitizer + UBSan build (RelWithDebInfo) in build-asan/
#   scripts/run-tests.sh --clang       Release build with clang 14 instead of g++ in build-clang/
#   scripts/run-tests.sh --tsan        ThreadSanitizer build of the thread-facing tests only
#                                      (CTest label tsan) in build-tsan/
#
# LOOPSCOPE_BUILD_DIR overrides the build directory; extra arguments after `--` go to ctest.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sanitize=0
clang=0
tsan=0
ctest_args=()
while (($#)); do
    case "$1" in
    --sanitize) sanitize=1 ;;
    --clang) clang=1 ;;
    --tsan) tsan=1 ;;
    -h | --help)
        sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    --)
        shift
        ctest_args=("$@")
        break
        ;;
    *)
        echo "run-tests: unknown argument '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

"$LOOPSCOPE_ROOT/scripts/setup-deps.sh"

if ((clang + sanitize + tsan > 1)); then
    echo "run-tests: --clang, --sanitize and --tsan are separate runs" >&2
    exit 2
fi

if ((clang)); then
    build_dir="${LOOPSCOPE_BUILD_DIR:-$LOOPSCOPE_ROOT/build-clang}"
    CC=clang CXX=clang++ configure_and_build "$build_dir" -DCMAKE_BUILD_TYPE=Release \
        -DLOOPSCOPE_WERROR=ON -DLOOPSCOPE_FUZZ=ON
elif ((sanitize)); then
    build_dir="${LOOPSCOPE_BUILD_DIR:-$LOOPSCOPE_ROOT/build-asan}"
    # The bench programs are built (and smoke-run) by the two Release configurations only.
    # -O1 -g1 instead of RelWithDebInfo's -O2 -g: the instrumented code takes about 40 % less
    # time to compile, and reports still name every frame with its file and line (inlined
    # ones too); only the local variables are gone from the debug info. Without precompiled
    # headers (parsing is a small share of an instrumented build): this is the build that
    # checks every file includes what it uses.
    configure_and_build "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOPSCOPE_WERROR=ON \
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DLOOPSCOPE_PCH=OFF \
        -DLOOPSCOPE_SANITIZE=address,undefined -DLOOPSCOPE_BUILD_BENCH=OFF
    # Every report is fatal and comes with a symbolized stack; leaks fail the test too.
    export ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
elif ((tsan)); then
    build_dir="${LOOPSCOPE_BUILD_DIR:-$LOOPSCOPE_ROOT/build-tsan}"
    # Only the tests that cross threads (label tsan, built by loopscope_tsan_tests) and what
    # they link: TSan slows everything 5-15x, and the single-threaded tests would only
    # repeat the ASan run. -O1 -g1 and no precompiled headers, as in the ASan build. clang:
    # g++ 12 with -fsanitize=thread warns (-Werror) on QHash (-Wnull-dereference) and on the
    # recorder's fences (-Wtsan).
    build_targets=(loopscope_tsan_tests)
    CC=clang CXX=clang++ configure_and_build "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DLOOPSCOPE_WERROR=ON \
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DLOOPSCOPE_PCH=OFF \
        -DLOOPSCOPE_SANITIZE=thread -DLOOPSCOPE_BUILD_BENCH=OFF -DLOOPSCOPE_BUILD_EXAMPLES=OFF
    # Every report is fatal. Debian's Qt, GLib and QCoro are not built with TSan:
    # tests/tsan.supp keeps their internal hand-overs out, each entry with its reason.
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:symbolize=1:suppressions=$LOOPSCOPE_ROOT/tests/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    ctest_args=(-L tsan "${ctest_args[@]}")
else
    build_dir="${LOOPSCOPE_BUILD_DIR:-$LOOPSCOPE_ROOT/build}"
    configure_and_build "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOPSCOPE_WERROR=ON
fi

echo "==> ctest --test-dir $build_dir --output-on-failure -j${LOOPSCOPE_JOBS:-2} ${ctest_args[*]}"
ctest --test-dir "$build_dir" --output-on-failure -j"${LOOPSCOPE_JOBS:-2}" "${ctest_args[@]}"
