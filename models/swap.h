#pragma once
/// Swap-in: the verified kernels of a pack (kernels/pack.h) put into a model's graph.
///
/// While a Session prepares, each pack entry's subgraph (the ONNX nodes its task computes)
/// is matched against the graph: structure, attributes, dtypes and ranks. Each matched
/// instance becomes one node (domain com.autokernel, op PackKernel) that keeps the original
/// nodes as its fallback; at run time it calls the kernel through the ABI on the session's
/// stream, into outputs the session allocated, when the instance's shapes lie inside the
/// entry's verified ranges, and runs the original nodes otherwise. Torch-free.

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/kernel_library.h"
#include "kernels/pack.h"
#include "kernels/task.h"
#include "models/graph.h"

namespace ak::models {

/// Which kernels of a pack a session swaps in. Empty `pack`: none.
struct SwapOptions {
  std::filesystem::path pack;
  /// Only these entry ids (empty: every entry); `autokernel verify` bisects with it.
  std::vector<std::string> only_entries;
  /// Only the instances whose first node has one of these names (empty: every instance).
  std::vector<std::string> only_instances;
};

/// One matched instance of an entry.
struct SwapInstance {
  std::string entry;               ///< the entry id
  std::string workload;            ///< the entry's workload hash
  std::vector<std::string> nodes;  ///< the replaced nodes' names, graph order
  /// Runs that used the kernel and runs that fell back to the original nodes because the
  /// shapes were outside the verified ranges (counted by the session as it runs).
  int64_t kernel_calls = 0, fallbacks = 0;
  std::string last_fallback_reason;  ///< "axis batch = 64 is outside the verified 1..8"
};

/// What swap-in did while the session prepared.
struct SwapReport {
  int entries = 0;             ///< entries considered (after only_entries)
  int workloads = 0;           ///< distinct workloads among the matched entries
  std::vector<SwapInstance> instances;  ///< swapped, in graph order
  std::vector<std::string> unmatched_entries;  ///< entries that matched nothing
  bool cuda = false;              ///< the session's device is CUDA (else the CPU)
  int other_device_entries = 0;   ///< entries for the other device, left out (not in `entries`)
  /// "kernels: swapped 17 instances of 3 workloads (3 of 4 entries); 1 entry matched
  /// nothing"; a pack for the other device says so: "kernels: swapped 0 instances; 3
  /// entries are for cuda, not cpu".
  std::string summary() const;
};

/// What the runtime needs to run one swapped-in node (models/ops/pack_kernel.cpp).
struct SwapBinding {
  std::string entry;                        ///< the entry id
  kernels::Task task;                       ///< the entry's task: axes, argument order, dtypes
  std::vector<kernels::AxisRange> ranges;   ///< the verified sizes of its var axes
  std::shared_ptr<const kernels::KernelLibrary> library;  ///< loaded once per entry
  size_t instance = 0;                      ///< index into SwapPlan::report.instances
};

/// A graph with a pack's kernels swapped in, and what runs them.
struct SwapPlan {
  Graph graph;        ///< the input graph with each instance replaced by a PackKernel node
  SwapReport report;  ///< the session counts kernel calls and fallbacks into it as it runs
  std::map<std::string, SwapBinding> bindings;  ///< by PackKernel node name
};

/// Reads the pack `options.pack`; for each entry for this device (`cuda` or not) and in
/// options.only_entries, matches its subgraph.onnx against `model`'s top-level graph,
/// confirms each instance's workload key (models/workload.h) equals the subgraph's, builds
/// the entry's source through the build cache (for this machine's architecture) and loads
/// it. Entries for the other device are left out. kInvalidInput, naming the pack, the entry
/// and the problem, for a bad pack, a source that does not build, a library without the
/// ABI entry point, or an entry whose task does not fit its subgraph.
Result<SwapPlan> plan_swap_in(const Model& model, const SwapOptions& options, bool cuda);

}  // namespace ak::models
