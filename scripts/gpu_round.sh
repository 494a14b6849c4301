#!/usr/bin/env bash
# One device call: build the GPU targets, run the GPU tests of the new features, build template
# packs and time the end-to-end table. Usage (on the GPU machine, OUT set by the device tool):
#   scripts/gpu_round.sh [tests] [export MODELS] [packs MODELS] [e2e MODELS] [templates MODELS]
# MODELS: zoo names, comma-separated (gpt2,llama). The export, packs and e2e steps take their
# dtypes, batches and exporters, comma-separated, from E2E_DTYPES (default float16),
# E2E_BATCHES (default 1) and E2E_EXPORTERS (default dynamo); packs builds one pack per
# model, dtype and batch from the first of E2E_EXPORTERS whose export exists (the dynamo
# exporter fails on some models), E2E_JOBS (default 1: judges sharing the GPU admit kernels
# that lose alone) at a time, named as bench_e2e.py
# --pack looks them up. tests: every test labelled gpu (ctest -L gpu, 8 at a time; the
# template tests are nvcc-bound). E2E_PEERS, E2E_TIMEOUT, PACK_TIMEOUT and TEMPLATES_BUDGET_S override
# the e2e peers, its time limit, each pack's time limit and bench_templates' total budget.
set -u
E2E_DTYPES=${E2E_DTYPES:-float16} E2E_BATCHES=${E2E_BATCHES:-1} E2E_EXPORTERS=${E2E_EXPORTERS:-dynamo}
cd "$(dirname "$0")/.."
R=$OUT
export OUT=$R/logs; mkdir -p "$OUT"
# AK_NO_BUILD=1: use the build of an earlier call (two rounds running side by side).
if [ -z "${AK_NO_BUILD:-}" ]; then
  AK_TARGETS="autokernel kernels_gpu_test cuda_graph_gpu_test swap_gpu_test profile_gpu_test verify_gpu_test judge_gpu_test" scripts/gpu_check.sh build >/dev/null 2>&1 \
    || { grep -E "error|FAILED" "$OUT/build.log" | head -20; echo BUILD FAILED; exit 1; }
  echo "built at $(date +%T)"
fi
AK=$PWD/build-gpu/cli/autokernel
while [ $# -gt 0 ]; do
  case "$1" in
    tests)
      (cd build-gpu && timeout 480 ctest -L gpu -j 8 --timeout 420 --output-on-failure > "$OUT/ctest_gpu.log" 2>&1); echo "ctest -L gpu rc=$?"
      grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|Not Run" "$OUT/ctest_gpu.log" | head -20; shift ;;
    packs)
      jobs=0
      for m in ${2//,/ }; do for d in ${E2E_DTYPES//,/ }; do
        f="" x=""
        for x in ${E2E_EXPORTERS//,/ }; do
          f=build/bench/e2e/models/$m-$d-$x/model.onnx
          [ "$d-$x" = float32-torchscript ] && f=models/zoo/out/$m/model.onnx  # the zoo's own export
          [ -f "$f" ] && break; f=""
        done
        [ -n "$f" ] || { echo "no export of $m $d (run the export step first)"; continue; }
        for b in ${E2E_BATCHES//,/ }; do
          p=$m-$d-$x-b$b
          (timeout "${PACK_TIMEOUT:-400}" python3 scripts/template_pack.py "$f" -o "build/bench/e2e/packs/$p" --autokernel "$AK" --device cuda \
            -- --dim batch=$b > "$OUT/pack-$p.log" 2>&1; echo "pack $p rc=$?"; grep -v "^\\$" "$OUT/pack-$p.log" | tail -14) &
          jobs=$((jobs + 1)); [ $((jobs % ${E2E_JOBS:-1})) -eq 0 ] && wait
        done
      done; done; wait
      mkdir -p "$OUT/packs"; for d in build/bench/e2e/packs/*-b*; do [ -d "$d" ] && cp -r "$d" "$OUT/packs/"; done
      for t in build/bench/e2e/packs/*.tasks; do
        [ -f "$t/template_pack.json" ] && cp "$t/template_pack.json" "$OUT/packs/$(basename "$t" .tasks).template_pack.json"
      done
      rm -rf "$OUT"/packs/*/entries/*/kernel.so; shift 2 ;;
    e2e)
      timeout "${E2E_TIMEOUT:-420}" python3 scripts/bench_e2e.py --models "$2" --dtypes "$E2E_DTYPES" --batches "$E2E_BATCHES" \
        --exporters "$E2E_EXPORTERS" --peers "${E2E_PEERS:-eager,compile,reduce,ours,ours+graph,ours+graph+pack}" --pack build/bench/e2e/packs --iters 50 --warmup 10 \
        --autokernel "$AK" --out "$OUT/e2e.json" > "$OUT/e2e.log" 2>&1
      echo "e2e rc=$?"; grep "ours+graph+pack: kernels:" "$OUT/e2e.log"
      grep -v "torch.onnx\|Warning\|return cls" "$OUT/e2e.log" | tail -12; shift 2 ;;
    export)  # the fp16 dynamo exports bench_e2e makes, without timing anything
      timeout 300 python3 scripts/bench_e2e.py --models "$2" --dtypes "$E2E_DTYPES" --batches 1 --exporters "$E2E_EXPORTERS" \
        --peers ours --iters 1 --warmup 0 --autokernel "$AK" --out "$OUT/export.json" > "$OUT/export.log" 2>&1
      echo "export rc=$?"; ls build/bench/e2e/models; shift 2 ;;
    templates)  # each template task's best configuration against the reference (docs/kernels.md)
      ms=""; for m in ${2//,/ }; do for x in ${E2E_EXPORTERS//,/ }; do
        f=build/bench/e2e/models/$m-float16-$x/model.onnx; [ -f "$f" ] && { ms="$ms $f"; break; }
      done; done
      timeout "${TEMPLATES_TIMEOUT:-300}" python3 scripts/bench_templates.py $ms --device cuda --autokernel "$AK" \
        --total-budget-s "${TEMPLATES_BUDGET_S:-240}" --out "$OUT/templates.json" > "$OUT/templates.log" 2>&1
      echo "templates rc=$?"; tail -40 "$OUT/templates.log"; shift 2 ;;
    *) echo "unknown step $1"; exit 2 ;;
  esac
done
