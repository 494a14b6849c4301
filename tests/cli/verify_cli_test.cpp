// `autokernel verify` and `autokernel pack` end to end, as users run them: tasks extracted
// from the exporter fixtures' GPT-2 and BERT, packs made of the starters extract writes
// (GELU chain, LayerNorm), a deliberately wrong, a crashing and a hanging kernel, and the
// bad inputs users will feed it. Tests that need swap-in (models/swap.h) skip while the
// session refuses packs.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "base/file.h"
#include "kernels/pack.h"
#include "kernels/task.h"
#include "tests/cli/run_cli.h"

namespace ak::testing {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(AK_SOURCE_DIR) + "/tests/models/fixtures/exporters/torchscript/";
const std::string kGpt2 = kFixtures + "gpt2/model.onnx";
const std::string kBert = kFixtures + "bert/model.onnx";

/// Skips the test when the session cannot swap kernels in yet (the pack branch's swap-in).
#define AK_SKIP_WITHOUT_SWAP_IN(o)                                                  \
  if ((o).err.find("cannot be swapped in yet") != std::string::npos) {              \
    GTEST_SKIP() << "swap-in is not implemented in this build: " << (o).err;        \
  }

class VerifyCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new models::testing::TempDir();
    for (const auto& [model, name] :
         {std::pair{kGpt2, "gpt2"}, std::pair{kBert, "bert"}, std::pair{kFixtures + "gpt2_fp16/model.onnx", "gpt2_fp16"}}) {
      const auto o = run_cli("extract " + model + " -o " + (dir_->path / name).string() + " --top 16 --device cpu");
      ASSERT_EQ(o.exit_code, 0) << o.err;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  /// The best-ranked extracted task of `model` whose folder name contains `what` ("gelu").
  /// Ranks follow measured times, so which task is where varies from run to run.
  static fs::path task(const std::string& model, const std::string& what) {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir_->path / model))
      if (e.path().filename().string().find(what) != std::string::npos) found.push_back(e.path());
    if (!found.empty()) return *std::min_element(found.begin(), found.end());
    std::string listing;
    for (const auto& e : fs::directory_iterator(dir_->path)) listing += e.path().string() + " ";
    ADD_FAILURE() << "no " << what << " task for " << model << " in " << listing;
    return {};
  }

  /// A pack at `name` with one entry per (task, source); the sources are the task's
  /// starter unless given. Made with the pack library, not judged (pack add has its test).
  static fs::path make_pack(const std::string& name, const std::vector<std::pair<fs::path, std::string>>& entries) {
    kernels::Pack pack;
    pack.dir = dir_->path / name;
    for (const auto& [task_dir, source_text] : entries) {
      auto t = kernels::read_task(task_dir);
      EXPECT_TRUE(t.is_ok()) << t.status().message();
      fs::path source = task_dir / "starter.cpp";
      if (!source_text.empty()) {
        source = dir_->path / (name + "_" + task_dir.filename().string() + ".cpp");
        std::ofstream(source) << source_text;
      }
      auto added = kernels::add_pack_entry(&pack, *t, source, {});
      EXPECT_TRUE(added.is_ok()) << added.status().message();
    }
    EXPECT_TRUE(kernels::write_pack(pack.dir, pack).is_ok());
    return pack.dir;
  }

  /// The starter of `task_dir` with `epilogue` run after it inside autokernel_kernel.
  static std::string starter_then(const fs::path& task_dir, const std::string& epilogue) {
    std::string text = *read_file(task_dir / "starter.cpp");
    const std::string name = "extern \"C\" int autokernel_kernel(";
    const auto at = text.find(name);
    EXPECT_NE(at, std::string::npos);
    text.replace(at, name.size(), "static int starter_kernel(");
    return text +
           "\nextern \"C\" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, "
           "void* stream) {\n  const int status = starter_kernel(in, n_in, out, n_out, stream);\n" +
           epilogue + "\n  return status;\n}\n";
  }

  static std::string verify(const std::string& model, const fs::path& pack, const std::string& extra = "") {
    return "verify " + model + " --kernels " + pack.string() + " --device cpu --random 1 --iters 3 --warmup 1 --no-memory " +
           extra;
  }

  static models::testing::TempDir* dir_;
};

/// Bad input found once the work has started (by the worker, at swap-in): exit 2 and one
/// error line naming `needle`, after the progress lines.
void expect_bad_input_after_progress(const CliOutput& o, const std::string& needle) {
  EXPECT_EQ(o.exit_code, 2) << o.err;
  size_t errors = 0;
  for (size_t at = o.err.find("autokernel: error: "); at != std::string::npos; at = o.err.find("autokernel: error: ", at + 1))
    ++errors;
  EXPECT_EQ(errors, 1u) << o.err;
  const auto last = o.err.rfind("autokernel: error: ");
  ASSERT_NE(last, std::string::npos) << o.err;
  EXPECT_EQ(o.err.find('\n', last), o.err.size() - 1) << "the error is not the last line: " << o.err;
  EXPECT_NE(o.err.find(needle, last), std::string::npos) << o.err;
}
models::testing::TempDir* VerifyCli::dir_ = nullptr;

TEST_F(VerifyCli, TemplatePackVerifiesOnGpt2WithSwapCountLatencyAndFallback) {
  const auto pack = make_pack("gpt2_pack", {{task("gpt2", "gelu"), ""}, {task("gpt2", "layernormalization"), ""}});
  const auto o = run_cli(verify(kGpt2, pack));
  AK_SKIP_WITHOUT_SWAP_IN(o);
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("kernels: swapped "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("verdict:    PASSED"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("latency:    original "), std::string::npos) << o.out;
  // The entries were verified for batch 1 only: the batch=2 set runs the original nodes, and says so.
  EXPECT_NE(o.out.find("fallback:   batch=2"), std::string::npos) << o.out;
  // The verdict is recorded in the pack.
  auto read = kernels::read_pack(pack);
  ASSERT_TRUE(read.is_ok());
  ASSERT_EQ(read->verifications.size(), 1u);
  EXPECT_EQ(read->verifications[0].verdict, "PASSED");
  EXPECT_EQ(read->verifications[0].entries.size(), 2u);
}

TEST_F(VerifyCli, TemplatePackVerifiesOnBert) {
  const auto pack = make_pack("bert_pack", {{task("bert", "layernormalization"), ""}});
  const auto o = run_cli(verify(kBert, pack, "--json"));
  AK_SKIP_WITHOUT_SWAP_IN(o);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  const auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["verdict"], "PASSED");
  EXPECT_GT(j["verification"]["swapped_instances"].get<int>(), 0);
  EXPECT_GT(j["verification"]["latency_ms"]["swapped"]["median"].get<double>(), 0);
}

TEST_F(VerifyCli, AWrongKernelIsNamedByBisectionAndPruned) {
  // A small error on the GELU workload only: every element 5e-3 too large.
  const auto gelu = task("gpt2", "gelu");
  const auto wrong = starter_then(
      gelu, "  float* y = static_cast<float*>(out[0].data);\n"
            "  int64_t n = 1;\n  for (int32_t d = 0; d < out[0].rank; ++d) n *= out[0].shape[d];\n"
            "  for (int64_t i = 0; i < n; ++i) y[i] += 5e-3f;");
  const auto pack = make_pack("wrong_pack", {{task("gpt2", "layernormalization"), ""}, {gelu, wrong}});
  const auto pruned = dir_->path / "pruned_pack";
  const auto o = run_cli(verify(kGpt2, pack, "--json --prune -o " + pruned.string()));
  AK_SKIP_WITHOUT_SWAP_IN(o);
  ASSERT_NE(o.out.find('{'), std::string::npos) << o.err;
  const auto j = nlohmann::json::parse(o.out);
  const auto& first = j["verification"];
  EXPECT_EQ(first["verdict"], "INCORRECT_NUMERICAL");
  ASSERT_EQ(first["culprits"].size(), 1u) << first.dump(1);
  const auto& culprit = first["culprits"][0];
  EXPECT_EQ(culprit["entry"].get<std::string>().rfind("gelu", 0), 0u) << culprit.dump();
  EXPECT_FALSE(culprit["nodes"].empty());
  EXPECT_GT(culprit["max_abs_error"].get<double>(), culprit["atol"].get<double>());
  // --prune -o: the new pack without the culprit verifies; the exit code is the final verdict's.
  EXPECT_EQ(j["pruned"]["verdict"], "PASSED") << j["pruned"].dump(1);
  EXPECT_EQ(o.exit_code, 0);
  auto read = kernels::read_pack(pruned);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  ASSERT_EQ(read->entries.size(), 1u);
  EXPECT_EQ(read->entries[0].id.rfind("layernormalization", 0), 0u);
  // The original pack is unchanged but for its failed verification.
  auto original = kernels::read_pack(pack);
  ASSERT_TRUE(original.is_ok());
  EXPECT_EQ(original->entries.size(), 2u);
  ASSERT_EQ(original->verifications.size(), 1u);
  EXPECT_EQ(original->verifications[0].verdict, "INCORRECT_NUMERICAL");
}

TEST_F(VerifyCli, CrashingAndHangingKernelsGetVerdictsNamingThem) {
  const auto gelu = task("gpt2", "gelu"), norm = task("gpt2", "layernormalization");
  const auto crash = starter_then(gelu, "  *static_cast<volatile int*>(nullptr) = 1;");
  const auto hang = starter_then(norm, "  for (volatile int spin = 0;; spin = spin + 1) {\n  }");
  const auto pack = make_pack("bad_pack", {{gelu, crash}, {norm, hang}});
  const auto o = run_cli(verify(kGpt2, pack, "--json --timeout 10"));
  AK_SKIP_WITHOUT_SWAP_IN(o);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  const auto j = nlohmann::json::parse(o.out);
  std::map<std::string, std::string> verdicts;
  for (const auto& c : j["verification"]["culprits"]) verdicts[c["entry"].get<std::string>().substr(0, 4)] = c["verdict"];
  EXPECT_EQ(verdicts["gelu"], "RUNTIME_ERROR") << j.dump(1);
  EXPECT_EQ(verdicts["laye"], "TIMEOUT") << j.dump(1);
}

TEST_F(VerifyCli, BadInputIsOneLineAndExitTwo) {
  const auto pack = make_pack("good_pack", {{task("gpt2", "layernormalization"), ""}});
  // Malformed pack.json.
  const auto malformed = dir_->path / "malformed";
  fs::create_directories(malformed);
  std::ofstream(malformed / "pack.json") << "{\"schema\": \"autokernel.pack/1\", \"entries\": [";
  expect_bad_input(run_cli(verify(kGpt2, malformed)), "pack.json");
  // A missing source.
  const auto missing = make_pack("missing_source", {{task("gpt2", "layernormalization"), ""}});
  for (const auto& e : fs::directory_iterator(missing / "entries")) fs::remove(e.path() / "kernel.cpp");
  expect_bad_input(run_cli(verify(kGpt2, missing)), "kernel.cpp");
  // A pack for another architecture (a CUDA entry on the CPU).
  const auto cuda = make_pack("cuda_pack", {{task("gpt2", "layernormalization"), ""}});
  {
    auto j = nlohmann::json::parse(*read_file(cuda / "pack.json"));
    j["entries"][0]["device"] = "cuda";
    j["entries"][0]["arch"] = "sm_90a";
    std::ofstream(cuda / "pack.json") << j.dump(1);
  }
  const auto other_arch = run_cli(verify(kGpt2, cuda));
  EXPECT_EQ(other_arch.exit_code, 2) << other_arch.err;
  EXPECT_NE(other_arch.err.find("cuda"), std::string::npos) << other_arch.err;
  // A missing model, a missing pack, -o without --prune.
  expect_bad_input(run_cli(verify(dir_->path.string() + "/none.onnx", pack)), "none.onnx");
  expect_bad_input(run_cli(verify(kGpt2, dir_->path / "no_pack")), "no_pack");
  expect_bad_input(run_cli(verify(kGpt2, pack, "-o " + (dir_->path / "x").string())), "--prune");
}

// --cuda-graph on the CPU: a notice and an off `cuda_graph` section; with --no-cuda-graph
// it is bad input. (The graph-vs-eager check itself runs on a GPU: profile_gpu_test.)
TEST_F(VerifyCli, CudaGraphFlagsOnTheCpu) {
  const auto pack = make_pack("graph_pack", {{task("gpt2", "layernormalization"), ""}});
  expect_bad_input(run_cli(verify(kGpt2, pack, "--cuda-graph --no-cuda-graph")), "excludes");
  const auto o = run_cli(verify(kGpt2, pack, "--cuda-graph --json --no-latency --no-vary-dims"));
  AK_SKIP_WITHOUT_SWAP_IN(o);
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  const auto j = nlohmann::json::parse(o.out);
  const auto& g = j["cuda_graph"];
  EXPECT_EQ(g["enabled"], false) << g.dump();
  EXPECT_EQ(g["ignored"], "cuda graphs are for CUDA devices; ignored on cpu");
  EXPECT_EQ(g["original"]["enabled"], false);
  EXPECT_EQ(g["sets_replayed"], 0);
  EXPECT_TRUE(g["outputs"].empty());
  EXPECT_EQ(g["swapped"]["enabled"], false);
  EXPECT_EQ(g["swapped"]["replays"], 0);
  const auto notices = j["notices"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(notices.begin(), notices.end(), "--cuda-graph: cuda graphs are for CUDA devices; ignored on cpu"),
            notices.end())
      << j["notices"].dump();
  // Text, without the flag: off, and why.
  const auto text = run_cli(verify(kGpt2, pack, "--no-latency --no-vary-dims"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("cuda graph: off (not on CUDA)"), std::string::npos) << text.out;
  const auto off = run_cli(verify(kGpt2, pack, "--no-cuda-graph --json --no-latency --no-vary-dims"));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(nlohmann::json::parse(off.out)["cuda_graph"]["ignored"], "--no-cuda-graph");
}

TEST_F(VerifyCli, BadKernelsAreBadInputAtSwapIn) {
  // A kernel without the ABI symbol.
  const auto norm = task("gpt2", "layernormalization");
  std::string text = *read_file(norm / "starter.cpp");
  const auto at = text.find("extern \"C\" int autokernel_kernel(");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("extern \"C\" int autokernel_kernel(").size(), "extern \"C\" int some_other_name(");
  const auto no_symbol = make_pack("no_symbol", {{norm, text}});
  const auto o = run_cli(verify(kGpt2, no_symbol));
  AK_SKIP_WITHOUT_SWAP_IN(o);
  expect_bad_input_after_progress(o, "autokernel_kernel");
  // A pack whose workload matches nothing in the model: float16 GPT-2's GELU on the float32 one.
  const auto fp16 = make_pack("fp16_pack", {{task("gpt2_fp16", "gelu"), ""}});
  expect_bad_input_after_progress(run_cli(verify(kGpt2, fp16)), "matches anything");
}

TEST_F(VerifyCli, PackAddJudgesOnceRefusesAFailureAndListShowsTheEntries) {
  const auto gelu = task("gpt2", "gelu");
  const auto pack = dir_->path / "added_pack";
  const std::string memory = "--memory " + (dir_->path / "memory.db").string();
  const auto first = run_cli("pack add " + pack.string() + " " + gelu.string() + " " + (gelu / "starter.cpp").string() +
                             " --quick --threads 2 --min-speedup 0 " + memory);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("judged now: PASSED (E1)"), std::string::npos) << first.out;
  // The same source on the same workload again: the memory's PASSED evaluation is the evidence.
  const auto again = run_cli("pack add " + pack.string() + " " + gelu.string() + " " + (gelu / "starter.cpp").string() +
                             " --json --min-speedup 0 " + memory);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto j = nlohmann::json::parse(again.out);
  EXPECT_EQ(j["how"], "memory holds a PASSED evaluation (E1)");
  EXPECT_EQ(j["evaluations"], nlohmann::json::array({1}));
  EXPECT_GT(j["speedup"].get<double>(), 0);
  // A PASSED candidate slower than asked is refused, and the pack keeps what it had.
  const auto slow = run_cli("pack add " + pack.string() + " " + gelu.string() + " " + (gelu / "starter.cpp").string() +
                            " --min-speedup 1000 " + memory);
  EXPECT_EQ(slow.exit_code, 1);
  EXPECT_NE(slow.err.find("below --min-speedup 1e+03"), std::string::npos) << slow.err;
  // A candidate that does not compile is refused with its verdict.
  const auto bad = dir_->path / "bad.cpp";
  std::ofstream(bad) << "this is not C++\n";
  const auto refused = run_cli("pack add " + pack.string() + " " + gelu.string() + " " + bad.string() + " --quick " + memory);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("COMPILE_ERROR"), std::string::npos) << refused.err;
  // list: one entry (the second add replaced the first: same source, same workload).
  const auto list = run_cli("pack list " + pack.string());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("fused:gelu"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("batch=1..1"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("1 entries"), std::string::npos) << list.out;
  const auto listed = nlohmann::json::parse(run_cli("pack list " + pack.string() + " --json").out);
  ASSERT_EQ(listed["entries"].size(), 1u);
  EXPECT_EQ(listed["entries"][0]["language"], "cpp");
  EXPECT_EQ(listed["entries"][0]["last_verification"], "never");
  // pack MODEL --from-memory: the memory now holds the PASSED GELU starter.
  const auto out = dir_->path / "from_memory";
  const auto from = run_cli("pack " + kGpt2 + " --from-memory -o " + out.string() + " --device cpu --top 3 " + memory);
  ASSERT_EQ(from.exit_code, 0) << from.out << from.err;
  auto read = kernels::read_pack(out);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  ASSERT_EQ(read->entries.size(), 1u);
  EXPECT_EQ(read->entries[0].evidence.evaluation_ids, std::vector<int64_t>{1});
  EXPECT_EQ(read->entries[0].workload, listed["entries"][0]["workload"]);
  // Bad input.
  expect_bad_input(run_cli("pack list " + (dir_->path / "nothing").string()), "nothing");
  expect_bad_input(run_cli("pack add " + pack.string() + " " + (dir_->path / "no_task").string() + " " + bad.string()),
                   "no_task");
  expect_bad_input(run_cli("pack " + kGpt2 + " -o " + out.string()), "--from-memory");
  expect_bad_input(run_cli("pack " + kGpt2 + " --from-memory -o " + out.string() + " " + memory), "already holds");
}

}  // namespace
}  // namespace ak::testing
