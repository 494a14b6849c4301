#!/usr/bin/env python3
"""Profiles every zoo model on the GPU and checks the profiler's attribution contract:
zero unattributed kernels, attributed kernel time within 5% of GPU busy time, no dropped
records. Prints the profiling overhead and the top hotspots; writes one JSON summary.

With --cuda-graph it profiles the CUDA-graph replays (`autokernel profile --cuda-graph`):
the same contract, every profile must be of replays (a refused capture fails, naming the
node), and the overhead is over unprofiled replays (goal <= 1.05x; reported, not failed:
it is noise-bound).

    python3 scripts/check_profile.py --autokernel build-gpu/cli/autokernel --zoo models/zoo/out \\
        [--device cuda] [--batches 1,32] [--attribution replay|correlation | --cuda-graph] [--out summary.json] [--keep DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--autokernel", required=True)
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--attribution", default="replay", choices=["replay", "correlation"])
    ap.add_argument("--cuda-graph", action="store_true", help="profile the CUDA-graph replays")
    ap.add_argument("--out", default="")
    ap.add_argument("--keep", default="", help="folder for the JSON reports, traces and tables")
    args = ap.parse_args()
    keep = args.keep or tempfile.mkdtemp(prefix="ak_profile_")
    os.makedirs(keep, exist_ok=True)
    models = sorted(d for d in os.listdir(args.zoo) if os.path.isfile(os.path.join(args.zoo, d, "model.onnx")))
    if not models:
        print(f"no models under {args.zoo}", file=sys.stderr)
        return 2
    failures, rows = [], []
    for model in models:
        for batch in [int(b) for b in args.batches.split(",")]:
            tag = f"{model}_b{batch}"
            report = os.path.join(keep, tag + ".json")
            mode = ["--cuda-graph"] if args.cuda_graph else ["--attribution", args.attribution]
            cmd = [args.autokernel, "profile", os.path.join(args.zoo, model, "model.onnx"), "--device", args.device,
                   "--dim", f"batch={batch}", "--iters", str(args.iters), *mode, "--top", "10", "--json", report,
                   "--trace", os.path.join(keep, tag + ".trace.json")]
            run = subprocess.run(cmd, capture_output=True, text=True)
            with open(os.path.join(keep, tag + ".txt"), "w") as f:
                f.write(run.stdout + run.stderr)
            if run.returncode != 0:
                failures.append(f"{tag}: exit {run.returncode}: {run.stderr.strip()[-300:]}")
                continue
            with open(report) as f:
                j = json.load(f)
            att = j["attribution"]
            busy, attributed = att["busy_us_per_iter"], att["attributed_us_per_iter"]
            ratio = attributed / busy if busy > 0 else 0.0
            row = {"model": model, "batch": batch, "timing": j["timing"]["source"],
                   "attribution": j["timing"]["attribution"],
                   "replay_fallback_reason": j["timing"]["replay_fallback_reason"],
                   "kernels_per_iter": att["kernels_per_iter"], "unattributed_kernels": att["unattributed_kernels"],
                   "unattributed_mems": att["unattributed_mems"], "dropped_records": att["dropped_records"],
                   "busy_us": busy, "attributed_us": attributed, "attributed_ratio": ratio,
                   "overhead_ratio": j["timing"]["overhead_ratio"],
                   "cuda_graph": j.get("cuda_graph", False),
                   "cuda_graph_refusal": j["timing"].get("cuda_graph_refusal", ""),
                   "unprofiled_wall_us": j["timing"]["unprofiled_wall_us"],
                   "profiled_wall_us": j["timing"]["profiled_wall_us"],
                   "top": [{"name": h["name"], "kind": h["kind"], "share": h["share"], "e2e_gain": h["e2e_gain"]}
                           for h in j["hotspots"][:3]]}
            rows.append(row)
            problems = []
            if args.device.startswith("cuda") and j["timing"]["source"] != "cupti":
                problems.append("timing source " + j["timing"]["source"] + ": " + j["timing"]["fallback_reason"])
            if att["unattributed_kernels"] != 0:
                problems.append(f"{att['unattributed_kernels']} unattributed kernels")
            if att["dropped_records"] != 0:
                problems.append(f"{att['dropped_records']} dropped records")
            if abs(ratio - 1) > 0.05:
                problems.append(f"attributed {attributed:.1f} us of {busy:.1f} us busy ({ratio:.3f})")
            if args.cuda_graph and not row["cuda_graph"]:
                problems.append("profiled eagerly: " + row["cuda_graph_refusal"])
            if args.cuda_graph and row["cuda_graph"] and j["timing"]["overhead_ratio"] > 1.05:
                print(f"{tag}: overhead {j['timing']['overhead_ratio']:.3f}x over unprofiled replays, above the 1.05x goal",
                      flush=True)
            if j["timing"]["replay_fallback_reason"]:
                print(f"{tag}: replay not used: {j['timing']['replay_fallback_reason']}", flush=True)
            if problems:
                failures.append(f"{tag}: " + "; ".join(problems))
            print(f"{tag:16s} kernels/iter {att['kernels_per_iter']:5d}  unattributed {att['unattributed_kernels']}  "
                  f"attributed/busy {ratio:.4f}  {j['timing']['attribution']:11s} overhead {j['timing']['overhead_ratio']:.3f}x  "
                  f"(wall {j['timing']['unprofiled_wall_us']:.0f} -> {j['timing']['profiled_wall_us']:.0f} us)  "
                  f"top: {row['top'][0]['name'] if row['top'] else '-'}", flush=True)
    if args.cuda_graph and rows:
        graph_rows = [r for r in rows if r["cuda_graph"]]
        ratios = sorted(r["overhead_ratio"] for r in graph_rows)
        if ratios:
            print(f"cuda graph: {len(graph_rows)} of {len(rows)} profiles of replays; overhead over unprofiled replays "
                  f"median {ratios[len(ratios) // 2]:.3f}x, max {ratios[-1]:.3f}x (goal <= 1.05x)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": args.device, "cuda_graph": args.cuda_graph, "rows": rows, "failures": failures}, f,
                      indent=2)
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    print(f"{len(rows)} profiles, {len(failures)} failures; reports in {keep}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
