#!/usr/bin/env bash
# One-time, idempotent set-up on a Debian 12 machine: install packages, configure, build,
# and create the example models. Sourced by scripts/run_example.sh and scripts/test.sh.
#   BUILD_DIR   build folder (default: build)
#   AK_ZOO      which zoo models to create (default: all)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
packages=(cmake ninja-build g++ pkg-config
          libtorch-dev libprotobuf-dev protobuf-compiler python3-onnx
          nlohmann-json3-dev libsqlite3-dev libssl-dev libgtest-dev libcli11-dev
          python3-torch python3-torchvision libonnx-testdata
          libopenblas0-pthread)  # libtorch's CPU GEMMs: ~10x the reference BLAS
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: configuring and building in $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Two jobs: libtorch translation units need ~1.5 GB each.
ninja -C "$BUILD_DIR" -j "$(( $(nproc) < 2 ? 1 : 2 ))"

echo "setup: creating the example models (models/zoo/out)"
/usr/bin/python3 models/zoo/make_zoo.py --out models/zoo/out ${AK_ZOO:+--models "$AK_ZOO"}
