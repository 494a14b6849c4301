#include "kernels/tensor.h"

#include <vector>

#include <gtest/gtest.h>

namespace ak::kernels {
namespace {

TEST(Tensor, ContiguousStridesAreRowMajorInElements) {
  float data[24];
  const std::vector<int64_t> shape = {2, 3, 4};
  auto t = make_tensor(data, AK_DTYPE_FLOAT, shape);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->data, data);
  EXPECT_EQ(t->dtype, AK_DTYPE_FLOAT);
  EXPECT_EQ(t->rank, 3);
  EXPECT_EQ(t->shape[0], 2);
  EXPECT_EQ(t->shape[2], 4);
  EXPECT_EQ(t->strides[0], 12);
  EXPECT_EQ(t->strides[1], 4);
  EXPECT_EQ(t->strides[2], 1);
  EXPECT_EQ(element_count(*t), 24);
  EXPECT_TRUE(is_contiguous(*t));
  EXPECT_EQ(describe(*t), "float32[2x3x4] strides [12,4,1]");
}

TEST(Tensor, ScalarHasOneElement) {
  double x = 1;
  auto t = make_tensor(&x, AK_DTYPE_DOUBLE, {});
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->rank, 0);
  EXPECT_EQ(element_count(*t), 1);
  EXPECT_TRUE(is_contiguous(*t));
}

TEST(Tensor, GivenStridesAreKeptAndTransposeIsNotContiguous) {
  const std::vector<int64_t> shape = {3, 2}, strides = {1, 3};
  auto t = make_tensor(nullptr, AK_DTYPE_FLOAT16, shape, strides);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->strides[0], 1);
  EXPECT_EQ(t->strides[1], 3);
  EXPECT_FALSE(is_contiguous(*t));
  // Size-1 dims may carry any stride; an empty tensor is contiguous.
  const std::vector<int64_t> shape1 = {4, 1}, strides1 = {1, 99};
  EXPECT_TRUE(is_contiguous(*make_tensor(nullptr, AK_DTYPE_FLOAT, shape1, strides1)));
  const std::vector<int64_t> empty = {0, 5}, odd = {7, 7};
  EXPECT_TRUE(is_contiguous(*make_tensor(nullptr, AK_DTYPE_FLOAT, empty, odd)));
}

TEST(Tensor, RejectsBadDescriptors) {
  const std::vector<int64_t> rank9(9, 1);
  auto too_big = make_tensor(nullptr, AK_DTYPE_FLOAT, rank9);
  ASSERT_FALSE(too_big.is_ok());
  EXPECT_NE(too_big.status().message().find("AK_MAX_RANK"), std::string::npos) << too_big.status().message();

  const std::vector<int64_t> negative = {2, -1};
  EXPECT_FALSE(make_tensor(nullptr, AK_DTYPE_FLOAT, negative).is_ok());

  const std::vector<int64_t> shape = {2, 2}, strides = {1};
  EXPECT_FALSE(make_tensor(nullptr, AK_DTYPE_FLOAT, shape, strides).is_ok());

  auto unknown = make_tensor(nullptr, 42, shape);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("dtype(42)"), std::string::npos) << unknown.status().message();
}

TEST(Tensor, DtypeSizesAndNames) {
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_FLOAT), 4);
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_FLOAT16), 2);
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_BFLOAT16), 2);
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_INT64), 8);
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_BOOL), 1);
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_COMPLEX128), 16);
  EXPECT_EQ(dtype_size_bytes(AK_DTYPE_STRING), 0);
  EXPECT_EQ(dtype_size_bytes(99), 0);
  EXPECT_EQ(dtype_name(AK_DTYPE_BFLOAT16), "bfloat16");
  EXPECT_EQ(dtype_name(AK_DTYPE_DOUBLE), "float64");
  EXPECT_EQ(dtype_name(-3), "dtype(-3)");
}

}  // namespace
}  // namespace ak::kernels
