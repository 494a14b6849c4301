// The one verdict enum: every value round-trips through its stored name, and a name that is
// not a verdict is an error (nullopt), never a value.
#include "kernels/verdict.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace ak::kernels {
namespace {

TEST(Verdict, NamesAreTheDesignsEvaluationStatus) {
  // DESIGN.md "Evaluation status", in enum order.
  const char* expected[] = {"PASSED",          "COMPILE_ERROR",   "RUNTIME_ERROR",       "TIMEOUT",
                            "INCORRECT_SHAPE", "INCORRECT_DTYPE", "INCORRECT_NUMERICAL", "CHEAT_SUSPECTED"};
  ASSERT_EQ(kVerdictCount, 8);
  for (int i = 0; i < kVerdictCount; ++i) EXPECT_STREQ(verdict_name(static_cast<Verdict>(i)), expected[i]);
}

TEST(Verdict, EveryValueRoundTripsThroughItsName) {
  std::set<std::string> names;
  for (int i = 0; i < kVerdictCount; ++i) {
    const Verdict verdict = static_cast<Verdict>(i);
    const std::string name = verdict_name(verdict);
    names.insert(name);
    const std::optional<Verdict> parsed = parse_verdict(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, verdict) << name;
    EXPECT_EQ(verdict_name(*parsed), name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kVerdictCount));  // no two share a name
}

TEST(Verdict, UnknownNamesAreErrors) {
  for (const char* bad : {"", "passed", "PASSED ", " PASSED", "INCORRECT", "UNKNOWN", "CHEAT", "7"})
    EXPECT_EQ(parse_verdict(bad), std::nullopt) << "'" << bad << "'";
  // A value outside the enum (a corrupt integer) prints as UNKNOWN, which does not parse back.
  EXPECT_STREQ(verdict_name(static_cast<Verdict>(42)), "UNKNOWN");
  EXPECT_EQ(parse_verdict(verdict_name(static_cast<Verdict>(42))), std::nullopt);
}

TEST(Verdict, CorrectnessFailures) {
  for (Verdict v : {Verdict::kIncorrectShape, Verdict::kIncorrectDtype, Verdict::kIncorrectNumerical,
                    Verdict::kCheatSuspected})
    EXPECT_TRUE(is_correctness_failure(v)) << verdict_name(v);
  for (Verdict v : {Verdict::kPassed, Verdict::kCompileError, Verdict::kRuntimeError, Verdict::kTimeout})
    EXPECT_FALSE(is_correctness_failure(v)) << verdict_name(v);
}

}  // namespace
}  // namespace ak::kernels
