#pragma once
/// Runtime fusions: rewrites of the graph IR that replace common multi-node patterns of
/// exported models by one node that runs as one ATen call. The patterns come from
/// models/patterns.h (both exporters' forms); each fused node is in the domain
/// "com.autokernel" and lists the original node names in its string-list attribute
/// "fused_nodes", so reports can map it back.
///
///   attention matches  => com.autokernel.Attention(q, kt, v[, mask]) {scale, mask_kind
///                         (0 none, 1 additive, 2 boolean: masked where true), mask_fill}
///                         (not the form with an IsNaN guard: SDPA does not zero masked rows)
///   gelu matches       => com.autokernel.Gelu(x), the erf form only (the tanh form stays
///                         op by op: tasks extract its nodes by name)
///
/// A match's intermediates have no consumer outside it and are not graph outputs, so the
/// rewrite never changes what the graph computes.

#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::models {

/// The string-list attribute of a fused node that names the nodes it replaced. It names
/// things, so it is not part of what the node computes (workload keys and task attributes
/// leave it out).
inline constexpr const char* kFusedNodesAttribute = "fused_nodes";

struct FusionReport {
  int attention = 0;
  int gelu = 0;
};

/// Returns `graph` with the patterns above fused (subgraphs are left alone).
Graph fuse_graph(const Graph& graph, FusionReport* report = nullptr);

}  // namespace ak::models
