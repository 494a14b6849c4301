// profile_session on a CPU session (host timing) and the reports built from it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/inputs.h"
#include "models/onnx_io.h"
#include "profiler/hotspots.h"
#include "profiler/profile.h"
#include "profiler/report.h"
#include "tests/profiler/profile_fixture.h"

namespace ak::profiler {
namespace {

using namespace testing;

struct Profiled {
  std::unique_ptr<models::Session> session;
  Profile profile;
  Analysis analysis;
};

Profiled profile_mlp(int iters = 7) {
  Profiled p;
  p.session = mlp_session(models::Device{});
  EXPECT_TRUE(p.session);
  ProfileOptions options;
  options.warmup = 2;
  options.iters = iters;
  std::vector<std::string> phases;
  options.progress = [&](const std::string& phase, int done, int total) {
    EXPECT_LE(done, total);
    if (phases.empty() || phases.back() != phase) phases.push_back(phase);
  };
  auto profile = profile_session(*p.session, {random_tensor("x", {8, 64}, 9)}, options);
  EXPECT_TRUE(profile.is_ok()) << profile.status().message();
  p.profile = std::move(profile).value();
  EXPECT_EQ(phases, (std::vector<std::string>{"baseline", "warmup", "profile"}));
  auto analysis = analyze(p.profile, p.session->model().graph, cpu_peaks("test cpu", 2, 3.0, 32, 20), false);
  EXPECT_TRUE(analysis.is_ok()) << analysis.status().message();
  p.analysis = std::move(analysis).value();
  return p;
}

TEST(Profile, HostTimingTimesEveryNodeOnTheCpu) {
  Profiled p = profile_mlp();
  const Profile& profile = p.profile;
  EXPECT_EQ(profile.timing_source, "host");
  EXPECT_TRUE(profile.fallback_reason.empty());
  ASSERT_EQ(profile.nodes.size(), 5u);
  int64_t sum_of_medians = 0;
  for (const NodeProfile& n : profile.nodes) {
    EXPECT_TRUE(n.executed) << n.name;
    ASSERT_EQ(n.iter_ns.size(), 7u) << n.name;
    for (int64_t t : n.iter_ns) EXPECT_GT(t, 0) << n.name;
    EXPECT_LE(n.time.p10_ns, n.time.median_ns);
    EXPECT_LE(n.time.median_ns, n.time.p90_ns);
    EXPECT_DOUBLE_EQ(n.launches_per_iter, 1.0) << n.name;  // one "(host)" record per node
    sum_of_medians += n.time.median_ns;
  }
  // Shapes and dtypes as they really ran (batch 8 from the input, not the declared dims).
  EXPECT_EQ(profile.nodes[0].input_shapes, (std::vector<std::vector<int64_t>>{{8, 64}, {64, 128}}));
  EXPECT_EQ(profile.nodes[0].output_shapes, (std::vector<std::vector<int64_t>>{{8, 128}}));
  EXPECT_EQ(profile.nodes[4].output_dtypes, (std::vector<models::DType>{models::DType::kFloat32}));
  EXPECT_GT(profile.model_ns, 0);
  EXPECT_GT(profile.unprofiled_wall.median_ns, 0);
  EXPECT_GT(profile.profiled_wall.median_ns, 0);
  EXPECT_GT(profile.overhead_ratio, 0.2);
  EXPECT_EQ(profile.trace_spans.size(), 5u);  // the last iteration, one span per node
  EXPECT_EQ(p.analysis.model_ns, sum_of_medians);  // so that shares add up to 1
}

TEST(Profile, RejectsBadOptions) {
  auto session = mlp_session(models::Device{});
  ASSERT_TRUE(session);
  ProfileOptions options;
  options.iters = 0;
  auto r = profile_session(*session, {random_tensor("x", {8, 64}, 9)}, options);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  options.iters = 2;
  auto wrong = profile_session(*session, {random_tensor("x", {8, 63}, 9)}, options);
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidInput) << wrong.status().message();
}

TEST(Profile, HotspotsRankGroupsAndNodesWithoutOverlap) {
  Profiled p = profile_mlp();
  const Analysis& a = p.analysis;
  ASSERT_FALSE(a.hotspots.empty());
  std::vector<int> seen(5, 0);
  double share = 0;
  bool gemm_group = false;
  for (size_t i = 0; i < a.hotspots.size(); ++i) {
    const Hotspot& h = a.hotspots[i];
    EXPECT_EQ(h.rank, static_cast<int>(i) + 1);
    if (i > 0) {
      EXPECT_LE(h.e2e_gain, a.hotspots[i - 1].e2e_gain);
      EXPECT_GE(h.cumulative_speedup, a.hotspots[i - 1].cumulative_speedup - 1e-12);
    }
    EXPECT_GE(h.roofline.attainable_speedup, 1.0);
    EXPECT_NEAR(h.e2e_gain, 1.0 / ((1 - h.share) + h.share / h.roofline.attainable_speedup), 1e-9);
    for (size_t n : h.nodes) seen[n] += 1;
    share += h.share;
    if (h.is_group && h.kind == "gemm_epilogue") {
      gemm_group = true;
      EXPECT_EQ(h.op_types, (std::vector<std::string>{"MatMul", "Add", "Relu"}));
      // The fused kernel reads x, w1, b1 and writes r: the intermediates h and hb vanish.
      EXPECT_DOUBLE_EQ(h.cost.bytes, 4.0 * (8 * 64 + 64 * 128 + 128 + 8 * 128));
      EXPECT_DOUBLE_EQ(h.cost.flops, 2.0 * 8 * 64 * 128 + 8 * 128 + 8 * 128);
    }
  }
  EXPECT_TRUE(gemm_group);
  for (int count : seen) EXPECT_EQ(count, 1);  // every node in exactly one ranked unit
  EXPECT_NEAR(share, 1.0, 1e-9);
  // The MatMul's cost is exact: 2*M*N*K.
  EXPECT_DOUBLE_EQ(a.nodes[3].cost.flops, 2.0 * 8 * 128 * 32);
  EXPECT_STREQ(a.nodes[3].cost.op_class, "matmul");
}

TEST(Profile, JsonReportFollowsTheSchema) {
  Profiled p = profile_mlp(3);
  ReportInput in{"mlp.onnx", "cpu", "test cpu", &p.session->model().graph, &p.profile, &p.analysis};
  auto j = nlohmann::json::parse(profile_json(in));
  EXPECT_EQ(j["schema"], kProfileSchema);
  EXPECT_EQ(j["model"], "mlp.onnx");
  EXPECT_EQ(j["device"]["name"], "test cpu");
  EXPECT_GT(j["device"]["peaks"]["bandwidth_gbps"].get<double>(), 0);
  EXPECT_GT(j["total_time_us"].get<double>(), 0);
  EXPECT_EQ(j["timing"]["source"], "host");
  ASSERT_EQ(j["nodes"].size(), 5u);
  for (const char* key : {"name", "op_type", "input_shapes", "dtype", "time_us", "share", "kernels", "flops", "bytes",
                          "bound", "roofline_fraction", "attainable_speedup", "e2e_gain"})
    EXPECT_TRUE(j["nodes"][0].contains(key)) << key;
  EXPECT_EQ(j["nodes"][0]["input_shapes"], nlohmann::json::parse("[[8,64],[64,128]]"));
  EXPECT_EQ(j["nodes"][0]["dtype"], "float32");
  ASSERT_FALSE(j["hotspots"].empty());
  for (const char* key : {"rank", "nodes", "share", "attainable_speedup", "e2e_gain", "cumulative_speedup"})
    EXPECT_TRUE(j["hotspots"][0].contains(key)) << key;
  EXPECT_EQ(j["hotspots"][0]["rank"], 1);
}

TEST(Profile, TableAndTraceNameEveryNode) {
  Profiled p = profile_mlp(3);
  ReportInput in{"mlp.onnx", "cpu", "test cpu", &p.session->model().graph, &p.profile, &p.analysis};
  const std::string table = format_profile_table(in, 0);
  for (const char* needle : {"rank", "gemm_epilogue", "Softmax", "By op type", "overhead", "e2e"})
    EXPECT_NE(table.find(needle), std::string::npos) << needle << "\n" << table;
  const std::string top1 = format_profile_table(in, 1);
  EXPECT_NE(top1.find("If the top 1 reached"), std::string::npos) << top1;

  auto trace = nlohmann::json::parse(chrome_trace_json(in));
  int node_slices = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "node") {
      ++node_slices;
      EXPECT_GE(e["dur"].get<double>(), 0);
      EXPECT_TRUE(e["args"].contains("input_shapes"));
    }
  }
  EXPECT_EQ(node_slices, 5);
}

// A real decoder (the dynamo LLaMA fixture: 2 layers, two RMSNorms each and the final
// one) profiled on the CPU: the RMSNorms that read a residual sum the next block reads too
// are one residual_rms_norm workload listing every instance, and the workload shares add up
// to the model.
TEST(Profile, DecoderRmsNormsAreOneWorkload) {
  auto loaded = models::load_model(std::filesystem::path(AK_SOURCE_DIR) /
                                   "tests/models/fixtures/exporters/dynamo/llama/model.onnx");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  auto model = std::make_shared<const models::Model>(std::move(loaded).value());
  auto session = models::Session::create(model, models::SessionOptions{});
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  auto inputs = models::resolve_inputs(*model, {}, {}, 3);
  ASSERT_TRUE(inputs.is_ok()) << inputs.status().message();
  ProfileOptions options;
  options.warmup = 1;
  options.iters = 3;
  auto profile = profile_session(**session, inputs->tensors, options);
  ASSERT_TRUE(profile.is_ok()) << profile.status().message();
  const models::Graph& graph = (*session)->model().graph;
  auto analysis = analyze(*profile, graph, cpu_peaks("test cpu", 2, 3.0, 32, 20), false);
  ASSERT_TRUE(analysis.is_ok()) << analysis.status().message();
  // The first norm reads the embeddings: no residual; the final one's sum is read by it only.
  size_t norms = 0, residual_norms = 0;
  for (const Hotspot& h : analysis->hotspots) {
    norms += h.kind == HotspotKind(models::PatternKind::kRmsNorm);
    residual_norms += h.kind == HotspotKind(models::PatternKind::kResidualRmsNorm);
  }
  ASSERT_EQ(norms, 1u);
  ASSERT_EQ(residual_norms, 4u);

  ReportInput in{"llama.onnx", "cpu", "test cpu", &graph, &*profile, &*analysis};
  const auto j = nlohmann::json::parse(profile_json(in));
  double shares = 0;
  size_t instances = 0, norm_workloads = 0;
  for (const auto& w : j["workloads"]) {
    shares += w["share"].get<double>();
    instances += w["instances"].size();
    if (w["kind"] != "residual_rms_norm" || w["instances"].size() == 1) continue;
    ++norm_workloads;
    EXPECT_EQ(w["instances"].size(), residual_norms - 1);
    EXPECT_EQ(w["input_shapes"].size(), 3u);  // the Add's operands and the weight
  }
  EXPECT_EQ(norm_workloads, 1u);
  EXPECT_EQ(instances, j["hotspots"].size());
  EXPECT_NEAR(shares, 1.0, 1e-9);
  EXPECT_LT(j["workloads"].size(), j["hotspots"].size());
  EXPECT_NE(format_profile_table(in, 0).find("rms_norm"), std::string::npos);
}

// The host-bound row, from a real CPU profile whose wall times are set as a GPU run would
// measure them: W = 4T unprofiled, W_g = 1.5T with graph replay.
Analysis with_wall_times(Profiled& p, double wall_over_model, double graph_over_model) {
  const double model_ns = static_cast<double>(p.analysis.model_ns);
  p.profile.unprofiled_wall.median_ns = static_cast<int64_t>(wall_over_model * model_ns);
  p.profile.graph_wall.median_ns = static_cast<int64_t>(graph_over_model * model_ns);
  p.profile.graph_measured = true;
  p.profile.busy_ns_per_iter = p.analysis.model_ns;  // the GPU busy exactly during the nodes
  auto a = analyze(p.profile, p.session->model().graph, cpu_peaks("test cpu", 2, 3.0, 32, 20), false);
  EXPECT_TRUE(a.is_ok()) << a.status().message();
  return a.is_ok() ? std::move(a).value() : Analysis();
}

TEST(Profile, HostBoundRowIsRankedWithTheHotspotsOverWallTime) {
  Profiled p = profile_mlp();
  const Analysis a = with_wall_times(p, 4.0, 1.5);
  ASSERT_TRUE(a.host_bound.has_value());
  const HostBoundRow& hb = *a.host_bound;
  const double wall = static_cast<double>(p.profile.unprofiled_wall.median_ns);
  const double graph = static_cast<double>(p.profile.graph_wall.median_ns);
  EXPECT_EQ(a.frame_ns, p.profile.unprofiled_wall.median_ns);
  EXPECT_EQ(hb.time_ns, p.profile.unprofiled_wall.median_ns - a.model_ns);
  EXPECT_NEAR(hb.share, 0.75, 1e-6);
  EXPECT_NEAR(hb.gpu_idle_share, 0.75, 1e-6);
  // The measured gain: what replay did to the wall time, W / W_g.
  EXPECT_NEAR(hb.e2e_gain, wall / graph, 1e-6);
  // 3T of host time against 0.5T left after replay, up to the wall times' rounding to whole
  // nanoseconds (a few parts in 10^4 on a model that runs in microseconds).
  EXPECT_NEAR(hb.attainable_speedup, 3.0 / 0.5, 1e-2);
  // 2.67x beats any kernel hotspot holding at most a quarter of the wall time.
  EXPECT_EQ(hb.rank, 1);
  double share = hb.share;
  for (size_t i = 0; i < a.hotspots.size(); ++i) {
    EXPECT_EQ(a.hotspots[i].rank, static_cast<int>(i) + 2);
    EXPECT_LE(a.hotspots[i].e2e_gain, hb.e2e_gain);
    EXPECT_GE(a.hotspots[i].cumulative_speedup, hb.cumulative_speedup - 1e-12);
    share += a.hotspots[i].share;
  }
  EXPECT_NEAR(share, 1.0, 1e-9);  // every share is of W now, the row's included
  EXPECT_NEAR(hb.cumulative_speedup, hb.e2e_gain, 1e-12);
  double node_share = 0;
  for (const NodeAnalysis& n : a.nodes) node_share += n.share;
  EXPECT_NEAR(node_share, 0.25, 1e-6);

  ReportInput in{"mlp.onnx", "cuda", "test gpu", &p.session->model().graph, &p.profile, &a};
  auto j = nlohmann::json::parse(profile_json(in));
  ASSERT_TRUE(j["host_bound"].is_object()) << j.dump();
  EXPECT_EQ(j["host_bound"]["rank"], 1);
  EXPECT_NEAR(j["host_bound"]["e2e_gain"].get<double>(), wall / graph, 1e-6);
  EXPECT_NEAR(j["frame_us"].get<double>(), wall / 1e3, 1e-6);
  EXPECT_EQ(j["timing"]["graph_measured"], true);
  EXPECT_EQ(j["hotspots"][0]["rank"], 2);
  const std::string table = format_profile_table(in, 3);
  EXPECT_NE(table.find("   1  (host-bound: GPU waits for the host)"), std::string::npos) << table;
  EXPECT_NE(table.find("host:    GPU idle 75.0% of the wall time"), std::string::npos) << table;
  EXPECT_NE(table.find("If the top 3 reached their roofline (the host-bound row: by graph replay)"), std::string::npos)
      << table;
}

TEST(Profile, HostBoundRowGainsNothingWhenReplayIsSlower) {
  Profiled p = profile_mlp();
  const Analysis a = with_wall_times(p, 2.0, 2.5);
  ASSERT_TRUE(a.host_bound.has_value());
  EXPECT_DOUBLE_EQ(a.host_bound->attainable_speedup, 1.0);
  EXPECT_DOUBLE_EQ(a.host_bound->e2e_gain, 1.0);
  // Below every hotspot that gains anything (ties with gain-less ones go by name).
  for (const Hotspot& h : a.hotspots) {
    if (h.e2e_gain > 1 + 1e-12) {
      EXPECT_LT(h.rank, a.host_bound->rank) << h.name;
    }
  }
  // The row is listed wherever it ranks; the table's top-k leaves it out below k.
  ReportInput in{"mlp.onnx", "cuda", "test gpu", &p.session->model().graph, &p.profile, &a};
  EXPECT_NE(format_profile_table(in, 0).find("(host-bound"), std::string::npos);
  if (a.host_bound->rank > 1) {
    EXPECT_EQ(format_profile_table(in, 1).find("(host-bound"), std::string::npos);
  }
}

TEST(Profile, NoHostBoundRowWithoutAGraphMeasurement) {
  Profiled p = profile_mlp();
  EXPECT_FALSE(p.profile.graph_measured);
  EXPECT_FALSE(p.analysis.host_bound.has_value());
  EXPECT_EQ(p.analysis.frame_ns, p.analysis.model_ns);
  ReportInput in{"mlp.onnx", "cpu", "test cpu", &p.session->model().graph, &p.profile, &p.analysis};
  auto j = nlohmann::json::parse(profile_json(in));
  EXPECT_TRUE(j["host_bound"].is_null());
  // A wall time at or below the node time has no host-bound share to speak of.
  const Analysis below = with_wall_times(p, 0.9, 0.5);
  EXPECT_FALSE(below.host_bound.has_value());
  EXPECT_EQ(below.frame_ns, below.model_ns);
}

TEST(Profile, GraphReplayIsNotTimedOnTheCpu) {
  auto session = mlp_session(models::Device{});
  ASSERT_TRUE(session);
  ProfileOptions options;
  options.warmup = 1;
  options.iters = 2;
  options.graph_replay = true;
  std::vector<std::string> phases;
  options.progress = [&](const std::string& phase, int, int) {
    if (phases.empty() || phases.back() != phase) phases.push_back(phase);
  };
  auto profile = profile_session(*session, {random_tensor("x", {8, 64}, 9)}, options);
  ASSERT_TRUE(profile.is_ok()) << profile.status().message();
  EXPECT_FALSE(profile->graph_measured);
  EXPECT_EQ(phases, (std::vector<std::string>{"baseline", "warmup", "profile"}));
}

TEST(Profile, CudaGraphProfilingIsRefusedOnTheCpu) {
  auto session = mlp_session(models::Device{});
  ASSERT_TRUE(session);
  ProfileOptions options;
  options.iters = 2;
  options.cuda_graph = true;
  auto r = profile_session(*session, {random_tensor("x", {8, 64}, 9)}, options);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message(), "profiling CUDA-graph replays needs a CUDA device; the model runs on cpu");
  // The session's own setting is untouched by the refusal.
  EXPECT_FALSE(session->cuda_graph_state().enabled);
}

TEST(Profile, ReportsSayWhetherGraphReplaysWereProfiled) {
  Profiled p = profile_mlp(3);
  ReportInput in{"mlp.onnx", "cuda", "test gpu", &p.session->model().graph, &p.profile, &p.analysis};
  auto eager = nlohmann::json::parse(profile_json(in));
  EXPECT_EQ(eager["cuda_graph"], false);
  EXPECT_EQ(eager["timing"]["cuda_graph_refusal"], "");
  EXPECT_EQ(format_profile_table(in, 3).find("mode:"), std::string::npos);

  // As profile_session leaves a graph profile (the attribution numbers are the CPU run's).
  p.profile.cuda_graph = true;
  p.profile.cuda_graph_replays = 3;
  p.profile.attribution = "graph";
  p.profile.timing_source = "cupti";
  auto graph = nlohmann::json::parse(profile_json(in));
  EXPECT_EQ(graph["cuda_graph"], true);
  EXPECT_EQ(graph["timing"]["cuda_graph_replays"], 3);
  EXPECT_EQ(graph["timing"]["attribution"], "graph");
  EXPECT_EQ(graph["attribution"]["attributed_kernels"], p.profile.attributed_kernels);
  const std::string table = format_profile_table(in, 3);
  const std::string mode = "mode:    cuda graph: 3 of 3 profiled iterations replayed the captured graph; " +
                           std::to_string(p.profile.attributed_kernels) + " of " +
                           std::to_string(p.profile.attributed_kernels + p.profile.unattributed_kernels) +
                           " kernels attributed through their graph nodes";
  EXPECT_NE(table.find(mode), std::string::npos) << table;
  EXPECT_NE(table.find("attribution: graph (CUDA-graph replays"), std::string::npos) << table;

  // A refused capture: the eager profile says why.
  p.profile.cuda_graph = false;
  p.profile.cuda_graph_refusal = "cuda graph: not used: node 'NonZero_1' (NonZero) reads device data on the host";
  EXPECT_NE(format_profile_table(in, 3).find("mode:    eager (--cuda-graph asked for, not profiled: cuda graph: not "
                                              "used: node 'NonZero_1'"),
            std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(profile_json(in))["timing"]["cuda_graph_refusal"], p.profile.cuda_graph_refusal);
}

}  // namespace
}  // namespace ak::profiler
