#!/usr/bin/env bash
# tools/fuzz.sh: runs the libFuzzer targets (tests/fuzz/targets.h) on the parsers of outside
# input: experiment files with their CSV tables, images, sounds, .npy files, a TorchScript
# archive's metamerlab.json, a trained network's sidecar and the shard databases merge reads.
#   tools/fuzz.sh TARGET|all [SECONDS]     (default 600 seconds per target)
# TARGET: experiment image audio npy model_meta net_sidecar merge. Builds build-fuzz/ with
# clang, -fsanitize=fuzzer,address,undefined (-DMETAMERLAB_FUZZ=ON; only the fuzzers and
# the torch-free libraries they link), then per target, one process at a time:
#   1. fuzzes for SECONDS from tests/fuzz/corpus/TARGET/ (new inputs go to a work folder),
#   2. minimizes corpus + new inputs with -merge=1 (edge coverage) back into
#      tests/fuzz/corpus/TARGET/,
#   3. copies every crash, leak, timeout or out-of-memory input to tests/fuzz/crashes/TARGET/
#      (the replay test, test_fuzz, then runs it in every test run; fix the bug first).
# Prints per target: seconds, executions, corpus files, crash files. Logs are in
# build-fuzz/fuzz-logs/. Env: JOBS (compile jobs, default 1), FUZZ_FLAGS (more libFuzzer
# flags), BUILD_DIR (default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=(experiment image audio npy model_meta net_sidecar merge)
TARGET="${1:-}"
SECONDS_EACH="${2:-600}"
# Absolute paths: a target may change the current folder while it runs (merge does), and
# libFuzzer writes a crash input where -artifact_prefix says at the moment it crashes.
BUILD_DIR="$(realpath -m "${BUILD_DIR:-build-fuzz}")"
if [[ -z "$TARGET" || "$TARGET" == -h || "$TARGET" == --help ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [[ "$TARGET" == all ]]; then targets=("${ALL[@]}"); else targets=("$TARGET"); fi
for t in "${targets[@]}"; do
  [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target \"$t\"; give one of: ${ALL[*]} all" >&2; exit 2; }
done
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found; apt-get install clang libclang-rt-14-dev" >&2; exit 1; }

CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMETAMERLAB_FUZZ=ON -DMETAMERLAB_BENCH=OFF >/dev/null
ninja -C "$BUILD_DIR" -j "${JOBS:-1}" "${targets[@]/#/fuzz_}"

# Leaks are findings too; a report stops the run (abort_on_error for a core-free exit).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
LOGS="$BUILD_DIR/fuzz-logs"
mkdir -p "$LOGS"
status=0
summary=()
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/fuzz/fuzz_$t"
  corpus="$PWD/tests/fuzz/corpus/$t"
  crashes="$PWD/tests/fuzz/crashes/$t"
  work="$BUILD_DIR/fuzz-work/$t"
  artifacts="$BUILD_DIR/fuzz-artifacts/$t"
  rm -rf "$work" "$artifacts"
  mkdir -p "$corpus" "$work" "$artifacts/"
  log="$LOGS/$t.log"
  echo "fuzz.sh: $t for ${SECONDS_EACH}s (log: $log)"
  rc=0
  started=$(date +%s)
  # One process in the foreground (no -jobs: the machine has 2 cores); 10 s per input at
  # most, 2 GB of memory.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    ${FUZZ_FLAGS:-} "$work" "$corpus" >"$log" 2>&1 || rc=$?
  ran=$(( $(date +%s) - started ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  # Minimize: the smallest set of inputs covering the same code edges (-use_counters=0: hit
  # counts are not told apart, which keeps the corpus in git to a few hundred files), back
  # into the corpus.
  merged="$BUILD_DIR/fuzz-merged/$t"
  rm -rf "$merged"
  mkdir -p "$merged"
  "$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 -max_len=65536 "$merged" "$corpus" "$work" >>"$log" 2>&1 || true
  if [[ -n "$(ls -A "$merged")" ]]; then
    find "$corpus" -maxdepth 1 -type f -delete
    cp "$merged"/* "$corpus"/
  fi
  found=0
  for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* "$artifacts"/slow-unit-*; do
    [[ -e "$f" ]] || continue
    [[ "$(basename "$f")" == slow-unit-* ]] && continue
    mkdir -p "$crashes"
    cp "$f" "$crashes"/
    found=$((found + 1))
  done
  files=$(find "$corpus" -maxdepth 1 -type f | wc -l)
  line="$t: ${ran}s, ${execs:-?} executions, $files corpus files, $found crash files (exit $rc)"
  summary+=("$line")
  echo "fuzz.sh: $line"
  if [[ $rc -ne 0 || $found -ne 0 ]]; then
    status=1
    echo "fuzz.sh: $t found a problem: see $log; the input is in $crashes/" >&2
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
