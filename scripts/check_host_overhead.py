#!/usr/bin/env python3
"""Measures what host timing costs on the CPU, in `profile` and in `extract`, over repeats.

    python3 scripts/check_host_overhead.py --autokernel build/cli/autokernel [--autokernel OTHER ...]
        [--zoo models/zoo/out] [--models gpt2,bert,resnet50] [--model X.onnx ...] [--convnext FILE.onnx]
        [--repeats 3] [--iters 10] [--warmup 3] [--threads N] [--limit 1.10] [--keep DIR]

Per model and binary, each repeat runs `autokernel profile --device cpu --json` (one process:
its unprofiled baseline, then the profiled iterations) and `autokernel extract --top 1`. It
reports, as the median over the repeats (min-max beside it):
  overhead    profiled / unprofiled wall per iteration, from the profile's JSON;
  nodes/wall  the profile's model time (sum of node medians) / its unprofiled wall: above 1,
              the measurement inflates node times;
  extract     extract's model time / the same repeat's unprofiled wall.
Repeats run round-robin over models and binaries, so a burst of load on the shared machine
hits every column alike. Wall times on a loaded 2-core machine swing by more than the
effect; `--cpu` adds what load barely moves, from the children's getrusage, by differencing
runs of --iters and of 1 iteration (same warm-up): `autokernel run` gives the CPU time and
minor page faults of an unprofiled iteration, `profile` those of a baseline plus a profiled
one, so
  cpu         profiled / unprofiled CPU time per iteration;
  faults      minor page faults of a profiled iteration minus an unprofiled one's. `--convnext FILE` exports a small ConvNeXt (torchvision's class,
random weights, 160x160) to FILE first when FILE is missing; that needs torch.

Not run by CI (timings); the deterministic guard is tests/profiler/host_timing_test.cpp.
Exit codes: 0 every median within --limit, 1 one is not (or a run failed), 2 bad arguments.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

CONVNEXT_EXPORT = """
import sys, torch
from torchvision.models.convnext import ConvNeXt, CNBlockConfig
torch.manual_seed(0)
blocks = [CNBlockConfig(48, 96, 2), CNBlockConfig(96, 192, 2), CNBlockConfig(192, 384, 4), CNBlockConfig(384, None, 2)]
model = ConvNeXt(blocks, num_classes=100).eval()
torch.onnx.export(model, (torch.randn(1, 3, 160, 160),), sys.argv[1], opset_version=17,
                  input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}})
"""


def export_convnext(path):
    """Exports the ConvNeXt-style model with the first python that has torch and torchvision."""
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([python, "-c", "import torch, torchvision"], capture_output=True)
        if probe.returncode == 0:
            subprocess.run([python, "-c", CONVNEXT_EXPORT, path], check=True)
            return
    raise RuntimeError("--convnext: no python with torch and torchvision to export " + path)


def child_usage():
    """CPU seconds and minor page faults of every child waited for so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime, r.ru_minflt


def usage_of(cmd, log):
    """Runs `cmd` (output to `log`); returns its CPU seconds and minor faults, or None."""
    cpu0, flt0 = child_usage()
    run = subprocess.run(cmd, capture_output=True, text=True)
    cpu1, flt1 = child_usage()
    with open(log, "w") as f:
        f.write(run.stdout + run.stderr)
    return (cpu1 - cpu0, flt1 - flt0) if run.returncode == 0 else None


def cpu_cost(binary, path, flags, iters, log_prefix):
    """(profiled / unprofiled CPU per iteration, extra faults per profiled iteration), or None.
    `flags(n)` are the command-line flags for n iterations."""
    def per_iteration(command, extra):
        many = usage_of([binary, command, path] + extra + flags(iters), log_prefix + f".{command}.many.txt")
        one = usage_of([binary, command, path] + extra + flags(1), log_prefix + f".{command}.one.txt")
        if many is None or one is None:
            return None
        return [(m - o) / (iters - 1) for m, o in zip(many, one)]
    unprofiled = per_iteration("run", [])
    pair = per_iteration("profile", ["--top", "1"])
    if unprofiled is None or pair is None or unprofiled[0] <= 0:
        return None
    return (pair[0] - unprofiled[0]) / unprofiled[0], pair[1] - 2 * unprofiled[1]


def spread(values):
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--autokernel", action="append", required=True, help="a binary; repeat to compare binaries")
    ap.add_argument("--zoo", default="models/zoo/out")
    ap.add_argument("--models", default="gpt2,bert,resnet50", help="zoo model names, comma-separated")
    ap.add_argument("--model", action="append", default=[], help="another ONNX file")
    ap.add_argument("--convnext", default="", help="ONNX file of the ConvNeXt-style model (exported if missing)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--limit", type=float, default=1.10)
    ap.add_argument("--no-extract", action="store_true", help="profile only")
    ap.add_argument("--cpu", action="store_true", help="also CPU time and page faults per iteration (4 more runs)")
    ap.add_argument("--keep", default="", help="folder for the reports and logs")
    args = ap.parse_args()
    if args.repeats < 1 or args.iters < (2 if args.cpu else 1) or args.warmup < 0:
        print("check_host_overhead: --repeats must be >= 1, --iters >= 1 (2 with --cpu), --warmup >= 0", file=sys.stderr)
        return 2
    for binary in args.autokernel:
        if not os.access(binary, os.X_OK):
            print(f"check_host_overhead: {binary} is not an executable", file=sys.stderr)
            return 2
    paths = {m: os.path.join(args.zoo, m, "model.onnx") for m in args.models.split(",") if m}
    for p in args.model:
        paths[os.path.splitext(os.path.basename(p))[0]] = p
    if args.convnext:
        if not os.path.isfile(args.convnext):
            export_convnext(args.convnext)
        paths["convnext"] = args.convnext
    for name, p in paths.items():
        if not os.path.isfile(p):
            print(f"check_host_overhead: model {name}: no file {p}", file=sys.stderr)
            return 2
    keep = args.keep or tempfile.mkdtemp(prefix="ak_host_overhead_")
    os.makedirs(keep, exist_ok=True)

    def flags(iters):
        return ["--device", "cpu", "--threads", str(args.threads), "--iters", str(iters), "--warmup", str(args.warmup)]
    common = flags(args.iters)
    results = {}  # (binary index, model) -> {"overhead": [], "nodes": [], "extract": []}
    failures = []
    for repeat in range(args.repeats):
        for name, path in paths.items():
            for b, binary in enumerate(args.autokernel):
                r = results.setdefault((b, name), {"overhead": [], "nodes": [], "extract": [], "wall_ms": [], "cpu": [], "faults": []})
                tag = f"{name}_bin{b}_r{repeat}"
                report = os.path.join(keep, tag + ".json")
                run = subprocess.run([binary, "profile", path, "--top", "5", "--json", report] + common,
                                     capture_output=True, text=True)
                with open(os.path.join(keep, tag + ".profile.txt"), "w") as f:
                    f.write(run.stdout + run.stderr)
                if run.returncode != 0:
                    failures.append(f"{tag}: profile exited {run.returncode}: {run.stderr.strip()[-300:]}")
                    continue
                with open(report) as f:
                    j = json.load(f)
                unprofiled = j["timing"]["unprofiled_wall_us"]
                r["overhead"].append(j["timing"]["overhead_ratio"])
                r["nodes"].append(j["total_time_us"] / unprofiled)
                r["wall_ms"].append(unprofiled / 1e3)
                if args.cpu:
                    cost = cpu_cost(binary, path, flags, args.iters, os.path.join(keep, tag))
                    if cost is None:
                        failures.append(f"{tag}: a run for --cpu failed (logs in {keep})")
                    else:
                        r["cpu"].append(cost[0])
                        r["faults"].append(cost[1])
                if args.no_extract:
                    continue
                run = subprocess.run([binary, "extract", path, "--top", "1", "-o", os.path.join(keep, tag + ".tasks")] +
                                     common, capture_output=True, text=True)
                with open(os.path.join(keep, tag + ".extract.txt"), "w") as f:
                    f.write(run.stdout + run.stderr)
                found = re.search(r"model time ([0-9.]+) us per iteration", run.stdout)
                if run.returncode != 0 or not found:
                    failures.append(f"{tag}: extract exited {run.returncode}: {run.stderr.strip()[-300:]}")
                    continue
                r["extract"].append(float(found.group(1)) / unprofiled)
            print(f"repeat {repeat + 1}/{args.repeats}: {name} done", file=sys.stderr)

    keys = ("wall_ms", "overhead", "nodes", "extract", "cpu", "faults")
    print(f"{'model':<10} {'binary':<24}" + "".join(f" {k:>22}" for k in keys))
    over = []
    for (b, name), r in results.items():
        if not r["overhead"]:
            continue
        cells = [spread(r[k]) if r[k] else "-" for k in keys]
        print(f"{name:<10} {args.autokernel[b][-24:]:<24}" + "".join(f" {c:>22}" for c in cells))
        for key in ("overhead", "nodes", "extract", "cpu"):
            if r[key] and statistics.median(r[key]) > args.limit:
                over.append(f"{name} ({args.autokernel[b]}): median {key} {statistics.median(r[key]):.3f} > {args.limit}")
    print(f"reports: {keep}")
    for line in failures + over:
        print("FAIL " + line)
    return 1 if failures or over else 0


if __name__ == "__main__":
    sys.exit(main())
