#!/usr/bin/env bash
# tools/setup.sh: install what is missing (Debian 12 packages), then configure and build
# metamerlab in Release with Ninja and ccache. Idempotent: packages already installed are
# not touched and apt is not even asked; the npm icon sets are installed (npm ci) when
# node_modules is missing or package-lock.json changed; a built tree is rebuilt incrementally.
#   tools/setup.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # the eight libraries (LibTorch, SDL2, Dear ImGui, OpenAL Soft, libsndfile, SQLite, stb, GoogleTest)
  libtorch-dev libsdl2-dev libimgui-dev libopenal-dev libsndfile1-dev libsqlite3-dev libstb-dev libgtest-dev
  # fast matrix products for LibTorch (the reference BLAS runs at 4 GFLOP/s here); the BLAS
  # interface synth/null.cpp links (dsyrk), OpenBLAS at run time
  libopenblas0-pthread libblas-dev
  # other libraries the code uses: resampling, JSON, TOML, SHA-256 (Nettle), figures (cairo)
  libsamplerate0-dev nlohmann-json3-dev libtomlplusplus-dev nettle-dev libcairo2-dev fonts-dejavu-core libcsv-dev
  # the .deb package (cpack; dpkg-shlibdeps declares its dependencies)
  dpkg-dev
  # Debian's torch for tools/export_model.py, the test fixtures and the Python baseline
  python3 python3-torch python3-torchvision python3-numpy python3-pandas
  # headless display for the app's tests
  xvfb xauth
  # the bundled data sets (stimuli/DATASETS.md): emoji16 rasterizes SVG icons, words16 speaks
  librsvg2-bin espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  # a private single-node Slurm for the cluster test (tests/support/slurm-single-node.sh; installing starts no service)
  slurmctld slurmd slurm-client munge
)
# npm fetches the emoji icon sets and bids-validator (the export tests). A Node.js that is already installed (e.g. one that
# bundles npm) is kept: Debian's npm package would conflict with it.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

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

# The emoji icon sets and bids-validator pinned by package-lock.json: installed when node_modules is missing
# or the lockfile changed since the last install.
if [ ! -d node_modules/@iconify-json ] || ! cmp -s package-lock.json node_modules/.metamerlab-lock; then
  echo "setup: npm ci (emoji icon sets, bids-validator)"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.metamerlab-lock
else
  echo "setup: npm packages present (node_modules matches package-lock.json)"
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Torch translation units take ~1.2 GB and ~20 s each: two jobs on this 2-core machine.
ninja -C "$BUILD_DIR" -j "${JOBS:-2}"
echo "setup: built $BUILD_DIR/bin/metamerlab"
