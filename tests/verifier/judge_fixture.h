#pragma once
// A task directory for the judge tests, written the way `autokernel extract` writes one:
// y = Relu(x + b), x [batch, 256] (batch var), b [256], float32, on `device`.

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "models/onnx_io.h"
#include "models/session.h"
#include "tests/models/model_builder.h"

namespace ak::verifier::testing {

using namespace models::testing;

inline models::TensorData patterned(const std::string& name, std::vector<int64_t> dims, uint32_t seed, float first) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (float& x : v) x = dist(rng);
  v[0] = first;
  return float_tensor(name, std::move(dims), v);
}

/// Saves `g` as dir/subgraph.onnx, its `inputs` under dir/inputs and the reference outputs
/// (the runtime's) under dir/outputs, as `autokernel extract` does.
inline void write_task_files(const std::filesystem::path& dir, const models::Graph& g,
                             const std::vector<models::TensorData>& inputs) {
  std::filesystem::create_directories(dir / "inputs");
  std::filesystem::create_directories(dir / "outputs");
  auto model = std::make_shared<const models::Model>(model_of(g, 17));
  if (!models::save_model(*model, dir / "subgraph.onnx").is_ok()) throw std::runtime_error("save_model");
  for (size_t i = 0; i < inputs.size(); ++i)
    (void)models::save_tensor_file(inputs[i], dir / "inputs" / (std::to_string(i) + "_" + inputs[i].name + ".pb"));
  auto session = models::Session::create(model, models::SessionOptions{});
  auto outputs = session.value()->run(inputs);
  for (size_t i = 0; i < outputs.value().size(); ++i)
    (void)models::save_tensor_file(outputs.value()[i], dir / "outputs" / (std::to_string(i) + "_" + g.outputs[i].name + ".pb"));
}

/// Writes the task into `dir`; `device` is "cpu" or "cuda", `arch` its target.
inline void write_add_relu_task(const std::filesystem::path& dir, const std::string& device, const std::string& arch,
                                int64_t batch = 64) {
  models::Graph g;
  g.name = "add_relu";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {batch, 256}, {"batch", ""}));
  g.inputs.push_back(tensor_info("b", models::DType::kFloat32, {256}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {batch, 256}, {"batch", ""}));
  g.nodes.push_back(node("Add", {"x", "b"}, {"s"}));
  g.nodes.push_back(node("Relu", {"s"}, {"y"}));
  write_task_files(dir, g, {patterned("x", {batch, 256}, 11, 0.125f), patterned("b", {256}, 12, 0.5f)});
  nlohmann::ordered_json t;
  t["schema"] = "autokernel.task/1";
  t["name"] = "add_relu_test";
  t["op_type"] = "fused:elementwise_chain";
  t["description"] = "y = Relu(x + b)";
  t["axes"] = {{"batch", {{"type", "var"}, {"value", batch}}}, {"n256", {{"type", "const"}, {"value", 256}}}};
  t["inputs"] = {{"x", {{"shape", {"batch", "n256"}}, {"dtype", "float32"}, {"file", "inputs/0_x.pb"}}},
                 {"b", {{"shape", {"n256"}}, {"dtype", "float32"}, {"file", "inputs/1_b.pb"}}}};
  t["outputs"] = {{"y", {{"shape", {"batch", "n256"}}, {"dtype", "float32"}, {"file", "outputs/0_y.pb"}}}};
  t["op_class"] = "elementwise";
  t["flops"] = 2.0 * batch * 256;
  t["bytes"] = 4.0 * (2 * batch * 256 + 256);
  t["tolerance"] = {{"atol", 1e-5}, {"rtol", 1e-5}, {"matched_ratio", 1.0}};
  t["target"] = {{"device", device}, {"arch", arch}};
  t["random_inputs"] = {{"seed", 7}, {"inputs", {{"x", {{"fill", "normal"}}}, {"b", {{"fill", "normal"}}}}}};
  t["subgraph"] = "subgraph.onnx";
  t["source"] = {{"model", "test"}, {"nodes", {"Add_s", "Relu_y"}}};
  std::ofstream(dir / "task.json") << t.dump(2);
}

/// A MatMul task, y [64, 96] = x [64, 768] x w [768, 96] in float32 on the CPU, with the
/// matmul class's tolerance: K = 768 makes large inputs cancel in some outputs.
inline void write_matmul_task(const std::filesystem::path& dir) {
  models::Graph g;
  g.name = "matmul";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {64, 768}));
  g.inputs.push_back(tensor_info("w", models::DType::kFloat32, {768, 96}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {64, 96}));
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  write_task_files(dir, g, {patterned("x", {64, 768}, 21, 0.25f), patterned("w", {768, 96}, 22, -0.5f)});
  nlohmann::ordered_json t;
  t["schema"] = "autokernel.task/1";
  t["name"] = "matmul_test";
  t["op_type"] = "MatMul";
  t["description"] = "y = x @ w";
  t["axes"] = {{"m", {{"type", "const"}, {"value", 64}}}, {"k", {{"type", "const"}, {"value", 768}}},
               {"n", {{"type", "const"}, {"value", 96}}}};
  t["inputs"] = {{"x", {{"shape", {"m", "k"}}, {"dtype", "float32"}, {"file", "inputs/0_x.pb"}}},
                 {"w", {{"shape", {"k", "n"}}, {"dtype", "float32"}, {"file", "inputs/1_w.pb"}}}};
  t["outputs"] = {{"y", {{"shape", {"m", "n"}}, {"dtype", "float32"}, {"file", "outputs/0_y.pb"}}}};
  t["op_class"] = "matmul";
  t["flops"] = 2.0 * 64 * 768 * 96;
  t["bytes"] = 4.0 * (64 * 768 + 768 * 96 + 64 * 96);
  t["tolerance"] = {{"atol", 1e-4}, {"rtol", 1e-4}, {"matched_ratio", 0.9999}};
  t["target"] = {{"device", "cpu"}, {"arch", "cpu"}};
  t["random_inputs"] = {{"seed", 7}, {"inputs", {{"x", {{"fill", "normal"}}}, {"w", {{"fill", "normal"}}}}}};
  t["subgraph"] = "subgraph.onnx";
  t["source"] = {{"model", "test"}, {"nodes", {"MatMul_y"}}};
  std::ofstream(dir / "task.json") << t.dump(2);
}

/// The status a candidate file says it must get: its first line, "// expect: STATUS".
inline std::string expected_status(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  const std::string tag = "// expect: ";
  return line.rfind(tag, 0) == 0 ? line.substr(tag.size()) : "?";
}

/// Whether a candidate's verdict depends on the worker's sandbox (a "// needs: sandbox"
/// line right after the first): without seccomp and Landlock its escape may succeed.
inline bool needs_sandbox(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  return line == "// needs: sandbox";
}

}  // namespace ak::verifier::testing
