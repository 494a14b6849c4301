// The executor on small models built in memory: values, input checks, the observer seam,
// host placement of shape arithmetic, and clear errors.
#include <gtest/gtest.h>

#include "models/onnx_io.h"
#include "models/session.h"
#include "tests/models/model_builder.h"

namespace ak::models {
namespace {

using namespace testing;

std::unique_ptr<Session> make_session(Graph g, int64_t opset = 17) {
  auto model = std::make_shared<const Model>(model_of(std::move(g), opset));
  auto s = Session::create(model, SessionOptions{});
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

/// y = Relu(x + w) over [batch, 3]
Graph add_relu_graph() {
  Graph g;
  g.name = "add_relu";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {1, 3}, {"batch", ""}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1, 3}, {"batch", ""}));
  g.initializers.push_back(float_tensor("w", {3}, {1.f, -2.f, 0.5f}));
  g.nodes.push_back(node("Add", {"x", "w"}, {"s"}));
  g.nodes.push_back(node("Relu", {"s"}, {"y"}));
  return g;
}

TEST(Session, RunsAndComputesValues) {
  auto s = make_session(add_relu_graph());
  ASSERT_TRUE(s);
  auto out = s->run({float_tensor("x", {2, 3}, {0.f, 1.f, 2.f, -1.f, 3.f, -0.5f})});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(floats_of((*out)[0]), (std::vector<float>{1.f, 0.f, 2.5f, 0.f, 1.f, 0.f}));
  // A second run gives the same answer (no state leaks between runs).
  auto again = s->run({float_tensor("x", {1, 3}, {1.f, 1.f, 1.f})});
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(floats_of((*again)[0]), (std::vector<float>{2.f, 0.f, 1.5f}));
}

/// The QKV split of an exported attention: Gather with a constant scalar index (a view of the
/// slice, no copy), positive and negative, then a transposed [S, 1, K] x [K, N] MatMul (one
/// GEMM of S rows, not a batched GEMV). Values against the arithmetic done by hand.
TEST(Session, ConstantIndexGathersAndFoldedMatMulComputeTheSlices) {
  Graph g;
  g.name = "qkv_split";
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {3, 1, 2, 2}, {"", "", "", ""}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {2, 1, 2}, {"", "", ""}));
  g.initializers.push_back(int64_tensor("first", {}, {0}));
  g.initializers.push_back(int64_tensor("last", {}, {-1}));
  g.initializers.push_back(float_tensor("w", {2, 2}, {1.f, 2.f, 3.f, 4.f}));
  g.nodes.push_back(node("Gather", {"x", "first"}, {"q"}));  // [1, 2, 2]
  g.nodes.push_back(node("Gather", {"x", "last"}, {"v"}));
  g.nodes.push_back(node("Add", {"q", "v"}, {"s"}));
  Node t = node("Transpose", {"s"}, {"st"});  // [2, 1, 2], strides of a transposed view
  t.attributes.push_back(ints_attr("perm", {1, 0, 2}));
  g.nodes.push_back(t);
  g.nodes.push_back(node("MatMul", {"st", "w"}, {"y"}));
  auto s = make_session(g);
  ASSERT_TRUE(s);
  // x[0] = [[1, 2], [3, 4]], x[2] = [[10, 20], [30, 40]]: s = [[11, 22], [33, 44]] as [1, 2, 2].
  auto out = s->run({float_tensor("x", {3, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 30, 40})});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{2, 1, 2}));
  // [11, 22] x w = [11 + 66, 22 + 88]; [33, 44] x w = [33 + 132, 66 + 176].
  EXPECT_EQ(floats_of((*out)[0]), (std::vector<float>{77.f, 110.f, 165.f, 242.f}));

  Graph bad = g;
  bad.initializers[1] = int64_tensor("last", {}, {3});
  auto s_bad = make_session(bad);
  ASSERT_TRUE(s_bad);
  auto err = s_bad->run({float_tensor("x", {3, 1, 2, 2}, std::vector<float>(12, 1.f))});
  ASSERT_FALSE(err.is_ok());
  EXPECT_NE(err.status().message().find("Gather index 3 is out of range for axis 0 of size 3"), std::string::npos)
      << err.status().message();
}

TEST(Session, ChecksInputsByNameDtypeAndShape) {
  auto s = make_session(add_relu_graph());
  ASSERT_TRUE(s);
  auto missing = s->run({});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(missing.status().message(), "input 'x' is missing");

  auto unknown = s->run({float_tensor("x", {1, 3}, {1, 2, 3}), float_tensor("z", {1}, {1})});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("'z' is not an input of the model (inputs: x)"), std::string::npos);

  auto dtype = s->run({int64_tensor("x", {1, 3}, {1, 2, 3})});
  ASSERT_FALSE(dtype.is_ok());
  EXPECT_EQ(dtype.status().message(), "input 'x': expected dtype float32, got int64");

  auto shape = s->run({float_tensor("x", {1, 4}, {1, 2, 3, 4})});
  ASSERT_FALSE(shape.is_ok());
  EXPECT_EQ(shape.status().message(), "input 'x': expected shape batchx3, got 1x4");
}

TEST(Session, ReportsUnsupportedOpsWithOpset) {
  Graph g = add_relu_graph();
  g.nodes[1].op_type = "NoSuchOp";
  g.nodes[1].name = "mystery";
  auto model = std::make_shared<const Model>(model_of(g, 13));
  auto s = Session::create(model, SessionOptions{});
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.status().message(), "node 'mystery' (NoSuchOp, opset 13): op NoSuchOp is not supported");
}

TEST(Session, ReportsRuntimeErrorsWithTheNode) {
  // MatMul of [1,3] by [4,2]: the inner dimensions disagree at run time.
  Graph g;
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {1, 3}));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {1, 2}));
  g.initializers.push_back(float_tensor("w", {4, 2}, std::vector<float>(8, 1.f)));
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  g.nodes[0].name = "proj";
  auto s = make_session(g);
  ASSERT_TRUE(s);
  auto r = s->run({float_tensor("x", {1, 3}, {1, 2, 3})});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message().rfind("node 'proj' (MatMul, opset 17): ", 0), 0u) << r.status().message();
}

class Recorder : public NodeObserver {
 public:
  struct Seen {
    std::string node;
    bool before;
    std::vector<std::vector<int64_t>> input_shapes, output_shapes;
    bool on_host;
  };
  std::vector<Seen> seen;
  void before_node(const NodeEvent& e) override { record(e, true); }
  void after_node(const NodeEvent& e) override { record(e, false); }

 private:
  void record(const NodeEvent& e, bool before);
};

}  // namespace
}  // namespace ak::models

// The observer looks at tensor shapes, which needs ATen (as the profiler will).
#include <ATen/ATen.h>

namespace ak::models {
namespace {

void Recorder::record(const NodeEvent& e, bool before) {
  Seen s{e.node->name, before, {}, {}, e.on_host};
  for (const at::Tensor* t : e.inputs) s.input_shapes.push_back(t ? std::vector<int64_t>(t->sizes().begin(), t->sizes().end()) : std::vector<int64_t>{-1});
  for (const at::Tensor* t : e.outputs) s.output_shapes.push_back(t ? std::vector<int64_t>(t->sizes().begin(), t->sizes().end()) : std::vector<int64_t>{-1});
  seen.push_back(std::move(s));
}

TEST(Session, ObserverSeesEveryNodeInOrderWithTensors) {
  auto s = make_session(add_relu_graph());
  ASSERT_TRUE(s);
  Recorder rec;
  s->add_observer(&rec);
  ASSERT_TRUE(s->run({float_tensor("x", {2, 3}, std::vector<float>(6, 1.f))}).is_ok());
  ASSERT_EQ(rec.seen.size(), 4u);
  EXPECT_EQ(rec.seen[0].node, "Add_s");
  EXPECT_TRUE(rec.seen[0].before);
  EXPECT_EQ(rec.seen[0].input_shapes, (std::vector<std::vector<int64_t>>{{2, 3}, {3}}));
  EXPECT_TRUE(rec.seen[0].output_shapes.empty());
  EXPECT_FALSE(rec.seen[1].before);
  EXPECT_EQ(rec.seen[1].output_shapes, (std::vector<std::vector<int64_t>>{{2, 3}}));
  EXPECT_EQ(rec.seen[3].node, "Relu_y");
  s->remove_observer(&rec);
  ASSERT_TRUE(s->run({float_tensor("x", {2, 3}, std::vector<float>(6, 1.f))}).is_ok());
  EXPECT_EQ(rec.seen.size(), 4u);
}

/// y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])) over x [2, 3, 4] (dims named by `params`).
Graph flatten_by_shape_graph(const std::vector<std::string>& params) {
  Graph g;
  g.inputs.push_back(tensor_info("x", DType::kFloat32, {2, 3, 4}, params));
  g.outputs.push_back(tensor_info("y", DType::kFloat32, {2, 12}, {params[0], ""}));
  g.initializers.push_back(int64_tensor("zero", {1}, {0}));
  g.initializers.push_back(int64_tensor("minus_one", {1}, {-1}));
  g.nodes.push_back(node("Shape", {"x"}, {"shape"}));
  g.nodes.push_back(node("Gather", {"shape", "zero"}, {"batch"}));
  g.nodes.push_back(node("Concat", {"batch", "minus_one"}, {"target"}, {int_attr("axis", 0)}));
  g.nodes.push_back(node("Reshape", {"x", "target"}, {"y"}));
  return g;
}

TEST(Session, ShapeArithmeticRunsOnTheHost) {
  // y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])): the shape chain is host-side,
  // Reshape itself (its data input is a device value) is not.
  auto s = make_session(flatten_by_shape_graph({"", "", ""}));
  ASSERT_TRUE(s);
  Recorder rec;
  s->add_observer(&rec);
  auto out = s->run({float_tensor("x", {2, 3, 4}, std::vector<float>(24, 1.f))});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{2, 12}));
  std::map<std::string, bool> host;
  for (const auto& e : rec.seen) host[e.node] = e.on_host;
  EXPECT_TRUE(host["Shape_shape"]);  // reads only sizes, so even of a device value
  EXPECT_TRUE(host["Gather_batch"]);
  EXPECT_TRUE(host["Concat_target"]);
  EXPECT_FALSE(host["Reshape_y"]);
  EXPECT_EQ(s->host_syncs(), 0);
}

TEST(Session, HostStepsRecomputeWhenShapesChange) {
  // The executor memoizes host steps; a new batch size must still reach the Reshape.
  auto s = make_session(flatten_by_shape_graph({"batch", "", ""}));
  ASSERT_TRUE(s);
  for (int64_t batch : {2, 2, 5, 1, 5}) {
    std::vector<float> x(batch * 12);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
    auto out = s->run({float_tensor("x", {batch, 3, 4}, x)});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{batch, 12}));
    EXPECT_EQ(floats_of((*out)[0]), x);
  }
}

TEST(Session, MeasuresLatency) {
  auto s = make_session(add_relu_graph());
  ASSERT_TRUE(s);
  auto lat = s->measure_latency({float_tensor("x", {1, 3}, {1, 2, 3})}, 1, 5);
  ASSERT_TRUE(lat.is_ok()) << lat.status().message();
  EXPECT_EQ(lat->iterations, 5);
  EXPECT_EQ(lat->samples_ms.size(), 5u);
  EXPECT_LE(lat->min_ms, lat->median_ms);
  EXPECT_LE(lat->median_ms, lat->p90_ms);
  EXPECT_FALSE(s->measure_latency({float_tensor("x", {1, 3}, {1, 2, 3})}, 0, 0).is_ok());
}

TEST(Session, LatencyStatsInterpolatesPercentiles) {
  auto s = latency_stats({5, 1, 4, 2, 3});
  EXPECT_DOUBLE_EQ(s.median_ms, 3);
  EXPECT_DOUBLE_EQ(s.min_ms, 1);
  EXPECT_DOUBLE_EQ(s.mean_ms, 3);
  EXPECT_DOUBLE_EQ(s.p90_ms, 4.6);
  EXPECT_DOUBLE_EQ(s.p10_ms, 1.4);
}

TEST(Device, ParsesAndRejects) {
  EXPECT_TRUE(Device::parse("cpu").is_ok());
  auto bad = Device::parse("tpu");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "unknown device 'tpu' (expected cpu, cuda or cuda:N)");
  EXPECT_FALSE(Device::parse("cuda:x").is_ok());
  if (!cuda_available()) {
    auto cuda = Device::parse("cuda");
    ASSERT_FALSE(cuda.is_ok());
    EXPECT_NE(cuda.status().message().find("no CUDA GPU is usable"), std::string::npos);
  }
}

TEST(Session, ErrorsAtTheRightDepth) {
  // Tensors that do not fit the node (here: shapes a user chose) are bad input ...
  Graph mm;
  mm.inputs.push_back(tensor_info("x", DType::kFloat32, {2, 1}, {"", "k"}));
  mm.outputs.push_back(tensor_info("y", DType::kFloat32, {2, 4}));
  mm.initializers.push_back(float_tensor("w", {3, 4}, std::vector<float>(12, 1.f)));
  mm.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  auto s = make_session(mm);
  ASSERT_TRUE(s);
  auto wrong = s->run({float_tensor("x", {2, 5}, std::vector<float>(10, 1.f))});
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(wrong.status().message(),
            "node 'MatMul_y' (MatMul, opset 17): MatMul operands [2,5] and [3,4] do not multiply (inner dimensions 5 and 3)");
  auto right = s->run({float_tensor("x", {2, 3}, std::vector<float>(6, 1.f))});
  ASSERT_TRUE(right.is_ok()) << right.status().message();
  EXPECT_EQ(floats_of((*right)[0]), std::vector<float>(8, 3.f));

  // ... while a failure inside ATen (no CPU matrix product for bool) is an internal error.
  Graph b;
  b.inputs.push_back(tensor_info("a", DType::kBool, {2, 2}));
  b.outputs.push_back(tensor_info("y", DType::kBool, {2, 2}));
  b.nodes.push_back(node("MatMul", {"a", "a"}, {"y"}));
  auto sb = make_session(b);
  ASSERT_TRUE(sb);
  TensorData a;
  a.name = "a";
  a.dtype = DType::kBool;
  a.dims = {2, 2};
  const uint8_t ones[4] = {1, 1, 1, 1};
  a.bytes = Buffer::copy_of(ones, 4);
  auto internal = sb->run({a});
  ASSERT_FALSE(internal.is_ok());
  EXPECT_EQ(internal.status().code(), StatusCode::kInternal);
  EXPECT_EQ(internal.status().message().rfind("node 'MatMul_y' (MatMul, opset 17): internal error in ATen: ", 0), 0u)
      << internal.status().message();
  EXPECT_EQ(internal.status().exit_code(), 1);
}

}  // namespace
}  // namespace ak::models
