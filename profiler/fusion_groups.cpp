#include "profiler/fusion_groups.h"

namespace ak::profiler {

std::vector<FusionGroup> find_fusion_groups(const models::Graph& graph) {
  using models::PatternKind;
  models::PatternOptions options;
  // Most specific patterns first: a LayerNorm contains an RMSNorm-like tail, and every
  // pattern contains elementwise runs. A norm takes the residual Add that makes its input
  // (before a GEMM epilogue could take it as a residual).
  options.kinds = {PatternKind::kAttention,         PatternKind::kResidualLayerNorm, PatternKind::kLayerNorm,
                   PatternKind::kResidualRmsNorm,   PatternKind::kRmsNorm,           PatternKind::kSoftmax,
                   PatternKind::kRotary,            PatternKind::kGelu,              PatternKind::kGatedMlp,
                   PatternKind::kGemmEpilogue,      PatternKind::kConvEpilogue,      PatternKind::kElementwiseChain};
  options.single_node_layer_norm = false;
  std::vector<FusionGroup> groups;
  for (models::PatternMatch& m : models::find_patterns(graph, options)) {
    FusionGroup g;
    g.kind = m.kind;
    g.nodes = m.nodes;
    g.inputs = m.inputs;
    g.outputs = m.outputs;
    g.name = std::string(models::pattern_kind_name(m.kind)) + ":" + graph.nodes[m.nodes.front()].name + ".." +
             graph.nodes[m.nodes.back()].name;
    g.match = std::move(m);
    groups.push_back(std::move(g));
  }
  return groups;
}

NodeCost group_cost(const FusionGroup& group, const std::vector<NodeCost>& node_costs,
                    const std::map<std::string, double>& value_bytes) {
  NodeCost cost;
  for (size_t i : group.nodes)
    if (i < node_costs.size()) cost.flops += node_costs[i].flops;
  for (const auto* names : {&group.inputs, &group.outputs})
    for (const auto& v : *names) {
      auto it = value_bytes.find(v);
      if (it != value_bytes.end()) cost.bytes += it->second;
    }
  switch (group.kind) {
    case FusionKind::kAttention: cost.op_class = "attention"; break;
    case FusionKind::kGemmEpilogue: cost.op_class = "matmul"; break;
    case FusionKind::kConvEpilogue: cost.op_class = "conv"; break;
    case FusionKind::kLayerNorm:
    case FusionKind::kRmsNorm:
    case FusionKind::kResidualLayerNorm:
    case FusionKind::kResidualRmsNorm:
    case FusionKind::kSoftmax: cost.op_class = "normalization"; break;
    case FusionKind::kGelu:
    case FusionKind::kRotary:
    case FusionKind::kGatedMlp:
    case FusionKind::kElementwiseChain: cost.op_class = "elementwise"; break;
  }
  return cost;
}

int64_t group_time_ns(const FusionGroup& group, const std::vector<int64_t>& node_time_ns) {
  int64_t total = 0;
  for (size_t i : group.nodes)
    if (i < node_time_ns.size()) total += node_time_ns[i];
  return total;
}

}  // namespace ak::profiler
