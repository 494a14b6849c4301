// Workloads (profiler/workloads.h) over a synthetic profile of a graph with repeated
// layers: the instances found, their times summed, the Amdahl gain of fixing all of them
// recomputed here from the hotspots, and the table and JSON that report them.
#include "profiler/workloads.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "profiler/amdahl.h"
#include "profiler/report.h"
#include "tests/models/model_builder.h"

namespace ak::profiler {
namespace {

using models::DType;
using namespace models::testing;

/// `layers` MatMul -> Add(bias) -> Relu layers of width 64 (gemm_epilogue groups), then one
/// of width 32, then a Softmax; every node measured at `node_ns` (x its layer + 1, so the
/// identical layers differ in time as real ones do).
struct Synthetic {
  models::Graph graph;
  Profile profile;
  Analysis analysis;
};

Synthetic synthetic(int layers, int64_t node_ns = 1000) {
  Synthetic s;
  models::Graph& g = s.graph;
  g.inputs.push_back(tensor_info("x0", DType::kFloat32, {8, 64}));
  std::vector<std::vector<std::vector<int64_t>>> in_shapes, out_shapes;
  std::string x = "x0";
  auto add_layer = [&](int l, int64_t width_in, int64_t width_out) {
    const std::string p = "l" + std::to_string(l) + ".";
    g.initializers.push_back(float_tensor(p + "w", {width_in, width_out},
                                          std::vector<float>(static_cast<size_t>(width_in * width_out), 0.01f * l)));
    g.initializers.push_back(float_tensor(p + "b", {width_out}, std::vector<float>(static_cast<size_t>(width_out), 1.f * l)));
    g.nodes.push_back(node("MatMul", {x, p + "w"}, {p + "h"}));
    g.nodes.push_back(node("Add", {p + "h", p + "b"}, {p + "hb"}));
    g.nodes.push_back(node("Relu", {p + "hb"}, {p + "r"}));
    in_shapes.push_back({{8, width_in}, {width_in, width_out}});
    in_shapes.push_back({{8, width_out}, {width_out}});
    in_shapes.push_back({{8, width_out}});
    for (int k = 0; k < 3; ++k) out_shapes.push_back({{8, width_out}});
    x = p + "r";
  };
  for (int l = 0; l < layers; ++l) add_layer(l, 64, 64);
  add_layer(layers, 64, 32);
  g.nodes.push_back(node("Softmax", {x}, {"y"}, {int_attr("axis", -1)}));
  in_shapes.push_back({{8, 32}});
  out_shapes.push_back({{8, 32}});
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {8, 32}));

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    NodeProfile n;
    n.node_index = i;
    n.name = g.nodes[i].name;
    n.op_type = g.nodes[i].op_type;
    n.input_shapes = in_shapes[i];
    n.output_shapes = out_shapes[i];
    n.input_dtypes.assign(n.input_shapes.size(), DType::kFloat32);
    n.output_dtypes = {DType::kFloat32};
    n.executed = true;
    n.time.median_ns = node_ns * static_cast<int64_t>(i / 3 + 1);
    n.launches_per_iter = 1;
    s.profile.nodes.push_back(std::move(n));
  }
  s.profile.timing_source = "host";
  auto a = analyze(s.profile, g, cpu_peaks("test cpu", 2, 3.0, 32, 20), false);
  EXPECT_TRUE(a.is_ok()) << a.status().message();
  s.analysis = std::move(a).value();
  return s;
}

TEST(Workloads, RepeatedLayersAreOneWorkloadWithTheirGainSummed) {
  const Synthetic s = synthetic(3);
  auto ranked = rank_workloads(s.analysis, s.profile, s.graph);
  ASSERT_TRUE(ranked.is_ok()) << ranked.status().message();
  // 3 identical layers, the narrower one, the Softmax.
  ASSERT_EQ(ranked->size(), 3u);
  const Workload* layers = nullptr;
  size_t hotspots = 0;
  double shares = 0;
  for (const Workload& w : *ranked) {
    hotspots += w.instances.size();
    shares += w.share;
    if (w.instances.size() == 3) layers = &w;
  }
  EXPECT_EQ(hotspots, s.analysis.hotspots.size());  // every hotspot in exactly one
  EXPECT_NEAR(shares, 1.0, 1e-9);
  ASSERT_NE(layers, nullptr);
  EXPECT_EQ(layers->kind, HotspotKind(models::PatternKind::kGemmEpilogue));

  // Recomputed from the hotspots: times summed, one speedup for all, Amdahl on the sum.
  int64_t time_ns = 0;
  double attainable_ns = 0;
  std::vector<int64_t> times;
  for (size_t i : layers->instances) {
    const Hotspot& h = s.analysis.hotspots[i];
    time_ns += h.time_ns;
    attainable_ns += static_cast<double>(h.time_ns) / h.roofline.attainable_speedup;
    times.push_back(h.time_ns);
  }
  EXPECT_EQ(layers->time_ns, time_ns);
  EXPECT_EQ(time_ns, 3 * 1000 * (1 + 2 + 3));  // layers 1..3, three nodes each
  EXPECT_EQ(layers->instance_median_ns, 6000);  // the middle layer: 3 nodes x 2000 ns
  const double share = static_cast<double>(time_ns) / static_cast<double>(s.analysis.model_ns);
  EXPECT_NEAR(layers->share, share, 1e-12);
  EXPECT_NEAR(layers->attainable_speedup, static_cast<double>(time_ns) / attainable_ns, 1e-9);
  EXPECT_NEAR(layers->e2e_gain, 1 / ((1 - share) + share / layers->attainable_speedup), 1e-3);
  // The instances are listed in graph order and hold the three layers.
  for (size_t k = 0; k < 3; ++k)
    EXPECT_EQ(s.graph.nodes[s.analysis.hotspots[layers->instances[k]].nodes.front()].name,
              "MatMul_l" + std::to_string(k) + ".h");

  // Ranked by gain, with cumulative speedups that only grow.
  for (size_t i = 0; i < ranked->size(); ++i) {
    EXPECT_EQ((*ranked)[i].rank, static_cast<int>(i) + 1);
    if (i > 0) {
      EXPECT_GE((*ranked)[i - 1].e2e_gain, (*ranked)[i].e2e_gain);
      EXPECT_GE((*ranked)[i].cumulative_speedup, (*ranked)[i - 1].cumulative_speedup);
    }
  }
}

TEST(Workloads, RecordedShapesSeparateWhatTheGraphCannot) {
  Synthetic s = synthetic(2);
  // Give the second layer a longer batch in the profile (the first layer's output feeds
  // it): same structure, another workload.
  s.profile.nodes[2].output_shapes[0][0] = 16;
  for (size_t i = 3; i < 6; ++i) {
    for (auto& shape : s.profile.nodes[i].input_shapes)
      if (shape.size() == 2 && shape[0] == 8) shape[0] = 16;
    s.profile.nodes[i].output_shapes[0][0] = 16;
  }
  auto ranked = rank_workloads(s.analysis, s.profile, s.graph);
  ASSERT_TRUE(ranked.is_ok());
  EXPECT_EQ(ranked->size(), 4u);
  for (const Workload& w : *ranked) EXPECT_EQ(w.instances.size(), 1u);
}

TEST(Workloads, TableAndJson) {
  const Synthetic s = synthetic(3);
  ReportInput in{"layers.onnx", "cpu", "test cpu", &s.graph, &s.profile, &s.analysis};
  const std::string table = format_profile_table(in, 10);
  EXPECT_NE(table.find("By workload"), std::string::npos) << table;
  EXPECT_NE(table.find("gemm_epilogue"), std::string::npos);

  const auto j = nlohmann::json::parse(profile_json(in));
  ASSERT_TRUE(j.contains("workloads"));
  const auto& list = j["workloads"];
  ASSERT_EQ(list.size(), 3u);
  double shares = 0;
  size_t instances = 0;
  for (const auto& w : list) {
    for (const char* key : {"rank", "hash", "structure_hash", "kind", "op_types", "input_dtypes", "input_shapes",
                            "instance_count", "instances", "instance_median_us", "time_us", "share", "attainable_us",
                            "attainable_speedup", "e2e_gain", "cumulative_speedup", "structure"})
      EXPECT_TRUE(w.contains(key)) << key;
    EXPECT_EQ(w["hash"].get<std::string>().size(), 64u);
    EXPECT_EQ(w["instance_count"], w["instances"].size());
    double time_us = 0;
    for (const auto& inst : w["instances"]) time_us += inst["time_us"].get<double>();
    EXPECT_NEAR(w["time_us"].get<double>(), time_us, 1e-6);
    shares += w["share"].get<double>();
    instances += w["instances"].size();
  }
  EXPECT_NEAR(shares, 1.0, 1e-9);
  EXPECT_EQ(instances, j["hotspots"].size());
  const auto& top = list[0];
  EXPECT_EQ(top["rank"], 1);
  EXPECT_EQ(top["instance_count"], 3);
  EXPECT_EQ(top["instances"][0]["nodes"], nlohmann::json::parse(R"(["MatMul_l0.h", "Add_l0.hb", "Relu_l0.r"])"));
  EXPECT_EQ(top["input_shapes"], nlohmann::json::parse("[[8,64],[64,64],[64]]"));
}

}  // namespace
}  // namespace ak::profiler
