// The judge on CUDA candidates (tests/verifier/candidates/cuda), on the GPU machine.
#include <gtest/gtest.h>

#include "kernels/build.h"
#include "verifier/judge.h"
#include "tests/verifier/judge_fixture.h"

namespace ak::verifier {
namespace {

using namespace testing;
namespace fs = std::filesystem;

const fs::path kCandidates = fs::path(AK_SOURCE_DIR) / "tests/verifier/candidates/cuda";

class CudaCandidate : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaCandidate, GetsTheStatusItDeserves) {
  if (!models::cuda_available()) GTEST_SKIP() << "no GPU";
  auto arch = kernels::detect_cuda_arch();
  ASSERT_TRUE(arch.is_ok()) << arch.status().message();
  TempDir tmp;
  write_add_relu_task(tmp.path / "task", "cuda", *arch, 4096);
  auto task = kernels::read_task(tmp.path / "task");
  ASSERT_TRUE(task.is_ok()) << task.status().message();
  JudgeOptions o;
  o.quick = true;
  o.timeout_s = 30;
  o.worker_program = AK_CLI_PATH;
  o.build.cache_dir = tmp.path / "cache";
  // The task's bytes at an H200's HBM3e bandwidth (4.8 TB/s, 4800 bytes per ns): no
  // correct kernel can beat it, and the good one must not be flagged against it.
  o.roofline_floor_ns = task->bytes / 4800.0;
  const fs::path file = kCandidates / GetParam();
  auto e = judge_candidate(*task, file, o);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  std::cout << GetParam() << ": " << verdict_name(e->verdict) << " [" << e->gate << "] " << e->message << std::endl;
  if (needs_sandbox(file) && e->notes.find("sandbox:") != std::string::npos)
    GTEST_SKIP() << "this machine cannot sandbox the worker: " << e->notes;
  EXPECT_EQ(e->notes, "") << "the sandbox must hold on the CUDA path too";
  EXPECT_STREQ(verdict_name(e->verdict), expected_status(file).c_str()) << GetParam() << ": gate " << e->gate << ": " << e->message;
  if (e->verdict == Verdict::kPassed) {
    ASSERT_TRUE(e->speedup.has_value());
    std::cout << "  speedup " << *e->speedup << " [" << *e->speedup_ci_low << ", " << *e->speedup_ci_high << "], "
              << *e->latency_us << " us vs " << *e->reference_latency_us << " us, floor " << e->roofline_floor_us << " us"
              << std::endl;
    EXPECT_TRUE(e->deterministic);
    EXPECT_TRUE(e->gate.empty());
    // Add+ReLU on 1M floats: one pass over 8 MB. The reference runs two ATen kernels (Add,
    // then Relu: twice the traffic) and the good kernel one, so a plausible speedup is in
    // [1, 4]; a latency at or below the floor, or an interval outside that band, means the
    // timing is broken, not that the kernel is great.
    EXPECT_GE(*e->latency_us, e->roofline_floor_us);
    EXPECT_GT(*e->reference_latency_us, *e->latency_us * 0.8);
    EXPECT_LE(*e->speedup_ci_low, *e->speedup);
    EXPECT_GE(*e->speedup_ci_high, *e->speedup);
    EXPECT_GT(*e->speedup_ci_low, 0.8);
    EXPECT_LT(*e->speedup_ci_high, 4.0);
    EXPECT_LT(*e->latency_us, 1000.0);  // ~5 us expected on an H200
  } else {
    EXPECT_FALSE(e->gate.empty());
    EXPECT_FALSE(e->speedup.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Suite, CudaCandidate,
                         ::testing::Values("good.cu", "illegal_address.cu", "other_stream.cu", "infinite_loop.cu", "noop.cu",
                                           "out_of_bounds.cu", "input_mutation.cu", "cached_output.cu", "compile_error.cu",
                                           "forge_destructor.cu", "forge_exit_early.cu", "forge_status.cu",
                                           "fork_outlives.cu", "forge_stream.cu"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

}  // namespace
}  // namespace ak::verifier
