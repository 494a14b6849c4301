#pragma once
/// Hotspots: a measured profile turned into "what is each part worth fixing?". Each node
/// gets its cost (cost_model.h) and roofline (roofline.h); fusion groups (fusion_groups.h)
/// get the cost of one fused kernel; then groups and the nodes outside any group are
/// ranked together by Amdahl payoff (amdahl.h), so no time is counted twice.
///
/// Model time T is the sum of the nodes' median times (so shares add up to 1).
/// A node's roofline counts the launches it made per iteration; a group's counts one.

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"
#include "profiler/cost_model.h"
#include "profiler/device_peaks.h"
#include "profiler/fusion_groups.h"
#include "profiler/profile.h"
#include "profiler/roofline.h"

namespace ak::profiler {

/// The analysis of one node.
struct NodeAnalysis {
  NodeCost cost;
  RooflinePoint roofline;
  models::DType dtype = models::DType::kUndefined;  ///< the dtype its work is done in
  double share = 0;     ///< of model time
  double e2e_gain = 1;  ///< model speedup if this node alone reached its attainable time
};

/// A ranked node or fusion group.
struct Hotspot {
  int rank = 0;  ///< 1 = largest e2e gain
  bool is_group = false;
  std::string name;  ///< node name, or the group's label
  std::string kind;  ///< "node", or the fusion kind ("attention", "layer_norm", ...)
  std::vector<size_t> nodes;  ///< graph node indices, in graph order
  std::vector<std::string> op_types;  ///< distinct, in order of first appearance
  int64_t time_ns = 0;  ///< measured time per iteration (a group: the sum of its members)
  int64_t kernels = 0;  ///< launches per iteration today
  models::DType dtype = models::DType::kUndefined;
  NodeCost cost;
  RooflinePoint roofline;
  double share = 0;
  double e2e_gain = 1;
  double cumulative_speedup = 1;  ///< if this and every hotspot ranked above reached their attainable time
};

/// Time per op type, for the summary under the table.
struct OpTypeSummary {
  std::string op_type;
  int nodes = 0;
  int64_t time_ns = 0;
  double share = 0;
  double kernels_per_iter = 0;
};

struct Analysis {
  DevicePeaks peaks;
  bool allow_tf32 = false;
  int64_t model_ns = 0;  ///< sum of node medians
  std::vector<NodeAnalysis> nodes;  ///< indexed like Profile::nodes
  std::vector<FusionGroup> groups;
  std::vector<Hotspot> hotspots;    ///< ranked, best first
  std::vector<OpTypeSummary> op_types;  ///< by time, largest first
};

/// Analyzes `profile` of `graph` (the executed model's graph, the one the profile's node
/// indices refer to) against `peaks`.
Result<Analysis> analyze(const Profile& profile, const models::Graph& graph, const DevicePeaks& peaks,
                         bool allow_tf32);

}  // namespace ak::profiler
