#include "profiler/fusion_groups.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/models/model_builder.h"

namespace ak::profiler {
namespace {

using models::DType;
using models::Graph;
using models::testing::node;
using models::testing::tensor_info;

/// The scalar constants the patterns check (models/patterns.h reads their values).
const std::map<std::string, float> kScalars = {
    {"two", 2.f},   {"three", 3.f},   {"eps", 1e-5f},  {"scale", 0.125f},         {"fill", -1e30f},
    {"one", 1.f},   {"half", 0.5f},   {"sqrt2", 1.4142135f}, {"c1", 0.044715f}, {"c2", 0.7978846f}};

/// ReduceMean over the last axis (the only form the norm patterns take).
models::Node mean_of(const std::string& x, const std::string& y) {
  models::Attribute axes;
  axes.name = "axes";
  axes.type = models::Attribute::Type::kInts;
  axes.ints = {-1};
  return node("ReduceMean", {x}, {y}, {axes});
}

/// A graph of `nodes` whose inputs named in kScalars are scalar initializers.
Graph graph_of(std::vector<models::Node> nodes, const std::vector<std::string>& outputs) {
  Graph g;
  g.name = "g";
  g.nodes = std::move(nodes);
  for (const auto& o : outputs) g.outputs.push_back(tensor_info(o, DType::kFloat32, {4}));
  for (const auto& [name, value] : kScalars)
    for (const auto& n : g.nodes)
      if (std::find(n.inputs.begin(), n.inputs.end(), name) != n.inputs.end()) {
        g.initializers.push_back(models::testing::float_tensor(name, {}, {value}));
        break;
      }
  return g;
}

std::vector<std::string> op_types(const Graph& g, const FusionGroup& group) {
  std::vector<std::string> ops;
  for (size_t i : group.nodes) ops.push_back(g.nodes[i].op_type);
  return ops;
}

const FusionGroup* find_kind(const std::vector<FusionGroup>& groups, FusionKind kind) {
  for (const auto& g : groups)
    if (g.kind == kind) return &g;
  return nullptr;
}

using Ops = std::vector<std::string>;
using Names = std::vector<std::string>;

TEST(FusionGroups, ElementwiseChain) {
  const Graph g = graph_of({node("Transpose", {"in"}, {"x"}), node("Add", {"x", "b"}, {"a"}), node("Relu", {"a"}, {"r"}),
                            node("Mul", {"r", "c"}, {"y"})},
                           {"y"});
  const auto groups = find_fusion_groups(g);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kElementwiseChain);
  EXPECT_EQ(op_types(g, groups[0]), (Ops{"Add", "Relu", "Mul"}));
  EXPECT_EQ(groups[0].inputs, (Names{"x", "b", "c"}));
  EXPECT_EQ(groups[0].outputs, (Names{"y"}));
  EXPECT_EQ(groups[0].name, "elementwise_chain:Add_a..Mul_y");

  // One launch moving only x, b, c and y: the intermediates a and r vanish.
  const std::map<std::string, double> bytes = {{"in", 400}, {"x", 400}, {"b", 4},  {"a", 400},
                                               {"r", 400},  {"c", 4},   {"y", 400}};
  std::vector<NodeCost> costs = {{0, 800, "data_movement"}, {100, 804, "elementwise"}, {100, 800, "elementwise"},
                                 {100, 804, "elementwise"}};
  const NodeCost c = group_cost(groups[0], costs, bytes);
  EXPECT_DOUBLE_EQ(c.flops, 300);
  EXPECT_DOUBLE_EQ(c.bytes, 808);
  EXPECT_STREQ(c.op_class, "elementwise");
  EXPECT_EQ(group_time_ns(groups[0], {5000, 1000, 2000, 3000}), 6000);
}

TEST(FusionGroups, ChainStopsAtAValueWithASecondConsumer) {
  // r also feeds z: the chain may not swallow it, so Mul stays outside.
  const Graph g = graph_of({node("Add", {"x", "b"}, {"a"}), node("Relu", {"a"}, {"r"}), node("Mul", {"r", "c"}, {"y"}),
                            node("Transpose", {"r"}, {"z"})},
                           {"y", "z"});
  const auto groups = find_fusion_groups(g);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(op_types(g, groups[0]), (Ops{"Add", "Relu"}));
  EXPECT_EQ(groups[0].outputs, (Names{"r"}));

  // A graph output in the middle blocks fusion the same way.
  const Graph g2 = graph_of({node("Add", {"x", "b"}, {"a"}), node("Relu", {"a"}, {"r"})}, {"a", "r"});
  EXPECT_TRUE(find_fusion_groups(g2).empty());
}

std::vector<models::Node> attention_nodes() {
  return {node("MatMul", {"q", "kt"}, {"s"}), node("Div", {"s", "scale"}, {"d"}), node("Add", {"d", "mask"}, {"m"}),
          node("Softmax", {"m"}, {"p"}), node("MatMul", {"p", "v"}, {"y"})};
}

TEST(FusionGroups, Attention) {
  const Graph g = graph_of(attention_nodes(), {"y"});
  const auto groups = find_fusion_groups(g);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kAttention);
  EXPECT_EQ(groups[0].nodes.size(), 5u);
  EXPECT_EQ(groups[0].inputs, (Names{"q", "kt", "scale", "mask", "v"}));
  EXPECT_EQ(group_cost(groups[0], {}, {}).op_class, std::string("attention"));
}

TEST(FusionGroups, AttentionWithWhereMaskAndMulScale) {
  const Graph g = graph_of({node("MatMul", {"q", "kt"}, {"s"}), node("Mul", {"s", "scale"}, {"d"}),
                            node("Where", {"cond", "fill", "d"}, {"m"}), node("Softmax", {"m"}, {"p"}),
                            node("MatMul", {"p", "v"}, {"y"})},
                           {"y"});
  const auto groups = find_fusion_groups(g);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kAttention);
  EXPECT_EQ(groups[0].inputs, (Names{"q", "kt", "scale", "cond", "fill", "v"}));
}

TEST(FusionGroups, NoAttentionWhenProbabilitiesAreUsedElsewhere) {
  const Graph g = graph_of(attention_nodes(), {"y", "p"});
  const auto groups = find_fusion_groups(g);
  EXPECT_EQ(find_kind(groups, FusionKind::kAttention), nullptr);
}

std::vector<models::Node> layer_norm_nodes() {
  return {mean_of("x", "mu"),   node("Sub", {"x", "mu"}, {"d"}),    node("Pow", {"d", "two"}, {"sq"}),
          mean_of("sq", "var"), node("Add", {"var", "eps"}, {"ve"}), node("Sqrt", {"ve"}, {"sd"}),
          node("Div", {"d", "sd"}, {"n"}),     node("Mul", {"n", "gamma"}, {"g"}), node("Add", {"g", "beta"}, {"y"})};
}

TEST(FusionGroups, DecomposedLayerNorm) {
  const Graph g = graph_of(layer_norm_nodes(), {"y"});
  const auto groups = find_fusion_groups(g);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kLayerNorm);
  EXPECT_EQ(groups[0].nodes.size(), 9u);
  EXPECT_EQ(groups[0].inputs, (Names{"x", "two", "eps", "gamma", "beta"}));
  EXPECT_EQ(groups[0].outputs, (Names{"y"}));
}

TEST(FusionGroups, NoLayerNormWhenTheStdDevIsUsedElsewhere) {
  const Graph g = graph_of(layer_norm_nodes(), {"y", "sd"});
  const auto groups = find_fusion_groups(g);
  EXPECT_EQ(find_kind(groups, FusionKind::kLayerNorm), nullptr);
  EXPECT_EQ(find_kind(groups, FusionKind::kRmsNorm), nullptr);
}

TEST(FusionGroups, RmsNormBothForms) {
  const Graph div_form = graph_of({node("Pow", {"x", "two"}, {"sq"}), mean_of("sq", "ms"),
                                   node("Add", {"ms", "eps"}, {"e"}), node("Sqrt", {"e"}, {"r"}),
                                   node("Div", {"x", "r"}, {"n"}), node("Mul", {"n", "gamma"}, {"y"})},
                                  {"y"});
  auto groups = find_fusion_groups(div_form);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kRmsNorm);
  EXPECT_EQ(groups[0].nodes.size(), 6u);

  const Graph rec_form = graph_of({node("Mul", {"x", "x"}, {"sq"}), mean_of("sq", "ms"),
                                   node("Add", {"ms", "eps"}, {"e"}), node("Sqrt", {"e"}, {"r"}),
                                   node("Reciprocal", {"r"}, {"ir"}), node("Mul", {"x", "ir"}, {"y"})},
                                  {"y"});
  groups = find_fusion_groups(rec_form);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kRmsNorm);
  EXPECT_EQ(groups[0].inputs, (Names{"x", "eps"}));
}

TEST(FusionGroups, SoftmaxDecomposition) {
  const Graph g = graph_of({node("ReduceMax", {"x"}, {"mx"}), node("Sub", {"x", "mx"}, {"s"}), node("Exp", {"s"}, {"e"}),
                            node("ReduceSum", {"e"}, {"z"}), node("Div", {"e", "z"}, {"y"})},
                           {"y"});
  const auto groups = find_fusion_groups(g);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kSoftmax);
  EXPECT_EQ(groups[0].nodes.size(), 5u);
  EXPECT_EQ(groups[0].inputs, (Names{"x"}));
}

TEST(FusionGroups, GeluErfAndTanhForms) {
  const Graph erf = graph_of({node("Div", {"x", "sqrt2"}, {"d"}), node("Erf", {"d"}, {"e"}), node("Add", {"e", "one"}, {"a"}),
                              node("Mul", {"x", "a"}, {"m"}), node("Mul", {"m", "half"}, {"y"})},
                             {"y"});
  auto groups = find_fusion_groups(erf);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kGelu);
  EXPECT_EQ(groups[0].nodes.size(), 5u);

  const Graph tanh = graph_of(
      {node("Pow", {"x", "three"}, {"p"}), node("Mul", {"p", "c1"}, {"c"}), node("Add", {"x", "c"}, {"i"}),
       node("Mul", {"i", "c2"}, {"s"}), node("Tanh", {"s"}, {"t"}), node("Add", {"t", "one"}, {"a"}),
       node("Mul", {"x", "half"}, {"h"}), node("Mul", {"h", "a"}, {"y"})},
      {"y"});
  groups = find_fusion_groups(tanh);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kGelu);
  EXPECT_EQ(groups[0].nodes.size(), 8u);
  EXPECT_EQ(groups[0].inputs, (Names{"x", "three", "c1", "c2", "one", "half"}));
}

TEST(FusionGroups, GemmAndConvEpilogues) {
  const Graph gemm = graph_of({node("MatMul", {"x", "w"}, {"mm"}), node("Add", {"mm", "b"}, {"a"}), node("Relu", {"a"}, {"y"})},
                              {"y"});
  auto groups = find_fusion_groups(gemm);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kGemmEpilogue);
  EXPECT_EQ(groups[0].nodes.size(), 3u);
  EXPECT_STREQ(group_cost(groups[0], {}, {}).op_class, "matmul");

  const Graph conv = graph_of({node("Conv", {"x", "w"}, {"c"}), node("Sigmoid", {"c"}, {"y"})}, {"y"});
  groups = find_fusion_groups(conv);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kConvEpilogue);

  // The MatMul's output also feeds a residual: the epilogue cannot absorb it.
  const Graph shared = graph_of({node("MatMul", {"x", "w"}, {"mm"}), node("Add", {"mm", "b"}, {"a"}),
                                 node("Relu", {"a"}, {"y"}), node("Add", {"mm", "y"}, {"z"})},
                                {"z"});
  groups = find_fusion_groups(shared);
  EXPECT_EQ(find_kind(groups, FusionKind::kGemmEpilogue), nullptr);
}

TEST(FusionGroups, ResidualNormsTakeTheAddAndWriteTheSumTheNextBlockReads) {
  // h = a + b feeds the LayerNorm and the next residual Add: a group of two outputs.
  std::vector<models::Node> nodes = {node("Add", {"a", "b"}, {"x"})};
  for (const models::Node& n : layer_norm_nodes()) nodes.push_back(n);
  nodes.push_back(node("Add", {"x", "y"}, {"next"}));
  auto groups = find_fusion_groups(graph_of(nodes, {"next"}));
  const FusionGroup* g = find_kind(groups, FusionKind::kResidualLayerNorm);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->nodes.size(), 10u);
  EXPECT_EQ(g->inputs, (Names{"a", "b", "two", "eps", "gamma", "beta"}));
  EXPECT_EQ(g->outputs, (Names{"y", "x"}));
  EXPECT_STREQ(group_cost(*g, {}, {}).op_class, "normalization");
  EXPECT_EQ(g->name.rfind("residual_layer_norm:", 0), 0u) << g->name;

  // A LayerNormalization node alone is no group, with its residual Add it is one.
  const models::Node ln = node("LayerNormalization", {"x", "gamma", "beta"}, {"y"});
  groups = find_fusion_groups(graph_of({ln}, {"y"}));
  EXPECT_TRUE(groups.empty());
  groups = find_fusion_groups(graph_of({node("Add", {"a", "b"}, {"x"}), ln}, {"y"}));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].kind, FusionKind::kResidualLayerNorm);
  EXPECT_EQ(groups[0].outputs, (Names{"y"}));  // the sum is read by the norm only

  // The other groups keep the one-output rule: an RMSNorm whose intermediate leaves is none.
  const Graph rms = graph_of({node("Add", {"a", "b"}, {"x"}), node("Pow", {"x", "two"}, {"sq"}), mean_of("sq", "ms"),
                              node("Add", {"ms", "eps"}, {"e"}), node("Sqrt", {"e"}, {"r"}),
                              node("Div", {"x", "r"}, {"y"})},
                             {"y", "ms"});
  groups = find_fusion_groups(rms);
  EXPECT_EQ(find_kind(groups, FusionKind::kResidualRmsNorm), nullptr);
  EXPECT_EQ(find_kind(groups, FusionKind::kRmsNorm), nullptr);
}

}  // namespace
}  // namespace ak::profiler
