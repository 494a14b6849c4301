// The layout template (kernels/templates/layout_*): a one-node task of each data-movement op
// gets the layout starter from make_starter, which g++ builds; its output must be bitwise
// what autokernel's runtime (ATen) computes for the node, over odd sizes, size-1 dims,
// strided inputs and several dtypes. Bad calls get the template's error codes, bad specs a
// Status, and what the template cannot bake in (indices computed at run time) a skeleton.
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "extractor/internal/starter.h"
#include "kernels/build.h"
#include "kernels/kernel_library.h"
#include "kernels/templates.h"
#include "models/session.h"
#include "scratch.h"
#include "tests/models/model_builder.h"

namespace ak::kernels {
namespace {

using models::DType;
using models::TensorData;
using namespace models::testing;

/// `dims` of `dtype` with random bit patterns that are finite numbers (the exponent's lowest
/// bit cleared for the float types, so no Inf/NaN) and 0/1 for bool: a copy must keep every bit.
TensorData random_tensor(const std::string& name, DType dtype, std::vector<int64_t> dims, uint32_t seed) {
  TensorData t;
  t.name = name;
  t.dtype = dtype;
  t.dims = std::move(dims);
  const size_t size = models::dtype_size(dtype);
  std::vector<uint8_t> bytes(static_cast<size_t>(t.numel()) * size);
  std::mt19937 rng(seed);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < bytes.size(); i += size) {
    uint8_t* e = bytes.data() + i;  // little-endian: the exponent's lowest bit is in the high bytes
    switch (dtype) {
      case DType::kBool: e[0] &= 1; break;
      case DType::kFloat16: e[1] &= 0xFB; break;
      case DType::kBFloat16: e[0] &= 0x7F; break;
      case DType::kFloat32: e[2] &= 0x7F; break;
      case DType::kFloat64: e[6] &= 0xEF; break;
      default: break;
    }
  }
  t.bytes = models::Buffer::copy_of(bytes.data(), bytes.size());
  return t;
}

/// The kernel's inputs are read-only; the ABI's descriptor just has no const.
void* mutable_data(const std::byte* data) { return const_cast<std::byte*>(data); }

/// A contiguous descriptor of `t` (the kernel reads through `data`, which may be a copy).
ak_tensor descriptor(const TensorData& t, void* data) {
  ak_tensor d{};
  d.data = data;
  d.dtype = static_cast<int32_t>(t.dtype);
  d.rank = static_cast<int32_t>(t.dims.size());
  int64_t stride = 1;
  for (int k = d.rank - 1; k >= 0; --k) {
    d.shape[k] = t.dims[k];
    d.strides[k] = stride;
    stride *= t.dims[k];
  }
  return d;
}

int call(const KernelLibrary& library, std::vector<ak_tensor> inputs, std::vector<ak_tensor> outputs) {
  return library.call(std::span<const ak_tensor>(inputs), std::span<ak_tensor>(outputs), nullptr);
}

/// One node over graph inputs `inputs` (fed `data`) with integer initializers as the
/// constants the starter bakes in.
struct LayoutCase {
  LayoutCase(models::Node n, std::vector<TensorData> d, std::vector<TensorData> c = {}, int64_t o = 17)
      : node(std::move(n)), data(std::move(d)), constants(std::move(c)), opset(o) {}
  models::Node node;
  std::vector<TensorData> data;               ///< the graph inputs, in the node's order
  std::vector<TensorData> constants;          ///< initializers kept inside the subgraph
  int64_t opset = 17;
};

class LayoutTemplateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto backend = make_gxx_backend(BuildOptions{});
    if (backend.is_ok()) gxx_ = std::move(backend).value();
  }
  static void TearDownTestSuite() { gxx_.reset(); }
  void SetUp() override { ASSERT_TRUE(gxx_) << "no g++ backend"; }

  /// The runtime's outputs for the case, and the starter the case's task gets.
  void prepare(const LayoutCase& lc) {
    models::Graph g;
    g.name = "layout";
    for (const TensorData& t : lc.data) g.inputs.push_back(tensor_info(t.name, t.dtype, t.dims));
    g.initializers = lc.constants;
    g.nodes = {lc.node};
    models::ValueInfo out;
    out.name = lc.node.outputs[0];
    out.dtype = lc.data[0].dtype;
    g.outputs.push_back(out);
    model_ = std::make_shared<const models::Model>(model_of(std::move(g), lc.opset));
    auto session = models::Session::create(model_, {});
    ASSERT_TRUE(session.is_ok()) << session.status().message();
    auto outputs = (*session)->run(lc.data);
    ASSERT_TRUE(outputs.is_ok()) << outputs.status().message();
    reference_ = std::move(outputs).value();
    ASSERT_EQ(reference_.size(), 1u);

    constants_.clear();
    shapes_.clear();
    for (const TensorData& t : lc.constants) constants_[t.name] = t;
    extractor::internal::StarterContext c;
    c.model = model_.get();
    c.nodes = {&model_->graph.nodes[0]};
    c.op_type = lc.node.op_type;
    for (const TensorData& t : lc.data) {
      c.inputs.push_back(t.name);
      c.dtypes[t.name] = t.dtype;
      shapes_[t.name] = t.dims;
    }
    c.outputs = {out_name()};
    c.dtypes[out_name()] = reference_[0].dtype;
    shapes_[out_name()] = reference_[0].dims;
    c.constants = &constants_;
    c.shapes = &shapes_;
    starter_ = extractor::internal::make_starter(c);
  }

  const std::string& out_name() const { return model_->graph.outputs[0].name; }

  /// Builds the starter and loads it.
  std::optional<KernelLibrary> build() {
    BuildOptions options;
    options.cache_dir = dir_ / "cache";
    testing::write_text(dir_ / "starter.cpp", starter_.source);
    auto built = build_kernel(dir_ / "starter.cpp", *gxx_, options);
    if (!built.is_ok() || !built->ok) {
      ADD_FAILURE() << "the starter does not build:\n" << (built.is_ok() ? built->log : built.status().message());
      return std::nullopt;
    }
    auto library = KernelLibrary::load(built->library_path);
    if (!library.is_ok()) {
      ADD_FAILURE() << library.status().message();
      return std::nullopt;
    }
    return std::move(library).value();
  }

  /// The starter is the layout template, and its output is bitwise the runtime's.
  void expect_matches_runtime(const LayoutCase& lc) {
    SCOPED_TRACE(lc.node.op_type + " " + models::dtype_name(lc.data[0].dtype));
    prepare(lc);
    if (HasFatalFailure()) return;
    ASSERT_EQ(starter_.template_name, "layout") << starter_.why_skeleton;
    auto library = build();
    if (!library) return;
    std::vector<ak_tensor> in;
    for (const TensorData& t : lc.data) in.push_back(descriptor(t, mutable_data(t.bytes.data)));
    const TensorData& want = reference_[0];
    std::vector<uint8_t> got(static_cast<size_t>(want.numel()) * models::dtype_size(want.dtype), 0xA5);
    std::vector<ak_tensor> out = {descriptor(want, got.data())};
    ASSERT_EQ(call(*library, in, out), 0);
    EXPECT_EQ(std::memcmp(got.data(), want.bytes.data, got.size()), 0) << "the starter differs from the runtime";
  }

  static std::unique_ptr<BuildBackend> gxx_;
  testing::ScratchDir dir_;
  std::shared_ptr<const models::Model> model_;
  std::vector<TensorData> reference_;
  std::map<std::string, TensorData> constants_;
  extractor::internal::ShapeMap shapes_;
  extractor::internal::Starter starter_;
};

std::unique_ptr<BuildBackend> LayoutTemplateTest::gxx_;

TEST_F(LayoutTemplateTest, CopyOpsMatchTheRuntime) {
  expect_matches_runtime({node("Reshape", {"x", "shape"}, {"y"}), {random_tensor("x", DType::kFloat32, {3, 1, 5}, 1)},
                          {int64_tensor("shape", {2}, {5, -1})}});
  expect_matches_runtime({node("Flatten", {"x"}, {"y"}, {int_attr("axis", 2)}),
                          {random_tensor("x", DType::kInt64, {2, 1, 3, 7}, 2)}});
  expect_matches_runtime({node("Squeeze", {"x", "axes"}, {"y"}), {random_tensor("x", DType::kBool, {1, 9, 1}, 3)},
                          {int64_tensor("axes", {2}, {0, -1})}});
  expect_matches_runtime({node("Unsqueeze", {"x", "axes"}, {"y"}), {random_tensor("x", DType::kFloat16, {7}, 4)},
                          {int64_tensor("axes", {2}, {0, -1})}});
  expect_matches_runtime({node("Identity", {"x"}, {"y"}), {random_tensor("x", DType::kInt8, {5, 3}, 5)}});
}

// The hotspot case: a Reshape of a transposed view, the kernel's input with strides [1, 3].
TEST_F(LayoutTemplateTest, ReshapeOfAStridedInputIsTheRuntimesCopy) {
  const TensorData stored = random_tensor("xt", DType::kBFloat16, {5, 3}, 6);  // x = stored^T, [3, 5]
  TensorData x = stored;
  x.name = "x";
  x.dims = {3, 5};
  std::vector<uint16_t> contiguous(15);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) contiguous[i * 5 + j] = stored.data<uint16_t>()[j * 3 + i];
  x.bytes = models::Buffer::copy_of(contiguous.data(), contiguous.size() * 2);
  prepare({node("Reshape", {"x", "shape"}, {"y"}), {x}, {int64_tensor("shape", {3}, {5, 1, 3})}});
  ASSERT_EQ(starter_.template_name, "layout") << starter_.why_skeleton;
  auto library = build();
  ASSERT_TRUE(library);
  ak_tensor in = descriptor(x, mutable_data(stored.bytes.data));
  in.strides[0] = 1;
  in.strides[1] = 3;
  std::vector<uint16_t> got(15);
  std::vector<ak_tensor> out = {descriptor(reference_[0], got.data())};
  ASSERT_EQ(call(*library, {in}, out), 0);
  EXPECT_EQ(std::memcmp(got.data(), reference_[0].bytes.data, 30), 0);
}

TEST_F(LayoutTemplateTest, TransposesMatchTheRuntime) {
  expect_matches_runtime({node("Transpose", {"x"}, {"y"}, {ints_attr("perm", {0, 2, 1})}),
                          {random_tensor("x", DType::kFloat16, {2, 5, 7}, 7)}});
  expect_matches_runtime({node("Transpose", {"x"}, {"y"}, {ints_attr("perm", {2, 0, 3, 1})}),
                          {random_tensor("x", DType::kInt64, {3, 1, 4, 5}, 8)}});
  expect_matches_runtime({node("Transpose", {"x"}, {"y"}), {random_tensor("x", DType::kBool, {2, 3, 1}, 9)}});
  expect_matches_runtime({node("Transpose", {"x"}, {"y"}, {ints_attr("perm", {1, 0})}),
                          {random_tensor("x", DType::kFloat64, {1, 11}, 10)}});
}

TEST_F(LayoutTemplateTest, GathersWithConstantIndicesMatchTheRuntime) {
  // 1-D indices with repeats and negative ones, on the middle axis.
  expect_matches_runtime({node("Gather", {"x", "i"}, {"y"}, {int_attr("axis", 1)}),
                          {random_tensor("x", DType::kFloat32, {2, 3, 5}, 11)},
                          {int64_tensor("i", {4}, {-1, 0, 2, 2})}});
  // A scalar index removes the axis (ViT's class token: x[:, 0]).
  expect_matches_runtime({node("Gather", {"x", "i"}, {"y"}, {int_attr("axis", 1)}),
                          {random_tensor("x", DType::kBFloat16, {1, 7, 3}, 12)}, {int64_tensor("i", {}, {0})}});
  expect_matches_runtime({node("Gather", {"x", "i"}, {"y"}, {int_attr("axis", -1)}),
                          {random_tensor("x", DType::kInt32, {3, 4}, 13)}, {int64_tensor("i", {}, {-2})}});
  expect_matches_runtime({node("Gather", {"x", "i"}, {"y"}), {random_tensor("x", DType::kUInt8, {5, 1}, 14)},
                          {int64_tensor("i", {1}, {4})}});
}

TEST_F(LayoutTemplateTest, SlicesMatchTheRuntime) {
  // Negative start, an end past the dim, a step of 2, a negative step, dims not named.
  expect_matches_runtime({node("Slice", {"x", "s", "e", "a", "st"}, {"y"}),
                          {random_tensor("x", DType::kFloat32, {5, 3, 7}, 15)},
                          {int64_tensor("s", {2}, {1, -1}), int64_tensor("e", {2}, {INT64_MAX, -100}),
                           int64_tensor("a", {2}, {0, 2}), int64_tensor("st", {2}, {2, -3})}});
  expect_matches_runtime({node("Slice", {"x", "s", "e"}, {"y"}), {random_tensor("x", DType::kInt64, {4, 9}, 16)},
                          {int64_tensor("s", {2}, {0, 4}), int64_tensor("e", {2}, {1, 9})}});
  // Before opset 10 the bounds are attributes.
  LayoutCase old{node("Slice", {"x"}, {"y"}, {ints_attr("starts", {2}), ints_attr("ends", {-1}), ints_attr("axes", {1})}),
                 {random_tensor("x", DType::kFloat16, {3, 6}, 17)}, {}, 9};
  expect_matches_runtime(old);
}

TEST_F(LayoutTemplateTest, ConcatsAndExpandsMatchTheRuntime) {
  expect_matches_runtime({node("Concat", {"a", "b", "c"}, {"y"}, {int_attr("axis", 1)}),
                          {random_tensor("a", DType::kFloat16, {2, 1, 3}, 18), random_tensor("b", DType::kFloat16, {2, 4, 3}, 19),
                           random_tensor("c", DType::kFloat16, {2, 2, 3}, 20)}});
  expect_matches_runtime({node("Concat", {"a", "b"}, {"y"}, {int_attr("axis", -1)}),
                          {random_tensor("a", DType::kInt64, {3, 5}, 21), random_tensor("b", DType::kInt64, {3, 1}, 22)}});
  expect_matches_runtime({node("Expand", {"x", "shape"}, {"y"}), {random_tensor("x", DType::kBool, {3, 1}, 23)},
                          {int64_tensor("shape", {3}, {2, 3, 5})}});
  expect_matches_runtime({node("Expand", {"x", "shape"}, {"y"}), {random_tensor("x", DType::kFloat32, {1, 4}, 24)},
                          {int64_tensor("shape", {2}, {3, 1})}});
}

// The kernel checks what it is called with: the descriptors of a var axis's other sizes are
// fine, everything that does not fit the op gets its code.
TEST_F(LayoutTemplateTest, BadCallsGetTheTemplatesErrorCodes) {
  const TensorData x = random_tensor("x", DType::kFloat32, {4, 6}, 25);
  prepare({node("Gather", {"x", "i"}, {"y"}, {int_attr("axis", 0)}), {x}, {int64_tensor("i", {2}, {-4, 3})}});
  ASSERT_EQ(starter_.template_name, "layout") << starter_.why_skeleton;
  auto library = build();
  ASSERT_TRUE(library);
  std::vector<float> y(12);
  const ak_tensor in = descriptor(x, mutable_data(x.bytes.data));
  ak_tensor out = descriptor(reference_[0], y.data());
  EXPECT_EQ(call(*library, {in}, {out}), 0);
  EXPECT_EQ(call(*library, {in, in}, {out}), 1);  // kErrArgCount
  ak_tensor wrong_dtype = in;
  wrong_dtype.dtype = AK_DTYPE_INT32;
  EXPECT_EQ(call(*library, {wrong_dtype}, {out}), 2);  // kErrDtype
  ak_tensor wrong_rank = in;
  wrong_rank.rank = 3;
  EXPECT_EQ(call(*library, {wrong_rank}, {out}), 3);  // kErrRank
  ak_tensor wrong_shape = out;
  wrong_shape.shape[1] = 5;
  EXPECT_EQ(call(*library, {in}, {wrong_shape}), 4);  // kErrShape
  // The axis shrinks to 3 rows (a var axis): index 3 is out of range, -4 too.
  ak_tensor fewer_rows = in;
  fewer_rows.shape[0] = 3;
  EXPECT_EQ(call(*library, {fewer_rows}, {out}), 4);
}

TEST_F(LayoutTemplateTest, ValuesComputedAtRunTimeGetASkeletonWithTheReason) {
  // Gather's indices a graph input: the embedding lookup, not a layout copy.
  const TensorData table = random_tensor("w", DType::kFloat32, {6, 4}, 26);
  TensorData ids = int64_tensor("ids", {3}, {0, 5, 2});
  prepare({node("Gather", {"w", "ids"}, {"y"}), {table, ids}});
  EXPECT_EQ(starter_.template_name, "skeleton");
  EXPECT_NE(starter_.why_skeleton.find("computed at run time"), std::string::npos) << starter_.why_skeleton;
  // Slice bounds a graph input.
  prepare({node("Slice", {"x", "s", "e"}, {"y"}),
           {random_tensor("x", DType::kFloat32, {2, 3}, 27), int64_tensor("s", {1}, {1}), int64_tensor("e", {1}, {2})}});
  EXPECT_EQ(starter_.template_name, "skeleton");
  EXPECT_NE(starter_.why_skeleton.find("'s' is computed at run time"), std::string::npos) << starter_.why_skeleton;
}

// The exporters' Reshape: its shape computed at run time (Shape -> Gather -> Concat) is a
// kernel input the copy takes and does not read (the output's descriptor has the shape);
// Expand's likewise.
TEST_F(LayoutTemplateTest, ShapesComputedAtRunTimeAreUnreadKernelInputs) {
  expect_matches_runtime({node("Reshape", {"x", "shape"}, {"y"}),
                          {random_tensor("x", DType::kFloat16, {2, 3, 5}, 28), int64_tensor("shape", {2}, {6, -1})}});
  EXPECT_EQ(starter_.inputs, (std::vector<std::string>{"x", "shape"}));
  expect_matches_runtime({node("Expand", {"x", "shape"}, {"y"}),
                          {random_tensor("x", DType::kInt64, {1, 3}, 29), int64_tensor("shape", {2}, {4, 1})}});
}

TEST(LayoutSource, RejectsSpecsThatDoNotFitTheirOp) {
  using Op = LayoutSpec::Op;
  LayoutSpec transpose;
  transpose.op = Op::kTranspose;
  transpose.rank = 3;
  transpose.perm = {0, 0, 1};
  auto bad = layout_source(transpose, Target::kCpu);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("perm [0, 0, 1] is not a permutation"), std::string::npos) << bad.status().message();
  LayoutSpec gather;
  gather.op = Op::kGather;
  gather.rank = 2;
  gather.axis = 2;
  gather.indices = {0};
  EXPECT_NE(layout_source(gather, Target::kCpu).status().message().find("axis 2 out of [0, 2)"), std::string::npos);
  LayoutSpec slice;
  slice.op = Op::kSlice;
  slice.rank = 1;
  slice.starts = {0};
  slice.ends = {1};
  slice.steps = {0};
  EXPECT_NE(layout_source(slice, Target::kCuda).status().message().find("a step of 0"), std::string::npos);
  LayoutSpec copy;
  copy.dtype = AK_DTYPE_STRING;
  EXPECT_NE(layout_source(copy, Target::kCpu).status().message().find("dtype 8 is not supported"), std::string::npos);
  copy.dtype = AK_DTYPE_INT64;
  EXPECT_FALSE(layout_source(copy, Target::kCpu, {{"tile_dim", 32}}).is_ok());  // a CUDA-only parameter
  EXPECT_TRUE(layout_source(copy, Target::kCuda, {{"tile_dim", 64}, {"tile_rows", 16}}).is_ok());
}

}  // namespace
}  // namespace ak::kernels
