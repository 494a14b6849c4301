#include "profiler/amdahl.h"

#include <gtest/gtest.h>

namespace ak::profiler {
namespace {

TEST(Amdahl, Law) {
  EXPECT_DOUBLE_EQ(amdahl_speedup(0.5, 2), 1.0 / 0.75);
  EXPECT_DOUBLE_EQ(amdahl_speedup(0.0, 10), 1);
  EXPECT_DOUBLE_EQ(amdahl_speedup(1.0, 4), 4);
}

TEST(Amdahl, RanksByGainAndCombinesBySavedTime) {
  // Model 1000 ns: A 500 ns x2, B 200 ns x10, C 100 ns x100 (listed out of order).
  const std::vector<Candidate> cs = {{"C", 100, 100}, {"A", 500, 2}, {"B", 200, 10}};
  auto ranked = rank_by_gain(cs, 1000);
  ASSERT_TRUE(ranked.is_ok()) << ranked.status().message();
  ASSERT_EQ(ranked->size(), 3u);
  EXPECT_EQ((*ranked)[0].candidate.name, "A");
  EXPECT_EQ((*ranked)[1].candidate.name, "B");
  EXPECT_EQ((*ranked)[2].candidate.name, "C");
  EXPECT_DOUBLE_EQ((*ranked)[0].share, 0.5);
  EXPECT_DOUBLE_EQ((*ranked)[0].e2e_speedup, 1.0 / (0.5 + 0.25));
  EXPECT_DOUBLE_EQ((*ranked)[1].e2e_speedup, 1.0 / (0.8 + 0.02));
  EXPECT_DOUBLE_EQ((*ranked)[2].e2e_speedup, 1.0 / (0.9 + 0.001));
  EXPECT_DOUBLE_EQ((*ranked)[1].saved_ns, 180);
  // Top-k: 1000 / (1000 - 250), / (1000 - 250 - 180), / (1000 - 250 - 180 - 99).
  EXPECT_DOUBLE_EQ((*ranked)[0].cumulative_speedup, 1000.0 / 750);
  EXPECT_DOUBLE_EQ((*ranked)[1].cumulative_speedup, 1000.0 / 570);
  EXPECT_DOUBLE_EQ((*ranked)[2].cumulative_speedup, 1000.0 / 471);
  // Gains of disjoint parts do not multiply.
  EXPECT_GT((*ranked)[1].cumulative_speedup, (*ranked)[0].e2e_speedup * (*ranked)[1].e2e_speedup);
  EXPECT_DOUBLE_EQ(combined_speedup({cs[1], cs[2]}, 1000), 1000.0 / 570);
}

TEST(Amdahl, ModelTimeDefaultsToTheSum) {
  auto ranked = rank_by_gain({{"A", 300, 3}, {"B", 100, 1}}, 0);
  ASSERT_TRUE(ranked.is_ok());
  EXPECT_DOUBLE_EQ((*ranked)[0].share, 0.75);
  EXPECT_DOUBLE_EQ((*ranked)[0].e2e_speedup, 2);
  EXPECT_DOUBLE_EQ((*ranked)[1].e2e_speedup, 1);
}

TEST(Amdahl, RejectsBadInput) {
  EXPECT_EQ(rank_by_gain({{"A", 100, 0.5}}, 1000).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(rank_by_gain({{"A", -1, 2}}, 1000).status().code(), StatusCode::kInvalidInput);
  auto over = rank_by_gain({{"A", 800, 2}, {"B", 300, 2}}, 1000);
  EXPECT_FALSE(over.is_ok());
  EXPECT_NE(over.status().message().find("more than the model"), std::string::npos);
}

}  // namespace
}  // namespace ak::profiler
