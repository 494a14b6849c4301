#pragma once
// Small models for the CUDA-graph tests (cuda_graph_test.cpp on the CPU,
// cuda_graph_gpu_test.cpp on a GPU), built through the IR like the other session tests.

#include <memory>
#include <string>
#include <vector>

#include "tests/models/model_builder.h"

namespace ak::models::testing {

/// A transformer-block-like model over x: [batch, 16, 32] with the pieces the zoo's models
/// run through the executor: LayerNormalization, MatMul + bias, Relu, a residual Add,
/// shape arithmetic on the host (Shape -> Gather -> Unsqueeze -> Concat feeding Reshape,
/// whose shape the executor uploads and caches) and a Softmax.
inline std::shared_ptr<const Model> block_model() {
  Graph g;
  g.name = "block";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {1, 16, 32}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1, 512}, {"batch", ""}));
  g.initializers.push_back(random_normal_tensor("gamma", {32}, 1));
  g.initializers.push_back(random_normal_tensor("beta", {32}, 2));
  g.initializers.push_back(random_normal_tensor("w1", {32, 64}, 3));
  g.initializers.push_back(random_normal_tensor("b1", {64}, 4));
  g.initializers.push_back(random_normal_tensor("w2", {64, 32}, 5));
  g.initializers.push_back(int64_tensor("zero", {}, {0}));
  g.initializers.push_back(int64_tensor("axes0", {1}, {0}));
  g.initializers.push_back(int64_tensor("minus_one", {1}, {-1}));
  Attribute epsilon;
  epsilon.name = "epsilon";
  epsilon.type = Attribute::Type::kFloat;
  epsilon.f = 1e-5f;
  g.nodes.push_back(node("LayerNormalization", {"x", "gamma", "beta"}, {"ln"}, {int_attr("axis", -1), epsilon}));
  g.nodes.push_back(node("MatMul", {"ln", "w1"}, {"h"}));
  g.nodes.push_back(node("Add", {"h", "b1"}, {"hb"}));
  g.nodes.push_back(node("Relu", {"hb"}, {"r"}));
  g.nodes.push_back(node("MatMul", {"r", "w2"}, {"o"}));
  g.nodes.push_back(node("Add", {"o", "x"}, {"res"}));
  g.nodes.push_back(node("Shape", {"x"}, {"shape"}));
  g.nodes.push_back(node("Gather", {"shape", "zero"}, {"batch"}, {int_attr("axis", 0)}));
  g.nodes.push_back(node("Unsqueeze", {"batch", "axes0"}, {"batch1"}));
  g.nodes.push_back(node("Concat", {"batch1", "minus_one"}, {"flat_shape"}, {int_attr("axis", 0)}));
  g.nodes.push_back(node("Reshape", {"res", "flat_shape"}, {"flat"}));
  g.nodes.push_back(node("Softmax", {"flat"}, {"y"}, {int_attr("axis", -1)}));
  return std::make_shared<const Model>(model_of(std::move(g), 17));
}

/// y = NonZero(x): the output's shape depends on the data, which a graph cannot replay.
inline std::shared_ptr<const Model> nonzero_model() {
  Graph g;
  g.name = "nonzero";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {4, 8}));
  g.outputs.push_back(tensor_info("y", DType::kInt64, {2, 0}, {"", "n"}));
  g.nodes.push_back(node("NonZero", {"x"}, {"y"}));
  return std::make_shared<const Model>(model_of(std::move(g), 17));
}

/// y = Reshape(x, shape) with `shape` a model input: it lives on the device, and Reshape
/// reads it on the host (Session::host_syncs counts it).
inline std::shared_ptr<const Model> device_shape_model() {
  Graph g;
  g.name = "device_shape";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {4, 8}));
  g.inputs.push_back(tensor_info("shape", DType::kInt64, {2}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {8, 4}, {"a", "b"}));
  g.nodes.push_back(node("Reshape", {"x", "shape"}, {"y"}));
  return std::make_shared<const Model>(model_of(std::move(g), 17));
}

}  // namespace ak::models::testing
