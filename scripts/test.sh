#!/usr/bin/env bash
# The test suite on a fresh machine: set up (idempotent), then every CPU test. On a GPU
# machine, `ctest -L gpu` runs the GPU tests (see docs/gpu.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j 2 -LE gpu "$@"
