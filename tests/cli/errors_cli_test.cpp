// Errors at the right depth: bad input (exit 2) names what the user can change; a failure
// inside ATen is an internal error (exit 1) naming the node and op.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/onnx_io.h"
#include "tests/cli/run_cli.h"
#include "tests/models/model_builder.h"

namespace ak {
namespace {

using namespace models::testing;
namespace fs = std::filesystem;
using testing::expect_bad_input;
using testing::run_cli;
using Output = testing::CliOutput;

models::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  models::Attribute a;
  a.name = name;
  a.type = models::Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}

/// A recognizer-like head: MaxPool with a 3x2 window over [1, 1, 3, width].
fs::path write_pool_over_width(const fs::path& dir) {
  models::Graph g;
  g.inputs.push_back(tensor_info("image", models::DType::kFloat32, {1, 1, 3, 1}, {"", "", "", "width"}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 1, 1, 1}, {"", "", "", "w_out"}));
  g.nodes.push_back(node("MaxPool", {"image"}, {"y"}, {ints_attr("kernel_shape", {3, 2})}));
  EXPECT_TRUE(models::save_model(model_of(g), dir / "pool.onnx").is_ok());
  return dir / "pool.onnx";
}

/// Bad input after the notices that came before it: exit 2, the last stderr line is the
/// error and it is exactly `expected`.
void expect_error_line(const Output& o, const std::string& expected) {
  EXPECT_EQ(o.exit_code, 2) << o.err;
  const size_t start = o.err.rfind("autokernel: error: ");
  ASSERT_NE(start, std::string::npos) << o.err;
  EXPECT_EQ(o.err.substr(start), "autokernel: error: " + expected + "\n");
}

TEST(CliErrors, DefaultedDimIsNamedWithTheFlagThatSetsIt) {
  TempDir dir;
  const fs::path model = write_pool_over_width(dir.path);
  Output o = run_cli("run " + model.string() + " --device cpu --iters 1 --warmup 0");
  expect_error_line(o, "node 'MaxPool_y' (MaxPool, opset 17): the window (kernel [3,2], dilations [1,1]) is larger than "
                       "the padded input [3,1] (defaulted to 1: symbolic dim 'width'; set with --dim width=N)");
  // Set as the error says, the same model runs.
  Output ok = run_cli("run " + model.string() + " --device cpu --iters 1 --warmup 0 --dim width=4 --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["outputs"][0]["shape"], nlohmann::json::parse("[1,1,1,3]")) << ok.out;
}

// profile and extract run the model too: the same hint, the same exit code.
TEST(CliErrors, ProfileAndExtractNameTheDefaultedDimToo) {
  TempDir dir;
  const fs::path model = write_pool_over_width(dir.path);
  const std::string hint = "(defaulted to 1: symbolic dim 'width'; set with --dim width=N)";
  Output profiled = run_cli("profile " + model.string() + " --device cpu --iters 1 --warmup 0");
  EXPECT_EQ(profiled.exit_code, 2) << profiled.err;
  EXPECT_NE(profiled.err.find(hint), std::string::npos) << profiled.err;
  Output extracted = run_cli("extract " + model.string() + " --device cpu --iters 1 --warmup 0 -o " +
                             (dir.path / "tasks").string());
  EXPECT_EQ(extracted.exit_code, 2) << extracted.err;
  EXPECT_NE(extracted.err.find(hint), std::string::npos) << extracted.err;
}

// profile --cuda-graph profiles graph replays, which a CPU has none of; the modes it
// replaces cannot be combined with it.
TEST(CliErrors, ProfileCudaGraphIsBadInputOnTheCpuAndWithOtherModes) {
  TempDir dir;
  const std::string model = write_pool_over_width(dir.path).string();
  expect_error_line(run_cli("profile " + model + " --device cpu --dim width=4 --iters 1 --warmup 0 --cuda-graph"),
                    "profiling CUDA-graph replays needs a CUDA device; the model runs on cpu");
  expect_bad_input(run_cli("profile " + model + " --cuda-graph --attribution correlation"), "--attribution");
  expect_bad_input(run_cli("profile " + model + " --cuda-graph --host-timing"), "--host-timing");
}

TEST(CliErrors, UnnamedDefaultedDimPointsAtInput) {
  TempDir dir;
  models::Graph g;
  g.inputs.push_back(tensor_info("image", models::DType::kFloat32, {1, 1, 3, 1}, {"", "", "", ""}));
  g.inputs.back().shape[3].value = -1;  // dynamic, no name
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 1, 1, 1}));
  g.nodes.push_back(node("MaxPool", {"image"}, {"y"}, {ints_attr("kernel_shape", {3, 2})}));
  ASSERT_TRUE(models::save_model(model_of(g), dir.path / "m.onnx").is_ok());
  Output o = run_cli("run " + (dir.path / "m.onnx").string() + " --device cpu");
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("is larger than the padded input [3,1] (defaulted to 1: an unnamed dynamic dimension of input "
                       "'image'; give its shape with --input NAME=SHAPE)\n"),
            std::string::npos)
      << o.err;
}

TEST(CliErrors, SymbolicDimThatDoesNotFitTheWeightsIsBadInput) {
  TempDir dir;
  models::Graph g;
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {2, 1}, {"", "k"}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {2, 4}));
  g.initializers.push_back(float_tensor("w", {3, 4}, std::vector<float>(12, 1.f)));
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  ASSERT_TRUE(models::save_model(model_of(g), dir.path / "m.onnx").is_ok());
  expect_bad_input(run_cli("run " + (dir.path / "m.onnx").string() + " --device cpu --dim k=5"),
                   "node 'MatMul_y' (MatMul, opset 17): MatMul operands [2,5] and [3,4] do not multiply (inner dimensions 5 and 3)");
  EXPECT_EQ(run_cli("run " + (dir.path / "m.onnx").string() + " --device cpu --dim k=3 --iters 1").exit_code, 0);
}

TEST(CliErrors, AtenFailureIsInternalErrorNamingNodeAndOp) {
  // ATen has no CPU matrix product for bool: the op reaches ATen, which throws c10::Error.
  TempDir dir;
  models::Graph g;
  g.inputs.push_back(tensor_info("a", models::DType::kBool, {2, 2}));
  g.inputs.push_back(tensor_info("b", models::DType::kBool, {2, 2}));
  g.outputs.push_back(tensor_info("y", models::DType::kBool, {2, 2}));
  g.nodes.push_back(node("MatMul", {"a", "b"}, {"y"}));
  ASSERT_TRUE(models::save_model(model_of(g), dir.path / "m.onnx").is_ok());
  Output o = run_cli("run " + (dir.path / "m.onnx").string() + " --device cpu");
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_EQ(o.err.rfind("autokernel: error: node 'MatMul_y' (MatMul, opset 17): internal error in ATen: ", 0), 0u) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

}  // namespace
}  // namespace ak
