#include "profiler/workloads.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "profiler/amdahl.h"

namespace ak::profiler {

models::ValueTypeLookup recorded_types(const Profile& profile, const models::Graph& graph) {
  auto table = std::make_shared<std::map<std::string, models::ValueType>>();
  auto record = [&](const std::string& value, const std::vector<int64_t>* shape, models::DType dtype) {
    if (value.empty() || table->count(value)) return;
    models::ValueType t;
    t.dtype = dtype;
    if (shape) t.shape = *shape;
    (*table)[value] = std::move(t);
  };
  for (const NodeProfile& p : profile.nodes) {
    if (!p.executed || p.node_index >= graph.nodes.size()) continue;
    const models::Node& node = graph.nodes[p.node_index];
    for (size_t j = 0; j < node.inputs.size(); ++j)
      record(node.inputs[j], j < p.input_shapes.size() ? &p.input_shapes[j] : nullptr,
             j < p.input_dtypes.size() ? p.input_dtypes[j] : models::DType::kUndefined);
    for (size_t j = 0; j < node.outputs.size(); ++j)
      record(node.outputs[j], j < p.output_shapes.size() ? &p.output_shapes[j] : nullptr,
             j < p.output_dtypes.size() ? p.output_dtypes[j] : models::DType::kUndefined);
  }
  return [table](const std::string& value) -> std::optional<models::ValueType> {
    auto it = table->find(value);
    return it == table->end() ? std::nullopt : std::optional<models::ValueType>(it->second);
  };
}

Result<std::vector<Workload>> rank_workloads(const Analysis& analysis, const Profile& profile,
                                             const models::Graph& graph) {
  const models::ValueTypeLookup types = recorded_types(profile, graph);
  // Instances in graph order, so a workload's first instance is its earliest occurrence.
  std::vector<size_t> order(analysis.hotspots.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return analysis.hotspots[a].nodes.front() < analysis.hotspots[b].nodes.front();
  });

  std::map<std::string, Workload> by_hash;
  std::map<std::string, double> attainable_ns;  // unrounded: microsecond hotspots lose digits in int64 ns
  std::vector<std::string> first_seen;
  for (size_t i : order) {
    const Hotspot& h = analysis.hotspots[i];
    models::WorkloadKey key = models::workload_key(graph, h.nodes, types);
    std::string hash = key.hash();
    auto [it, added] = by_hash.try_emplace(hash);
    Workload& w = it->second;
    if (added) {
      w.key = std::move(key);
      w.hash = hash;
      w.kind = h.kind;
      w.op_types = h.op_types;
      first_seen.push_back(hash);
    }
    w.instances.push_back(i);
    w.time_ns += h.time_ns;
    // attainable_speedup >= 1 (roofline.h), so this never exceeds the measured time.
    attainable_ns[hash] += static_cast<double>(h.time_ns) / std::max(1.0, h.roofline.attainable_speedup);
  }

  std::vector<Candidate> candidates;
  for (const std::string& hash : first_seen) {
    Workload& w = by_hash.at(hash);
    std::vector<int64_t> times;
    for (size_t i : w.instances) times.push_back(analysis.hotspots[i].time_ns);
    // The median by nearest rank, as profile.h's time_stats (not linked here: it lives
    // with the torch half of the profiler).
    std::sort(times.begin(), times.end());
    w.instance_median_ns = times[(times.size() - 1) / 2];
    const double attainable = attainable_ns[hash];
    w.attainable_ns = std::llround(attainable);
    w.attainable_speedup = attainable > 0 ? std::max(1.0, static_cast<double>(w.time_ns) / attainable) : 1;
    candidates.push_back({hash, w.time_ns, w.attainable_speedup});
  }
  AK_ASSIGN_OR_RETURN(std::vector<RankedCandidate> ranked, rank_by_gain(candidates, analysis.model_ns));
  std::vector<Workload> out;
  for (const RankedCandidate& r : ranked) {
    Workload w = std::move(by_hash.at(r.candidate.name));
    w.rank = static_cast<int>(out.size()) + 1;
    w.share = r.share;
    w.e2e_gain = r.e2e_speedup;
    w.cumulative_speedup = r.cumulative_speedup;
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace ak::profiler
