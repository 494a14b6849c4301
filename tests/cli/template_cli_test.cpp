// `autokernel template` as users run it: the starter extract chose, made again with chosen
// parameter values (checked in its header and by `autokernel bench`), the template's
// parameter list, and the bad inputs users will feed it.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "models/onnx_io.h"
#include "tests/cli/run_cli.h"
#include "tests/extractor/extract_fixture.h"

namespace ak::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const std::string kGpt2 = std::string(AK_SOURCE_DIR) + "/tests/models/fixtures/exporters/torchscript/gpt2/model.onnx";

/// y = ArgMax(x, axis 2), x: [batch, 16, 24]: a task no template covers (a skeleton).
std::shared_ptr<const models::Model> argmax_model() {
  using namespace models::testing;
  models::Graph g;
  g.name = "argmax";
  g.inputs.push_back(tensor_info("x", models::DType::kFloat32, {1, 16, 24}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", models::DType::kInt64, {1, 16, 1}, {"batch", "", ""}));
  g.nodes.push_back(node("ArgMax", {"x"}, {"y"}, {int_attr("axis", 2)}));
  return extractor::testing::shared(std::move(g));
}

class TemplateCli : public ::testing::Test {
 protected:
  /// Extracts the small models (and the GPT-2 fixture) once for every test.
  static void SetUpTestSuite() {
    dir_ = new models::testing::TempDir();
    for (const auto& model : {extractor::testing::softmax_model(), extractor::testing::mlp_model(),
                              extractor::testing::chain_model(), argmax_model()}) {
      const fs::path path = dir_->path / (model->graph.name + ".onnx");
      ASSERT_TRUE(models::save_model(*model, path).is_ok());
      extract(path.string(), model->graph.name, 2);
    }
    extract(kGpt2, "gpt2", 12);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static void extract(const std::string& model, const std::string& name, int top) {
    const CliOutput o = cli("extract " + model + " -o " + (dir_->path / name).string() + " --top " + std::to_string(top) +
                            " --device cpu --dim batch=1 --iters 2 --warmup 1");
    ASSERT_EQ(o.exit_code, 0) << o.err;
  }

  /// autokernel with builds in a private cache.
  static CliOutput cli(const std::string& args) {
    return run_cli(args, "AUTOKERNEL_CACHE=" + (dir_->path / "cache").string());
  }

  /// Every task folder extracted from `model`.
  static std::vector<fs::path> tasks(const std::string& model) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_->path / model))
      if (fs::exists(e.path() / "task.json")) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  /// The first task of `model` whose starter is `template_name`.
  static fs::path task_with(const std::string& model, const std::string& template_name) {
    for (const fs::path& t : tasks(model))
      if (starter_of(t) == template_name) return t;
    ADD_FAILURE() << "no " << template_name << " task from " << model;
    return dir_->path / "missing";
  }

  static std::string starter_of(const fs::path& task) {
    auto text = read_file(task / "task.json");
    return text.is_ok() ? json::parse(*text)["starter"]["template"].get<std::string>() : "";
  }

  static std::string text_of(const fs::path& file) {
    auto text = read_file(file);
    EXPECT_TRUE(text.is_ok()) << file;
    return text.is_ok() ? *text : "";
  }

  /// Judges `candidate` on `task`; returns bench's JSON.
  static json bench(const fs::path& task, const fs::path& candidate, bool quick) {
    const CliOutput o = cli("bench " + task.string() + " " + candidate.string() + " --json --no-memory" +
                            (quick ? " --quick" : ""));
    EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
    return o.out.empty() ? json() : json::parse(o.out);
  }

  static models::testing::TempDir* dir_;
};

models::testing::TempDir* TemplateCli::dir_ = nullptr;

TEST_F(TemplateCli, WithoutSetItWritesExactlyTheStarterExtractWrote) {
  int templates = 0;
  std::set<std::string> kinds;
  for (const char* model : {"softmax", "mlp", "chain", "gpt2"}) {
    for (const fs::path& task : tasks(model)) {
      if (starter_of(task) == "skeleton") continue;
      ++templates;
      kinds.insert(starter_of(task));
      const CliOutput o = cli("template " + task.string());
      ASSERT_EQ(o.exit_code, 0) << o.err;
      EXPECT_EQ(o.out, text_of(task / "starter.cpp")) << task;
    }
  }
  // The chain task keeps a Constant node in its subgraph; GPT-2 adds attention, layer norm
  // and GELU chains: each is rebuilt from the task folder as extract saw it.
  EXPECT_GE(templates, 8);
  EXPECT_TRUE(kinds.count("rowwise_softmax") && kinds.count("gemm_epilogue") && kinds.count("elementwise_chain"))
      << templates;
}

TEST_F(TemplateCli, ChosenValuesAreInTheHeaderAndTheStarterPassesBench) {
  const fs::path softmax = task_with("softmax", "rowwise_softmax");
  const fs::path out = dir_->path / "softmax_tuned.cpp";
  CliOutput o = cli("template " + softmax.string() + " --set unroll=4 --set rows_per_chunk=16 --set accumulate_double=0 -o " +
                    out.string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("rows_per_chunk=16 accumulate_double=0 unroll=4"), std::string::npos) << o.out;
  const std::string source = text_of(out);
  EXPECT_NE(source.find("// Configuration (template parameters, see the constants below): rows_per_chunk=16 "
                        "accumulate_double=0 unroll=4\n"),
            std::string::npos)
      << source.substr(0, 1500);
  EXPECT_NE(source.find("constexpr int kUnroll = 4;"), std::string::npos);
  EXPECT_NE(source, text_of(softmax / "starter.cpp"));
  json j = bench(softmax, out, false);
  EXPECT_EQ(j["status"], "PASSED") << j.dump();

  // A product, and a chain with a Constant node, through the JSON form. (The chain, 128
  // elements, is not benched: on a loaded 2-core VM the judge's round-trip check has
  // flagged such tiny honest kernels as CHEAT_SUSPECTED.)
  const fs::path gemm = task_with("mlp", "gemm_epilogue");
  const fs::path gemm_out = dir_->path / "gemm_tuned.cpp";
  o = cli("template " + gemm.string() + " --set row_block=8 --set col_block=32 --set depth_block=64 --json -o " +
          gemm_out.string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  j = json::parse(o.out);
  EXPECT_EQ(j["template"], "gemm_epilogue");
  EXPECT_EQ(j["parameters_of"], "gemm_epilogue");
  EXPECT_EQ(j["configuration"], json({{"row_block", 8}, {"col_block", 32}, {"depth_block", 64}}));
  EXPECT_EQ(j["file"], gemm_out.string());
  EXPECT_NE(text_of(gemm_out).find("row_block=8 col_block=32 depth_block=64"), std::string::npos);
  EXPECT_EQ(bench(gemm, gemm_out, true)["status"], "PASSED");

  const fs::path chain = task_with("chain", "elementwise_chain");
  o = cli("template " + chain.string() + " --set min_parallel_elements=4096 --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  j = json::parse(o.out);
  EXPECT_EQ(j["configuration"], json({{"min_parallel_elements", 4096}}));
  EXPECT_NE(j["source"].get<std::string>().find("min_parallel_elements=4096"), std::string::npos);
  EXPECT_NE(j["source"].get<std::string>().find("constexpr int kMinParallelElements = 4096;"), std::string::npos);
}

TEST_F(TemplateCli, ListPrintsTheTemplatesParameters) {
  const fs::path softmax = task_with("softmax", "rowwise_softmax");
  CliOutput o = cli("template " + softmax.string() + " --list --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json j = json::parse(o.out);
  EXPECT_EQ(j["template"], "rowwise_softmax");
  EXPECT_EQ(j["parameters_of"], "rowwise");
  EXPECT_EQ(j["target"], "cpu");
  // docs/kernels.md "Tunable parameters": the row-wise CPU template's three.
  ASSERT_EQ(j["parameters"].size(), 3u) << j.dump();
  EXPECT_EQ(j["parameters"][0]["name"], "rows_per_chunk");
  EXPECT_EQ(j["parameters"][0]["values"], json({0, 1, 4, 16, 64}));
  EXPECT_EQ(j["parameters"][0]["default"], 0);
  EXPECT_EQ(j["parameters"][1]["name"], "accumulate_double");
  EXPECT_EQ(j["parameters"][1]["default"], 1);
  EXPECT_EQ(j["parameters"][2]["name"], "unroll");
  EXPECT_EQ(j["parameters"][2]["values"], json({1, 2, 4, 8}));
  EXPECT_FALSE(j["parameters"][2]["doc"].get<std::string>().empty());

  o = cli("template " + task_with("mlp", "gemm_epilogue").string() + " --list");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("gemm_epilogue template"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("depth_block"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("8,16,32,64,128"), std::string::npos) << o.out;
}

TEST_F(TemplateCli, BadInputGetsOneLineAndExitTwo) {
  const std::string softmax = task_with("softmax", "rowwise_softmax").string();
  expect_bad_input(cli("template " + softmax + " --set nope=1"), "unknown parameter 'nope'");
  expect_bad_input(cli("template " + softmax + " --set unroll=3"), "'unroll' = 3 is not one of 1, 2, 4, 8");
  expect_bad_input(cli("template " + softmax + " --set unroll"), "--set 'unroll': expected NAME=VALUE");
  expect_bad_input(cli("template " + softmax + " --set unroll=four"), "--set 'unroll=four'");
  expect_bad_input(cli("template " + softmax + " --set unroll=2x"), "--set 'unroll=2x'");
  expect_bad_input(cli("template " + softmax + " --set unroll=2 --set unroll=4"), "'unroll' is given twice");
  expect_bad_input(cli("template " + softmax + " -o " + (dir_->path / "x.cu").string()), "is a .cpp file");
  expect_bad_input(cli("template " + softmax + " --list --set unroll=2"), "--list");
  expect_bad_input(cli("template " + (dir_->path / "no_such_task").string()), "no_such_task");
  expect_bad_input(cli("template"), "task");

  const fs::path skeleton = task_with("argmax", "skeleton");
  expect_bad_input(cli("template " + skeleton.string() + " --list"), "no template starter (a skeleton: ");

  // A task.json whose starter is not what this build chooses (e.g. from another version).
  const fs::path changed = dir_->path / "changed";
  fs::copy(softmax, changed, fs::copy_options::recursive);
  json task = json::parse(text_of(changed / "task.json"));
  task["starter"]["template"] = "rowwise_log_softmax";
  std::ofstream(changed / "task.json") << task.dump(2);
  expect_bad_input(cli("template " + changed.string()), "task.json says rowwise_log_softmax");
}

}  // namespace
}  // namespace ak::testing
