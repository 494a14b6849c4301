// `autokernel conformance` as the zoo, opset-case and GPU-machine checks run it: nothing that
// does not pass (FAIL or UNSUPPORTED) gets exit 0 unless a known-results file lists it.
#include <gtest/gtest.h>

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

/// A test directory: a one-node model `op` over x[3] and one data set (x = 1, y = `y`).
void write_case(const fs::path& dir, const std::string& op, const std::vector<float>& y) {
  models::Graph g;
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {3}));
  g.outputs.push_back(tensor_info("y", models::DType::kFloat32, {3}));
  g.nodes.push_back(node(op, {"x"}, {"y"}));
  fs::create_directories(dir / "test_data_set_0");
  ASSERT_TRUE(models::save_model(model_of(g, 15), dir / "model.onnx").is_ok());
  ASSERT_TRUE(models::save_tensor_file(float_tensor("x", {3}, {1.f, 1.f, 1.f}), dir / "test_data_set_0/input_0.pb").is_ok());
  ASSERT_TRUE(models::save_tensor_file(float_tensor("y", {3}, y), dir / "test_data_set_0/output_0.pb").is_ok());
}

fs::path write_known(const fs::path& dir, const std::string& text) {
  std::ofstream(dir / "known.txt") << text;
  return dir / "known.txt";
}

struct ConformanceCli : ::testing::Test {
  TempDir tmp;
  fs::path suite = tmp.path / "suite";
  void SetUp() override {
    write_case(suite / "test_relu", "Relu", {1.f, 1.f, 1.f});
    write_case(suite / "test_frob", "Frobnicate", {1.f, 1.f, 1.f});
  }
  Output run(const std::string& extra) { return run_cli("conformance --device cpu " + suite.string() + " " + extra); }
};

TEST_F(ConformanceCli, OnlyUnsupportedFailsTheRun) {
  // The case from the field: one unknown-op model, nothing passed, nothing failed.
  Output o = run_cli("conformance --device cpu " + (suite / "test_frob").string());
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("UNSUPPORTED  test_frob: "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("op Frobnicate is not supported"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("conformance: 0 passed, 0 failed, 1 unsupported\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("conformance: not accepted: test_frob UNSUPPORTED\n"), std::string::npos) << o.out;
}

TEST_F(ConformanceCli, UnsupportedAmongPassesFailsTheRun) {
  Output o = run("--json " + (tmp.path / "r.json").string());
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("conformance: 1 passed, 0 failed, 1 unsupported\n"), std::string::npos) << o.out;
  std::ifstream in(tmp.path / "r.json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["unsupported"], 1);
  EXPECT_EQ(j["problems"], nlohmann::json::parse(R"(["test_frob UNSUPPORTED"])"));
}

TEST_F(ConformanceCli, ListedWithReasonPasses) {
  const fs::path known = write_known(tmp.path, "# why each one does not pass\ntest_frob UNSUPPORTED a vendor op we do not implement\n");
  Output o = run("--known " + known.string());
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("[known: a vendor op we do not implement]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("conformance: 1 passed, 0 failed, 1 unsupported (1 known)\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("not accepted"), std::string::npos) << o.out;
  // The suite-qualified name matches too (how onnx_backend_known.txt names tests).
  EXPECT_EQ(run("--known " + write_known(tmp.path, "suite/test_frob UNSUPPORTED vendor op\n").string()).exit_code, 0);
}

TEST_F(ConformanceCli, ListedWithAnotherVerdictFails) {
  Output o = run("--known " + write_known(tmp.path, "test_frob FAIL wrong reference\n").string());
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("not accepted: test_frob UNSUPPORTED (listed as FAIL)"), std::string::npos) << o.out;
}

TEST_F(ConformanceCli, StaleEntryIsReportedAndFails) {
  const fs::path known = write_known(tmp.path, "test_frob UNSUPPORTED vendor op\ntest_relu FAIL was broken once\n");
  Output o = run("--known " + known.string());
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("PASS         test_relu"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[STALE: listed as FAIL in " + known.string() + "; remove the entry]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("not accepted: test_relu passes but is listed as FAIL in " + known.string() +
                       " (stale entry: remove it)"),
            std::string::npos)
      << o.out;
}

TEST_F(ConformanceCli, BadKnownFileIsBadInput) {
  expect_bad_input(run("--known " + (tmp.path / "missing.txt").string()), "missing.txt' does not exist");
  expect_bad_input(run("--known " + write_known(tmp.path, "test_frob UNSUPPORTED\n").string()), "known.txt:1: 'test_frob' has no reason");
  expect_bad_input(run("--known " + write_known(tmp.path, "test_frob SKIP vendor op\n").string()),
                   "known.txt:1: expected 'NAME FAIL|UNSUPPORTED REASON'");
}

// scripts/gpu_check.sh's conformance step, run on the CPU (--device cpu) over fake suites:
// the gate that guards the CUDA backend suites on the GPU machine.
struct GpuCheckGate : ::testing::Test {
  TempDir tmp;
  fs::path data = tmp.path / "data";
  void SetUp() override {
    for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple", "zoo"})
      write_case(data / suite / "test_relu", "Relu", {1.f, 1.f, 1.f});
  }
  Output run(const std::string& known) {
    std::ofstream(tmp.path / "known.txt") << "# suite/test VERDICT REASON\n" << known;
    return testing::run_command("OUT=" + (tmp.path / "out").string() + " AK_BUILD_DIR=" + AK_BINARY_DIR +
                                " AK_ONNX_TESTDATA=" + data.string() + " AK_ZOO=" + (data / "zoo").string() +
                                " AK_KNOWN=" + (tmp.path / "known.txt").string() + " " + AK_SOURCE_DIR +
                                "/scripts/gpu_check.sh --device cpu cuda");
  }
};

TEST_F(GpuCheckGate, AllPassingSuitesPass) {
  Output o = run("");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("simple: conformance: 1 passed, 0 failed, 0 unsupported (0 known)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("gpu_check: all steps passed (cuda)"), std::string::npos) << o.out;
}

TEST_F(GpuCheckGate, InjectedUnsupportedCaseFailsTheStep) {
  write_case(data / "node" / "test_frob", "Frobnicate", {1.f, 1.f, 1.f});
  Output o = run("");
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("node: conformance: 1 passed, 0 failed, 1 unsupported (0 known)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("node: FAILED (exit 1):\nconformance: not accepted: test_frob UNSUPPORTED"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("== step cuda FAILED"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("gpu_check: FAILED steps: cuda"), std::string::npos) << o.out;
  // Listed with its reason, the same case is accepted; the entry names the suite.
  Output listed = run("node/test_frob UNSUPPORTED a vendor op\n");
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_NE(listed.out.find("node: conformance: 1 passed, 0 failed, 1 unsupported (1 known)"), std::string::npos) << listed.out;
}

TEST_F(GpuCheckGate, RegressionInOneSuiteIsNamed) {
  write_case(data / "simple" / "test_relu", "Relu", {1.f, 1.f, 2.f});  // a wrong answer
  Output o = run("");
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("simple: FAILED (exit 1):\nconformance: not accepted: test_relu FAIL"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("node: FAILED"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("gpu_check: FAILED steps: cuda"), std::string::npos) << o.out;
}

TEST_F(GpuCheckGate, StaleEntryAndMissingSuiteFail) {
  Output stale = run("node/test_relu FAIL once broken\n");
  EXPECT_EQ(stale.exit_code, 1) << stale.out;
  EXPECT_NE(stale.out.find("not accepted: test_relu passes but is listed as FAIL"), std::string::npos) << stale.out;
  remove_tree(data / "pytorch-operator");
  Output missing = run("");
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("pytorch-operator: FAILED: no test data at " + (data / "pytorch-operator").string()),
            std::string::npos)
      << missing.out;
  EXPECT_EQ(testing::run_command(std::string(AK_SOURCE_DIR) + "/scripts/gpu_check.sh frobnicate").exit_code, 2);
}

}  // namespace
}  // namespace ak
