#include "verifier/statistics.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace ak::verifier {
namespace {

TEST(Summarize, KnownSample) {
  Summary summary = summarize({5, 1, 3, 2, 4});
  EXPECT_EQ(summary.n, 5);
  EXPECT_DOUBLE_EQ(summary.median, 3);
  EXPECT_DOUBLE_EQ(summary.mean, 3);
  EXPECT_DOUBLE_EQ(summary.p10, 1.4);  // numpy.percentile([1..5], 10)
  EXPECT_DOUBLE_EQ(summary.p90, 4.6);
  EXPECT_DOUBLE_EQ(summary.ci_low, 1);  // n < 6: [min, max]
  EXPECT_DOUBLE_EQ(summary.ci_high, 5);
}

TEST(Summarize, EvenCountAndDurations) {
  Summary summary = summarize_durations({4000, 1000, 3000, 2000});
  EXPECT_DOUBLE_EQ(summary.median, 2500);
  EXPECT_DOUBLE_EQ(summary.mean, 2500);
  EXPECT_EQ(summary.n, 4);
}

TEST(Summarize, EmptyAndSingle) {
  Summary empty = summarize({});
  EXPECT_EQ(empty.n, 0);
  EXPECT_EQ(empty.median, 0);
  Summary one = summarize({7});
  EXPECT_EQ(one.median, 7);
  EXPECT_EQ(one.ci_low, 7);
  EXPECT_EQ(one.ci_high, 7);
}

TEST(Summarize, ConfidenceIntervalUsesOrderStatistics) {
  // 1..100 shuffled: the 95% interval of the median is x(40)..x(61), the textbook ranks.
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  std::shuffle(values.begin(), values.end(), std::mt19937(1));
  Summary summary = summarize(values);
  EXPECT_DOUBLE_EQ(summary.median, 50.5);
  EXPECT_DOUBLE_EQ(summary.ci_low, 40);
  EXPECT_DOUBLE_EQ(summary.ci_high, 61);
}

TEST(MedianCiRanks, MatchBinomialTables) {
  EXPECT_EQ(median_ci_ranks(0), std::make_pair(0, 0));
  EXPECT_EQ(median_ci_ranks(1), std::make_pair(1, 1));
  EXPECT_EQ(median_ci_ranks(5), std::make_pair(1, 5));
  EXPECT_EQ(median_ci_ranks(6), std::make_pair(1, 6));
  EXPECT_EQ(median_ci_ranks(10), std::make_pair(2, 9));
  EXPECT_EQ(median_ci_ranks(20), std::make_pair(6, 15));
  EXPECT_EQ(median_ci_ranks(25), std::make_pair(8, 18));
  EXPECT_EQ(median_ci_ranks(100), std::make_pair(40, 61));
  EXPECT_EQ(median_ci_ranks(1000), std::make_pair(469, 532));
  // A lower confidence gives a narrower interval.
  EXPECT_GT(median_ci_ranks(100, 0.5).first, 40);
}

TEST(MedianCi, CoversTheTrueMedianAbout95PercentOfTheTime) {
  // Skewed timings (lognormal, like real latencies): the true median is exp(mu).
  std::mt19937_64 rng(12345);
  const double mu = std::log(1000.0);
  std::lognormal_distribution<double> latency(mu, 0.3);
  const double true_median = std::exp(mu);
  constexpr int kTrials = 2000, kSamples = 25;
  int covered = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::vector<double> sample(kSamples);
    for (double& value : sample) value = latency(rng);
    Summary summary = summarize(sample);
    if (summary.ci_low <= true_median && true_median <= summary.ci_high) ++covered;
  }
  const double coverage = static_cast<double>(covered) / kTrials;
  // Exact coverage for n = 25 is 0.9567; [min, max] would give ~1.0, the sample median alone 0.
  EXPECT_GT(coverage, 0.93);
  EXPECT_LT(coverage, 0.98);
}

TEST(Speedup, IdenticalDistributionsGiveAboutOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(50000.0), 0.1);
  std::vector<int64_t> reference, candidate;
  for (int i = 0; i < 200; ++i) {
    reference.push_back(static_cast<int64_t>(latency(rng)));
    candidate.push_back(static_cast<int64_t>(latency(rng)));
  }
  Result<SpeedupEstimate> estimate = estimate_speedup(reference, candidate);
  ASSERT_TRUE(estimate.is_ok()) << estimate.status().message();
  EXPECT_EQ(estimate->n, 200);
  EXPECT_NEAR(estimate->speedup, 1.0, 0.05);
  EXPECT_LT(estimate->ci_low, 1.0);
  EXPECT_GT(estimate->ci_high, 1.0);
  EXPECT_LE(estimate->ci_low, estimate->speedup);
  EXPECT_GE(estimate->ci_high, estimate->speedup);
  EXPECT_LT(estimate->ci_high - estimate->ci_low, 0.1);
}

TEST(Speedup, TwiceAsFastWithNoise) {
  std::mt19937_64 rng(8);
  std::lognormal_distribution<double> noise(0.0, 0.05);
  std::vector<int64_t> reference, candidate;
  for (int i = 0; i < 100; ++i) {
    reference.push_back(static_cast<int64_t>(100000 * noise(rng)));
    candidate.push_back(static_cast<int64_t>(50000 * noise(rng)));
  }
  Result<SpeedupEstimate> estimate = estimate_speedup(reference, candidate);
  ASSERT_TRUE(estimate.is_ok());
  EXPECT_NEAR(estimate->speedup, 2.0, 0.1);
  EXPECT_GT(estimate->ci_low, 1.8);
  EXPECT_LT(estimate->ci_high, 2.2);
  EXPECT_LT(estimate->ci_low, 2.0 + 0.05);
}

TEST(Speedup, PairsAreResampledTogether) {
  // Drift that hits both equally (a clock that speeds up 3x over the run) must not widen
  // the interval: each candidate time is exactly half its paired reference time.
  std::vector<int64_t> reference, candidate;
  for (int i = 0; i < 60; ++i) {
    int64_t drift_ns = 30000 + 1000 * ((i * 37) % 60);
    reference.push_back(2 * drift_ns);
    candidate.push_back(drift_ns);
  }
  Result<SpeedupEstimate> estimate = estimate_speedup(reference, candidate);
  ASSERT_TRUE(estimate.is_ok());
  EXPECT_DOUBLE_EQ(estimate->speedup, 2.0);
  EXPECT_DOUBLE_EQ(estimate->ci_low, 2.0);
  EXPECT_DOUBLE_EQ(estimate->ci_high, 2.0);
}

TEST(Speedup, DeterministicForAGivenSeed) {
  std::vector<int64_t> reference = {100, 120, 90, 110, 105, 98, 130, 101};
  std::vector<int64_t> candidate = {80, 85, 95, 70, 88, 92, 79, 81};
  Result<SpeedupEstimate> first = estimate_speedup(reference, candidate);
  Result<SpeedupEstimate> second = estimate_speedup(reference, candidate);
  ASSERT_TRUE(first.is_ok() && second.is_ok());
  EXPECT_EQ(first->ci_low, second->ci_low);
  EXPECT_EQ(first->ci_high, second->ci_high);
  BootstrapOptions other_seed;
  other_seed.seed = 99;
  Result<SpeedupEstimate> third = estimate_speedup(reference, candidate, other_seed);
  ASSERT_TRUE(third.is_ok());
  EXPECT_EQ(third->speedup, first->speedup);  // the point estimate does not depend on the seed
  EXPECT_TRUE(third->ci_low != first->ci_low || third->ci_high != first->ci_high);
}

TEST(Speedup, RejectsBadInput) {
  EXPECT_FALSE(estimate_speedup({}, {}).is_ok());
  EXPECT_FALSE(estimate_speedup({1, 2}, {1}).is_ok());
  EXPECT_FALSE(estimate_speedup({1, 0}, {1, 2}).is_ok());
  EXPECT_FALSE(estimate_speedup({1, 2}, {-1, 2}).is_ok());
}

}  // namespace
}  // namespace ak::verifier

namespace ak::verifier {
namespace {

// Round trips of an honest worker: each leaves ~30 us unreported on both sides.
CallTimes honest(int64_t call_ns, int64_t overhead_ns, int n = 20) {
  CallTimes t;
  for (int i = 0; i < n; ++i) {
    const int64_t jitter = (i * 7919) % 5000;
    t.reported_ns.push_back(call_ns + jitter);
    t.round_trip_ns.push_back(call_ns + jitter + overhead_ns + (i * 104729) % 3000);
  }
  return t;
}

TEST(TimingInconsistency, HonestRoundTripsFit) {
  EXPECT_EQ(timing_inconsistency(honest(400'000, 30'000), honest(800'000, 35'000), 50e3, 0.1), "");
  EXPECT_EQ(timing_inconsistency(honest(5'000, 30'000), honest(9'000, 30'000), 50e3, 0.1), "");
  // Load bursts (measured on the shared VM: a third of a 7 ms kernel's round trips 3-5 ms
  // longer) only add time: the low percentile of the unreported time does not move.
  CallTimes bursty = honest(7'000'000, 400'000);
  for (int i = 0; i < 20; i += 3) bursty.round_trip_ns[i] += 4'000'000;
  EXPECT_EQ(timing_inconsistency(bursty, honest(2'500'000, 300'000), 50e3, 0.1), "");
}

TEST(TimingInconsistency, AReportLongerThanItsRoundTripIsCaught) {
  CallTimes reference = honest(800'000, 30'000);
  reference.reported_ns[3] = reference.round_trip_ns[3] + 1;  // more than the judge could have seen
  const std::string why = timing_inconsistency(honest(400'000, 30'000), reference, 50e3, 0.1);
  EXPECT_NE(why.find("reference call the judge saw take"), std::string::npos) << why;
  CallTimes negative = honest(400'000, 30'000);
  negative.reported_ns[0] = -5;
  EXPECT_NE(timing_inconsistency(negative, honest(800'000, 30'000), 50e3, 0.1), "");
}

TEST(TimingInconsistency, AnUnderReportedCandidateIsCaught) {
  // The measured attack: 45 ms of work reported as half the reference's 0.38 ms.
  CallTimes forged = honest(45'000'000, 30'000);
  for (int64_t& ns : forged.reported_ns) ns = 190'000;
  const std::string why = timing_inconsistency(forged, honest(380'000, 30'000), 50e3, 0.1);
  EXPECT_NE(why.find("longer than the worker reported"), std::string::npos) << why;
  // Halving a 1 ms kernel's time is caught too; the same lie on a 20 us kernel hides in the slack.
  CallTimes halved = honest(1'000'000, 30'000);
  for (int64_t& ns : halved.reported_ns) ns /= 2;
  EXPECT_NE(timing_inconsistency(halved, honest(2'000'000, 30'000), 50e3, 0.1), "");
  CallTimes tiny = honest(20'000, 30'000);
  for (int64_t& ns : tiny.reported_ns) ns /= 2;
  EXPECT_EQ(timing_inconsistency(tiny, honest(40'000, 30'000), 50e3, 0.1), "");
}

// The judge's batched round trips (measure_batches in verifier/judge.cpp): the same lie on
// a 20 us kernel, over 100 calls a round trip, adds up to 1 ms of unreported time and is
// caught, while the honest batch of the same kernel is not flagged.
TEST(TimingInconsistency, BatchedRoundTripsCatchTheLieASingleCallHides) {
  const int64_t calls = 100;
  CallTimes lying = honest(20'000 * calls, 30'000);
  for (int64_t& ns : lying.reported_ns) ns /= 2;
  const CallTimes reference = honest(40'000 * calls, 30'000);
  EXPECT_NE(timing_inconsistency(lying, reference, 50e3, 0.1).find("longer than the worker reported"), std::string::npos);
  EXPECT_EQ(timing_inconsistency(honest(20'000 * calls, 30'000), reference, 50e3, 0.1), "");
}

}  // namespace
}  // namespace ak::verifier
