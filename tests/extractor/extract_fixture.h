#pragma once
// Small models with a symbolic batch dim for the extractor tests, built through the IR
// (tests/models/model_builder.h), each aimed at one kind of task.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "models/graph.h"
#include "tests/models/model_builder.h"

namespace ak::extractor::testing {

using namespace models::testing;

inline models::TensorData random_floats(const std::string& name, std::vector<int64_t> dims, uint32_t seed,
                                        float stddev = 0.5f) {
  return random_normal_tensor(name, std::move(dims), seed, stddev);
}

inline models::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  models::Attribute a;
  a.name = name;
  a.type = models::Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}

inline models::Attribute string_attr(const std::string& name, std::string v) {
  models::Attribute a;
  a.name = name;
  a.type = models::Attribute::Type::kString;
  a.s = std::move(v);
  return a;
}

inline std::shared_ptr<const models::Model> shared(models::Graph g, int64_t opset = 17) {
  return std::make_shared<const models::Model>(model_of(std::move(g), opset));
}

/// y = Relu(x @ w1 + b1) @ w2, x: [batch, 16]. Hotspots: a gemm_epilogue group with an
/// activation (no template: skeleton) and a MatMul node (matmul template).
inline std::shared_ptr<const models::Model> mlp_model() {
  models::Graph g;
  g.name = "mlp";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {2, 16}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {2, 8}, {"batch", ""}));
  g.initializers.push_back(random_floats("w1", {16, 32}, 1));
  g.initializers.push_back(random_floats("b1", {32}, 2));
  g.initializers.push_back(random_floats("w2", {32, 8}, 3));
  g.nodes.push_back(node("MatMul", {"x", "w1"}, {"h"}));
  g.nodes.push_back(node("Add", {"h", "b1"}, {"hb"}));
  g.nodes.push_back(node("Relu", {"hb"}, {"r"}));
  g.nodes.push_back(node("MatMul", {"r", "w2"}, {"y"}));
  return shared(std::move(g));
}

/// y = Tanh((x + bias) * 0.5 - c), x: [batch, 8, 16], 0.5 a scalar initializer, c = 0.25 a
/// Constant node: one elementwise_chain group whose kernel inputs are x and bias.
inline std::shared_ptr<const models::Model> chain_model() {
  models::Graph g;
  g.name = "chain";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 8, 16}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 8, 16}, {"batch", "", ""}));
  g.initializers.push_back(random_floats("bias", {16}, 4));
  g.initializers.push_back(float_tensor("half", {}, {0.5f}));
  models::Node c = node("Constant", {}, {"c"});
  models::Attribute value;
  value.name = "value";
  value.type = models::Attribute::Type::kTensor;
  value.t = float_tensor("c", {}, {0.25f});
  c.attributes.push_back(value);
  g.nodes.push_back(c);
  g.nodes.push_back(node("Add", {"x", "bias"}, {"t"}));
  g.nodes.push_back(node("Mul", {"t", "half"}, {"u"}));
  g.nodes.push_back(node("Sub", {"u", "c"}, {"v"}));
  g.nodes.push_back(node("Tanh", {"v"}, {"y"}));
  return shared(std::move(g));
}

/// y = Softmax(x, axis=-1), x: [batch, 4, 32].
inline std::shared_ptr<const models::Model> softmax_model() {
  models::Graph g;
  g.name = "softmax";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 4, 32}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 4, 32}, {"batch", "", ""}));
  g.nodes.push_back(node("Softmax", {"x"}, {"y"}, {int_attr("axis", -1)}));
  return shared(std::move(g));
}

/// y = LayerNormalization(x, scale, bias), x: [batch, 10, 64], epsilon 1e-5.
inline std::shared_ptr<const models::Model> layer_norm_model() {
  models::Graph g;
  g.name = "layer_norm";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 10, 64}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 10, 64}, {"batch", "", ""}));
  g.initializers.push_back(random_floats("scale", {64}, 5));
  g.initializers.push_back(random_floats("bias", {64}, 6));
  g.nodes.push_back(node("LayerNormalization", {"x", "scale", "bias"}, {"y"},
                         {int_attr("axis", -1), float_attr("epsilon", 1e-5f)}));
  return shared(std::move(g));
}

/// The same layer norm decomposed as exporters write it: ReduceMean -> Sub -> Pow(2) ->
/// ReduceMean -> Add(eps) -> Sqrt -> Div -> Mul(gamma) -> Add(beta), with gamma and beta as
/// the first operands of their Mul/Add; 2 and eps are scalar initializers.
inline std::shared_ptr<const models::Model> decomposed_layer_norm_model() {
  models::Graph g;
  g.name = "decomposed_layer_norm";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 6, 48}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 6, 48}, {"batch", "", ""}));
  g.initializers.push_back(random_floats("beta", {48}, 7));
  g.initializers.push_back(random_floats("gamma", {48}, 8));
  g.initializers.push_back(float_tensor("two", {}, {2.f}));
  g.initializers.push_back(float_tensor("eps", {}, {1e-5f}));
  g.nodes.push_back(node("ReduceMean", {"x"}, {"mean"}, {ints_attr("axes", {-1})}));
  g.nodes.push_back(node("Sub", {"x", "mean"}, {"d"}));
  g.nodes.push_back(node("Pow", {"d", "two"}, {"sq"}));
  g.nodes.push_back(node("ReduceMean", {"sq"}, {"var"}, {ints_attr("axes", {-1})}));
  g.nodes.push_back(node("Add", {"var", "eps"}, {"var_eps"}));
  g.nodes.push_back(node("Sqrt", {"var_eps"}, {"std"}));
  g.nodes.push_back(node("Div", {"d", "std"}, {"n"}));
  g.nodes.push_back(node("Mul", {"gamma", "n"}, {"scaled"}));
  g.nodes.push_back(node("Add", {"beta", "scaled"}, {"y"}));
  return shared(std::move(g));
}

/// RMS norm as exporters write it: Pow(x, 2) -> ReduceMean -> Add(eps) -> Sqrt -> Div(x, .)
/// -> Mul(., gamma), x: [batch, 5, 32].
inline std::shared_ptr<const models::Model> decomposed_rms_norm_model() {
  models::Graph g;
  g.name = "decomposed_rms_norm";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 5, 32}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 5, 32}, {"batch", "", ""}));
  g.initializers.push_back(random_floats("gamma", {32}, 12));
  g.initializers.push_back(float_tensor("two", {}, {2.f}));
  g.initializers.push_back(float_tensor("eps", {}, {1e-6f}));
  g.nodes.push_back(node("Pow", {"x", "two"}, {"sq"}));
  g.nodes.push_back(node("ReduceMean", {"sq"}, {"ms"}, {ints_attr("axes", {-1})}));
  g.nodes.push_back(node("Add", {"ms", "eps"}, {"ms_eps"}));
  g.nodes.push_back(node("Sqrt", {"ms_eps"}, {"rms"}));
  g.nodes.push_back(node("Div", {"x", "rms"}, {"n"}));
  g.nodes.push_back(node("Mul", {"n", "gamma"}, {"y"}));
  return shared(std::move(g));
}

/// Softmax as exporters write it: ReduceMax -> Sub -> Exp -> ReduceSum -> Div, x: [batch, 4,
/// 16]; ReduceSum takes its axes as an int64 initializer input (opset 13+).
inline std::shared_ptr<const models::Model> decomposed_softmax_model() {
  models::Graph g;
  g.name = "decomposed_softmax";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 4, 16}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 4, 16}, {"batch", "", ""}));
  g.initializers.push_back(int64_tensor("axes", {1}, {-1}));
  g.nodes.push_back(node("ReduceMax", {"x"}, {"mx"}, {ints_attr("axes", {-1})}));
  g.nodes.push_back(node("Sub", {"x", "mx"}, {"d"}));
  g.nodes.push_back(node("Exp", {"d"}, {"e"}));
  g.nodes.push_back(node("ReduceSum", {"e", "axes"}, {"s"}));
  g.nodes.push_back(node("Div", {"e", "s"}, {"y"}));
  return shared(std::move(g));
}

/// Erf GELU as exporters write it; the runtime fuses it into one com.autokernel.Gelu node,
/// so the task is that node. x: [batch, 24].
inline std::shared_ptr<const models::Model> gelu_model() {
  models::Graph g;
  g.name = "gelu";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 24}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 24}, {"batch", ""}));
  g.initializers.push_back(float_tensor("sqrt2", {}, {1.4142135f}));
  g.initializers.push_back(float_tensor("one", {}, {1.f}));
  g.initializers.push_back(float_tensor("half", {}, {0.5f}));
  g.nodes.push_back(node("Div", {"x", "sqrt2"}, {"xs"}));
  g.nodes.push_back(node("Erf", {"xs"}, {"e"}));
  g.nodes.push_back(node("Add", {"e", "one"}, {"e1"}));
  g.nodes.push_back(node("Mul", {"x", "e1"}, {"xe"}));
  g.nodes.push_back(node("Mul", {"xe", "half"}, {"y"}));
  return shared(std::move(g));
}

/// y = MaxPool(x), x: [batch, 3, 8, 8], 2x2 windows (the pool template); with `indices`
/// also its Indices output (int64), which no template computes (a skeleton).
inline std::shared_ptr<const models::Model> pool_model(bool indices = false) {
  models::Graph g;
  g.name = "pool";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 3, 8, 8}, {"batch", "", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 3, 4, 4}, {"batch", "", "", ""}));
  std::vector<std::string> outputs = {"y"};
  if (indices) {
    g.outputs.push_back(tensor_info("i", models::DType::kInt64, {1, 3, 4, 4}, {"batch", "", "", ""}));
    outputs.push_back("i");
  }
  g.nodes.push_back(node("MaxPool", {"x"}, outputs, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})}));
  return shared(std::move(g));
}

/// A Conv + Relu, then MatMul + Add + GELU (erf, as exporters write it):
/// c = Relu(Conv(x, w, b)) [batch, 4, 6, 6], y = Gelu(c @ w2 [6, 5] + b2 [5]).
inline std::shared_ptr<const models::Model> conv_gelu_model() {
  models::Graph g;
  g.name = "conv_gelu";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 3, 8, 8}, {"batch", "", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 4, 6, 5}, {"batch", "", "", ""}));
  g.initializers.push_back(random_floats("w", {4, 3, 3, 3}, 21));
  g.initializers.push_back(random_floats("b", {4}, 22));
  g.initializers.push_back(random_floats("w2", {6, 5}, 23));
  g.initializers.push_back(random_floats("b2", {5}, 24));
  g.initializers.push_back(float_tensor("sqrt2", {}, {1.4142135f}));
  g.initializers.push_back(float_tensor("one", {}, {1.f}));
  g.initializers.push_back(float_tensor("half", {}, {0.5f}));
  g.nodes.push_back(node("Conv", {"x", "w", "b"}, {"conv"}, {ints_attr("kernel_shape", {3, 3})}));
  g.nodes.push_back(node("Relu", {"conv"}, {"c"}));
  g.nodes.push_back(node("MatMul", {"c", "w2"}, {"m"}));
  g.nodes.push_back(node("Add", {"m", "b2"}, {"h"}));
  g.nodes.push_back(node("Div", {"h", "sqrt2"}, {"hs"}));
  g.nodes.push_back(node("Erf", {"hs"}, {"e"}));
  g.nodes.push_back(node("Add", {"e", "one"}, {"e1"}));
  g.nodes.push_back(node("Mul", {"h", "e1"}, {"he"}));
  g.nodes.push_back(node("Mul", {"he", "half"}, {"y"}));
  return shared(std::move(g));
}

/// y = Conv(x, w, b), x: [batch, 3, 8, 8], 3x3 kernel, 4 output channels.
inline std::shared_ptr<const models::Model> conv_model() {
  models::Graph g;
  g.name = "conv";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 3, 8, 8}, {"batch", "", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 4, 6, 6}, {"batch", "", "", ""}));
  g.initializers.push_back(random_floats("w", {4, 3, 3, 3}, 9));
  g.initializers.push_back(random_floats("b", {4}, 10));
  g.nodes.push_back(node("Conv", {"x", "w", "b"}, {"y"}, {ints_attr("kernel_shape", {3, 3})}));
  return shared(std::move(g));
}

/// An LM-head-like Gemm: y = 0.5 * x [batch, 16] x w^T (w [24, 16]) + 2 * b [24].
inline std::shared_ptr<const models::Model> gemm_model() {
  models::Graph g;
  g.name = "gemm";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {3, 16}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {3, 24}, {"batch", ""}));
  g.initializers.push_back(random_floats("w", {24, 16}, 12));
  g.initializers.push_back(random_floats("b", {24}, 13));
  g.nodes.push_back(node("Gemm", {"x", "w", "b"}, {"y"},
                         {int_attr("transB", 1), float_attr("alpha", 0.5f), float_attr("beta", 2.0f)}));
  return shared(std::move(g));
}

/// A model that loads but cannot run: x [batch, 5] @ w [6, 4].
inline std::shared_ptr<const models::Model> broken_model() {
  models::Graph g;
  g.name = "broken";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 5}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 4}, {"batch", ""}));
  g.initializers.push_back(random_floats("w", {6, 4}, 11));
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  return shared(std::move(g));
}

}  // namespace ak::extractor::testing
