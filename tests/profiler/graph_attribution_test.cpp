// Graph attribution on synthetic records: the records of CUDA-graph replays, joined to
// nodes through the graph nodes the capture created (profiler/graph_attribution.h).

#include "profiler/graph_attribution.h"

#include <gtest/gtest.h>

#include <vector>

namespace ak::profiler {
namespace {

constexpr size_t kNodes = 3;

// The captured graph: node 0 made graph nodes 11 (gemm) and 12 (bias), node 1 made 13
// (a DtoD copy) and 14 (softmax), node 2 made 15 (gemm). Instantiation cloned each into
// 100 + id, the ids replays report.
struct GraphNode {
  uint64_t id;
  size_t node;
  bool is_kernel;
  int64_t dur_ns;
};
const std::vector<GraphNode> kGraph = {
    {111, 0, true, 50}, {112, 0, true, 10}, {113, 1, false, 20}, {114, 1, true, 30}, {115, 2, true, 40},
};

CorrelationResult captured_map() {
  CorrelationResult r;
  for (const GraphNode& g : kGraph) {
    r.graph_node_external_ids[g.id - 100] = g.node + 1;  // the captured node
    r.graph_node_external_ids[g.id] = g.node + 1;        // its clone in the executable graph
  }
  return r;
}

int64_t g_now = 1000;

void add_kernel(CorrelationResult* r, uint64_t correlation, uint64_t graph_node, int64_t dur_ns) {
  KernelRecord k;
  k.correlation_id = correlation;
  k.graph_node_id = graph_node;
  k.name = "k" + std::to_string(graph_node);
  k.start_ns = g_now;
  k.end_ns = g_now + dur_ns;
  g_now += dur_ns + 5;
  r->unattributed_kernels.push_back(k);
}

void add_mem(CorrelationResult* r, uint64_t correlation, uint64_t graph_node, int64_t dur_ns) {
  MemRecord m;
  m.kind = MemKind::kDeviceToDevice;
  m.correlation_id = correlation;
  m.graph_node_id = graph_node;
  m.size_bytes = 4096;
  m.start_ns = g_now;
  m.end_ns = g_now + dur_ns;
  g_now += dur_ns + 5;
  r->unattributed_mems.push_back(m);
}

/// One replay of the graph: every record under the launch's correlation id.
void add_replay(CorrelationResult* r, uint64_t launch) {
  for (const GraphNode& g : kGraph) {
    if (g.is_kernel) add_kernel(r, launch, g.id, g.dur_ns);
    else add_mem(r, launch, g.id, g.dur_ns);
  }
}

/// The profile's sequence: an eager warm-up (no graph), the capture's check replay, then
/// per replay an input copy outside the graph and the launch.
CorrelationResult traced_session(int replays) {
  CorrelationResult r = captured_map();
  add_kernel(&r, 1, 0, 50);  // the warm-up, eager
  add_kernel(&r, 2, 0, 10);
  add_replay(&r, 10);  // the capture's check
  for (int i = 0; i < replays; ++i) {
    add_mem(&r, 19 + 10 * static_cast<uint64_t>(i), 0, 3);  // the input copy
    add_replay(&r, 20 + 10 * static_cast<uint64_t>(i));
  }
  return r;
}

TEST(GraphAttribution, EveryReplayedRecordGoesToTheNodeThatCreatedItsGraphNode) {
  const CorrelationResult traced = traced_session(3);
  auto r = attribute_by_graph_node(traced, 3, kNodes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  // Three iterations of three nodes; ids iteration * kNodes + node + 1.
  ASSERT_EQ(r->nodes.size(), 9u);
  for (int it = 0; it < 3; ++it) {
    const auto& n0 = r->nodes.at(it * kNodes + 1);
    const auto& n1 = r->nodes.at(it * kNodes + 2);
    const auto& n2 = r->nodes.at(it * kNodes + 3);
    ASSERT_EQ(n0.kernels.size(), 2u);
    EXPECT_EQ(n0.kernels[0].name, "k111");
    EXPECT_EQ(n0.kernels[1].name, "k112");
    EXPECT_EQ(n0.kernel_busy_ns, 60);
    EXPECT_EQ(n1.kernels.size(), 1u);
    ASSERT_EQ(n1.mems.size(), 1u);
    EXPECT_EQ(n1.mem_sum_ns, 20);
    EXPECT_EQ(n1.kernel_busy_ns, 30);
    ASSERT_EQ(n2.kernels.size(), 1u);
    EXPECT_EQ(n2.kernel_busy_ns, 40);
  }
  // The warm-up and the check replay are left out; the input copies of the profiled
  // iterations are outside every graph, so unattributed; no kernel is.
  EXPECT_TRUE(r->unattributed_kernels.empty());
  EXPECT_EQ(r->unattributed_mems.size(), 3u);
  // Busy time: the profiled replays' kernels only (4 kernels, 130 ns each replay).
  EXPECT_EQ(r->busy_ns(), 3 * 130);
}

TEST(GraphAttribution, TheLastLaunchesAreTheProfiledIterations) {
  const CorrelationResult traced = traced_session(5);
  auto r = attribute_by_graph_node(traced, 2, kNodes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->nodes.size(), 2 * kNodes);
  // The copies of the two profiled iterations only.
  EXPECT_EQ(r->unattributed_mems.size(), 2u);
  for (const MemRecord& m : r->unattributed_mems) EXPECT_EQ(m.graph_node_id, 0u);
}

TEST(GraphAttribution, AGraphNodeCreatedOutsideEveryNodeIsUnattributed) {
  CorrelationResult traced = traced_session(2);
  add_kernel(&traced, 30, 999, 7);  // in the last launch, a graph node no node created
  auto r = attribute_by_graph_node(traced, 2, kNodes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->unattributed_kernels.size(), 1u);
  EXPECT_EQ(r->unattributed_kernels[0].graph_node_id, 999u);
  EXPECT_EQ(r->unattributed.no_external_id, 1 + 2);  // the kernel and the two input copies
}

TEST(GraphAttribution, AnExternalIdBeyondTheNodesIsUnattributed) {
  CorrelationResult traced = traced_session(1);
  traced.graph_node_external_ids[115] = kNodes + 1;  // not a node of this model
  auto r = attribute_by_graph_node(traced, 1, kNodes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->unattributed_kernels.size(), 1u);
  EXPECT_EQ(r->nodes.count(3), 0u);
}

TEST(GraphAttribution, FailsWithoutACaptureMapOrEnoughLaunches) {
  CorrelationResult no_map = traced_session(2);
  no_map.graph_node_external_ids.clear();
  auto a = attribute_by_graph_node(no_map, 2, kNodes);
  ASSERT_FALSE(a.is_ok());
  EXPECT_NE(a.status().message().find("no CUDA-graph node was recorded"), std::string::npos) << a.status().message();

  // Two profiled replays and the check: 3 launches, not 4.
  auto b = attribute_by_graph_node(traced_session(2), 4, kNodes);
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("traced 3 CUDA-graph launches, fewer than the 4"), std::string::npos)
      << b.status().message();

  auto c = attribute_by_graph_node(traced_session(2), 0, kNodes);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidInput);
}

TEST(GraphAttribution, CountsCarryOver) {
  CorrelationResult traced = traced_session(1);
  traced.dropped_records = 4;
  traced.duplicate_records = 2;
  auto r = attribute_by_graph_node(traced, 1, kNodes);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->dropped_records, 4u);
  EXPECT_EQ(r->duplicate_records, 2);
}

}  // namespace
}  // namespace ak::profiler
