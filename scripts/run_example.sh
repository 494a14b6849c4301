#!/usr/bin/env bash
# The main job on a fresh machine: set up (idempotent), then profile a model the repo makes
# (a GPT-2-style decoder exported from PyTorch): where its time goes, ranked by payoff.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AK_ZOO=${AK_ZOO:-gpt2} source scripts/setup.sh
build/cli/autokernel profile models/zoo/out/gpt2/model.onnx --top 15 --json build/profile-gpt2.json \
  --trace build/trace-gpt2.json "$@"
