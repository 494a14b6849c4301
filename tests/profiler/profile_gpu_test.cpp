// profile_session on a GPU with CUPTI: every kernel attributed to its node.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "profiler/hotspots.h"
#include "profiler/profile.h"
#include "tests/models/cuda_graph_models.h"
#include "verifier/verify_model.h"
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

/// The nodes that ran at least one kernel.
std::set<std::string> nodes_with_kernels(const Profile& p) {
  std::set<std::string> names;
  for (const NodeProfile& n : p.nodes)
    if (!n.kernels.empty()) names.insert(n.name);
  return names;
}

// What is deployed, profiled: the graph replays' kernels attributed through the capture's
// graph nodes, every one of them, to the same nodes the eager profile finds.
TEST(ProfileGpu, CudaGraphReplaysAttributeEveryKernel) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  auto session = mlp_session(models::Device{models::DeviceKind::kCuda, 0});
  ASSERT_TRUE(session);
  const std::vector<models::TensorData> inputs = {random_tensor("x", {8, 64}, 9)};
  ProfileOptions options;
  options.warmup = 3;
  options.iters = 10;
  options.cuda_graph = true;
  auto r = profile_session(*session, inputs, options);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Profile& p = *r;
  ASSERT_TRUE(p.cuda_graph) << p.cuda_graph_refusal;
  EXPECT_EQ(p.attribution, "graph");
  EXPECT_EQ(p.timing_source, "cupti");
  EXPECT_EQ(p.cuda_graph_replays, options.iters);
  EXPECT_EQ(p.unattributed_kernels, 0) << (p.unattributed_kernel_names.empty() ? "" : p.unattributed_kernel_names[0]);
  EXPECT_EQ(p.dropped_records, 0u);
  EXPECT_EQ(p.attributed_kernels, p.kernels_per_iter * options.iters);
  EXPECT_TRUE(p.graph_measured);
  EXPECT_FALSE(session->cuda_graph_state().enabled);  // the session's setting (off) is back
  // Per-node device time adds up to the replays' busy time (one stream: no overlap).
  ASSERT_GT(p.busy_ns_per_iter, 0);
  EXPECT_NEAR(static_cast<double>(p.attributed_ns_per_iter) / static_cast<double>(p.busy_ns_per_iter), 1.0, 1e-3);
  int64_t node_kernel_ns = 0;
  for (const NodeProfile& n : p.nodes)
    for (const KernelSummary& k : n.kernels) node_kernel_ns += k.total_ns_per_iter;
  EXPECT_NEAR(static_cast<double>(node_kernel_ns) / static_cast<double>(p.busy_ns_per_iter), 1.0, 0.01);
  // The last profiled replay is the trace's iteration, every kernel tied to its node.
  EXPECT_FALSE(p.trace_kernels.empty());
  for (const KernelRecord& k : p.trace_kernels) {
    EXPECT_GE(k.external_id, 1u);
    EXPECT_NE(k.graph_node_id, 0u);
  }

  options.cuda_graph = false;
  auto eager = profile_session(*session, inputs, options);
  ASSERT_TRUE(eager.is_ok()) << eager.status().message();
  EXPECT_EQ(nodes_with_kernels(p), nodes_with_kernels(*eager));
  EXPECT_EQ(p.kernels_per_iter, eager->kernels_per_iter);
  // Not asserted (noise), reported: the goal is <= 1.05x over unprofiled replays.
  std::cout << "graph profile overhead " << p.overhead_ratio << "x (" << p.unprofiled_wall.median_ns << " -> "
            << p.profiled_wall.median_ns << " ns); eager profile overhead " << eager->overhead_ratio << "x\n";
  RecordProperty("graph_overhead_ratio", std::to_string(p.overhead_ratio));
}

// A model whose capture is refused (NonZero waits for the device) profiles eagerly and names
// the node.
TEST(ProfileGpu, ARefusedCaptureProfilesEagerlyWithTheReason) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  models::SessionOptions so;
  so.device = models::Device{models::DeviceKind::kCuda, 0};
  auto session = models::Session::create(models::testing::nonzero_model(), so);
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  ProfileOptions options;
  options.warmup = 2;
  options.iters = 4;
  options.cuda_graph = true;
  auto r = profile_session(**session, {random_tensor("x", {4, 8}, 3)}, options);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->cuda_graph);
  EXPECT_NE(r->attribution, "graph");
  EXPECT_NE(r->cuda_graph_refusal.find("node 'NonZero_y' (NonZero"), std::string::npos) << r->cuda_graph_refusal;
  EXPECT_EQ(r->iters, 4);
  EXPECT_GT(r->nodes[0].time.median_ns, 0);
}

// verify's graph check (verifier/verify_model.h): the original model's replays against its
// eager outputs, bit for bit, per output; two shape sets, two graphs.
TEST(ProfileGpu, VerifyComparesGraphReplaysWithEagerRunsBitForBit) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  models::SessionOptions so;
  so.device = models::Device{models::DeviceKind::kCuda, 0};
  auto session = models::Session::create(models::testing::block_model(), so);
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  std::vector<verifier::InputSet> sets = {{"a", {random_tensor("x", {2, 16, 32}, 1)}},
                                          {"b", {random_tensor("x", {2, 16, 32}, 2)}},
                                          {"batch=3", {random_tensor("x", {3, 16, 32}, 3)}}};
  std::vector<std::vector<models::TensorData>> eager;
  for (const auto& set : sets) {
    auto out = (*session)->run(set.tensors);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    eager.push_back(std::move(out).value());
  }
  auto check = verifier::check_cuda_graph(**session, sets, eager);
  ASSERT_TRUE(check.is_ok()) << check.status().message();
  ASSERT_TRUE(check->original.enabled) << check->ignored;
  EXPECT_EQ(check->original.captured, 2) << check->original.refusal;
  EXPECT_EQ(check->sets_replayed, 3);
  ASSERT_EQ(check->outputs.size(), eager[0].size());
  for (const auto& o : check->outputs) EXPECT_TRUE(o.bitwise_equal) << o.output << " on " << o.first_difference;
  EXPECT_FALSE((*session)->cuda_graph_state().enabled);

  // A reference one element off is caught, naming the set.
  const size_t width = models::dtype_size(eager[1][0].dtype);
  std::vector<std::byte> bytes(eager[1][0].bytes.data, eager[1][0].bytes.data + eager[1][0].bytes.size_bytes);
  bytes[width] ^= std::byte{1};
  eager[1][0].bytes = models::Buffer::copy_of(bytes.data(), bytes.size());
  auto tampered = verifier::check_cuda_graph(**session, sets, eager);
  ASSERT_TRUE(tampered.is_ok()) << tampered.status().message();
  EXPECT_FALSE(tampered->outputs[0].bitwise_equal);
  EXPECT_EQ(tampered->outputs[0].differing_elements, 1);
  EXPECT_EQ(tampered->outputs[0].first_difference, "b");

  // NonZero cannot be captured: the refusal names the node, nothing is compared.
  auto nonzero = models::Session::create(models::testing::nonzero_model(), so);
  ASSERT_TRUE(nonzero.is_ok()) << nonzero.status().message();
  std::vector<verifier::InputSet> nz = {{"x", {random_tensor("x", {4, 8}, 4)}}};
  auto nz_eager = (*nonzero)->run(nz[0].tensors);
  ASSERT_TRUE(nz_eager.is_ok()) << nz_eager.status().message();
  auto refused = verifier::check_cuda_graph(**nonzero, nz, {*nz_eager});
  ASSERT_TRUE(refused.is_ok()) << refused.status().message();
  EXPECT_EQ(refused->sets_replayed, 0);
  EXPECT_EQ(refused->original.refused, 1);
  EXPECT_NE(refused->original.refusal.find("NonZero"), std::string::npos) << refused->original.refusal;
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
