#include "verifier/verdict.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace ak::verifier {
namespace {

TEST(Verdict, NamesMatchTheEvaluationStatus) {
  EXPECT_STREQ(verdict_name(Verdict::kPassed), "PASSED");
  EXPECT_STREQ(verdict_name(Verdict::kCompileError), "COMPILE_ERROR");
  EXPECT_STREQ(verdict_name(Verdict::kRuntimeError), "RUNTIME_ERROR");
  EXPECT_STREQ(verdict_name(Verdict::kTimeout), "TIMEOUT");
  EXPECT_STREQ(verdict_name(Verdict::kIncorrectShape), "INCORRECT_SHAPE");
  EXPECT_STREQ(verdict_name(Verdict::kIncorrectDtype), "INCORRECT_DTYPE");
  EXPECT_STREQ(verdict_name(Verdict::kIncorrectNumerical), "INCORRECT_NUMERICAL");
  EXPECT_STREQ(verdict_name(Verdict::kCheatSuspected), "CHEAT_SUSPECTED");
}

TEST(Verdict, ParseRoundTripsAndRejectsOthers) {
  for (int i = 0; i <= static_cast<int>(Verdict::kCheatSuspected); ++i) {
    Verdict verdict = static_cast<Verdict>(i);
    EXPECT_EQ(parse_verdict(verdict_name(verdict)), verdict) << verdict_name(verdict);
  }
  EXPECT_EQ(parse_verdict("passed"), std::nullopt);
  EXPECT_EQ(parse_verdict(""), std::nullopt);
  EXPECT_EQ(parse_verdict("PASSED "), std::nullopt);
}

TEST(Gate, NamesAndOrder) {
  const char* expected[] = {"compile",     "captured",    "random",     "sweep",
                            "adversarial", "determinism", "anti_cheat", "benchmark"};
  std::set<std::string> seen;
  for (int i = 0; i <= static_cast<int>(Gate::kBenchmark); ++i) {
    Gate gate = static_cast<Gate>(i);
    EXPECT_STREQ(gate_name(gate), expected[i]);
    EXPECT_EQ(parse_gate(gate_name(gate)), gate);
    seen.insert(gate_name(gate));
  }
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_LT(Gate::kCapturedInputs, Gate::kRandomSeeds);
  EXPECT_LT(Gate::kShapeSweep, Gate::kAdversarial);
  EXPECT_LT(Gate::kAdversarial, Gate::kDeterminism);
  EXPECT_EQ(parse_gate("Compile"), std::nullopt);
}

}  // namespace
}  // namespace ak::verifier
