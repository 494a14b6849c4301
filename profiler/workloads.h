#pragma once
/// Workloads: the ranked hotspots grouped by what they compute. A model repeats the same
/// work in every layer (the 17 RMSNorms of a decoder, each ~1% of its time); one kernel
/// fixes all of them, so what it is worth is the sum of their times. Each hotspot (a node
/// or a fusion group) gets the key of models/workload.h, with the shapes and dtypes the
/// profile recorded; hotspots with equal keys are instances of one workload. Workloads are
/// ranked by the Amdahl gain of every instance reaching its roofline (amdahl.h).
/// Torch-free.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"
#include "models/workload.h"
#include "profiler/hotspots.h"
#include "profiler/profile.h"

namespace ak::profiler {

/// One distinct problem of a model and where it occurs.
struct Workload {
  int rank = 0;                  ///< 1 = largest e2e gain
  models::WorkloadKey key;       ///< of the first instance (its binding: that instance's values)
  std::string hash;              ///< key.hash()
  HotspotKind kind;              ///< the instances' kind (a node, or the group's pattern)
  std::vector<std::string> op_types;  ///< of the first instance
  /// Indices into Analysis::hotspots of the instances, in graph order (of their first node).
  std::vector<size_t> instances;
  int64_t instance_median_ns = 0;  ///< median of the instances' measured times
  int64_t time_ns = 0;             ///< their sum: the workload's time per model run
  int64_t attainable_ns = 0;       ///< the sum of the instances' attainable times
  double share = 0;                ///< time_ns / model time
  double attainable_speedup = 1;   ///< time_ns / attainable_ns: one kernel at every instance's roofline
  double e2e_gain = 1;             ///< model speedup if every instance reached its roofline
  double cumulative_speedup = 1;   ///< if this and every workload ranked above did
};

/// The workloads of `analysis` (an analysis of `profile` of `graph`), every hotspot in
/// exactly one, ranked by e2e gain (ties: larger saved time, then hash). Shares add up to
/// the hotspots' shares. Errors as rank_by_gain does (an inconsistent analysis).
Result<std::vector<Workload>> rank_workloads(const Analysis& analysis, const Profile& profile,
                                             const models::Graph& graph);

/// The types the profile recorded for the values of `graph` (dtype and concrete shape of
/// every node input and output it saw), as models::workload_key takes them.
models::ValueTypeLookup recorded_types(const Profile& profile, const models::Graph& graph);

}  // namespace ak::profiler
