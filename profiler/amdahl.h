#pragma once
/// Amdahl ranking: what making one node (or fused group) reach its attainable speed is
/// worth end to end, and what the top-k together are worth.
///
///   f = t / T (share of model time T), e2e gain = 1 / ((1 - f) + f / s)
///   top-k together: T' = (T - sum t_i) + sum t_i / s_i, model speedup = T / T'

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace ak::profiler {

/// A node or fusion group that could be optimized.
struct Candidate {
  std::string name;              ///< node name or group label
  int64_t time_ns = 0;           ///< measured time per model run
  double attainable_speedup = 1; ///< from the roofline, >= 1
};

/// A candidate with its end-to-end payoff.
struct RankedCandidate {
  Candidate candidate;
  double share = 0;           ///< f = time_ns / model_time_ns
  double e2e_speedup = 1;     ///< 1 / ((1 - f) + f / s)
  double saved_ns = 0;        ///< time_ns - time_ns / s
  double cumulative_speedup = 1;  ///< model speedup if this and every candidate ranked above reach their speed
};

/// Amdahl's law: the model speedup when a share `share` (0..1) of its time gets `speedup` (> 0) faster.
double amdahl_speedup(double share, double speedup);

/// The model speedup if every candidate in `improved` reaches its attainable speed, with the
/// rest of `model_time_ns` untouched. Candidates must not overlap.
double combined_speedup(const std::vector<Candidate>& improved, int64_t model_time_ns);

/// Ranks candidates by e2e gain (ties: larger saved time, then name) and fills the cumulative
/// speedups. `model_time_ns` <= 0 means the sum of the candidates' times. Errors (kInvalidInput)
/// on a negative time, a speedup < 1, or candidates summing past the model time.
Result<std::vector<RankedCandidate>> rank_by_gain(const std::vector<Candidate>& candidates, int64_t model_time_ns);

}  // namespace ak::profiler
