#include "profiler/hotspots.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "profiler/amdahl.h"

namespace ak::profiler {
namespace {

/// The dtype a node computes in: its first floating input, else its first output's dtype.
models::DType work_dtype(const NodeProfile& node) {
  for (models::DType t : node.input_dtypes)
    if (models::is_floating(t)) return t;
  for (models::DType t : node.output_dtypes)
    if (t != models::DType::kUndefined) return t;
  return models::DType::kFloat32;
}

void add_unique(std::vector<std::string>* list, const std::string& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

}  // namespace

HotspotKind::HotspotKind(std::string_view name) {
  if (name == "node") return;
  if (auto p = models::parse_pattern_kind(name)) {
    type_ = Type::kPattern;
    pattern_ = *p;
  } else {
    type_ = Type::kCustom;
  }
}

std::string HotspotKind::name() const {
  switch (type_) {
    case Type::kNode: return "node";
    case Type::kPattern: return models::pattern_kind_name(pattern_);
    case Type::kCustom: return "custom";
  }
  return "custom";
}

Result<Analysis> analyze(const Profile& profile, const models::Graph& graph, const DevicePeaks& peaks,
                         bool allow_tf32) {
  if (profile.nodes.size() != graph.nodes.size())
    return internal_error("profile has " + std::to_string(profile.nodes.size()) + " nodes, graph " +
                          std::to_string(graph.nodes.size()));
  Analysis a;
  a.peaks = peaks;
  a.allow_tf32 = allow_tf32;
  const size_t n = graph.nodes.size();

  std::vector<NodeShapes> shapes(n);
  std::vector<NodeCost> costs(n);
  std::vector<int64_t> times(n);
  for (size_t i = 0; i < n; ++i) {
    const NodeProfile& p = profile.nodes[i];
    shapes[i] = {&graph.nodes[i], p.input_shapes, p.output_shapes, p.input_dtypes, p.output_dtypes};
    costs[i] = estimate_cost(shapes[i]);
    times[i] = p.time.median_ns;
    a.model_ns += times[i];
  }

  a.frame_ns = a.model_ns;
  if (profile.graph_measured && profile.unprofiled_wall.median_ns > a.model_ns) {
    HostBoundRow row;
    row.wall_ns = profile.unprofiled_wall.median_ns;
    row.graph_wall_ns = profile.graph_wall.median_ns;
    row.time_ns = row.wall_ns - a.model_ns;
    const int64_t busy_ns = profile.busy_ns_per_iter > 0 ? profile.busy_ns_per_iter : a.model_ns;
    row.gpu_idle_share = std::max(0.0, 1.0 - static_cast<double>(busy_ns) / static_cast<double>(row.wall_ns));
    const double left_ns = std::max(static_cast<double>(row.graph_wall_ns - a.model_ns), row.time_ns / 1000.0);
    row.attainable_speedup = std::max(1.0, static_cast<double>(row.time_ns) / left_ns);
    row.note = profile.graph_note;
    a.frame_ns = row.wall_ns;
    a.host_bound = row;
  }

  a.nodes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const NodeProfile& p = profile.nodes[i];
    NodeAnalysis& na = a.nodes[i];
    na.cost = costs[i];
    na.dtype = work_dtype(p);
    RooflineOptions options;
    options.compute_dtype = na.dtype;
    options.allow_tf32 = allow_tf32;
    options.kernel_count = std::max(1, static_cast<int>(std::lround(p.launches_per_iter)));
    na.roofline = roofline(costs[i], times[i], peaks, options);
    na.share = a.frame_ns > 0 ? static_cast<double>(times[i]) / static_cast<double>(a.frame_ns) : 0;
    na.e2e_gain = amdahl_speedup(na.share, na.roofline.attainable_speedup);
  }

  // Units to rank: every group, and every node outside the groups; none counted twice.
  a.groups = find_fusion_groups(graph);
  const std::map<std::string, double> value_bytes = value_bytes_of(shapes);
  std::vector<bool> grouped(n, false);
  std::vector<Hotspot> units;
  for (const FusionGroup& g : a.groups) {
    Hotspot h;
    h.is_group = true;
    h.name = g.name;
    h.kind = g.kind;
    h.nodes = g.nodes;
    h.time_ns = group_time_ns(g, times);
    h.cost = group_cost(g, costs, value_bytes);
    double launches = 0;
    for (size_t i : g.nodes) {
      grouped[i] = true;
      add_unique(&h.op_types, graph.nodes[i].op_type);
      launches += profile.nodes[i].launches_per_iter;
      if (h.dtype == models::DType::kUndefined || a.nodes[i].cost.flops > 0) h.dtype = a.nodes[i].dtype;
    }
    h.kernels = std::lround(launches);
    RooflineOptions options;
    options.compute_dtype = h.dtype;
    options.allow_tf32 = allow_tf32;
    options.kernel_count = 1;
    h.roofline = roofline(h.cost, h.time_ns, peaks, options);
    units.push_back(std::move(h));
  }
  for (size_t i = 0; i < n; ++i) {
    if (grouped[i]) continue;
    Hotspot h;
    h.name = graph.nodes[i].name;
    h.nodes = {i};
    h.op_types = {graph.nodes[i].op_type};
    h.time_ns = times[i];
    h.kernels = std::lround(profile.nodes[i].launches_per_iter);
    h.dtype = a.nodes[i].dtype;
    h.cost = costs[i];
    h.roofline = a.nodes[i].roofline;
    units.push_back(std::move(h));
  }
  std::erase_if(units, [](const Hotspot& h) { return h.time_ns <= 0; });

  std::vector<Candidate> candidates;
  // The host-bound unit's name cannot be a node's: ONNX names do not start with '<'.
  const std::string host_bound_name = "<host-bound>";
  for (const Hotspot& h : units) candidates.push_back({h.name, h.time_ns, h.roofline.attainable_speedup});
  if (a.host_bound) candidates.push_back({host_bound_name, a.host_bound->time_ns, a.host_bound->attainable_speedup});
  AK_ASSIGN_OR_RETURN(std::vector<RankedCandidate> ranked, rank_by_gain(candidates, a.frame_ns));
  std::map<std::string, const Hotspot*> by_name;
  for (const Hotspot& h : units) by_name[h.name] = &h;
  int rank = 0;
  for (const RankedCandidate& r : ranked) {
    if (a.host_bound && r.candidate.name == host_bound_name) {
      a.host_bound->rank = ++rank;
      a.host_bound->share = r.share;
      a.host_bound->e2e_gain = r.e2e_speedup;
      a.host_bound->cumulative_speedup = r.cumulative_speedup;
      continue;
    }
    Hotspot h = *by_name.at(r.candidate.name);
    h.rank = ++rank;
    h.share = r.share;
    h.e2e_gain = r.e2e_speedup;
    h.cumulative_speedup = r.cumulative_speedup;
    a.hotspots.push_back(std::move(h));
  }

  std::map<std::string, OpTypeSummary> by_op;
  for (size_t i = 0; i < n; ++i) {
    OpTypeSummary& s = by_op[graph.nodes[i].op_type];
    s.op_type = graph.nodes[i].op_type;
    s.nodes += 1;
    s.time_ns += times[i];
    s.kernels_per_iter += profile.nodes[i].launches_per_iter;
  }
  for (auto& [op, s] : by_op) {
    s.share = a.frame_ns > 0 ? static_cast<double>(s.time_ns) / static_cast<double>(a.frame_ns) : 0;
    a.op_types.push_back(s);
  }
  std::stable_sort(a.op_types.begin(), a.op_types.end(),
                   [](const OpTypeSummary& x, const OpTypeSummary& y) { return x.time_ns > y.time_ns; });
  return a;
}

}  // namespace ak::profiler
