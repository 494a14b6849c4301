// Runtime fusions on the IR: which patterns fuse, and which must not.
#include <gtest/gtest.h>

#include "models/fusion.h"
#include "models/onnx_io.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

using namespace testing;

Graph attention_graph(bool with_scale, bool with_mask) {
  Graph g;
  g.inputs.push_back(tensor_info("q", DType::kFloat32, {2, 4, 8}));
  g.inputs.push_back(tensor_info("kt", DType::kFloat32, {2, 8, 4}));
  g.inputs.push_back(tensor_info("v", DType::kFloat32, {2, 4, 8}));
  g.inputs.push_back(tensor_info("mask", DType::kFloat32, {2, 4, 4}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {2, 4, 8}));
  g.initializers.push_back(float_tensor("c", {}, {2.f}));
  g.nodes.push_back(node("MatMul", {"q", "kt"}, {"s0"}));
  std::string s = "s0";
  if (with_scale) {
    g.nodes.push_back(node("Div", {s, "c"}, {"s1"}));
    s = "s1";
  }
  if (with_mask) {
    g.nodes.push_back(node("Add", {s, "mask"}, {"s2"}));
    s = "s2";
  }
  Attribute axis = int_attr("axis", -1);
  g.nodes.push_back(node("Softmax", {s}, {"p"}, {axis}));
  g.nodes.push_back(node("MatMul", {"p", "v"}, {"y"}));
  return g;
}

TEST(Fusion, FusesAttentionWithScaleAndMask) {
  FusionReport r;
  Graph f = fuse_graph(attention_graph(true, true), &r);
  EXPECT_EQ(r.attention, 1);
  ASSERT_EQ(f.nodes.size(), 1u);
  const Node& n = f.nodes[0];
  EXPECT_EQ(n.domain, "com.autokernel");
  EXPECT_EQ(n.op_type, "Attention");
  EXPECT_EQ(n.inputs, (std::vector<std::string>{"q", "kt", "v", "mask"}));
  EXPECT_EQ(n.outputs, (std::vector<std::string>{"y"}));
  EXPECT_FLOAT_EQ(n.attr_float("scale", 0), 0.5f);
  EXPECT_EQ(n.attr_int("mask_kind", -1), 1);
  EXPECT_EQ(n.find_attribute("fused_nodes")->strings.size(), 5u);
}

TEST(Fusion, LeavesPatternsWhoseIntermediatesAreUsedElsewhere) {
  Graph g = attention_graph(false, false);
  g.outputs.push_back(tensor_info("p", DType::kFloat32, {2, 4, 4}));  // the probabilities are an output too
  FusionReport r;
  Graph f = fuse_graph(g, &r);
  EXPECT_EQ(r.attention, 0);
  EXPECT_EQ(f.nodes.size(), g.nodes.size());
}

TEST(Fusion, FusesErfGelu) {
  Graph g;
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {4}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {4}));
  g.initializers.push_back(float_tensor("sqrt2", {}, {1.4142135f}));
  g.initializers.push_back(float_tensor("one", {}, {1.f}));
  g.initializers.push_back(float_tensor("half", {}, {0.5f}));
  g.nodes.push_back(node("Div", {"x", "sqrt2"}, {"a"}));
  g.nodes.push_back(node("Erf", {"a"}, {"b"}));
  g.nodes.push_back(node("Add", {"b", "one"}, {"c"}));
  g.nodes.push_back(node("Mul", {"x", "c"}, {"d"}));
  g.nodes.push_back(node("Mul", {"d", "half"}, {"y"}));
  FusionReport r;
  Graph f = fuse_graph(g, &r);
  EXPECT_EQ(r.gelu, 1);
  ASSERT_EQ(f.nodes.size(), 1u);
  EXPECT_EQ(f.nodes[0].op_type, "Gelu");
  EXPECT_EQ(f.nodes[0].inputs, (std::vector<std::string>{"x"}));
  g.initializers[2] = float_tensor("half", {}, {0.25f});  // not a GELU any more
  EXPECT_EQ(fuse_graph(g, &r).nodes.size(), 5u);
}

TEST(Fusion, FusesEveryLayerOfTheZooTransformers) {
  for (const char* name : {"vit_b_16", "bert", "gpt2"}) {
    auto path = std::filesystem::path(AK_SOURCE_DIR) / "models/zoo/out" / name / "model.onnx";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "zoo not built";
    auto model = load_model(path);
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    FusionReport r;
    fuse_graph(model->graph, &r);
    // One of each per layer (ViT-B/16 has 12, the zoo's decoder and encoder 4); the
    // decoder's GELU is the tanh form, which is not fused.
    const std::string n = name;
    EXPECT_EQ(r.attention, n == "vit_b_16" ? 12 : 4) << name;
    EXPECT_EQ(r.gelu, n == "vit_b_16" ? 12 : n == "bert" ? 4 : 0) << name;
  }
}

TEST(Fusion, FusesBothExportersFixtures) {
  // 2 layers each (models/zoo/export_fixtures.py): one attention and one GELU per layer;
  // GPT-2's tanh GELU is not fused and LLaMA has SwiGLU. TorchScript's float16 LLaMA upcasts the scores to float32
  // before the softmax, which the fused kernel does not do: left unfused.
  for (const char* exporter : {"torchscript", "dynamo"})
    for (const char* name : {"gpt2", "bert", "llama", "gpt2_fp16", "llama_fp16"}) {
      auto path = std::filesystem::path(AK_SOURCE_DIR) / "tests/models/fixtures/exporters" / exporter / name / "model.onnx";
      auto model = load_model(path);
      ASSERT_TRUE(model.is_ok()) << model.status().message();
      FusionReport r;
      const Graph fused = fuse_graph(model->graph, &r);
      const std::string n = name, e = exporter;
      EXPECT_EQ(r.attention, n == "llama_fp16" && e == "torchscript" ? 0 : 2) << e << "/" << n;
      EXPECT_EQ(r.gelu, n == "bert" ? 2 : 0) << e << "/" << n;
      size_t covered = 0;
      for (const auto& node : fused.nodes)
        if (const Attribute* a = node.find_attribute("fused_nodes")) covered += a->strings.size();
      EXPECT_EQ(fused.nodes.size() + covered - static_cast<size_t>(r.attention + r.gelu), model->graph.nodes.size());
    }
}

}  // namespace
}  // namespace ak::models
