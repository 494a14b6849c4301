#pragma once
/// TimingSource: where device timings come from (CUPTI on a GPU; host clock or synthetic
/// records elsewhere). The profiler's NodeObserver calls push_node/pop_node around each
/// top-level node; the source tags everything launched in between with that node's
/// external id, and stop() hands back the joined CorrelationResult.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "profiler/correlation.h"

namespace ak::profiler {

/// Not thread-safe: call from the thread that runs the session, one session at a time.
class TimingSource {
 public:
  virtual ~TimingSource() = default;

  /// "cupti", "host", ... for reports.
  virtual std::string name() const = 0;
  /// Begins collecting. A failure is one line the caller can print before falling back.
  virtual Status start() = 0;
  /// Marks the start of a node: launches until the matching pop_node() are attributed to
  /// `external_id` (node index + 1; 0 is reserved). `label` names the range in tools
  /// such as Nsight Systems (NVTX) when the source supports it.
  virtual void push_node(uint64_t external_id, const std::string& label) = 0;
  /// Ends the innermost push_node().
  virtual void pop_node() = 0;
  /// Now, on the clock the source's records use (for host spans in traces).
  virtual int64_t timestamp_ns() const = 0;
  /// Delivers the records completed so far to the Correlator without stopping.
  virtual Status flush() = 0;
  /// Stops collecting, flushes every buffer (including incomplete ones) and returns the
  /// joined records since start(). The source may be started again afterwards.
  virtual Result<CorrelationResult> stop() = 0;
};

/// What the CUPTI source records.
enum class CuptiRecords {
  /// Kernels, memcpys and memsets, the runtime and driver API calls that launch them, and
  /// the pushed external ids: stop() returns every record joined to its node.
  kCorrelated,
  /// Kernels, memcpys and memsets only: the cheapest tracing, for launch-bound models.
  /// stop() returns every record unattributed; launch_replay.h attributes them.
  kDeviceOnly,
  /// As kDeviceOnly, plus the CUDA-graph nodes created while a node is pushed (CUPTI's
  /// resource callbacks on graph-node creation and cloning): stop() returns every record
  /// unattributed, each with its graph_node_id, and the map from graph node ids to the
  /// pushed external ids (CorrelationResult::graph_node_external_ids) that
  /// graph_attribution.h joins them with. Needs CUPTI's callback API, which allows one
  /// subscriber per process: start() fails when another tool holds it.
  kGraphNodes,
};

/// The CUPTI activity tracer. Fails with one line ("CUPTI not available in this build",
/// or CUPTI's reason, e.g. no driver or another CUPTI subscriber) so the caller can fall
/// back to host timing. CUPTI is process-global: at most one CUPTI source exists at a time.
Result<std::unique_ptr<TimingSource>> make_cupti_timing_source(CuptiRecords records = CuptiRecords::kCorrelated);

/// Host timing: each node's wall time between push_node and pop_node on the steady clock,
/// delivered as one record per node named "(host)" so every source feeds the same joined
/// result. `synchronize` (may be empty) is called before both timestamps; on a GPU it
/// waits for the device, so a node's span covers its kernels (and costs a sync per node).
/// push_node/pop_node make no heap allocation (up to 65,536 spans per start()): a block
/// that outlives a node fragments the heap the model's buffers reuse, and the page faults
/// that follow inflate node times (docs/profiler.md, "Host timing on the CPU").
std::unique_ptr<TimingSource> make_host_timing_source(std::function<void()> synchronize);

}  // namespace ak::profiler
