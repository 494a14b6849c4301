#pragma once
/// Plain records of GPU activity, as the timing source hands them to the Correlator.
///
/// These mirror the CUPTI activity records we use but hold no CUPTI types, so the
/// correlation logic and its tests build on machines without CUDA. Times are int64
/// nanoseconds on the tracer's clock (CUPTI's timestamp for the CUPTI source).

#include <cstdint>
#include <string>

namespace ak::profiler {

/// One kernel execution on the device.
struct KernelRecord {
  uint64_t correlation_id = 0;  ///< the runtime/driver API call that launched it; 0 = none
  uint64_t external_id = 0;     ///< node index + 1 once attributed by the Correlator; 0 = none
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint32_t stream_id = 0;
  uint32_t device_id = 0;
  std::string name;  ///< the kernel's (mangled) symbol name
  int32_t grid_x = 0, grid_y = 0, grid_z = 0;
  int32_t block_x = 0, block_y = 0, block_z = 0;
  int32_t shared_memory_bytes = 0;  ///< static + dynamic shared memory per block
  int32_t registers_per_thread = 0;
  /// The CUDA-graph node that launched it in a graph replay (CUPTI's graphNodeId, the node
  /// of the instantiated graph); 0 when it was not launched by a graph.
  uint64_t graph_node_id = 0;
};

/// What a memory record moved or filled.
enum class MemKind : uint8_t {
  kMemset,
  kHostToDevice,
  kDeviceToHost,
  kDeviceToDevice,
  kOtherCopy,  ///< peer, array or any other copy kind
};

/// "memset", "HtoD", "DtoH", "DtoD", "copy".
const char* mem_kind_name(MemKind kind);

/// One memcpy or memset executed on the device.
struct MemRecord {
  MemKind kind = MemKind::kOtherCopy;
  uint64_t correlation_id = 0;  ///< 0 = none
  uint64_t external_id = 0;     ///< filled in by the Correlator; 0 = none
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t size_bytes = 0;
  uint32_t stream_id = 0;
  uint32_t device_id = 0;
  uint64_t graph_node_id = 0;  ///< as KernelRecord::graph_node_id
};

/// One CUDA runtime API call on the host (e.g. cudaLaunchKernel) and how long it took.
struct RuntimeApiRecord {
  uint64_t correlation_id = 0;
  uint64_t external_id = 0;  ///< filled in by the Correlator; 0 = none
  uint32_t cbid = 0;         ///< CUPTI runtime callback id
  std::string name;          ///< the API function's name when known, else empty
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint32_t thread_id = 0;
};

/// Says that the API call `correlation_id` was made while `external_id` was pushed.
struct ExternalCorrelation {
  uint64_t external_id = 0;
  uint64_t correlation_id = 0;
};

}  // namespace ak::profiler
