// `autokernel verify` on CUDA, as verify_cli_test.cpp does it on the CPU: tasks extracted
// from the exporter fixture's GPT-2 on the GPU, packs of their CUDA starters (GELU chain,
// LayerNorm, built with nvcc), a starter with a small deliberate error on one workload, a
// crashing and a hanging CUDA kernel. Skips where no GPU is usable.
#include <map>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "kernels/pack.h"
#include "models/session.h"
#include "tests/cli/verify_fixture.h"

namespace ak::testing {
namespace {

#define AK_SKIP_WITHOUT_GPU() \
  if (!models::cuda_available()) GTEST_SKIP() << "no CUDA device"

class VerifyGpu : public VerifyFixture<true> {
 protected:
  static void SetUpTestSuite() {
    if (models::cuda_available()) extract_all({{kGpt2, "gpt2"}});
  }
};

/// CUDA source the epilogues launch: every element of a float tensor plus `delta`, a write
/// through a null pointer, a loop that never ends.
const std::string kBadKernels = R"cu(
__global__ void ak_test_add(float* y, long long n, float delta) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i < n) y[i] += delta;
}
__global__ void ak_test_crash() { *static_cast<volatile int*>(nullptr) = 1; }
__global__ void ak_test_spin() {
  for (volatile int spin = 0;; spin = spin + 1) {
  }
}
)cu";

/// Launches `kernel` with `grid` ("blocks, threads") and `args` on the caller's stream.
std::string launch(const std::string& kernel, const std::string& grid, const std::string& args) {
  return "  " + kernel + "<<<" + grid + ", 0, static_cast<cudaStream_t>(stream)>>>(" + args + ");";
}

TEST_F(VerifyGpu, TemplatePackVerifiesOnGpt2WithSwapCountAndFallback) {
  AK_SKIP_WITHOUT_GPU();
  const auto pack = make_pack("gpt2_pack", {{task("gpt2", "gelu"), ""}, {task("gpt2", "residual_layer_norm_blocks"), ""}});
  const auto o = run_cli(verify(kGpt2, pack));
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("kernels: swapped "), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("kernels: swapped 0 "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("verdict:    PASSED"), std::string::npos) << o.out;
  // Entries made by the pack library are verified for their captured batch 1 only. With CUDA
  // graphs a fallback is counted where the graph is captured (a replay runs no host code):
  // under the first input set of that shape, the fixture's captured set at batch 2, not
  // under each set that replays it.
  EXPECT_NE(o.out.find("ran the original nodes: axis batch = 2 is outside the verified 1..1"), std::string::npos) << o.out;
  auto read = kernels::read_pack(pack);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  ASSERT_EQ(read->verifications.size(), 1u);
  EXPECT_EQ(read->verifications[0].verdict, "PASSED");
  EXPECT_EQ(read->verifications[0].device, "cuda");
  EXPECT_EQ(read->verifications[0].entries.size(), 2u);
}

TEST_F(VerifyGpu, AWrongKernelIsNamedByBisection) {
  AK_SKIP_WITHOUT_GPU();
  // A small error on the GELU workload only: every element 1e-2 too large.
  const auto gelu = task("gpt2", "gelu");
  const auto wrong = starter_then(gelu,
                                  "  long long n = 1;\n  for (int32_t d = 0; d < out[0].rank; ++d) n *= out[0].shape[d];\n" +
                                      launch("ak_test_add", "static_cast<unsigned>((n + 255) / 256), 256",
                                             "static_cast<float*>(out[0].data), n, 1e-2f"),
                                  kBadKernels);
  const auto pack = make_pack("wrong_pack", {{task("gpt2", "residual_layer_norm_blocks"), ""}, {gelu, wrong}});
  const auto o = run_cli(verify(kGpt2, pack, "--json"));
  EXPECT_EQ(o.exit_code, 1) << o.err;
  ASSERT_NE(o.out.find('{'), std::string::npos) << o.err;
  const auto j = nlohmann::json::parse(o.out);
  const auto& v = j["verification"];
  EXPECT_EQ(v["verdict"], "INCORRECT_NUMERICAL") << v.dump(1);
  ASSERT_EQ(v["culprits"].size(), 1u) << v.dump(1);
  const auto& culprit = v["culprits"][0];
  EXPECT_EQ(culprit["entry"].get<std::string>().rfind("gelu", 0), 0u) << culprit.dump();
  EXPECT_FALSE(culprit["nodes"].empty());
  EXPECT_GT(culprit["max_abs_error"].get<double>(), culprit["atol"].get<double>());
}

TEST_F(VerifyGpu, CrashingAndHangingKernelsGetVerdictsNamingThem) {
  AK_SKIP_WITHOUT_GPU();
  const auto gelu = task("gpt2", "gelu"), norm = task("gpt2", "residual_layer_norm_blocks");
  const auto crash = starter_then(gelu, launch("ak_test_crash", "1, 1", ""), kBadKernels);
  const auto hang = starter_then(norm, launch("ak_test_spin", "1, 1", ""), kBadKernels);
  const auto pack = make_pack("bad_pack", {{gelu, crash}, {norm, hang}});
  const auto o = run_cli(verify(kGpt2, pack, "--json --timeout 15"));
  // The tool carries on: a verdict, not a crash of its own.
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_EQ(o.signal, 0) << o.err;
  ASSERT_NE(o.out.find('{'), std::string::npos) << o.err;
  const auto j = nlohmann::json::parse(o.out);
  std::map<std::string, std::string> verdicts;
  for (const auto& c : j["verification"]["culprits"]) verdicts[c["entry"].get<std::string>().substr(0, 4)] = c["verdict"];
  EXPECT_EQ(verdicts["gelu"], "RUNTIME_ERROR") << j.dump(1);
  EXPECT_EQ(verdicts["resi"], "TIMEOUT") << j.dump(1);
}

}  // namespace
}  // namespace ak::testing
