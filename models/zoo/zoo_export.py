"""Shared machinery of the model zoo: export a torch module to ONNX, write ONNX test
directories (model.onnx + test_data_set_N/{input,output}_K.pb TensorProto files) and the
stamp that makes make_zoo.py idempotent.

Every zoo model script (resnet50.py, vit_b_16.py, gpt2.py, bert.py) defines:

    NAME          folder name in the zoo
    INPUT_NAMES   graph input names, in order
    OUTPUT_NAMES  graph output names, in order
    TOLERANCE     None (the ONNX backend-test default: rtol 1e-3, atol 1e-7) or
                  {"rtol": r, "atol": a, "why": "..."} written to data.json
    build_model() the torch.nn.Module, float32, eval mode, weights from a fixed seed
    make_inputs(batch, seed) -> {name: tensor} deterministic inputs for that batch size

The same functions are used by scripts/bench_runtime.py to rebuild the eager peer, so
eager PyTorch and the exported model share weights and inputs.
"""

import hashlib
import inspect
import json
import os
import shutil
import time
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import torch

OPSET = 17
BATCH_AXIS = "batch"
# Test data sets: (folder index, batch size, input seed). Batch 1 and 2 exercise the
# dynamic batch axis with the same model file.
TEST_SETS = ((0, 1, 1000), (1, 2, 1001))
STAMP_FILE = "stamp.json"
ZOO_DIR = os.path.dirname(os.path.abspath(__file__))

# The tolerance of the transformers' whole-model references (see each script's TOLERANCE).
TRANSFORMER_TOLERANCE = {
    "rtol": 1e-3,
    "atol": 1e-4,
    "why": ("whole-model float32 comparison: the outputs have unit scale (std 0.5-1) and a "
            "different GEMM/reduction order (ONNX Runtime: max |diff| < 1e-5) leaves errors of "
            "~1e-6 on elements near zero, which the backend-test default atol 1e-7 rejects"),
}


def seeded_generator(seed):
    """A CPU generator with a fixed seed; every random draw in the zoo goes through one."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def perturb_affine_norms(model, gen, scale=0.1):
    """Gives every LayerNorm/BatchNorm a non-trivial affine part (weight 1 + N(0, scale),
    bias N(0, scale)). Freshly initialized norms are exactly weight 1 / bias 0, which lets
    a runtime that drops or swaps the scale and bias still match the reference."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, torch.nn.BatchNorm2d)) and module.weight is not None:
                module.weight.copy_(1.0 + scale * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(scale * torch.randn(module.bias.shape, generator=gen))


def stamp_hash(script_path):
    """sha256 over what determines the exported files: the model script, this file and
    the torch/onnx versions (a different exporter writes a different graph)."""
    digest = hashlib.sha256()
    for path in (script_path, os.path.abspath(__file__)):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(f"torch {torch.__version__} onnx {onnx.__version__}".encode())
    return digest.hexdigest()


def expected_files(spec):
    files = ["model.onnx", STAMP_FILE]
    for index, _, _ in TEST_SETS:
        files += [f"test_data_set_{index}/input_{i}.pb" for i in range(len(spec.INPUT_NAMES))]
        files += [f"test_data_set_{index}/output_{i}.pb" for i in range(len(spec.OUTPUT_NAMES))]
    if spec.TOLERANCE is not None:
        files.append("data.json")
    return files


def is_up_to_date(spec, out_dir):
    """True when every file of the test directory exists and the stamp matches."""
    model_dir = os.path.join(out_dir, spec.NAME)
    if not all(os.path.isfile(os.path.join(model_dir, f)) for f in expected_files(spec)):
        return False
    try:
        with open(os.path.join(model_dir, STAMP_FILE)) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    return stamp.get("hash") == stamp_hash(inspect.getfile(spec))


def _export_kwargs():
    kwargs = {}
    # torch >= 2.5 has a dynamo-based exporter and, from 2.9 on, makes it the default.
    # The zoo uses the TorchScript exporter on every version so that torch 1.13 (the
    # development machines) and torch 2.x (the GPU machine) write the same kind of graph.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    return kwargs


def export_onnx(spec, model, inputs, path):
    """torch.onnx.export at opset 17 with the batch axis of every input and output named
    `batch` and every other dimension fixed."""
    dynamic_axes = {name: {0: BATCH_AXIS} for name in list(spec.INPUT_NAMES) + list(spec.OUTPUT_NAMES)}
    args = tuple(inputs[name] for name in spec.INPUT_NAMES)
    # Traced with autograd on: under no_grad, nn.MultiheadAttention (ViT) takes its fused
    # fast path, aten::_native_multi_head_attention, which has no ONNX symbolic.
    with torch.enable_grad(), warnings.catch_warnings():
        # The tracer warns about every Python-level shape read (torchvision's asserts,
        # x.shape in the attention code); the exported graph is checked afterwards.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            args,
            path,
            input_names=list(spec.INPUT_NAMES),
            output_names=list(spec.OUTPUT_NAMES),
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            **_export_kwargs(),
        )


def pin_output_shapes(spec, path, outputs):
    """Declares every output dimension after `batch` with its fixed size (taken from the
    reference outputs) where the exporter's shape inference left a generated symbolic
    name (e.g. bert's last_hidden_state after LayerNormalization). Rewrites the file
    only when a dimension changes."""
    model = onnx.load(path)
    changed = False
    for value, reference in zip(model.graph.output, outputs):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != reference.dim():
            raise RuntimeError(f"{spec.NAME}: output {value.name} declared rank {len(dims)}, eager rank {reference.dim()}")
        for dim, size in list(zip(dims, reference.shape))[1:]:
            if not dim.HasField("dim_value") or dim.dim_value != size:
                dim.Clear()
                dim.dim_value = size
                changed = True
    if changed:
        onnx.save(model, path)


def check_exported(spec, path):
    """The exported graph passes onnx.checker and declares exactly the interface the zoo
    promises: the named inputs/outputs, `batch` as dim 0, every other dim fixed."""
    onnx.checker.check_model(path)
    graph = onnx.load(path, load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    inputs = [v for v in graph.input if v.name not in initializers]
    for kind, values, names in (("input", inputs, spec.INPUT_NAMES), ("output", graph.output, spec.OUTPUT_NAMES)):
        got = [v.name for v in values]
        if got != list(names):
            raise RuntimeError(f"{spec.NAME}: exported {kind}s {got}, expected {list(names)}")
        for value in values:
            dims = value.type.tensor_type.shape.dim
            if not dims or dims[0].dim_param != BATCH_AXIS:
                raise RuntimeError(f"{spec.NAME}: {kind} {value.name} has no dynamic '{BATCH_AXIS}' axis")
            if any(not d.HasField("dim_value") for d in dims[1:]):
                raise RuntimeError(f"{spec.NAME}: {kind} {value.name} has a non-fixed dim after batch")


def write_tensor(path, name, tensor):
    proto = onnx.numpy_helper.from_array(np.ascontiguousarray(tensor.detach().cpu().numpy()), name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def reference_outputs(spec, model, inputs):
    """Runs the eager module; returns the outputs as a list in OUTPUT_NAMES order."""
    with torch.no_grad():
        result = model(*(inputs[name] for name in spec.INPUT_NAMES))
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    if len(outputs) != len(spec.OUTPUT_NAMES):
        raise RuntimeError(f"{spec.NAME}: forward returned {len(outputs)} outputs, expected {len(spec.OUTPUT_NAMES)}")
    for name, value in zip(spec.OUTPUT_NAMES, outputs):
        if not torch.isfinite(value).all():
            raise RuntimeError(f"{spec.NAME}: reference output {name} has non-finite values")
    return outputs


def build_test_dir(spec, out_dir, log):
    """Writes <out_dir>/<NAME>/ from scratch. Works in a temporary folder that replaces
    the old one only when complete, so an interrupted run never leaves a half-written
    test directory that looks valid."""
    final_dir = os.path.join(out_dir, spec.NAME)
    work_dir = final_dir + ".partial"
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    try:
        start = time.perf_counter()
        model = spec.build_model()
        model.eval()
        log(f"built module ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters)"
            f" in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()

        references = {}
        for index, batch, seed in TEST_SETS:
            inputs = spec.make_inputs(batch, seed)
            references[index] = (batch, inputs, reference_outputs(spec, model, inputs))
        log(f"computed reference outputs in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        model_path = os.path.join(work_dir, "model.onnx")
        _, export_inputs, export_outputs = references[TEST_SETS[0][0]]
        export_onnx(spec, model, export_inputs, model_path)
        pin_output_shapes(spec, model_path, export_outputs)
        check_exported(spec, model_path)
        log(f"exported opset {OPSET} ({os.path.getsize(model_path) / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s")

        for index, (batch, inputs, outputs) in references.items():
            set_dir = os.path.join(work_dir, f"test_data_set_{index}")
            os.makedirs(set_dir)
            for i, name in enumerate(spec.INPUT_NAMES):
                write_tensor(os.path.join(set_dir, f"input_{i}.pb"), name, inputs[name])
            for i, (name, value) in enumerate(zip(spec.OUTPUT_NAMES, outputs)):
                write_tensor(os.path.join(set_dir, f"output_{i}.pb"), name, value)
            shapes = ", ".join(f"{n} {list(v.shape)}" for n, v in zip(spec.OUTPUT_NAMES, outputs))
            log(f"test_data_set_{index}: batch {batch}, {shapes}")

        if spec.TOLERANCE is not None:
            with open(os.path.join(work_dir, "data.json"), "w") as f:
                json.dump({"rtol": spec.TOLERANCE["rtol"], "atol": spec.TOLERANCE["atol"]}, f)
                f.write("\n")
        with open(os.path.join(work_dir, STAMP_FILE), "w") as f:
            json.dump({"hash": stamp_hash(inspect.getfile(spec)), "torch": torch.__version__,
                       "onnx": onnx.__version__, "opset": OPSET}, f, indent=1)
            f.write("\n")

        shutil.rmtree(final_dir, ignore_errors=True)
        os.rename(work_dir, final_dir)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
