#include "profiler/launch_replay.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

namespace ak::profiler {

std::string launch_signature(const KernelRecord& k) {
  return k.name + "<<<" + std::to_string(k.grid_x) + "," + std::to_string(k.grid_y) + "," + std::to_string(k.grid_z) +
         "|" + std::to_string(k.block_x) + "," + std::to_string(k.block_y) + "," + std::to_string(k.block_z) + ">>>";
}

std::string launch_signature(const MemRecord& m) {
  return std::string(mem_kind_name(m.kind)) + ":" + std::to_string(m.size_bytes);
}

namespace {

/// A device record in launch order: by correlation id (one per API call, growing), then by
/// start (the kernels of one graph launch share a correlation id and run in order).
struct Launch {
  uint64_t correlation_id = 0;
  int64_t start_ns = 0;
  const KernelRecord* kernel = nullptr;
  const MemRecord* mem = nullptr;
  bool operator<(const Launch& o) const {
    return std::tie(correlation_id, start_ns) < std::tie(o.correlation_id, o.start_ns);
  }
};

Launch launch_of(const KernelRecord& k) { return {k.correlation_id, k.start_ns, &k, nullptr}; }
Launch launch_of(const MemRecord& m) { return {m.correlation_id, m.start_ns, nullptr, &m}; }

std::string signature_of(const Launch& l) {
  return l.kernel != nullptr ? launch_signature(*l.kernel) : launch_signature(*l.mem);
}

}  // namespace

Result<std::vector<LaunchStep>> launch_order(const CorrelationResult& calibration, int64_t iteration,
                                             size_t node_count) {
  if (node_count == 0 || iteration < 0) return invalid_input("launch_order: no nodes or a negative iteration");
  const uint64_t first_id = static_cast<uint64_t>(iteration) * node_count + 1;
  const uint64_t last_id = first_id + node_count - 1;
  std::vector<std::pair<Launch, size_t>> launches;  // with the node index
  int64_t window_start = std::numeric_limits<int64_t>::max(), window_end = std::numeric_limits<int64_t>::min();
  uint64_t first_correlation = std::numeric_limits<uint64_t>::max(), last_correlation = 0;
  auto add = [&](const Launch& l, int64_t end_ns, size_t node_index) {
    launches.emplace_back(l, node_index);
    window_start = std::min(window_start, l.start_ns);
    window_end = std::max(window_end, end_ns);
    first_correlation = std::min(first_correlation, l.correlation_id);
    last_correlation = std::max(last_correlation, l.correlation_id);
  };
  for (auto it = calibration.nodes.lower_bound(first_id); it != calibration.nodes.end() && it->first <= last_id; ++it) {
    const size_t node_index = static_cast<size_t>(it->first - first_id);
    for (const KernelRecord& k : it->second.kernels) add(launch_of(k), k.end_ns, node_index);
    for (const MemRecord& m : it->second.mems) add(launch_of(m), m.end_ns, node_index);
  }
  if (launches.empty()) return failed("the calibration iteration launched no device work");

  auto inside = [&](int64_t start_ns, uint64_t correlation_id) {
    return (start_ns >= window_start && start_ns <= window_end) ||
           (correlation_id != 0 && correlation_id >= first_correlation && correlation_id <= last_correlation);
  };
  int64_t outside_nodes = 0;
  for (const KernelRecord& k : calibration.unattributed_kernels) outside_nodes += inside(k.start_ns, k.correlation_id);
  for (const MemRecord& m : calibration.unattributed_mems) outside_nodes += inside(m.start_ns, m.correlation_id);
  if (outside_nodes > 0)
    return failed("the calibration iteration has " + std::to_string(outside_nodes) +
                  " unattributed device records, which launch order cannot place");

  std::stable_sort(launches.begin(), launches.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<LaunchStep> order;
  order.reserve(launches.size());
  for (const auto& [launch, node_index] : launches) order.push_back({node_index, signature_of(launch)});
  return order;
}

Result<CorrelationResult> attribute_by_launch_order(const std::vector<LaunchStep>& order,
                                                    const CorrelationResult& traced, int iterations,
                                                    size_t node_count) {
  if (order.empty() || iterations < 1 || node_count == 0)
    return invalid_input("attribute_by_launch_order: empty launch order, no iterations or no nodes");
  std::vector<Launch> launches;
  for (const KernelRecord& k : traced.unattributed_kernels) launches.push_back(launch_of(k));
  for (const MemRecord& m : traced.unattributed_mems) launches.push_back(launch_of(m));
  for (const auto& [external_id, node] : traced.nodes) {  // none without API records; kept if present
    for (const KernelRecord& k : node.kernels) launches.push_back(launch_of(k));
    for (const MemRecord& m : node.mems) launches.push_back(launch_of(m));
  }
  const size_t expected = order.size() * static_cast<size_t>(iterations);
  if (launches.size() != expected)
    return failed("the profiled iterations launched " + std::to_string(launches.size()) + " kernels and memory operations, " +
                  std::to_string(iterations) + " times the calibration's " + std::to_string(order.size()) + " is " +
                  std::to_string(expected));
  std::stable_sort(launches.begin(), launches.end());

  // Every record matched: hand them to a Correlator with their launch position as the
  // correlation id, so busy times and per-node sums are computed exactly as for CUPTI's ids.
  Correlator correlator;
  for (size_t i = 0; i < launches.size(); ++i) {
    const LaunchStep& step = order[i % order.size()];
    const size_t iteration = i / order.size();
    const std::string signature = signature_of(launches[i]);
    if (signature != step.signature)
      return failed("iteration " + std::to_string(iteration) + ", launch " + std::to_string(i % order.size()) + ": traced " +
                    signature + " where the calibration launched " + step.signature);
    const uint64_t position = i + 1;
    correlator.add_external({iteration * node_count + step.node_index + 1, position});
    add_placed(correlator, launches[i].kernel, launches[i].mem, position);
  }
  return finish_placed(correlator, traced);
}

void add_placed(Correlator& correlator, const KernelRecord* kernel, const MemRecord* mem, uint64_t correlation_id) {
  if (kernel != nullptr) {
    KernelRecord k = *kernel;
    k.correlation_id = correlation_id;
    k.external_id = 0;
    correlator.add_kernel(std::move(k));
  } else {
    MemRecord m = *mem;
    m.correlation_id = correlation_id;
    m.external_id = 0;
    correlator.add_mem(m);
  }
}

CorrelationResult finish_placed(Correlator& correlator, const CorrelationResult& traced) {
  CorrelationResult result = correlator.finish();
  result.dropped_records = traced.dropped_records;
  result.duplicate_records += traced.duplicate_records;
  result.invalid_records += traced.invalid_records;
  return result;
}

}  // namespace ak::profiler
