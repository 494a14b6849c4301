#!/usr/bin/env bash
# One device call: build the GPU targets, run the GPU tests of the new features, build template
# packs and time the end-to-end table. Usage (on the GPU machine, OUT set by the device tool):
#   scripts/gpu_round.sh [tests] [packs MODELS] [e2e MODELS] [export MODELS]
# MODELS: zoo names, comma-separated (gpt2,llama). The packs, e2e and export steps take their
# dtypes, batches and exporters, comma-separated, from E2E_DTYPES (default float16),
# E2E_BATCHES (default 1) and E2E_EXPORTERS (default dynamo); packs builds one pack per
# model, dtype, exporter and batch, named as bench_e2e.py --pack looks them up.
set -u
E2E_DTYPES=${E2E_DTYPES:-float16} E2E_BATCHES=${E2E_BATCHES:-1} E2E_EXPORTERS=${E2E_EXPORTERS:-dynamo}
cd "$(dirname "$0")/.."
R=$OUT
export OUT=$R/logs; mkdir -p "$OUT"
AK_TARGETS="autokernel kernels_gpu_test cuda_graph_gpu_test swap_gpu_test profile_gpu_test verify_gpu_test" scripts/gpu_check.sh build >/dev/null 2>&1 \
  || { grep -E "error|FAILED" "$OUT/build.log" | head -20; echo BUILD FAILED; exit 1; }
echo "built at $(date +%T)"
AK=$PWD/build-gpu/cli/autokernel
while [ $# -gt 0 ]; do
  case "$1" in
    tests)
      for t in kernels/kernels_gpu_test models/cuda_graph_gpu_test models/swap_gpu_test profiler/profile_gpu_test cli/verify_gpu_test; do
        timeout 300 build-gpu/tests/$t > "$OUT/$(basename $t).log" 2>&1; echo "$t rc=$?"
        grep -E "^\[  FAILED|PASSED|SKIPPED \]" "$OUT/$(basename $t).log" | head -12
      done; shift ;;
    packs)
      for m in ${2//,/ }; do for d in ${E2E_DTYPES//,/ }; do for x in ${E2E_EXPORTERS//,/ }; do
        f=build/bench/e2e/models/$m-$d-$x/model.onnx
        [ "$d-$x" = float32-torchscript ] && f=models/zoo/out/$m/model.onnx  # the zoo's own export
        [ -f "$f" ] || { echo "no $f (run the export step first)"; continue; }
        for b in ${E2E_BATCHES//,/ }; do
          p=$m-$d-$x-b$b
          timeout 400 python3 scripts/template_pack.py "$f" -o "build/bench/e2e/packs/$p" --autokernel "$AK" --device cuda \
            -- --dim batch=$b > "$OUT/pack-$p.log" 2>&1; echo "pack $p rc=$?"; grep -v "^\\$" "$OUT/pack-$p.log" | tail -16
        done
      done; done; done
      mkdir -p "$OUT/packs"; for d in build/bench/e2e/packs/*-b*; do [ -d "$d" ] && cp -r "$d" "$OUT/packs/"; done
      for t in build/bench/e2e/packs/*.tasks; do
        [ -f "$t/template_pack.json" ] && cp "$t/template_pack.json" "$OUT/packs/$(basename "$t" .tasks).template_pack.json"
      done
      rm -rf "$OUT"/packs/*/entries/*/kernel.so; shift 2 ;;
    e2e)
      timeout 420 python3 scripts/bench_e2e.py --models "$2" --dtypes "$E2E_DTYPES" --batches "$E2E_BATCHES" --exporters "$E2E_EXPORTERS" \
        --peers eager,reduce,ours,ours+graph,ours+graph+pack --pack build/bench/e2e/packs --iters 50 --warmup 10 \
        --autokernel "$AK" --out "$OUT/e2e.json" > "$OUT/e2e.log" 2>&1
      echo "e2e rc=$?"; grep "ours+graph+pack: kernels:" "$OUT/e2e.log"
      grep -v "torch.onnx\|Warning\|return cls" "$OUT/e2e.log" | tail -12; shift 2 ;;
    export)  # the fp16 dynamo exports bench_e2e makes, without timing anything
      timeout 200 python3 scripts/bench_e2e.py --models "$2" --dtypes "$E2E_DTYPES" --batches 1 --exporters "$E2E_EXPORTERS" \
        --peers ours --iters 1 --warmup 0 --autokernel "$AK" --out "$OUT/export.json" > "$OUT/export.log" 2>&1
      echo "export rc=$?"; ls build/bench/e2e/models; shift 2 ;;
    *) echo "unknown step $1"; exit 2 ;;
  esac
done
