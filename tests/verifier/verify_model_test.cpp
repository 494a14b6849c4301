// The logic of whole-model verification (verifier/verify_model.h) through its seams: the
// bisection over an injected "does this subset fail" predicate, and the verification flow
// over an injected swapped-model runner whose entries are right, wrong, crash or hang.
// The real worker and swap-in are tested end to end in tests/cli/verify_cli_test.cpp.
#include "verifier/verify_model.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "models/onnx_io.h"

namespace ak::verifier {
namespace {

using models::DType;
using models::TensorData;

int ceil_log2(size_t n) {
  int steps = 0;
  while ((size_t{1} << steps) < n) ++steps;
  return steps;
}

SubsetFails fails_if_any_of(std::set<size_t> culprits, std::vector<std::vector<size_t>>* asked = nullptr) {
  return [culprits, asked](const std::vector<size_t>& subset) -> Result<bool> {
    if (asked) asked->push_back(subset);
    return std::any_of(subset.begin(), subset.end(), [&](size_t i) { return culprits.count(i) > 0; });
  };
}

TEST(Bisect, FindsOneCulpritInLog2Steps) {
  for (size_t n : {2u, 3u, 7u, 8u, 13u, 16u, 64u}) {
    for (size_t culprit = 0; culprit < n; ++culprit) {
      auto found = bisect_culprits(n, fails_if_any_of({culprit}));
      ASSERT_TRUE(found.is_ok());
      EXPECT_EQ(found->culprits, std::vector<size_t>{culprit}) << "n " << n;
      // ceil(log2 n) halvings, then one run without the culprit that confirms the rest passes.
      EXPECT_LE(found->tests, ceil_log2(n) + 1) << "n " << n << " culprit " << culprit;
    }
  }
}

TEST(Bisect, OneItemNeedsNoTest) {
  auto found = bisect_culprits(1, fails_if_any_of({0}));
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->culprits, std::vector<size_t>{0});
  EXPECT_EQ(found->tests, 0);
}

TEST(Bisect, FindsSeveralCulprits) {
  const std::vector<std::set<size_t>> cases = {{2, 9, 14}, {0, 1}, {15}, {0, 5, 6, 7, 8, 15}};
  for (const auto& culprits : cases) {
    auto found = bisect_culprits(16, fails_if_any_of(culprits));
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found->culprits, std::vector<size_t>(culprits.begin(), culprits.end()));
    EXPECT_LE(found->tests, static_cast<int>(culprits.size()) * (ceil_log2(16) + 1));
  }
}

TEST(Bisect, CulpritsThatOnlyFailTogetherAreRemovedUntilTheRestPasses) {
  // The model breaks only when items 3 and 5 are both in: removing what the search names
  // must leave a passing set.
  auto fails = [](const std::vector<size_t>& s) -> Result<bool> {
    return std::count(s.begin(), s.end(), 3) && std::count(s.begin(), s.end(), 5);
  };
  auto found = bisect_culprits(8, fails);
  ASSERT_TRUE(found.is_ok());
  std::vector<size_t> rest;
  for (size_t i = 0; i < 8; ++i)
    if (!std::count(found->culprits.begin(), found->culprits.end(), i)) rest.push_back(i);
  EXPECT_FALSE(*fails(rest));
}

TEST(Bisect, AnErrorOfThePredicateEndsTheSearch) {
  auto found = bisect_culprits(8, [](const std::vector<size_t>&) -> Result<bool> { return failed("worker missing"); });
  ASSERT_FALSE(found.is_ok());
  EXPECT_NE(found.status().message().find("worker missing"), std::string::npos);
}

TensorData f32(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
  TensorData t;
  t.name = name;
  t.dtype = DType::kFloat32;
  t.dims = std::move(dims);
  t.bytes = models::Buffer::copy_of(values.data(), values.size() * sizeof(float));
  return t;
}

// Bitwise means bitwise: -0 is not 0, a NaN equals only the same NaN's bits.
TEST(DifferingElements, CountsElementsWhoseBytesDiffer) {
  const float nan = std::nanf("");
  const TensorData a = f32("y", {2, 3}, {1.f, 2.f, 0.f, nan, 5.f, 6.f});
  EXPECT_EQ(differing_elements(a, a), 0);
  EXPECT_EQ(differing_elements(a, f32("y", {2, 3}, {1.f, 2.f, -0.f, nan, 5.f, 6.f})), 1);
  EXPECT_EQ(differing_elements(a, f32("y", {2, 3}, {1.f, 2.0000002f, 0.f, nan, 5.f, 7.f})), 2);
  // Another shape or dtype: every element differs.
  EXPECT_EQ(differing_elements(a, f32("y", {3, 2}, {1.f, 2.f, 0.f, nan, 5.f, 6.f})), 6);
  TensorData ints = a;
  ints.dtype = DType::kInt32;
  EXPECT_EQ(differing_elements(a, ints), 6);
}

TEST(ModelOutputTolerance, IsTheJudgesDefaultForTheOtherClassUnlessOverridden) {
  EXPECT_EQ(model_output_tolerance(DType::kFloat32, std::nullopt), (Tolerance{1e-4, 1e-4, 1.0}));
  EXPECT_EQ(model_output_tolerance(DType::kFloat16, std::nullopt), (Tolerance{1e-2, 1e-2, 0.999}));
  EXPECT_TRUE(model_output_tolerance(DType::kInt64, std::nullopt).is_exact());
  EXPECT_EQ(model_output_tolerance(DType::kFloat32, Tolerance{1, 2, 1.0}), (Tolerance{1, 2, 1.0}));
}

TEST(CompareModelOutputs, UsesTheJudgesComparisonPerOutput) {
  const std::vector<TensorData> expected = {f32("logits", {2}, {1.0f, 2.0f}), f32("hidden", {1}, {0.5f})};
  // logits: 1e-5 off, inside atol 1e-4 + rtol 1e-4; hidden: 1e-2 off, outside.
  const std::vector<TensorData> actual = {f32("logits", {2}, {1.00001f, 2.0f}), f32("hidden", {1}, {0.51f})};
  auto checks = compare_model_outputs("random seed 1", expected, actual, std::nullopt);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_TRUE(checks[0].comparison.passed());
  EXPECT_EQ(checks[0].output, "logits");
  EXPECT_EQ(checks[1].comparison.verdict, Verdict::kIncorrectNumerical);
  EXPECT_NEAR(checks[1].comparison.max_abs_error, 0.01, 1e-6);
  EXPECT_EQ(checks[1].input_set, "random seed 1");
  // A missing output is a shape failure, never a pass.
  auto missing = compare_model_outputs("s", expected, {actual[0]}, std::nullopt);
  EXPECT_EQ(missing[1].comparison.verdict, Verdict::kIncorrectShape);
}

// A model with one output y = x (4 elements); each entry has instances; the runner
// fakes the worker: a "wrong" entry's instance "wrong_1" adds 2e-3 to y, "crash" dies,
// "hang" times out. Every call is recorded.
struct FakeModel {
  std::vector<std::string> entries = {"a", "b", "c", "wrong", "e", "f", "g", "h"};
  std::set<std::string> crash, hang;
  std::set<std::string> slow;  ///< entries that add 5 ms to every swapped run they are in
  std::vector<SwapSelection> calls;

  models::SwapReport swap(const SwapSelection& s) const {
    models::SwapReport report;
    for (const auto& e : entries) {
      if (!s.entries.empty() && !std::count(s.entries.begin(), s.entries.end(), e)) continue;
      ++report.entries;
      for (int i = 0; i < 3; ++i) {
        const std::string first = e + "_" + std::to_string(i);
        if (!s.instances.empty() && !std::count(s.instances.begin(), s.instances.end(), first)) continue;
        report.instances.push_back({e, "workload_" + e, {first, first + "_add"}, 1, 0, ""});
      }
    }
    return report;
  }

  SwappedRunner runner() {
    return [this](const SwapSelection& s, bool measure) -> Result<SwappedRun> {
      calls.push_back(s);
      SwappedRun run;
      run.swap = swap(s);
      float delta = 0;
      for (const auto& i : run.swap.instances) {
        if (crash.count(i.entry)) {
          run.verdict = Verdict::kRuntimeError;
          run.message = "the swapped model killed by SIGSEGV (Segmentation fault) on random seed 1";
          return run;
        }
        if (hang.count(i.entry)) {
          run.verdict = Verdict::kTimeout;
          run.message = "the swapped model timed out after 3 s on random seed 1";
          return run;
        }
        if (i.nodes.front() == "wrong_1") delta += 2e-3f;
      }
      for (int set = 0; set < 2; ++set) run.outputs.push_back({f32("y", {4}, {1 + delta, 2, 3, 4})});
      if (measure) {
        int64_t extra = 0;
        for (const auto& e : slow)
          if (std::any_of(run.swap.instances.begin(), run.swap.instances.end(), [&](const auto& i) { return i.entry == e; }))
            extra += 5'000'000;
        run.original_ns = {10'000'000, 10'100'000, 9'900'000, 10'050'000, 10'000'000, 9'950'000};
        run.swapped_ns = {8'000'000, 8'100'000, 7'900'000, 8'050'000, 8'000'000, 7'950'000};
        for (int64_t& ns : run.swapped_ns) ns += extra;
      }
      return run;
    };
  }
};

const std::vector<std::string> kSets = {"random seed 1", "batch=2 (seed 1)"};
const std::vector<std::vector<TensorData>> kExpected = {{f32("y", {4}, {1, 2, 3, 4})}, {f32("y", {4}, {1, 2, 3, 4})}};

TEST(VerifySwapped, APassingPackReportsTheSwapAndTheLatency) {
  FakeModel model;
  model.entries.erase(std::find(model.entries.begin(), model.entries.end(), "wrong"));
  auto report = verify_swapped(kSets, kExpected, model.entries, model.runner(), {});
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->verdict, Verdict::kPassed);
  EXPECT_EQ(report->swap.instances.size(), 21u);
  EXPECT_EQ(model.calls.size(), 1u);  // no bisection
  ASSERT_TRUE(report->latency.has_value());
  EXPECT_NEAR(report->latency->original_ms.median, 10.0, 0.06);
  EXPECT_NEAR(report->latency->swapped_ms.median, 8.0, 0.06);
  EXPECT_NEAR(report->latency->speedup.speedup, 1.25, 0.01);
  EXPECT_LE(report->latency->speedup.ci_low, report->latency->speedup.speedup);
  EXPECT_GE(report->latency->speedup.ci_high, report->latency->speedup.speedup);
  EXPECT_TRUE(report->culprits.empty());
}

// A correct entry that makes the model slower (the whole pack 0.77x) is found by timing
// each matched entry alone; the others, faster alone, are not named.
TEST(VerifySwapped, AnEntryThatSlowsTheModelIsNamedByTimingEachEntryAlone) {
  FakeModel model;
  model.entries = {"a", "b", "c", "d"};
  model.slow = {"c"};
  auto report = verify_swapped(kSets, kExpected, model.entries, model.runner(), {});
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->verdict, Verdict::kPassed);
  ASSERT_TRUE(report->latency.has_value());
  EXPECT_LT(report->latency->speedup.ci_high, 1.0);
  ASSERT_EQ(report->slow_entries.size(), 1u);
  EXPECT_EQ(report->slow_entries[0].entry, "c");
  EXPECT_EQ(report->slow_entries[0].workload, "workload_c");
  EXPECT_EQ(report->slow_entries[0].instances, 3);
  EXPECT_NEAR(report->slow_entries[0].speedup.speedup, 10.0 / 13.0, 0.01);
  EXPECT_EQ(model.calls.size(), 5u);  // the full run, then each entry alone

  VerifyOptions off;
  off.find_slow_entries = false;
  model.calls.clear();
  auto unchecked = verify_swapped(kSets, kExpected, model.entries, model.runner(), off);
  ASSERT_TRUE(unchecked.is_ok());
  EXPECT_TRUE(unchecked->slow_entries.empty());
  EXPECT_EQ(model.calls.size(), 1u);
}

TEST(VerifySwapped, AWrongKernelOnOneWorkloadIsNamedDownToItsInstance) {
  FakeModel model;
  auto report = verify_swapped(kSets, kExpected, model.entries, model.runner(), {});
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->verdict, Verdict::kIncorrectNumerical);
  EXPECT_FALSE(report->latency.has_value());
  ASSERT_EQ(report->culprits.size(), 1u);
  const Culprit& c = report->culprits[0];
  EXPECT_EQ(c.entry, "wrong");
  EXPECT_EQ(c.workload, "workload_wrong");
  EXPECT_EQ(c.nodes, (std::vector<std::string>{"wrong_1", "wrong_1_add"}));
  EXPECT_EQ(c.instances, 1);
  EXPECT_EQ(c.instances_of_entry, 3);
  EXPECT_EQ(c.verdict, Verdict::kIncorrectNumerical);
  EXPECT_EQ(c.output, "y");
  EXPECT_EQ(c.input_set, "random seed 1");
  EXPECT_NEAR(c.max_abs_error, 2e-3, 1e-6);
  // 8 entries: 3 halvings + the rest; the entry alone; 3 instances: 2 halvings + the rest;
  // the culprit instance alone for its numbers.
  EXPECT_LE(report->bisection_runs, (3 + 1) + 1 + (2 + 1) + 1);
  EXPECT_EQ(report->bisection_runs, static_cast<int>(model.calls.size()) - 1);
}

TEST(VerifySwapped, CrashingAndHangingKernelsGetVerdictsNamingThem) {
  FakeModel model;
  model.entries.erase(std::find(model.entries.begin(), model.entries.end(), "wrong"));
  model.crash = {"c"};
  model.hang = {"g"};
  auto report = verify_swapped(kSets, kExpected, model.entries, model.runner(), {});
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_NE(report->verdict, Verdict::kPassed);
  ASSERT_EQ(report->culprits.size(), 2u);
  EXPECT_EQ(report->culprits[0].entry, "c");
  EXPECT_EQ(report->culprits[0].verdict, Verdict::kRuntimeError);
  EXPECT_NE(report->culprits[0].message.find("SIGSEGV"), std::string::npos);
  EXPECT_EQ(report->culprits[1].entry, "g");
  EXPECT_EQ(report->culprits[1].verdict, Verdict::kTimeout);
  // Every instance of a crashing entry crashes: the whole entry is the culprit.
  EXPECT_EQ(report->culprits[0].instances, 3);
}

TEST(VerifySwapped, NoBisectStopsAtTheFirstVerdict) {
  FakeModel model;
  VerifyOptions options;
  options.bisect = false;
  auto report = verify_swapped(kSets, kExpected, model.entries, model.runner(), options);
  ASSERT_TRUE(report.is_ok());
  EXPECT_EQ(report->verdict, Verdict::kIncorrectNumerical);
  EXPECT_TRUE(report->culprits.empty());
  EXPECT_EQ(model.calls.size(), 1u);
  EXPECT_NE(report->full.message.find("output y on random seed 1"), std::string::npos) << report->full.message;
}

TEST(MakeInputSets, CapturedRandomAndOtherSizesOfEachSymbolicDim) {
  auto model = models::load_model(std::string(AK_SOURCE_DIR) + "/tests/models/fixtures/exporters/torchscript/gpt2/model.onnx");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  InputSetOptions options;
  options.random_sets = 2;
  options.seed = 5;
  auto sets = make_input_sets(*model, model->path, options);
  ASSERT_TRUE(sets.is_ok()) << sets.status().message();
  std::vector<std::string> names;
  for (const auto& s : *sets) names.push_back(s.name);
  ASSERT_GE(names.size(), 3u);
  EXPECT_TRUE(std::count(names.begin(), names.end(), "random seed 6")) << ::testing::PrintToString(names);
  EXPECT_TRUE(std::count(names.begin(), names.end(), "random seed 7"));
  // The fixture's test data set comes first.
  EXPECT_EQ(names[0], "captured test_data_set_0");
  // Each symbolic dim once at 2x its base size (1 is the base): the input's shape follows.
  const auto random = std::find(names.begin(), names.end(), "random seed 6") - names.begin();
  bool varied = false;
  for (const auto& s : *sets)
    if (s.name.find("=2 (seed 6)") != std::string::npos) {
      varied = true;
      EXPECT_NE(s.tensors[0].dims, (*sets)[random].tensors[0].dims) << s.name;
    }
  EXPECT_TRUE(varied) << ::testing::PrintToString(names);
  // Bad input: a dim the model does not have.
  options.other_sizes["no_such_dim"] = {4};
  auto bad = make_input_sets(*model, model->path, options);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().exit_code(), 2);
  EXPECT_NE(bad.status().message().find("no_such_dim"), std::string::npos);
}

}  // namespace
}  // namespace ak::verifier
