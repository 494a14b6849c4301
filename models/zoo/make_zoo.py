#!/usr/bin/env python3
"""Builds the model zoo: one ONNX test directory per model.

    make_zoo.py [--out DIR] [--models resnet50,vit_b_16,gpt2,bert,llama] [--force]

Each <DIR>/<model>/ holds model.onnx (opset 17, dynamic `batch` axis), test_data_set_0
(batch 1) and test_data_set_1 (batch 2) with input_K.pb / output_K.pb TensorProto files
whose outputs come from PyTorch eager, an optional data.json with tolerances, and
stamp.json. A model whose files exist and whose stamp matches (same script, same
torch/onnx versions) is skipped. Exit codes: 0 ok, 1 a model failed, 2 bad arguments.

Needs torch, torchvision and onnx. On a development machine the `python3` on PATH may be
a pyenv without torch; then this script re-runs itself under /usr/bin/python3 (Debian's
python3-torch) when that one has torch.
"""

import argparse
import importlib
import os
import subprocess
import sys
import time

ZOO_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(ZOO_DIR))
MODELS = ("resnet50", "vit_b_16", "gpt2", "bert", "llama")
SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_torch():
    """Imports torch, or re-executes under Debian's python3 when it has torch and we don't."""
    try:
        for module in ("torch", "torchvision", "onnx"):
            importlib.import_module(module)
        return
    except ImportError as error:
        missing = error.name
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.path.exists(SYSTEM_PYTHON):
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import torch, torchvision, onnx"], capture_output=True)
        if probe.returncode == 0:
            print(f"make_zoo: {sys.executable} has no {missing}; re-running under {SYSTEM_PYTHON}", flush=True)
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.exit(f"make_zoo: error: python module '{missing}' is missing; install python3-torch "
             f"python3-torchvision python3-onnx (Debian) and run with {SYSTEM_PYTHON}")


def parse_args():
    parser = argparse.ArgumentParser(description="Export the autokernel model zoo as ONNX test directories.")
    parser.add_argument("--out", default=os.path.join(ZOO_DIR, "out"), help="output folder (default: models/zoo/out)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = parser.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        parser.error(f"unknown model(s) {','.join(unknown) or '(none given)'}; choose from {','.join(MODELS)}")
    args.models = names
    return args


def main():
    args = parse_args()
    ensure_torch()
    sys.path.insert(0, ZOO_DIR)
    import torch
    import zoo_export

    # Exports and references are computed on the CPU, in float32, single-process.
    torch.set_num_threads(max(1, min(os.cpu_count() or 1, 8)))
    os.makedirs(args.out, exist_ok=True)
    print(f"make_zoo: {len(args.models)} model(s) into {args.out} (torch {torch.__version__})", flush=True)
    total_start = time.perf_counter()
    failed = []
    for name in args.models:
        spec = importlib.import_module(name)

        def log(message, name=name):
            print(f"  [{name}] {message}", flush=True)

        if not args.force and zoo_export.is_up_to_date(spec, args.out):
            print(f"[{name}] up to date, skipped", flush=True)
            continue
        print(f"[{name}] building", flush=True)
        start = time.perf_counter()
        try:
            zoo_export.build_test_dir(spec, args.out, log)
        except Exception as error:  # report which model failed and go on with the others
            message = str(error).strip().splitlines()
            print(f"[{name}] FAILED: {type(error).__name__}: {message[0] if message else ''}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        print(f"[{name}] done in {time.perf_counter() - start:.1f} s", flush=True)
    elapsed = time.perf_counter() - total_start
    if failed:
        print(f"make_zoo: error: {len(failed)} model(s) failed: {','.join(failed)} ({elapsed:.1f} s)", file=sys.stderr)
        return 1
    print(f"make_zoo: ok ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
