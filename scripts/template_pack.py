#!/usr/bin/env python3
"""Builds a verified kernel pack for one model from the built-in template starters only.

The no-LLM path end to end, with the real commands a user runs:

  1. autokernel extract MODEL --top N --json                    one task per workload, with its
                                                                starter (a template or a skeleton)
  2. autokernel pack add PACK TASK STARTER --json                every template starter: judged
                                                                with every gate, added when it
                                                                passes and is faster than the
                                                                reference
  3. autokernel verify MODEL --kernels PACK --prune --json       the whole model, original vs
                                                                swapped; culprits pruned

Prints one line per task (template, judgement, added or why not) and the
verify verdict, and writes every command's JSON to WORK/template_pack.json. Exit 0 when the
pack verified (or ended empty), 1 when a step failed, 2 on bad arguments.

    scripts/template_pack.py models/zoo/out/gpt2/model.onnx -o build/packs/gpt2 --device cuda
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, timeout):
    """Runs `cmd`, returns (exit code, parsed stdout JSON or None, stderr tail)."""
    log("$ " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, None, f"timed out after {timeout} s"
    try:
        out = json.loads(p.stdout) if p.stdout.strip() else None
    except json.JSONDecodeError:
        out = None
    return p.returncode, out, "\n".join(p.stderr.strip().splitlines()[-3:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("-o", "--pack", required=True, help="the pack folder to write (replaced)")
    parser.add_argument("--work", default=None, help="task folder (default: PACK.tasks)")
    parser.add_argument("--autokernel", default=os.path.join(REPO_ROOT, "build", "cli", "autokernel"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--min-speedup", type=float, default=1.0)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per command")
    parser.add_argument("--memory", default=None, help="memory file (default: WORK/memory.db)")
    argv = sys.argv[1:]
    model_options = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.model_options = model_options
    if not os.path.isfile(args.model):
        print(f"template_pack: no model file {args.model}", file=sys.stderr)
        return 2
    work = args.work or args.pack.rstrip("/") + ".tasks"
    memory = args.memory or os.path.join(work, "memory.db")
    subprocess.run(["rm", "-rf", args.pack, work], check=True)
    os.makedirs(work)
    ak = args.autokernel
    common = ["--device", args.device] + args.model_options
    record = {"model": args.model, "device": args.device, "tasks": []}
    t0 = time.time()

    rc, tasks, err = run_json([ak, "extract", args.model, "-o", work, "--top", str(args.top), "--json"] + common, args.timeout)
    if rc != 0 or not isinstance(tasks, list):
        log(f"extract failed (exit {rc}): {err}")
        return 1
    added = 0
    for t in tasks:
        row = {"name": t["name"], "op_type": t["op_type"], "template": t["starter"]["template"],
               "share": t["share"], "instances": t.get("instances", 1)}
        record["tasks"].append(row)
        if row["template"] == "skeleton":
            row["added"] = False
            row["why"] = "skeleton"
        else:
            starter = os.path.join(t["dir"], t["starter"]["file"])
            rc, entry, err = run_json([ak, "pack", "add", args.pack, t["dir"], starter, "--json", "--memory", memory,
                                       "--min-speedup", str(args.min_speedup)], args.timeout)
            row["added"] = rc == 0
            if rc == 0 and entry:
                row["speedup"] = entry.get("speedup")
                added += 1
            else:
                row["why"] = err.splitlines()[-1] if err else f"exit {rc}"
        log(f"  {row['name']:<58} {row['template']:<18} "
            f"{'added %.2fx' % row['speedup'] if row.get('speedup') else 'not added: ' + row.get('why', '')}")

    if added > 0:
        rc, verified, err = run_json([ak, "verify", args.model, "--kernels", args.pack, "--prune", "--json",
                                      "--memory", memory] + common, args.timeout)
        record["verify"] = verified
        record["verify_exit"] = rc
        verdict = (verified or {}).get("verdict", f"exit {rc}: {err}")
        log(f"verify: {verdict}")
    record["seconds"] = time.time() - t0
    with open(os.path.join(work, "template_pack.json"), "w") as f:
        json.dump(record, f, indent=2)
    log(f"template_pack: {added} of {len(tasks)} tasks in {args.pack} ({record['seconds']:.0f} s)")
    return 0 if added == 0 or record.get("verify_exit") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
