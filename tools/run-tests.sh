#!/usr/bin/env bash
# tools/run-tests.sh: install, build and run every test (ctest: unit tests of each module,
# torch engine tests against Python-made fixtures, black-box tests of the program).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh build
ctest --test-dir build --output-on-failure -j "${JOBS:-2}" "$@"
