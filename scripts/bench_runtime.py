#!/usr/bin/env python3
"""Runtime benchmark: autokernel's ONNX executor against the same model in its peers.

For each zoo model (models/zoo) and batch size, times
  ours   `autokernel run MODEL --device D --dim batch=B --input NAME=FILE.pb ... --iters N
          --warmup W --json` (its own median over N runs, read from the JSON),
  eager  the same torch.nn.Module in PyTorch eager on the same device: rebuilt by the zoo
          script with the same seed (so the same weights), the same input tensors,
          torch.no_grad(), W warm-up runs, then N runs timed one by one (CUDA events on
          the GPU, perf_counter on the CPU), median,
  ort    on the CPU only: ONNX Runtime through Node.js (scripts/ort_bench.js, the
          onnxruntime-node package, installed under build/ort on first use),
and prints model, batch, each median and ours/peer ratios; --out FILE gets every number.

    GPU:  python3 scripts/bench_runtime.py --device cuda --out build/bench/runtime-cuda.json
    CPU:  python3 scripts/bench_runtime.py --device cpu --threads 2 --out build/bench/runtime-cpu.json

All runtimes get the same input tensors: the script writes them as TensorProto files
(the zoo script's make_inputs at the requested batch size) and passes them to autokernel
and ORT. A peer that is missing (no autokernel binary, no torch CUDA, no node or
onnxruntime-node) is reported in one line and skipped. Exit codes: 0 no `ours` run
failed, 1 one did (the rest of the table is still printed), 2 bad arguments.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO_DIR = os.path.join(REPO_ROOT, "models", "zoo")
ORT_DIR = os.path.join(REPO_ROOT, "build", "ort")
ORT_BENCH_JS = os.path.join(REPO_ROOT, "scripts", "ort_bench.js")
AUTOKERNEL_CANDIDATES = ("build/cli/autokernel", "build-zoo/cli/autokernel", "build-gpu/cli/autokernel")
# Inputs for timing come from a seed of their own, apart from the zoo's test sets.
INPUT_SEED = 4242
TF32 = False  # set from --tf32
RUN_TIMEOUT_S = 900

sys.path.insert(0, ZOO_DIR)
import make_zoo  # noqa: E402  (stdlib-only at import time; torch is imported later)


def log(message):
    print(message, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description="Time autokernel run against PyTorch eager (and ONNX Runtime on CPU).")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--models", default=",".join(make_zoo.MODELS))
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default: cuda 1,32; cpu 1,4)")
    parser.add_argument("--iters", type=int, default=None, help="timed runs (default: cuda 100, cpu 10)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed runs first (default: cuda 20, cpu 3)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for every runtime (0: each one's default)")
    parser.add_argument("--zoo", default=os.path.join(ZOO_DIR, "out"), help="zoo folder; built/updated with make_zoo.py")
    parser.add_argument("--autokernel", default=None, help="path of the autokernel binary (default: the first of "
                        + ", ".join(AUTOKERNEL_CANDIDATES) + " that exists)")
    parser.add_argument("--peers", default=None, help="subset of ours,eager,ort (default: cuda ours,eager; cpu ours,eager,ort)")
    parser.add_argument("--work", default=os.path.join(REPO_ROOT, "build", "bench"), help="folder for the input files")
    parser.add_argument("--out", default=None, help="JSON file for all numbers (default: <work>/runtime-<device>.json)")
    parser.add_argument("--no-build-zoo", action="store_true", help="use --zoo as it is; do not run make_zoo.py")
    parser.add_argument("--tf32", action="store_true", help="let both ours and eager use TF32 for float32 matmul/conv")
    args = parser.parse_args()
    global TF32
    TF32 = args.tf32
    cuda = args.device == "cuda"
    try:
        args.batches = [int(b) for b in (args.batches or ("1,32" if cuda else "1,4")).split(",") if b.strip()]
    except ValueError:
        parser.error(f"--batches takes comma-separated integers, got '{args.batches}'")
    args.iters = args.iters if args.iters is not None else (100 if cuda else 10)
    args.warmup = args.warmup if args.warmup is not None else (20 if cuda else 3)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.peers = [p.strip() for p in (args.peers or ("ours,eager" if cuda else "ours,eager,ort")).split(",") if p.strip()]
    bad_models = [m for m in args.models if m not in make_zoo.MODELS]
    bad_peers = [p for p in args.peers if p not in ("ours", "eager", "ort")]
    if bad_models or bad_peers:
        parser.error(f"unknown model(s)/peer(s): {','.join(bad_models + bad_peers)}")
    if args.iters < 1 or args.warmup < 0 or args.threads < 0 or any(b < 1 for b in args.batches):
        parser.error("--iters >= 1, --warmup >= 0, --threads >= 0 and batch sizes >= 1")
    if "ort" in args.peers and cuda:
        log("ort: the ONNX Runtime peer is CPU-only here; skipped on --device cuda")
        args.peers.remove("ort")
    args.out = args.out or os.path.join(args.work, f"runtime-{args.device}.json")
    return args


def latency_stats(times_ms):
    ordered = sorted(times_ms)

    def percentile(q):  # linear interpolation, as numpy.percentile
        pos = (len(ordered) - 1) * q
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {"median": percentile(0.5), "p10": percentile(0.1), "p90": percentile(0.9),
            "mean": statistics.fmean(ordered), "min": ordered[0]}


def first_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def find_autokernel(path):
    if path:
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    for candidate in AUTOKERNEL_CANDIDATES:
        full = os.path.join(REPO_ROOT, candidate)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    return None


def ensure_ort():
    """Returns None when node + onnxruntime-node are usable, else the reason they are not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        if shutil.which("npm") is None:
            return "onnxruntime-node is not installed and npm is missing"
        log(f"ort: installing onnxruntime-node into {os.path.relpath(ORT_DIR, REPO_ROOT)} (npm, --ignore-scripts)")
        os.makedirs(ORT_DIR, exist_ok=True)
        if not os.path.exists(os.path.join(ORT_DIR, "package.json")):
            with open(os.path.join(ORT_DIR, "package.json"), "w") as f:
                f.write('{"name": "autokernel-ort-peer", "private": true}\n')
        # --ignore-scripts: the package's install step would try to download GPU binaries.
        done = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ORT_DIR,
                               "onnxruntime-node"], capture_output=True, text=True)
        if done.returncode != 0:
            return f"npm install onnxruntime-node failed: {first_line(done.stderr)}"
    return None


def run_json(command, timeout_s=RUN_TIMEOUT_S):
    """Runs a command that prints one JSON object on stdout; returns (dict, None) or (None, error)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout_s} s"
    except OSError as error:
        return None, str(error)
    if done.returncode != 0:
        return None, f"exit {done.returncode}: {first_line(done.stderr or done.stdout)}"
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line), None
            except ValueError:
                break
    try:
        return json.loads(done.stdout), None
    except ValueError:
        return None, f"no JSON on stdout: {first_line(done.stdout)}"


class EagerPeer:
    """The zoo's torch module in PyTorch eager, timed in this process."""

    def __init__(self, device, threads):
        import torch
        self.torch = torch
        self.device = device
        if threads:
            torch.set_num_threads(threads)
        if device == "cuda":
            # Set here, before environment() records them; time() sets them again.
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = TF32
        self.model = None
        self.model_name = None

    def load(self, spec):
        if self.model_name != spec.NAME:
            self.model = None
            if self.device == "cuda":
                self.torch.cuda.empty_cache()
            self.model = spec.build_model().eval().to(self.device)
            self.model_name = spec.NAME
        return self.model

    def check_weights(self, spec, zoo_dir):
        """Max |eager - reference| on the zoo's batch-1 test set: the rebuilt module must be
        the exported one (same script, same seed, same torch), else the comparison is moot."""
        import onnx.numpy_helper
        torch = self.torch
        set_dir = os.path.join(zoo_dir, spec.NAME, "test_data_set_0")

        def read(path):
            proto = onnx.TensorProto()
            with open(path, "rb") as f:
                proto.ParseFromString(f.read())
            return torch.from_numpy(onnx.numpy_helper.to_array(proto).copy())

        inputs = [read(os.path.join(set_dir, f"input_{i}.pb")).to(self.device) for i in range(len(spec.INPUT_NAMES))]
        # TF32 off for this check only: cuDNN convolutions default to TF32, which moves
        # ResNet-50's logits by ~4e-2 and would hide a real weight mismatch.
        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            with torch.no_grad():
                result = self.load(spec)(*inputs)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
        outputs = list(result) if isinstance(result, (tuple, list)) else [result]
        worst = 0.0
        for i, value in enumerate(outputs):
            reference = read(os.path.join(set_dir, f"output_{i}.pb"))
            worst = max(worst, (value.float().cpu() - reference).abs().max().item())
        return worst

    def time(self, spec, inputs, iters, warmup):
        torch = self.torch
        model = self.load(spec)
        args = [inputs[name].to(self.device) for name in spec.INPUT_NAMES]
        times = []
        if self.device == "cuda":
            # The same float32 precision as ours: TF32 only when --tf32 asks for it (eager's
            # default enables it for cuDNN convolutions, autokernel's does not).
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = TF32
        with torch.no_grad():
            result = model(*args)
            outputs = list(result) if isinstance(result, (tuple, list)) else [result]
            summary = [{"name": name, "shape": list(value.shape), "mean": value.double().mean().item(),
                        "std": value.double().std(unbiased=False).item()}
                       for name, value in zip(spec.OUTPUT_NAMES, outputs)]
            del result, outputs
            for _ in range(warmup):
                model(*args)
            if self.device == "cuda":
                torch.cuda.synchronize()
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                for _ in range(iters):
                    start.record()
                    model(*args)
                    end.record()
                    end.synchronize()
                    times.append(start.elapsed_time(end))
            else:
                for _ in range(iters):
                    t0 = time.perf_counter()
                    model(*args)
                    times.append((time.perf_counter() - t0) * 1e3)
        return {"latency_ms": latency_stats(times), "iters": iters, "outputs": summary}


def write_inputs(spec, batch, folder):
    """Writes the benchmark inputs for one model and batch; returns [(name, file)]."""
    import zoo_export
    os.makedirs(folder, exist_ok=True)
    inputs = spec.make_inputs(batch, INPUT_SEED)
    files = []
    for name in spec.INPUT_NAMES:
        path = os.path.join(folder, f"{name}.pb")
        zoo_export.write_tensor(path, name, inputs[name])
        files.append((name, path))
    return inputs, files


def environment(args, eager):
    env = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "host": platform.node(), "cpu": platform.processor() or platform.machine(),
           "cpu_count": os.cpu_count(), "python": platform.python_version()}
    env["git_commit"] = None
    try:
        done = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "--verify", "-q", "HEAD"], capture_output=True,
                              text=True)
        if done.returncode == 0:
            env["git_commit"] = done.stdout.strip()
    except OSError:
        pass
    env["ld_library_path"] = os.environ.get("LD_LIBRARY_PATH")
    if eager is not None:
        torch = eager.torch
        env["blas_libraries"] = loaded_blas(torch)
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
        if args.device == "cuda":
            env["gpu"] = torch.cuda.get_device_name(0)
            env["cuda"] = torch.version.cuda
            # Recorded because they change what "fp32" means for eager (and for libtorch).
            env["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
            env["tf32_cudnn"] = torch.backends.cudnn.allow_tf32
            env["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    return env


def output_mismatch(ours, peer):
    """Compares the output summaries (mean, std) that ours and a peer report for the same
    inputs; returns None when they agree, else a one-line reason. A cheap guard against
    timing a runtime that computes something else; conformance is the real check."""
    if not ours or not peer or "outputs" not in ours or "outputs" not in peer:
        return None
    theirs = {o["name"]: o for o in peer["outputs"]}
    for out in ours["outputs"]:
        other = theirs.get(out["name"])
        if other is None:
            return f"peer has no output {out['name']}"
        if list(out["shape"]) != list(other["shape"]):
            return f"{out['name']} shape {out['shape']} vs {other['shape']}"
        scale = max(abs(other["std"]), 1e-6)
        if abs(out["mean"] - other["mean"]) > 1e-2 * scale or abs(out["std"] - other["std"]) > 1e-2 * scale:
            return (f"{out['name']} mean/std {out['mean']:.4g}/{out['std']:.4g} vs "
                    f"{other['mean']:.4g}/{other['std']:.4g}")
    return None


def loaded_blas(torch):
    """The BLAS/LAPACK shared objects this process (and so libtorch) has mapped. Debian's
    libtorch calls whichever libblas.so.3 the alternatives system (or LD_LIBRARY_PATH)
    selects: the reference BLAS is ~10x slower than OpenBLAS on GEMMs, which decides
    every CPU number."""
    torch.ones(8, 8) @ torch.ones(8, 8)
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line or "lapack" in line or "mkl" in line}
    except OSError:
        return None
    return sorted(os.path.realpath(p) for p in paths if p.startswith("/"))


def fmt_ms(result):
    return f"{result['latency_ms']['median']:.3f}" if result and "latency_ms" in result else "-"


def ratio(ours, peer):
    if not ours or not peer or "latency_ms" not in ours or "latency_ms" not in peer:
        return None
    return ours["latency_ms"]["median"] / peer["latency_ms"]["median"]


def print_table(rows, peers):
    columns = ["model", "batch", "ours ms"]
    if "eager" in peers:
        columns += ["eager ms", "ours/eager"]
    if "ort" in peers:
        columns += ["ort ms", "ours/ort"]
    lines = []
    for row in rows:
        cells = [row["model"], str(row["batch"]), fmt_ms(row.get("ours"))]
        if "eager" in peers:
            r = row.get("ours_over_eager")
            cells += [fmt_ms(row.get("eager")), f"{r:.2f}" if r else "-"]
        if "ort" in peers:
            r = row.get("ours_over_ort")
            cells += [fmt_ms(row.get("ort")), f"{r:.2f}" if r else "-"]
        lines.append(cells)
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(columns)]
    print("")
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths))))
    for line in lines:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))


def main():
    args = parse_args()
    if args.threads:
        # OpenBLAS (when it is the BLAS under libtorch) keeps a thread pool of its own.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    make_zoo.ensure_torch()  # may re-execute under /usr/bin/python3 on a development machine
    import importlib

    if not args.no_build_zoo:
        log(f"zoo: make_zoo.py --out {args.zoo} --models {','.join(args.models)}")
        done = subprocess.run([sys.executable, os.path.join(ZOO_DIR, "make_zoo.py"), "--out", args.zoo,
                               "--models", ",".join(args.models)])
        if done.returncode != 0:
            log("zoo: make_zoo.py failed; benchmarking the models it left complete")

    peers = list(args.peers)
    autokernel = None
    if "ours" in peers:
        autokernel = find_autokernel(args.autokernel)
        if autokernel is None:
            log(f"ours: no autokernel binary ({args.autokernel or ', '.join(AUTOKERNEL_CANDIDATES)}); build it with "
                "`cmake -S . -B build -G Ninja && ninja -C build autokernel`; skipped")
    eager = None
    if "eager" in peers:
        try:
            eager = EagerPeer(args.device, args.threads)
            if args.device == "cuda" and not eager.torch.cuda.is_available():
                log("eager: torch has no CUDA device here; skipped")
                eager = None
        except ImportError as error:
            log(f"eager: cannot import torch ({error}); skipped")
    ort_problem = ensure_ort() if "ort" in peers else "not requested"
    if "ort" in peers and ort_problem:
        log(f"ort: {ort_problem}; skipped")

    report = {"device": args.device, "iters": args.iters, "warmup": args.warmup, "threads": args.threads,
              "batches": args.batches, "autokernel": autokernel, "environment": environment(args, eager), "rows": []}
    ours_failed = 0
    for name in args.models:
        spec = importlib.import_module(name)
        model_path = os.path.join(args.zoo, name, "model.onnx")
        if not os.path.isfile(model_path):
            log(f"[{name}] no {model_path}; skipped")
            continue
        weights_diff = None
        if eager is not None:
            try:
                weights_diff = eager.check_weights(spec, args.zoo)
                log(f"[{name}] eager module vs zoo reference (batch 1): max |diff| {weights_diff:.2e}")
                if weights_diff > 1e-3:
                    log(f"[{name}] WARNING: the rebuilt eager module does not match the exported model "
                        "(zoo built by another torch?); rebuild the zoo with this python")
            except Exception as error:  # a broken peer must not stop the table
                log(f"[{name}] eager: weight check failed: {first_line(str(error))}")
        for batch in args.batches:
            row = {"model": name, "batch": batch, "eager_vs_reference_max_abs": weights_diff}
            inputs, files = write_inputs(spec, batch, os.path.join(args.work, "inputs", f"{name}-b{batch}"))
            if autokernel:
                command = [autokernel, "run", model_path, "--device", args.device, "--dim", f"batch={batch}",
                           "--iters", str(args.iters), "--warmup", str(args.warmup), "--json"]
                for input_name, path in files:
                    command += ["--input", f"{input_name}={path}"]
                if args.threads:
                    command += ["--threads", str(args.threads)]
                if args.tf32:
                    command += ["--tf32"]
                result, error = run_json(command)
                row["ours"] = result if result else {"error": error, "command": " ".join(command)}
                if error:
                    ours_failed += 1
                    log(f"[{name} b{batch}] ours FAILED: {error}")
                else:
                    log(f"[{name} b{batch}] ours  {fmt_ms(result)} ms")
            if eager is not None:
                try:
                    row["eager"] = eager.time(spec, inputs, args.iters, args.warmup)
                    log(f"[{name} b{batch}] eager {fmt_ms(row['eager'])} ms")
                except Exception as error:
                    row["eager"] = {"error": first_line(str(error))}
                    log(f"[{name} b{batch}] eager FAILED: {row['eager']['error']}")
                    if args.device == "cuda":
                        eager.torch.cuda.empty_cache()
            if "ort" in peers and not ort_problem:
                command = ["node", ORT_BENCH_JS, "--model", model_path, "--iters", str(args.iters),
                           "--warmup", str(args.warmup), "--threads", str(args.threads)]
                for input_name, path in files:
                    command += ["--input", f"{input_name}={path}"]
                result, error = run_json(command)
                row["ort"] = result if result else {"error": error}
                log(f"[{name} b{batch}] ort   {fmt_ms(result)} ms" if result else f"[{name} b{batch}] ort FAILED: {error}")
            for peer in ("eager", "ort"):
                mismatch = output_mismatch(row.get("ours"), row.get(peer))
                row[f"ours_vs_{peer}_outputs"] = mismatch or ("agree" if row.get(peer) and row.get("ours") else None)
                if mismatch:
                    log(f"[{name} b{batch}] WARNING: ours and {peer} disagree on the outputs: {mismatch}")
            row["ours_over_eager"] = ratio(row.get("ours"), row.get("eager"))
            row["ours_over_ort"] = ratio(row.get("ours"), row.get("ort"))
            report["rows"].append(row)
        if eager is not None:
            eager.model = None  # free the weights before the next model
            eager.model_name = None

    print_table(report["rows"], [p for p in peers if p != "ours"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    log(f"\nwrote {args.out}")
    return 1 if ours_failed else 0


if __name__ == "__main__":
    sys.exit(main())
