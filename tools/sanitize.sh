#!/usr/bin/env bash
# tools/sanitize.sh: AddressSanitizer + UndefinedBehaviorSanitizer run of every library and
# test that does not link LibTorch (stimuli, data, experiments, analysis, the presentation
# library app/): builds them into build-asan/ with -fsanitize=address,undefined (any
# report is fatal: -fno-sanitize-recover=all, halt_on_error) and runs their tests, the
# `fast` tier (test_stimuli, test_data, test_experiments, test_fuzz, test_analysis, test_app;
# test_fuzz replays the fuzz corpora and crash inputs of tools/fuzz.sh). Leaks
# are reported too; tests/sanitize/lsan.supp lists the ones inside system libraries (the
# X server's client library, Mesa, OpenAL Soft), never ours.
#   tools/sanitize.sh [BUILD_DIR]     (default: build-asan; JOBS=N for parallel compiles)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build-asan}"
tools/setup.sh build >/dev/null   # the packages (and the normal build the fixtures need)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMETAMERLAB_SANITIZE=ON \
      -DMETAMERLAB_BENCH=OFF >/dev/null
ninja -C "$BUILD_DIR" -j "${JOBS:-2}" test_stimuli test_data test_experiments test_fuzz test_analysis test_app
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0"
ctest --test-dir "$BUILD_DIR" -L fast --output-on-failure -j "${JOBS:-2}"
echo "sanitize: the torch-free tests are clean under AddressSanitizer + UndefinedBehaviorSanitizer"
