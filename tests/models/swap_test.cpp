// Swap-in on the CPU: tasks extracted from small models and an exporter's GPT-2, their
// starter kernels (kernels/templates.h, built with g++) put in a pack, swapped into the
// model; outputs compared with the original session's, swap counts, fallbacks outside the
// verified range, and the bad packs users will feed it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/onnx_io.h"
#include "models/session.h"
#include "tests/cli/run_cli.h"
#include "tests/models/swap_fixture.h"

namespace ak::models {
namespace {

using namespace ak::models::swap_testing;

/// The largest |a - b| over all outputs (float32).
double max_difference(const std::vector<TensorData>& a, const std::vector<TensorData>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    EXPECT_EQ(a[i].dims, b[i].dims) << a[i].name;
    const auto x = floats_of(a[i]), y = floats_of(b[i]);
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) worst = std::max(worst, std::fabs(double(x[k]) - double(y[k])));
  }
  return worst;
}

std::vector<TensorData> run_model(std::shared_ptr<const Model> model, const std::vector<TensorData>& inputs,
                                  const SessionOptions& options = {}, std::unique_ptr<Session>* keep = nullptr) {
  auto session = Session::create(model, options);
  EXPECT_TRUE(session.is_ok()) << session.status().message();
  if (!session.is_ok()) return {};
  auto out = (*session)->run(inputs);
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  if (keep) *keep = std::move(session).value();
  return out.is_ok() ? *out : std::vector<TensorData>{};
}

SessionOptions with_pack(const fs::path& pack) {
  SessionOptions options;
  options.kernels.pack = pack;
  return options;
}

/// x -> LayerNormalization -> Softmax(axis -1) -> y, x: [batch, 10, 64].
std::shared_ptr<const Model> norm_softmax_model() {
  Graph g;
  g.name = "norm_softmax";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {1, 10, 64}, {"batch", "", ""}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1, 10, 64}, {"batch", "", ""}));
  g.initializers.push_back(random_floats("scale", {64}, 5));
  g.initializers.push_back(random_floats("bias", {64}, 6));
  g.nodes.push_back(node("LayerNormalization", {"x", "scale", "bias"}, {"n"},
                         {int_attr("axis", -1), float_attr("epsilon", 1e-5f)}));
  g.nodes.push_back(node("Softmax", {"n"}, {"y"}, {int_attr("axis", -1)}));
  return shared(std::move(g));
}

TEST(Swap, AnElementwiseChainIsSwappedIntoEveryInstanceAndComputesTheSame) {
  TempDir s;
  const auto model = two_chains_model();
  const auto tasks = extract(model, s.path / "tasks", 1, kChainNodes);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(tasks[0].starter_template, "elementwise_chain");
  kernels::Pack pack = new_pack(s.path / "pack");
  const auto ids = add_starters(&pack, tasks, 4);
  ASSERT_EQ(ids.size(), 1u);

  const auto inputs = random_inputs(*model, 3);
  const auto expected = run_model(model, inputs);
  std::unique_ptr<Session> swapped;
  const auto got = run_model(model, inputs, with_pack(pack.dir), &swapped);
  ASSERT_TRUE(swapped);
  EXPECT_LT(max_difference(expected, got), 1e-5);
  const SwapReport& report = swapped->swap_report();
  ASSERT_EQ(report.instances.size(), 2u);
  EXPECT_EQ(report.entries, 1);
  EXPECT_EQ(report.workloads, 1);
  EXPECT_TRUE(report.unmatched_entries.empty());
  EXPECT_EQ(report.instances[0].nodes, kChainNodes);
  EXPECT_EQ(report.instances[1].nodes, (std::vector<std::string>{"Add_t1", "Mul_u1", "Sub_w1", "Tanh_y"}));
  for (const auto& i : report.instances) {
    EXPECT_EQ(i.kernel_calls, 1) << i.nodes.front();
    EXPECT_EQ(i.fallbacks, 0);
  }
  EXPECT_EQ(report.summary(), "kernels: swapped 2 instances of 1 workload (1 of 1 entries)");
  // The executed graph: 2 PackKernel nodes instead of 8.
  EXPECT_EQ(swapped->model().graph.nodes.size(), 2u);
}

TEST(Swap, ABatchOutsideTheVerifiedRangeFallsBackAndSaysWhy) {
  TempDir s;
  const auto model = two_chains_model();
  const auto tasks = extract(model, s.path / "tasks", 1, kChainNodes);
  kernels::Pack pack = new_pack(s.path / "pack");
  ASSERT_EQ(add_starters(&pack, tasks, 4).size(), 1u);

  auto session = Session::create(model, with_pack(pack.dir));
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  for (int64_t batch : {2, 9}) {
    const auto inputs = random_inputs(*model, batch);
    auto got = (*session)->run(inputs);
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    EXPECT_LT(max_difference(run_model(model, inputs), *got), 1e-5) << "batch " << batch;
  }
  for (const auto& i : (*session)->swap_report().instances) {
    EXPECT_EQ(i.kernel_calls, 1);
    EXPECT_EQ(i.fallbacks, 1);
    EXPECT_EQ(i.last_fallback_reason, "axis batch = 9 is outside the verified 1..4");
  }
}

TEST(Swap, SoftmaxAndLayerNormStartersSwapIntoOneModel) {
  TempDir s;
  const auto model = norm_softmax_model();
  const auto tasks = extract(model, s.path / "tasks", 2);
  ASSERT_EQ(tasks.size(), 2u);
  kernels::Pack pack = new_pack(s.path / "pack");
  ASSERT_EQ(add_starters(&pack, tasks, 8).size(), 2u);
  const auto inputs = random_inputs(*model, 5);
  std::unique_ptr<Session> swapped;
  const auto got = run_model(model, inputs, with_pack(pack.dir), &swapped);
  EXPECT_LT(max_difference(run_model(model, inputs), got), 1e-5);
  EXPECT_EQ(swapped->swap_report().summary(), "kernels: swapped 2 instances of 2 workloads (2 of 2 entries)");
}

TEST(Swap, AnEntryThatMatchesNothingIsReportedAndOnlyEntriesFilters) {
  TempDir s;
  kernels::Pack pack = new_pack(s.path / "pack");
  const auto chain_ids = add_starters(&pack, extract(two_chains_model(), s.path / "chain", 1,
                                                     kChainNodes), 4);
  const auto softmax_ids = add_starters(&pack, extract(softmax_model(), s.path / "softmax", 1), 4);
  ASSERT_EQ(chain_ids.size() + softmax_ids.size(), 2u);
  const auto model = two_chains_model();
  auto session = Session::create(model, with_pack(pack.dir));
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  const SwapReport& report = (*session)->swap_report();
  EXPECT_EQ(report.unmatched_entries, softmax_ids);
  EXPECT_EQ(report.summary(), "kernels: swapped 2 instances of 1 workload (1 of 2 entries); 1 entry matched nothing");

  SessionOptions only = with_pack(pack.dir);
  only.kernels.only_entries = softmax_ids;
  auto none = Session::create(model, only);
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ((*none)->swap_report().summary(), "kernels: swapped 0 instances of 0 workloads (0 of 1 entries); 1 entry matched nothing");

  SessionOptions one = with_pack(pack.dir);
  one.kernels.only_instances = {"Add_t1"};
  auto second = Session::create(model, one);
  ASSERT_TRUE(second.is_ok());
  ASSERT_EQ((*second)->swap_report().instances.size(), 1u);
  EXPECT_EQ((*second)->swap_report().instances[0].nodes.front(), "Add_t1");

  only.kernels.only_entries = {"no_such_entry"};
  auto bad = Session::create(model, only);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("no entry 'no_such_entry'"), std::string::npos);
}

/// Marks the pack's entries `ids` as CUDA entries: device and language cuda, the same bytes
/// as kernel.cu (the source hash stays valid). A CPU session never builds them, so no nvcc
/// or GPU is needed.
void mark_cuda(const fs::path& pack, const std::vector<std::string>& ids) {
  auto j = nlohmann::json::parse(*read_file(pack / "pack.json"));
  for (auto& e : j["entries"]) {
    if (std::find(ids.begin(), ids.end(), e["id"].get<std::string>()) == ids.end()) continue;
    const fs::path dir = pack / "entries" / e["id"].get<std::string>();
    fs::rename(dir / "kernel.cpp", dir / "kernel.cu");
    e["device"] = "cuda";
    e["language"] = "cuda";
    e["source"] = "kernel.cu";
    e["arch"] = "sm_90a";
  }
  write_text(pack / "pack.json", j.dump(1));
}

TEST(Swap, APackForTheOtherDeviceSaysSoInTheSummaryAndTheJson) {
  TempDir s;
  kernels::Pack pack = new_pack(s.path / "pack");
  const auto chain_ids = add_starters(&pack, extract(two_chains_model(), s.path / "chain", 1, kChainNodes), 4);
  const auto norm_ids = add_starters(&pack, extract(norm_softmax_model(), s.path / "norm", 2), 8);
  ASSERT_EQ(chain_ids.size(), 1u);
  ASSERT_EQ(norm_ids.size(), 2u);
  const auto model = two_chains_model();

  // The LayerNorm and Softmax entries for CUDA: the chain's CPU entry swaps, the others are named.
  mark_cuda(pack.dir, norm_ids);
  auto mixed = Session::create(model, with_pack(pack.dir));
  ASSERT_TRUE(mixed.is_ok()) << mixed.status().message();
  EXPECT_EQ((*mixed)->swap_report().summary(),
            "kernels: swapped 2 instances of 1 workload (1 of 1 entries); 2 entries are for cuda, not cpu");

  // Every entry for CUDA, the session on the CPU: nothing swaps, and the summary says why
  // (it said "(0 of 0 entries)").
  mark_cuda(pack.dir, chain_ids);
  auto cpu = Session::create(model, with_pack(pack.dir));
  ASSERT_TRUE(cpu.is_ok()) << cpu.status().message();
  EXPECT_EQ((*cpu)->swap_report().summary(), "kernels: swapped 0 instances; 3 entries are for cuda, not cpu");
  EXPECT_EQ((*cpu)->swap_report().other_device_entries, 3);
  EXPECT_EQ((*cpu)->swap_report().entries, 0);

  const fs::path file = s.path / "two_chains.onnx";
  ASSERT_TRUE(save_model(*model, file).is_ok());
  const auto run = ak::testing::run_cli("run " + file.string() + " --device cpu --iters 1 --warmup 0 --json --kernels " +
                                            pack.dir.string(),
                                        "AUTOKERNEL_CACHE=" + cache_dir().string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j["kernels"]["summary"], "kernels: swapped 0 instances; 3 entries are for cuda, not cpu");
  EXPECT_EQ(j["kernels"]["other_device_entries"], 3);
  EXPECT_EQ(j["kernels"]["swapped"], 0);
}

TEST(Swap, ExporterGpt2WithItsStarterKernelsComputesTheSame) {
  TempDir s;
  auto loaded = load_model(fs::path(AK_SOURCE_DIR) / "tests/models/fixtures/exporters/torchscript/gpt2/model.onnx");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  const auto model = std::make_shared<const Model>(std::move(loaded).value());
  const auto tasks = extract(model, s.path / "tasks", 8);
  kernels::Pack pack = new_pack(s.path / "pack");
  const auto ids = add_starters(&pack, tasks, 4);
  ASSERT_GE(ids.size(), 2u);
  auto inputs = random_inputs(*model, 2);
  std::unique_ptr<Session> swapped;
  const auto got = run_model(model, inputs, with_pack(pack.dir), &swapped);
  ASSERT_TRUE(swapped);
  const SwapReport& report = swapped->swap_report();
  EXPECT_GE(report.instances.size(), ids.size()) << report.summary();
  EXPECT_TRUE(report.unmatched_entries.empty()) << report.summary();
  // Every instance calls its kernel once, except one whose input the model does not declare
  // and whose rank differs from the task's (TorchScript's block-0 residual Add adds a rank-2
  // projection to the rank-3 stream): swap-in checks that at run time and falls back.
  int64_t calls = 0, refused = 0;
  for (const auto& i : report.instances) {
    calls += i.kernel_calls;
    if (i.fallbacks > 0 && i.last_fallback_reason.find("the kernel takes rank") != std::string::npos) {
      ++refused;
      continue;
    }
    EXPECT_EQ(i.fallbacks, 0) << i.entry << " " << i.nodes.front() << ": " << i.last_fallback_reason;
  }
  EXPECT_LE(refused, 1) << report.summary();
  EXPECT_EQ(calls, static_cast<int64_t>(report.instances.size()) - refused);
  EXPECT_LT(max_difference(run_model(model, inputs), got), 1e-3) << report.summary();
}

/// A pack with one chain entry whose source is `source` (written as the starter's file).
fs::path pack_with_source(const TempDir& s, const std::string& source, const std::string& arch = "") {
  const auto tasks = extract(two_chains_model(), s.path / "tasks", 1, kChainNodes);
  EXPECT_EQ(tasks.size(), 1u);
  const fs::path file = s.path / "kernel.cpp";
  write_text(file, source);
  kernels::Pack pack = new_pack(s.path / "pack");
  auto task = kernels::read_task(tasks.at(0).dir);
  kernels::PackEntry wanted;
  wanted.arch = arch;
  wanted.ranges = {{"batch", 1, 4}};
  EXPECT_TRUE(kernels::add_pack_entry(&pack, *task, file, wanted).is_ok());
  EXPECT_TRUE(kernels::write_pack(pack.dir, pack).is_ok());
  return pack.dir;
}

TEST(Swap, AKernelWithoutTheAbiSymbolIsBadInputNamingTheEntry) {
  TempDir s;
  const fs::path pack = pack_with_source(s, "extern \"C\" int not_the_entry_point() { return 0; }\n");
  auto session = Session::create(two_chains_model(), with_pack(pack));
  ASSERT_FALSE(session.is_ok());
  EXPECT_EQ(session.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(session.status().exit_code(), 2);
  EXPECT_NE(session.status().message().find("entry '"), std::string::npos) << session.status().message();
  EXPECT_NE(session.status().message().find("has no symbol autokernel_kernel"), std::string::npos);
}

TEST(Swap, AnEntryBuiltForAnotherArchitectureIsRebuiltOrNamesBothArchitectures) {
  TempDir s;
  {
    const auto tasks = extract(two_chains_model(), s.path / "tasks", 1, kChainNodes);
    kernels::Pack pack = new_pack(s.path / "rebuilt");
    auto task = kernels::read_task(tasks.at(0).dir);
    kernels::PackEntry wanted;
    wanted.arch = "some_other_cpu";
    wanted.ranges = {{"batch", 1, 4}};
    ASSERT_TRUE(kernels::add_pack_entry(&pack, *task, tasks[0].dir / tasks[0].starter_file, wanted).is_ok());
    ASSERT_TRUE(kernels::write_pack(pack.dir, pack).is_ok());
    auto session = Session::create(two_chains_model(), with_pack(pack.dir));
    ASSERT_TRUE(session.is_ok()) << session.status().message();
    EXPECT_EQ((*session)->swap_report().instances.size(), 2u);
  }
  const fs::path pack = pack_with_source(s, "#include <autokernel_kernel.h>\nthis does not compile\n", "some_other_cpu");
  auto session = Session::create(two_chains_model(), with_pack(pack));
  ASSERT_FALSE(session.is_ok());
  EXPECT_EQ(session.status().exit_code(), 2);
  const std::string& message = session.status().message();
  EXPECT_NE(message.find("built for some_other_cpu, this machine is "), std::string::npos) << message;
  EXPECT_NE(message.find("rebuilding kernel.cpp from source"), std::string::npos) << message;
}

TEST(Swap, AKernelThatReturnsAnErrorCodeFailsTheRunNamingTheEntry) {
  TempDir s;
  const fs::path pack = pack_with_source(
      s, "#include <autokernel_kernel.h>\nextern \"C\" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, "
         "int32_t, void*) { return 7; }\n");
  const auto model = two_chains_model();
  auto session = Session::create(model, with_pack(pack));
  ASSERT_TRUE(session.is_ok()) << session.status().message();
  auto ran = (*session)->run(random_inputs(*model, 2));
  ASSERT_FALSE(ran.is_ok());
  EXPECT_NE(ran.status().message().find("the kernel returned code 7"), std::string::npos) << ran.status().message();
}

TEST(Swap, BadPacksAndPackKernelNodesInAModelAreBadInput) {
  TempDir s;
  auto missing = Session::create(two_chains_model(), with_pack(s.path / "nothing"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().exit_code(), 2);
  EXPECT_NE(missing.status().message().find("is not a pack folder"), std::string::npos);

  Graph g;
  g.name = "forged";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {2}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {2}));
  Node n = node("PackKernel", {"x"}, {"y"});
  n.domain = "com.autokernel";
  g.nodes.push_back(n);
  Model m = model_of(std::move(g));
  m.opsets["com.autokernel"] = 1;
  auto forged = Session::create(std::make_shared<const Model>(std::move(m)), {});
  ASSERT_FALSE(forged.is_ok());
  EXPECT_NE(forged.status().message().find("PackKernel nodes are made by swap-in"), std::string::npos);
}

TEST(Swap, RunKernelsPrintsTheSummaryAndJsonAndRefusesABadPack) {
  TempDir s;
  const fs::path pack = s.path / "pack";
  kernels::Pack p = new_pack(pack);
  ASSERT_EQ(add_starters(&p, extract(two_chains_model(), s.path / "tasks", 1, kChainNodes), 4)
                .size(),
            1u);
  const fs::path model = s.path / "two_chains.onnx";
  ASSERT_TRUE(save_model(*two_chains_model(), model).is_ok());
  const std::string env = "AUTOKERNEL_CACHE=" + cache_dir().string();
  const std::string common = model.string() + " --device cpu --iters 1 --warmup 0 --kernels " + pack.string();

  const auto text = ak::testing::run_cli("run " + common + " --dim batch=2", env);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("kernels: swapped 2 instances of 1 workload (1 of 1 entries)\n"), std::string::npos) << text.out;

  const auto json = ak::testing::run_cli("run " + common + " --dim batch=9 --json", env);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["kernels"]["swapped"], 2);
  EXPECT_EQ(j["kernels"]["entries"], 1);
  EXPECT_EQ(j["kernels"]["workloads"], 1);
  EXPECT_TRUE(j["kernels"]["unmatched"].empty());
  EXPECT_EQ(j["kernels"]["fallbacks"], 2 * 2);  // both instances, in the run for the outputs and the timed one
  EXPECT_EQ(j["kernels"]["instances"][0]["last_fallback_reason"], "axis batch = 9 is outside the verified 1..4");

  write_text(pack / "pack.json", "{");
  ak::testing::expect_bad_input(ak::testing::run_cli("run " + common, env), "pack.json: not a JSON object");
}

}  // namespace
}  // namespace ak::models
