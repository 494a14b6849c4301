#include "verifier/compare.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "verifier/gate_inputs.h"

namespace ak::verifier {
namespace {

using models::DType;
using models::TensorData;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

template <typename T>
TensorData tensor_of(DType dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
  TensorData tensor;
  tensor.name = "y";
  tensor.dtype = dtype;
  tensor.dims = std::move(dims);
  tensor.bytes = models::Buffer::copy_of(values.data(), values.size() * sizeof(T));
  return tensor;
}

TensorData f32(std::vector<int64_t> dims, const std::vector<float>& values) {
  return tensor_of(DType::kFloat32, std::move(dims), values);
}

TensorData f16(std::vector<int64_t> dims, const std::vector<uint16_t>& bits) {
  return tensor_of(DType::kFloat16, std::move(dims), bits);
}

TensorData bf16(std::vector<int64_t> dims, const std::vector<uint16_t>& bits) {
  return tensor_of(DType::kBFloat16, std::move(dims), bits);
}

const Tolerance kFp32Elementwise{1e-5, 1e-5, 1.0};

// A sum whose terms cancel: expected 1152 from terms of ~1e9 (sum of |a| * |b| = 4e10). The
// candidate's 2392 is within rtol of the terms but not of the result.
TEST(Compare, MagnitudeOfTheTermsScalesTheRelativeTolerance) {
  const Tolerance gemm{1e-4, 1e-4, 1.0};
  TensorData expected = f32({2}, {1152.f, 5e8f});
  TensorData actual = f32({2}, {2392.f, 5e8f + 1000.f});
  TensorData magnitude = f32({2}, {4e10f, 4e10f});
  EXPECT_FALSE(compare_outputs(expected, actual, gemm).passed());
  Comparison scaled = compare_outputs(expected, actual, gemm, &magnitude);
  EXPECT_TRUE(scaled.passed()) << scaled.summary;
  // Beyond the terms' rounding (1e-4 * 4e10 = 4e6) it still fails, and says how it compared.
  TensorData far = f32({2}, {1152.f + 5e6f, 5e8f});
  Comparison off = compare_outputs(expected, far, gemm, &magnitude);
  EXPECT_FALSE(off.passed());
  EXPECT_NE(off.summary.find("the terms' magnitude"), std::string::npos) << off.summary;
  // A magnitude of another shape is ignored.
  TensorData other = f32({1}, {4e10f});
  EXPECT_FALSE(compare_outputs(expected, actual, gemm, &other).passed());
}

TEST(Compare, IdenticalFloat32Passes) {
  TensorData a = f32({2, 2}, {1, -2, 3.5f, 0});
  Comparison result = compare_outputs(a, a, kFp32Elementwise);
  EXPECT_TRUE(result.passed());
  EXPECT_EQ(result.element_count, 4);
  EXPECT_EQ(result.mismatched_count, 0);
  EXPECT_EQ(result.max_abs_error, 0);
  EXPECT_EQ(result.matched_ratio, 1.0);
  EXPECT_NE(result.summary.find("all 4 elements within atol 1e-05 rtol 1e-05"), std::string::npos) << result.summary;
}

TEST(Compare, ShapeMismatch) {
  Comparison result = compare_outputs(f32({2, 3}, std::vector<float>(6)), f32({3, 2}, std::vector<float>(6)),
                                      kFp32Elementwise);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectShape);
  EXPECT_EQ(result.summary, "shape 2x3 expected, got 3x2");
  EXPECT_EQ(result.worst_index, -1);
}

TEST(Compare, RankMismatchIsShapeMismatch) {
  Comparison result = compare_outputs(f32({6}, std::vector<float>(6)), f32({1, 6}, std::vector<float>(6)),
                                      kFp32Elementwise);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectShape);
}

TEST(Compare, DtypeMismatch) {
  Comparison result = compare_outputs(f32({2}, {1, 2}), f16({2}, {0x3C00, 0x4000}), kFp32Elementwise);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectDtype);
  EXPECT_EQ(result.summary, "dtype float32 expected, got float16");
}

TEST(Compare, WrongByteCountIsShapeMismatch) {
  TensorData expected = f32({2, 2}, {1, 2, 3, 4});
  TensorData actual = f32({2, 2}, {1, 2, 3});
  Comparison result = compare_outputs(expected, actual, kFp32Elementwise);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectShape);
  EXPECT_NE(result.summary.find("12 bytes"), std::string::npos) << result.summary;
  EXPECT_NE(result.summary.find("needs 16"), std::string::npos) << result.summary;
}

TEST(Compare, SummaryNamesWorstElementAndCounts) {
  std::vector<float> expected_values(24, 1.0f), actual_values(24, 1.0f);
  expected_values[17] = 1.25f;
  actual_values[17] = 0.93f;  // flat 17 in 2x3x4 is [1, 1, 1]
  actual_values[3] = 1.001f;  // a smaller violation elsewhere
  Comparison result = compare_outputs(f32({2, 3, 4}, expected_values), f32({2, 3, 4}, actual_values),
                                      kFp32Elementwise);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectNumerical);
  EXPECT_EQ(result.mismatched_count, 2);
  EXPECT_EQ(result.worst_index, 17);
  EXPECT_EQ(result.worst_position, "[1, 1, 1]");
  EXPECT_FLOAT_EQ(static_cast<float>(result.expected_value), 1.25f);
  EXPECT_FLOAT_EQ(static_cast<float>(result.actual_value), 0.93f);
  EXPECT_NEAR(result.max_abs_error, 0.32, 1e-6);
  EXPECT_NEAR(result.max_rel_error, 0.32 / 1.25, 1e-6);
  EXPECT_NEAR(result.matched_ratio, 22.0 / 24.0, 1e-12);
  EXPECT_EQ(result.summary,
            "max_abs_error 3.2e-01 at [1, 1, 1] (expected 1.25, got 0.93); 2 of 24 elements outside atol 1e-05 "
            "rtol 1e-05");
}

TEST(Compare, RelativeToleranceScalesWithMagnitude) {
  // |a - e| = 0.5 at e = 1e5 is within 1e-5 + 1e-5 * 1e5 = 1.00001.
  Comparison big = compare_outputs(f32({1}, {1e5f}), f32({1}, {1e5f + 0.5f}), kFp32Elementwise);
  EXPECT_TRUE(big.passed()) << big.summary;
  // The same absolute error at e = 1 is not.
  Comparison small = compare_outputs(f32({1}, {1.0f}), f32({1}, {1.5f}), kFp32Elementwise);
  EXPECT_FALSE(small.passed());
}

TEST(Compare, Float16ToleranceEdges) {
  const Tolerance tolerance{1e-3, 1e-3, 1.0};  // the float16 elementwise default
  // 0x3C00 = 1.0; 0x3C01 = 1 + 2^-10 (one ulp, error 9.8e-4 <= 2e-3); 0x3C02 two ulps
  // (1.95e-3 <= 2e-3); 0x3C03 three ulps (2.9e-3 > 2e-3).
  EXPECT_TRUE(compare_outputs(f16({1}, {0x3C00}), f16({1}, {0x3C01}), tolerance).passed());
  EXPECT_TRUE(compare_outputs(f16({1}, {0x3C00}), f16({1}, {0x3C02}), tolerance).passed());
  Comparison three = compare_outputs(f16({1}, {0x3C00}), f16({1}, {0x3C03}), tolerance);
  EXPECT_FALSE(three.passed());
  EXPECT_NEAR(three.max_abs_error, 3.0 / 1024.0, 1e-12);
  EXPECT_EQ(three.actual_value, 1.0 + 3.0 / 1024.0);
  // Negative values decode with their sign; at -2.0 (0xC000) an ulp is 2^-9: one ulp
  // (1.95e-3 <= 1e-3 + 2e-3) passes, two (3.9e-3) do not.
  Comparison negative = compare_outputs(f16({1}, {0xC000}), f16({1}, {0xC001}), tolerance);
  EXPECT_TRUE(negative.passed()) << negative.summary;
  EXPECT_EQ(negative.expected_value, -2.0);
  EXPECT_EQ(negative.actual_value, -2.0 - 1.0 / 512.0);
  EXPECT_FALSE(compare_outputs(f16({1}, {0xC000}), f16({1}, {0xC002}), tolerance).passed());
}

TEST(Compare, BFloat16ToleranceEdges) {
  const Tolerance tolerance{1e-2, 1e-2, 1.0};  // the bfloat16 elementwise default
  // 0x3F80 = 1.0; one ulp = 2^-7 = 7.8e-3 <= 2e-2; three ulps = 2.3e-2 > 2e-2.
  EXPECT_TRUE(compare_outputs(bf16({1}, {0x3F80}), bf16({1}, {0x3F81}), tolerance).passed());
  Comparison three = compare_outputs(bf16({1}, {0x3F80}), bf16({1}, {0x3F83}), tolerance);
  EXPECT_FALSE(three.passed());
  EXPECT_NEAR(three.max_abs_error, 3.0 / 128.0, 1e-12);
}

TEST(Compare, MatchedRatioAllowsRareOutliers) {
  const Tolerance tolerance{1e-2, 1e-2, 0.999};  // float16 matmul
  std::vector<uint16_t> expected(2000, 0x3C00), one_off = expected, three_off = expected;
  one_off[10] = 0x4000;  // 2.0 where 1.0 expected
  for (int i : {10, 500, 1999}) three_off[static_cast<size_t>(i)] = 0x4000;
  Comparison one = compare_outputs(f16({2000}, expected), f16({2000}, one_off), tolerance);
  EXPECT_TRUE(one.passed()) << one.summary;
  EXPECT_EQ(one.mismatched_count, 1);
  EXPECT_NEAR(one.matched_ratio, 0.9995, 1e-12);
  EXPECT_NE(one.summary.find("(allowed)"), std::string::npos) << one.summary;
  Comparison three = compare_outputs(f16({2000}, expected), f16({2000}, three_off), tolerance);
  EXPECT_FALSE(three.passed());
  EXPECT_EQ(three.mismatched_count, 3);
}

TEST(Compare, NaNWhereFiniteExpectedFailsEvenWithinTheRatio) {
  const Tolerance tolerance{1e-2, 1e-2, 0.999};
  std::vector<float> expected(2000, 1.0f), actual = expected;
  actual[7] = kNaN;
  Comparison result = compare_outputs(f32({2000}, expected), f32({2000}, actual), tolerance);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectNumerical);
  EXPECT_EQ(result.nonfinite_mismatch_count, 1);
  EXPECT_EQ(result.worst_index, 7);
  EXPECT_TRUE(std::isinf(result.max_abs_error));
  EXPECT_TRUE(std::isnan(result.actual_value));
  EXPECT_NE(result.summary.find("NaN/Inf"), std::string::npos) << result.summary;
  EXPECT_FALSE(result.never_written);
}

TEST(Compare, NaNAndInfRules) {
  // NaN expected: NaN matches, a number does not.
  EXPECT_TRUE(compare_outputs(f32({2}, {kNaN, 1}), f32({2}, {kNaN, 1}), kFp32Elementwise).passed());
  EXPECT_FALSE(compare_outputs(f32({2}, {kNaN, 1}), f32({2}, {0, 1}), kFp32Elementwise).passed());
  // +Inf must be +Inf: not -Inf, not NaN, not the largest float.
  EXPECT_TRUE(compare_outputs(f32({2}, {kInf, -kInf}), f32({2}, {kInf, -kInf}), kFp32Elementwise).passed());
  EXPECT_FALSE(compare_outputs(f32({1}, {kInf}), f32({1}, {-kInf}), kFp32Elementwise).passed());
  EXPECT_FALSE(compare_outputs(f32({1}, {kInf}), f32({1}, {kNaN}), kFp32Elementwise).passed());
  EXPECT_FALSE(
      compare_outputs(f32({1}, {kInf}), f32({1}, {std::numeric_limits<float>::max()}), kFp32Elementwise).passed());
  // Inf where the reference is finite fails, however loose the tolerance.
  EXPECT_FALSE(compare_outputs(f32({1}, {1e30f}), f32({1}, {kInf}), Tolerance{1e38, 1, 0.0}).passed());
}

TEST(Compare, AllNaNOutputWasNeverWritten) {
  std::vector<float> expected = {0.5f, -1, 2, 3, 4, 5};
  std::vector<float> actual(6, kNaN);
  Comparison result = compare_outputs(f32({2, 3}, expected), f32({2, 3}, actual), Tolerance{1, 1, 0.0});
  EXPECT_EQ(result.verdict, Verdict::kIncorrectNumerical);
  EXPECT_TRUE(result.never_written);
  EXPECT_EQ(result.summary.rfind("output never written (all NaN)", 0), 0u) << result.summary;
  EXPECT_EQ(result.mismatched_count, 6);
  // ...unless the reference is all NaN as well.
  Comparison both = compare_outputs(f32({2, 3}, actual), f32({2, 3}, actual), kFp32Elementwise);
  EXPECT_TRUE(both.passed());
  EXPECT_FALSE(both.never_written);
}

TEST(Compare, ExactIntegers) {
  const Tolerance exact{0, 0, 1.0};
  std::vector<int64_t> big = {int64_t{1} << 62, -5, 0};
  std::vector<int64_t> off_by_one = {(int64_t{1} << 62) + 1, -5, 0};
  Comparison result =
      compare_outputs(tensor_of(DType::kInt64, {3}, big), tensor_of(DType::kInt64, {3}, off_by_one), exact);
  EXPECT_EQ(result.verdict, Verdict::kIncorrectNumerical);  // 2^62 vs 2^62+1: rounding in double would hide it
  EXPECT_EQ(result.worst_index, 0);
  EXPECT_EQ(result.max_abs_error, 1.0);
  EXPECT_NE(result.summary.find("(expected 4611686018427387904, got 4611686018427387905)"), std::string::npos)
      << result.summary;
  EXPECT_TRUE(compare_outputs(tensor_of(DType::kInt64, {3}, big), tensor_of(DType::kInt64, {3}, big), exact).passed());

  std::vector<uint64_t> u = {~uint64_t{0}, 1};
  std::vector<uint64_t> u_off = {~uint64_t{0} - 1, 1};
  EXPECT_FALSE(compare_outputs(tensor_of(DType::kUInt64, {2}, u), tensor_of(DType::kUInt64, {2}, u_off), exact).passed());

  std::vector<int8_t> i8 = {-128, 127, 0};
  std::vector<int8_t> i8_off = {-128, 126, 0};
  Comparison small = compare_outputs(tensor_of(DType::kInt8, {3}, i8), tensor_of(DType::kInt8, {3}, i8_off), exact);
  EXPECT_FALSE(small.passed());
  EXPECT_EQ(small.worst_position, "[1]");
  EXPECT_EQ(small.expected_value, 127);
  EXPECT_EQ(small.actual_value, 126);

  std::vector<uint8_t> flags = {1, 0, 1}, flipped = {1, 1, 1};
  Comparison boolean = compare_outputs(tensor_of(DType::kBool, {3}, flags), tensor_of(DType::kBool, {3}, flipped), exact);
  EXPECT_FALSE(boolean.passed());
  EXPECT_EQ(boolean.worst_index, 1);
}

TEST(Compare, ExactFloatsForDataMovement) {
  const Tolerance exact = default_tolerance(DType::kFloat32, "data_movement");
  float next = std::nextafter(1.0f, 2.0f);
  EXPECT_FALSE(compare_outputs(f32({1}, {1.0f}), f32({1}, {next}), exact).passed());
  EXPECT_TRUE(compare_outputs(f32({2}, {1.0f, kNaN}), f32({2}, {1.0f, kNaN}), exact).passed());
}

TEST(Compare, Float64) {
  std::vector<double> e = {1.0, 2.0}, a = {1.0 + 1e-12, 2.0 + 1e-6};
  Comparison result = compare_outputs(tensor_of(DType::kFloat64, {2}, e), tensor_of(DType::kFloat64, {2}, a),
                                      Tolerance{1e-10, 1e-10, 1.0});
  EXPECT_FALSE(result.passed());
  EXPECT_EQ(result.mismatched_count, 1);
  EXPECT_EQ(result.worst_index, 1);
}

TEST(Compare, EmptyTensorPasses) {
  Comparison result = compare_outputs(f32({0, 3}, {}), f32({0, 3}, {}), kFp32Elementwise);
  EXPECT_TRUE(result.passed());
  EXPECT_EQ(result.element_count, 0);
  EXPECT_EQ(result.worst_index, -1);
}

TEST(Compare, Strings) {
  TensorData e, a;
  e.dtype = a.dtype = DType::kString;
  e.dims = a.dims = {2};
  e.strings = {"cat", "dog"};
  a.strings = {"cat", "cow"};
  Comparison result = compare_outputs(e, a, Tolerance{});
  EXPECT_FALSE(result.passed());
  EXPECT_EQ(result.worst_position, "[1]");
  EXPECT_NE(result.summary.find("\"dog\""), std::string::npos);
  EXPECT_TRUE(compare_outputs(e, e, Tolerance{}).passed());
}

TEST(Compare, PositionString) {
  EXPECT_EQ(position_string({2, 3, 4}, 0), "[0, 0, 0]");
  EXPECT_EQ(position_string({2, 3, 4}, 23), "[1, 2, 3]");
  EXPECT_EQ(position_string({5}, 4), "[4]");
  EXPECT_EQ(position_string({}, 0), "[]");
}

TEST(BitwiseEqual, RequiresSameBits) {
  TensorData a = f32({3}, {1, kNaN, -0.0f});
  EXPECT_TRUE(bitwise_equal(a, f32({3}, {1, kNaN, -0.0f})));
  EXPECT_FALSE(bitwise_equal(a, f32({3}, {1, kNaN, 0.0f})));  // -0 vs +0: equal values, different bits
  EXPECT_FALSE(bitwise_equal(a, f32({1, 3}, {1, kNaN, -0.0f})));
  EXPECT_FALSE(bitwise_equal(a, f32({3}, {1, kNaN, std::nextafter(-0.0f, -1.0f)})));
  TensorData b = a;
  b.dtype = DType::kInt32;
  EXPECT_FALSE(bitwise_equal(a, b));
}

}  // namespace
}  // namespace ak::verifier
