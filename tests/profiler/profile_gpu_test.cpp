// profile_session on a GPU with CUPTI: every kernel attributed to its node.
#include <gtest/gtest.h>

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
  // The trace has the last iteration's kernels, each tied to its node and API call.
  EXPECT_FALSE(p.trace_kernels.empty());
  EXPECT_FALSE(p.trace_runtime_calls.empty());
  for (const KernelRecord& k : p.trace_kernels) EXPECT_GE(k.external_id, 1u);
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
