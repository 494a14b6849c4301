// `autokernel verify` and `autokernel pack` end to end, as users run them: tasks extracted
// from the exporter fixtures' GPT-2 and BERT, packs made of the starters extract writes
// (GELU chain, residual Add + LayerNorm), a deliberately wrong, a crashing and a hanging kernel, and the
// bad inputs users will feed it. Tests that need swap-in (models/swap.h) skip while the
// session refuses packs.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "base/file.h"
#include "kernels/pack.h"
#include "tests/cli/verify_fixture.h"

namespace ak::testing {
namespace {

/// Skips the test when the session cannot swap kernels in yet (the pack branch's swap-in).
#define AK_SKIP_WITHOUT_SWAP_IN(o)                                                  \
  if ((o).err.find("cannot be swapped in yet") != std::string::npos) {              \
    GTEST_SKIP() << "swap-in is not implemented in this build: " << (o).err;        \
  }

class VerifyCli : public VerifyFixture<false> {
 protected:
  static void SetUpTestSuite() {
    extract_all({{kGpt2, "gpt2"}, {kBert, "bert"}, {kExporterFixtures + "gpt2_fp16/model.onnx", "gpt2_fp16"}});
  }
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

TEST_F(VerifyCli, TemplatePackVerifiesOnGpt2WithSwapCountLatencyAndFallback) {
  const auto pack = make_pack("gpt2_pack", {{task("gpt2", "gelu"), ""}, {task("gpt2", "residual_layer_norm_blocks"), ""}});
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
  const auto pack = make_pack("bert_pack", {{task("bert", "residual_layer_norm"), ""}});
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
  const auto pack = make_pack("wrong_pack", {{task("gpt2", "residual_layer_norm_blocks"), ""}, {gelu, wrong}});
  const auto pruned = dir() / "pruned_pack";
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
  EXPECT_EQ(read->entries[0].id.rfind("residual_layer_norm", 0), 0u);
  // The original pack is unchanged but for its failed verification.
  auto original = kernels::read_pack(pack);
  ASSERT_TRUE(original.is_ok());
  EXPECT_EQ(original->entries.size(), 2u);
  ASSERT_EQ(original->verifications.size(), 1u);
  EXPECT_EQ(original->verifications[0].verdict, "INCORRECT_NUMERICAL");
}

TEST_F(VerifyCli, CrashingAndHangingKernelsGetVerdictsNamingThem) {
  const auto gelu = task("gpt2", "gelu"), norm = task("gpt2", "residual_layer_norm_blocks");
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
  EXPECT_EQ(verdicts["resi"], "TIMEOUT") << j.dump(1);
}

TEST_F(VerifyCli, BadInputIsOneLineAndExitTwo) {
  const auto pack = make_pack("good_pack", {{task("gpt2", "residual_layer_norm_blocks"), ""}});
  // Malformed pack.json.
  const auto malformed = dir() / "malformed";
  fs::create_directories(malformed);
  std::ofstream(malformed / "pack.json") << "{\"schema\": \"autokernel.pack/1\", \"entries\": [";
  expect_bad_input(run_cli(verify(kGpt2, malformed)), "pack.json");
  // A missing source.
  const auto missing = make_pack("missing_source", {{task("gpt2", "residual_layer_norm_blocks"), ""}});
  for (const auto& e : fs::directory_iterator(missing / "entries")) fs::remove(e.path() / "kernel.cpp");
  expect_bad_input(run_cli(verify(kGpt2, missing)), "kernel.cpp");
  // A pack for another architecture (a CUDA entry on the CPU).
  const auto cuda = make_pack("cuda_pack", {{task("gpt2", "residual_layer_norm_blocks"), ""}});
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
  expect_bad_input(run_cli(verify(dir().string() + "/none.onnx", pack)), "none.onnx");
  expect_bad_input(run_cli(verify(kGpt2, dir() / "no_pack")), "no_pack");
  expect_bad_input(run_cli(verify(kGpt2, pack, "-o " + (dir() / "x").string())), "--prune");
}

// --cuda-graph on the CPU: a notice and an off `cuda_graph` section; with --no-cuda-graph
// it is bad input. (The graph-vs-eager check itself runs on a GPU: profile_gpu_test.)
TEST_F(VerifyCli, CudaGraphFlagsOnTheCpu) {
  const auto pack = make_pack("graph_pack", {{task("gpt2", "residual_layer_norm_blocks"), ""}});
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
  const auto norm = task("gpt2", "residual_layer_norm_blocks");
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
  const auto pack = dir() / "added_pack";
  const std::string memory = "--memory " + (dir() / "memory.db").string();
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
  // The memory keeps no sizes: the entry keeps the range the first add's judge verified.
  EXPECT_EQ(j["ranges"], nlohmann::json({{"batch", {1, 7}}})) << j.dump();
  // A PASSED candidate slower than asked is refused, and the pack keeps what it had.
  const auto slow = run_cli("pack add " + pack.string() + " " + gelu.string() + " " + (gelu / "starter.cpp").string() +
                            " --min-speedup 1000 " + memory);
  EXPECT_EQ(slow.exit_code, 1);
  EXPECT_NE(slow.err.find("below --min-speedup 1e+03"), std::string::npos) << slow.err;
  // A candidate that does not compile is refused with its verdict.
  const auto bad = dir() / "bad.cpp";
  std::ofstream(bad) << "this is not C++\n";
  const auto refused = run_cli("pack add " + pack.string() + " " + gelu.string() + " " + bad.string() + " --quick " + memory);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("COMPILE_ERROR"), std::string::npos) << refused.err;
  // list: one entry (the second add replaced the first: same source, same workload).
  const auto list = run_cli("pack list " + pack.string());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("fused:gelu"), std::string::npos) << list.out;
  // Captured at batch 1, judged --quick: the sweep ran batch 2 and 7 and passed; the range is their hull.
  EXPECT_NE(list.out.find("batch=1..7"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("1 entries"), std::string::npos) << list.out;
  const auto listed = nlohmann::json::parse(run_cli("pack list " + pack.string() + " --json").out);
  ASSERT_EQ(listed["entries"].size(), 1u);
  EXPECT_EQ(listed["entries"][0]["language"], "cpp");
  EXPECT_EQ(listed["entries"][0]["last_verification"], "never");
  // run --kernels: a batch inside the range the judge verified swaps, one outside falls back and says why.
  const std::string run = "run " + kGpt2 + " --device cpu --iters 1 --warmup 0 --json --kernels " + pack.string();
  const auto inside = run_cli(run + " --dim batch=4");
  ASSERT_EQ(inside.exit_code, 0) << inside.err;
  const auto in = nlohmann::json::parse(inside.out)["kernels"];
  EXPECT_GT(in["swapped"].get<int>(), 0) << in.dump(1);
  EXPECT_EQ(in["fallbacks"], 0) << in.dump(1);
  for (const auto& i : in["instances"]) EXPECT_GT(i["kernel_calls"].get<int>(), 0) << i.dump();
  const auto outside = run_cli(run + " --dim batch=500");
  ASSERT_EQ(outside.exit_code, 0) << outside.err;
  const auto out_of_range = nlohmann::json::parse(outside.out)["kernels"];
  EXPECT_GT(out_of_range["fallbacks"].get<int>(), 0) << out_of_range.dump(1);
  for (const auto& i : out_of_range["instances"]) {
    EXPECT_EQ(i["kernel_calls"], 0) << i.dump();
    EXPECT_EQ(i["last_fallback_reason"], "axis batch = 500 is outside the verified 1..7") << i.dump();
  }
  const auto text = run_cli("run " + kGpt2 + " --device cpu --iters 1 --warmup 0 --kernels " + pack.string() + " --dim batch=500");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("fell back to the original nodes: axis batch = 500 is outside the verified 1..7\n"),
            std::string::npos)
      << text.out;
  // pack MODEL --from-memory: the memory now holds the PASSED GELU starter.
  const auto out = dir() / "from_memory";
  const auto from = run_cli("pack " + kGpt2 + " --from-memory -o " + out.string() + " --device cpu --top 10 " + memory);
  ASSERT_EQ(from.exit_code, 0) << from.out << from.err;
  auto read = kernels::read_pack(out);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  ASSERT_EQ(read->entries.size(), 1u);
  EXPECT_EQ(read->entries[0].evidence.evaluation_ids, std::vector<int64_t>{1});
  EXPECT_EQ(read->entries[0].ranges, (std::vector<kernels::AxisRange>{{"batch", 1, 1}}));  // no sizes in the memory
  EXPECT_EQ(read->entries[0].workload, listed["entries"][0]["workload"]);
  // Bad input.
  expect_bad_input(run_cli("pack list " + (dir() / "nothing").string()), "nothing");
  expect_bad_input(run_cli("pack add " + pack.string() + " " + (dir() / "no_task").string() + " " + bad.string()),
                   "no_task");
  expect_bad_input(run_cli("pack " + kGpt2 + " -o " + out.string()), "--from-memory");
  expect_bad_input(run_cli("pack " + kGpt2 + " --from-memory -o " + out.string() + " " + memory), "already holds");
}

}  // namespace
}  // namespace ak::testing
