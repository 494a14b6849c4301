#!/usr/bin/env bash
# Builds and tests autokernel on the GPU machine (pip libtorch with CUDA, no apt), then runs
# the GPU tests and benchmarks. Logs go to $OUT (or build-gpu/logs). Usage:
#   scripts/gpu_check.sh [build|cuda|test|bench|all]...   (default: all)
# build: configure, build, export the zoo; cuda: zoo and ONNX backend conformance on CUDA;
# test: ctest (CPU and gpu labels); bench: the runtime benchmark against PyTorch eager;
# profile: `autokernel device`, then every zoo model profiled (attribution checks, overhead);
# judge: the CUDA candidate suite, template starters on the GPU, extracted starters checked,
# the hand-written example kernels judged and the judge's throughput.
# Headers the GPU machine lacks (sqlite3.h, CLI11) are carried in .carry/include, made on
# the development machine by scripts/gpu_carry.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-gpu/logs}
mkdir -p "$OUT"
steps=${*:-all}
want() { [[ " $steps " == *" all "* || " $steps " == *" $1 "* ]]; }
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
# ONNX's backend test data: Debian's package, or a copy carried in .carry/onnx-testdata.
if [ -d .carry/onnx-testdata ]; then export AK_ONNX_TESTDATA=$PWD/.carry/onnx-testdata; fi
TESTDATA=${AK_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}

if want build; then
  echo "== build" | tee "$OUT/build.log"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/build.log"
  prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" \
    -DAK_EXTRA_INCLUDE_DIR="$PWD/.carry/include" -DSQLite3_INCLUDE_DIR="$PWD/.carry/include" \
    -DSQLite3_LIBRARY="$(ls /usr/lib/x86_64-linux-gnu/libsqlite3.so* | head -1)" \
    -DOPENSSL_INCLUDE_DIR="$PWD/.carry/include" \
    -DOPENSSL_CRYPTO_LIBRARY="$(ls /usr/lib/x86_64-linux-gnu/libcrypto.so* | head -1)" \
    -DCMAKE_CUDA_ARCHITECTURES=90a >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  # AK_TARGETS: build only these targets (default: everything).
  ninja -C build-gpu -j 16 ${AK_TARGETS:-} >>"$OUT/build.log" 2>&1 || { grep -E "error|FAILED" "$OUT/build.log" | head -30; exit 1; }
  echo "built" | tee -a "$OUT/build.log"
  python3 models/zoo/make_zoo.py --out models/zoo/out 2>&1 | tee "$OUT/zoo.log" | tail -5
fi

if want cuda; then
  echo "== zoo conformance on CUDA"
  build-gpu/cli/autokernel conformance --device cuda --json "$OUT/zoo_cuda.json" models/zoo/out 2>&1 | tee "$OUT/zoo_cuda.log" | tail -6
  echo "== ONNX backend suites on CUDA"
  for suite in node pytorch-converted pytorch-operator simple; do
    build-gpu/cli/autokernel conformance --device cuda --json "$OUT/backend_cuda_$suite.json" \
      "$TESTDATA/$suite" > "$OUT/backend_cuda_$suite.log" 2>&1
    tail -1 "$OUT/backend_cuda_$suite.log" | sed "s/^/$suite: /"
  done
fi

if want test; then
  echo "== tests (all, GPU labels included)"
  (cd build-gpu && ctest --output-on-failure -j 8 2>&1) | tee "$OUT/ctest.log" | tail -25
fi

if want profile; then
  echo "== device peaks"
  build-gpu/cli/autokernel device --refresh 2>&1 | tee "$OUT/device.log"
  echo "== profile every zoo model (attribution, overhead)"
  python3 scripts/check_profile.py --autokernel build-gpu/cli/autokernel --zoo models/zoo/out --batches 1,32 \
    --out "$OUT/profile_check.json" --keep "$OUT/profiles" 2>&1 | tee "$OUT/profile_check.log"
fi

if want judge; then
  echo "== judge: CUDA candidate suite, templates on the GPU, extractor"
  (cd build-gpu && ctest --output-on-failure -R "CudaCandidate|TemplatesGpu|ProfileGpu" -j 2 2>&1) | tee "$OUT/ctest_judge.log" | tail -15
  echo "== extract the top gpt2 hotspots on CUDA and check every starter"
  build-gpu/cli/autokernel extract models/zoo/out/gpt2/model.onnx --device cuda --top 12 -o build-gpu/tasks/gpt2 \
    --check-starters 2>&1 | tee "$OUT/extract_gpt2_cuda.log" | tail -16
  echo "== hand-written kernels on extracted tasks; judge throughput"
  python3 scripts/bench_judge.py --autokernel build-gpu/cli/autokernel --zoo models/zoo/out --device cuda \
    --repeat 5 --out "$OUT/bench_judge_cuda.json" 2>&1 | tee "$OUT/bench_judge_cuda.log"
fi

if want bench; then
  echo "== runtime benchmark (ours vs PyTorch eager, CUDA)"
  python3 scripts/bench_runtime.py --device cuda --autokernel build-gpu/cli/autokernel --zoo models/zoo/out \
    --out "$OUT/bench_runtime_cuda.json" 2>&1 | tee "$OUT/bench_runtime_cuda.log" | tail -15
fi
