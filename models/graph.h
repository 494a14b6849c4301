#pragma once
/// The graph IR: an ONNX model as plain C++ values. No protobuf types appear here; the
/// loader (models/onnx_loader.cpp) is the only code that sees onnx.pb.h.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace ak::models {

/// Element types, numbered as ONNX's TensorProto.DataType.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
};

/// "float32", "int64", ... (ONNX's lower-case names; "float" prints as "float32").
std::string dtype_name(DType dtype);
/// Parses "float32"/"float", "float16"/"half", "bfloat16", "int64", "bool", ... .
std::optional<DType> parse_dtype(const std::string& name);
/// Bytes per element; 0 for strings and undefined.
size_t dtype_size(DType dtype);
bool is_floating(DType dtype);
bool is_integer(DType dtype);  ///< signed or unsigned integers, not bool

/// Immutable bytes shared between copies (an initializer, a mapped external-data file).
struct Buffer {
  const std::byte* data = nullptr;
  size_t size_bytes = 0;
  std::shared_ptr<const void> owner;  ///< keeps `data` alive

  static Buffer copy_of(const void* bytes, size_t size);
};

/// A tensor on the host: dtype, dims and packed little-endian bytes in row-major order.
/// String tensors keep their elements in `strings` and leave `bytes` empty.
struct TensorData {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  Buffer bytes;
  std::vector<std::string> strings;

  int64_t numel() const;
  /// Shape as "1x3x224x224" ("scalar" for rank 0).
  std::string shape_string() const;
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(bytes.data); }
};

std::string shape_string(const std::vector<int64_t>& dims);

/// A graph input/output value on the host: a tensor (numeric or string), a sequence of
/// tensors, or an empty optional. Most models only ever use tensors.
struct HostValue {
  enum class Kind { kTensor, kSequence, kNone };
  std::string name;
  Kind kind = Kind::kTensor;
  TensorData tensor;                 ///< kTensor
  std::vector<TensorData> sequence;  ///< kSequence
  DType sequence_dtype = DType::kUndefined;
};

/// Summary statistics of a tensor's values (NaN/Inf excluded from mean/std/min/max).
struct TensorStats {
  double mean = 0, stddev = 0, min = 0, max = 0;
  int64_t nan_count = 0, inf_count = 0;
};
/// Stats over any numeric dtype (float16/bfloat16 decoded); zeros for strings and empties.
TensorStats compute_stats(const TensorData& tensor);
/// Decodes IEEE half / bfloat16 bits.
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

/// A dimension of a declared shape: a fixed size, a named symbol, or unknown.
struct Dim {
  int64_t value = -1;  ///< >= 0 when fixed
  std::string param;   ///< the symbol when symbolic (e.g. "batch")
  bool is_fixed() const { return value >= 0; }
};

/// The declared type of a graph input/output/value_info. Non-tensor types (sequences,
/// optionals) set `kind` and describe their element in `elem_*`.
struct ValueInfo {
  enum class Kind { kTensor, kSequence, kOptional, kUnknown };
  std::string name;
  Kind kind = Kind::kTensor;
  DType dtype = DType::kUndefined;  ///< the tensor's (or the element's) dtype
  bool has_shape = false;
  std::vector<Dim> shape;
};

struct Graph;

/// One node attribute; only the member matching `type` is meaningful.
struct Attribute {
  enum class Type { kUndefined, kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors, kGraphs };
  std::string name;
  Type type = Type::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  TensorData t;
  std::shared_ptr<const Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<TensorData> tensors;
  std::vector<std::shared_ptr<const Graph>> graphs;
};

struct Node {
  std::string name;  ///< unique within the graph (the loader names unnamed nodes "<op>_<index>")
  std::string op_type;
  std::string domain;  ///< "" for the default ai.onnx domain
  std::vector<std::string> inputs;   ///< "" marks an omitted optional input
  std::vector<std::string> outputs;  ///< "" marks an omitted optional output
  std::vector<Attribute> attributes;

  const Attribute* find_attribute(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name) const;
  std::vector<float> attr_floats(const std::string& name) const;
  bool has_attribute(const std::string& name) const { return find_attribute(name) != nullptr; }
  /// Number of present (non-empty) inputs at positions < inputs.size().
  bool has_input(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;  ///< in the file's order (ONNX requires topological order)
  std::vector<TensorData> initializers;
  std::vector<ValueInfo> inputs;  ///< includes initializers listed as inputs in old IR versions
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;

  /// Graph inputs that are not initializers: what a caller must feed.
  std::vector<const ValueInfo*> runtime_inputs() const;
  const TensorData* find_initializer(const std::string& name) const;
};

struct Model {
  std::filesystem::path path;  ///< where it was loaded from (empty when built in memory)
  int64_t ir_version = 0;
  std::string producer;
  std::map<std::string, int64_t> opsets;  ///< domain ("" = ai.onnx) -> version
  Graph graph;

  /// The opset of the default domain (ai.onnx), or of `domain`; 0 when not imported.
  int64_t opset(const std::string& domain = "") const;
};

}  // namespace ak::models
