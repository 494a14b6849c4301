#include "verifier/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

namespace ak::verifier {
namespace {

/// Percentile of sorted values (q in [0, 1]), linear interpolation between order
/// statistics (Hyndman & Fan type 7, as numpy's default).
double percentile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

/// Median of values[0..n), reordering them (nth_element: O(n)).
double median_in_place(std::vector<double>& values) {
  const size_t n = values.size();
  const size_t mid = n / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

/// splitmix64: tiny, fast, and specified exactly, so a seed gives the same stream on every
/// platform (std::uniform_int_distribution does not promise that).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound), by Lemire's multiply-shift (bias below 2^-32 for our sizes).
  size_t below(size_t bound) {
    return static_cast<size_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace

std::pair<int, int> median_ci_ranks(int n, double confidence) {
  if (n <= 0) return {0, 0};
  // P(x(l) <= median < x(n-l+1)) = P(l <= B <= n-l), B ~ Binomial(n, 1/2)
  //                             = 1 - 2 * P(B <= l-1).
  // So l-1 is the largest k with P(B <= k) <= (1 - confidence) / 2. The pmf is built in
  // log space (n can be thousands) from log C(n, k+1) = log C(n, k) + log(n-k) - log(k+1).
  const double tail = (1.0 - confidence) / 2.0;
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  double log_choose = 0;  // log C(n, 0)
  double cdf = 0;
  int l = 1;  // [min, max] when even that is below the confidence asked for (n < 6 at 95%)
  for (int k = 0; k <= n / 2; ++k) {
    cdf += std::exp(log_choose + log_half_n);
    if (cdf > tail) break;
    l = k + 1;
    log_choose += std::log(static_cast<double>(n - k)) - std::log(static_cast<double>(k + 1));
  }
  return {l, n - l + 1};
}

Summary summarize(std::vector<double> values) {
  Summary summary;
  summary.n = static_cast<int>(values.size());
  if (values.empty()) return summary;
  std::sort(values.begin(), values.end());
  summary.median = percentile_sorted(values, 0.5);
  summary.p10 = percentile_sorted(values, 0.1);
  summary.p90 = percentile_sorted(values, 0.9);
  summary.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  const auto [low_rank, high_rank] = median_ci_ranks(summary.n);
  summary.ci_low = values[static_cast<size_t>(low_rank - 1)];
  summary.ci_high = values[static_cast<size_t>(high_rank - 1)];
  return summary;
}

Summary summarize_durations(const std::vector<int64_t>& durations_ns) {
  return summarize(std::vector<double>(durations_ns.begin(), durations_ns.end()));
}

Result<SpeedupEstimate> estimate_speedup(const std::vector<int64_t>& reference_ns,
                                         const std::vector<int64_t>& candidate_ns, const BootstrapOptions& options) {
  if (reference_ns.empty() || reference_ns.size() != candidate_ns.size()) {
    return invalid_input("estimate_speedup: need the same non-zero number of reference and candidate timings, got " +
                         std::to_string(reference_ns.size()) + " and " + std::to_string(candidate_ns.size()));
  }
  for (size_t i = 0; i < reference_ns.size(); ++i) {
    if (reference_ns[i] <= 0 || candidate_ns[i] <= 0) {
      return invalid_input("estimate_speedup: timing pair " + std::to_string(i) + " is not positive (" +
                           std::to_string(reference_ns[i]) + " ns, " + std::to_string(candidate_ns[i]) + " ns)");
    }
  }
  const size_t n = reference_ns.size();
  std::vector<double> reference(reference_ns.begin(), reference_ns.end());
  std::vector<double> candidate(candidate_ns.begin(), candidate_ns.end());

  SpeedupEstimate estimate;
  estimate.n = static_cast<int>(n);
  {
    std::vector<double> r = reference, c = candidate;
    estimate.speedup = median_in_place(r) / median_in_place(c);
  }

  const int resamples = std::max(options.resamples, 1);
  SplitMix64 rng(options.seed);
  std::vector<double> ratios;
  ratios.reserve(static_cast<size_t>(resamples));
  std::vector<double> r(n), c(n);
  for (int b = 0; b < resamples; ++b) {
    for (size_t i = 0; i < n; ++i) {
      const size_t pick = rng.below(n);
      r[i] = reference[pick];
      c[i] = candidate[pick];
    }
    ratios.push_back(median_in_place(r) / median_in_place(c));
  }
  std::sort(ratios.begin(), ratios.end());
  const double tail = (1.0 - options.confidence) / 2.0;
  estimate.ci_low = percentile_sorted(ratios, tail);
  estimate.ci_high = percentile_sorted(ratios, 1.0 - tail);
  return estimate;
}

double unreported_ns(const CallTimes& side) {
  std::vector<int64_t> gap;
  for (size_t i = 0; i < side.reported_ns.size() && i < side.round_trip_ns.size(); ++i)
    gap.push_back(side.round_trip_ns[i] - side.reported_ns[i]);
  return summarize_durations(gap).p10;
}

std::string timing_inconsistency(const CallTimes& candidate, const CallTimes& reference, double slack_ns,
                                 double slack_fraction) {
  const auto check_side = [](const CallTimes& side, const char* name) -> std::string {
    if (side.reported_ns.size() != side.round_trip_ns.size()) return std::string("unpaired ") + name + " timings";
    for (size_t i = 0; i < side.reported_ns.size(); ++i)
      if (side.reported_ns[i] < 0 || side.reported_ns[i] > side.round_trip_ns[i])
        return "the worker reported " + std::to_string(side.reported_ns[i] / 1e3) + " us for a " + name +
               " call the judge saw take " + std::to_string(side.round_trip_ns[i] / 1e3) + " us from request to answer";
    return {};
  };
  std::string why = check_side(candidate, "candidate");
  if (why.empty()) why = check_side(reference, "reference");
  if (!why.empty() || candidate.reported_ns.empty() || reference.reported_ns.empty()) return why;
  const double cand_gap = unreported_ns(candidate), ref_gap = unreported_ns(reference);
  const double slack = slack_ns + slack_fraction * summarize_durations(candidate.round_trip_ns).median;
  if (cand_gap > ref_gap + slack)
    return "the candidate's calls took " + std::to_string(cand_gap / 1e3) + " us longer than the worker reported (the "
           "reference's " + std::to_string(ref_gap / 1e3) + " us): its reported times are not what the judge saw";
  return {};
}

}  // namespace ak::verifier
