#!/bin/sh
# bench/build_times.sh: what building costs a developer at one commit (issue 11, "behaviour
# kept": before and after the house-keeping refactor). For each REV given, in a fresh clone
# of this repository: a clean Release build with Ninja and ccache disabled (wall time, and
# the CPU time of every compiler and linker, which a busy machine does not inflate), the
# rebuild after touching one file of the presentation library (app/display.cpp, else the
# first app/*.cpp), and `ctest -L fast` when the tree has that tier. Prints a Markdown table.
#
#   bench/build_times.sh REV [REV...]      e.g. bench/build_times.sh 743822d^ HEAD
#
# Needs what tools/setup.sh installs. Takes about 25 min per revision on 2 cores; JOBS (default
# 2) sets ninja's parallelism. The clones go under $TMPDIR (removed at the end).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { echo "build_times.sh: give at least one revision (e.g. 743822d^ HEAD)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "build_times.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
jobs=${JOBS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/mm-build-times.XXXXXX")
trap 'rm -rf "$work"' EXIT

# "wall cpu" of a command (seconds), its output in $work/log.
timed() {
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/log" 2>&1 || { tail -20 "$work/log" >&2; return 1; }
  awk '{printf "%.0f %.0f", $1, $2 + $3}' "$work/time"
}

echo "| revision | clean build wall s | clean build CPU s | rebuild after touching FILE (wall s) | fast tier wall s (tests) |"
echo "|---|---|---|---|---|"
for rev in "$@"; do
  sha=$(git -C "$root" rev-parse --short "$rev")
  src="$work/$sha"
  git clone -q "$root" "$src"
  git -C "$src" checkout -q "$sha"
  # The icon sets and data the build may want are not part of the measure: reuse this tree's.
  [ -d "$root/node_modules" ] && ln -s "$root/node_modules" "$src/node_modules"
  cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  set -- $(CCACHE_DISABLE=1 timed ninja -C "$src/build" -j "$jobs")
  clean_wall=$1 clean_cpu=$2
  file=app/display.cpp
  [ -f "$src/$file" ] || file=$(cd "$src" && ls app/*.cpp | head -1)
  touch "$src/$file"
  set -- $(CCACHE_DISABLE=1 timed ninja -C "$src/build" -j "$jobs")
  touch_wall=$1
  if (cd "$src/build" && ctest -N -L fast 2>/dev/null | grep -q "Total Tests: [1-9]"); then
    set -- $(timed ctest --test-dir "$src/build" -L fast -j "$jobs")
    fast="$1 ($(grep -o '[0-9]*% tests passed, [0-9]* tests failed out of [0-9]*' "$work/log" | tail -1))"
  else
    fast="no fast tier at this revision"
  fi
  echo "| $sha | $clean_wall | $clean_cpu | $file: $touch_wall | $fast |"
  rm -rf "$src"
done
