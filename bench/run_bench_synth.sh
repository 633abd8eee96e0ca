#!/bin/sh
# bench/run_bench_synth.sh: runs bench_synth on a ResNet-18 archive at 224x224 with defaults
# that finish in a few minutes on a 2-core machine. Builds nothing.
#
#   bench/run_bench_synth.sh [BUILD_DIR] [extra bench_synth options...]
#
# BUILD_DIR (default: build) must already contain bench/bench_synth, e.g. from
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build bench_synth
# The model is exported once to BUILD_DIR/bench/resnet18.pt with Debian's /usr/bin/python3
# (torch 1.13 + torchvision; random weights, seed 0; no download). Extra options are passed
# on and override the defaults (e.g. --iterations 100 --repeats 3 --breakdown).
# Run it on a quiet machine: the bench warns when the load average or the matmul peak says
# other processes were using the CPU.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
case $build in /*) ;; *) build="$root/$build" ;; esac

python=${PYTHON:-/usr/bin/python3}
bin="$build/bench/bench_synth"
model="$build/bench/resnet18.pt"

if [ ! -x "$bin" ]; then
  echo "run_bench_synth.sh: $bin not found; build it first:" >&2
  echo "  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C $build bench_synth" >&2
  exit 2
fi
if [ ! -x "$python" ]; then
  echo "run_bench_synth.sh: $python not found; the exporter and the Python baseline need Debian's python3 with torch 1.13 (set PYTHON=...)" >&2
  exit 2
fi
if [ ! -s "$model" ]; then
  mkdir -p "$build/bench"
  echo "exporting ResNet-18 (224x224) to $model" >&2
  "$python" "$root/tools/export_model.py" --arch resnet18 --out "$model" >&2
fi

exec "$bin" --model "$model" --layers relu,layer4 --batches 1,8 --iterations 30 --warmup 5 --repeats 2 \
  --python "$python" --python-script "$root/bench/python_loop.py" --threads 0 "$@"
