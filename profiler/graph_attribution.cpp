#include "profiler/graph_attribution.h"

#include <map>
#include <string>

#include "profiler/launch_replay.h"

namespace ak::profiler {

namespace {

/// Every device record of `traced`, attributed or not (a graph source attributes none).
template <typename Visit>
void for_each_record(const CorrelationResult& traced, Visit&& visit) {
  for (const KernelRecord& k : traced.unattributed_kernels) visit(&k, nullptr);
  for (const MemRecord& m : traced.unattributed_mems) visit(nullptr, &m);
  for (const auto& [external_id, node] : traced.nodes) {
    for (const KernelRecord& k : node.kernels) visit(&k, nullptr);
    for (const MemRecord& m : node.mems) visit(nullptr, &m);
  }
}

}  // namespace

Result<CorrelationResult> attribute_by_graph_node(const CorrelationResult& traced, int iterations, size_t node_count) {
  if (iterations < 1 || node_count == 0) return invalid_input("attribute_by_graph_node: no iterations or no nodes");
  if (traced.graph_node_external_ids.empty())
    return failed("no CUDA-graph node was recorded during the capture (CUPTI's graph-node callbacks saw none)");

  // The graph launches, in launch order (correlation ids grow with every API call).
  std::map<uint64_t, size_t> launch_index;
  for_each_record(traced, [&](const KernelRecord* k, const MemRecord* m) {
    const uint64_t graph_node = k ? k->graph_node_id : m->graph_node_id;
    if (graph_node != 0) launch_index.emplace(k ? k->correlation_id : m->correlation_id, 0);
  });
  if (launch_index.size() < static_cast<size_t>(iterations))
    return failed("traced " + std::to_string(launch_index.size()) + " CUDA-graph launches, fewer than the " +
                  std::to_string(iterations) + " profiled iterations");
  const size_t first_profiled = launch_index.size() - static_cast<size_t>(iterations);
  size_t position = 0;
  for (auto& [correlation_id, index] : launch_index) index = position++;

  // Work outside every graph issued during the profiled iterations (after the launch before
  // the first profiled one, up to the last) is theirs, unattributed.
  uint64_t issued_after = 0, issued_until = 0;
  for (const auto& [correlation_id, index] : launch_index) {
    if (index + 1 == first_profiled) issued_after = correlation_id;
    issued_until = correlation_id;
  }
  auto iteration_of = [&](uint64_t correlation_id) -> int64_t {
    const auto it = launch_index.find(correlation_id);
    if (it == launch_index.end() || it->second < first_profiled) return -1;
    return static_cast<int64_t>(it->second - first_profiled);
  };

  // The records with their node and iteration, under fresh correlation ids (one per record),
  // so busy times and per-node sums come out of the Correlator as for CUPTI's own ids.
  Correlator correlator;
  uint64_t next_id = 1;
  for_each_record(traced, [&](const KernelRecord* k, const MemRecord* m) {
    const uint64_t graph_node = k ? k->graph_node_id : m->graph_node_id;
    const uint64_t correlation_id = k ? k->correlation_id : m->correlation_id;
    uint64_t external_id = 0;
    if (graph_node != 0) {
      const int64_t iteration = iteration_of(correlation_id);
      if (iteration < 0) return;  // the warm-up's and the capture check's replays
      const auto it = traced.graph_node_external_ids.find(graph_node);
      if (it != traced.graph_node_external_ids.end() && it->second >= 1 && it->second <= node_count)
        external_id = static_cast<uint64_t>(iteration) * node_count + it->second;
    } else if (correlation_id <= issued_after || correlation_id > issued_until) {
      return;  // eager work before the profiled replays
    }
    const uint64_t id = next_id++;
    if (external_id != 0) correlator.add_external({external_id, id});
    add_placed(correlator, k, m, id);
  });
  return finish_placed(correlator, traced);
}

}  // namespace ak::profiler
