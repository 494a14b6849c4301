#pragma once
/// Fusion groups: sets of top-level nodes that one kernel could compute, so the ranking
/// can weigh "fuse these" against "speed up this node". A thin adapter over the graph
/// patterns (models/patterns.h: the forms of both torch.onnx exporters), of these kinds,
/// tried in this order (a node joins at most one group):
///
///   attention, residual_layer_norm (the residual Add with the LayerNorm it feeds, a
///   LayerNormalization node or the decomposed chain), layer_norm (decomposed chains only: a
///   LayerNormalization node is one kernel already), residual_rms_norm, rms_norm (with
///   dynamo's float32 casts), softmax (decomposed, or a Softmax node with its scale and mask
///   outside attention), rotary, gelu (erf and tanh forms), gated_mlp, gemm_epilogue,
///   conv_epilogue, elementwise_chain (maximal runs of >= 2 elementwise ops of
///   kernels/op_traits.h, each feeding only the next).
///
/// Every group has exactly one node whose outputs leave it (its last): a match is dropped
/// when any intermediate value has a consumer outside the group or is a graph output,
/// because then the fused kernel would still have to write it. The residual norms are the
/// exception: their Add's output h may leave too (the residual stream), so they have two
/// outputs, y then h (h only when it is read outside).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/graph.h"
#include "models/patterns.h"
#include "profiler/cost_model.h"

namespace ak::profiler {

/// A group's kind is its pattern's (printed with models::pattern_kind_name).
using FusionKind = models::PatternKind;

/// A set of top-level nodes one kernel could compute.
struct FusionGroup {
  FusionKind kind = FusionKind::kElementwiseChain;
  std::vector<size_t> nodes;         ///< indices into graph.nodes, in graph (topological) order
  std::vector<std::string> inputs;   ///< values read from outside the group (initializers included)
  std::vector<std::string> outputs;  ///< values the group must write (used outside or graph outputs)
  models::PatternMatch match;        ///< the pattern's typed fields (epsilon, scale, mask, ...)
  /// A label for reports: "<kind>:<first node name>..<last node name>".
  std::string name;
};

/// Finds the groups above among `graph`'s top-level nodes (subgraphs are not searched).
std::vector<FusionGroup> find_fusion_groups(const models::Graph& graph);

/// The cost of running `group` as one kernel: the members' FLOPs summed; bytes only of the
/// group's inputs and outputs (intermediates stay on chip), from `value_bytes`
/// (cost_model.h's value_bytes_of). `node_costs` is indexed like graph.nodes. Its op class
/// is the class of the group's heaviest part ("attention", "matmul", "conv",
/// "normalization" or "elementwise"). A roofline of it should use kernel_count = 1.
NodeCost group_cost(const FusionGroup& group, const std::vector<NodeCost>& node_costs,
                    const std::map<std::string, double>& value_bytes);

/// The measured time of `group` as it runs today (unfused): the sum of its members' times
/// from `node_time_ns` (indexed like graph.nodes; missing entries count 0).
int64_t group_time_ns(const FusionGroup& group, const std::vector<int64_t>& node_time_ns);

}  // namespace ak::profiler
