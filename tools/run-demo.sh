#!/usr/bin/env bash
# tools/run-demo.sh: install, build and start the main job: the bundled demo. metamerlab
# synthesizes metamers of the trained zoo image models (zoo:emoji16-standard and -robust)
# for the bundled sample, tests each against its null distribution, has each model judge
# the other's metamers, and records everything in the embedded SQLite database
# out/demo/metamerlab.db. With a display, the experimenter's launch screen then opens on
# experiments/demo-images.toml (sessions go into the same database); without one, the
# script says how to open it. Extra arguments go to `metamerlab demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh build
build/bin/metamerlab demo --out out/demo "$@"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${METAMERLAB_NO_LAUNCH:-}" ]; then
  exec build/bin/metamerlab launch experiments/demo-images.toml --db out/demo/metamerlab.db
fi
echo "no display: open the launch screen later with"
echo "  build/bin/metamerlab launch experiments/demo-images.toml --db out/demo/metamerlab.db"
