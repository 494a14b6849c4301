#include "verifier/tolerance.h"

#include <gtest/gtest.h>

namespace ak::verifier {
namespace {

using models::DType;

const char* const kClasses[] = {"matmul",        "conv",          "attention", "elementwise", "reduction",
                                "normalization", "data_movement", "other",     "no-such-class"};

TEST(Tolerance, IntegersAndBoolAreExactForEveryClass) {
  for (DType dtype : {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kUInt16, DType::kInt32, DType::kUInt32,
                      DType::kInt64, DType::kUInt64, DType::kBool}) {
    for (const char* op_class : kClasses) {
      EXPECT_TRUE(default_tolerance(dtype, op_class).is_exact()) << models::dtype_name(dtype) << " " << op_class;
    }
  }
}

TEST(Tolerance, DataMovementIsExactForFloatsToo) {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64}) {
    EXPECT_TRUE(default_tolerance(dtype, "data_movement").is_exact()) << models::dtype_name(dtype);
  }
}

TEST(Tolerance, DocumentedValues) {
  Tolerance fp32_elementwise = default_tolerance(DType::kFloat32, "elementwise");
  EXPECT_DOUBLE_EQ(fp32_elementwise.atol, 1e-5);
  EXPECT_DOUBLE_EQ(fp32_elementwise.rtol, 1e-5);
  EXPECT_DOUBLE_EQ(fp32_elementwise.min_matched_ratio, 1.0);

  Tolerance fp32_matmul = default_tolerance(DType::kFloat32, "matmul");
  EXPECT_DOUBLE_EQ(fp32_matmul.atol, 1e-4);
  EXPECT_DOUBLE_EQ(fp32_matmul.rtol, 1e-4);
  EXPECT_DOUBLE_EQ(fp32_matmul.min_matched_ratio, 0.9999);

  Tolerance fp16_elementwise = default_tolerance(DType::kFloat16, "elementwise");
  EXPECT_DOUBLE_EQ(fp16_elementwise.atol, 1e-3);
  EXPECT_DOUBLE_EQ(fp16_elementwise.rtol, 1e-3);

  Tolerance fp16_reduction = default_tolerance(DType::kFloat16, "reduction");
  EXPECT_DOUBLE_EQ(fp16_reduction.atol, 1e-2);
  EXPECT_DOUBLE_EQ(fp16_reduction.min_matched_ratio, 0.999);

  Tolerance bf16_attention = default_tolerance(DType::kBFloat16, "attention");
  EXPECT_DOUBLE_EQ(bf16_attention.atol, 2e-2);
  EXPECT_DOUBLE_EQ(bf16_attention.rtol, 2e-2);
}

TEST(Tolerance, LowerPrecisionIsNeverStricter) {
  for (const char* op_class : kClasses) {
    Tolerance f64 = default_tolerance(DType::kFloat64, op_class);
    Tolerance f32 = default_tolerance(DType::kFloat32, op_class);
    Tolerance f16 = default_tolerance(DType::kFloat16, op_class);
    Tolerance bf16 = default_tolerance(DType::kBFloat16, op_class);
    EXPECT_LE(f64.rtol, f32.rtol) << op_class;
    EXPECT_LE(f32.rtol, f16.rtol) << op_class;
    EXPECT_LE(f16.rtol, bf16.rtol) << op_class;
    EXPECT_LE(f32.atol, f16.atol) << op_class;
    EXPECT_GE(f32.min_matched_ratio, f16.min_matched_ratio) << op_class;
  }
  // Accumulating classes are never stricter than elementwise.
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64}) {
    Tolerance elementwise = default_tolerance(dtype, "elementwise");
    for (const char* op_class : {"matmul", "conv", "attention", "reduction", "normalization", "other"}) {
      EXPECT_GE(default_tolerance(dtype, op_class).rtol, elementwise.rtol);
    }
  }
}

TEST(Tolerance, UnknownClassIsOther) {
  Tolerance unknown = default_tolerance(DType::kFloat16, "no-such-class");
  Tolerance other = default_tolerance(DType::kFloat16, "other");
  EXPECT_EQ(unknown.atol, other.atol);
  EXPECT_EQ(unknown.rtol, other.rtol);
  EXPECT_EQ(unknown.min_matched_ratio, other.min_matched_ratio);
}

TEST(Tolerance, Describe) {
  EXPECT_EQ(default_tolerance(DType::kFloat32, "elementwise").describe(), "atol 1e-05 rtol 1e-05");
  EXPECT_EQ(default_tolerance(DType::kFloat16, "matmul").describe(), "atol 0.01 rtol 0.01 matched >= 0.999");
}

}  // namespace
}  // namespace ak::verifier
