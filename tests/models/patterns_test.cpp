// Graph patterns (models/patterns.h) on real graphs of both torch.onnx exporters, and the
// near-misses that must not match.
#include "models/patterns.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "models/onnx_io.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

using namespace testing;

std::filesystem::path fixture(const std::string& exporter, const std::string& model) {
  return std::filesystem::path(AK_SOURCE_DIR) / "tests/models/fixtures/exporters" / exporter / model / "model.onnx";
}

std::vector<const PatternMatch*> of_kind(const std::vector<PatternMatch>& matches, PatternKind kind) {
  std::vector<const PatternMatch*> out;
  for (const auto& m : matches)
    if (m.kind == kind) out.push_back(&m);
  return out;
}

/// Every node in at most one match, every match's nodes ascending.
void expect_disjoint(const std::vector<PatternMatch>& matches, const std::string& what) {
  std::set<size_t> seen;
  for (const auto& m : matches) {
    EXPECT_TRUE(std::is_sorted(m.nodes.begin(), m.nodes.end())) << what;
    for (size_t i : m.nodes) EXPECT_TRUE(seen.insert(i).second) << what << ": node " << i << " in two matches";
  }
}

struct Loaded {
  Model model;
  std::vector<PatternMatch> matches;
};

Loaded load_and_match(const std::string& exporter, const std::string& name) {
  auto model = load_model(fixture(exporter, name));
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  Loaded l{std::move(model).value(), {}};
  l.matches = find_patterns(l.model.graph);
  expect_disjoint(l.matches, exporter + "/" + name);
  return l;
}

class BothExporters : public ::testing::TestWithParam<const char*> {};

// The fixtures' sizes (models/zoo/export_fixtures.py): 2 layers, d_model 64, 4 heads
// (head dim 16, so scale 1/4); llama has 2 key/value heads.

TEST_P(BothExporters, Gpt2) {
  for (const char* name : {"gpt2", "gpt2_fp16"}) {
    const Loaded l = load_and_match(GetParam(), name);
    const auto attention = of_kind(l.matches, PatternKind::kAttention);
    ASSERT_EQ(attention.size(), 2u) << name;
    for (const PatternMatch* m : attention) {
      const AttentionFields& f = *m->attention();
      EXPECT_NEAR(f.scale, 0.25, 1e-6) << name;
      // GPT-2 masks with a causal boolean buffer: Where(mask, finfo.min, scores).
      EXPECT_EQ(f.mask_kind, MaskKind::kCausal) << name;
      EXPECT_TRUE(f.mask_is_condition) << name;
      EXPECT_LE(f.mask_value, -65504) << name;
      EXPECT_FALSE(f.grouped_kv) << name;
      EXPECT_EQ(l.model.graph.nodes[m->nodes.back()].op_type, "MatMul");
    }
    // ln_1 and ln_2 per layer and ln_f: LayerNormalization nodes (opset >= 17).
    const auto norms = of_kind(l.matches, PatternKind::kLayerNorm);
    ASSERT_EQ(norms.size(), 5u) << name;
    int residual = 0;
    for (const PatternMatch* m : norms) {
      EXPECT_NEAR(m->norm()->epsilon, 1e-5, 1e-9) << name;
      EXPECT_EQ(m->norm()->axis, -1) << name;
      EXPECT_FALSE(m->norm()->gamma.empty());
      EXPECT_FALSE(m->norm()->beta.empty());
      residual += m->norm()->residual_node.has_value();
    }
    // Every norm but the first reads a residual sum; the first reads token + position
    // embeddings, an Add too where the positions are gathered (TorchScript), a constant
    // slice (dynamo) is a bias rather than a residual.
    EXPECT_EQ(residual, std::string(GetParam()) == "torchscript" ? 5 : 4) << name;
    const auto gelu = of_kind(l.matches, PatternKind::kGelu);
    ASSERT_EQ(gelu.size(), 2u) << name;
    for (const PatternMatch* m : gelu) EXPECT_TRUE(m->gelu()->tanh) << name;
    // qkv, attention output, MLP in and out: MatMul + bias per layer.
    EXPECT_EQ(of_kind(l.matches, PatternKind::kGemmEpilogue).size(), 8u) << name;
    EXPECT_TRUE(of_kind(l.matches, PatternKind::kRmsNorm).empty()) << name;
    EXPECT_TRUE(of_kind(l.matches, PatternKind::kRotary).empty()) << name;
  }
}

TEST_P(BothExporters, Bert) {
  const Loaded l = load_and_match(GetParam(), "bert");
  const auto attention = of_kind(l.matches, PatternKind::kAttention);
  ASSERT_EQ(attention.size(), 2u);
  for (const PatternMatch* m : attention) {
    const AttentionFields& f = *m->attention();
    EXPECT_NEAR(f.scale, 0.25, 1e-6);
    // The padding mask: an additive bias computed from the attention_mask input.
    EXPECT_EQ(f.mask_kind, MaskKind::kAdditive);
    EXPECT_FALSE(f.mask_is_condition);
    EXPECT_FALSE(f.mask.empty());
    EXPECT_FALSE(f.grouped_kv);
  }
  const auto norms = of_kind(l.matches, PatternKind::kLayerNorm);
  ASSERT_EQ(norms.size(), 5u);  // the embedding norm and two post-LN norms per layer
  for (const PatternMatch* m : norms) EXPECT_NEAR(m->norm()->epsilon, 1e-12, 1e-15);
  const auto gelu = of_kind(l.matches, PatternKind::kGelu);
  ASSERT_EQ(gelu.size(), 2u);
  for (const PatternMatch* m : gelu) EXPECT_FALSE(m->gelu()->tanh);
  // query, key, value, attention output, FFN in and out per layer; the pooler's
  // Linear + Tanh.
  const auto epilogues = of_kind(l.matches, PatternKind::kGemmEpilogue);
  EXPECT_EQ(epilogues.size(), 13u);
  int with_tanh = 0;
  for (const PatternMatch* m : epilogues) with_tanh += m->epilogue()->activation == "Tanh";
  EXPECT_EQ(with_tanh, 1);
}

TEST_P(BothExporters, Llama) {
  for (const char* name : {"llama", "llama_fp16"}) {
    const Loaded l = load_and_match(GetParam(), name);
    const bool fp16 = std::string(name) == "llama_fp16";
    const auto attention = of_kind(l.matches, PatternKind::kAttention);
    ASSERT_EQ(attention.size(), 2u) << name;
    for (const PatternMatch* m : attention) {
      const AttentionFields& f = *m->attention();
      // Both exporters split 1/sqrt(16) into sqrt on Q and on K; dynamo folds it to
      // constants, TorchScript computes it from Shape at run time (outside the match).
      EXPECT_NEAR(f.scale, std::string(GetParam()) == "dynamo" ? 0.25 : 1.0, 1e-6) << name;
      EXPECT_EQ(f.mask_kind, MaskKind::kCausal) << name;  // Trilu -> Equal -> Where, added
      EXPECT_FALSE(f.mask_is_condition) << name;
      EXPECT_LE(f.mask_value, -65504) << name;
      EXPECT_TRUE(f.grouped_kv) << name;  // 4 query heads over 2 key/value heads
      EXPECT_FALSE(f.k_source.empty());
      EXPECT_FALSE(f.v_source.empty());
      // TorchScript's float16 graph runs the softmax in float32.
      const bool upcast = fp16 && std::string(GetParam()) == "torchscript";
      EXPECT_EQ(f.scores_dtype, upcast ? DType::kFloat32 : DType::kUndefined) << name;
    }
    // input_norm and post_attention_norm per layer, and the final norm.
    const auto norms = of_kind(l.matches, PatternKind::kRmsNorm);
    ASSERT_EQ(norms.size(), 5u) << name;
    for (const PatternMatch* m : norms) {
      const NormFields& f = *m->norm();
      EXPECT_NEAR(f.epsilon, 1e-5, 1e-9) << name;
      EXPECT_EQ(f.axis, -1) << name;
      EXPECT_FALSE(f.gamma.empty()) << name;
      EXPECT_TRUE(f.beta.empty()) << name;
      // float16 computes the statistics in float32 (Cast ... Cast inside the match); the
      // TorchScript float32 graph writes no-op casts too, and reuses the upcast as the
      // residual stream (so the match leaves that cast out).
      if (fp16) {
        EXPECT_EQ(f.compute_dtype, DType::kFloat32) << name;
      } else if (std::string(GetParam()) == "dynamo") {
        EXPECT_EQ(f.compute_dtype, DType::kUndefined) << name;
      }
    }
    // One rotary match per rotated tensor: q and k in each of the 2 layers.
    const auto rotary = of_kind(l.matches, PatternKind::kRotary);
    ASSERT_EQ(rotary.size(), 4u) << name;
    for (const PatternMatch* m : rotary) {
      EXPECT_EQ(m->rotary()->split, std::string(GetParam()) == "dynamo") << name;
      EXPECT_NE(m->rotary()->cos, m->rotary()->sin);
    }
    const auto gated = of_kind(l.matches, PatternKind::kGatedMlp);
    ASSERT_EQ(gated.size(), 2u) << name;
    for (const PatternMatch* m : gated) EXPECT_EQ(m->gated_mlp()->activation, "silu");
    // No biases: o_proj and down_proj absorb their residual Add (an Add epilogue), the
    // other projections feed several consumers. TorchScript's float16 graph keeps the
    // residual stream in float32: down_proj's Cast comes between.
    const auto epilogues = of_kind(l.matches, PatternKind::kGemmEpilogue);
    EXPECT_EQ(epilogues.size(), fp16 && std::string(GetParam()) == "torchscript" ? 2u : 4u) << name;
    for (const PatternMatch* m : epilogues) EXPECT_TRUE(m->epilogue()->activation.empty()) << name;
    EXPECT_TRUE(of_kind(l.matches, PatternKind::kLayerNorm).empty()) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BothExporters, ::testing::Values("torchscript", "dynamo"));

// --- small graphs: the exact forms and the near-misses ------------------------------------

Graph with_scalars(Graph g, const std::vector<std::pair<std::string, float>>& scalars) {
  for (const auto& [name, v] : scalars) g.initializers.push_back(float_tensor(name, {}, {v}));
  return g;
}

TensorData axes(const std::string& name, int64_t axis) { return int64_tensor(name, {1}, {axis}); }

/// The decomposed LayerNorm (TorchScript before opset 17), with the two means over
/// `mean_axis` and `var_axis`.
Graph layer_norm_chain(int64_t mean_axis, int64_t var_axis) {
  Graph g;
  g.nodes = {node("ReduceMean", {"x", "ax0"}, {"mu"}),   node("Sub", {"x", "mu"}, {"d"}),
             node("Pow", {"d", "two"}, {"sq"}),          node("ReduceMean", {"sq", "ax1"}, {"var"}),
             node("Add", {"var", "eps"}, {"ve"}),        node("Sqrt", {"ve"}, {"sd"}),
             node("Div", {"d", "sd"}, {"n"}),            node("Mul", {"n", "gamma"}, {"gn"}),
             node("Add", {"gn", "beta"}, {"y"})};
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {2, 8}));
  g.initializers = {axes("ax0", mean_axis), axes("ax1", var_axis)};
  return with_scalars(g, {{"two", 2.f}, {"eps", 1e-6f}});
}

TEST(Patterns, DecomposedLayerNormFields) {
  const auto matches = find_patterns(layer_norm_chain(-1, -1));
  ASSERT_EQ(matches.size(), 1u);
  const PatternMatch& m = matches[0];
  EXPECT_EQ(m.kind, PatternKind::kLayerNorm);
  EXPECT_EQ(m.nodes.size(), 9u);
  EXPECT_EQ(m.output(), "y");
  const NormFields& f = *m.norm();
  EXPECT_EQ(f.x, "x");
  EXPECT_EQ(f.gamma, "gamma");
  EXPECT_EQ(f.beta, "beta");
  EXPECT_NEAR(f.epsilon, 1e-6, 1e-12);
  EXPECT_EQ(f.axis, -1);
  EXPECT_FALSE(f.residual_node.has_value());
  EXPECT_TRUE(match_exactly(layer_norm_chain(-1, -1), PatternKind::kLayerNorm, m.nodes).has_value());
  EXPECT_FALSE(match_exactly(layer_norm_chain(-1, -1), PatternKind::kRmsNorm, m.nodes).has_value());
}

TEST(Patterns, LayerNormNearMissesDoNotMatch) {
  // The mean over one axis, the variance over another: not a LayerNorm (what is left is
  // an RMSNorm of the centred value d over the last axis, which it is).
  for (const auto& m : find_patterns(layer_norm_chain(0, -1))) {
    EXPECT_NE(m.kind, PatternKind::kLayerNorm);
    if (m.kind == PatternKind::kRmsNorm) {
      EXPECT_EQ(m.norm()->x, "d");
    }
  }
  // The centred value is used outside the pattern: a fused kernel would have to write it.
  Graph used = layer_norm_chain(-1, -1);
  used.outputs.push_back(tensor_info("d", DType::kFloat32, {2, 8}));
  for (const auto& m : find_patterns(used)) EXPECT_NE(m.kind, PatternKind::kLayerNorm);
  // Pow of 3 is not a variance.
  Graph cube = layer_norm_chain(-1, -1);
  for (auto& t : cube.initializers)
    if (t.name == "two") t = float_tensor("two", {}, {3.f});
  for (const auto& m : find_patterns(cube)) EXPECT_NE(m.kind, PatternKind::kLayerNorm);
}

/// Dynamo's float16 RMSNorm: Cast up -> Pow -> ReduceMean -> Add -> Sqrt -> Reciprocal ->
/// Mul -> Cast down -> Mul(weight), the residual Add before it.
Graph rms_norm_with_casts() {
  Graph g;
  Attribute to32 = int_attr("to", 1), to16 = int_attr("to", 10);
  g.nodes = {node("Add", {"h", "r"}, {"x"}),          node("Cast", {"x"}, {"x32"}, {to32}),
             node("Pow", {"x32", "two"}, {"sq"}),     node("ReduceMean", {"sq", "ax"}, {"ms"}),
             node("Add", {"ms", "eps"}, {"e"}),       node("Sqrt", {"e"}, {"rt"}),
             node("Reciprocal", {"rt"}, {"ir"}),      node("Mul", {"x32", "ir"}, {"n32"}),
             node("Cast", {"n32"}, {"n"}, {to16}),    node("Mul", {"w", "n"}, {"y"}),
             node("Add", {"x", "y"}, {"next"})};
  g.outputs.push_back(tensor_info("next", DType::kFloat16, {2, 8}));
  g.initializers = {axes("ax", -1)};
  return with_scalars(g, {{"two", 2.f}, {"eps", 1e-5f}});
}

TEST(Patterns, RmsNormWithCastsAndResidual) {
  const Graph g = rms_norm_with_casts();
  const auto norms = [&] {
    std::vector<PatternMatch> out;
    for (auto& m : find_patterns(g))
      if (m.kind == PatternKind::kRmsNorm) out.push_back(m);
    return out;
  }();
  ASSERT_EQ(norms.size(), 1u);
  const NormFields& f = *norms[0].norm();
  EXPECT_EQ(norms[0].nodes, (std::vector<size_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(f.x, "x");
  EXPECT_EQ(f.gamma, "w");
  EXPECT_EQ(f.compute_dtype, DType::kFloat32);
  ASSERT_TRUE(f.residual_node.has_value());
  EXPECT_EQ(*f.residual_node, 0u);  // x is used by the next residual too: not in the match
  EXPECT_EQ(f.residual_a, "h");
  EXPECT_EQ(f.residual_b, "r");
  EXPECT_NEAR(f.epsilon, 1e-5, 1e-10);

  // The float32 value is also read outside: the match leaves the upcast out.
  Graph leak = g;
  leak.outputs.push_back(tensor_info("x32", DType::kFloat32, {2, 8}));
  int found = 0;
  for (const auto& m : find_patterns(leak)) {
    if (m.kind != PatternKind::kRmsNorm) continue;
    ++found;
    EXPECT_EQ(m.norm()->x, "x32");
    EXPECT_EQ(m.norm()->compute_dtype, DType::kUndefined);
    EXPECT_EQ(m.nodes.front(), 2u);
  }
  EXPECT_EQ(found, 1);
  // Pow(x, 3): no RMSNorm at all.
  Graph cube = g;
  for (auto& t : cube.initializers)
    if (t.name == "two") t = float_tensor("two", {}, {3.f});
  for (const auto& m : find_patterns(cube)) EXPECT_NE(m.kind, PatternKind::kRmsNorm);
}

/// find_patterns with the residual norms before the plain ones (as the profiler asks).
std::vector<PatternMatch> with_residual_norms(const Graph& g) {
  PatternOptions options;
  options.kinds = {PatternKind::kResidualLayerNorm, PatternKind::kLayerNorm, PatternKind::kResidualRmsNorm,
                   PatternKind::kRmsNorm};
  return find_patterns(g, options);
}

TEST(Patterns, ResidualRmsNormTakesTheAddAndWritesItsSumToo) {
  const Graph g = rms_norm_with_casts();
  const auto matches = with_residual_norms(g);
  ASSERT_EQ(matches.size(), 1u);
  const PatternMatch& m = matches[0];
  EXPECT_EQ(m.kind, PatternKind::kResidualRmsNorm);
  EXPECT_EQ(m.nodes, (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // y, then the sum the next residual Add reads.
  EXPECT_EQ(m.outputs, (std::vector<std::string>{"y", "x"}));
  EXPECT_EQ(m.norm()->x, "x");
  ASSERT_TRUE(m.norm()->residual_node.has_value());
  EXPECT_EQ(*m.norm()->residual_node, 0u);
  EXPECT_EQ(parse_pattern_kind("residual_rms_norm"), PatternKind::kResidualRmsNorm);
  EXPECT_EQ(std::string(pattern_kind_name(PatternKind::kResidualLayerNorm)), "residual_layer_norm");

  // Only the sum's consumer outside: one output. An intermediate of the norm read outside:
  // no residual match (nor a plain one).
  Graph last = g;
  last.nodes.pop_back();
  last.outputs = {tensor_info("y", DType::kFloat16, {2, 8})};
  const auto final_norm = with_residual_norms(last);
  ASSERT_EQ(final_norm.size(), 1u);
  EXPECT_EQ(final_norm[0].outputs, (std::vector<std::string>{"y"}));
  Graph leak = g;
  leak.outputs.push_back(tensor_info("ms", DType::kFloat32, {2, 1}));
  EXPECT_TRUE(with_residual_norms(leak).empty());
  // A bias Add (a constant operand) is no residual: the plain match, the Add left out.
  Graph bias = g;
  bias.initializers.push_back(float_tensor("r", {8}, std::vector<float>(8, 0.5f)));
  const auto plain = with_residual_norms(bias);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].kind, PatternKind::kRmsNorm);
  // The default kinds leave the residual Add alone.
  for (const auto& d : find_patterns(g)) EXPECT_NE(d.kind, PatternKind::kResidualRmsNorm);
}

TEST_P(BothExporters, Gpt2ResidualLayerNorms) {
  // ln_2 of each layer, ln_1 of layer 1 and ln_f read a residual sum (and TorchScript's ln_1
  // of layer 0 the embeddings' sum); all but ln_f's sum are read by the next residual Add.
  const Loaded l = load_and_match(GetParam(), "gpt2");
  const auto matches = with_residual_norms(l.model.graph);
  expect_disjoint(matches, "gpt2 residual norms");
  const auto residual = of_kind(matches, PatternKind::kResidualLayerNorm);
  ASSERT_EQ(residual.size(), std::string(GetParam()) == "torchscript" ? 5u : 4u);
  int two_outputs = 0;
  for (const PatternMatch* m : residual) {
    const NormFields& f = *m->norm();
    EXPECT_EQ(l.model.graph.nodes[m->nodes.front()].op_type, "Add");
    EXPECT_EQ(m->nodes.size(), 2u);  // the Add and the LayerNormalization node
    EXPECT_EQ(m->outputs.size() == 2 ? m->outputs[1] : f.x, f.x);
    two_outputs += m->outputs.size() == 2;
  }
  EXPECT_EQ(two_outputs, static_cast<int>(residual.size()) - 1);
  EXPECT_EQ(of_kind(matches, PatternKind::kLayerNorm).size(), 5u - residual.size());
}

Graph attention_chain(const std::string& fill_value_name) {
  Graph g;
  g.nodes = {node("Mul", {"q0", "s"}, {"q"}),          node("Mul", {"k0", "s"}, {"kt"}),
             node("MatMul", {"q", "kt"}, {"sc"}),      node("Where", {"cond", fill_value_name, "sc"}, {"m"}),
             node("Softmax", {"m"}, {"p"}, {int_attr("axis", -1)}), node("MatMul", {"p", "v"}, {"y"})};
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1, 4, 4, 8}));
  // A strictly-upper triangular "masked" constant: causal.
  TensorData cond;
  cond.name = "cond";
  cond.dtype = DType::kBool;
  cond.dims = {1, 1, 3, 3};
  const uint8_t bits[9] = {0, 1, 1, 0, 0, 1, 0, 0, 0};
  cond.bytes = Buffer::copy_of(bits, sizeof(bits));
  g.initializers.push_back(cond);
  return with_scalars(g, {{"s", 0.5f}, {"big", -3.4e38f}, {"zero", 0.f}});
}

TEST(Patterns, AttentionFoldsScalesAndSeesACausalCondition) {
  const auto matches = find_patterns(attention_chain("big"));
  ASSERT_EQ(matches.size(), 1u);
  const AttentionFields& f = *matches[0].attention();
  EXPECT_EQ(matches[0].nodes.size(), 6u);
  EXPECT_EQ(f.q, "q0");
  EXPECT_EQ(f.kt, "k0");
  EXPECT_EQ(f.v, "v");
  EXPECT_DOUBLE_EQ(f.scale, 0.25);
  EXPECT_EQ(f.mask_kind, MaskKind::kCausal);
  EXPECT_TRUE(f.mask_is_condition);
  EXPECT_FLOAT_EQ(static_cast<float>(f.mask_value), -3.4e38f);
  // A fill of 0 is not a mask: Where(cond, 0, scores) is some other computation.
  for (const auto& m : find_patterns(attention_chain("zero"))) EXPECT_NE(m.kind, PatternKind::kAttention);
}

TEST(Patterns, SoftmaxWithScaleAndMask) {
  Graph g;
  g.nodes = {node("Div", {"x", "c"}, {"d"}), node("Add", {"d", "mask"}, {"m"}),
             node("Softmax", {"m"}, {"y"}, {int_attr("axis", -1)})};
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {2, 4}));
  g = with_scalars(g, {{"c", 8.f}});
  auto matches = find_patterns(g);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].kind, PatternKind::kSoftmax);
  const SoftmaxFields& f = *matches[0].softmax();
  EXPECT_EQ(f.x, "x");
  EXPECT_DOUBLE_EQ(f.scale, 0.125);
  EXPECT_EQ(f.mask, "mask");
  EXPECT_EQ(f.mask_kind, MaskKind::kAdditive);
  EXPECT_FALSE(f.decomposed);
  // A bare Softmax node is no pattern; neither is a Div by a computed value alone.
  Graph bare = g;
  bare.nodes = {node("Softmax", {"x"}, {"y"}, {int_attr("axis", -1)})};
  EXPECT_TRUE(find_patterns(bare).empty());
  Graph runtime_scale = g;
  runtime_scale.initializers.clear();
  runtime_scale.nodes = {node("Div", {"x", "c"}, {"d"}), node("Softmax", {"d"}, {"y"}, {int_attr("axis", -1)})};
  EXPECT_TRUE(find_patterns(runtime_scale).empty());
}

TEST(Patterns, GeluFormsAndANearMiss) {
  // dynamo's erf form: Div -> Erf -> Add(1) -> Mul(0.5) -> Mul(x).
  Graph g;
  g.nodes = {node("Div", {"x", "sqrt2"}, {"a"}), node("Erf", {"a"}, {"b"}), node("Add", {"b", "one"}, {"c"}),
             node("Mul", {"half", "c"}, {"d"}), node("Mul", {"x", "d"}, {"y"})};
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {4}));
  g = with_scalars(g, {{"sqrt2", 1.4142135f}, {"one", 1.f}, {"half", 0.5f}});
  auto matches = find_patterns(g);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].kind, PatternKind::kGelu);
  EXPECT_EQ(matches[0].gelu()->x, "x");
  EXPECT_FALSE(matches[0].gelu()->tanh);
  // Add(2) instead of Add(1): an elementwise chain, not a GELU.
  g.initializers[1] = float_tensor("one", {}, {2.f});
  for (const auto& m : find_patterns(g)) EXPECT_NE(m.kind, PatternKind::kGelu);
}

TEST(Patterns, RotaryAndSwiGluNearMisses) {
  // concat(x1, -x2) is not rotate-half.
  Graph rot;
  rot.nodes = {node("Split", {"x"}, {"x1", "x2"}), node("Neg", {"x2"}, {"n"}), node("Concat", {"x1", "n"}, {"c"}),
               node("Mul", {"c", "sin"}, {"a"}), node("Mul", {"x", "cos"}, {"b"}), node("Add", {"b", "a"}, {"y"})};
  rot.outputs.push_back(tensor_info("y", DType::kFloat32, {4}));
  for (const auto& m : find_patterns(rot)) EXPECT_NE(m.kind, PatternKind::kRotary);
  std::swap(rot.nodes[2].inputs[0], rot.nodes[2].inputs[1]);
  auto matches = find_patterns(rot);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].kind, PatternKind::kRotary);
  EXPECT_EQ(matches[0].rotary()->x, "x");
  EXPECT_EQ(matches[0].rotary()->cos, "cos");
  EXPECT_EQ(matches[0].rotary()->sin, "sin");

  // TorchScript's form: Slice(x, 0, h) and Slice(x, h, end); halves that do not meet
  // (the second starts elsewhere) are not rotate-half.
  Graph sliced;
  sliced.nodes = {node("Slice", {"x", "zero", "h", "ax"}, {"x1"}), node("Slice", {"x", "h", "end", "ax"}, {"x2"}),
                  node("Neg", {"x2"}, {"n"}),  node("Concat", {"n", "x1"}, {"c"}),
                  node("Mul", {"c", "sin"}, {"a"}), node("Mul", {"x", "cos"}, {"b"}), node("Add", {"b", "a"}, {"y"})};
  sliced.outputs.push_back(tensor_info("y", DType::kFloat32, {4}));
  matches = find_patterns(sliced);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].kind, PatternKind::kRotary);
  EXPECT_FALSE(matches[0].rotary()->split);
  EXPECT_EQ(matches[0].nodes.size(), 7u);
  sliced.nodes[1].inputs[1] = "other";
  for (const auto& m : find_patterns(sliced)) EXPECT_NE(m.kind, PatternKind::kRotary);

  // Sigmoid(g) * h is not silu(g).
  Graph mlp;
  mlp.nodes = {node("Sigmoid", {"g"}, {"s"}), node("Mul", {"h", "s"}, {"a"}), node("Mul", {"a", "up"}, {"y"})};
  mlp.outputs.push_back(tensor_info("y", DType::kFloat32, {4}));
  for (const auto& m : find_patterns(mlp)) EXPECT_NE(m.kind, PatternKind::kGatedMlp);
  mlp.nodes[1].inputs[0] = "g";
  matches = find_patterns(mlp);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].gated_mlp()->gate, "g");
  EXPECT_EQ(matches[0].gated_mlp()->up, "up");
}

TEST(Patterns, KindNamesRoundTrip) {
  for (PatternKind k : {PatternKind::kAttention, PatternKind::kLayerNorm, PatternKind::kRmsNorm, PatternKind::kSoftmax,
                        PatternKind::kGelu, PatternKind::kRotary, PatternKind::kGatedMlp, PatternKind::kGemmEpilogue,
                        PatternKind::kConvEpilogue, PatternKind::kElementwiseChain})
    EXPECT_EQ(parse_pattern_kind(pattern_kind_name(k)), k);
  EXPECT_EQ(parse_pattern_kind("node"), std::nullopt);
}

}  // namespace
}  // namespace ak::models
