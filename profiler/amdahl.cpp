#include "profiler/amdahl.h"

#include <algorithm>

namespace ak::profiler {

double amdahl_speedup(double share, double speedup) {
  if (speedup <= 0) return 1;
  share = std::clamp(share, 0.0, 1.0);
  return 1.0 / ((1.0 - share) + share / speedup);
}

double combined_speedup(const std::vector<Candidate>& improved, int64_t model_time_ns) {
  if (model_time_ns <= 0) return 1;
  const double total = static_cast<double>(model_time_ns);
  double after = total;
  for (const auto& c : improved) {
    const double t = static_cast<double>(c.time_ns);
    const double s = std::max(c.attainable_speedup, 1.0);
    after -= t - t / s;
  }
  return after > 0 ? total / after : 1;
}

Result<std::vector<RankedCandidate>> rank_by_gain(const std::vector<Candidate>& candidates, int64_t model_time_ns) {
  double sum_ns = 0;
  for (const auto& c : candidates) {
    if (c.time_ns < 0) return invalid_input("candidate '" + c.name + "': negative time " + std::to_string(c.time_ns));
    if (!(c.attainable_speedup >= 1))
      return invalid_input("candidate '" + c.name + "': attainable speedup " + std::to_string(c.attainable_speedup) +
                           " is below 1");
    sum_ns += static_cast<double>(c.time_ns);
  }
  const double total = model_time_ns > 0 ? static_cast<double>(model_time_ns) : sum_ns;
  if (sum_ns > total)
    return invalid_input("candidates take " + std::to_string(sum_ns) + " ns, more than the model's " +
                         std::to_string(total) + " ns");
  std::vector<RankedCandidate> ranked;
  ranked.reserve(candidates.size());
  for (const auto& c : candidates) {
    RankedCandidate r;
    r.candidate = c;
    const double t = static_cast<double>(c.time_ns);
    r.share = total > 0 ? t / total : 0;
    r.e2e_speedup = amdahl_speedup(r.share, c.attainable_speedup);
    r.saved_ns = t - t / c.attainable_speedup;
    ranked.push_back(std::move(r));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const RankedCandidate& a, const RankedCandidate& b) {
    if (a.e2e_speedup != b.e2e_speedup) return a.e2e_speedup > b.e2e_speedup;
    if (a.saved_ns != b.saved_ns) return a.saved_ns > b.saved_ns;
    return a.candidate.name < b.candidate.name;
  });
  // Accumulate the time saved, not the gains: gains of disjoint parts do not multiply.
  double after = total;
  for (auto& r : ranked) {
    after -= r.saved_ns;
    r.cumulative_speedup = after > 0 ? total / after : 1;
  }
  return ranked;
}

}  // namespace ak::profiler
