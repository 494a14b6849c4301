#!/usr/bin/env node
'use strict';
// Times one ONNX model in ONNX Runtime on the CPU (onnxruntime-node): the CPU peer of
// scripts/bench_runtime.py.
//
//   node scripts/ort_bench.js --model M.onnx --input NAME=FILE.pb [--input ...]
//                             [--iters 10] [--warmup 3] [--threads N]
//
// Inputs are TensorProto files (as in an ONNX test directory), so ORT and autokernel are
// fed the very same tensors. Runs `warmup` untimed then `iters` timed session.run calls
// (intra-op threads N, one inter-op thread, sequential execution, all graph
// optimizations) and prints one JSON object on stdout:
//   {"runtime", "version", "model", "threads", "iters", "warmup",
//    "latency_ms": {"median","p10","p90","mean","min"},
//    "outputs": [{"name","shape","dtype","mean","std","min","max"}]}
// Exit codes: 0 ok, 1 the run failed, 2 bad arguments or no onnxruntime-node.

const path = require('path');

const ZOO_DIR = path.join(__dirname, '..', 'models', 'zoo');
const { readTensorProto } = require(path.join(ZOO_DIR, 'tensor_proto'));
const { requireOrt, toOrtTensor } = require(path.join(ZOO_DIR, 'ort_node'));

function usageError(message) {
  const error = new Error(message);
  error.exitCode = 2;
  return error;
}

function parseArgs(argv) {
  const args = { model: null, inputs: [], iters: 10, warmup: 3, threads: 0 };
  const value = (i) => {
    if (i >= argv.length) throw usageError(`${argv[i - 1]} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--model') args.model = value(++i);
    else if (a === '--input') {
      const spec = value(++i);
      const eq = spec.indexOf('=');
      if (eq <= 0) throw usageError(`--input takes NAME=FILE.pb, got '${spec}'`);
      args.inputs.push({ name: spec.slice(0, eq), file: spec.slice(eq + 1) });
    } else if (a === '--iters') args.iters = Number(value(++i));
    else if (a === '--warmup') args.warmup = Number(value(++i));
    else if (a === '--threads') args.threads = Number(value(++i));
    else throw usageError(`unknown argument '${a}'`);
  }
  if (!args.model) throw usageError('--model is required');
  for (const key of ['iters', 'warmup', 'threads'])
    if (!Number.isInteger(args[key]) || args[key] < 0) throw usageError(`--${key} takes a non-negative integer`);
  if (args.iters === 0) throw usageError('--iters must be at least 1');
  return args;
}

// Linear interpolation between order statistics (numpy's default percentile).
function percentile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function latencyStats(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 0.5),
    p10: percentile(sorted, 0.1),
    p90: percentile(sorted, 0.9),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    min: sorted[0],
  };
}

function outputSummary(name, tensor) {
  const data = tensor.data;
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    sum += v;
    sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const n = Math.max(1, data.length);
  const mean = sum / n;
  return { name, shape: tensor.dims, dtype: tensor.type, mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)), min, max };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = requireOrt();
  } catch (error) {
    error.exitCode = 2;
    throw error;
  }
  const options = { graphOptimizationLevel: 'all', executionMode: 'sequential', interOpNumThreads: 1 };
  if (args.threads > 0) options.intraOpNumThreads = args.threads;
  const session = await ort.InferenceSession.create(args.model, options);

  const feeds = {};
  for (const { name, file } of args.inputs) {
    if (!session.inputNames.includes(name))
      throw usageError(`model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    feeds[name] = toOrtTensor(ort, readTensorProto(file));
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length > 0) throw usageError(`no --input for ${missing.join(', ')}`);

  let results = null;
  for (let i = 0; i < args.warmup; i++) results = await session.run(feeds);
  const times = [];
  for (let i = 0; i < args.iters; i++) {
    const start = process.hrtime.bigint();
    results = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const report = {
    runtime: 'onnxruntime-node',
    version: ort.env.versions?.common ?? null,
    model: args.model,
    threads: args.threads,
    iters: args.iters,
    warmup: args.warmup,
    latency_ms: latencyStats(times),
    outputs: session.outputNames.map((n) => outputSummary(n, results[n])),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((error) => {
  console.error(`ort_bench: error: ${String(error.message).split('\n')[0]}`);
  process.exit(error.exitCode ?? 1);
});
