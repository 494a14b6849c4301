#pragma once
// Builds small ONNX models in memory for tests (through the IR and save_model, so the
// loader reads real protobuf bytes).

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/remove_tree.h"
#include "models/graph.h"

namespace ak::models::testing {

inline TensorData float_tensor(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
  TensorData t;
  t.name = name;
  t.dtype = DType::kFloat32;
  t.dims = std::move(dims);
  t.bytes = Buffer::copy_of(values.data(), values.size() * sizeof(float));
  return t;
}

inline TensorData int64_tensor(const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& values) {
  TensorData t;
  t.name = name;
  t.dtype = DType::kInt64;
  t.dims = std::move(dims);
  t.bytes = Buffer::copy_of(values.data(), values.size() * sizeof(int64_t));
  return t;
}

/// A float32 tensor of normally distributed values (mean 0, `stddev`), the same for a seed.
inline TensorData random_normal_tensor(const std::string& name, std::vector<int64_t> dims, uint32_t seed,
                                       float stddev = 1.f) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<float> values(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, stddev);
  for (float& v : values) v = dist(rng);
  return float_tensor(name, std::move(dims), values);
}

inline std::vector<float> floats_of(const TensorData& t) {
  std::vector<float> out(t.numel());
  std::memcpy(out.data(), t.bytes.data, out.size() * sizeof(float));
  return out;
}

inline ValueInfo tensor_info(const std::string& name, DType dtype, const std::vector<int64_t>& dims,
                             const std::vector<std::string>& params = {}) {
  ValueInfo v;
  v.name = name;
  v.dtype = dtype;
  v.has_shape = true;
  for (size_t i = 0; i < dims.size(); ++i) {
    Dim d;
    if (i < params.size() && !params[i].empty()) d.param = params[i];
    else d.value = dims[i];
    v.shape.push_back(d);
  }
  return v;
}

inline Node node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                 std::vector<Attribute> attrs = {}) {
  Node n;
  n.op_type = op;
  n.name = op + "_" + (outputs.empty() ? std::string("x") : outputs[0]);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attributes = std::move(attrs);
  return n;
}

inline Attribute int_attr(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}

inline Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}

inline Attribute float_attr(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}

inline Model model_of(Graph g, int64_t opset = 17) {
  Model m;
  m.ir_version = 8;
  m.opsets[""] = opset;
  m.graph = std::move(g);
  return m;
}

/// A fresh empty folder under the system temp dir, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("ak_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    ak::remove_tree(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    ak::remove_tree(path);
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

}  // namespace ak::models::testing
