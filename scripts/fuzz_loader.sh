#!/usr/bin/env bash
# Builds the loader fuzz target with clang (libFuzzer + ASan + UBSan) and runs it for a
# bounded time, seeded with ONNX's backend test models. Usage:
#   scripts/fuzz_loader.sh [SECONDS]      (default 120)
# Needs: clang, libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev) and a
# configured build (build/gen holds the protoc output).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
BUILD_DIR=${BUILD_DIR:-build}
[ -f "$BUILD_DIR/gen/onnx/onnx-ml.pb.cc" ] || ninja -C "$BUILD_DIR" ak_onnx_proto
out="$BUILD_DIR/fuzz"
mkdir -p "$out/corpus" "$out/artifacts"
echo "fuzz: building $out/loader_fuzz"
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. -I"$BUILD_DIR/gen" tests/fuzz/loader_fuzz.cpp models/graph.cpp models/onnx_loader.cpp \
  "$BUILD_DIR/gen/onnx/onnx-ml.pb.cc" "$BUILD_DIR/gen/onnx/onnx-data.pb.cc" -lprotobuf -o "$out/loader_fuzz"
# Seed corpus: small real models.
if [ -z "$(ls -A "$out/corpus")" ]; then
  find /usr/share/libonnx-testdata/data -name model.onnx -size -16k | head -300 | while read -r f; do
    cp "$f" "$out/corpus/$(echo "$f" | md5sum | cut -c1-16).onnx"
  done
fi
echo "fuzz: running for ${seconds}s (corpus $(ls "$out/corpus" | wc -l) files)"
"$out/loader_fuzz" "$out/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1 2>&1 | tail -25
echo "fuzz: artifacts (crashes, leaks, timeouts): $(ls "$out/artifacts" | wc -l)"
