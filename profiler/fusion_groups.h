#pragma once
/// Fusion groups: chains of top-level nodes that one kernel could compute, so the ranking
/// can weigh "fuse these" against "speed up this node". Patterns, tried in this order (a
/// node joins at most one group):
///
///   kAttention        MatMul(Q, Kt) [-> Div|Mul scale] [-> Add mask | Where] -> Softmax -> MatMul(., V)
///   kLayerNorm        ReduceMean -> Sub -> Pow|Mul(d, d) -> ReduceMean -> Add(eps) -> Sqrt -> Div
///                     [-> Mul(gamma) [-> Add(beta)]]
///   kRmsNorm          Pow|Mul(x, x) -> ReduceMean -> Add(eps) -> Sqrt -> Div(x, .) | Reciprocal -> Mul(x, .)
///                     [-> Mul(gamma)]
///   kSoftmax          [ReduceMax -> Sub ->] Exp -> ReduceSum -> Div(exp, sum)
///   kGelu             erf form:  Div|Mul(x, c) -> Erf -> Add(1) -> Mul(x | 0.5x) [-> Mul(0.5)]
///                     tanh form: Pow(x, 3) -> Mul -> Add(x, .) -> Mul -> Tanh -> Add(1) -> Mul [-> Mul]
///                     (a Mul(x, 0.5) feeding the final Mul joins the group)
///   kGemmEpilogue     MatMul|Gemm -> [Add bias] -> [activation], at least one of the two
///   kConvEpilogue     Conv|ConvTranspose -> [Add bias] -> [activation], at least one
///   kElementwiseChain maximal runs of >= 2 elementwise ops, each feeding only the next
///
/// Every group has exactly one value that leaves it (its last node's output): a match is
/// dropped when any intermediate value has a consumer outside the group or is a graph
/// output, because then the fused kernel would still have to write it.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/graph.h"
#include "profiler/cost_model.h"

namespace ak::profiler {

enum class FusionKind { kAttention, kLayerNorm, kRmsNorm, kSoftmax, kGelu, kGemmEpilogue, kConvEpilogue, kElementwiseChain };

/// "attention", "layer_norm", "rms_norm", "softmax", "gelu", "gemm_epilogue", "conv_epilogue",
/// "elementwise_chain".
const char* fusion_kind_name(FusionKind kind);

/// A set of top-level nodes one kernel could compute.
struct FusionGroup {
  FusionKind kind = FusionKind::kElementwiseChain;
  std::vector<size_t> nodes;         ///< indices into graph.nodes, in graph (topological) order
  std::vector<std::string> inputs;   ///< values read from outside the group (initializers included)
  std::vector<std::string> outputs;  ///< values the group must write (used outside or graph outputs)
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
