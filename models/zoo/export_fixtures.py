#!/usr/bin/env python3
"""Exports small fixtures of the zoo's architectures with both of torch.onnx's exporters,
for the graph-pattern tests (tests/models/patterns_test.cpp) and the conformance suite.

    export_fixtures.py [--out DIR]     (default: tests/models/fixtures/exporters)

Each fixture is one ONNX test directory, DIR/<exporter>/<model>[_fp16]/ with model.onnx
and test_data_set_0 (batch 2; outputs from PyTorch eager on the CPU), where <exporter> is
`torchscript` (torch.onnx.export(dynamo=False), opset 17) or `dynamo` (dynamo=True,
opset 18, written by torch >= 2.5 only). The models are the zoo's own classes with small
sizes (1-2 layers, d_model 64, small vocabularies) so that the files stay in the tens of
kilobytes and the graphs keep every op pattern of the full-size export. float16 fixtures
(llama_fp16, gpt2_fp16) carry the casts the exporters write around float32 norms.
manifest.json lists what was exported with which torch, and what failed with its error.
"""

import argparse
import inspect
import json
import os
import sys
import traceback

ZOO_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(ZOO_DIR))
sys.path.insert(0, ZOO_DIR)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

import zoo_export  # noqa: E402

# Small sizes per zoo module: module globals read when the model is built.
SMALL = {
    "gpt2": {"VOCAB_SIZE": 512, "N_POSITIONS": 64, "N_LAYER": 2, "D_MODEL": 64, "N_HEAD": 4, "SEQ_LEN": 16},
    "bert": {"VOCAB_SIZE": 512, "MAX_POSITIONS": 64, "N_LAYER": 2, "D_MODEL": 64, "N_HEAD": 4, "D_FFN": 256,
             "SEQ_LEN": 16},
    "llama": {"VOCAB_SIZE": 512, "N_LAYER": 2, "D_MODEL": 64, "N_HEAD": 4, "N_KV_HEAD": 2, "D_FF": 176,
              "SEQ_LEN": 16, "MAX_POSITIONS": 64},
}
FP16 = ("llama", "gpt2")
BATCH = 2


def has_dynamo():
    return "dynamo" in inspect.signature(torch.onnx.export).parameters


def export(spec, model, inputs, path, dynamo):
    args = tuple(inputs[name] for name in spec.INPUT_NAMES)
    if dynamo:
        batch = torch.export.Dim("batch", min=1, max=64)
        dynamic_shapes = {name: {0: batch} for name in spec.INPUT_NAMES}
        program = torch.onnx.export(model, args, input_names=list(spec.INPUT_NAMES),
                                    output_names=list(spec.OUTPUT_NAMES), dynamic_shapes=dynamic_shapes,
                                    opset_version=18, dynamo=True)
        program.save(path)
    else:
        kwargs = {"dynamo": False} if has_dynamo() else {}
        axes = {name: {0: "batch"} for name in list(spec.INPUT_NAMES) + list(spec.OUTPUT_NAMES)}
        with torch.enable_grad():
            torch.onnx.export(model, args, path, input_names=list(spec.INPUT_NAMES),
                              output_names=list(spec.OUTPUT_NAMES), dynamic_axes=axes, opset_version=17,
                              do_constant_folding=True, **kwargs)
    # One file: fold external data (the dynamo exporter may write it beside the model) in.
    model_proto = onnx.load(path)
    onnx.save(model_proto, path, save_as_external_data=False)
    for name in os.listdir(os.path.dirname(path)):
        if name.endswith(".data"):
            os.remove(os.path.join(os.path.dirname(path), name))
    onnx.checker.check_model(path)
    return len(model_proto.graph.node)


def write_test_set(spec, directory, inputs, outputs):
    set_dir = os.path.join(directory, "test_data_set_0")
    os.makedirs(set_dir, exist_ok=True)
    for i, name in enumerate(spec.INPUT_NAMES):
        zoo_export.write_tensor(os.path.join(set_dir, f"input_{i}.pb"), name, inputs[name])
    for i, (name, value) in enumerate(zip(spec.OUTPUT_NAMES, outputs)):
        zoo_export.write_tensor(os.path.join(set_dir, f"output_{i}.pb"), name, value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "models", "fixtures", "exporters"))
    args = parser.parse_args()
    manifest = {"torch": torch.__version__, "onnx": onnx.__version__, "fixtures": [], "failures": []}
    exporters = ["torchscript"] + (["dynamo"] if has_dynamo() else [])
    for module_name, sizes in SMALL.items():
        spec = __import__(module_name)
        for key, value in sizes.items():
            setattr(spec, key, value)
        for dtype in ("float32", "float16") if module_name in FP16 else ("float32",):
            model = spec.build_model()
            inputs = spec.make_inputs(BATCH, 1000)
            if dtype == "float16":
                model = model.half()
            # float16 eager on the CPU needs torch >= 2.1; the references are float32 either way.
            with torch.no_grad():
                result = spec.build_model()(*(inputs[n] for n in spec.INPUT_NAMES))
            outputs = list(result) if isinstance(result, (tuple, list)) else [result]
            for exporter in exporters:
                name = module_name + ("_fp16" if dtype == "float16" else "")
                directory = os.path.join(args.out, exporter, name)
                os.makedirs(directory, exist_ok=True)
                try:
                    nodes = export(spec, model, inputs, os.path.join(directory, "model.onnx"), exporter == "dynamo")
                    if dtype == "float32":
                        write_test_set(spec, directory, inputs, outputs)
                    manifest["fixtures"].append({"exporter": exporter, "model": name, "nodes": nodes})
                    print(f"export_fixtures: {exporter}/{name}: {nodes} nodes", flush=True)
                except Exception as error:  # noqa: BLE001 - recorded, the others go on
                    manifest["failures"].append({"exporter": exporter, "model": name,
                                                 "error": f"{type(error).__name__}: {error}"[:2000]})
                    print(f"export_fixtures: {exporter}/{name} FAILED: {error}", flush=True)
                    traceback.print_exc()
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
