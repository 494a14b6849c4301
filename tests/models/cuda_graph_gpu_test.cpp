// CUDA-graph execution on a GPU (label gpu; skipped without one): graph replays equal eager
// runs bit for bit, a new shape set captures a second graph, the cache drops the least
// recently used graph, models that read device data on the host fall back with the node
// named, observers get eager runs, and the outputs alias the graph's buffers.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstring>

#include "models/cuda_graph.h"
#include "models/session.h"
#include "tests/models/cuda_graph_models.h"

namespace ak::models {
namespace {

using namespace testing;

Device cuda() {
  Device d;
  d.kind = DeviceKind::kCuda;
  return d;
}

std::unique_ptr<Session> cuda_session(std::shared_ptr<const Model> model, bool cuda_graph) {
  SessionOptions options;
  options.device = cuda();
  options.cuda_graph = cuda_graph;
  auto s = Session::create(std::move(model), options);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

/// One run through run_device on `x` (host tensor), the outputs cloned so that later runs
/// cannot overwrite them.
std::vector<at::Tensor> run_once(Session& s, const std::vector<TensorData>& inputs) {
  std::vector<at::Tensor> device_inputs, outputs;
  EXPECT_TRUE(s.upload_inputs(inputs, &device_inputs).is_ok());
  Status st = s.run_device(device_inputs, &outputs);
  EXPECT_TRUE(st.is_ok()) << st.message();
  std::vector<at::Tensor> kept;
  for (const at::Tensor& t : outputs) kept.push_back(t.clone());
  s.synchronize();
  return kept;
}

bool bitwise_equal(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].sizes() != b[i].sizes() || a[i].scalar_type() != b[i].scalar_type()) return false;
    at::Tensor x = a[i].contiguous().cpu(), y = b[i].contiguous().cpu();
    if (std::memcmp(x.data_ptr(), y.data_ptr(), x.nbytes()) != 0) return false;
  }
  return true;
}

class CudaGraphGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_F(CudaGraphGpu, ReplaysEqualEagerRunsBitwise) {
  auto graphs = cuda_session(block_model(), true);
  auto eager = cuda_session(block_model(), false);
  ASSERT_TRUE(graphs && eager);
  const CudaGraphState& state = graphs->cuda_graph_state();
  ASSERT_TRUE(state.enabled) << state.ignored;
  // Run 1 warms up, run 2 captures and replays, runs 3-6 replay; every run gets new data.
  for (int run = 0; run < 6; ++run) {
    const std::vector<TensorData> x = {random_normal_tensor("x", {2, 16, 32}, 100 + run)};
    EXPECT_TRUE(bitwise_equal(run_once(*graphs, x), run_once(*eager, x))) << "run " << run;
  }
  EXPECT_EQ(state.captured, 1);
  EXPECT_EQ(state.replays, 5);
  EXPECT_EQ(state.eager_runs, 1);
  EXPECT_EQ(state.cached, 1);
  EXPECT_TRUE(state.fallback_reason.empty()) << state.fallback_reason;
  // Host outputs (Session::run) equal too: they are downloaded before the next run.
  auto host = graphs->run({random_normal_tensor("x", {2, 16, 32}, 7)});
  auto reference = eager->run({random_normal_tensor("x", {2, 16, 32}, 7)});
  ASSERT_TRUE(host.is_ok() && reference.is_ok());
  EXPECT_EQ(floats_of((*host)[0]), floats_of((*reference)[0]));
  EXPECT_EQ(state.replays, 6);
}

TEST_F(CudaGraphGpu, ANewShapeSetCapturesASecondGraph) {
  auto graphs = cuda_session(block_model(), true);
  auto eager = cuda_session(block_model(), false);
  ASSERT_TRUE(graphs && eager);
  const CudaGraphState& state = graphs->cuda_graph_state();
  for (int64_t batch : {2, 4, 2, 4}) {
    for (int run = 0; run < 3; ++run) {
      const std::vector<TensorData> x = {random_normal_tensor("x", {batch, 16, 32}, static_cast<uint32_t>(batch * 10 + run))};
      EXPECT_TRUE(bitwise_equal(run_once(*graphs, x), run_once(*eager, x))) << "batch " << batch << " run " << run;
    }
  }
  // Batch 2: warm-up, capture (whose run is a replay), replay; batch 4 the same; then both
  // replay three times.
  EXPECT_EQ(state.captured, 2);
  EXPECT_EQ(state.cached, 2);
  EXPECT_EQ(state.eager_runs, 2);
  EXPECT_EQ(state.replays, 2 + 2 + 6);
}

TEST_F(CudaGraphGpu, TheCacheDropsTheLeastRecentlyUsedGraph) {
  auto graphs = cuda_session(block_model(), true);
  ASSERT_TRUE(graphs);
  const CudaGraphState& state = graphs->cuda_graph_state();
  const int64_t shapes = static_cast<int64_t>(kCudaGraphCacheSize) + 1;
  for (int64_t batch = 1; batch <= shapes; ++batch)
    for (int run = 0; run < 2; ++run) run_once(*graphs, {random_normal_tensor("x", {batch, 16, 32}, 1)});
  EXPECT_EQ(state.captured, shapes);
  EXPECT_EQ(state.evicted, 1);
  EXPECT_EQ(state.cached, static_cast<int>(kCudaGraphCacheSize));
  // Batch 2 was used after batch 1 was: it is still cached and replays.
  const int64_t replays = state.replays;
  run_once(*graphs, {random_normal_tensor("x", {2, 16, 32}, 1)});
  EXPECT_EQ(state.replays, replays + 1);
  // Batch 1 was dropped: it warms up and captures again, evicting batch 3 (now the oldest).
  const int64_t eager_runs = state.eager_runs;
  auto eager = cuda_session(block_model(), false);
  for (int run = 0; run < 3; ++run) {
    const std::vector<TensorData> x = {random_normal_tensor("x", {1, 16, 32}, 50 + run)};
    EXPECT_TRUE(bitwise_equal(run_once(*graphs, x), run_once(*eager, x))) << run;
  }
  EXPECT_EQ(state.eager_runs, eager_runs + 1);
  EXPECT_EQ(state.captured, shapes + 1);
  EXPECT_EQ(state.evicted, 2);
  const int64_t before = state.eager_runs;
  run_once(*graphs, {random_normal_tensor("x", {3, 16, 32}, 1)});  // evicted: a warm-up again
  EXPECT_EQ(state.eager_runs, before + 1);
}

TEST_F(CudaGraphGpu, NonZeroFallsBackWithTheNodeNamed) {
  auto graphs = cuda_session(nonzero_model(), true);
  auto eager = cuda_session(nonzero_model(), false);
  ASSERT_TRUE(graphs && eager);
  for (int run = 0; run < 4; ++run) {
    const std::vector<TensorData> x = {random_normal_tensor("x", {4, 8}, 200 + run)};
    EXPECT_TRUE(bitwise_equal(run_once(*graphs, x), run_once(*eager, x))) << "run " << run;
  }
  const CudaGraphState& state = graphs->cuda_graph_state();
  EXPECT_EQ(state.captured, 0);
  EXPECT_EQ(state.replays, 0);
  EXPECT_EQ(state.refused, 1);
  EXPECT_EQ(state.eager_runs, 4);  // warm-up, the failed capture's eager run, two refused runs
  EXPECT_EQ(state.fallback_reason.rfind("cuda graph: not used: ", 0), 0u) << state.fallback_reason;
  EXPECT_NE(state.fallback_reason.find("node 'NonZero_y' (NonZero"), std::string::npos) << state.fallback_reason;
  EXPECT_EQ(state.fallback_reason.find('\n'), std::string::npos);
  // The device is fine afterwards: another session captures and replays.
  auto block = cuda_session(block_model(), true);
  for (int run = 0; run < 3; ++run) run_once(*block, {random_normal_tensor("x", {2, 16, 32}, 1)});
  EXPECT_EQ(block->cuda_graph_state().replays, 2);
}

TEST_F(CudaGraphGpu, AHostReadOfDeviceDataIsRefusedAtWarmUp) {
  auto graphs = cuda_session(device_shape_model(), true);
  ASSERT_TRUE(graphs);
  const std::vector<TensorData> inputs = {random_normal_tensor("x", {4, 8}, 1), int64_tensor("shape", {2}, {8, 4})};
  for (int run = 0; run < 3; ++run) {
    auto out = graphs->run(inputs);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{8, 4}));
  }
  const CudaGraphState& state = graphs->cuda_graph_state();
  EXPECT_EQ(state.captured, 0);
  EXPECT_EQ(state.eager_runs, 3);  // refused after the warm-up: no capture was tried
  EXPECT_EQ(state.fallback_reason, "cuda graph: not used: node 'Reshape_y' (Reshape) reads device data on the host");
}

class CountingObserver final : public NodeObserver {
 public:
  void before_node(const NodeEvent&) override { ++before; }
  void after_node(const NodeEvent&) override {}
  int before = 0;
};

TEST_F(CudaGraphGpu, ObservedRunsAreEager) {
  auto graphs = cuda_session(block_model(), true);
  ASSERT_TRUE(graphs);
  const std::vector<TensorData> x = {random_normal_tensor("x", {2, 16, 32}, 1)};
  for (int run = 0; run < 3; ++run) run_once(*graphs, x);
  const CudaGraphState& state = graphs->cuda_graph_state();
  ASSERT_EQ(state.replays, 2);
  CountingObserver observer;
  graphs->add_observer(&observer);
  for (int run = 0; run < 2; ++run) run_once(*graphs, x);
  graphs->remove_observer(&observer);
  EXPECT_EQ(observer.before, 2 * static_cast<int>(graphs->model().graph.nodes.size()));
  EXPECT_EQ(state.replays, 2);
  run_once(*graphs, x);  // the graph is still cached
  EXPECT_EQ(state.replays, 3);
}

TEST_F(CudaGraphGpu, OutputsAliasTheGraphsBuffers) {
  auto graphs = cuda_session(block_model(), true);
  ASSERT_TRUE(graphs);
  std::vector<at::Tensor> device_inputs, outputs;
  for (int run = 0; run < 3; ++run) run_once(*graphs, {random_normal_tensor("x", {2, 16, 32}, 1)});
  ASSERT_TRUE(graphs->upload_inputs({random_normal_tensor("x", {2, 16, 32}, 2)}, &device_inputs).is_ok());
  ASSERT_TRUE(graphs->run_device(device_inputs, &outputs).is_ok());
  const at::Tensor held = outputs[0];
  const at::Tensor first = held.clone();
  ASSERT_TRUE(graphs->upload_inputs({random_normal_tensor("x", {2, 16, 32}, 3)}, &device_inputs).is_ok());
  ASSERT_TRUE(graphs->run_device(device_inputs, &outputs).is_ok());
  graphs->synchronize();
  // The next replay overwrote the tensor the caller held: the documented contract.
  EXPECT_TRUE(held.is_same(outputs[0]) || held.data_ptr() == outputs[0].data_ptr());
  EXPECT_FALSE(at::equal(held, first));
}

TEST_F(CudaGraphGpu, TurningGraphsOffRunsEagerly) {
  auto graphs = cuda_session(block_model(), true);
  ASSERT_TRUE(graphs);
  for (int run = 0; run < 3; ++run) run_once(*graphs, {random_normal_tensor("x", {2, 16, 32}, 1)});
  EXPECT_EQ(graphs->cuda_graph_state().replays, 2);
  graphs->set_cuda_graph(false);
  EXPECT_FALSE(graphs->cuda_graph_state().enabled);
  run_once(*graphs, {random_normal_tensor("x", {2, 16, 32}, 1)});
  EXPECT_EQ(graphs->cuda_graph_state().replays, 0);
}

}  // namespace
}  // namespace ak::models
