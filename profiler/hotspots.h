#pragma once
/// Hotspots: a measured profile turned into "what is each part worth fixing?". Each node
/// gets its cost (cost_model.h) and roofline (roofline.h); fusion groups (fusion_groups.h)
/// get the cost of one fused kernel; then groups and the nodes outside any group are
/// ranked together by Amdahl payoff (amdahl.h), so no time is counted twice.
///
/// Model time T is the sum of the nodes' median times (so shares add up to 1).
/// A node's roofline counts the launches it made per iteration; a group's counts one.
///
/// The host-bound row: when the profile timed graph replay (Profile::graph_measured) and
/// the unprofiled wall time W exceeds T, the W - T the device spends waiting for the host
/// is one more unit, ranked with the hotspots by the same rule over W (every share is then
/// of W). Its attainable speedup is measured: with graph replay the wall time was W_g, so
/// W - T shrinks to W_g - T (at least 1/1000 of it) and the row's e2e gain is W / W_g.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

/// What a hotspot is: one node, a fusion group of a pattern kind (models/patterns.h), or a
/// custom node set (`autokernel extract --nodes`). Its name is what reports and task.json
/// print: "node", the pattern's name ("attention", "layer_norm", ...) or "custom".
///
/// It converts from and to those strings implicitly so that code which still spells kinds
/// as strings (extractor/extractor.cpp, task.json) keeps working; new code should use
/// pattern() and is_node(). A string that names no kind is kCustom.
class HotspotKind {
 public:
  enum class Type { kNode, kPattern, kCustom };

  HotspotKind() = default;  ///< a single node
  HotspotKind(models::PatternKind pattern) : type_(Type::kPattern), pattern_(pattern) {}  // NOLINT: implicit
  HotspotKind(std::string_view name);                                                      // NOLINT: implicit
  HotspotKind(const char* name) : HotspotKind(std::string_view(name)) {}                   // NOLINT: implicit
  HotspotKind(const std::string& name) : HotspotKind(std::string_view(name)) {}            // NOLINT: implicit

  Type type() const { return type_; }
  bool is_node() const { return type_ == Type::kNode; }
  /// The pattern of a fusion group; nullopt for a node or a custom set.
  std::optional<models::PatternKind> pattern() const {
    return type_ == Type::kPattern ? std::optional<models::PatternKind>(pattern_) : std::nullopt;
  }
  /// "node", the pattern's name, or "custom".
  std::string name() const;
  operator std::string() const { return name(); }  // NOLINT: implicit, see above

  friend bool operator==(const HotspotKind& a, const HotspotKind& b) {
    return a.type_ == b.type_ && (a.type_ != Type::kPattern || a.pattern_ == b.pattern_);
  }

 private:
  Type type_ = Type::kNode;
  models::PatternKind pattern_ = models::PatternKind::kElementwiseChain;
};

/// A ranked node or fusion group.
struct Hotspot {
  int rank = 0;  ///< 1 = largest e2e gain
  bool is_group = false;
  std::string name;  ///< node name, or the group's label
  HotspotKind kind;  ///< a node, or the group's pattern
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

/// The host-bound row (see above): wall time the device waits for the host.
struct HostBoundRow {
  int rank = 0;                 ///< among the hotspots (they skip this rank)
  int64_t time_ns = 0;          ///< W - T per iteration
  int64_t wall_ns = 0;          ///< W: unprofiled wall time, median
  int64_t graph_wall_ns = 0;    ///< W_g: the same with graph replay
  double gpu_idle_share = 0;    ///< 1 - GPU busy time / W (busy: the union of kernel intervals, else T)
  double attainable_speedup = 1;  ///< (W - T) / (W_g - T), >= 1
  double share = 0;             ///< (W - T) / W
  double e2e_gain = 1;          ///< W / W_g when replay was faster
  double cumulative_speedup = 1;
  std::string note;             ///< Profile::graph_note: why replay was not (fully) used
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
  /// The time shares and gains are of: model_ns, or W with a host-bound row.
  int64_t frame_ns = 0;
  std::optional<HostBoundRow> host_bound;
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
