#include "verifier/verdict.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace ak::verifier {
namespace {

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
