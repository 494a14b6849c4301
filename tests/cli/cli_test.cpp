// The `autokernel` binary as users run it: exit codes, one-line errors, JSON output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
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

fs::path write_add_relu(const fs::path& dir) {
  models::Graph g;
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 3}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {1, 3}, {"batch", ""}));
  g.initializers.push_back(float_tensor("w", {3}, {1.f, -2.f, 0.5f}));
  g.nodes.push_back(node("Add", {"x", "w"}, {"s"}));
  g.nodes.push_back(node("Relu", {"s"}, {"y"}));
  fs::path p = dir / "add_relu.onnx";
  EXPECT_TRUE(models::save_model(model_of(g), p).is_ok());
  return p;
}

TEST(Cli, RunPrintsJson) {
  TempDir dir;
  fs::path model = write_add_relu(dir.path);
  Output o = run_cli("run " + model.string() + " --device cpu --dim batch=4 --iters 3 --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json({4, 3}));
  EXPECT_GE(j["outputs"][0]["min"].get<double>(), 0.0);  // a Relu output
  EXPECT_GT(j["latency_ms"]["median"].get<double>(), 0.0);
  EXPECT_LE(j["latency_ms"]["median"].get<double>(), j["latency_ms"]["p90"].get<double>());
}

TEST(Cli, RunTextNamesOutputsAndLatency) {
  TempDir dir;
  Output o = run_cli("run " + write_add_relu(dir.path).string() + " --device cpu --iters 2");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("y "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("latency: median"), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("symbolic dim 'batch' set to 1"), std::string::npos) << o.err;
}

TEST(Cli, BadInputGetsOneLineAndExitTwo) {
  TempDir dir;
  fs::path model = write_add_relu(dir.path);
  expect_bad_input(run_cli("run " + (dir.path / "missing.onnx").string() + " --device cpu"), "does not exist");
  {
    std::ofstream junk(dir.path / "junk.onnx");
    junk << "not a model at all";
  }
  expect_bad_input(run_cli("run " + (dir.path / "junk.onnx").string() + " --device cpu"), "is not an ONNX model");
  expect_bad_input(run_cli("run " + dir.path.string() + " --device cpu"), "is a directory");
  expect_bad_input(run_cli("run " + model.string() + " --device tpu"), "unknown device 'tpu'");
  expect_bad_input(run_cli("run " + model.string() + " --device cpu --input nope=1x3"), "no such input");
  expect_bad_input(run_cli("run " + model.string() + " --device cpu --input x=2x4"), "the model expects batchx3");
  expect_bad_input(run_cli("run " + model.string() + " --device cpu --dim seq=3"), "no symbolic dimension 'seq'");
  expect_bad_input(run_cli("run " + model.string() + " --device cpu --iters 0"), "--iters");
  expect_bad_input(run_cli("frobnicate"), "frobnicate");
  expect_bad_input(run_cli("conformance " + (dir.path / "nothing").string()), "does not exist");
}

TEST(Cli, ProfileWritesTableJsonAndTrace) {
  TempDir dir;
  fs::path model = write_add_relu(dir.path);
  const fs::path json = dir.path / "p.json", trace = dir.path / "t.json";
  Output o = run_cli("profile " + model.string() + " --device cpu --dim batch=4 --iters 3 --warmup 1 --json " +
                     json.string() + " --trace " + trace.string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("rank"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("elementwise_chain"), std::string::npos) << o.out;  // Add -> Relu is one group
  EXPECT_NE(o.err.find("profile: 3/3"), std::string::npos) << o.err;       // progress on stderr
  std::ifstream in(json);
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["schema"], "autokernel.profile/1");
  EXPECT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["input_shapes"], nlohmann::json::parse("[[4,3],[3]]"));
  EXPECT_EQ(j["hotspots"].size(), 1u);
  EXPECT_EQ(j["hotspots"][0]["nodes"], nlohmann::json::parse(R"(["Add_s","Relu_y"])"));
  EXPECT_EQ(j["timing"]["attribution"], "host");  // no CUPTI on a CPU, whatever --attribution says
  std::ifstream trace_in(trace);
  auto t = nlohmann::json::parse(trace_in);
  EXPECT_TRUE(t["traceEvents"].is_array());
}

TEST(Cli, ProfileBadInputGetsOneLine) {
  TempDir dir;
  fs::path model = write_add_relu(dir.path);
  expect_bad_input(run_cli("profile " + (dir.path / "missing.onnx").string() + " --device cpu"), "does not exist");
  expect_bad_input(run_cli("profile " + model.string() + " --device tpu"), "unknown device 'tpu'");
  expect_bad_input(run_cli("profile " + model.string() + " --device cpu --iters 0"), "--iters");
  expect_bad_input(run_cli("profile " + model.string() + " --device cpu --attribution guess"), "--attribution");
  expect_bad_input(run_cli("profile " + model.string() + " --device cpu --json " + (dir.path / "no/such/dir/p.json").string()),
                   "cannot write");
  expect_bad_input(run_cli("device --device tpu"), "unknown device 'tpu'");
}

TEST(Cli, UnknownOpIsUnsupportedWithOpAndOpset) {
  TempDir dir;
  models::Graph g;
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {2}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {2}));
  g.nodes.push_back(node("Frobnicate", {"x"}, {"y"}));
  ASSERT_TRUE(models::save_model(model_of(g, 15), dir.path / "m.onnx").is_ok());
  expect_bad_input(run_cli("run " + (dir.path / "m.onnx").string() + " --device cpu"), "(Frobnicate, opset 15): op Frobnicate is not supported");
}

TEST(Cli, ConformanceReportsPassFailAndSummary) {
  TempDir dir;
  // Two test directories from one model: one with the right expected output, one wrong.
  fs::path model = write_add_relu(dir.path);
  for (const char* name : {"good", "bad"}) {
    fs::create_directories(dir.path / "suite" / name / "test_data_set_0");
    fs::copy_file(model, dir.path / "suite" / name / "model.onnx");
    auto set = dir.path / "suite" / name / "test_data_set_0";
    ASSERT_TRUE(models::save_tensor_file(float_tensor("x", {1, 3}, {1.f, 1.f, 1.f}), set / "input_0.pb").is_ok());
    std::vector<float> y = std::string(name) == "good" ? std::vector<float>{2.f, 0.f, 1.5f} : std::vector<float>{2.f, 0.f, 1.6f};
    ASSERT_TRUE(models::save_tensor_file(float_tensor("y", {1, 3}, y), set / "output_0.pb").is_ok());
  }
  Output o = run_cli("conformance --device cpu " + (dir.path / "suite").string() + " --json " + (dir.path / "r.json").string());
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("PASS         good"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("FAIL         bad: output 'y' (test_data_set_0): max abs error 0.1 at element 2"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("conformance: 1 passed, 1 failed, 0 unsupported\n"), std::string::npos) << o.out;
  std::ifstream report(dir.path / "r.json");
  auto j = nlohmann::json::parse(report);
  EXPECT_EQ(j["passed"], 1);
  EXPECT_EQ(j["failed"], 1);

  // Looser tolerance from the command line makes both pass.
  Output loose = run_cli("conformance --device cpu --atol 0.2 " + (dir.path / "suite").string());
  EXPECT_EQ(loose.exit_code, 0) << loose.out;
  EXPECT_NE(loose.out.find("conformance: 2 passed, 0 failed, 0 unsupported"), std::string::npos);
}

}  // namespace
}  // namespace ak
