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

/// Writes the task into `dir`; `device` is "cpu" or "cuda", `arch` its target.
inline void write_add_relu_task(const std::filesystem::path& dir, const std::string& device, const std::string& arch,
                                int64_t batch = 64) {
  std::filesystem::create_directories(dir / "inputs");
  std::filesystem::create_directories(dir / "outputs");
  models::Graph g;
  g.name = "add_relu";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {batch, 256}, {"batch", ""}));
  g.inputs.push_back(tensor_info("b", models::DType::kFloat32, {256}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {batch, 256}, {"batch", ""}));
  g.nodes.push_back(node("Add", {"x", "b"}, {"s"}));
  g.nodes.push_back(node("Relu", {"s"}, {"y"}));
  auto model = std::make_shared<const models::Model>(model_of(g, 17));
  if (!models::save_model(*model, dir / "subgraph.onnx").is_ok()) throw std::runtime_error("save_model");
  const models::TensorData x = patterned("x", {batch, 256}, 11, 0.125f);
  const models::TensorData b = patterned("b", {256}, 12, 0.5f);
  (void)models::save_tensor_file(x, dir / "inputs/0_x.pb");
  (void)models::save_tensor_file(b, dir / "inputs/1_b.pb");
  auto session = models::Session::create(model, models::SessionOptions{});
  auto y = session.value()->run({x, b});
  (void)models::save_tensor_file(y.value()[0], dir / "outputs/0_y.pb");
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

/// The status a candidate file says it must get: its first line, "// expect: STATUS".
inline std::string expected_status(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  const std::string tag = "// expect: ";
  return line.rfind(tag, 0) == 0 ? line.substr(tag.size()) : "?";
}

}  // namespace ak::verifier::testing
