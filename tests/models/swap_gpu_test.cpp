// Swap-in on CUDA: the CUDA starter of an extracted elementwise chain (built with nvcc for
// this GPU) swapped into both instances of two_chains_model, against the original session;
// a batch outside the verified range falls back; an entry marked for another architecture
// is rebuilt for this one. Skips where no GPU is usable.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/models/swap_fixture.h"

namespace ak::models {
namespace {

using namespace ak::models::swap_testing;

TEST(SwapGpu, TheChainsCudaStarterSwapsInAndFallsBackOutsideItsRange) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  TempDir s;
  Device cuda;
  cuda.kind = DeviceKind::kCuda;
  const auto model = two_chains_model();
  const auto tasks = extract(model, s.path / "tasks", 1, kChainNodes, cuda);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(tasks[0].starter_file, "starter.cu");
  kernels::Pack pack = new_pack(s.path / "pack");
  auto task = kernels::read_task(tasks[0].dir);
  ASSERT_TRUE(task.is_ok()) << task.status().message();
  kernels::PackEntry wanted;
  wanted.arch = "sm_80";  // another architecture: rebuilt from source for this GPU
  wanted.ranges = {{"batch", 1, 4}};
  ASSERT_TRUE(kernels::add_pack_entry(&pack, *task, tasks[0].dir / tasks[0].starter_file, wanted).is_ok());
  ASSERT_TRUE(kernels::write_pack(pack.dir, pack).is_ok());

  SessionOptions plain;
  plain.device = cuda;
  SessionOptions swapped = plain;
  swapped.kernels.pack = pack.dir;
  auto reference = Session::create(model, plain);
  auto session = Session::create(model, swapped);
  ASSERT_TRUE(reference.is_ok()) << reference.status().message();
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  EXPECT_EQ((*session)->swap_report().summary(), "kernels: swapped 2 instances of 1 workload (1 of 1 entries)");
  for (int64_t batch : {3, 9}) {
    const auto inputs = random_inputs(*model, batch);
    auto want = (*reference)->run(inputs);
    auto got = (*session)->run(inputs);
    ASSERT_TRUE(want.is_ok() && got.is_ok()) << got.status().message();
    const auto a = floats_of((*want)[0]), b = floats_of((*got)[0]);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << "batch " << batch << " element " << i;
  }
  for (const auto& i : (*session)->swap_report().instances) {
    EXPECT_EQ(i.kernel_calls, 1);
    EXPECT_EQ(i.fallbacks, 1);
    EXPECT_EQ(i.last_fallback_reason, "axis batch = 9 is outside the verified 1..4");
  }
}

}  // namespace
}  // namespace ak::models
