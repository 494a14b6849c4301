// profile_session on a GPU with CUPTI: every kernel attributed to its node.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "profiler/hotspots.h"
#include "profiler/profile.h"
#include "tests/profiler/profile_fixture.h"

namespace ak::profiler {
namespace {

using namespace testing;

TEST(ProfileGpu, CuptiAttributesEveryKernel) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  auto session = mlp_session(models::Device{models::DeviceKind::kCuda, 0});
  ASSERT_TRUE(session);
  ProfileOptions options;
  options.warmup = 3;
  options.iters = 10;
  auto r = profile_session(*session, {random_tensor("x", {8, 64}, 9)}, options);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Profile& p = *r;
  ASSERT_EQ(p.timing_source, "cupti") << p.fallback_reason;
  EXPECT_EQ(p.attribution, "replay") << p.replay_fallback_reason;
  EXPECT_EQ(p.calibration_iters, 3);
  EXPECT_EQ(p.unattributed_kernels, 0);
  EXPECT_EQ(p.dropped_records, 0u);
  EXPECT_GT(p.kernels_per_iter, 0);
  ASSERT_GT(p.busy_ns_per_iter, 0);
  const double attributed = static_cast<double>(p.attributed_ns_per_iter) / static_cast<double>(p.busy_ns_per_iter);
  EXPECT_NEAR(attributed, 1.0, 0.05);
  for (const NodeProfile& n : p.nodes) {
    EXPECT_GE(n.launches_per_iter, 1.0) << n.name;  // every node launched at least one kernel
    EXPECT_GT(n.time.median_ns, 0) << n.name;
    ASSERT_FALSE(n.kernels.empty()) << n.name;
  }
  // The trace has the last calibration iteration's kernels, each tied to its node and API call.
  EXPECT_FALSE(p.trace_kernels.empty());
  EXPECT_FALSE(p.trace_runtime_calls.empty());
  for (const KernelRecord& k : p.trace_kernels) EXPECT_GE(k.external_id, 1u);
}

// Replay (kernel records matched to a calibration's launch order) and external
// correlation in every iteration must attribute the same kernels to the same nodes.
TEST(ProfileGpu, ReplayAttributesLikeCorrelation) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  auto session = mlp_session(models::Device{models::DeviceKind::kCuda, 0});
  ASSERT_TRUE(session);
  const std::vector<models::TensorData> inputs = {random_tensor("x", {8, 64}, 9)};
  ProfileOptions options;
  options.warmup = 2;
  options.iters = 8;
  auto replay = profile_session(*session, inputs, options);
  options.attribution = ProfileOptions::Attribution::kCorrelation;
  auto correlation = profile_session(*session, inputs, options);
  ASSERT_TRUE(replay.is_ok()) << replay.status().message();
  ASSERT_TRUE(correlation.is_ok()) << correlation.status().message();
  ASSERT_EQ(replay->attribution, "replay") << replay->replay_fallback_reason;
  ASSERT_EQ(correlation->attribution, "correlation");
  EXPECT_EQ(replay->kernels_per_iter, correlation->kernels_per_iter);
  EXPECT_EQ(replay->unattributed_kernels, 0);
  ASSERT_EQ(replay->nodes.size(), correlation->nodes.size());
  for (size_t i = 0; i < replay->nodes.size(); ++i) {
    const NodeProfile& a = replay->nodes[i];
    const NodeProfile& b = correlation->nodes[i];
    EXPECT_EQ(a.launches_per_iter, b.launches_per_iter) << a.name;
    ASSERT_EQ(a.kernels.size(), b.kernels.size()) << a.name;
    std::vector<std::string> names_a, names_b;
    for (const KernelSummary& k : a.kernels) names_a.push_back(k.name + " x" + std::to_string(k.calls_per_iter));
    for (const KernelSummary& k : b.kernels) names_b.push_back(k.name + " x" + std::to_string(k.calls_per_iter));
    std::sort(names_a.begin(), names_a.end());
    std::sort(names_b.begin(), names_b.end());
    EXPECT_EQ(names_a, names_b) << a.name;
    EXPECT_GT(a.time.median_ns, 0) << a.name;
  }
}

// The host-bound row: graph replay timed after the profile, the same way as the baseline;
// the MLP at batch 8 is launch-bound, so the GPU idles most of the wall time.
TEST(ProfileGpu, GraphReplayMeasuresTheHostBoundRow) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  auto session = mlp_session(models::Device{models::DeviceKind::kCuda, 0});
  ASSERT_TRUE(session);
  ProfileOptions options;
  options.warmup = 2;
  options.iters = 10;
  options.graph_replay = true;
  auto r = profile_session(*session, {random_tensor("x", {8, 64}, 9)}, options);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Profile& p = *r;
  ASSERT_TRUE(p.graph_measured) << p.graph_note;
  EXPECT_EQ(p.graph_replays, 10) << p.graph_note;
  EXPECT_TRUE(p.graph_note.empty()) << p.graph_note;
  EXPECT_GT(p.graph_wall.median_ns, 0);
  // The session's own setting (off) is back.
  EXPECT_FALSE(session->cuda_graph_state().enabled);
  auto a = analyze(p, session->model().graph, cpu_peaks("test", 2, 3.0, 32, 20), false);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  ASSERT_TRUE(a->host_bound.has_value()) << "wall " << p.unprofiled_wall.median_ns << " model " << a->model_ns;
  EXPECT_GT(a->host_bound->gpu_idle_share, 0.5);
  if (p.graph_wall.median_ns >= a->model_ns) {
    const double wall_ratio = static_cast<double>(p.unprofiled_wall.median_ns) / static_cast<double>(p.graph_wall.median_ns);
    EXPECT_NEAR(a->host_bound->e2e_gain, std::max(1.0, wall_ratio), 1e-3);
  }
}

TEST(ProfileGpu, HostTimingFallbackWhenAsked) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  auto session = mlp_session(models::Device{models::DeviceKind::kCuda, 0});
  ASSERT_TRUE(session);
  ProfileOptions options;
  options.warmup = 1;
  options.iters = 3;
  options.host_timing = true;
  auto r = profile_session(*session, {random_tensor("x", {8, 64}, 9)}, options);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->timing_source, "host");
  EXPECT_EQ(r->fallback_reason, "host timing requested");
  for (const NodeProfile& n : r->nodes) EXPECT_GT(n.time.median_ns, 0) << n.name;
}

}  // namespace
}  // namespace ak::profiler
