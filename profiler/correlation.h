#pragma once
/// Correlator: joins device activity (kernels, memcpys, memsets) to the nodes that
/// launched them, Kineto-style, from records that may arrive in any order.
///
/// How records are joined: the timing source pushes an external id (node index + 1 of the
/// iteration) around each node's launches. CUPTI then emits an ExternalCorrelation record
/// {external_id, correlation_id} for every API call made while it is pushed, and each
/// kernel/memcpy/memset record carries the correlation id of the API call that launched
/// it. A device record is attributed to external id E when an ExternalCorrelation record
/// maps its correlation id to E. The join is done in finish(), so records may arrive in
/// any order and across any number of buffers.
///
/// What is unattributed: a device record whose correlation id is 0 (no correlation), whose
/// correlation id no ExternalCorrelation record mentions (launched outside any node), or
/// whose external id was never pushed (when pushed ids were declared with note_pushed()).
/// Dropped records are those the tracer reports as lost (CUPTI buffer overflow); they are
/// only counted. Duplicates (the same record ingested twice) are counted and ignored.
/// Records whose end is before their start are counted as invalid and ignored.
///
/// GPU busy time: per device, the length of the union of all valid kernel intervals, so
/// kernels overlapping on concurrent streams are not counted twice.

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "profiler/kernel_record.h"

namespace ak::profiler {

/// Everything attributed to one external id (one node, over every iteration traced).
struct NodeActivity {
  uint64_t external_id = 0;
  std::vector<KernelRecord> kernels;            ///< sorted by start_ns
  std::vector<MemRecord> mems;                  ///< sorted by start_ns
  std::vector<RuntimeApiRecord> runtime_calls;  ///< sorted by start_ns
  int64_t kernel_sum_ns = 0;   ///< sum of kernel durations
  int64_t kernel_busy_ns = 0;  ///< union of this node's kernel intervals, summed over devices
  int64_t mem_sum_ns = 0;      ///< sum of memcpy/memset durations
};

/// Why a device record could not be attributed to a node.
struct UnattributedCounts {
  int64_t no_correlation = 0;       ///< correlation id 0
  int64_t no_external_id = 0;       ///< no ExternalCorrelation record for its correlation id
  int64_t unknown_external_id = 0;  ///< mapped to an external id that was never pushed
  int64_t total() const { return no_correlation + no_external_id + unknown_external_id; }
};

/// The outcome of one traced session.
struct CorrelationResult {
  std::map<uint64_t, NodeActivity> nodes;  ///< by external id
  std::vector<KernelRecord> unattributed_kernels;  ///< sorted by start_ns; external_id 0
  std::vector<MemRecord> unattributed_mems;        ///< sorted by start_ns; external_id 0
  UnattributedCounts unattributed;                 ///< kernels and mems together
  int64_t unattributed_runtime_calls = 0;  ///< runtime API calls made outside any node
  uint64_t dropped_records = 0;            ///< lost by the tracer (reported, not recovered)
  int64_t duplicate_records = 0;           ///< ingested more than once; the copies are ignored
  int64_t invalid_records = 0;             ///< end_ns < start_ns; ignored
  int64_t conflicting_external = 0;  ///< a correlation id mapped to a second external id (first wins)
  std::map<uint32_t, int64_t> busy_ns_by_device;  ///< union of kernel intervals per device
  /// CUDA-graph nodes created during a capture (CuptiRecords::kGraphNodes): graph node id
  /// (of the captured graph and of its instantiated clone) -> the external id pushed while
  /// it was created. Empty for every other source.
  std::unordered_map<uint64_t, uint64_t> graph_node_external_ids;

  /// Busy time summed over devices, in nanoseconds.
  int64_t busy_ns() const;
};

/// A time interval [start_ns, end_ns).
struct Interval {
  int64_t start_ns;
  int64_t end_ns;
};
/// Length of the union of `intervals` (overlaps counted once), in ns.
int64_t union_length_ns(std::vector<Interval> intervals);

/// Thread-safe: the add_* methods may be called from CUPTI's buffer-completion thread
/// while the session thread calls note_pushed(); an internal mutex guards the state and
/// no callback is made while it is held.
class Correlator {
 public:
  Correlator();
  ~Correlator();
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  void add_kernel(KernelRecord record);
  void add_mem(MemRecord record);
  void add_runtime(RuntimeApiRecord record);
  void add_external(const ExternalCorrelation& correlation);
  /// Adds `count` records the tracer reports as dropped.
  void add_dropped(uint64_t count);
  /// Declares that `external_id` was pushed. Once any id is declared, records mapped to an
  /// undeclared id are unattributed (unknown_external_id); with none declared, every
  /// non-zero external id is trusted.
  void note_pushed(uint64_t external_id);

  /// Joins everything ingested so far, returns the result and resets the Correlator.
  CorrelationResult finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ak::profiler
