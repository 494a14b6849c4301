#pragma once
/// Swap-in: the verified kernels of a pack (kernels/pack.h) put into a model's graph.
///
/// While a Session prepares, each pack entry's subgraph (the ONNX nodes its task computes)
/// is matched against the graph: structure, attributes, dtypes and ranks. Each matched
/// instance becomes one node (domain com.autokernel, op PackKernel) that keeps the original
/// nodes as its fallback; at run time it calls the kernel through the ABI on the session's
/// stream, into outputs the session allocated, when the instance's shapes lie inside the
/// entry's verified ranges, and runs the original nodes otherwise. Torch-free.

#include <filesystem>
#include <string>
#include <vector>

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
  /// "kernels: swapped 17 of 17 instances of 3 workloads; 1 entry matched nothing"
  std::string summary() const;
};

}  // namespace ak::models
