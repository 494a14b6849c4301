#include "profiler/cost_model.h"

#include <gtest/gtest.h>

#include "tests/models/model_builder.h"

namespace ak::profiler {
namespace {

using models::DType;
using models::testing::int_attr;
using models::testing::node;

NodeShapes shapes_of(const models::Node& n, std::vector<std::vector<int64_t>> in, std::vector<std::vector<int64_t>> out,
                     DType dtype = DType::kFloat32) {
  NodeShapes s;
  s.node = &n;
  s.input_dtypes.assign(in.size(), dtype);
  s.output_dtypes.assign(out.size(), dtype);
  s.input_shapes = std::move(in);
  s.output_shapes = std::move(out);
  return s;
}

TEST(CostModel, MatMulWithBatchBroadcast) {
  const auto n = node("MatMul", {"a", "b"}, {"y"});
  // [2,1,4,8] @ [3,8,5] -> [2,3,4,5]: 6 batches of 4x5x8.
  const NodeCost c = estimate_cost(shapes_of(n, {{2, 1, 4, 8}, {3, 8, 5}}, {{2, 3, 4, 5}}));
  EXPECT_STREQ(c.op_class, "matmul");
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 6 * 4 * 5 * 8);            // 1920
  EXPECT_DOUBLE_EQ(c.bytes, (64.0 + 120 + 120) * 4);         // 1216
}

TEST(CostModel, MatMulWithVectorOperand) {
  const auto n = node("MatMul", {"a", "b"}, {"y"});
  // [8] @ [2,8,5] -> [2,5]
  const NodeCost c = estimate_cost(shapes_of(n, {{8}, {2, 8, 5}}, {{2, 5}}));
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 2 * 1 * 5 * 8);
}

TEST(CostModel, MatMulWithMismatchedInnerDimIsOther) {
  const auto n = node("MatMul", {"a", "b"}, {"y"});
  const NodeCost c = estimate_cost(shapes_of(n, {{4, 8}, {7, 5}}, {{4, 5}}));
  EXPECT_STREQ(c.op_class, "other");
  EXPECT_DOUBLE_EQ(c.flops, 0);
}

TEST(CostModel, GemmWithTransposeAndBias) {
  const auto n = node("Gemm", {"a", "b", "c"}, {"y"}, {int_attr("transB", 1)});
  const NodeCost c = estimate_cost(shapes_of(n, {{4, 8}, {5, 8}, {5}}, {{4, 5}}));
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 4 * 5 * 8 + 4 * 5);  // 340
  EXPECT_DOUBLE_EQ(c.bytes, (32.0 + 40 + 5 + 20) * 4);
}

TEST(CostModel, GroupedStridedConvWithBias) {
  // X [1,8,10,10], W [16,4,3,3], group 2, stride 2, pad 1 -> Y [1,16,5,5], fp16.
  const auto n = node("Conv", {"x", "w", "b"}, {"y"}, {int_attr("group", 2)});
  const NodeCost c = estimate_cost(shapes_of(n, {{1, 8, 10, 10}, {16, 4, 3, 3}, {16}}, {{1, 16, 5, 5}}, DType::kFloat16));
  EXPECT_STREQ(c.op_class, "conv");
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 1 * 16 * 25 * (8 / 2) * 9 + 16 * 25);  // 28800 + 400
  EXPECT_DOUBLE_EQ(c.bytes, (800.0 + 576 + 16 + 400) * 2);                 // 3584

  const auto no_bias = node("Conv", {"x", "w"}, {"y"}, {int_attr("group", 2)});
  const NodeCost c2 = estimate_cost(shapes_of(no_bias, {{1, 8, 10, 10}, {16, 4, 3, 3}}, {{1, 16, 5, 5}}, DType::kFloat16));
  EXPECT_DOUBLE_EQ(c2.flops, 28800);
}

TEST(CostModel, ConvTransposeScattersEveryInput) {
  // X [1,4,3,3], W [4,2,2,2], stride 2 -> Y [1,2,6,6].
  const auto n = node("ConvTranspose", {"x", "w"}, {"y"});
  const NodeCost c = estimate_cost(shapes_of(n, {{1, 4, 3, 3}, {4, 2, 2, 2}}, {{1, 2, 6, 6}}));
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 1 * 4 * 9 * 2 * 4);  // 576
}

TEST(CostModel, BroadcastingAddCountsOutputElements) {
  const auto n = node("Add", {"a", "b"}, {"y"});
  // [4,1,3] + [5,1] -> [4,5,3]
  const NodeCost c = estimate_cost(shapes_of(n, {{4, 1, 3}, {5, 1}}, {{4, 5, 3}}));
  EXPECT_STREQ(c.op_class, "elementwise");
  EXPECT_DOUBLE_EQ(c.flops, 60);
  EXPECT_DOUBLE_EQ(c.bytes, (12.0 + 5 + 60) * 4);  // 308
}

TEST(CostModel, TranscendentalsCostAFewFlops) {
  const auto sig = node("Sigmoid", {"a"}, {"y"});
  EXPECT_DOUBLE_EQ(estimate_cost(shapes_of(sig, {{10}}, {{10}})).flops, 40);
  const auto erf = node("Erf", {"a"}, {"y"});
  EXPECT_DOUBLE_EQ(estimate_cost(shapes_of(erf, {{10}}, {{10}})).flops, 80);
  const auto sum = node("Sum", {"a", "b", "c"}, {"y"});
  EXPECT_DOUBLE_EQ(estimate_cost(shapes_of(sum, {{10}, {10}, {10}}, {{10}})).flops, 20);
}

TEST(CostModel, DataMovement) {
  const auto reshape = node("Reshape", {"x", "s"}, {"y"});
  NodeShapes rs = shapes_of(reshape, {{4, 6}, {2}}, {{24}});
  rs.input_dtypes[1] = DType::kInt64;
  const NodeCost r = estimate_cost(rs);
  EXPECT_STREQ(r.op_class, "data_movement");
  EXPECT_DOUBLE_EQ(r.bytes, 0);
  EXPECT_DOUBLE_EQ(r.flops, 0);

  const auto transpose = node("Transpose", {"x"}, {"y"});
  EXPECT_DOUBLE_EQ(estimate_cost(shapes_of(transpose, {{4, 6}}, {{6, 4}}, DType::kFloat16)).bytes, 96);

  // Gather from a [1000,64] table reads only the 6 gathered rows, plus the indices.
  const auto gather = node("Gather", {"table", "idx"}, {"y"});
  NodeShapes gs = shapes_of(gather, {{1000, 64}, {2, 3}}, {{2, 3, 64}});
  gs.input_dtypes[1] = DType::kInt64;
  const NodeCost g = estimate_cost(gs);
  EXPECT_DOUBLE_EQ(g.flops, 0);
  EXPECT_DOUBLE_EQ(g.bytes, 2.0 * 384 * 4 + 6 * 8);  // 3120
}

TEST(CostModel, FusedAttention) {
  models::Node n = node("Attention", {"q", "kt", "v"}, {"y"});
  n.domain = "com.autokernel";
  const NodeCost c = estimate_cost(
      shapes_of(n, {{2, 4, 16, 32}, {2, 4, 32, 16}, {2, 4, 16, 32}}, {{2, 4, 16, 32}}, DType::kFloat16));
  EXPECT_STREQ(c.op_class, "attention");
  const double scores = 8.0 * 16 * 16;
  EXPECT_DOUBLE_EQ(c.flops, 2 * scores * 32 * 2 + 5 * scores + scores);  // 274432
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (2 * 4 * 16 * 32) * 2);  // Q, Kt, V, Y; the scores never reach memory
}

TEST(CostModel, NormalizationAndReduction) {
  const auto sm = node("Softmax", {"x"}, {"y"});
  const NodeCost s = estimate_cost(shapes_of(sm, {{2, 10}}, {{2, 10}}));
  EXPECT_STREQ(s.op_class, "normalization");
  EXPECT_DOUBLE_EQ(s.flops, 100);
  const auto ln = node("LayerNormalization", {"x", "g", "b"}, {"y"});
  EXPECT_DOUBLE_EQ(estimate_cost(shapes_of(ln, {{2, 10}, {10}, {10}}, {{2, 10}})).flops, 160);
  const auto rm = node("ReduceMean", {"x"}, {"y"});
  const NodeCost r = estimate_cost(shapes_of(rm, {{2, 10}}, {{2, 1}}));
  EXPECT_STREQ(r.op_class, "reduction");
  EXPECT_DOUBLE_EQ(r.flops, 20);
}

TEST(CostModel, UnknownOpCountsBytesOnly) {
  const auto n = node("FancyOp", {"x"}, {"y"});
  const NodeCost c = estimate_cost(shapes_of(n, {{10}}, {{10}}));
  EXPECT_STREQ(c.op_class, "other");
  EXPECT_DOUBLE_EQ(c.flops, 0);
  EXPECT_DOUBLE_EQ(c.bytes, 80);
}

TEST(CostModel, ValueBytes) {
  const auto n = node("Add", {"a", "b"}, {"y"});
  const auto bytes = value_bytes_of({shapes_of(n, {{4, 1, 3}, {5, 1}}, {{4, 5, 3}}, DType::kFloat16)});
  EXPECT_DOUBLE_EQ(bytes.at("a"), 24);
  EXPECT_DOUBLE_EQ(bytes.at("b"), 10);
  EXPECT_DOUBLE_EQ(bytes.at("y"), 120);
}

}  // namespace
}  // namespace ak::profiler
