#pragma once
/// Runtime fusions: rewrites of the graph IR that replace common multi-node patterns of
/// exported models by one node that runs as one ATen call. Each fused node is in the
/// domain "com.autokernel" and lists the original node names in its string-list
/// attribute "fused_nodes", so reports can map it back.
///
///   Attention: MatMul(Q, Kt) [-> Div|Mul by a scalar] [-> Add(mask) | Where(cond, fill <= -1e30, .)]
///              -> Softmax(axis=-1) -> MatMul(., V)   => com.autokernel.Attention
///   Gelu:      Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x, .) -> Mul(0.5)  => com.autokernel.Gelu
///
/// A pattern is fused only when every intermediate value has exactly one consumer and is
/// not a graph output, so the rewrite never changes what the graph computes.

#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::models {

struct FusionReport {
  int attention = 0;
  int gelu = 0;
};

/// Returns `graph` with the patterns above fused (subgraphs are left alone).
Graph fuse_graph(const Graph& graph, FusionReport* report = nullptr);

}  // namespace ak::models
