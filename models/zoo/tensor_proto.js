'use strict';
// Reads ONNX TensorProto files (the input_K.pb / output_K.pb of an ONNX test directory)
// without the onnx package: a TensorProto is a small protobuf message, decoded here by
// field number (onnx.proto: dims=1, data_type=2, float_data=4, int32_data=5,
// int64_data=7, name=8, raw_data=9, double_data=10, uint64_data=11, data_location=14).

const fs = require('fs');

// ONNX TensorProto.DataType -> [onnxruntime-node type name, typed-array constructor].
const DTYPES = {
  1: ['float32', Float32Array],
  2: ['uint8', Uint8Array],
  3: ['int8', Int8Array],
  4: ['uint16', Uint16Array],
  5: ['int16', Int16Array],
  6: ['int32', Int32Array],
  7: ['int64', BigInt64Array],
  9: ['bool', Uint8Array],
  10: ['float16', Uint16Array],
  11: ['float64', Float64Array],
  12: ['uint32', Uint32Array],
  13: ['uint64', BigUint64Array],
};

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }
  done() { return this.pos >= this.bytes.length; }
  varint() {  // as BigInt: int64 values need all 64 bits
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.bytes.length) throw new Error('truncated varint');
      const b = this.bytes[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  lengthDelimited() {
    const len = Number(this.varint());
    if (this.pos + len > this.bytes.length) throw new Error('truncated field');
    const view = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return view;
  }
  skip(wireType) {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.lengthDelimited();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

// Repeated varint field, packed (wire type 2) or one value per tag (wire type 0).
function readVarints(reader, wireType, out) {
  if (wireType === 0) {
    out.push(reader.varint());
    return;
  }
  const packed = new Reader(reader.lengthDelimited());
  while (!packed.done()) out.push(packed.varint());
}

// Repeated fixed-width field (float: 4 bytes, double: 8 bytes).
function readFixed(reader, wireType, width, out) {
  const bytes = wireType === 2 ? reader.lengthDelimited() : reader.bytes.subarray(reader.pos, (reader.pos += width));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off + width <= bytes.length; off += width)
    out.push(width === 4 ? view.getFloat32(off, true) : view.getFloat64(off, true));
}

const toSigned64 = (v) => BigInt.asIntN(64, v);
const toSigned32 = (v) => Number(BigInt.asIntN(32, v));

/// Decodes one TensorProto. Returns {name, dataType, type, dims: number[], data: TypedArray}.
function decodeTensorProto(bytes) {
  const reader = new Reader(bytes);
  const dims = [];
  const floats = [];
  const varints = [];  // int32_data / int64_data / uint64_data
  let varintField = 0;
  let dataType = 0;
  let name = '';
  let raw = null;
  let location = 0;
  while (!reader.done()) {
    const key = Number(reader.varint());
    const field = key >>> 3;
    const wireType = key & 7;
    if (field === 1) readVarints(reader, wireType, dims);
    else if (field === 2) dataType = Number(reader.varint());
    else if (field === 4) readFixed(reader, wireType, 4, floats);
    else if (field === 10) readFixed(reader, wireType, 8, floats);
    else if (field === 5 || field === 7 || field === 11) {
      varintField = field;
      readVarints(reader, wireType, varints);
    } else if (field === 8) name = Buffer.from(reader.lengthDelimited()).toString('utf8');
    else if (field === 9) raw = reader.lengthDelimited();
    else if (field === 14) location = Number(reader.varint());
    else reader.skip(wireType);
  }
  if (location === 1) throw new Error(`tensor '${name}': external data is not supported`);
  const entry = DTYPES[dataType];
  if (!entry) throw new Error(`tensor '${name}': unsupported data type ${dataType}`);
  const [type, ArrayType] = entry;
  const shape = dims.map((d) => Number(toSigned64(d)));
  const count = shape.reduce((a, b) => a * b, 1);
  let data;
  if (raw !== null) {
    if (raw.length !== count * ArrayType.BYTES_PER_ELEMENT)
      throw new Error(`tensor '${name}': raw_data has ${raw.length} bytes, shape [${shape}] needs ${count * ArrayType.BYTES_PER_ELEMENT}`);
    // Copy into a fresh buffer: raw_data's offset is not aligned for the typed array.
    data = new ArrayType(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  } else if (floats.length > 0) {
    data = ArrayType.from(floats);
  } else if (ArrayType === BigInt64Array) {
    data = BigInt64Array.from(varints.map(toSigned64));
  } else if (ArrayType === BigUint64Array) {
    data = BigUint64Array.from(varints);
  } else {
    // int32_data carries every integer type narrower than 64 bits, bool and float16 bits.
    data = ArrayType.from(varints.map(varintField === 5 ? toSigned32 : Number));
  }
  if (data.length !== count) throw new Error(`tensor '${name}': ${data.length} values, shape [${shape}] needs ${count}`);
  return { name, dataType, type, dims: shape, data };
}

function readTensorProto(path) {
  return decodeTensorProto(fs.readFileSync(path));
}

module.exports = { decodeTensorProto, readTensorProto };
