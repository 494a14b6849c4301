// The CUPTI activity tracer behind TimingSource. Built only when CMake finds CUPTI;
// cupti_stub.cpp stands in otherwise.

#include "profiler/cupti_tracer.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "profiler/timing_source.h"

#if __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define AK_HAVE_NVTX 1
#else
#define AK_HAVE_NVTX 0
#endif

namespace ak::profiler {
namespace {

// Kineto's CUPTI profiler inside libtorch uses CUSTOM0/CUSTOM1; CUSTOM2 keeps our node ids
// apart from its ids when both are active.
constexpr CUpti_ExternalCorrelationKind kExternalKind = CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM2;
constexpr size_t kBufferSizeBytes = 4u << 20;
constexpr size_t kBufferAlignBytes = 8;  // CUPTI requires 8-byte aligned activity buffers

struct KindToEnable {
  CUpti_ActivityKind kind;
  const char* call;  // for the error line
};
constexpr KindToEnable kDeviceKinds[] = {
    {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, "cuptiActivityEnable(CONCURRENT_KERNEL)"},
    {CUPTI_ACTIVITY_KIND_MEMCPY, "cuptiActivityEnable(MEMCPY)"},
    {CUPTI_ACTIVITY_KIND_MEMSET, "cuptiActivityEnable(MEMSET)"},
};

/// Whether an API call of this name can put work on the device (and so needs a record
/// to carry its correlation id to an external id).
bool launches_work(const char* name) {
  if (name == nullptr) return false;
  const std::string n = name;
  return n.find("Launch") != std::string::npos || n.find("Memcpy") != std::string::npos ||
         n.find("Memset") != std::string::npos;
}

// CUPTI's buffer callbacks are plain functions and CUPTI itself is process-global, so the
// active session's Correlator is reached through this one global. g_mutex guards only the
// pointer; it is never held while calling CUPTI (see buffer_completed).
std::mutex g_mutex;
std::shared_ptr<Correlator> g_correlator;  // non-null while a session is collecting
std::atomic<bool> g_source_exists{false};  // at most one CUPTI TimingSource at a time

std::shared_ptr<Correlator> active_correlator() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_correlator;
}

MemKind mem_kind_from_copy(uint8_t copy_kind) {
  switch (copy_kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return MemKind::kHostToDevice;
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return MemKind::kDeviceToHost;
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return MemKind::kDeviceToDevice;
    default: return MemKind::kOtherCopy;
  }
}

// Activity records are packed structs: every field is copied into a local by value;
// binding a reference to a packed field is undefined on strict-alignment targets and
// rejected by the compiler for non-packed reference types.
KernelRecord to_record(const cupti::KernelActivity* k) {
  KernelRecord r;
  r.correlation_id = k->correlationId;
  r.start_ns = static_cast<int64_t>(k->start);
  r.end_ns = static_cast<int64_t>(k->end);
  r.stream_id = k->streamId;
  r.device_id = k->deviceId;
  const char* name = k->name;
  r.name = name != nullptr ? name : "";
  r.grid_x = k->gridX;
  r.grid_y = k->gridY;
  r.grid_z = k->gridZ;
  r.block_x = k->blockX;
  r.block_y = k->blockY;
  r.block_z = k->blockZ;
  int32_t static_shared = k->staticSharedMemory;
  int32_t dynamic_shared = k->dynamicSharedMemory;
  r.shared_memory_bytes = static_shared + dynamic_shared;
  r.registers_per_thread = k->registersPerThread;
  r.graph_node_id = k->graphNodeId;
  return r;
}

/// The fields memcpy and memset records share (copied by value: the structs are packed).
template <typename Activity>
MemRecord mem_record(const Activity* m, MemKind kind) {
  MemRecord r;
  r.kind = kind;
  r.correlation_id = m->correlationId;
  r.start_ns = static_cast<int64_t>(m->start);
  r.end_ns = static_cast<int64_t>(m->end);
  r.size_bytes = m->bytes;
  r.stream_id = m->streamId;
  r.device_id = m->deviceId;
  r.graph_node_id = m->graphNodeId;
  return r;
}

MemRecord to_record(const cupti::MemcpyActivity* m) {
  uint8_t copy_kind = m->copyKind;
  return mem_record(m, mem_kind_from_copy(copy_kind));
}

MemRecord to_record(const cupti::MemsetActivity* m) { return mem_record(m, MemKind::kMemset); }

RuntimeApiRecord to_record(const cupti::ApiActivity* a, CUpti_CallbackDomain domain) {
  RuntimeApiRecord r;
  r.correlation_id = a->correlationId;
  CUpti_CallbackId cbid = a->cbid;
  r.cbid = cbid;
  const char* name = nullptr;
  if (cuptiGetCallbackName(domain, cbid, &name) == CUPTI_SUCCESS && name != nullptr) {
    r.name = name;
  }
  r.start_ns = static_cast<int64_t>(a->start);
  r.end_ns = static_cast<int64_t>(a->end);
  r.thread_id = a->threadId;
  return r;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_num_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kBufferAlignBytes, kBufferSizeBytes));
  *size = *buffer != nullptr ? kBufferSizeBytes : 0;
  *max_num_records = 0;  // as many as fit
}

// Called by CUPTI, on its own worker thread or inside cuptiActivityFlushAll on ours.
void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream_id, uint8_t* buffer, size_t /*size*/,
                               size_t valid_size) {
  // Parse first, with no lock of ours held. The CUPTI calls below take CUPTI's internal
  // locks, and a session thread inside cuptiActivityFlushAll holds those while this
  // callback runs (possibly on CUPTI's worker thread, with the flush waiting for it). If
  // either side held g_mutex across a CUPTI call, the two threads could each wait for the
  // lock the other holds (ABBA deadlock). So g_mutex is taken only to copy the Correlator
  // pointer, and the Correlator's own mutex only inside add_*, never around CUPTI.
  std::vector<KernelRecord> kernels;
  std::vector<MemRecord> mems;
  std::vector<RuntimeApiRecord> runtime_calls;
  std::vector<ExternalCorrelation> externals;
  CUpti_Activity* record = nullptr;
  while (buffer != nullptr && cuptiActivityGetNextRecord(buffer, valid_size, &record) == CUPTI_SUCCESS) {
    CUpti_ActivityKind kind = record->kind;
    switch (kind) {
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
      case CUPTI_ACTIVITY_KIND_KERNEL:
        kernels.push_back(to_record(reinterpret_cast<const cupti::KernelActivity*>(record)));
        break;
      case CUPTI_ACTIVITY_KIND_MEMCPY:
        mems.push_back(to_record(reinterpret_cast<const cupti::MemcpyActivity*>(record)));
        break;
      case CUPTI_ACTIVITY_KIND_MEMSET:
        mems.push_back(to_record(reinterpret_cast<const cupti::MemsetActivity*>(record)));
        break;
      case CUPTI_ACTIVITY_KIND_RUNTIME:
        runtime_calls.push_back(to_record(reinterpret_cast<const cupti::ApiActivity*>(record), CUPTI_CB_DOMAIN_RUNTIME_API));
        break;
      case CUPTI_ACTIVITY_KIND_DRIVER:
        runtime_calls.push_back(to_record(reinterpret_cast<const cupti::ApiActivity*>(record), CUPTI_CB_DOMAIN_DRIVER_API));
        break;
      case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: {
        auto* e = reinterpret_cast<const cupti::ExternalCorrelationActivity*>(record);
        CUpti_ExternalCorrelationKind external_kind = e->externalKind;
        if (external_kind != kExternalKind) break;  // another tool's ids (e.g. Kineto's)
        ExternalCorrelation c;
        c.external_id = e->externalId;
        c.correlation_id = e->correlationId;
        externals.push_back(c);
        break;
      }
      default: break;
    }
  }
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(context, stream_id, &dropped) != CUPTI_SUCCESS) dropped = 0;
  std::free(buffer);

  // A buffer completing after the session stopped has nowhere to go; it is discarded.
  std::shared_ptr<Correlator> correlator = active_correlator();
  if (correlator == nullptr) return;
  for (const ExternalCorrelation& c : externals) correlator->add_external(c);
  for (RuntimeApiRecord& r : runtime_calls) correlator->add_runtime(std::move(r));
  for (KernelRecord& k : kernels) correlator->add_kernel(std::move(k));
  for (MemRecord& m : mems) correlator->add_mem(m);
  if (dropped > 0) correlator->add_dropped(dropped);
}

/// The graph nodes created while an external id is pushed (CuptiRecords::kGraphNodes).
/// CUPTI calls on_resource on the thread that creates the node: the capturing session
/// thread for stream capture, and the instantiating one (in capture_end) for the clones
/// of an instantiated graph, whose ids are the ones kernel records of its replays carry.
/// Both the captured node's and its clone's ids are kept, so either id space resolves.
struct GraphNodeMap {
  std::atomic<uint64_t> current{0};  ///< the pushed external id; 0 outside every node
  std::mutex mutex;                  ///< guards `external_ids` (the callback may run on any thread)
  std::unordered_map<uint64_t, uint64_t> external_ids;
  std::atomic<int64_t> id_errors{0};  ///< cuptiGetGraphNodeId failures (reported by stop())

  void on_resource(CUpti_CallbackId cbid, const CUpti_ResourceData* data) {
    const auto* graph = static_cast<const CUpti_GraphData*>(data->resourceDescriptor);
    if (graph == nullptr || graph->node == nullptr) return;
    uint64_t id = 0;
    if (cuptiGetGraphNodeId(graph->node, &id) != CUPTI_SUCCESS) {
      ++id_errors;
      return;
    }
    if (cbid == CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED) {
      // Nodes made outside every pushed node (an instantiation's own copies) stay unmapped.
      const uint64_t external = current.load();
      if (external == 0) return;
      std::lock_guard<std::mutex> lock(mutex);
      external_ids[id] = external;
    } else if (cbid == CUPTI_CBID_RESOURCE_GRAPHNODE_CLONED) {
      uint64_t original = 0;
      if (graph->originalNode == nullptr || cuptiGetGraphNodeId(graph->originalNode, &original) != CUPTI_SUCCESS) {
        ++id_errors;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (auto it = external_ids.find(original); it != external_ids.end()) external_ids[id] = it->second;
    }
  }
};

void CUPTIAPI graph_node_callback(void* userdata, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                                  const void* cbdata) {
  if (domain != CUPTI_CB_DOMAIN_RESOURCE || userdata == nullptr || cbdata == nullptr) return;
  static_cast<GraphNodeMap*>(userdata)->on_resource(cbid, static_cast<const CUpti_ResourceData*>(cbdata));
}

class CuptiTimingSource final : public TimingSource {
 public:
  explicit CuptiTimingSource(CuptiRecords records)
      : correlated_(records == CuptiRecords::kCorrelated),
        graph_nodes_(records == CuptiRecords::kGraphNodes ? std::make_unique<GraphNodeMap>() : nullptr) {}
  ~CuptiTimingSource() override {
    if (running_) (void)stop();
    g_source_exists.store(false);
  }

  std::string name() const override { return "cupti"; }

  Status start() override {
    if (running_) return internal_error("CUPTI tracer started twice");
    Status status = enable();
    if (!status.is_ok()) {
      disable_enabled();
      // No driver or GPU, or another CUPTI client owning the activity API (Nsight, a second
      // profiler): the caller prints this one line and falls back to host timing.
      return failed("CUPTI could not start (no GPU driver, or another CUPTI client?): " + status.message());
    }
    auto correlator = std::make_shared<Correlator>();
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_correlator = correlator;
    }
    correlator_ = std::move(correlator);
    push_error_ = Status::ok();
    running_ = true;
    return Status::ok();
  }

  void push_node(uint64_t external_id, const std::string& label) override {
    if (!running_) return;
#if AK_HAVE_NVTX
    nvtxRangePushA(label.c_str());
#else
    (void)label;
#endif
    if (graph_nodes_) graph_nodes_->current.store(external_id);
    if (!correlated_) return;
    correlator_->note_pushed(external_id);
    CUptiResult result = cuptiActivityPushExternalCorrelationId(kExternalKind, external_id);
    if (result != CUPTI_SUCCESS && push_error_.is_ok()) {
      push_error_ = cupti::cupti_error("cuptiActivityPushExternalCorrelationId", result, __FILE__, __LINE__);
    }
  }

  void pop_node() override {
    if (!running_) return;
#if AK_HAVE_NVTX
    nvtxRangePop();
#endif
    if (graph_nodes_) graph_nodes_->current.store(0);
    if (!correlated_) return;
    uint64_t last_id = 0;
    CUptiResult result = cuptiActivityPopExternalCorrelationId(kExternalKind, &last_id);
    if (result != CUPTI_SUCCESS && push_error_.is_ok()) {
      push_error_ = cupti::cupti_error("cuptiActivityPopExternalCorrelationId", result, __FILE__, __LINE__);
    }
  }

  int64_t timestamp_ns() const override {
    uint64_t now = 0;
    if (cuptiGetTimestamp(&now) != CUPTI_SUCCESS) return 0;
    return static_cast<int64_t>(now);
  }

  Status flush() override {
    if (!running_) return Status::ok();
    AK_CUPTI_CHECK(cuptiActivityFlushAll(0));
    return Status::ok();
  }

  Result<CorrelationResult> stop() override {
    if (!running_) return internal_error("CUPTI tracer stopped while not running");
    running_ = false;
    // Forced flush delivers incomplete buffers too. buffer_completed runs during this call
    // (on this thread or CUPTI's worker, while CUPTI holds its own locks) and needs g_mutex
    // and the Correlator's mutex, so no lock of ours may be held here.
    CUptiResult flush_result = cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    disable_enabled();
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_correlator.reset();
    }
    std::shared_ptr<Correlator> correlator = std::move(correlator_);
    if (flush_result != CUPTI_SUCCESS) {
      return cupti::cupti_error("cuptiActivityFlushAll", flush_result, __FILE__, __LINE__);
    }
    if (!push_error_.is_ok()) return push_error_;
    CorrelationResult result = correlator->finish();
    if (graph_nodes_) {
      if (graph_nodes_->id_errors.load() > 0)
        return failed("cuptiGetGraphNodeId failed for " + std::to_string(graph_nodes_->id_errors.load()) +
                      " CUDA-graph nodes; their kernels cannot be attributed");
      std::lock_guard<std::mutex> lock(graph_nodes_->mutex);
      result.graph_node_external_ids = std::exchange(graph_nodes_->external_ids, {});
    }
    return result;
  }

 private:
  Status enable() {
    AK_CUPTI_CHECK(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed));
    for (const KindToEnable& k : kDeviceKinds) AK_RETURN_IF_ERROR(enable_kind(k.kind, k.call));
    if (graph_nodes_) return enable_graph_node_callbacks();
    if (!correlated_) return Status::ok();
    AK_RETURN_IF_ERROR(enable_kind(CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION, "cuptiActivityEnable(EXTERNAL_CORRELATION)"));
    return enable_api_records();
  }

  Status enable_kind(CUpti_ActivityKind kind, const char* call) {
    CUptiResult result = cuptiActivityEnable(kind);
    if (result != CUPTI_SUCCESS) return cupti::cupti_error(call, result, __FILE__, __LINE__);
    enabled_.push_back(kind);
    return Status::ok();
  }

  /// API records carry the correlation ids that external ids attach to, so the runtime
  /// and driver API kinds are enabled (the driver's too: some libraries launch with
  /// cuLaunchKernel(Ex) directly). Recording every call is costly: ATen makes several per
  /// op (cudaGetDevice, stream and capture queries...), which added ~40% to a launch-bound
  /// iteration. So, as CUPTI documents, the kinds are enabled and then every call that
  /// cannot launch, copy or set memory is disabled. AK_CUPTI_ALL_API=1 keeps them all.
  Status enable_api_records() {
    AK_RETURN_IF_ERROR(enable_kind(CUPTI_ACTIVITY_KIND_RUNTIME, "cuptiActivityEnable(RUNTIME)"));
    AK_RETURN_IF_ERROR(enable_kind(CUPTI_ACTIVITY_KIND_DRIVER, "cuptiActivityEnable(DRIVER)"));
    const char* all = std::getenv("AK_CUPTI_ALL_API");
    if (all != nullptr && std::string(all) == "1") return Status::ok();
    for (uint32_t cbid = 1; cbid < CUPTI_RUNTIME_TRACE_CBID_SIZE; ++cbid) {
      const char* name = nullptr;
      if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, cbid, &name) != CUPTI_SUCCESS || launches_work(name)) continue;
      if (cuptiActivityEnableRuntimeApi(cbid, 0) == CUPTI_SUCCESS) runtime_cbids_.push_back(cbid);
    }
    for (uint32_t cbid = 1; cbid < CUPTI_DRIVER_TRACE_CBID_SIZE; ++cbid) {
      const char* name = nullptr;
      if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_DRIVER_API, cbid, &name) != CUPTI_SUCCESS || launches_work(name)) continue;
      if (cuptiActivityEnableDriverApi(cbid, 0) == CUPTI_SUCCESS) driver_cbids_.push_back(cbid);
    }
    return Status::ok();
  }

  /// Graph-node creation and cloning through the callback API. One subscriber per process:
  /// CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED names another tool holding it.
  Status enable_graph_node_callbacks() {
    AK_CUPTI_CHECK(cuptiSubscribe(&subscriber_, graph_node_callback, graph_nodes_.get()));
    AK_CUPTI_CHECK(cuptiEnableCallback(1, subscriber_, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED));
    AK_CUPTI_CHECK(cuptiEnableCallback(1, subscriber_, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_GRAPHNODE_CLONED));
    return Status::ok();
  }

  void disable_enabled() {
    if (subscriber_ != nullptr) (void)cuptiUnsubscribe(subscriber_);
    subscriber_ = nullptr;
    // Back to CUPTI's default (every call of an enabled kind) for the next session; then
    // disabling the kinds turns every call off (a kind's switch overrides the per-call ones).
    for (uint32_t cbid : runtime_cbids_) (void)cuptiActivityEnableRuntimeApi(cbid, 1);
    for (uint32_t cbid : driver_cbids_) (void)cuptiActivityEnableDriverApi(cbid, 1);
    for (CUpti_ActivityKind kind : enabled_) (void)cuptiActivityDisable(kind);
    enabled_.clear();
    runtime_cbids_.clear();
    driver_cbids_.clear();
  }

  const bool correlated_;
  const std::unique_ptr<GraphNodeMap> graph_nodes_;  ///< kGraphNodes only
  CUpti_SubscriberHandle subscriber_ = nullptr;
  bool running_ = false;
  std::vector<CUpti_ActivityKind> enabled_;
  std::vector<uint32_t> runtime_cbids_, driver_cbids_;
  std::shared_ptr<Correlator> correlator_;
  Status push_error_;
};

}  // namespace

Result<std::unique_ptr<TimingSource>> make_cupti_timing_source(CuptiRecords records) {
  bool expected = false;
  if (!g_source_exists.compare_exchange_strong(expected, true)) {
    return failed("CUPTI could not start: another CUPTI timing source is active in this process");
  }
  return std::unique_ptr<TimingSource>(new CuptiTimingSource(records));
}

}  // namespace ak::profiler
