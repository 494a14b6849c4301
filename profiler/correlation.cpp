#include "profiler/correlation.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ak::profiler {

const char* mem_kind_name(MemKind kind) {
  switch (kind) {
    case MemKind::kMemset: return "memset";
    case MemKind::kHostToDevice: return "HtoD";
    case MemKind::kDeviceToHost: return "DtoH";
    case MemKind::kDeviceToDevice: return "DtoD";
    case MemKind::kOtherCopy: return "copy";
  }
  return "copy";
}

int64_t CorrelationResult::busy_ns() const {
  int64_t total = 0;
  for (const auto& [device, ns] : busy_ns_by_device) total += ns;
  return total;
}

int64_t union_length_ns(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start_ns < b.start_ns; });
  int64_t total = 0;
  bool open = false;
  int64_t cur_start = 0, cur_end = 0;
  for (const Interval& iv : intervals) {
    if (open && iv.start_ns <= cur_end) {
      cur_end = std::max(cur_end, iv.end_ns);
      continue;
    }
    if (open) total += cur_end - cur_start;
    cur_start = iv.start_ns;
    cur_end = iv.end_ns;
    open = true;
  }
  if (open) total += cur_end - cur_start;
  return total;
}

namespace {

// Identity of a record for duplicate detection. The correlation id alone is not enough:
// one graph launch (one API call) yields many kernels with the same correlation id.
using KernelKey = std::tuple<uint64_t, uint32_t, uint32_t, int64_t, int64_t, std::string>;
using MemKey = std::tuple<uint64_t, uint32_t, uint32_t, int64_t, int64_t, uint64_t, uint8_t>;
using RuntimeKey = std::tuple<uint64_t, uint32_t, int64_t, int64_t, uint32_t>;

template <typename T>
void sort_by_start(std::vector<T>* records) {
  std::stable_sort(records->begin(), records->end(),
                   [](const T& a, const T& b) { return a.start_ns < b.start_ns; });
}

enum class Attribution { kAttributed, kNoCorrelation, kNoExternalId, kUnknownExternalId };

}  // namespace

struct Correlator::State {
  std::mutex mutex;
  std::vector<KernelRecord> kernels;
  std::vector<MemRecord> mems;
  std::vector<RuntimeApiRecord> runtime_calls;
  std::unordered_map<uint64_t, uint64_t> external_by_correlation;
  std::unordered_set<uint64_t> pushed;
  std::set<KernelKey> kernel_keys;
  std::set<MemKey> mem_keys;
  std::set<RuntimeKey> runtime_keys;
  uint64_t dropped = 0;
  int64_t duplicates = 0;
  int64_t invalid = 0;
  int64_t conflicting_external = 0;

  // Looks up the external id for `correlation_id`; sets *external_id when attributed.
  Attribution attribute(uint64_t correlation_id, uint64_t* external_id) const {
    *external_id = 0;
    if (correlation_id == 0) return Attribution::kNoCorrelation;
    auto it = external_by_correlation.find(correlation_id);
    if (it == external_by_correlation.end()) return Attribution::kNoExternalId;
    if (!pushed.empty() && pushed.count(it->second) == 0) return Attribution::kUnknownExternalId;
    *external_id = it->second;
    return Attribution::kAttributed;
  }
};

Correlator::Correlator() : state_(std::make_unique<State>()) {}
Correlator::~Correlator() = default;

void Correlator::add_kernel(KernelRecord record) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (record.end_ns < record.start_ns) {
    ++state_->invalid;
    return;
  }
  KernelKey key{record.correlation_id, record.device_id, record.stream_id,
                record.start_ns,       record.end_ns,    record.name};
  if (!state_->kernel_keys.insert(std::move(key)).second) {
    ++state_->duplicates;
    return;
  }
  state_->kernels.push_back(std::move(record));
}

void Correlator::add_mem(MemRecord record) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (record.end_ns < record.start_ns) {
    ++state_->invalid;
    return;
  }
  MemKey key{record.correlation_id, record.device_id, record.stream_id,        record.start_ns,
             record.end_ns,         record.size_bytes, static_cast<uint8_t>(record.kind)};
  if (!state_->mem_keys.insert(key).second) {
    ++state_->duplicates;
    return;
  }
  state_->mems.push_back(record);
}

void Correlator::add_runtime(RuntimeApiRecord record) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (record.end_ns < record.start_ns) {
    ++state_->invalid;
    return;
  }
  RuntimeKey key{record.correlation_id, record.cbid, record.start_ns, record.end_ns, record.thread_id};
  if (!state_->runtime_keys.insert(key).second) {
    ++state_->duplicates;
    return;
  }
  state_->runtime_calls.push_back(std::move(record));
}

void Correlator::add_external(const ExternalCorrelation& correlation) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  // External id 0 is never pushed (ids are node index + 1): treat the record as absent.
  if (correlation.correlation_id == 0 || correlation.external_id == 0) return;
  auto [it, inserted] =
      state_->external_by_correlation.emplace(correlation.correlation_id, correlation.external_id);
  if (inserted) return;
  if (it->second == correlation.external_id) {
    ++state_->duplicates;
  } else {
    ++state_->conflicting_external;
  }
}

void Correlator::add_dropped(uint64_t count) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->dropped += count;
}

void Correlator::note_pushed(uint64_t external_id) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->pushed.insert(external_id);
}

CorrelationResult Correlator::finish() {
  std::unique_ptr<State> state;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state = std::exchange(state_, std::make_unique<State>());
  }
  // `state` is now private to this call: the join below runs without the lock.
  CorrelationResult result;
  result.dropped_records = state->dropped;
  result.duplicate_records = state->duplicates;
  result.invalid_records = state->invalid;
  result.conflicting_external = state->conflicting_external;

  auto count_unattributed = [&](Attribution a) {
    switch (a) {
      case Attribution::kNoCorrelation: ++result.unattributed.no_correlation; break;
      case Attribution::kNoExternalId: ++result.unattributed.no_external_id; break;
      case Attribution::kUnknownExternalId: ++result.unattributed.unknown_external_id; break;
      case Attribution::kAttributed: break;
    }
  };
  auto node_for = [&](uint64_t external_id) -> NodeActivity& {
    NodeActivity& node = result.nodes[external_id];
    node.external_id = external_id;
    return node;
  };

  std::map<uint32_t, std::vector<Interval>> device_intervals;
  std::map<uint64_t, std::map<uint32_t, std::vector<Interval>>> node_intervals;
  for (KernelRecord& k : state->kernels) {
    device_intervals[k.device_id].push_back({k.start_ns, k.end_ns});
    Attribution a = state->attribute(k.correlation_id, &k.external_id);
    if (a != Attribution::kAttributed) {
      count_unattributed(a);
      result.unattributed_kernels.push_back(std::move(k));
      continue;
    }
    NodeActivity& node = node_for(k.external_id);
    node.kernel_sum_ns += k.end_ns - k.start_ns;
    node_intervals[k.external_id][k.device_id].push_back({k.start_ns, k.end_ns});
    node.kernels.push_back(std::move(k));
  }
  for (MemRecord& m : state->mems) {
    Attribution a = state->attribute(m.correlation_id, &m.external_id);
    if (a != Attribution::kAttributed) {
      count_unattributed(a);
      result.unattributed_mems.push_back(m);
      continue;
    }
    NodeActivity& node = node_for(m.external_id);
    node.mem_sum_ns += m.end_ns - m.start_ns;
    node.mems.push_back(m);
  }
  for (RuntimeApiRecord& r : state->runtime_calls) {
    if (state->attribute(r.correlation_id, &r.external_id) != Attribution::kAttributed) {
      ++result.unattributed_runtime_calls;
      continue;
    }
    node_for(r.external_id).runtime_calls.push_back(std::move(r));
  }

  for (auto& [device, intervals] : device_intervals) {
    result.busy_ns_by_device[device] = union_length_ns(std::move(intervals));
  }
  for (auto& [external_id, node] : result.nodes) {
    for (auto& [device, intervals] : node_intervals[external_id]) {
      node.kernel_busy_ns += union_length_ns(std::move(intervals));
    }
    sort_by_start(&node.kernels);
    sort_by_start(&node.mems);
    sort_by_start(&node.runtime_calls);
  }
  sort_by_start(&result.unattributed_kernels);
  sort_by_start(&result.unattributed_mems);
  return result;
}

}  // namespace ak::profiler
