// The evaluation -> memory record mapping: the task becomes the workload, the verdict is
// stored by its name and read back as the same enum, the numbers keep their units.
#include "verifier/evaluation_record.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/remove_tree.h"
#include "kernels/autokernel_kernel.h"
#include "memory/store.h"

namespace ak::verifier {
namespace {

kernels::Task softmax_task() {
  kernels::Task t;
  t.name = "01_softmax";
  t.op_type = "Softmax";
  t.attributes_json = R"({"axis":-1})";
  t.axes = {{"batch", true, 4}, {"n64", false, 64}};
  t.inputs = {{"x", AK_DTYPE_FLOAT16, {"batch", "n64"}, {4, 64}, "inputs/0_x.pb", "normal", std::nullopt},
              {"ids", AK_DTYPE_INT64, {"batch"}, {4}, "inputs/1_ids.pb", "int", 10}};
  t.outputs = {{"y", AK_DTYPE_FLOAT16, {"batch", "n64"}, {4, 64}, "outputs/0_y.pb", "normal", std::nullopt}};
  t.source = {"gpt2.onnx", {"sm_0"}, {"Softmax"}, 1};
  t.target = {"cuda", "sm_90a", false};
  return t;
}

TEST(EvaluationRecord, TheTaskIsTheWorkload) {
  const memory::WorkloadSpec w = workload_of(softmax_task());
  EXPECT_EQ(w.op_type, "Softmax");
  EXPECT_EQ(w.attributes_json, R"({"axis":-1})");
  EXPECT_EQ(w.dtypes, (std::vector<std::string>{"float16", "int64"}));
  EXPECT_EQ(w.shape, (memory::Shape{{4, 64}, {4}}));
  EXPECT_EQ(w.arch, "sm_90a");
  EXPECT_EQ(w.source_model, "gpt2.onnx");
  EXPECT_EQ(w.source_nodes, (std::vector<std::string>{"sm_0"}));
  // The same workload the memory computes for its own query.
  auto q = memory::query_for(w);
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  EXPECT_EQ(q->signature, R"(Softmax{"axis":-1}[float16,int64])");
}

TEST(EvaluationRecord, PassedCarriesItsNumbersInNanoseconds) {
  Evaluation e;
  e.verdict = Verdict::kPassed;
  e.message = "9 cases passed";
  e.latency_us = 1.9999;
  e.reference_latency_us = 250.5;
  e.speedup = 125.25;
  e.speedup_ci_low = 120;
  e.speedup_ci_high = 130;
  e.max_abs_error = 1e-4;
  e.max_rel_error = 2e-3;
  e.build.compiler_version = "nvcc 13.0";
  const memory::Record r = evaluation_record(softmax_task(), e, {"int autokernel_kernel", "llm:x", "abc123"}, "NVIDIA H200");
  EXPECT_EQ(r.candidate.source, "int autokernel_kernel");
  EXPECT_EQ(r.candidate.language, "cuda");
  EXPECT_EQ(r.candidate.generator, "llm:x");
  EXPECT_EQ(r.candidate.parent_hash, "abc123");
  EXPECT_EQ(r.evaluation.status, kernels::Verdict::kPassed);
  EXPECT_EQ(r.evaluation.device, "NVIDIA H200");
  EXPECT_EQ(r.evaluation.compiler_version, "nvcc 13.0");
  EXPECT_EQ(r.evaluation.latency_ns, 2000);  // rounded, not truncated to 1999
  EXPECT_EQ(r.evaluation.baseline_latency_ns, 250500);
  EXPECT_EQ(r.evaluation.speedup, 125.25);
  EXPECT_EQ(r.evaluation.speedup_low, 120);
  EXPECT_EQ(r.evaluation.speedup_high, 130);
  EXPECT_EQ(r.evaluation.max_abs_error, 1e-4);
  EXPECT_EQ(r.evaluation.failure_summary, "");  // a pass has no failure
}

TEST(EvaluationRecord, FailuresKeepGateInputAndAShortSummary) {
  Evaluation e;
  e.verdict = Verdict::kCompileError;
  e.gate = "compile";
  e.message = std::string(5000, 'e');
  e.max_abs_error = 3;  // nothing was compared: not recorded
  kernels::Task cpu = softmax_task();
  cpu.target = {"cpu", "cpu", false};
  memory::Record r = evaluation_record(cpu, e, {"src", "human", ""}, "cpu");
  EXPECT_EQ(r.candidate.language, "cpp");
  EXPECT_EQ(r.evaluation.status, kernels::Verdict::kCompileError);
  EXPECT_EQ(r.evaluation.failure_gate, "compile");
  EXPECT_EQ(r.evaluation.failure_summary.size(), 1024u);
  EXPECT_FALSE(r.evaluation.max_abs_error.has_value());
  EXPECT_FALSE(r.evaluation.latency_ns.has_value());

  e.verdict = Verdict::kIncorrectNumerical;
  e.gate = "random";
  e.failure_input = "random seed 1008";
  e.message = "output 'y': 3 of 256 elements differ";
  r = evaluation_record(cpu, e, {"src", "human", ""}, "cpu");
  EXPECT_EQ(r.evaluation.max_abs_error, 3);
  EXPECT_EQ(r.evaluation.failure_input, "random seed 1008");
  EXPECT_EQ(r.evaluation.failure_summary, e.message);
}

// Every verdict goes into a real memory file by name and comes back as the same enum value.
TEST(EvaluationRecord, EveryVerdictRoundTripsThroughTheStore) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ak-evaluation-record-" + std::to_string(::getpid()));
  ak::remove_tree(dir);
  auto store = memory::Store::open(dir / "memory.db");
  ASSERT_TRUE(store.is_ok()) << store.status().message();
  for (int i = 0; i < kernels::kVerdictCount; ++i) {
    Evaluation e;
    e.verdict = static_cast<Verdict>(i);
    e.message = "case " + std::to_string(i);
    auto ids = (*store)->record(evaluation_record(softmax_task(), e, {"src " + std::to_string(i), "human", ""}, "cpu"));
    ASSERT_TRUE(ids.is_ok()) << ids.status().message();
    auto back = (*store)->evaluation(ids->evaluation_id);
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(back->result.status, e.verdict) << verdict_name(e.verdict);
  }
  store->reset();
  ak::remove_tree(dir);
}

}  // namespace
}  // namespace ak::verifier
