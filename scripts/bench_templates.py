#!/usr/bin/env python3
"""The per-template benchmark: each template starter's best configuration against the ATen
reference, on the shapes of real models.

For every model: `autokernel extract MODEL --top N` into WORK/<model>; then, for every task
whose starter is a template (not a skeleton), a search over the template's parameters
(`autokernel template TASK --list --json`) within a time budget per task:

  1. the default configuration first,
  2. coordinate descent: each parameter over its legal values with the others at the best
     so far, keeping a value when its median latency beats the best by --min-gain; sweeps
     repeat while one improved and the budget lasts.

Each configuration is written by `autokernel template TASK --set NAME=VALUE ... -o FILE` and
judged by `autokernel bench TASK FILE --quick --json` (its median latency decides); the
winner, and the default when it is another configuration, then get the full gates and
benchmark (`bench` without --quick), whose speedup and 95% interval are reported. For
memory-bound tasks (task.json tag bound:memory) the achieved bandwidth is the task's bytes
(task.json "bytes", the roofline's count: what the kernel must read and write) over the
winner's median latency, as a fraction of the bandwidth measured in the same run (a 1 GiB
device-to-device copy in torch timed with CUDA events on a GPU, 2 x bytes / time, best of
10; a 256 MiB memcpy on the CPU, with numpy when it is installed).

    python3 scripts/bench_templates.py models/zoo/out/*/model.onnx --device cuda --out build/bench/templates.json
    python3 scripts/bench_templates.py models/zoo/out/gpt2/model.onnx --device cpu --top 3 --budget-s 30 -- --dim batch=1

Arguments after `--` go to every `autokernel extract` (e.g. --dim batch=1, --tf32). Prints a
progress line per configuration on stderr and a markdown table on stdout; writes every number
to --out. --total-budget-s bounds the whole run (extraction included): each task's search gets
at most what is left divided by the tasks left. Exit codes: 0 every winner passed the full
gates, 1 an extraction or a winner failed, 2 bad arguments.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

SCRIPTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS_DIR)
import bench_runtime  # noqa: E402  (find_autokernel; stdlib-only at import time)

REPO_ROOT = bench_runtime.REPO_ROOT
DTYPE_NAMES = {1: "float32", 10: "float16", 16: "bfloat16", 11: "float64", 7: "int64", 6: "int32", 9: "bool"}
DTYPE_BYTES = {1: 4, 10: 2, 16: 2, 11: 8, 7: 8, 6: 4, 9: 1, 2: 1, 3: 1}


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_args():
    argv = sys.argv[1:]
    extract_options = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="ONNX model files")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--top", type=int, default=5, help="workloads extracted per model")
    parser.add_argument("--budget-s", type=float, default=30, help="seconds of search per task (the full gates after it excluded)")
    parser.add_argument("--total-budget-s", type=float, default=240,
                        help="seconds for the whole run, extraction included (0: no limit)")
    parser.add_argument("--min-gain", type=float, default=0.02,
                        help="a configuration replaces the best when its median is this fraction lower")
    parser.add_argument("--timeout", type=float, default=60, help="bench --timeout (seconds per worker run)")
    parser.add_argument("--threads", type=int, default=0, help="bench --threads on the CPU (0: all)")
    parser.add_argument("--work", default=os.path.join(REPO_ROOT, "build", "bench", "templates"),
                        help="folder for the tasks and candidates (each model's folder is replaced)")
    parser.add_argument("--out", default=None, help="JSON with every number (default: WORK/templates.json)")
    parser.add_argument("--autokernel", default=None)
    args = parser.parse_args(argv)
    args.extract_options = extract_options
    if args.top < 1 or args.budget_s <= 0 or args.total_budget_s < 0 or not 0 <= args.min_gain < 1:
        parser.error("--top and --budget-s must be positive, --total-budget-s >= 0, 0 <= --min-gain < 1")
    for model in args.models:
        if not os.path.isfile(model):
            parser.error(f"no model file {model}")
    args.autokernel = bench_runtime.find_autokernel(args.autokernel)
    if args.autokernel is None:
        parser.error("no autokernel binary (build it, or pass --autokernel)")
    return args


def run_json(command, timeout_s):
    """Runs a command that prints JSON on stdout: (exit code, parsed JSON or None, last stderr line)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return 124, None, f"timed out after {timeout_s:.0f} s"
    try:
        out = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        out = None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return done.returncode, out, lines[-1] if lines else ""


# --- peak bandwidth ----------------------------------------------------------------------

def measure_bandwidth_gbps(device, autokernel):
    """(GB/s, how it was measured): the copy this run can time, best of several."""
    if device == "cuda":
        try:
            import torch
            if torch.cuda.is_available():
                n = 1 << 30
                src = torch.empty(n, dtype=torch.uint8, device="cuda")
                dst = torch.empty_like(src)
                best = float("inf")
                for _ in range(12):
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    dst.copy_(src)
                    end.record()
                    end.synchronize()
                    best = min(best, start.elapsed_time(end) / 1e3)
                del src, dst
                torch.cuda.empty_cache()
                return 2 * n / best / 1e9, "torch: 1 GiB device-to-device copy, CUDA events, 2 x bytes / time, best of 12"
        except ImportError:
            pass
        # Without torch: the copy autokernel's own probe times (the roofline's figure).
        rc, peaks, err = run_json([autokernel, "device", "--device", "cuda", "--refresh", "--json"], 300)
        if rc == 0 and peaks:
            return peaks["measured"]["bandwidth_gbps"], "autokernel device --refresh (torch is not installed)"
        raise SystemExit(f"bench_templates: cannot measure the GPU's bandwidth: {err}")
    n = 256 << 20
    try:
        import numpy
        src = numpy.ones(n, dtype=numpy.uint8)
        dst = numpy.empty_like(src)
        copy, how = (lambda: numpy.copyto(dst, src)), "numpy.copyto"
    except ImportError:
        src, dst = bytearray(n), bytearray(n)
        view_src, view_dst = memoryview(src), memoryview(dst)

        def copy():
            view_dst[:] = view_src
        how = "memoryview copy (memmove)"
    best = float("inf")
    for _ in range(6):
        t0 = time.perf_counter()
        copy()
        best = min(best, time.perf_counter() - t0)
    return 2 * n / best / 1e9, f"{how}: 256 MiB host copy, 2 x bytes / time, best of 6"


# --- one task -----------------------------------------------------------------------------

def config_slug(config):
    return "_".join(f"{name}-{value}" for name, value in sorted(config.items())) or "default"


def config_text(config, defaults):
    """The values that differ from the defaults, "name=value ...", or "default"."""
    changed = [f"{name}={value}" for name, value in config.items() if defaults.get(name) != value]
    return " ".join(changed) or "default"


def shapes_text(task):
    def one(t):
        return "x".join(str(d) for d in t["shape"]) if t["shape"] else "scalar"
    return ", ".join(one(t) for t in task["inputs"]) + " -> " + ", ".join(one(t) for t in task["outputs"])


def tensor_bytes(t):
    count = 1
    for d in t["shape"]:
        count *= d
    return count * DTYPE_BYTES.get(t["dtype_code"], 4)


def read_task(task_dir):
    """The fields of task.json this benchmark reports."""
    with open(os.path.join(task_dir, "task.json")) as f:
        j = json.load(f)
    axes = {name: a["value"] for name, a in j.get("axes", {}).items()}

    def tensors(entries):
        out = []
        for name, e in entries.items():
            shape = [axes[d] if isinstance(d, str) else d for d in e["shape"]]
            code = next((c for c, dtype in DTYPE_NAMES.items() if dtype == e["dtype"]), 0)
            out.append({"name": name, "dtype": e["dtype"], "dtype_code": code, "shape": shape})
        return out

    task = {"inputs": tensors(j["inputs"]), "outputs": tensors(j["outputs"]), "tags": j.get("tags", []),
            "bytes": j.get("bytes", 0), "flops": j.get("flops", 0), "op_type": j["op_type"]}
    if not task["bytes"]:
        task["bytes"] = sum(tensor_bytes(t) for t in task["inputs"] + task["outputs"])
    task["bound"] = next((t.split(":", 1)[1] for t in task["tags"] if t.startswith("bound:")), "")
    task["dtype"] = task["outputs"][0]["dtype"]
    return task


class Search:
    """The coordinate-descent search over one task's template parameters."""

    def __init__(self, args, task_dir, ext, folder):
        self.args, self.task_dir, self.ext, self.folder = args, task_dir, ext, folder
        self.evaluations = []
        self.seen = {}

    def bench(self, config, quick):
        """Writes the starter with `config` and judges it: the bench JSON (status, latency_us, ...)."""
        ak = self.args.autokernel
        path = os.path.join(self.folder, config_slug(config) + self.ext)
        sets = [x for name, value in config.items() for x in ("--set", f"{name}={value}")]
        rc, _, err = run_json([ak, "template", self.task_dir, "-o", path, "--json"] + sets, 120)
        if rc != 0:
            return {"status": "TEMPLATE_ERROR", "message": err}
        command = [ak, "bench", self.task_dir, path, "--json", "--no-memory", "--timeout", str(self.args.timeout)]
        if self.args.threads:
            command += ["--threads", str(self.args.threads)]
        if quick:
            command.append("--quick")
        rc, result, err = run_json(command, 20 * self.args.timeout)
        if result is None:
            return {"status": "BENCH_ERROR", "message": err or f"exit {rc}"}
        result["file"] = path
        return result

    def measured(self, config):
        return tuple(sorted(config.items())) in self.seen

    def quick(self, config):
        """Median latency of `config` (inf when it fails), measured once per configuration."""
        key = tuple(sorted(config.items()))
        if key in self.seen:
            return self.seen[key]
        t0 = time.monotonic()
        r = self.bench(config, quick=True)
        latency = r.get("latency_us") if r.get("status") == "PASSED" else None
        self.evaluations.append({"config": dict(config), "status": r.get("status"), "latency_us": latency,
                                 "speedup": r.get("speedup"), "message": r.get("message", "") if latency is None else "",
                                 "seconds": time.monotonic() - t0})
        self.seen[key] = latency if latency is not None else float("inf")
        return self.seen[key]


def search_task(args, model_label, summary, task_budget_s):
    task_dir = summary["dir"]
    name = summary["name"]
    task = read_task(task_dir)
    row = {"model": model_label, "task": name, "template": summary["starter"]["template"], "op_type": task["op_type"],
           "dtype": task["dtype"], "shapes": shapes_text(task), "bound": task["bound"], "bytes": task["bytes"],
           "flops": task["flops"], "share": summary["share"], "instances": summary.get("instances", 1)}
    rc, listing, err = run_json([args.autokernel, "template", task_dir, "--list", "--json"], 120)
    if rc != 0 or not listing:
        row["error"] = f"template --list failed: {err}"
        return row
    parameters = listing["parameters"]
    defaults = {p["name"]: p["default"] for p in parameters}
    row["parameters_of"] = listing["parameters_of"]
    row["parameters"] = parameters
    folder = os.path.join(args.work, "candidates", model_label, name)
    os.makedirs(folder, exist_ok=True)
    search = Search(args, task_dir, ".cu" if args.device == "cuda" else ".cpp", folder)

    t0 = time.monotonic()
    best = dict(defaults)
    stop = "converged"
    improved = task_budget_s > 0  # no budget left: the default goes straight to the full gates
    if improved:
        best_latency = search.quick(best)
        log(f"    default: {fmt_us(best_latency)}")
    else:
        stop = "budget"
    while improved:
        improved = False
        for p in parameters:
            for value in p["values"]:
                if value == best[p["name"]]:
                    continue
                # The next evaluation would likely end past the budget: stop here.
                last = search.evaluations[-1]["seconds"]
                if time.monotonic() - t0 + last > task_budget_s:
                    stop = "budget"
                    break
                trial = dict(best, **{p["name"]: value})
                measured_before = search.measured(trial)
                latency = search.quick(trial)
                better = latency < best_latency * (1 - args.min_gain)
                if not measured_before:
                    log(f"    {config_text(trial, defaults)}: {fmt_us(latency)}{'  (best)' if better else ''}")
                if better:
                    best, best_latency, improved = trial, latency, True
            if stop == "budget":
                break
        if stop == "budget":
            break
    row["search"] = {"seconds": time.monotonic() - t0, "budget_s": task_budget_s, "stop": stop,
                     "evaluations": search.evaluations}

    # The full gates and benchmark for the winner (and the default, to compare with).
    t_final = time.monotonic()
    final = search.bench(best, quick=False)
    default_final = final if best == defaults else search.bench(defaults, quick=False)
    row["final_seconds"] = time.monotonic() - t_final
    if final.get("status") != "PASSED" and best != defaults:
        row["winner_failed"] = {"config": best, "status": final.get("status"), "message": final.get("message")}
        best, final = dict(defaults), default_final
    row["best"] = {"config": best, "changed": config_text(best, defaults), **bench_fields(final)}
    row["default"] = {"config": defaults, **bench_fields(default_final)}
    latency = row["best"].get("latency_us")
    if latency:
        row["achieved_gbps"] = task["bytes"] / (latency * 1e-6) / 1e9
    return row


def bench_fields(result):
    keys = ("status", "gate", "message", "speedup", "speedup_ci95", "latency_us", "latency_ci95_us",
            "reference_latency_us", "roofline_floor_us", "max_abs_error", "max_rel_error", "file")
    return {k: result.get(k) for k in keys if k in result}


def fmt_us(latency):
    return "failed" if latency is None or latency == float("inf") else f"{latency:.2f} us"


# --- the table ----------------------------------------------------------------------------

def speedup_text(entry):
    if not entry or entry.get("status") != "PASSED" or entry.get("speedup") is None:
        return (entry or {}).get("status") or "-"
    low, high = entry.get("speedup_ci95") or (None, None)
    return f"{entry['speedup']:.2f}x [{low:.2f}, {high:.2f}]" if low is not None else f"{entry['speedup']:.2f}x"


def print_table(record):
    peak = record["bandwidth"]["gbps"]
    print(f"Device {record['device']}; measured bandwidth {peak:.1f} GB/s ({record['bandwidth']['how']}).\n")
    print("| model | task | template | dtype | shapes | best configuration | speedup [95% CI] | default | "
          "bandwidth |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in record["tasks"]:
        if "error" in row:
            print(f"| {row['model']} | {row['task']} | {row['template']} | {row['dtype']} | {row['shapes']} | "
                  f"{row['error']} | - | - | - |")
            continue
        bandwidth = "-"
        if row.get("bound") == "memory" and row.get("achieved_gbps"):
            bandwidth = f"{row['achieved_gbps']:.3g} GB/s = {100 * row['achieved_gbps'] / peak:.3g}%"
        print(f"| {row['model']} | {row['task']} | {row['template']} | {row['dtype']} | {row['shapes']} | "
              f"{row['best']['changed']} | {speedup_text(row['best'])} | {speedup_text(row['default'])} | {bandwidth} |")


# --- main ---------------------------------------------------------------------------------

def model_label(path, taken):
    """gpt2 for models/zoo/out/gpt2/model.onnx, the file's stem otherwise; unique in the run."""
    base = os.path.basename(os.path.dirname(os.path.abspath(path))) if os.path.basename(path) == "model.onnx" else \
        os.path.splitext(os.path.basename(path))[0]
    label, k = base, 2
    while label in taken:
        label, k = f"{base}_{k}", k + 1
    taken.add(label)
    return label


def main():
    args = parse_args()
    t_start = time.monotonic()
    os.makedirs(args.work, exist_ok=True)
    out_path = args.out or os.path.join(args.work, "templates.json")
    gbps, how = measure_bandwidth_gbps(args.device, args.autokernel)
    log(f"bandwidth: {gbps:.1f} GB/s ({how})")
    record = {"device": args.device, "top": args.top, "budget_s": args.budget_s, "total_budget_s": args.total_budget_s,
              "min_gain": args.min_gain, "extract_options": args.extract_options,
              "bandwidth": {"gbps": gbps, "how": how}, "models": [], "tasks": []}
    failed = False

    # Every extraction first: the number of tasks divides the total budget.
    work_items = []
    taken = set()
    for path in args.models:
        label = model_label(path, taken)
        out = os.path.join(args.work, label)
        shutil.rmtree(out, ignore_errors=True)
        log(f"{label}: extract --top {args.top} ({path})")
        t0 = time.monotonic()
        rc, tasks, err = run_json([args.autokernel, "extract", path, "-o", out, "--top", str(args.top), "--json",
                                   "--device", args.device] + args.extract_options, 1800)
        entry = {"model": label, "path": path, "extract_seconds": time.monotonic() - t0}
        record["models"].append(entry)
        if rc != 0 or not isinstance(tasks, list):
            entry["error"] = f"extract failed (exit {rc}): {err}"
            log(f"{label}: {entry['error']}")
            failed = True
            continue
        templated = [t for t in tasks if t["starter"]["template"] != "skeleton"]
        entry["tasks"] = len(tasks)
        entry["skeletons"] = [t["name"] for t in tasks if t["starter"]["template"] == "skeleton"]
        log(f"{label}: {len(tasks)} tasks, {len(templated)} with a template starter")
        work_items += [(label, t) for t in templated]

    final_seconds = []  # what the full benches after each search took
    for i, (label, summary) in enumerate(work_items):
        budget = args.budget_s
        if args.total_budget_s > 0:
            # An equal share of what is left, less what the full benches after a search
            # have taken so far; the default configuration is judged even at no budget.
            left = args.total_budget_s - (time.monotonic() - t_start)
            finals = sum(final_seconds) / len(final_seconds) if final_seconds else 0
            budget = max(0.0, min(budget, left / (len(work_items) - i) - finals))
        log(f"[{i + 1}/{len(work_items)}] {label} {summary['name']} ({summary['starter']['template']}, "
            f"search budget {budget:.0f} s)")
        row = search_task(args, label, summary, budget)
        record["tasks"].append(row)
        if "final_seconds" in row:
            final_seconds.append(row["final_seconds"])
        if "error" in row or row["best"].get("status") != "PASSED":
            failed = True
            log(f"    FAILED: {row.get('error') or row['best'].get('message')}")
        else:
            log(f"    best {row['best']['changed']}: {speedup_text(row['best'])} (default {speedup_text(row['default'])})")
        with open(out_path, "w") as f:  # after every task: a stopped run keeps what it measured
            json.dump(record, f, indent=2)

    record["seconds"] = time.monotonic() - t_start
    with open(out_path, "w") as f:
        json.dump(record, f, indent=2)
    print_table(record)
    log(f"bench_templates: {len(record['tasks'])} tasks in {record['seconds']:.0f} s; JSON in {out_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
