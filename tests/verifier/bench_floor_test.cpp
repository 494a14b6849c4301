// The roofline floor `autokernel bench` gives the judge, on the case that flagged an honest
// kernel: Add+ReLU over 262144 float32 elements (3.1 MB with its bias and output) on the
// CPU, with the peaks measured on first use (a fresh $AUTOKERNEL_CACHE).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/cli/run_cli.h"
#include "tests/verifier/judge_fixture.h"

namespace ak::verifier {
namespace {

namespace fs = std::filesystem;

TEST(BenchFloor, AnHonestCpuKernelIsNotCheatSuspected) {
  testing::TempDir tmp;
  testing::write_add_relu_task(tmp.path / "task", "cpu", "cpu", /*batch=*/1024);  // [1024, 256]
  const fs::path good = fs::path(AK_SOURCE_DIR) / "tests/verifier/candidates/cpu/good.cpp";
  const std::string env = "AUTOKERNEL_CACHE=" + (tmp.path / "cache").string();
  for (int run = 0; run < 3; ++run) {  // it was CHEAT_SUSPECTED in 2 of 3 runs
    auto out = ak::testing::run_cli(
        "bench " + (tmp.path / "task").string() + " " + good.string() + " --quick --threads 2 --no-memory --json", env);
    ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
    auto j = nlohmann::json::parse(out.out);
    EXPECT_EQ(j["status"], "PASSED") << j["message"];
    EXPECT_GT(j["roofline_floor_us"].get<double>(), 0);  // measured peaks: a floor was checked
    EXPECT_LT(j["roofline_floor_us"].get<double>(), j["latency_us"].get<double>());
    std::cout << "latency " << j["latency_us"] << " us, floor " << j["roofline_floor_us"] << " us" << std::endl;
  }
  // The peaks were measured and cached, not estimated.
  EXPECT_TRUE(fs::exists(tmp.path / "cache" / "device"));
}

}  // namespace
}  // namespace ak::verifier
