#!/usr/bin/env bash
# tools/setup.sh: install what is missing (Debian 12 packages), then configure and build
# metamerlab in Release with Ninja and ccache. Idempotent: packages already installed are
# not touched and apt is not even asked; a built tree is rebuilt incrementally.
#   tools/setup.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # the eight libraries (LibTorch, SDL2, Dear ImGui, OpenAL Soft, libsndfile, SQLite, stb, GoogleTest)
  libtorch-dev libsdl2-dev libimgui-dev libopenal-dev libsndfile1-dev libsqlite3-dev libstb-dev libgtest-dev
  # fast matrix products for LibTorch (the reference BLAS runs at 4 GFLOP/s here)
  libopenblas0-pthread
  # other libraries the code uses
  libsamplerate0-dev nlohmann-json3-dev libtomlplusplus-dev
  # Debian's torch for tools/export_model.py, the test fixtures and the Python baseline
  python3 python3-torch python3-torchvision python3-numpy
  # headless display for the app's tests
  xvfb xauth
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages present"
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Torch translation units take ~1.2 GB and ~20 s each: two jobs on this 2-core machine.
ninja -C "$BUILD_DIR" -j "${JOBS:-2}"
echo "setup: built $BUILD_DIR/app/metamerlab"
