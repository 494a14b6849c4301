// task.json: write -> read gives the same Task, field by field; a file in the format the
// extractor has always written reads as documented; malformed files fail with one line
// naming the file and the field.
#include "kernels/task.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "kernels/autokernel_kernel.h"
#include "tests/kernels/scratch.h"

namespace ak::kernels {
namespace {

using testing::ScratchDir;
using testing::write_text;

/// A task with every field set to something other than its default.
Task full_task(const std::filesystem::path& dir) {
  Task t;
  t.dir = std::filesystem::absolute(dir);
  t.name = "03_softmax_blocks_0_attn_Softmax";
  t.op_type = "fused:gemm_epilogue";
  t.description = "A fused matrix multiply \"with\" its bias.\nSecond line.";
  t.axes = {{"batch", true, 2}, {"batch_1", true, 256}, {"n768", false, 768}};
  TaskTensor x;
  x.name = "x";
  x.dtype = AK_DTYPE_FLOAT16;
  x.axes = {"batch", "batch_1", "n768"};
  x.dims = {2, 256, 768};
  x.file = "inputs/0_x.pb";
  x.fill = "normal";
  TaskTensor ids;
  ids.name = "input_ids";
  ids.dtype = AK_DTYPE_INT64;
  ids.axes = {"batch", "5"};  // a bare integer dimension
  ids.dims = {2, 5};
  ids.file = "inputs/1_input_ids.pb";
  ids.fill = "int";
  ids.upper_bound = 50257;
  TaskTensor mask;
  mask.name = "mask";
  mask.dtype = AK_DTYPE_BOOL;
  mask.axes = {};
  mask.file = "inputs/2_mask.pb";
  mask.fill = "bool";
  t.inputs = {x, ids, mask};
  TaskTensor y;
  y.name = "y";
  y.dtype = AK_DTYPE_BFLOAT16;
  y.axes = {"batch", "batch_1", "n768"};
  y.dims = {2, 256, 768};
  y.file = "outputs/0_y.pb";
  t.outputs = {y};
  t.tags = {"kind:gemm_epilogue", "op_class:matmul", "op:MatMul"};
  t.source = {"models/zoo/out/gpt2/model.onnx", {"MatMul_1", "Add_2"}, {"MatMul", "Add"}, 3};
  t.attributes_json = R"({"pattern":[{"op":"MatMul","attributes":{},"inputs":["in0","in1"]},{"op":"Add","attributes":{"alpha":1e-05},"inputs":["node0:0",0.5]}]})";
  t.flops = 6.0e9;
  t.bytes = 1.5e7;
  t.op_class = "matmul";
  t.baseline = {123.25, 0.125, "cuda:1", "NVIDIA H200", "cupti"};
  t.tolerance = {1e-2, 2e-2, 0.999};
  t.target = {"cuda", "sm_90a", true};
  t.seed = 18446744073709551615ull;  // the largest seed survives
  t.subgraph = "subgraph.onnx";
  t.starter = {"starter.cu", "matmul_bias"};
  t.workload = TaskWorkload{std::string(64, 'a'), std::string(64, 'b'), "inputs:$0=input\n%0=Relu($0)\noutputs:%0.0",
                            {{"MatMul_1", "Add_2"}, {"MatMul_9", "Add_10"}}, 0.25};
  return t;
}

TEST(Task, WriteThenReadIsTheSameTaskFieldByField) {
  ScratchDir dir;
  const Task written = full_task(dir.path());
  ASSERT_TRUE(write_task(dir.path(), written).is_ok());
  auto read = read_task(dir.path());
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  const Task& t = *read;
  EXPECT_EQ(t.dir, written.dir);
  EXPECT_EQ(t.name, written.name);
  EXPECT_EQ(t.op_type, written.op_type);
  EXPECT_EQ(t.description, written.description);
  EXPECT_EQ(t.axes, written.axes);
  ASSERT_EQ(t.inputs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t.inputs[i].name, written.inputs[i].name);
    EXPECT_EQ(t.inputs[i].dtype, written.inputs[i].dtype) << t.inputs[i].name;
    EXPECT_EQ(t.inputs[i].axes, written.inputs[i].axes) << t.inputs[i].name;
    EXPECT_EQ(t.inputs[i].dims, written.inputs[i].dims) << t.inputs[i].name;
    EXPECT_EQ(t.inputs[i].file, written.inputs[i].file);
    EXPECT_EQ(t.inputs[i].fill, written.inputs[i].fill);
    EXPECT_EQ(t.inputs[i].upper_bound, written.inputs[i].upper_bound);
  }
  EXPECT_EQ(t.outputs, written.outputs);
  EXPECT_EQ(t.tags, written.tags);
  EXPECT_EQ(t.source, written.source);
  EXPECT_EQ(nlohmann::json::parse(t.attributes_json), nlohmann::json::parse(written.attributes_json));
  EXPECT_EQ(t.attributes_json, written.attributes_json);  // key order and number spelling kept
  EXPECT_EQ(t.flops, written.flops);
  EXPECT_EQ(t.bytes, written.bytes);
  EXPECT_EQ(t.op_class, written.op_class);
  EXPECT_EQ(t.baseline, written.baseline);
  EXPECT_EQ(t.tolerance, written.tolerance);
  EXPECT_EQ(t.target, written.target);
  EXPECT_EQ(t.seed, written.seed);
  EXPECT_EQ(t.subgraph, written.subgraph);
  EXPECT_EQ(t.starter, written.starter);
  EXPECT_EQ(t.workload, written.workload);
  EXPECT_TRUE(t == written);

  // Writing what was read gives the same bytes: nothing drifts over rewrites.
  std::ifstream first(dir / "task.json");
  const std::string text((std::istreambuf_iterator<char>(first)), {});
  ScratchDir again;
  ASSERT_TRUE(write_task(again.path(), t).is_ok());
  std::ifstream second(again / "task.json");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(second)), {}), text);
  EXPECT_FALSE(std::filesystem::exists(dir / "task.json.tmp"));
}

TEST(Task, DerivedQueries) {
  ScratchDir dir;
  const Task t = full_task(dir.path());
  EXPECT_TRUE(t.is_cuda());
  EXPECT_EQ(t.var_axes(), (std::vector<std::string>{"batch", "batch_1"}));
  EXPECT_TRUE(t.is_var(t.inputs[0], 0));
  EXPECT_FALSE(t.is_var(t.inputs[0], 2));
  EXPECT_FALSE(t.is_var(t.inputs[1], 1));  // the bare integer
  EXPECT_FALSE(t.is_var(t.inputs[0], 7));
  EXPECT_EQ(t.file_path(t.inputs[1]), t.dir / "inputs/1_input_ids.pb");
  EXPECT_EQ(t.subgraph_path(), t.dir / "subgraph.onnx");
  EXPECT_FALSE(check_task_files(t).is_ok());
}

/// The shape every extractor so far has written (no target.allow_tf32), read as documented.
TEST(Task, ReadsTheExtractorsFormat) {
  ScratchDir dir;
  write_text(dir / "task.json", R"({
  "schema": "autokernel.task/1", "name": "01_softmax", "op_type": "Softmax", "description": "d",
  "axes": {"batch": {"type": "var", "value": 4}, "n64": {"type": "const", "value": 64}},
  "inputs": {"x": {"shape": ["batch", "n64"], "dtype": "float32", "file": "inputs/0_x.pb"}},
  "outputs": {"y": {"shape": ["batch", "n64"], "dtype": "float32", "file": "outputs/0_y.pb"}},
  "tags": ["kind:node"], "source": {"model": "m.onnx", "nodes": ["sm"], "op_types": ["Softmax"], "rank": 1},
  "attributes": {"axis": -1}, "flops": 1280.0, "bytes": 2048.0, "op_class": "normalization",
  "baseline": {"latency_us": 3.5, "share": 0.5, "device": "cpu", "device_name": "cpu", "timing_source": "host"},
  "tolerance": {"atol": 0.0001, "rtol": 0.0001, "matched_ratio": 1.0},
  "target": {"device": "cpu", "arch": "cpu"},
  "random_inputs": {"seed": 3, "inputs": {"x": {"fill": "normal"}}},
  "subgraph": "subgraph.onnx", "starter": {"file": "starter.cpp", "template": "rowwise_softmax"}})");
  auto t = read_task(dir / "task.json");  // the file itself works as well as its folder
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->inputs[0].dims, (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(t->inputs[0].dtype, AK_DTYPE_FLOAT);
  EXPECT_EQ(t->attributes_json, R"({"axis":-1})");
  EXPECT_FALSE(t->target.allow_tf32);
  EXPECT_EQ(t->seed, 3u);
  EXPECT_EQ(t->source.rank, 1);
  EXPECT_EQ(t->starter.template_name, "rowwise_softmax");
  EXPECT_EQ(t->dir, std::filesystem::absolute(dir.path()));
}

TEST(Task, MinimalFileGetsTheDocumentedDefaults) {
  ScratchDir dir;
  write_text(dir / "task.json", R"({"name": "t", "op_type": "Relu",
    "inputs": {"x": {"shape": [8], "dtype": "float16", "file": "inputs/0_x.pb"}},
    "outputs": {"y": {"shape": [8], "dtype": "float16", "file": "outputs/0_y.pb"}}})");
  auto t = read_task(dir.path());
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->op_class, "other");
  EXPECT_EQ(t->attributes_json, "{}");
  EXPECT_EQ(t->target.device, "cpu");
  EXPECT_EQ(t->subgraph, "subgraph.onnx");
  EXPECT_EQ(t->inputs[0].fill, "normal");
  EXPECT_FALSE(t->workload.has_value());  // files from before workloads
  // No tolerance: the default of the first output's dtype and the op class.
  EXPECT_EQ(t->tolerance, default_tolerance(AK_DTYPE_FLOAT16, "other"));
  EXPECT_EQ(t->tolerance, (Tolerance{1e-2, 1e-2, 0.999}));
}

/// A valid file with one field replaced by `patch` (a JSON merge patch).
std::string patched(const std::string& patch) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(R"({
    "schema": "autokernel.task/1", "name": "t", "op_type": "Add",
    "axes": {"batch": {"type": "var", "value": 2}},
    "inputs": {"x": {"shape": ["batch"], "dtype": "float32", "file": "inputs/0_x.pb"}},
    "outputs": {"y": {"shape": ["batch"], "dtype": "float32", "file": "outputs/0_y.pb"}},
    "tolerance": {"atol": 0.1, "rtol": 0.1, "matched_ratio": 1.0},
    "target": {"device": "cpu", "arch": "cpu"},
    "random_inputs": {"seed": 1, "inputs": {"x": {"fill": "normal"}}}})");
  j.merge_patch(nlohmann::ordered_json::parse(patch));
  return j.dump();
}

TEST(Task, MalformedFilesNameTheFileAndTheField) {
  ScratchDir dir;
  const std::string file = (dir / "task.json").string();
  ASSERT_TRUE(read_task(dir.path()).status().message().find("task.json does not exist") != std::string::npos);
  struct Case {
    std::string text;   ///< the file
    std::string field;  ///< what the message must name
  };
  const std::vector<Case> cases = {
      {"[1, 2]", "not a JSON object"},
      {"{\"name\": ", "not a JSON object"},
      {patched(R"({"schema": "autokernel.task/2"})"), "schema: 'autokernel.task/2' is not supported"},
      {patched(R"({"name": null})"), "name: missing"},
      {patched(R"({"name": 7})"), "name: must be a string"},
      {patched(R"({"op_type": ""})"), "op_type: must not be empty"},
      {patched(R"({"inputs": null})"), "inputs: missing or empty"},
      {patched(R"({"outputs": []})"), "outputs: must be an object"},
      {patched(R"({"inputs": {"x": {"dtype": "float33"}}})"), "inputs.x.dtype: unknown dtype 'float33'"},
      {patched(R"({"inputs": {"x": {"shape": ["seq"]}}})"), "inputs.x.shape: axis 'seq' is not in \"axes\""},
      {patched(R"({"inputs": {"x": {"shape": [-3]}}})"), "inputs.x.shape: a dimension must be"},
      {patched(R"({"inputs": {"x": {"shape": "batch"}}})"), "inputs.x.shape: missing"},
      {patched(R"({"axes": {"batch": {"type": "dynamic"}}})"), "axes.batch.type: must be \"var\" or \"const\""},
      {patched(R"({"axes": {"batch": {"value": "2"}}})"), "axes.batch.value: must be an integer"},
      {patched(R"({"axes": {"batch": {"value": -1}}})"), "axes.batch.value: must not be negative"},
      {patched(R"({"flops": "many"})"), "flops: must be a number"},
      {patched(R"({"tolerance": {"matched_ratio": 2}})"), "tolerance.matched_ratio: must be in [0, 1]"},
      {patched(R"({"tolerance": {"atol": -1}})"), "tolerance: atol and rtol must not be negative"},
      {patched(R"({"tolerance": 0.1})"), "tolerance: must be an object"},
      {patched(R"({"target": {"device": "tpu"}})"), "target.device: must be cpu or cuda, not 'tpu'"},
      {patched(R"({"target": {"allow_tf32": "yes"}})"), "target.allow_tf32: must be true or false"},
      {patched(R"({"random_inputs": {"seed": -4}})"), "random_inputs.seed: must be a non-negative integer"},
      {patched(R"({"random_inputs": {"inputs": {"x": {"fill": "uniform"}}}})"),
       "random_inputs.inputs.x.fill: unknown fill 'uniform'"},
      {patched(R"({"random_inputs": {"inputs": {"x": {"fill": "int", "upper_bound": 0}}}})"),
       "random_inputs.inputs.x.upper_bound: must be at least 1"},
      {patched(R"({"tags": "a"})"), "tags: must be an array of strings"},
      {patched(R"({"attributes": [1]})"), "attributes: must be an object"},
      {patched(R"({"source": {"nodes": [1]}})"), "source.nodes: must be an array of strings"},
      {patched(R"({"workload": [1]})"), "workload: must be an object"},
      {patched(R"({"workload": {"instances": [["a"]]}})"), "workload.hash: missing"},
      {patched(R"({"workload": {"hash": "h"}})"), "workload.instances: missing or empty"},
      {patched(R"({"workload": {"hash": "h", "instances": [[]]}})"), "workload.instances: each instance"},
      {patched(R"({"workload": {"hash": "h", "instances": [["a", 2]]}})"), "workload.instances: node names must be strings"},
  };
  for (const Case& c : cases) {
    write_text(dir / "task.json", c.text);
    auto t = read_task(dir.path());
    ASSERT_FALSE(t.is_ok()) << c.text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
    const std::string message = t.status().message();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.rfind(file, 0), 0u) << message;
    EXPECT_NE(message.find(c.field), std::string::npos) << "wanted '" << c.field << "' in: " << message;
  }
}

TEST(Task, WriteRefusesWhatReadWouldRefuse) {
  ScratchDir dir;
  Task t = full_task(dir.path());
  t.attributes_json = "[1]";
  EXPECT_FALSE(write_task(dir.path(), t).is_ok());
  t = full_task(dir.path());
  t.inputs[0].dims.pop_back();
  EXPECT_FALSE(write_task(dir.path(), t).is_ok());
  t = full_task(dir.path());
  t.inputs[0].dims[0] = 3;  // batch is 2
  EXPECT_NE(write_task(dir.path(), t).message().find("dimension 0 (batch=3)"), std::string::npos);
  t = full_task(dir.path());
  t.outputs.clear();
  EXPECT_FALSE(write_task(dir.path(), t).is_ok());
  t = full_task(dir.path());
  t.inputs[0].dtype = 0;
  EXPECT_FALSE(write_task(dir.path(), t).is_ok());
  t = full_task(dir.path());
  t.workload->instances.clear();
  EXPECT_FALSE(write_task(dir.path(), t).is_ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "task.json"));
  EXPECT_FALSE(write_task(dir / "missing", full_task(dir.path())).is_ok());
}

TEST(Task, CheckTaskFilesNamesTheMissingFile) {
  ScratchDir dir;
  Task t = full_task(dir.path());
  write_text(dir / "subgraph.onnx", "x");
  for (const auto* list : {&t.inputs, &t.outputs})
    for (const TaskTensor& tensor : *list) write_text(t.file_path(tensor), "x");
  EXPECT_TRUE(check_task_files(t).is_ok());
  std::filesystem::remove(t.file_path(t.inputs[1]));
  const Status st = check_task_files(t);
  EXPECT_NE(st.message().find("'input_ids' has no data file"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ak::kernels
