'use strict';
// Finds onnxruntime-node: a normal require first (NODE_PATH, a node_modules above the
// caller), then the folder the zoo's tools install it into, build/ort/node_modules.

const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const INSTALL_HINT =
  'install it with: mkdir -p build/ort && npm install --ignore-scripts --prefix build/ort onnxruntime-node';

function requireOrt() {
  const candidates = ['onnxruntime-node', path.join(REPO_ROOT, 'build', 'ort', 'node_modules', 'onnxruntime-node')];
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (error) {
      if (error.code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  throw new Error(`onnxruntime-node not found; ${INSTALL_HINT}`);
}

/// An ort.Tensor from a decoded TensorProto (see tensor_proto.js).
function toOrtTensor(ort, proto) {
  return new ort.Tensor(proto.type, proto.data, proto.dims);
}

module.exports = { requireOrt, toOrtTensor, INSTALL_HINT };
