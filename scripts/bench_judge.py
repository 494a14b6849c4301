#!/usr/bin/env python3
"""Judges the hand-written kernels in kernels/examples on tasks extracted from the zoo, and
measures the judge's throughput (evaluations per minute, cached build excluded).

    python3 scripts/bench_judge.py --autokernel build/cli/autokernel --zoo models/zoo/out \\
        [--device cpu|cuda] [--threads N] [--repeat 10] [--out summary.json] [--work DIR]

Exits 1 when a hand-written kernel does not pass or is not faster than the reference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

GELU_NODES = ",".join("/blocks.0/mlp/mlp.1/" + n for n in
                      ["Mul", "Mul_1", "Mul_2", "Add", "Mul_3", "Tanh", "Add_1", "Mul_4", "Mul_5"])
SOFTMAX_NODES = "/layers.0/attention/Div,/layers.0/attention/Add,/layers.0/attention/Softmax"
TASKS = [
    # name, model, extra extract flags, nodes, kernel stem
    ("gelu_tanh", "gpt2", [], GELU_NODES, "gelu_tanh"),
    ("softmax_scale_mask", "bert", ["--no-fuse"], SOFTMAX_NODES, "softmax_scale_mask"),
]


def bench(ak, task, kernel, extra):
    t0 = time.monotonic()
    run = subprocess.run([ak, "bench", task, kernel, "--json", "--no-memory"] + extra, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if run.returncode == 2 or not run.stdout.strip():
        raise SystemExit(f"bench failed to run: {run.stderr.strip()[-400:]}")
    result = json.loads(run.stdout)
    result["wall_seconds"] = seconds
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--autokernel", required=True)
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=10, help="evaluations timed for the throughput figure")
    ap.add_argument("--out", default="")
    ap.add_argument("--work", default="")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="ak_examples_")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ext = ".cu" if args.device.startswith("cuda") else ".cpp"
    extra = ["--threads", str(args.threads)] if args.threads else []
    summary = {"device": args.device, "kernels": [], "throughput": {}}
    failures = []
    gelu_task = None
    for name, model, flags, nodes, stem in TASKS:
        out = os.path.join(work, name)
        cmd = [args.autokernel, "extract", os.path.join(args.zoo, model, "model.onnx"), "--device", args.device,
               "-o", out, "--nodes", nodes, "--iters", "3", "--warmup", "1", "--json"] + flags
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"extract {name} failed: {run.stderr.strip()[-400:]}")
        task = json.loads(run.stdout)[0]["dir"]
        kernel = os.path.join(root, "kernels", "examples", stem + ext)
        r = bench(args.autokernel, task, kernel, extra)
        starter = bench(args.autokernel, task, os.path.join(task, "starter" + ext), extra)
        row = {"task": name, "model": model, "status": r["status"], "speedup": r["speedup"],
               "speedup_ci95": r["speedup_ci95"], "latency_us": r["latency_us"],
               "reference_latency_us": r["reference_latency_us"], "max_abs_error": r["max_abs_error"],
               "starter_status": starter["status"], "starter_speedup": starter["speedup"]}
        summary["kernels"].append(row)
        print(f"{name:20s} {r['status']:8s} speedup {r['speedup'] or 0:.2f}x "
              f"[{(r['speedup_ci95'] or [0, 0])[0]:.2f}, {(r['speedup_ci95'] or [0, 0])[1]:.2f}]  "
              f"{r['latency_us'] or 0:.1f} us vs reference {r['reference_latency_us'] or 0:.1f} us  "
              f"(starter: {starter['status']}, {starter['speedup'] or 0:.2f}x)", flush=True)
        if r["status"] != "PASSED" or not r["speedup"] or r["speedup"] <= 1.0:
            failures.append(f"{name}: {r['status']} {r.get('message', '')} speedup {r['speedup']}")
        if name == "gelu_tanh":
            gelu_task = (task, kernel)

    # Throughput: the build is cached by now, so each evaluation is gates + benchmark.
    task, kernel = gelu_task
    for mode, flags in (("full", []), ("quick", ["--quick"])):
        walls = [bench(args.autokernel, task, kernel, extra + flags)["wall_seconds"] for _ in range(args.repeat)]
        walls.sort()
        median = walls[len(walls) // 2]
        summary["throughput"][mode] = {"median_seconds": median, "evaluations_per_minute": 60.0 / median,
                                       "runs": args.repeat}
        print(f"judge throughput ({mode}): {60.0 / median:.1f} evaluations/min (median {median:.2f} s per evaluation, "
              f"{args.repeat} runs, cached build)", flush=True)
    summary["failures"] = failures
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
