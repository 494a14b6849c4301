#pragma once
/// Robust summaries of repeated timings: the median with a distribution-free 95% confidence
/// interval, and the speedup of a candidate over the reference from paired samples with a
/// bootstrap interval. Method and reasoning: docs/verifier.md ("Statistics").
///
/// Timings are int64 nanoseconds; the generic `summarize(std::vector<double>)` works on any
/// unit and returns the same unit. All functions are pure and thread-safe.

#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include "base/status.h"

namespace ak::verifier {

/// Order statistics of a sample, in the sample's unit.
struct Summary {
  double median = 0;
  double p10 = 0, p90 = 0;  ///< percentiles, linear interpolation between order statistics
  double mean = 0;
  /// 95% confidence interval of the population median: order statistics x(l) and
  /// x(n-l+1), with l the largest rank for which Binomial(n, 1/2) puts at least 95% of its
  /// mass on [l, n-l]. Distribution-free. For n < 6 no such l exists and the interval is
  /// [min, max] (coverage 1 - 2^(1-n), below 95%).
  double ci_low = 0, ci_high = 0;
  int n = 0;
};

/// Summary of `values` (any unit, any order). All fields are 0 for an empty sample.
Summary summarize(std::vector<double> values);

/// Summary of durations in nanoseconds (the result is in nanoseconds too).
Summary summarize_durations(const std::vector<int64_t>& durations_ns);

/// The 1-based ranks (l, u) of the distribution-free confidence interval of the median
/// for a sample of n (see Summary::ci_low); (1, n) when n < 6, (0, 0) when n == 0.
/// `confidence` in (0, 1), usually 0.95.
std::pair<int, int> median_ci_ranks(int n, double confidence = 0.95);

/// Candidate speedup over the reference: > 1 means the candidate is faster.
struct SpeedupEstimate {
  double speedup = 0;  ///< median(reference) / median(candidate)
  double ci_low = 0;   ///< 2.5th percentile of the bootstrap distribution
  double ci_high = 0;  ///< 97.5th percentile of the bootstrap distribution
  int n = 0;           ///< number of pairs
};

/// Bootstrap settings; the defaults make results reproducible run to run.
struct BootstrapOptions {
  int resamples = 2000;
  uint64_t seed = 0x5eed'a11c'e5ee'd5ULL;
  double confidence = 0.95;
};

/// Speedup from paired timings: reference_ns[i] and candidate_ns[i] were measured back to
/// back (interleaved), so pairs are resampled together, which keeps drift that affected
/// both (clock boost, a noisy neighbour) out of the interval. Percentile bootstrap over
/// pairs with a fixed-seed generator (splitmix64), so the interval is deterministic.
/// Fails when the vectors are empty, differ in length, or hold a non-positive time.
Result<SpeedupEstimate> estimate_speedup(const std::vector<int64_t>& reference_ns,
                                         const std::vector<int64_t>& candidate_ns,
                                         const BootstrapOptions& options = {});

/// One side of a benchmark: per timed call, what the worker reported and the round trip
/// the judge timed around it (request sent to answer received), both ns.
struct CallTimes {
  std::vector<int64_t> reported_ns, round_trip_ns;
};

/// Why the reported times cannot be what happened, or "" when they fit: a reported time
/// that is negative or longer than its round trip, or a candidate whose round trips leave
/// more time unreported (unreported_ns) than the reference's by more than `slack_ns` +
/// `slack_fraction` x its median round trip. Both sides make the same
/// round trip (one request, one answer, a device sync), so an honest worker leaves about
/// the same unreported time on each; under-reporting the candidate shows up as more.
/// The 10th percentile of round trip - reported over one side's calls, ns: the time the
/// judge saw but the worker did not report, at its least disturbed. Preemption and load
/// bursts only ever add to a round trip, so a low percentile is what the round trip itself
/// costs, while a constant under-report shifts every call, the fastest included.
double unreported_ns(const CallTimes& side);

std::string timing_inconsistency(const CallTimes& candidate, const CallTimes& reference, double slack_ns,
                                 double slack_fraction);

}  // namespace ak::verifier
