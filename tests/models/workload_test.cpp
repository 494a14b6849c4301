// Workload keys (models/workload.h): equal for the repeated layers of real exported graphs,
// different wherever one kernel could not compute both.
#include "models/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "models/fusion.h"
#include "models/onnx_io.h"
#include "models/patterns.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

using namespace testing;

Model load_fixture(const std::string& exporter, const std::string& model) {
  auto loaded = load_model(std::filesystem::path(AK_SOURCE_DIR) / "tests/models/fixtures/exporters" / exporter /
                           model / "model.onnx");
  EXPECT_TRUE(loaded.is_ok()) << loaded.status().message();
  return loaded.is_ok() ? std::move(loaded).value() : Model{};
}

/// The workloads of one pattern kind's matches: hash -> instances.
std::map<std::string, int> workloads_of(const Graph& graph, PatternKind kind) {
  std::map<std::string, int> out;
  const ValueTypeLookup types = declared_types(graph);
  for (const PatternMatch& m : find_patterns(graph))
    if (m.kind == kind) ++out[workload_key(graph, m.nodes, types).hash()];
  return out;
}

int matches_of(const Graph& graph, PatternKind kind) {
  int n = 0;
  for (const PatternMatch& m : find_patterns(graph)) n += m.kind == kind;
  return n;
}

class WorkloadExporters : public ::testing::TestWithParam<const char*> {};

// The fixtures have 2 layers (models/zoo/export_fixtures.py) with two RMSNorms each: one
// workload of (at least) 4 instances. dynamo writes the final norm the same way, so all
// its RMSNorms are one workload; TorchScript's final norm starts with an extra Cast of its
// input, which is another kernel.
TEST_P(WorkloadExporters, LlamaRmsNormsAreOneWorkload) {
  for (const char* name : {"llama", "llama_fp16"}) {
    const Model model = load_fixture(GetParam(), name);
    const int matches = matches_of(model.graph, PatternKind::kRmsNorm);
    ASSERT_GE(matches, 4) << name;
    const auto workloads = workloads_of(model.graph, PatternKind::kRmsNorm);
    int largest = 0;
    for (const auto& [hash, instances] : workloads) largest = std::max(largest, instances);
    EXPECT_GE(largest, 4) << GetParam() << "/" << name;
    if (std::string(GetParam()) == "dynamo") EXPECT_EQ(workloads.size(), 1u) << name;
    else EXPECT_LE(workloads.size(), 2u) << name;
  }
}

TEST_P(WorkloadExporters, RepeatedLayersShareKeys) {
  for (const char* name : {"gpt2", "bert"}) {
    const Model model = load_fixture(GetParam(), name);
    for (PatternKind kind : {PatternKind::kAttention, PatternKind::kGelu}) {
      const int matches = matches_of(model.graph, kind);
      if (matches == 0) continue;
      const auto workloads = workloads_of(model.graph, kind);
      EXPECT_EQ(workloads.size(), 1u) << GetParam() << "/" << name << " " << pattern_kind_name(kind);
    }
  }
}

// The runtime's fused nodes name the nodes they replaced (fusion.h): that list is not part
// of the key, so the fused attention of every layer is one workload.
TEST_P(WorkloadExporters, FusedNodesOfEveryLayerShareAKey) {
  for (const char* name : {"gpt2", "llama"}) {
    const Model model = load_fixture(GetParam(), name);
    FusionReport report;
    const Graph fused = fuse_graph(model.graph, &report);
    std::set<std::string> hashes;
    const ValueTypeLookup types = declared_types(fused);
    for (size_t i = 0; i < fused.nodes.size(); ++i)
      if (fused.nodes[i].op_type == "Attention" && fused.nodes[i].domain == "com.autokernel")
        hashes.insert(workload_key(fused, std::vector<size_t>{i}, types).hash());
    if (report.attention == 0) continue;
    EXPECT_EQ(hashes.size(), 1u) << GetParam() << "/" << name;
  }
}

// The keys of the graph's nodes don't mention the names of values or nodes.
TEST_P(WorkloadExporters, StructureIsNameFree) {
  const Model model = load_fixture(GetParam(), "llama");
  for (const PatternMatch& m : find_patterns(model.graph)) {
    const WorkloadKey key = workload_key(model.graph, m.nodes);
    for (size_t n : m.nodes) EXPECT_EQ(key.structure.find(model.graph.nodes[n].name), std::string::npos);
    for (const std::string& in : key.inputs) EXPECT_EQ(key.structure.find("=" + in), std::string::npos) << in;
    EXPECT_EQ(key.inputs.size(), key.dtypes.size());
    EXPECT_EQ(key.nodes.size(), m.nodes.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Exporters, WorkloadExporters, ::testing::Values("torchscript", "dynamo"));

// Different layers of real models are different workloads: an RMSNorm is not a GELU.
TEST(WorkloadKey, DifferentPatternsDiffer) {
  const Model model = load_fixture("dynamo", "llama");
  std::map<std::string, std::set<PatternKind>> kinds_of;
  for (const PatternMatch& m : find_patterns(model.graph))
    kinds_of[workload_key(model.graph, m.nodes).structure_hash()].insert(m.kind);
  for (const auto& [hash, kinds] : kinds_of) EXPECT_EQ(kinds.size(), 1u) << hash;
}

/// y = LeakyRelu(x * scale + bias) in a graph of its own, with names of `prefix`.
struct Chain {
  Graph graph;
  std::vector<size_t> nodes{0, 1, 2};
};
Chain chain(const std::string& prefix, std::vector<Attribute> leaky_attrs = {}, float scale = 2, int64_t bias = 64,
            std::vector<float> bias_values = {}) {
  Chain c;
  Graph& g = c.graph;
  if (bias_values.empty()) bias_values.assign(static_cast<size_t>(bias), 0.5f);
  g.initializers.push_back(float_tensor(prefix + "scale", {1}, {scale}));
  g.initializers.push_back(float_tensor(prefix + "bias", {bias}, bias_values));
  g.inputs.push_back(tensor_info(prefix + "x", DType::kFloat32, {4, 64}));
  g.nodes.push_back(node("Mul", {prefix + "x", prefix + "scale"}, {prefix + "m"}));
  g.nodes.push_back(node("Add", {prefix + "m", prefix + "bias"}, {prefix + "a"}));
  g.nodes.push_back(node("LeakyRelu", {prefix + "a"}, {prefix + "y"}, std::move(leaky_attrs)));
  g.outputs.push_back(tensor_info(prefix + "y", DType::kFloat32, {4, 64}));
  for (Node& n : g.nodes) n.name = prefix + n.name;
  return c;
}

WorkloadKey key_of(const Chain& c, const ValueTypeLookup& types = {}) { return workload_key(c.graph, c.nodes, types); }

ValueTypeLookup shapes(DType dtype, std::vector<int64_t> dims) {
  return [=](const std::string&) { return std::optional<ValueType>(ValueType{dtype, dims}); };
}

TEST(WorkloadKey, NamesDoNotMatter) {
  const WorkloadKey a = key_of(chain("layer0."));
  const WorkloadKey b = key_of(chain("h.11/"));
  EXPECT_EQ(a.text(), b.text());
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(a.hash().size(), 64u);
  // The binding is this instance's.
  EXPECT_EQ(a.inputs, (std::vector<std::string>{"layer0.x", "layer0.bias"}));
  EXPECT_EQ(b.outputs, (std::vector<std::string>{"h.11/y"}));
  EXPECT_EQ(a.dtypes, (std::vector<DType>{DType::kFloat32, DType::kFloat32}));
}

TEST(WorkloadKey, TheCanonicalText) {
  const WorkloadKey k = key_of(chain("p"), shapes(DType::kFloat32, {4, 64}));
  EXPECT_EQ(k.structure,
            "inputs:$0=input,$1=const float32[64]\n"
            "%0=Mul($0,float32[1]{2})\n"
            "%1=Add(%0.0,$1)\n"
            "%2=LeakyRelu{alpha=0.00999999978}(%1.0)\n"
            "outputs:%2.0");
  EXPECT_TRUE(k.has_shapes);
  EXPECT_EQ(k.text(), k.structure + "\ndtypes:float32,float32\nshapes:[4,64],[64]");
}

TEST(WorkloadKey, ExplicitDefaultEqualsOmitted) {
  EXPECT_EQ(key_of(chain("a")).hash(), key_of(chain("b", {float_attr("alpha", 0.01f)})).hash());
  EXPECT_NE(key_of(chain("a")).hash(), key_of(chain("b", {float_attr("alpha", 0.2f)})).hash());
}

TEST(WorkloadKey, SmallConstantsByValueLargeByShape) {
  // Another scale (a small constant) is another kernel...
  EXPECT_NE(key_of(chain("a", {}, 2)).structure, key_of(chain("a", {}, 3)).structure);
  // ... other per-layer weights of the same shape are the same one, another shape is not.
  std::vector<float> ramp(64);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i);
  EXPECT_EQ(key_of(chain("a")).hash(), key_of(chain("a", {}, 2, 64, ramp)).hash());
  EXPECT_NE(key_of(chain("a", {}, 2, 64)).structure, key_of(chain("a", {}, 2, 32)).structure);
}

TEST(WorkloadKey, ShapesAndDtypesAreInTheHashNotTheStructure) {
  const WorkloadKey f32 = key_of(chain("a"), shapes(DType::kFloat32, {4, 64}));
  const WorkloadKey rows = key_of(chain("a"), shapes(DType::kFloat32, {8, 64}));
  const WorkloadKey f16 = key_of(chain("a"), shapes(DType::kFloat16, {4, 64}));
  const WorkloadKey shape_free = key_of(chain("a"));
  EXPECT_NE(f32.hash(), rows.hash());
  EXPECT_NE(f32.hash(), f16.hash());
  EXPECT_NE(f32.hash(), shape_free.hash());
  EXPECT_FALSE(shape_free.has_shapes);
  for (const WorkloadKey* k : {&rows, &f16, &shape_free}) {
    EXPECT_EQ(k->structure, f32.structure);
    EXPECT_EQ(k->structure_hash(), f32.structure_hash());
  }
  EXPECT_EQ(f16.dtypes[0], DType::kFloat16);
  EXPECT_EQ(f16.dtypes[1], DType::kFloat32);  // a constant's own dtype, whatever the lookup says
}

// Two independent branches written in either order are one workload; x*x is not x*y.
TEST(WorkloadKey, CanonicalOrderAndInputIdentity) {
  auto branches = [](bool swapped) {
    Graph g;
    g.inputs.push_back(tensor_info("x", DType::kFloat32, {8}));
    g.inputs.push_back(tensor_info("y", DType::kFloat32, {8}));
    Node relu = node("Relu", {"x"}, {"r"});
    Node neg = node("Neg", {"y"}, {"n"});
    if (swapped) std::swap(relu, neg);
    g.nodes = {relu, neg, node("Sub", {"r", "n"}, {"z"})};
    g.outputs.push_back(tensor_info("z", DType::kFloat32, {8}));
    return g;
  };
  const std::vector<size_t> all{0, 1, 2};
  const WorkloadKey a = workload_key(branches(false), all);
  const WorkloadKey b = workload_key(branches(true), all);
  EXPECT_EQ(a.structure, b.structure);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_NE(a.nodes, b.nodes);  // the same nodes, at other graph positions

  auto product = [](const std::string& rhs) {
    Graph g;
    g.inputs.push_back(tensor_info("x", DType::kFloat32, {8}));
    g.inputs.push_back(tensor_info("y", DType::kFloat32, {8}));
    g.nodes = {node("Mul", {"x", rhs}, {"z"})};
    g.outputs.push_back(tensor_info("z", DType::kFloat32, {8}));
    return g;
  };
  const std::vector<size_t> one{0};
  EXPECT_EQ(workload_key(product("x"), one).structure, "inputs:$0=input\n%0=Mul($0,$0)\noutputs:%0.0");
  EXPECT_NE(workload_key(product("x"), one).structure, workload_key(product("y"), one).structure);
}

// An intermediate read outside the set is one of its outputs; a node outside the graph is
// skipped rather than read.
TEST(WorkloadKey, OutputsAndBadIndices) {
  Chain c = chain("a");
  c.graph.nodes.push_back(node("Relu", {"am"}, {"r"}));
  c.graph.outputs.push_back(tensor_info("r", DType::kFloat32, {4, 64}));
  const WorkloadKey k = workload_key(c.graph, std::vector<size_t>{2, 0, 1, 99});
  EXPECT_EQ(k.outputs, (std::vector<std::string>{"am", "ay"}));
  EXPECT_NE(k.structure.find("outputs:%0.0,%2.0"), std::string::npos) << k.structure;
  EXPECT_EQ(k.nodes, (std::vector<size_t>{0, 1, 2}));
  const WorkloadKey empty = workload_key(c.graph, std::vector<size_t>{});
  EXPECT_EQ(empty.structure, "inputs:\noutputs:");
}

}  // namespace
}  // namespace ak::models
