// The deployment API as an application uses it: a small model with a small pack (the
// starter of its elementwise chain), run through autokernel/autokernel.h against the same
// model without the pack, the example program `deploy`, and the bad inputs.
#include <autokernel/autokernel.h>

#include <gtest/gtest.h>

#include <cmath>

#include "models/onnx_io.h"
#include "models/session.h"
#include "tests/cli/run_cli.h"
#include "tests/models/swap_fixture.h"

namespace {

using namespace ak::models::swap_testing;

/// two_chains.onnx and a pack with its chain's starter (batch 1..4), in `dir`.
struct Deployment {
  fs::path model, pack;
};

Deployment make_deployment(const fs::path& dir) {
  Deployment d{dir / "two_chains.onnx", dir / "pack"};
  EXPECT_TRUE(ak::models::save_model(*two_chains_model(), d.model).is_ok());
  ak::kernels::Pack pack = new_pack(d.pack);
  EXPECT_EQ(add_starters(&pack, extract(two_chains_model(), dir / "tasks", 1, kChainNodes), 4).size(), 1u);
  return d;
}

autokernel::Tensor input_x(int64_t batch) {
  std::vector<float> values(static_cast<size_t>(batch * 8 * 16));
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::cos(0.37f * static_cast<float>(i));
  return autokernel::Tensor::of("x", {batch, 8, 16}, values);
}

std::vector<autokernel::Tensor> run(const fs::path& model, const std::string& pack, int64_t batch,
                                    std::unique_ptr<autokernel::Model>* keep) {
  autokernel::LoadOptions options;
  options.device = "cpu";
  options.pack = pack;
  autokernel::Status st = autokernel::Model::load(model.string(), options, keep);
  EXPECT_TRUE(st.ok()) << st.message;
  std::vector<autokernel::Tensor> outputs;
  if (!st.ok()) return outputs;
  st = (*keep)->run({input_x(batch)}, &outputs);
  EXPECT_TRUE(st.ok()) << st.message;
  return outputs;
}

TEST(Api, APackedModelComputesWhatTheModelComputes) {
  TempDir dir;
  const Deployment d = make_deployment(dir.path);
  std::unique_ptr<autokernel::Model> plain, packed;
  const auto expected = run(d.model, "", 3, &plain);
  const auto got = run(d.model, d.pack.string(), 3, &packed);
  ASSERT_EQ(expected.size(), 1u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].name, "y");
  EXPECT_EQ(got[0].dims, (std::vector<int64_t>{3, 8, 16}));
  const auto a = expected[0].floats(), b = got[0].floats();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << i;
  EXPECT_EQ(packed->kernels_summary(), "kernels: swapped 2 instances of 1 workload (1 of 1 entries)");
  EXPECT_EQ(packed->kernel_calls(), 2);
  EXPECT_EQ(packed->kernel_fallbacks(), 0);
  EXPECT_EQ(plain->kernels_summary(), "");
  ASSERT_EQ(packed->inputs().size(), 1u);
  EXPECT_EQ(packed->inputs()[0].dim_names[0], "batch");
  EXPECT_EQ(packed->device(), "cpu");

  // Outside the verified batch range: the original nodes, the same answer.
  std::vector<autokernel::Tensor> outputs;
  ASSERT_TRUE(packed->run({input_x(6)}, &outputs).ok());
  EXPECT_EQ(packed->kernel_fallbacks(), 2);
}

TEST(Api, BadInputIsAStatusNotAnException) {
  TempDir dir;
  const Deployment d = make_deployment(dir.path);
  std::unique_ptr<autokernel::Model> model;
  autokernel::Status st = autokernel::Model::load((dir.path / "missing.onnx").string(), {}, &model);
  EXPECT_EQ(st.code, autokernel::StatusCode::kInvalidInput);
  EXPECT_NE(st.message.find("missing.onnx"), std::string::npos) << st.message;
  EXPECT_EQ(st.exit_code(), 2);

  autokernel::LoadOptions bad_pack;
  bad_pack.pack = (dir.path / "no_pack").string();
  st = autokernel::Model::load(d.model.string(), bad_pack, &model);
  EXPECT_EQ(st.code, autokernel::StatusCode::kInvalidInput);
  EXPECT_NE(st.message.find("is not a pack folder"), std::string::npos) << st.message;

  autokernel::LoadOptions cpu;
  cpu.device = "cpu";
  ASSERT_TRUE(autokernel::Model::load(d.model.string(), cpu, &model).ok());
  std::vector<autokernel::Tensor> outputs;
  st = model->run({autokernel::Tensor::of("nope", {1}, std::vector<float>{1.f})}, &outputs);
  EXPECT_EQ(st.code, autokernel::StatusCode::kInvalidInput);
  EXPECT_NE(st.message.find("'nope' is not an input of the model"), std::string::npos) << st.message;
  autokernel::Tensor short_x = input_x(1);
  short_x.data.resize(12);
  st = model->run({short_x}, &outputs);
  EXPECT_EQ(st.code, autokernel::StatusCode::kInvalidInput);
  EXPECT_NE(st.message.find("12 bytes for 128 elements"), std::string::npos) << st.message;
  st = model->run({autokernel::Tensor::of("x", {1, 8, 16}, std::vector<int64_t>(128, 1))}, &outputs);
  EXPECT_EQ(st.code, autokernel::StatusCode::kInvalidInput);
  EXPECT_NE(st.message.find("expected dtype float32, got int64"), std::string::npos) << st.message;
}

// The CUDA-graph option: ignored on the CPU, and saying so; on a GPU (when there is one)
// the third run of a shape set is a replay with the eager run's answer.
TEST(Api, TheCudaGraphOptionSaysWhatItDid) {
  TempDir dir;
  const Deployment d = make_deployment(dir.path);
  std::unique_ptr<autokernel::Model> plain;
  const auto expected = run(d.model, "", 2, &plain);
  ASSERT_EQ(expected.size(), 1u);
  EXPECT_FALSE(plain->cuda_graph().enabled);
  EXPECT_EQ(plain->cuda_graph().ignored, "");

  autokernel::LoadOptions options;
  options.device = "cpu";
  options.cuda_graph = true;
  std::unique_ptr<autokernel::Model> model;
  ASSERT_TRUE(autokernel::Model::load(d.model.string(), options, &model).ok());
  std::vector<autokernel::Tensor> outputs;
  ASSERT_TRUE(model->run({input_x(2)}, &outputs).ok());
  const autokernel::CudaGraphInfo cpu = model->cuda_graph();
  EXPECT_FALSE(cpu.enabled);
  EXPECT_EQ(cpu.ignored, "cuda graphs are for CUDA devices; ignored on cpu");
  EXPECT_EQ(cpu.replays, 0);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].data, expected[0].data);

  if (!ak::models::cuda_available()) return;  // the rest needs a GPU
  options.device = "cuda";
  ASSERT_TRUE(autokernel::Model::load(d.model.string(), options, &model).ok());
  for (int run = 0; run < 3; ++run) ASSERT_TRUE(model->run({input_x(2)}, &outputs).ok());
  const autokernel::CudaGraphInfo gpu = model->cuda_graph();
  ASSERT_TRUE(gpu.enabled) << gpu.ignored;
  EXPECT_EQ(gpu.captured, 1) << gpu.fallback_reason;
  EXPECT_EQ(gpu.replays, 2);  // the capture run's own replay and the third run
  const auto a = expected[0].floats(), b = outputs[0].floats();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << i;
}

TEST(Api, TheExampleProgramRunsAModelWithAPack) {
  TempDir dir;
  const Deployment d = make_deployment(dir.path);
  const std::string env = "AUTOKERNEL_CACHE=" + cache_dir().string();
  const auto o = ak::testing::run_command(env + " " + AK_DEPLOY_PATH + " " + d.model.string() + " --pack " +
                                          d.pack.string() + " --device cpu --dim batch=2");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("kernels: swapped 2 instances of 1 workload (1 of 1 entries); 2 kernel calls, 0 fallbacks"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("output y: 2x8x16 sum "), std::string::npos) << o.out;

  const auto bad = ak::testing::run_command(env + " " + AK_DEPLOY_PATH + " " + d.model.string() + " --pack " +
                                            (dir.path / "nothing").string());
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_EQ(bad.err.rfind("deploy: error: ", 0), 0u) << bad.err;
  EXPECT_NE(bad.err.find("is not a pack folder"), std::string::npos) << bad.err;
}

}  // namespace
