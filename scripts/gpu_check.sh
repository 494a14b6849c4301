#!/usr/bin/env bash
# Builds and tests autokernel on the GPU machine (pip libtorch with CUDA, no apt), then runs
# the GPU tests and benchmarks. Logs go to $OUT (or build-gpu/logs). Usage:
#   scripts/gpu_check.sh [--device D] [build|cuda|test|profile|judge|bench|all]...   (default: all)
# build: configure, build, export the zoo; cuda: zoo and ONNX backend conformance on CUDA;
# test: ctest (CPU and gpu labels); bench: the runtime benchmark against PyTorch eager;
# profile: `autokernel device`, then every zoo model profiled (attribution checks, overhead);
# judge: the CUDA candidate suite, template starters on the GPU, extracted starters checked,
# the hand-written example kernels judged and the judge's throughput.
# Every step runs to its end; a step fails when any of its commands fails, and the script
# then exits 1 naming the failed steps (a failed build stops the script at once).
# The backend suites must pass except the tests in tests/models/onnx_backend_known.txt (the
# same gate as tests/models/backend_test.cpp on the CPU): a test that newly fails or drops
# to UNSUPPORTED, or a listed test that now passes, fails the cuda step.
# --device cpu runs the conformance step on the CPU with an existing build (AK_BUILD_DIR,
# default build-gpu), to check the gates without a GPU (tests/cli/gpu_check_test.cpp).
# AK_ONNX_TESTDATA, AK_ZOO and AK_KNOWN override the test data, the zoo and the known list.
# Headers the GPU machine lacks (sqlite3.h, CLI11) are carried in .carry/include, made on
# the development machine by scripts/gpu_carry.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=cuda
if [ "${1:-}" = "--device" ]; then
  DEVICE=${2:?--device needs a value}
  shift 2
fi
steps=${*:-all}
for s in $steps; do
  case $s in build|cuda|test|profile|judge|bench|all) ;; *) echo "gpu_check: unknown step '$s'" >&2; exit 2 ;; esac
done
OUT=${OUT:-build-gpu/logs}
mkdir -p "$OUT"
want() { [[ " $steps " == *" all "* || " $steps " == *" $1 "* ]]; }
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
# ONNX's backend test data: AK_ONNX_TESTDATA, a copy carried in .carry/onnx-testdata, or Debian's package.
if [ -z "${AK_ONNX_TESTDATA:-}" ] && [ -d .carry/onnx-testdata ]; then export AK_ONNX_TESTDATA=$PWD/.carry/onnx-testdata; fi
TESTDATA=${AK_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
BUILD=${AK_BUILD_DIR:-build-gpu}
ZOO=${AK_ZOO:-models/zoo/out}
KNOWN=${AK_KNOWN:-tests/models/onnx_backend_known.txt}
AK=$BUILD/cli/autokernel
failed_steps=()

# run_step NAME FUNCTION: runs the step, records its failure.
run_step() {
  echo "== step $1"
  if "$2"; then echo "== step $1: ok"; else echo "== step $1 FAILED"; failed_steps+=("$1"); fi
}

# conformance_gate LABEL LOG ARGS...: one conformance run gated by the known list; prints
# the summary line, and on failure the tests that made it fail.
conformance_gate() {
  local label=$1 log=$2
  shift 2
  "$AK" conformance --device "$DEVICE" --known "$KNOWN" "$@" >"$log" 2>&1
  local rc=$?
  grep -E '^conformance: [0-9]' "$log" | sed "s/^/$label: /"
  if [ $rc -ne 0 ]; then
    echo "$label: FAILED (exit $rc):"
    grep -E '^conformance: not accepted|^autokernel: error' "$log" | head -30
    return 1
  fi
}

step_build() {
  echo "== build" | tee "$OUT/build.log"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/build.log" || return 1
  local prefix
  prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') || return 1
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" \
    -DAK_EXTRA_INCLUDE_DIR="$PWD/.carry/include" -DSQLite3_INCLUDE_DIR="$PWD/.carry/include" \
    -DSQLite3_LIBRARY="$(ls /usr/lib/x86_64-linux-gnu/libsqlite3.so* | head -1)" \
    -DOPENSSL_INCLUDE_DIR="$PWD/.carry/include" \
    -DOPENSSL_CRYPTO_LIBRARY="$(ls /usr/lib/x86_64-linux-gnu/libcrypto.so* | head -1)" \
    -DCMAKE_CUDA_ARCHITECTURES=90a >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; return 1; }
  # AK_TARGETS: build only these targets (default: everything).
  ninja -C "$BUILD" -j 16 ${AK_TARGETS:-} >>"$OUT/build.log" 2>&1 || { grep -E "error|FAILED" "$OUT/build.log" | head -30; return 1; }
  echo "built" | tee -a "$OUT/build.log"
  python3 models/zoo/make_zoo.py --out "$ZOO" 2>&1 | tee "$OUT/zoo.log" | tail -5
}

step_cuda() {
  local rc=0
  echo "== zoo conformance on $DEVICE"
  conformance_gate zoo "$OUT/zoo_$DEVICE.log" --json "$OUT/zoo_$DEVICE.json" "$ZOO" || rc=1
  echo "== ONNX backend suites on $DEVICE"
  for suite in node pytorch-converted pytorch-operator simple; do
    if [ ! -d "$TESTDATA/$suite" ]; then
      echo "$suite: FAILED: no test data at $TESTDATA/$suite"
      rc=1
      continue
    fi
    conformance_gate "$suite" "$OUT/backend_${DEVICE}_$suite.log" --json "$OUT/backend_${DEVICE}_$suite.json" \
      "$TESTDATA/$suite" || rc=1
  done
  return $rc
}

step_test() {
  echo "== tests (all, GPU labels included)"
  (cd "$BUILD" && ctest --output-on-failure -j 8 2>&1) | tee "$OUT/ctest.log" | tail -25
}

step_profile() {
  local rc=0
  echo "== device peaks"
  "$AK" device --refresh 2>&1 | tee "$OUT/device.log" || rc=1
  echo "== profile every zoo model (attribution, overhead)"
  python3 scripts/check_profile.py --autokernel "$AK" --zoo "$ZOO" --batches 1,32 \
    --out "$OUT/profile_check.json" --keep "$OUT/profiles" 2>&1 | tee "$OUT/profile_check.log" || rc=1
  return $rc
}

step_judge() {
  local rc=0
  echo "== judge: CUDA candidate suite, templates on the GPU, extractor"
  (cd "$BUILD" && ctest --output-on-failure -R "CudaCandidate|TemplatesGpu|ProfileGpu" -j 2 2>&1) | tee "$OUT/ctest_judge.log" | tail -15 || rc=1
  echo "== extract the top gpt2 hotspots on CUDA and check every starter"
  "$AK" extract "$ZOO/gpt2/model.onnx" --device cuda --top 12 -o "$BUILD/tasks/gpt2" \
    --check-starters 2>&1 | tee "$OUT/extract_gpt2_cuda.log" | tail -16 || rc=1
  echo "== hand-written kernels on extracted tasks; judge throughput"
  python3 scripts/bench_judge.py --autokernel "$AK" --zoo "$ZOO" --device cuda \
    --repeat 5 --out "$OUT/bench_judge_cuda.json" 2>&1 | tee "$OUT/bench_judge_cuda.log" || rc=1
  return $rc
}

step_bench() {
  echo "== runtime benchmark (ours vs PyTorch eager, CUDA)"
  python3 scripts/bench_runtime.py --device cuda --autokernel "$AK" --zoo "$ZOO" \
    --out "$OUT/bench_runtime_cuda.json" 2>&1 | tee "$OUT/bench_runtime_cuda.log" | tail -15
}

if want build; then
  run_step build step_build
  if [ ${#failed_steps[@]} -ne 0 ]; then echo "gpu_check: FAILED: build (later steps not run)"; exit 1; fi
fi
want cuda && run_step cuda step_cuda
want test && run_step test step_test
want profile && run_step profile step_profile
want judge && run_step judge step_judge
want bench && run_step bench step_bench

if [ ${#failed_steps[@]} -ne 0 ]; then
  echo "gpu_check: FAILED steps: ${failed_steps[*]}"
  exit 1
fi
echo "gpu_check: all steps passed ($steps)"
