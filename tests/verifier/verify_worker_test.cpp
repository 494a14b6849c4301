// The swapped side's worker process (verifier/verify_worker.cpp) for real: `autokernel
// verify-worker` started with limits, its outputs read back and compared with the original
// model run here. Without a pack the worker runs the model as loaded, so its outputs must
// match; the limits turn into TIMEOUT and RUNTIME_ERROR verdicts, never into a failed tool.
#include <gtest/gtest.h>

#include "models/onnx_io.h"
#include "models/session.h"
#include "verifier/verify_model.h"

namespace ak::verifier {
namespace {

const std::string kGpt2 = std::string(AK_SOURCE_DIR) + "/tests/models/fixtures/exporters/torchscript/gpt2/model.onnx";

struct Fixture {
  std::vector<InputSet> sets;
  std::vector<std::string> names;
  std::vector<std::vector<models::TensorData>> expected;
};

Fixture original_outputs() {
  Fixture f;
  auto model = models::load_model(kGpt2);
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  InputSetOptions options;
  options.random_sets = 1;
  auto sets = make_input_sets(*model, kGpt2, options);
  EXPECT_TRUE(sets.is_ok()) << sets.status().message();
  auto shared = std::make_shared<const models::Model>(std::move(model).value());
  auto session = models::Session::create(shared, {});
  EXPECT_TRUE(session.is_ok()) << session.status().message();
  for (auto& set : *sets) {
    auto out = (*session)->run(set.tensors);
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    f.names.push_back(set.name);
    f.expected.push_back(std::move(out).value());
    f.sets.push_back(std::move(set));
  }
  return f;
}

WorkerRunnerOptions worker_options() {
  WorkerRunnerOptions o;
  o.worker_program = AK_CLI_PATH;
  o.model = kGpt2;
  o.timeout_s = 60;
  o.warmup = 1;
  o.iterations = 4;
  return o;
}

TEST(VerifyWorker, WithoutAPackTheWorkerReproducesTheModelAndTimesBothSides) {
  const Fixture f = original_outputs();
  ASSERT_GE(f.sets.size(), 3u);  // captured, random, batch=2
  auto runner = make_worker_runner(worker_options(), f.sets);
  ASSERT_TRUE(runner.is_ok()) << runner.status().message();
  auto run = (*runner)({}, true);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  EXPECT_EQ(run->verdict, Verdict::kPassed) << run->message;
  ASSERT_EQ(run->outputs.size(), f.sets.size());
  const RunVerdict judged = judge_run(*run, f.names, f.expected, std::nullopt);
  EXPECT_EQ(judged.verdict, Verdict::kPassed) << judged.message;
  EXPECT_EQ(judged.checks.size(), f.sets.size() * f.expected[0].size());
  EXPECT_EQ(run->original_ns.size(), 4u);
  EXPECT_EQ(run->swapped_ns.size(), 4u);
  for (int64_t ns : run->swapped_ns) EXPECT_GT(ns, 0);
  // The whole flow over the real worker: PASSED with a latency.
  auto report = verify_swapped(f.names, f.expected, {}, *runner, {});
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->verdict, Verdict::kPassed);
  ASSERT_TRUE(report->latency.has_value());
  EXPECT_GT(report->latency->speedup.speedup, 0);
}

// On the CPU graphs are ignored: the check says so and compares nothing, a run "as
// deployed" is one eager run, and a worker asked for graphs runs eagerly.
TEST(VerifyWorker, CudaGraphsAreIgnoredOnTheCpu) {
  const Fixture f = original_outputs();
  auto model = models::load_model(kGpt2);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto session = models::Session::create(std::make_shared<const models::Model>(std::move(model).value()), {});
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  auto check = check_cuda_graph(**session, f.sets, f.expected);
  ASSERT_TRUE(check.is_ok()) << check.status().message();
  EXPECT_EQ(check->ignored, "cuda graphs are for CUDA devices; ignored on cpu");
  EXPECT_FALSE(check->original.enabled);
  EXPECT_EQ(check->sets_replayed, 0);
  EXPECT_TRUE(check->outputs.empty());
  EXPECT_FALSE((*session)->cuda_graph_state().enabled);
  bool replayed = true;
  auto outputs = run_as_deployed(**session, f.sets[0].tensors, &replayed);
  ASSERT_TRUE(outputs.is_ok()) << outputs.status().message();
  EXPECT_FALSE(replayed);
  ASSERT_EQ(outputs->size(), f.expected[0].size());
  for (size_t k = 0; k < outputs->size(); ++k) EXPECT_EQ(differing_elements(f.expected[0][k], (*outputs)[k]), 0);

  WorkerRunnerOptions options = worker_options();
  options.cuda_graph = true;
  auto runner = make_worker_runner(options, f.sets);
  ASSERT_TRUE(runner.is_ok()) << runner.status().message();
  auto run = (*runner)({}, false);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  EXPECT_EQ(run->verdict, Verdict::kPassed) << run->message;
  EXPECT_FALSE(run->graph.enabled);
  EXPECT_EQ(run->graph.replays, 0);
  EXPECT_EQ(judge_run(*run, f.names, f.expected, std::nullopt).verdict, Verdict::kPassed);
}

TEST(VerifyWorker, AWorkerPastItsTimeLimitIsATimeout) {
  const Fixture f = original_outputs();
  WorkerRunnerOptions o = worker_options();
  o.timeout_s = 0.05;  // less than loading libtorch takes
  auto runner = make_worker_runner(o, f.sets);
  ASSERT_TRUE(runner.is_ok());
  auto run = (*runner)({}, false);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  EXPECT_EQ(run->verdict, Verdict::kTimeout);
  EXPECT_NE(run->message.find("timed out"), std::string::npos) << run->message;
  EXPECT_EQ(judge_run(*run, f.names, f.expected, std::nullopt).verdict, Verdict::kTimeout);
}

TEST(VerifyWorker, AWorkerOverItsMemoryLimitIsARuntimeError) {
  const Fixture f = original_outputs();
  WorkerRunnerOptions o = worker_options();
  o.memory_limit_bytes = 20u << 20;  // libtorch alone needs more
  auto runner = make_worker_runner(o, f.sets);
  ASSERT_TRUE(runner.is_ok());
  auto run = (*runner)({}, false);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  EXPECT_EQ(run->verdict, Verdict::kRuntimeError);
  EXPECT_NE(run->message.find("memory limit"), std::string::npos) << run->message;
}

TEST(VerifyWorker, TheWorkersBadInputIsBadInputHere) {
  const Fixture f = original_outputs();
  WorkerRunnerOptions o = worker_options();
  o.model = std::string(AK_SOURCE_DIR) + "/no_such_model.onnx";
  auto runner = make_worker_runner(o, f.sets);
  ASSERT_TRUE(runner.is_ok());
  auto run = (*runner)({}, false);
  ASSERT_FALSE(run.is_ok());
  EXPECT_EQ(run.status().exit_code(), 2);
  EXPECT_NE(run.status().message().find("no_such_model.onnx"), std::string::npos) << run.status().message();
}

}  // namespace
}  // namespace ak::verifier
