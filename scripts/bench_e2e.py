#!/usr/bin/env python3
"""The end-to-end benchmark: one model, same weights and inputs, in every runtime that can
run it on this GPU, in one process run.

For each zoo model, dtype (float32, float16), exporter (torchscript, dynamo) and batch:
  eager     the zoo's torch.nn.Module in PyTorch eager (torch.no_grad),
  compile   torch.compile(mode="default"),
  reduce    torch.compile(mode="reduce-overhead") (CUDA graphs + Inductor fusion),
  ours      `autokernel run MODEL --json --no-cuda-graph` on the model exported by that exporter,
  ours+graph  the same with `--cuda-graph` (when the binary has that option),
  ours+graph+pack  the same with `--kernels PACK` (when --pack is given and the binary
            has that option); the row records the swap summary `run --json` reports
            (pack_summary, pack_fallbacks) and prints it.
Every peer is timed the same way: W warm-up calls, then N calls timed one by one on the
host around a synchronized call (perf_counter after torch.cuda.synchronize(), as a user's
request sees it); autokernel reports its own median over the same scheme. Medians, p10 and
p90 are printed with each peer's ratio to reduce-overhead, the bar.

    python3 scripts/bench_e2e.py --models llama,gpt2 --dtypes float16 --batches 1 --out build/bench/e2e.json
    python3 scripts/bench_e2e.py            # everything: 5 models x 2 dtypes x 2 exporters x batches 1,32

Models are exported once per (model, dtype, exporter) into --work/models (the float32
TorchScript export is the zoo's own model.onnx); the dynamo exporter needs torch >= 2.5.
A peer that cannot run (no CUDA, no such option, an export that fails) is one line in the
log and a null in the table; the run goes on. Exit codes: 0 every `ours` run worked, 1 one
failed, 2 bad arguments.
"""

import argparse
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
import traceback

SCRIPTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS_DIR)
import bench_runtime  # noqa: E402  (its helpers: autokernel lookup, JSON runs, inputs, statistics)

REPO_ROOT = bench_runtime.REPO_ROOT
ZOO_DIR = bench_runtime.ZOO_DIR
PEERS = ("eager", "compile", "reduce", "ours", "ours+graph", "ours+graph+pack")
log = bench_runtime.log


def parse_args():
    parser = argparse.ArgumentParser(description="Time one model in PyTorch eager, torch.compile and autokernel.")
    parser.add_argument("--models", default=",".join(bench_runtime.make_zoo.MODELS))
    parser.add_argument("--dtypes", default="float32,float16")
    parser.add_argument("--exporters", default="torchscript,dynamo")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--zoo", default=os.path.join(ZOO_DIR, "out"))
    parser.add_argument("--work", default=os.path.join(REPO_ROOT, "build", "bench", "e2e"))
    parser.add_argument("--autokernel", default=None)
    parser.add_argument("--pack", default=None,
                        help="the ours+graph+pack peer's kernels: a pack folder (pack.json) for every row, a folder "
                             "of packs named MODEL-DTYPE-EXPORTER-bBATCH (or without -bBATCH; without either, the "
                             "row's pack of the nearest other batch, whose ranges decide what swaps), or 'auto': "
                             "build each row's pack from the template starters (scripts/template_pack.py)")
    parser.add_argument("--out", default=None, help="JSON file for every number (default: <work>/e2e.json)")
    args = parser.parse_args()

    def split(text, allowed=None, kind=""):
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if allowed is not None and x not in allowed]
        if bad or not items:
            parser.error(f"unknown {kind} {','.join(bad) or '(none)'}; choose from {','.join(allowed)}")
        return items

    args.models = split(args.models, bench_runtime.make_zoo.MODELS, "model")
    args.dtypes = split(args.dtypes, ("float32", "float16"), "dtype")
    args.exporters = split(args.exporters, ("torchscript", "dynamo"), "exporter")
    args.peers = split(args.peers, PEERS, "peer")
    try:
        args.batches = [int(b) for b in split(args.batches)]
    except ValueError:
        parser.error(f"--batches takes comma-separated integers, got '{args.batches}'")
    args.out = args.out or os.path.join(args.work, "e2e.json")
    return args


def export_model(spec, dtype, exporter, zoo_dir, work_dir):
    """The ONNX file for (model, dtype, exporter); returns (path, None) or (None, reason)."""
    import torch
    import zoo_export
    if dtype == "float32" and exporter == "torchscript":
        path = os.path.join(zoo_dir, spec.NAME, "model.onnx")
        return (path, None) if os.path.isfile(path) else (None, f"no {path} (run models/zoo/make_zoo.py)")
    folder = os.path.join(work_dir, "models", f"{spec.NAME}-{dtype}-{exporter}")
    path = os.path.join(folder, "model.onnx")
    stamp_path = os.path.join(folder, "stamp.json")
    stamp = {"hash": zoo_export.stamp_hash(inspect.getfile(spec)), "dtype": dtype, "exporter": exporter}
    if os.path.isfile(path) and os.path.isfile(stamp_path):
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                return path, None
    if exporter == "dynamo" and "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        return None, f"torch {torch.__version__} has no dynamo exporter"
    os.makedirs(folder, exist_ok=True)
    model = spec.build_model().eval()
    inputs = spec.make_inputs(2, 1000)
    if dtype == "float16":
        model = model.half()
        inputs = {k: v.half() if v.is_floating_point() else v for k, v in inputs.items()}
    args = tuple(inputs[name] for name in spec.INPUT_NAMES)
    start = time.perf_counter()
    try:
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=1024)
            program = torch.onnx.export(model, args, input_names=list(spec.INPUT_NAMES),
                                        output_names=list(spec.OUTPUT_NAMES), opset_version=18, dynamo=True,
                                        dynamic_shapes={name: {0: batch} for name in spec.INPUT_NAMES})
            program.save(path)
        else:
            axes = {name: {0: "batch"} for name in list(spec.INPUT_NAMES) + list(spec.OUTPUT_NAMES)}
            with torch.enable_grad():
                torch.onnx.export(model, args, path, input_names=list(spec.INPUT_NAMES),
                                  output_names=list(spec.OUTPUT_NAMES), dynamic_axes=axes, opset_version=17,
                                  do_constant_folding=True, dynamo=False)
    except Exception as error:  # noqa: BLE001 - reported, the other rows go on
        # torch.onnx's first line only points at "the full stack trace above": log the
        # trace and report the last line that names the cause.
        log(traceback.format_exc())
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        cause = next((line for line in reversed(lines) if "stack trace above" not in line), "")
        return None, f"{exporter} export failed: {cause or type(error).__name__}"
    with open(stamp_path, "w") as f:
        json.dump(stamp, f)
    log(f"[{spec.NAME} {dtype}] exported with {exporter} in {time.perf_counter() - start:.1f} s")
    return path, None


class TorchPeers:
    """Eager, compile and reduce-overhead on one module, timed on the host around
    synchronized calls."""

    def __init__(self):
        import torch
        self.torch = torch
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        self.key = None
        self.module = None
        self.compiled = {}

    def load(self, spec, dtype):
        if self.key != (spec.NAME, dtype):
            self.module, self.compiled = None, {}
            self.torch.cuda.empty_cache()
            module = spec.build_model().eval()
            self.module = (module.half() if dtype == "float16" else module).cuda()
            self.key = (spec.NAME, dtype)
        return self.module

    def callable(self, peer):
        if peer == "eager":
            return self.module
        mode = "default" if peer == "compile" else "reduce-overhead"
        if mode not in self.compiled:
            # dynamic=False: each batch gets its own static graph, as a deployment compiled
            # for that batch would (dynamo's automatic dynamic shapes would otherwise time the
            # second batch with a shape-generic graph).
            self.compiled[mode] = self.torch.compile(self.module, mode=mode, dynamic=False)
        return self.compiled[mode]

    def time(self, peer, spec, dtype, inputs, iters, warmup):
        torch = self.torch
        self.load(spec, dtype)
        fn = self.callable(peer)
        args = [inputs[name].cuda() for name in spec.INPUT_NAMES]
        if dtype == "float16":
            args = [a.half() if a.is_floating_point() else a for a in args]
        with torch.no_grad():
            start = time.perf_counter()
            fn(*args)  # compiles on the first call
            torch.cuda.synchronize()
            first_call_s = time.perf_counter() - start
            for _ in range(warmup):
                fn(*args)
            torch.cuda.synchronize()
            times = []
            for _ in range(iters):
                t0 = time.perf_counter()
                result = fn(*args)
                torch.cuda.synchronize()
                times.append((time.perf_counter() - t0) * 1e3)
            outputs = list(result) if isinstance(result, (tuple, list)) else [result]
            summary = [{"name": name, "shape": list(value.shape), "mean": value.double().mean().item(),
                        "std": value.double().std(unbiased=False).item()}
                       for name, value in zip(spec.OUTPUT_NAMES, outputs)]
        return {"latency_ms": bench_runtime.latency_stats(times), "iters": iters, "first_call_s": first_call_s,
                "outputs": summary}


def pack_for(args, autokernel, name, dtype, exporter, batch, model_path, files):
    """The pack folder for one row (see --pack), or None."""
    key = f"{name}-{dtype}-{exporter}"
    if args.pack == "auto":
        folder = os.path.join(args.work, "packs", f"{key}-b{batch}")
        if not os.path.isfile(os.path.join(folder, "pack.json")):
            command = [sys.executable, os.path.join(REPO_ROOT, "scripts", "template_pack.py"), model_path, "-o", folder,
                       "--autokernel", autokernel, "--device", "cuda", "--", "--dim", f"batch={batch}"]
            log(f"[{key} b{batch}] building its template pack: {' '.join(command)}")
            subprocess.run(command)
        return folder if os.path.isfile(os.path.join(folder, "pack.json")) else None
    if os.path.isfile(os.path.join(args.pack, "pack.json")):
        return args.pack
    for candidate in (f"{key}-b{batch}", key):
        folder = os.path.join(args.pack, candidate)
        if os.path.isfile(os.path.join(folder, "pack.json")):
            return folder
    # No pack for this batch: the row's pack of the nearest other batch. Its entries carry the
    # sizes they were verified for, and swap-in falls back to the original nodes outside them.
    others = []
    for entry in sorted(os.listdir(args.pack)) if os.path.isdir(args.pack) else []:
        size = entry[len(key) + 2:]
        if entry.startswith(f"{key}-b") and size.isdigit() and os.path.isfile(os.path.join(args.pack, entry, "pack.json")):
            others.append((abs(int(size) - batch), int(size), entry))
    if not others:
        return None
    _, other_batch, entry = min(others)
    log(f"[{key} b{batch}] no pack for batch {batch}: the pack of batch {other_batch} (its ranges decide what swaps)")
    return os.path.join(args.pack, entry)


def binary_has_option(autokernel, option):
    done = subprocess.run([autokernel, "run", "--help"], capture_output=True, text=True)
    return option in (done.stdout + done.stderr)


def main():
    args = parse_args()
    bench_runtime.make_zoo.ensure_torch()
    sys.path.insert(0, ZOO_DIR)
    import torch
    if not torch.cuda.is_available():
        log("bench_e2e: torch has no CUDA device here; nothing to measure")
        return 2
    autokernel = bench_runtime.find_autokernel(args.autokernel)
    ours_peers = [p for p in args.peers if p.startswith("ours")]
    if ours_peers and autokernel is None:
        log("ours: no autokernel binary; build it first (scripts/gpu_check.sh build); ours skipped")
        ours_peers = []
    # `run` replays CUDA graphs by default where it has --cuda-graph: "ours" turns them off.
    plain = ["--no-cuda-graph"] if autokernel and binary_has_option(autokernel, "--no-cuda-graph") else []
    options = {"ours": plain, "ours+graph": ["--cuda-graph"], "ours+graph+pack": ["--cuda-graph"]}
    for peer in list(ours_peers):
        missing = [o for o in options[peer] if o.startswith("--") and not binary_has_option(autokernel, o)]
        if peer == "ours+graph+pack" and not args.pack:
            missing.append("--pack")
        if missing:
            log(f"{peer}: not available ({', '.join(missing)} not built or not given); skipped")
            ours_peers.remove(peer)
    torch_peers = TorchPeers()
    report = {"iters": args.iters, "warmup": args.warmup, "autokernel": autokernel,
              "environment": bench_runtime.environment(argparse.Namespace(device="cuda"), None), "rows": []}
    report["environment"].update({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
                                  "cuda": torch.version.cuda})
    failed = 0
    for name in args.models:
        spec = importlib.import_module(name)
        for dtype in args.dtypes:
            for batch in args.batches:
                inputs, files = bench_runtime.write_inputs(spec, batch, os.path.join(args.work, "inputs",
                                                                                      f"{name}-b{batch}"))
                if dtype == "float16":
                    files = cast_input_files(spec, inputs, files)
                base = {"model": name, "dtype": dtype, "batch": batch}
                torch_results = {}
                for peer in [p for p in args.peers if not p.startswith("ours")]:
                    try:
                        torch_results[peer] = torch_peers.time(peer, spec, dtype, inputs, args.iters, args.warmup)
                        log(f"[{name} {dtype} b{batch}] {peer:8s} {bench_runtime.fmt_ms(torch_results[peer])} ms")
                    except Exception as error:  # noqa: BLE001
                        torch_results[peer] = {"error": bench_runtime.first_line(str(error))}
                        log(f"[{name} {dtype} b{batch}] {peer} FAILED: {torch_results[peer]['error']}")
                        torch.cuda.empty_cache()
                for exporter in args.exporters:
                    row = dict(base, exporter=exporter, **torch_results)
                    path, problem = export_model(spec, dtype, exporter, args.zoo, args.work) if ours_peers else (None, None)
                    if problem:
                        log(f"[{name} {dtype} {exporter}] {problem}")
                        row["export_error"] = problem
                    for peer in ours_peers if path else []:
                        command = [autokernel, "run", path, "--device", "cuda", "--dim", f"batch={batch}",
                                   "--iters", str(args.iters), "--warmup", str(args.warmup), "--json"]
                        command += options[peer]
                        if peer == "ours+graph+pack":
                            pack = pack_for(args, autokernel, name, dtype, exporter, batch, path, files)
                            if pack is None:
                                row[peer] = {"error": "no pack for this row"}
                                log(f"[{name} {dtype} b{batch} {exporter}] {peer}: no pack for this row; skipped")
                                continue
                            command += ["--kernels", pack]
                            row["pack"] = pack
                        for input_name, file in files:
                            command += ["--input", f"{input_name}={file}"]
                        result, error = bench_runtime.run_json(command)
                        row[peer] = result if result else {"error": error, "command": " ".join(command)}
                        if error:
                            failed += peer == "ours"
                            log(f"[{name} {dtype} b{batch} {exporter}] {peer} FAILED: {error}")
                        else:
                            log(f"[{name} {dtype} b{batch} {exporter}] {peer:8s} {bench_runtime.fmt_ms(result)} ms")
                        if peer == "ours+graph+pack" and result:
                            # What swapped at this batch: "kernels: swapped N instances ...", fallbacks counted.
                            kernels = result.get("kernels") or {}
                            row["pack_summary"] = kernels.get("summary")
                            row["pack_fallbacks"] = kernels.get("fallbacks")
                            log(f"[{name} {dtype} b{batch} {exporter}] {peer}: {row['pack_summary']}; "
                                f"{row['pack_fallbacks']} fallbacks")
                        mismatch = bench_runtime.output_mismatch(row.get(peer), row.get("eager"))
                        if mismatch:
                            row[f"{peer}_vs_eager_outputs"] = mismatch
                            log(f"[{name} {dtype} b{batch} {exporter}] WARNING: {peer} and eager disagree: {mismatch}")
                    for peer in args.peers:
                        row[f"{peer}_over_reduce"] = bench_runtime.ratio(row.get(peer), row.get("reduce"))
                    report["rows"].append(row)
        torch_peers.key = None
    print_table(report["rows"], args.peers)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    log(f"\nwrote {args.out}")
    return 1 if failed else 0


def cast_input_files(spec, inputs, files):
    """float16 models take float16 float inputs: rewrites the float input files."""
    import zoo_export
    out = []
    for (name, path), value in zip(files, (inputs[n] for n in spec.INPUT_NAMES)):
        if value.is_floating_point():
            path = path.replace(".pb", ".f16.pb")
            zoo_export.write_tensor(path, name, value.half())
        out.append((name, path))
    return out


def print_table(rows, peers):
    columns = ["model", "dtype", "batch", "exporter"] + [f"{p} ms" for p in peers] + ["best ours/reduce"]
    lines = []
    for row in rows:
        cells = [row["model"], row["dtype"], str(row["batch"]), row["exporter"]]
        cells += [bench_runtime.fmt_ms(row.get(p)) for p in peers]
        best = next((row.get(f"{p}_over_reduce") for p in ("ours+graph+pack", "ours+graph", "ours")
                     if row.get(f"{p}_over_reduce")), None)
        cells.append(f"{best:.2f}" if best else "-")
        lines.append(cells)
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(columns)]
    print("")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for line in lines:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths)))


if __name__ == "__main__":
    sys.exit(main())
