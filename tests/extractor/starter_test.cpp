// make_starter: which template a task gets, with which kernel input order, and when it
// falls back to a skeleton.
#include <gtest/gtest.h>

#include "extractor/internal/starter.h"
#include "tests/extractor/extract_fixture.h"

namespace ak::extractor::internal {
namespace {

using namespace ak::extractor::testing;
using models::DType;

/// A starter context over `graph`'s nodes, with every value's shape in `shapes` and the
/// graph's scalar/integer initializers as the constants kept inside.
struct Case {
  models::Model model;
  std::map<std::string, models::TensorData> constants;
  ShapeMap shapes;
  StarterContext context;

  Case(models::Graph graph, std::string kind, std::vector<std::string> inputs, std::vector<std::string> outputs,
       ShapeMap value_shapes)
      : model(model_of(std::move(graph), 17)), shapes(std::move(value_shapes)) {
    for (const auto& t : model.graph.initializers)
      if (!models::is_floating(t.dtype) || t.numel() <= 1) constants[t.name] = t;
    context.model = &model;
    for (const auto& n : model.graph.nodes)
      if (n.op_type != "Constant") context.nodes.push_back(&n);
    context.kind = std::move(kind);
    context.op_type = context.kind == "node" ? context.nodes.front()->op_type : "fused:" + context.kind.name();
    context.inputs = std::move(inputs);
    context.outputs = std::move(outputs);
    context.constants = &constants;
    context.shapes = &shapes;
    for (const auto* list : {&context.inputs, &context.outputs})
      for (const auto& v : *list) context.dtypes[v] = DType::kFloat32;
  }
};

TEST(Starter, LayerNormGroupOrdersItsInputsAsTheTemplateExpects) {
  auto m = decomposed_layer_norm_model();
  // Kernel inputs listed out of order: the starter must put them as x, gamma, beta.
  Case c(m->graph, "layer_norm", {"beta", "x", "gamma"}, {"y"},
         {{"x", {2, 6, 48}}, {"gamma", {48}}, {"beta", {48}}, {"y", {2, 6, 48}}, {"mean", {2, 6, 1}},
          {"d", {2, 6, 48}}, {"sq", {2, 6, 48}}, {"var", {2, 6, 1}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "rowwise_layer_norm") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"x", "gamma", "beta"}));
  EXPECT_NE(s.source.find("kEpsilon"), std::string::npos);
}

/// dynamo's float16 RMSNorm: Cast up, Pow, ReduceMean, Add(eps), Sqrt, Reciprocal, Mul,
/// Cast down, Mul(weight); the reductions over `axis`.
models::Graph rms_norm_with_casts(int64_t axis) {
  models::Graph g;
  g.initializers = {float_tensor("two", {}, {2.f}), float_tensor("eps", {}, {1e-6f}), int64_tensor("ax", {1}, {axis})};
  g.nodes = {node("Cast", {"x"}, {"x32"}, {int_attr("to", 1)}), node("Pow", {"x32", "two"}, {"sq"}),
             node("ReduceMean", {"sq", "ax"}, {"ms"}),           node("Add", {"ms", "eps"}, {"e"}),
             node("Sqrt", {"e"}, {"r"}),                          node("Reciprocal", {"r"}, {"ir"}),
             node("Mul", {"x32", "ir"}, {"n32"}),                 node("Cast", {"n32"}, {"n"}, {int_attr("to", 10)}),
             node("Mul", {"w", "n"}, {"y"})};
  return g;
}

TEST(Starter, RmsNormWithCastsReadsItsFieldsFromThePattern) {
  const ShapeMap shapes = {{"x", {2, 6, 32}}, {"w", {32}}, {"y", {2, 6, 32}}};
  Case c(rms_norm_with_casts(-1), "rms_norm", {"w", "x"}, {"y"}, shapes);
  for (const char* v : {"x", "w", "y"}) c.context.dtypes[v] = DType::kFloat16;
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "rowwise_rms_norm") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"x", "w"}));
  EXPECT_NE(s.source.find("kEpsilon = 1e-06f"), std::string::npos) << s.source;

  // The same chain over axis 1 (not the last) gets no row-wise template.
  Case d(rms_norm_with_casts(1), "rms_norm", {"x", "w"}, {"y"}, shapes);
  for (const char* v : {"x", "w", "y"}) d.context.dtypes[v] = DType::kFloat16;
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "skeleton");
  EXPECT_NE(t.why_skeleton.find("not the last"), std::string::npos) << t.why_skeleton;

  // Nodes that are not one rms_norm pattern (the weight Mul is missing its normalized
  // input) are a skeleton saying so.
  models::Graph broken = rms_norm_with_casts(-1);
  broken.nodes.back().inputs = {"w", "x32"};
  Case e(broken, "rms_norm", {"x", "w"}, {"y"}, shapes);
  Starter u = make_starter(e.context);
  EXPECT_EQ(u.template_name, "skeleton");
  EXPECT_NE(u.why_skeleton.find("not one rms_norm pattern"), std::string::npos) << u.why_skeleton;
}

/// h = a + b -> LayerNormalization(h, gamma, beta): the residual_layer_norm group.
models::Graph residual_layer_norm_graph() {
  models::Graph g;
  g.nodes = {node("Add", {"a", "b"}, {"h"}), node("LayerNormalization", {"h", "gamma", "beta"}, {"y"})};
  return g;
}

const ShapeMap kResidualShapes = {{"a", {2, 5, 48}}, {"b", {2, 5, 48}}, {"h", {2, 5, 48}},
                                  {"gamma", {48}},   {"beta", {48}},   {"y", {2, 5, 48}}};

TEST(Starter, ResidualLayerNormTakesBothOperandsAndWritesTheSum) {
  Case c(residual_layer_norm_graph(), "residual_layer_norm", {"gamma", "b", "beta", "a"}, {"y", "h"}, kResidualShapes);
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "rowwise_residual_layer_norm") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"a", "b", "gamma", "beta"}));
  EXPECT_NE(s.source.find("constexpr bool kResidual = true;"), std::string::npos);
  EXPECT_NE(s.source.find("constexpr bool kRoundBeforeScale = false;"), std::string::npos);

  // The sum read by the norm only: y alone.
  Case d(residual_layer_norm_graph(), "residual_layer_norm", {"a", "b", "gamma", "beta"}, {"y"}, kResidualShapes);
  EXPECT_EQ(make_starter(d.context).template_name, "rowwise_residual_layer_norm");

  // A residual that broadcasts ([48] added to [2, 5, 48]) is outside the template.
  ShapeMap shapes = kResidualShapes;
  shapes["b"] = {48};
  Case e(residual_layer_norm_graph(), "residual_layer_norm", {"a", "b", "gamma", "beta"}, {"y", "h"}, shapes);
  Starter t = make_starter(e.context);
  EXPECT_EQ(t.template_name, "skeleton");
  EXPECT_NE(t.why_skeleton.find("does not broadcast"), std::string::npos) << t.why_skeleton;
  EXPECT_NE(t.source.find("Why no template applies: " + t.why_skeleton), std::string::npos);

  // Operands of two dtypes.
  Case f(residual_layer_norm_graph(), "residual_layer_norm", {"a", "b", "gamma", "beta"}, {"y", "h"}, kResidualShapes);
  f.context.dtypes["b"] = DType::kFloat16;
  Starter u = make_starter(f.context);
  EXPECT_EQ(u.template_name, "skeleton");
  EXPECT_NE(u.why_skeleton.find("different dtypes"), std::string::npos) << u.why_skeleton;

  // A LayerNormalization that keeps its statistics in another type is not the template's.
  models::Graph stash = residual_layer_norm_graph();
  stash.nodes[1].attributes.push_back(int_attr("stash_type", 10));
  Case st(stash, "residual_layer_norm", {"a", "b", "gamma", "beta"}, {"y", "h"}, kResidualShapes);
  Starter v = make_starter(st.context);
  EXPECT_EQ(v.template_name, "skeleton");
  EXPECT_NE(v.why_skeleton.find("stash_type"), std::string::npos) << v.why_skeleton;

  // Float64 is no template dtype.
  Case k(residual_layer_norm_graph(), "residual_layer_norm", {"a", "b", "gamma", "beta"}, {"y", "h"}, kResidualShapes);
  for (auto& [name, dtype] : k.context.dtypes) dtype = DType::kFloat64;
  Starter w = make_starter(k.context);
  EXPECT_EQ(w.template_name, "skeleton");
  EXPECT_NE(w.why_skeleton.find("float64"), std::string::npos) << w.why_skeleton;
}

TEST(Starter, ResidualRmsNormWithCastsRoundsBeforeTheWeight) {
  // dynamo's float16 RMSNorm with the residual Add in front.
  models::Graph g = rms_norm_with_casts(-1);
  for (auto& n : g.nodes)
    for (auto& in : n.inputs)
      if (in == "x") in = "h";
  g.nodes.insert(g.nodes.begin(), node("Add", {"a", "b"}, {"h"}));
  const ShapeMap shapes = {{"a", {2, 6, 32}}, {"b", {2, 6, 32}}, {"h", {2, 6, 32}}, {"w", {32}}, {"y", {2, 6, 32}}};
  Case c(g, "residual_rms_norm", {"w", "a", "b"}, {"y", "h"}, shapes);
  for (const char* v : {"a", "b", "h", "w", "y"}) c.context.dtypes[v] = DType::kFloat16;
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "rowwise_residual_rms_norm") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"a", "b", "w"}));
  EXPECT_NE(s.source.find("constexpr bool kRoundBeforeScale = true;"), std::string::npos);
  EXPECT_NE(s.source.find("kEpsilon = 1e-06f"), std::string::npos);

  // The outputs in the other order are not the template's y, h.
  Case d(g, "residual_rms_norm", {"a", "b", "w"}, {"h", "y"}, shapes);
  for (const char* v : {"a", "b", "h", "w", "y"}) d.context.dtypes[v] = DType::kFloat16;
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "skeleton");
}

TEST(Starter, SoftmaxOverAnInnerAxisIsASkeleton) {
  models::Graph g;
  g.nodes.push_back(node("Softmax", {"x"}, {"y"}, {int_attr("axis", 1)}));
  Case c(g, "node", {"x"}, {"y"}, {{"x", {2, 4, 8}}, {"y", {2, 4, 8}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "skeleton");
  EXPECT_NE(s.why_skeleton.find("not the last"), std::string::npos) << s.why_skeleton;
  EXPECT_NE(s.source.find("autokernel_kernel"), std::string::npos);
}

TEST(Starter, SoftmaxOverTheLastAxisIsRowwise) {
  models::Graph g;
  g.nodes.push_back(node("Softmax", {"x"}, {"y"}, {int_attr("axis", 2)}));
  Case c(g, "node", {"x"}, {"y"}, {{"x", {2, 4, 8}}, {"y", {2, 4, 8}}});
  EXPECT_EQ(make_starter(c.context).template_name, "rowwise_softmax");
}

TEST(Starter, ElementwiseChainTakesScalarConstantsButNotTensors) {
  models::Graph g;
  g.initializers.push_back(float_tensor("half", {}, {0.5f}));
  g.nodes.push_back(node("Mul", {"x", "half"}, {"u"}));
  g.nodes.push_back(node("Sigmoid", {"u"}, {"y"}));
  Case c(g, "elementwise_chain", {"x"}, {"y"}, {{"x", {4}}, {"u", {4}}, {"y", {4}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "elementwise_chain") << s.why_skeleton;

  // An int64 tensor operand stays inside the subgraph but the chain cannot read it.
  models::Graph h;
  h.initializers.push_back(int64_tensor("k", {4}, {1, 2, 3, 4}));
  h.nodes.push_back(node("Add", {"x", "k"}, {"y"}));
  Case d(h, "node", {"x"}, {"y"}, {{"x", {4}}, {"y", {4}}});
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "skeleton");
  EXPECT_NE(t.why_skeleton.find("'k'"), std::string::npos) << t.why_skeleton;
}

TEST(Starter, TanhGeluGroupIsAnElementwiseChain) {
  models::Graph g;
  for (auto [name, v] : std::vector<std::pair<std::string, float>>{
           {"three", 3.f}, {"k", 0.044715f}, {"c", 0.7978845608f}, {"one", 1.f}, {"half", 0.5f}})
    g.initializers.push_back(float_tensor(name, {}, {v}));
  g.nodes.push_back(node("Pow", {"x", "three"}, {"p"}));
  g.nodes.push_back(node("Mul", {"k", "p"}, {"kp"}));
  g.nodes.push_back(node("Add", {"x", "kp"}, {"inner"}));
  g.nodes.push_back(node("Mul", {"c", "inner"}, {"scaled"}));
  g.nodes.push_back(node("Tanh", {"scaled"}, {"t"}));
  g.nodes.push_back(node("Add", {"one", "t"}, {"t1"}));
  g.nodes.push_back(node("Mul", {"x", "half"}, {"hx"}));
  g.nodes.push_back(node("Mul", {"hx", "t1"}, {"y"}));
  Case c(g, "gelu", {"x"}, {"y"}, {{"x", {8}}, {"y", {8}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "elementwise_chain") << s.why_skeleton;
}

TEST(Starter, FusedGeluNodeIsAnElementwiseChain) {
  models::Graph g;
  models::Node n = node("Gelu", {"x"}, {"y"});
  n.domain = "com.autokernel";
  g.nodes.push_back(n);
  Case c(g, "node", {"x"}, {"y"}, {{"x", {8}}, {"y", {8}}});
  EXPECT_EQ(make_starter(c.context).template_name, "elementwise_chain");
}

TEST(Starter, GemmEpilogueGroupsGetTheGemmEpilogueTemplateWithTheirActivation) {
  models::Graph g;
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"h"}));
  g.nodes.push_back(node("Add", {"b", "h"}, {"hb"}));
  g.nodes.push_back(node("Relu", {"hb"}, {"y"}));
  // Kernel inputs listed out of order: the starter takes them as A, B, then the epilogue's.
  Case c(g, "gemm_epilogue", {"b", "x", "w"}, {"y"}, {{"x", {2, 4}}, {"w", {4, 3}}, {"b", {3}}, {"y", {2, 3}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "gemm_epilogue") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"x", "w", "b"}));
  EXPECT_NE(s.source.find("relu(s0)"), std::string::npos) << s.source;

  // Any broadcastable "bias" and a decomposed SiLU, a residual and a scale.
  models::Graph h;
  h.initializers.push_back(float_tensor("half", {}, {0.5f}));
  h.nodes.push_back(node("MatMul", {"x", "w"}, {"p"}));
  h.nodes.push_back(node("Add", {"p", "b"}, {"pb"}));
  h.nodes.push_back(node("Sigmoid", {"pb"}, {"sg"}));
  h.nodes.push_back(node("Mul", {"pb", "sg"}, {"silu"}));
  h.nodes.push_back(node("Add", {"silu", "r"}, {"res"}));
  h.nodes.push_back(node("Mul", {"res", "half"}, {"y"}));
  Case d(h, "gemm_epilogue", {"x", "w", "b", "r"}, {"y"},
         {{"x", {2, 4}}, {"w", {4, 3}}, {"b", {2, 1}}, {"r", {2, 3}}, {"y", {2, 3}}});
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "gemm_epilogue") << t.why_skeleton;
  EXPECT_EQ(t.inputs, (std::vector<std::string>{"x", "w", "b", "r"}));
  EXPECT_NE(t.source.find("0.5f"), std::string::npos);

  // A weight kept as a constant (not a kernel input) is out of the template's reach.
  models::Graph k;
  k.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  Case e(k, "node", {"x"}, {"y"}, {{"x", {2, 4}}, {"w", {4, 3}}, {"y", {2, 3}}});
  Starter u = make_starter(e.context);
  EXPECT_EQ(u.template_name, "skeleton");
  EXPECT_NE(u.why_skeleton.find("not a kernel input"), std::string::npos) << u.why_skeleton;
}

TEST(Starter, CastsInTheEpilogueSetTheOutputDtypeOrAreRefused) {
  models::Graph g;
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"h"}));
  g.nodes.push_back(node("Cast", {"h"}, {"hf"}, {int_attr("to", 1)}));
  g.nodes.push_back(node("Relu", {"hf"}, {"y"}));
  Case c(g, "gemm_epilogue", {"x", "w"}, {"y"}, {{"x", {2, 4}}, {"w", {4, 3}}, {"y", {2, 3}}});
  c.context.dtypes["x"] = c.context.dtypes["w"] = DType::kFloat16;
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "gemm_epilogue") << s.why_skeleton;
  EXPECT_NE(s.source.find("kOutputDtype = 1;"), std::string::npos);
  // The MatMul's float16 output is rounded before the Cast; the float32 Relu is not.
  EXPECT_NE(s.source.find("const float x0 = to_float(from_float(x[0]));"), std::string::npos) << s.source;
  EXPECT_NE(s.source.find("s1 = Relu(s0) -> float32"), std::string::npos) << s.source;

  // Casts anywhere: up to float32 and back to float16 mid-epilogue, the Cast back rounds.
  models::Graph h;
  h.nodes.push_back(node("MatMul", {"x", "w"}, {"p"}));
  h.nodes.push_back(node("Cast", {"p"}, {"p32"}, {int_attr("to", 1)}));
  h.nodes.push_back(node("Sigmoid", {"p32"}, {"s32"}));
  h.nodes.push_back(node("Cast", {"s32"}, {"s"}, {int_attr("to", 10)}));
  h.nodes.push_back(node("Mul", {"s", "r"}, {"y"}));
  const ShapeMap shapes = {{"x", {2, 4}}, {"w", {4, 3}}, {"r", {2, 3}}, {"y", {2, 3}}};
  Case d(h, "gemm_epilogue", {"x", "w", "r"}, {"y"}, shapes);
  for (const char* v : {"x", "w", "r", "y"}) d.context.dtypes[v] = DType::kFloat16;
  Starter t = make_starter(d.context);
  ASSERT_EQ(t.template_name, "gemm_epilogue") << t.why_skeleton;
  EXPECT_NE(t.source.find("s1 = Sigmoid(s0) -> float32"), std::string::npos) << t.source;
  EXPECT_NE(t.source.find("s2 = Identity(s1) -> float16"), std::string::npos) << t.source;
  EXPECT_NE(t.source.find("s3 = Mul(s2, x1) -> float16"), std::string::npos) << t.source;

  // A Cast the kernel cannot round to: another 16-bit type, or an integer.
  for (int64_t to : {16, 6}) {
    models::Graph k = h;
    k.nodes[3].attributes = {int_attr("to", to)};
    Case e(k, "gemm_epilogue", {"x", "w", "r"}, {"y"}, shapes);
    for (const char* v : {"x", "w", "r", "y"}) e.context.dtypes[v] = DType::kFloat16;
    Starter u = make_starter(e.context);
    EXPECT_EQ(u.template_name, "skeleton");
    const std::string why = to == 16 ? "rounds to bfloat16" : "a Cast to int32 has no template counterpart";
    EXPECT_NE(u.why_skeleton.find(why), std::string::npos) << u.why_skeleton;
  }
}

TEST(Starter, Float16ChainStepsCarryTheirNodesDtypes) {
  // dynamo's float16 SwiGLU computes the sigmoid in float32 between two Casts.
  models::Graph g;
  g.nodes = {node("Cast", {"g"}, {"g32"}, {int_attr("to", 1)}), node("Sigmoid", {"g32"}, {"s32"}),
             node("Cast", {"s32"}, {"s"}, {int_attr("to", 10)}), node("Mul", {"g", "s"}, {"a"}),
             node("Mul", {"a", "up"}, {"y"})};
  Case c(g, "gated_mlp", {"g", "up"}, {"y"}, {{"g", {2, 16}}, {"up", {2, 16}}, {"y", {2, 16}}});
  for (const char* v : {"g", "up", "y"}) c.context.dtypes[v] = DType::kFloat16;
  Starter s = make_starter(c.context);
  ASSERT_EQ(s.template_name, "elementwise_chain") << s.why_skeleton;
  for (const char* line : {"s0 = Identity(x0) -> float32", "s1 = Sigmoid(s0) -> float32", "s2 = Identity(s1) -> float16",
                           "s3 = Mul(x0, s2) -> float16", "s4 = Mul(s3, x1) -> float16"})
    EXPECT_NE(s.source.find(line), std::string::npos) << line << "\n" << s.source;
}

TEST(Starter, GemmNodeGetsTheGemmEpilogueTemplateWithItsAttributes) {
  models::Graph g;
  g.nodes.push_back(node("Gemm", {"x", "w", "b"}, {"y"}, {int_attr("transB", 1), float_attr("alpha", 0.5f)}));
  // Kernel inputs listed out of order: the starter takes them as A, B, C.
  Case c(g, "node", {"b", "w", "x"}, {"y"}, {{"x", {2, 4}}, {"w", {3, 4}}, {"b", {3}}, {"y", {2, 3}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "gemm_epilogue") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"x", "w", "b"}));
  EXPECT_NE(s.source.find("constexpr bool kTransB = true;"), std::string::npos);
  EXPECT_NE(s.source.find("constexpr float kAlpha = 0.5f;"), std::string::npos);

  // No C: two inputs.
  models::Graph h;
  h.nodes.push_back(node("Gemm", {"x", "w"}, {"y"}));
  Case d(h, "node", {"x", "w"}, {"y"}, {{"x", {2, 4}}, {"w", {4, 3}}, {"y", {2, 3}}});
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "gemm_epilogue") << t.why_skeleton;
  EXPECT_NE(t.source.find("kNumInputs = 2"), std::string::npos);
}

TEST(Starter, ConvGetsTheConvTemplateWithItsAttributesAndAutoPad) {
  models::Graph g;
  g.nodes.push_back(node("Conv", {"x", "w", "b"}, {"c"},
                         {ints_attr("strides", {2, 2}), int_attr("group", 2), ints_attr("pads", {1, 1, 1, 1})}));
  g.nodes.push_back(node("Relu", {"c"}, {"y"}));
  Case c(g, "conv_epilogue", {"w", "x", "b"}, {"y"},
         {{"x", {1, 4, 8, 8}}, {"w", {6, 2, 3, 3}}, {"b", {6}}, {"c", {1, 6, 4, 4}}, {"y", {1, 6, 4, 4}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "conv") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"x", "w", "b"}));
  EXPECT_NE(s.source.find("constexpr int64_t kGroup = 2;"), std::string::npos);
  EXPECT_NE(s.source.find("constexpr int64_t kStride[2] = {2, 2};"), std::string::npos);

  // SAME_UPPER on a 1-D conv of 7 with a kernel of 4: 3 pads, 1 before and 2 after.
  models::Graph h;
  h.nodes.push_back(node("Conv", {"x", "w"}, {"y"}, {string_attr("auto_pad", "SAME_UPPER")}));
  Case d(h, "node", {"x", "w"}, {"y"}, {{"x", {1, 2, 7}}, {"w", {3, 2, 4}}, {"y", {1, 3, 7}}});
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "conv") << t.why_skeleton;
  EXPECT_NE(t.source.find("constexpr int64_t kPadBegin[2] = {0, 1};"), std::string::npos);
  EXPECT_NE(t.source.find("constexpr int64_t kPadEnd[2] = {0, 2};"), std::string::npos);

  // Three spatial dims are outside the template.
  models::Graph k;
  k.nodes.push_back(node("Conv", {"x", "w"}, {"y"}));
  Case e(k, "node", {"x", "w"}, {"y"}, {{"x", {1, 2, 4, 4, 4}}, {"w", {3, 2, 1, 1, 1}}, {"y", {1, 3, 4, 4, 4}}});
  Starter u = make_starter(e.context);
  EXPECT_EQ(u.template_name, "skeleton");
  EXPECT_NE(u.why_skeleton.find("3 spatial dims"), std::string::npos) << u.why_skeleton;
}

TEST(Starter, Float64IsASkeleton) {
  models::Graph g;
  g.nodes.push_back(node("Relu", {"x"}, {"y"}));
  Case c(g, "node", {"x"}, {"y"}, {{"x", {8}}, {"y", {8}}});
  c.context.dtypes["x"] = c.context.dtypes["y"] = DType::kFloat64;
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "skeleton");
  EXPECT_NE(s.why_skeleton.find("float64"), std::string::npos) << s.why_skeleton;
}

// --- attention, rotary, gated MLP --------------------------------------------------------

/// MatMul(q, kt) -> Mul(0.125) -> Add(mask) -> Softmax -> MatMul(., v), as both exporters
/// write GPT-2/BERT attention.
models::Graph attention_graph() {
  models::Graph g;
  g.initializers = {float_tensor("c", {}, {0.125f})};
  g.nodes = {node("MatMul", {"q", "kt"}, {"s"}), node("Mul", {"s", "c"}, {"ss"}), node("Add", {"ss", "mask"}, {"sm"}),
             node("Softmax", {"sm"}, {"p"}, {int_attr("axis", -1)}), node("MatMul", {"p", "v"}, {"y"})};
  return g;
}

const ShapeMap kAttentionShapes = {{"q", {2, 4, 5, 8}}, {"kt", {2, 4, 8, 6}}, {"v", {2, 4, 6, 8}},
                                   {"mask", {2, 1, 1, 6}}, {"y", {2, 4, 5, 8}}};

TEST(Starter, AttentionGroupReadsScaleAndMaskFromThePattern) {
  Case c(attention_graph(), "attention", {"mask", "v", "q", "kt"}, {"y"}, kAttentionShapes);
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "attention") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"q", "kt", "v", "mask"}));
  EXPECT_NE(s.source.find("constexpr float kScale = 0.125f;"), std::string::npos);
  EXPECT_NE(s.source.find("constexpr int kMaskKind = 1;"), std::string::npos);

  // The scores upcast: Q, Kt float16, V and Y float32 (TorchScript's float16 graphs).
  Case d(attention_graph(), "attention", {"q", "kt", "v", "mask"}, {"y"}, kAttentionShapes);
  d.context.dtypes["q"] = d.context.dtypes["kt"] = DType::kFloat16;
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "skeleton");
  EXPECT_NE(t.why_skeleton.find("no upcast"), std::string::npos) << t.why_skeleton;
  EXPECT_NE(t.source.find("Why no template applies: " + t.why_skeleton), std::string::npos);

  // A mask that does not broadcast to the scores ([.., 5, 6]).
  ShapeMap shapes = kAttentionShapes;
  shapes["mask"] = {2, 1, 1, 7};
  Case e(attention_graph(), "attention", {"q", "kt", "v", "mask"}, {"y"}, shapes);
  Starter u = make_starter(e.context);
  EXPECT_EQ(u.template_name, "skeleton");
  EXPECT_NE(u.why_skeleton.find("does not broadcast"), std::string::npos) << u.why_skeleton;

  // On CUDA, head dims over 256 are outside the template.
  shapes = kAttentionShapes;
  shapes["q"] = {2, 4, 5, 512};
  shapes["kt"] = {2, 4, 512, 6};
  Case f(attention_graph(), "attention", {"q", "kt", "v", "mask"}, {"y"}, shapes);
  f.context.target = kernels::Target::kCuda;
  Starter w = make_starter(f.context);
  EXPECT_EQ(w.template_name, "skeleton");
  EXPECT_NE(w.why_skeleton.find("256"), std::string::npos) << w.why_skeleton;
}

/// com.autokernel.Attention with a [1, 1, 5, 5] bool constant as its mask.
models::Graph fused_attention_graph(bool causal) {
  models::TensorData mask;
  mask.name = "causal";
  mask.dtype = DType::kBool;
  mask.dims = {1, 1, 5, 5};
  std::vector<uint8_t> values;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) values.push_back(j > i ? 1 : 0);
  if (!causal) values[1] = 0;
  mask.bytes = models::Buffer::copy_of(values.data(), values.size());
  models::Graph g;
  g.initializers = {mask};
  models::Node n = node("Attention", {"q", "kt", "v", "causal"}, {"y"},
                        {float_attr("scale", 0.25f), int_attr("mask_kind", 2), float_attr("mask_fill", -1e30f)});
  n.domain = "com.autokernel";
  g.nodes = {n};
  return g;
}

TEST(Starter, FusedAttentionWithACausalConstantComputesTheMaskItself) {
  const ShapeMap shapes = {{"q", {2, 3, 5, 16}}, {"kt", {2, 3, 16, 5}}, {"v", {2, 3, 5, 16}}, {"y", {2, 3, 5, 16}}};
  Case c(fused_attention_graph(true), "node", {"q", "kt", "v"}, {"y"}, shapes);
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "attention") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"q", "kt", "v"}));
  EXPECT_NE(s.source.find("constexpr int kMaskKind = 3;"), std::string::npos);
  EXPECT_NE(s.source.find("constexpr float kScale = 0.25f;"), std::string::npos);

  // One element off the triangle: not a mask the template can compute.
  Case d(fused_attention_graph(false), "node", {"q", "kt", "v"}, {"y"}, shapes);
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "skeleton");
  EXPECT_NE(t.why_skeleton.find("not a causal"), std::string::npos) << t.why_skeleton;
}

/// TorchScript's rotate-half: two Slices of x meeting at `half` over the last axis.
models::Graph rotary_slices(bool half_is_constant, int64_t half) {
  models::Graph g;
  g.initializers = {int64_tensor("zero", {1}, {0}), int64_tensor("end", {1}, {INT64_MAX}),
                    int64_tensor("axis", {1}, {-1})};
  if (half_is_constant) g.initializers.push_back(int64_tensor("half", {1}, {half}));
  g.nodes = {node("Slice", {"x", "zero", "half", "axis"}, {"x1"}), node("Slice", {"x", "half", "end", "axis"}, {"x2"}),
             node("Neg", {"x2"}, {"n"}),                           node("Concat", {"n", "x1"}, {"r"}, {int_attr("axis", -1)}),
             node("Mul", {"r", "sin"}, {"rs"}),                    node("Mul", {"x", "cos"}, {"xc"}),
             node("Add", {"xc", "rs"}, {"y"})};
  return g;
}

TEST(Starter, RotaryNeedsItsHalvesToBeKnown) {
  const ShapeMap shapes = {{"x", {2, 3, 4, 8}}, {"cos", {4, 8}}, {"sin", {4, 8}}, {"y", {2, 3, 4, 8}}};
  Case c(rotary_slices(true, 4), "rotary", {"sin", "x", "cos"}, {"y"}, shapes);
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "rotary") << s.why_skeleton;
  EXPECT_EQ(s.inputs, (std::vector<std::string>{"x", "cos", "sin"}));

  Case d(rotary_slices(true, 3), "rotary", {"x", "cos", "sin"}, {"y"}, shapes);
  Starter t = make_starter(d.context);
  EXPECT_EQ(t.template_name, "skeleton");
  EXPECT_NE(t.why_skeleton.find("not the halves"), std::string::npos) << t.why_skeleton;

  // The midpoint computed at run time (Shape -> Div outside the task): a kernel input.
  Case e(rotary_slices(false, 0), "rotary", {"x", "cos", "sin", "half"}, {"y"}, shapes);
  e.context.dtypes["half"] = DType::kInt64;
  Starter u = make_starter(e.context);
  EXPECT_EQ(u.template_name, "skeleton");
  EXPECT_NE(u.why_skeleton.find("run time"), std::string::npos) << u.why_skeleton;
}

TEST(Starter, GatedMlpIsAnElementwiseChain) {
  models::Graph g;
  g.nodes = {node("Sigmoid", {"g"}, {"s"}), node("Mul", {"g", "s"}, {"a"}), node("Mul", {"a", "up"}, {"y"})};
  Case c(g, "gated_mlp", {"g", "up"}, {"y"}, {{"g", {2, 16}}, {"up", {2, 16}}, {"y", {2, 16}}});
  Starter s = make_starter(c.context);
  EXPECT_EQ(s.template_name, "elementwise_chain") << s.why_skeleton;
  EXPECT_NE(s.source.find("Sigmoid"), std::string::npos);
}

}  // namespace
}  // namespace ak::extractor::internal
