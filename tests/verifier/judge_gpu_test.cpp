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
  const fs::path file = kCandidates / GetParam();
  auto e = judge_candidate(*task, file, o);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_STREQ(verdict_name(e->verdict), expected_status(file).c_str()) << GetParam() << ": gate " << e->gate << ": " << e->message;
  std::cout << GetParam() << ": " << verdict_name(e->verdict) << " [" << e->gate << "] " << e->message << std::endl;
  if (e->verdict == Verdict::kPassed) {
    ASSERT_TRUE(e->speedup.has_value());
    std::cout << "  speedup " << *e->speedup << " [" << *e->speedup_ci_low << ", " << *e->speedup_ci_high << "], "
              << *e->latency_us << " us vs " << *e->reference_latency_us << " us" << std::endl;
  }
}

INSTANTIATE_TEST_SUITE_P(Suite, CudaCandidate,
                         ::testing::Values("good.cu", "illegal_address.cu", "other_stream.cu", "infinite_loop.cu", "noop.cu",
                                           "out_of_bounds.cu", "input_mutation.cu", "cached_output.cu", "compile_error.cu"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

}  // namespace
}  // namespace ak::verifier
