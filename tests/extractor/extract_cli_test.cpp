// `autokernel extract` as users run it: the table and JSON, task directories that
// `autokernel run` accepts, exit codes and one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/onnx_io.h"
#include "tests/cli/run_cli.h"
#include "tests/extractor/extract_fixture.h"

namespace ak::extractor {
namespace {

using namespace ak::extractor::testing;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

using Output = ak::testing::CliOutput;
using ak::testing::expect_bad_input;

/// Runs the autokernel binary with `args`; builds go to a private cache under `scratch`.
Output run_cli(const std::string& args, const fs::path& scratch) {
  return ak::testing::run_cli(args, "AUTOKERNEL_CACHE=" + (scratch / "cache").string());
}

fs::path save(const std::shared_ptr<const models::Model>& model, const fs::path& dir) {
  const fs::path path = dir / (model->graph.name + ".onnx");
  EXPECT_TRUE(models::save_model(*model, path).is_ok());
  return path;
}

TEST(ExtractCli, JsonListsTasksWhoseSubgraphsRunWithAutokernelRun) {
  TempDir dir;
  const fs::path model = save(mlp_model(), dir.path);
  const fs::path out = dir.path / "tasks";
  Output o = run_cli("extract " + model.string() + " --top 2 -o " + out.string() +
                         " --device cpu --dim batch=2 --iters 2 --warmup 1 --json --check-starters",
                     dir.path);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  json list = json::parse(o.out);
  ASSERT_EQ(list.size(), 2u);
  int matmuls = 0;
  for (const auto& t : list) {
    EXPECT_TRUE(fs::exists(fs::path(t["dir"].get<std::string>()) / "task.json"));
    EXPECT_TRUE(t["check"].is_object());
    // Both tasks (MatMul + Add + Relu, and the MatMul) get the GEMM-epilogue starter.
    EXPECT_EQ(t["starter"]["template"], "gemm_epilogue");
    EXPECT_TRUE(t["check"]["passed"].get<bool>()) << t["check"]["detail"];
    if (t["op_type"] != "MatMul") continue;
    ++matmuls;
    const fs::path task = t["dir"].get<std::string>();
    Output run = run_cli("run " + (task / "subgraph.onnx").string() + " --device cpu --input r=" +
                             (task / "inputs/0_r.pb").string() + " --input w2=" + (task / "inputs/1_w2.pb").string() +
                             " --iters 1 --warmup 0 --json",
                         dir.path);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    json r = json::parse(run.out);
    EXPECT_EQ(r["outputs"][0]["name"], "y");
    EXPECT_EQ(r["outputs"][0]["shape"], json({2, 8}));
  }
  EXPECT_EQ(matmuls, 1);
}

TEST(ExtractCli, TableOnStdoutOneProgressLinePerTaskOnStderr) {
  TempDir dir;
  const fs::path model = save(softmax_model(), dir.path);
  Output o = run_cli("extract " + model.string() + " -o " + (dir.path / "tasks").string() +
                         " --device cpu --iters 2 --warmup 1",
                     dir.path);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("rank"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("01_softmax_Softmax_y"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("rowwise_softmax"), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("task 01_softmax_Softmax_y: Softmax, starter rowwise_softmax"), std::string::npos) << o.err;
}

TEST(ExtractCli, BadInputGetsOneLineAndExitTwo) {
  TempDir dir;
  const fs::path model = save(softmax_model(), dir.path);
  expect_bad_input(run_cli("extract " + model.string() + " --top 0 -o " + (dir.path / "t").string() + " --device cpu --dim batch=1",
                           dir.path),
                   "--top");
  std::ofstream(dir.path / "file") << "x";
  const fs::path bad = dir.path / "file" / "tasks";
  expect_bad_input(run_cli("extract " + model.string() + " -o " + bad.string() + " --device cpu --dim batch=1", dir.path),
                   bad.string());
  expect_bad_input(run_cli("extract " + (dir.path / "missing.onnx").string() + " -o " + (dir.path / "t").string(),
                           dir.path),
                   "missing.onnx");
  const fs::path broken = save(broken_model(), dir.path);
  expect_bad_input(run_cli("extract " + broken.string() + " -o " + (dir.path / "t").string() + " --device cpu --dim batch=1",
                           dir.path),
                   "MatMul_y");
}

}  // namespace
}  // namespace ak::extractor
