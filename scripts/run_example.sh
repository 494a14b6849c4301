#!/usr/bin/env bash
# The main job on a fresh machine: set up (idempotent), then run autokernel on a model the
# repo makes (a GPT-2-style decoder exported from PyTorch).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AK_ZOO=${AK_ZOO:-gpt2} source scripts/setup.sh
build/cli/autokernel run models/zoo/out/gpt2/model.onnx --iters 10 "$@"
