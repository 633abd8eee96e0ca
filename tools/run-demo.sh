#!/usr/bin/env bash
# tools/run-demo.sh: install, build and start the main job (the synthesis demo: metamers
# of the bundled demo images at four layers, written to out/demo and recorded in the
# embedded SQLite database out/demo/metamerlab.db).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh build
exec build/app/metamerlab demo --out out/demo "$@"
