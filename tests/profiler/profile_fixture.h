#pragma once
// A small MLP-with-softmax model for profiler tests: MatMul -> Add(bias) -> Relu ->
// MatMul -> Softmax, built through the IR so the profiler sees a real session.

#include <memory>

#include "models/session.h"
#include "tests/models/model_builder.h"

namespace ak::profiler::testing {

using namespace models::testing;

inline models::TensorData random_tensor(const std::string& name, std::vector<int64_t> dims, uint32_t seed) {
  return random_normal_tensor(name, std::move(dims), seed, 0.1f);
}

/// y = Softmax(Relu(x @ w1 + b1) @ w2), x: [batch, 64].
inline std::shared_ptr<const models::Model> mlp_model() {
  models::Graph g;
  g.name = "mlp";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {8, 64}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {8, 32}, {"batch", ""}));
  g.initializers.push_back(random_tensor("w1", {64, 128}, 1));
  g.initializers.push_back(random_tensor("b1", {128}, 2));
  g.initializers.push_back(random_tensor("w2", {128, 32}, 3));
  g.nodes.push_back(node("MatMul", {"x", "w1"}, {"h"}));
  g.nodes.push_back(node("Add", {"h", "b1"}, {"hb"}));
  g.nodes.push_back(node("Relu", {"hb"}, {"r"}));
  g.nodes.push_back(node("MatMul", {"r", "w2"}, {"logits"}));
  g.nodes.push_back(node("Softmax", {"logits"}, {"y"}, {int_attr("axis", -1)}));
  return std::make_shared<const models::Model>(model_of(std::move(g), 17));
}

inline std::unique_ptr<models::Session> mlp_session(models::Device device) {
  models::SessionOptions options;
  options.device = device;
  auto s = models::Session::create(mlp_model(), options);
  return s.is_ok() ? std::move(s).value() : nullptr;
}

}  // namespace ak::profiler::testing
