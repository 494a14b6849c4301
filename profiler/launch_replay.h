#pragma once
/// Replay attribution: joining device records to nodes by launch order, so the profiled
/// iterations need no API records.
///
/// Why: attributing a kernel through external correlation needs CUPTI's runtime and driver
/// API records, and those cost the host ~3 us per launch. A launch-bound model (a
/// transformer at batch 1) shows that cost in full: its profiled iterations took ~1.5x
/// an unprofiled one. Kernel, memcpy and memset records alone cost far less.
///
/// How: a model run on fixed inputs launches the same device work in the same order every
/// iteration. A calibration iteration traced with external correlation gives that order,
/// one step per kernel or memory operation with the node that launched it
/// (launch_order). The profiled iterations are traced with device records only (before
/// the calibration: once API records have been enabled, CUPTI keeps a per-call cost); their
/// records, put in launch order (CUPTI's correlation ids grow with each API call, and a
/// stream runs its work in launch order), are cut into iterations of the calibration's
/// length and matched step by step (attribute_by_launch_order). Every step must match
/// exactly: the kernel's name, grid and block, or the copy's kind and size. Anything else
/// (another count, another kernel at some step) is an error naming the first difference,
/// and the caller falls back to external correlation for the profiled iterations. Replay
/// never guesses: a record is attributed to the node whose launch it provably repeats.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "profiler/correlation.h"

namespace ak::profiler {

/// One kernel or memory operation of an iteration, in launch order.
struct LaunchStep {
  size_t node_index = 0;
  std::string signature;  ///< launch_signature() of the record
};

/// Hands `kernel` or `mem` (one of them non-null) to `correlator` under `correlation_id`,
/// its external id cleared: how the attributions that place records themselves (this one
/// and graph_attribution.h) let the Correlator compute busy times and per-node sums.
void add_placed(Correlator& correlator, const KernelRecord* kernel, const MemRecord* mem, uint64_t correlation_id);
/// correlator.finish(), with the dropped, duplicate and invalid counts of `traced` carried over.
CorrelationResult finish_placed(Correlator& correlator, const CorrelationResult& traced);

/// What must repeat for a record to be the same launch: "name<<<grid|block>>>" for a
/// kernel, "memset:bytes" (or the copy kind) for a memory operation.
std::string launch_signature(const KernelRecord& kernel);
std::string launch_signature(const MemRecord& mem);

/// The launch order of `iteration` in a session traced with external ids
/// `iteration * node_count + node_index + 1`. Fails when the iteration launched nothing,
/// or when an unattributed record falls inside it (work launched outside every node
/// cannot be replayed).
Result<std::vector<LaunchStep>> launch_order(const CorrelationResult& calibration, int64_t iteration,
                                             size_t node_count);

/// Attributes the records of `iterations` back-to-back iterations traced without API
/// records (every record in `traced` unattributed) by `order`. The result is what a
/// Correlator would have produced with external ids `iteration * node_count +
/// node_index + 1`, iterations numbered from 0; dropped, duplicate and invalid counts
/// carry over. Fails, naming the first difference, unless every record matches.
Result<CorrelationResult> attribute_by_launch_order(const std::vector<LaunchStep>& order,
                                                    const CorrelationResult& traced, int iterations,
                                                    size_t node_count);

}  // namespace ak::profiler
