#!/usr/bin/env node
'use strict';
// Cross-checks the zoo's reference outputs (PyTorch eager) with a second implementation:
// runs every <zoo>/<model>/model.onnx in ONNX Runtime (onnxruntime-node, CPU) on each
// test_data_set_N and compares with output_K.pb under ONNX's test criterion
// |ort - ref| <= atol + rtol * |ref| (data.json's tolerances, else rtol 1e-3, atol 1e-7).
//
//   node models/zoo/check_ort.js [ZOO_DIR] [--models a,b] [--threads N]
//
// Prints one line per test set with the largest absolute difference and the worst
// "error / allowed error" ratio (<= 1 passes). Exit codes: 0 all pass, 1 a mismatch or
// a model that ORT cannot run, 2 bad arguments or no onnxruntime-node.

const fs = require('fs');
const path = require('path');
const { readTensorProto } = require('./tensor_proto');
const { requireOrt, toOrtTensor } = require('./ort_node');

const DEFAULT_RTOL = 1e-3;
const DEFAULT_ATOL = 1e-7;

function parseArgs(argv) {
  const args = { zoo: path.join(__dirname, 'out'), models: null, threads: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--models') args.models = argv[++i].split(',').filter(Boolean);
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '-h' || a === '--help') {
      console.log('usage: check_ort.js [ZOO_DIR] [--models a,b] [--threads N]');
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else args.zoo = a;
  }
  if (!Number.isInteger(args.threads) || args.threads < 0) throw new Error('--threads takes a non-negative integer');
  return args;
}

function tolerance(modelDir) {
  const file = path.join(modelDir, 'data.json');
  if (!fs.existsSync(file)) return { rtol: DEFAULT_RTOL, atol: DEFAULT_ATOL };
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { rtol: data.rtol ?? DEFAULT_RTOL, atol: data.atol ?? DEFAULT_ATOL };
}

function numbered(dir, prefix) {
  const files = [];
  for (let i = 0; fs.existsSync(path.join(dir, `${prefix}_${i}.pb`)); i++) files.push(path.join(dir, `${prefix}_${i}.pb`));
  return files;
}

// IEEE half-precision bits -> number (float16 tensors hold their bits in a Uint16Array).
function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// Returns {maxAbs, worst, worstIndex, mismatches} for two numeric typed arrays.
function compare(actual, expected, { rtol, atol }, type) {
  const value = type === 'float16' ? halfToNumber : Number;
  let maxAbs = 0;
  let worst = 0;
  let worstIndex = -1;
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = value(actual[i]);
    const e = value(expected[i]);
    const diff = Math.abs(a - e);
    const ratio = diff / (atol + rtol * Math.abs(e));
    if (!(diff <= maxAbs)) maxAbs = Number.isNaN(diff) ? Infinity : diff;
    if (!(ratio <= worst)) {
      worst = Number.isNaN(ratio) ? Infinity : ratio;
      worstIndex = i;
    }
    if (!(ratio <= 1)) mismatches++;
  }
  return { maxAbs, worst, worstIndex, mismatches };
}

async function checkModel(ort, modelDir, threads) {
  const name = path.basename(modelDir);
  const options = { graphOptimizationLevel: 'all', executionMode: 'sequential', interOpNumThreads: 1 };
  if (threads > 0) options.intraOpNumThreads = threads;
  const session = await ort.InferenceSession.create(path.join(modelDir, 'model.onnx'), options);
  const tol = tolerance(modelDir);
  const sets = fs.readdirSync(modelDir).filter((d) => /^test_data_set_\d+$/.test(d)).sort();
  if (sets.length === 0) throw new Error(`${name}: no test_data_set_* folder`);
  let ok = true;
  for (const set of sets) {
    const setDir = path.join(modelDir, set);
    const feeds = {};
    numbered(setDir, 'input').forEach((file, i) => {
      const proto = readTensorProto(file);
      feeds[proto.name || session.inputNames[i]] = toOrtTensor(ort, proto);
    });
    const start = process.hrtime.bigint();
    const results = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const parts = [];
    numbered(setDir, 'output').forEach((file, i) => {
      const ref = readTensorProto(file);
      const outName = ref.name || session.outputNames[i];
      const got = results[outName];
      if (!got) throw new Error(`${name}/${set}: ORT produced no output '${outName}'`);
      if (got.dims.join('x') !== ref.dims.join('x')) {
        ok = false;
        parts.push(`${outName}: shape ${got.dims.join('x')} != reference ${ref.dims.join('x')}`);
        return;
      }
      const c = compare(got.data, ref.data, tol, ref.type);
      if (c.mismatches > 0) ok = false;
      parts.push(`${outName}: max|diff| ${c.maxAbs.toExponential(2)}, worst err/allowed ${c.worst.toFixed(3)}` +
                 (c.mismatches > 0 ? ` (${c.mismatches} of ${ref.data.length} outside)` : ''));
    });
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}/${set} (${ms.toFixed(0)} ms, rtol ${tol.rtol}, atol ${tol.atol}): ${parts.join('; ')}`);
  }
  return ok;
}

async function main() {
  let args;
  let ort;
  try {
    args = parseArgs(process.argv.slice(2));
    ort = requireOrt();
  } catch (error) {
    console.error(`check_ort: error: ${error.message}`);
    return 2;
  }
  if (!fs.existsSync(args.zoo)) {
    console.error(`check_ort: error: zoo folder ${args.zoo} does not exist (build it with models/zoo/make_zoo.py)`);
    return 2;
  }
  const models = args.models ??
    fs.readdirSync(args.zoo).filter((d) => fs.existsSync(path.join(args.zoo, d, 'model.onnx'))).sort();
  let failed = 0;
  for (const model of models) {
    const dir = path.join(args.zoo, model);
    try {
      if (!(await checkModel(ort, dir, args.threads))) failed++;
    } catch (error) {
      failed++;
      console.log(`FAIL ${model}: ${String(error.message).split('\n')[0]}`);
    }
  }
  console.log(`check_ort: ${models.length - failed} passed, ${failed} failed (onnxruntime-node ${ort.env.versions?.common ?? ''})`);
  return failed === 0 ? 0 : 1;
}

main().then((code) => process.exit(code));
