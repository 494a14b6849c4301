// CUDA-graph execution where there is no GPU: the option is ignored on the CPU, says so,
// and changes nothing; the runner refuses a CPU device and a CPU build; `autokernel run`
// takes --cuda-graph / --no-cuda-graph and rejects both together. The GPU behaviour is
// in cuda_graph_gpu_test.cpp (label gpu).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/cuda_graph.h"
#include "models/onnx_io.h"
#include "models/session.h"
#include "tests/cli/run_cli.h"
#include "tests/models/cuda_graph_models.h"

namespace ak::models {
namespace {

using namespace testing;

std::unique_ptr<Session> block_session(bool cuda_graph) {
  SessionOptions options;
  options.cuda_graph = cuda_graph;
  auto s = Session::create(block_model(), options);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

TEST(CudaGraph, OptionIsIgnoredOnTheCpuAndSaysSo) {
  auto with = block_session(true);
  auto without = block_session(false);
  ASSERT_TRUE(with && without);
  const CudaGraphState& state = with->cuda_graph_state();
  EXPECT_FALSE(state.enabled);
  EXPECT_NE(state.ignored.find("ignored on cpu"), std::string::npos) << state.ignored;
  EXPECT_TRUE(without->cuda_graph_state().ignored.empty());
  for (int run = 0; run < 3; ++run) {
    const TensorData x = random_normal_tensor("x", {2, 16, 32}, 10 + run);
    auto a = with->run({x});
    auto b = without->run({x});
    ASSERT_TRUE(a.is_ok() && b.is_ok()) << a.status().message() << b.status().message();
    ASSERT_EQ(a->size(), 1u);
    EXPECT_EQ((*a)[0].dims, (std::vector<int64_t>{2, 512}));
    EXPECT_EQ(floats_of((*a)[0]), floats_of((*b)[0]));
  }
  // Nothing was captured, replayed or counted: the CPU path is the executor's.
  EXPECT_EQ(state.captured, 0);
  EXPECT_EQ(state.replays, 0);
  EXPECT_EQ(state.eager_runs, 0);
  EXPECT_TRUE(state.fallback_reason.empty());
}

TEST(CudaGraph, TurningOffClearsTheNote) {
  auto s = block_session(false);
  ASSERT_TRUE(s);
  s->set_cuda_graph(true);
  EXPECT_FALSE(s->cuda_graph_state().ignored.empty());
  s->set_cuda_graph(false);
  EXPECT_TRUE(s->cuda_graph_state().ignored.empty());
  EXPECT_FALSE(s->cuda_graph_state().enabled);
}

TEST(CudaGraph, RunnerRefusesACpuDevice) {
  auto runner = make_cuda_graph_runner(Device{}, EagerRunner{}, kCudaGraphCacheSize);
  ASSERT_FALSE(runner.is_ok());
  EXPECT_EQ(runner.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(runner.status().message().find("cpu"), std::string::npos) << runner.status().message();
}

class CudaGraphCli : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path / "block.onnx").string();
    ASSERT_TRUE(save_model(*block_model(), path_).is_ok());
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(CudaGraphCli, RunOnTheCpuSaysTheOptionIsIgnored) {
  auto o = ak::testing::run_cli("run " + path_ + " --device cpu --dim batch=2 --iters 2 --warmup 1 --cuda-graph");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("cuda graph: cuda graphs are for CUDA devices; ignored on cpu\n"), std::string::npos) << o.out;

  // Without the flag the CPU run has no such line: there is nothing to say.
  auto plain = ak::testing::run_cli("run " + path_ + " --device cpu --iters 2 --warmup 1");
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("cuda graph"), std::string::npos) << plain.out;
}

TEST_F(CudaGraphCli, JsonReportsTheGraphState) {
  auto o = ak::testing::run_cli("run " + path_ + " --device cpu --iters 2 --warmup 1 --json --cuda-graph");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out);
  ASSERT_TRUE(j.contains("cuda_graph")) << o.out;
  EXPECT_EQ(j["cuda_graph"]["enabled"], false);
  EXPECT_EQ(j["cuda_graph"]["replays"], 0);
  EXPECT_NE(j["cuda_graph"]["ignored"].get<std::string>().find("ignored on cpu"), std::string::npos);
}

TEST_F(CudaGraphCli, BothFlagsTogetherAreBadInput) {
  auto o = ak::testing::run_cli("run " + path_ + " --device cpu --cuda-graph --no-cuda-graph");
  ak::testing::expect_bad_input(o, "cuda-graph");
}

}  // namespace
}  // namespace ak::models
