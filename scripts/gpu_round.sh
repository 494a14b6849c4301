#!/usr/bin/env bash
# One device call: build the GPU targets, run the GPU tests of the new features, build template
# packs and time the end-to-end table. Usage (on the GPU machine, OUT set by the device tool):
#   scripts/gpu_round.sh [tests] [packs MODELS] [e2e MODELS]
set -u
cd "$(dirname "$0")/.."
R=$OUT
export OUT=$R/logs; mkdir -p "$OUT"
AK_TARGETS="autokernel kernels_gpu_test cuda_graph_gpu_test swap_gpu_test profile_gpu_test" scripts/gpu_check.sh build >/dev/null 2>&1 \
  || { grep -E "error|FAILED" "$OUT/build.log" | head -20; echo BUILD FAILED; exit 1; }
echo "built at $(date +%T)"
AK=$PWD/build-gpu/cli/autokernel
while [ $# -gt 0 ]; do
  case "$1" in
    tests)
      for t in kernels/kernels_gpu_test models/cuda_graph_gpu_test models/swap_gpu_test profiler/profile_gpu_test; do
        timeout 300 build-gpu/tests/$t > "$OUT/$(basename $t).log" 2>&1; echo "$t rc=$?"
        grep -E "^\[  FAILED|PASSED|SKIPPED \]" "$OUT/$(basename $t).log" | head -12
      done; shift ;;
    packs)
      for m in ${2//,/ }; do
        f=build/bench/e2e/models/$m/model.onnx
        [ -f "$f" ] || { echo "no $f"; continue; }
        timeout 400 python3 scripts/template_pack.py "$f" -o "build/bench/e2e/packs/$m-b1" --autokernel "$AK" --device cuda \
          -- --dim batch=1 > "$OUT/pack-$m.log" 2>&1; echo "pack $m rc=$?"; grep -v "^\\$" "$OUT/pack-$m.log" | tail -16
      done
      mkdir -p "$OUT/packs"; for d in build/bench/e2e/packs/*-b1; do [ -d "$d" ] && cp -r "$d" "$OUT/packs/"; done
      cp build/bench/e2e/packs/*.tasks/template_pack.json "$OUT/packs/" 2>/dev/null
      rm -rf "$OUT"/packs/*/entries/*/kernel.so; shift 2 ;;
    e2e)
      timeout 420 python3 scripts/bench_e2e.py --models "$2" --dtypes float16 --batches 1 --exporters dynamo \
        --peers eager,reduce,ours,ours+graph,ours+graph+pack --pack build/bench/e2e/packs --iters 50 --warmup 10 \
        --autokernel "$AK" --out "$OUT/e2e.json" > "$OUT/e2e.log" 2>&1
      echo "e2e rc=$?"; grep -v "torch.onnx\|Warning\|return cls" "$OUT/e2e.log" | tail -12; shift 2 ;;
    export)  # the fp16 dynamo exports bench_e2e makes, without timing anything
      timeout 200 python3 scripts/bench_e2e.py --models "$2" --dtypes float16 --batches 1 --exporters dynamo \
        --peers ours --iters 1 --warmup 0 --autokernel "$AK" --out "$OUT/export.json" > "$OUT/export.log" 2>&1
      echo "export rc=$?"; ls build/bench/e2e/models; shift 2 ;;
    *) echo "unknown step $1"; exit 2 ;;
  esac
done
