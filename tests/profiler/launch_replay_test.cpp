// Replay attribution on synthetic records: a calibration traced with external ids, then
// iterations traced with device records only, matched by launch order.

#include "profiler/launch_replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace ak::profiler {
namespace {

constexpr size_t kNodes = 3;

// One iteration of a three-node model: node 0 launches "gemm" then "bias", node 1 a DtoD
// copy then "softmax", node 2 a memset then "gemm" (same kernel as node 0, other grid).
struct Launch {
  size_t node;
  bool is_kernel;
  std::string name;
  int grid;
  uint64_t bytes;
};
const std::vector<Launch> kIteration = {
    {0, true, "gemm", 64, 0},  {0, true, "bias", 8, 0},    {1, false, "", 0, 4096},
    {1, true, "softmax", 16, 0}, {2, false, "", 0, 128}, {2, true, "gemm", 32, 0},
};

struct Traced {
  std::vector<KernelRecord> kernels;
  std::vector<MemRecord> mems;
  std::vector<ExternalCorrelation> externals;
};

/// `iterations` back-to-back iterations starting at correlation id `first_correlation`;
/// with `external` each launch is tagged with iteration * kNodes + node + 1.
Traced trace(int iterations, uint64_t first_correlation, bool external, int64_t t0 = 1000) {
  Traced t;
  uint64_t correlation = first_correlation;
  int64_t now = t0;
  for (int it = 0; it < iterations; ++it) {
    for (const Launch& l : kIteration) {
      correlation += 3;  // other API calls in between take ids too
      if (l.is_kernel) {
        KernelRecord k;
        k.correlation_id = correlation;
        k.name = l.name;
        k.grid_x = l.grid;
        k.grid_y = k.grid_z = 1;
        k.block_x = 128;
        k.block_y = k.block_z = 1;
        k.start_ns = now;
        k.end_ns = now + 100 * static_cast<int64_t>(l.node + 1);
        k.stream_id = 7;
        t.kernels.push_back(k);
      } else {
        MemRecord m;
        m.kind = l.bytes == 128 ? MemKind::kMemset : MemKind::kDeviceToDevice;
        m.correlation_id = correlation;
        m.size_bytes = l.bytes;
        m.start_ns = now;
        m.end_ns = now + 50;
        m.stream_id = 7;
        t.mems.push_back(m);
      }
      if (external) t.externals.push_back({static_cast<uint64_t>(it) * kNodes + l.node + 1, correlation});
      now += 200;
    }
  }
  return t;
}

/// What the CUPTI source's Correlator hands back, the records fed in a shuffled order.
CorrelationResult join(const Traced& t, unsigned seed = 1) {
  Correlator c;
  std::vector<int> order;
  for (size_t i = 0; i < t.kernels.size() + t.mems.size() + t.externals.size(); ++i) order.push_back(static_cast<int>(i));
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  for (int i : order) {
    size_t j = static_cast<size_t>(i);
    if (j < t.kernels.size()) {
      c.add_kernel(t.kernels[j]);
    } else if ((j -= t.kernels.size()) < t.mems.size()) {
      c.add_mem(t.mems[j]);
    } else {
      c.add_external(t.externals[j - t.mems.size()]);
    }
  }
  return c.finish();
}

std::vector<LaunchStep> calibrated_order() {
  auto order = launch_order(join(trace(2, 100, true)), 1, kNodes);
  EXPECT_TRUE(order.is_ok()) << order.status().message();
  return order.is_ok() ? *order : std::vector<LaunchStep>{};
}

TEST(LaunchReplay, OrderFollowsCorrelationIdsWithTheLaunchingNode) {
  const std::vector<LaunchStep> order = calibrated_order();
  ASSERT_EQ(order.size(), kIteration.size());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i].node_index, kIteration[i].node) << i;
  EXPECT_EQ(order[0].signature, "gemm<<<64,1,1|128,1,1>>>");
  EXPECT_EQ(order[2].signature, "DtoD:4096");
  EXPECT_EQ(order[4].signature, "memset:128");
  EXPECT_NE(order[0].signature, order[5].signature);  // same kernel, another grid
}

TEST(LaunchReplay, AttributesEveryRecordLikeExternalCorrelationWould) {
  const std::vector<LaunchStep> order = calibrated_order();
  // The same 4 iterations traced both ways, at other correlation ids than the calibration.
  const CorrelationResult expected = join(trace(4, 5000, true), 3);
  auto replayed = attribute_by_launch_order(order, join(trace(4, 5000, false), 7), 4, kNodes);
  ASSERT_TRUE(replayed.is_ok()) << replayed.status().message();
  EXPECT_EQ(replayed->unattributed.total(), 0);
  ASSERT_EQ(replayed->nodes.size(), expected.nodes.size());
  for (const auto& [id, node] : expected.nodes) {
    ASSERT_TRUE(replayed->nodes.count(id)) << id;
    const NodeActivity& got = replayed->nodes.at(id);
    EXPECT_EQ(got.kernels.size(), node.kernels.size()) << id;
    EXPECT_EQ(got.mems.size(), node.mems.size()) << id;
    EXPECT_EQ(got.kernel_busy_ns, node.kernel_busy_ns) << id;
    EXPECT_EQ(got.mem_sum_ns, node.mem_sum_ns) << id;
    for (size_t k = 0; k < node.kernels.size(); ++k) {
      EXPECT_EQ(got.kernels[k].name, node.kernels[k].name);
      EXPECT_EQ(got.kernels[k].start_ns, node.kernels[k].start_ns);
    }
  }
  EXPECT_EQ(replayed->busy_ns(), expected.busy_ns());
}

TEST(LaunchReplay, WithoutCorrelationIdsStartTimesGiveTheOrder) {
  const std::vector<LaunchStep> order = calibrated_order();
  Traced t = trace(2, 0, false);
  for (KernelRecord& k : t.kernels) k.correlation_id = 0;
  for (MemRecord& m : t.mems) m.correlation_id = 0;
  auto replayed = attribute_by_launch_order(order, join(t), 2, kNodes);
  ASSERT_TRUE(replayed.is_ok()) << replayed.status().message();
  EXPECT_EQ(replayed->nodes.size(), 2 * kNodes);
  EXPECT_EQ(replayed->nodes.at(kNodes + 3).kernels.at(0).name, "gemm");  // iteration 1, node 2 (id 1 * 3 + 2 + 1)
}

TEST(LaunchReplay, KernelsOfOneGraphLaunchAreOrderedByStart) {
  // Node 0 launches a graph: two kernels with one correlation id.
  Traced calibration = trace(1, 100, true);
  calibration.kernels[1].correlation_id = calibration.kernels[0].correlation_id;
  calibration.externals.erase(calibration.externals.begin() + 1);
  auto order = launch_order(join(calibration), 0, kNodes);
  ASSERT_TRUE(order.is_ok()) << order.status().message();
  EXPECT_EQ(order->at(0).signature.substr(0, 4), "gemm");
  EXPECT_EQ(order->at(1).signature.substr(0, 4), "bias");
  Traced light = trace(1, 900, false);
  light.kernels[1].correlation_id = light.kernels[0].correlation_id;
  EXPECT_TRUE(attribute_by_launch_order(*order, join(light), 1, kNodes).is_ok());
}

TEST(LaunchReplay, AnotherLaunchCountIsRefusedWithTheCounts) {
  const std::vector<LaunchStep> order = calibrated_order();
  Traced t = trace(3, 5000, false);
  t.kernels.pop_back();  // a record lost, or an iteration that launched one kernel fewer
  auto replayed = attribute_by_launch_order(order, join(t), 3, kNodes);
  ASSERT_FALSE(replayed.is_ok());
  EXPECT_NE(replayed.status().message().find("17 kernels and memory operations"), std::string::npos)
      << replayed.status().message();
  EXPECT_NE(replayed.status().message().find("calibration's 6"), std::string::npos) << replayed.status().message();
}

TEST(LaunchReplay, AnotherKernelAtAStepIsRefusedNamingIt) {
  const std::vector<LaunchStep> order = calibrated_order();
  Traced t = trace(3, 5000, false);
  t.kernels[6].name = "gemm_splitk";  // iteration 1, its third kernel (node 1's softmax)
  auto replayed = attribute_by_launch_order(order, join(t), 3, kNodes);
  ASSERT_FALSE(replayed.is_ok());
  const std::string& message = replayed.status().message();
  EXPECT_NE(message.find("iteration 1, launch 3"), std::string::npos) << message;
  EXPECT_NE(message.find("gemm_splitk"), std::string::npos) << message;
  EXPECT_NE(message.find("softmax"), std::string::npos) << message;

  Traced regrid = trace(1, 5000, false);
  regrid.kernels[0].grid_x = 65;
  EXPECT_FALSE(attribute_by_launch_order(order, join(regrid), 1, kNodes).is_ok());
}

TEST(LaunchReplay, CalibrationWithWorkOutsideEveryNodeCannotBeReplayed) {
  Traced t = trace(2, 100, true);
  KernelRecord stray = t.kernels.back();  // launched in iteration 1 by no node
  stray.correlation_id += 1;
  stray.start_ns += 10;
  stray.end_ns += 10;
  t.kernels.push_back(stray);
  auto order = launch_order(join(t), 1, kNodes);
  ASSERT_FALSE(order.is_ok());
  EXPECT_NE(order.status().message().find("1 unattributed"), std::string::npos) << order.status().message();
  // Iteration 0 is clean: its order is usable.
  EXPECT_TRUE(launch_order(join(t), 0, kNodes).is_ok());
}

TEST(LaunchReplay, BadArgumentsAreErrors) {
  EXPECT_FALSE(launch_order(join(trace(1, 100, true)), 5, kNodes).is_ok());  // an iteration never traced
  EXPECT_FALSE(launch_order(join(trace(1, 100, true)), 0, 0).is_ok());
  EXPECT_FALSE(attribute_by_launch_order({}, join(trace(1, 100, false)), 1, kNodes).is_ok());
  EXPECT_FALSE(attribute_by_launch_order(calibrated_order(), join(trace(1, 100, false)), 0, kNodes).is_ok());
}

}  // namespace
}  // namespace ak::profiler
