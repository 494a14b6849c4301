#pragma once
// Packs for swap-in tests (tests/models/swap_test.cpp, tests/api): tasks extracted from
// small models on the CPU, their starter kernels added to a pack, one build cache per
// test process.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "extractor/extractor.h"
#include "kernels/pack.h"
#include "models/inputs.h"
#include "models/session.h"
#include "tests/extractor/extract_fixture.h"

namespace ak::models::swap_testing {

using namespace ak::extractor::testing;
namespace fs = std::filesystem;

/// The nodes of the first chain of two_chains_model(), one task.
inline const std::vector<std::string> kChainNodes = {"Add_t0", "Mul_u0", "Sub_w0", "Tanh_h0"};

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

/// One build cache per test process (a starter built twice compiles once).
inline const fs::path& cache_dir() {
  static TempDir dir;
  return dir.path;
}

/// Points the build cache at cache_dir() for the whole binary.
struct CacheEnvironment : ::testing::Environment {
  void SetUp() override { ::setenv("AUTOKERNEL_CACHE", cache_dir().c_str(), 1); }
};
inline const auto* const kCacheEnvironment = ::testing::AddGlobalTestEnvironment(new CacheEnvironment);

inline std::vector<TensorData> random_inputs(const Model& model, int64_t batch, uint64_t seed = 7) {
  auto resolved = resolve_inputs(model, {}, {{"batch", batch}}, seed);
  EXPECT_TRUE(resolved.is_ok()) << resolved.status().message();
  return resolved.is_ok() ? resolved->tensors : std::vector<TensorData>{};
}

/// Extracts the top `top` hotspots of `model` (or exactly `nodes`) at batch 2 into `out`,
/// on `device` (CUDA tasks get starter.cu).
inline std::vector<extractor::TaskSummary> extract(std::shared_ptr<const Model> model, const fs::path& out, int top,
                                                   std::vector<std::string> nodes = {}, Device device = {}) {
  SessionOptions session_options;
  session_options.device = device;
  auto session = Session::create(model, session_options);
  EXPECT_TRUE(session.is_ok()) << session.status().message();
  extractor::ExtractOptions options;
  options.top = top;
  options.nodes = std::move(nodes);
  options.out_dir = out;
  options.model_label = model->graph.name + ".onnx";
  options.profile.iters = 2;
  options.profile.warmup = 1;
  auto report = extractor::extract_model(**session, random_inputs(*model, 2), options);
  EXPECT_TRUE(report.is_ok()) << report.status().message();
  return report.is_ok() ? report->tasks : std::vector<extractor::TaskSummary>{};
}

/// Adds each task's starter (skipping skeletons, which compute nothing) with each var axis
/// in [1, max(max_size, its captured size)]; returns the entry ids.
inline std::vector<std::string> add_starters(kernels::Pack* pack, const std::vector<extractor::TaskSummary>& tasks,
                                      int64_t max_size) {
  std::vector<std::string> ids;
  for (const auto& t : tasks) {
    if (t.starter_template == "skeleton") continue;
    auto task = kernels::read_task(t.dir);
    EXPECT_TRUE(task.is_ok()) << task.status().message();
    kernels::PackEntry wanted;
    for (const kernels::TaskAxis& axis : task->axes)
      if (axis.var) wanted.ranges.push_back({axis.name, 1, std::max(max_size, axis.value)});
    auto entry = kernels::add_pack_entry(pack, *task, t.dir / t.starter_file, wanted);
    EXPECT_TRUE(entry.is_ok()) << entry.status().message();
    if (entry.is_ok()) ids.push_back(entry->id);
  }
  EXPECT_TRUE(kernels::write_pack(pack->dir, *pack).is_ok());
  return ids;
}

inline kernels::Pack new_pack(const fs::path& dir) {
  kernels::Pack pack;
  pack.dir = dir;
  pack.created_by = "swap_test";
  return pack;
}

/// y = chain(chain(x)) with chain(v) = Tanh((v + bias_i) * 0.5 - 0.25): two instances of one
/// workload (different bias initializers), x: [batch, 8, 16].
inline std::shared_ptr<const Model> two_chains_model() {
  Graph g;
  g.name = "two_chains";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {1, 8, 16}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1, 8, 16}, {"batch", "", ""}));
  g.initializers.push_back(random_floats("bias0", {16}, 4));
  g.initializers.push_back(random_floats("bias1", {16}, 5));
  g.initializers.push_back(float_tensor("half", {}, {0.5f}));
  g.initializers.push_back(float_tensor("quarter", {}, {0.25f}));
  std::string v = "x";
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    g.nodes.push_back(node("Add", {v, "bias" + s}, {"t" + s}));
    g.nodes.push_back(node("Mul", {"t" + s, "half"}, {"u" + s}));
    g.nodes.push_back(node("Sub", {"u" + s, "quarter"}, {"w" + s}));
    v = i == 1 ? "y" : "h" + s;
    g.nodes.push_back(node("Tanh", {"w" + s}, {v}));
  }
  return shared(std::move(g));
}

}  // namespace ak::models::swap_testing
