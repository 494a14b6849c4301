#include "verifier/gate_inputs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <gtest/gtest.h>

#include "verifier/compare.h"

namespace ak::verifier {
namespace {

using models::DType;
using models::TensorData;

TensorData make(const InputSpec& spec, Fill fill, uint64_t seed) {
  Result<TensorData> tensor = make_input(spec, fill, seed);
  EXPECT_TRUE(tensor.is_ok()) << tensor.status().message();
  return tensor.is_ok() ? tensor.value() : TensorData{};
}

/// Every element as double (decoded independently of the code under test: graph.h's decoders).
std::vector<double> values_of(const TensorData& tensor) {
  std::vector<double> values;
  const int64_t n = tensor.numel();
  for (int64_t i = 0; i < n; ++i) {
    const std::byte* p = tensor.bytes.data + static_cast<size_t>(i) * models::dtype_size(tensor.dtype);
    auto read = [p](auto value) {
      std::memcpy(&value, p, sizeof value);
      return value;
    };
    switch (tensor.dtype) {
      case DType::kFloat32: values.push_back(read(float{})); break;
      case DType::kFloat64: values.push_back(read(double{})); break;
      case DType::kFloat16: values.push_back(models::half_to_float(read(uint16_t{}))); break;
      case DType::kBFloat16: values.push_back(models::bfloat16_to_float(read(uint16_t{}))); break;
      case DType::kInt8: values.push_back(read(int8_t{})); break;
      case DType::kUInt8: values.push_back(read(uint8_t{})); break;
      case DType::kBool: values.push_back(read(uint8_t{})); break;
      case DType::kInt16: values.push_back(read(int16_t{})); break;
      case DType::kUInt16: values.push_back(read(uint16_t{})); break;
      case DType::kInt32: values.push_back(read(int32_t{})); break;
      case DType::kUInt32: values.push_back(read(uint32_t{})); break;
      case DType::kInt64: values.push_back(static_cast<double>(read(int64_t{}))); break;
      case DType::kUInt64: values.push_back(static_cast<double>(read(uint64_t{}))); break;
      default: ADD_FAILURE() << "unexpected dtype";
    }
  }
  return values;
}

const DType kAllDtypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                            DType::kInt8,    DType::kUInt8,   DType::kInt16,   DType::kUInt16,
                            DType::kInt32,   DType::kUInt32,  DType::kInt64,   DType::kUInt64,
                            DType::kBool};

TEST(MakeInput, DtypesShapesAndSizes) {
  for (DType dtype : kAllDtypes) {
    for (Fill fill : all_fills()) {
      InputSpec spec{"x", dtype, {3, 5, 7}, std::nullopt};
      TensorData tensor = make(spec, fill, 1);
      EXPECT_EQ(tensor.name, "x");
      EXPECT_EQ(tensor.dtype, dtype);
      EXPECT_EQ(tensor.dims, (std::vector<int64_t>{3, 5, 7}));
      EXPECT_EQ(tensor.bytes.size_bytes, 105 * models::dtype_size(dtype)) << models::dtype_name(dtype);
    }
  }
  TensorData scalar = make({"s", DType::kFloat32, {}, std::nullopt}, Fill::kRandomNormal, 1);
  EXPECT_EQ(scalar.bytes.size_bytes, 4u);
  TensorData empty = make({"e", DType::kFloat32, {0, 4}, std::nullopt}, Fill::kRandomNormal, 1);
  EXPECT_EQ(empty.bytes.size_bytes, 0u);
}

TEST(MakeInput, DeterministicPerSeedAndDifferentAcrossSeedsAndNames) {
  for (DType dtype : kAllDtypes) {
    for (Fill fill : {Fill::kRandomNormal, Fill::kLarge, Fill::kMixedScales}) {
      InputSpec spec{"x", dtype, {64, 33}, std::nullopt};
      TensorData a = make(spec, fill, 42), again = make(spec, fill, 42), other = make(spec, fill, 43);
      EXPECT_TRUE(bitwise_equal(a, again)) << models::dtype_name(dtype) << " " << fill_name(fill);
      EXPECT_FALSE(bitwise_equal(a, other)) << models::dtype_name(dtype) << " " << fill_name(fill);
      InputSpec renamed = spec;
      renamed.name = "y";
      TensorData y = make(renamed, fill, 42);
      y.name = "x";
      EXPECT_FALSE(bitwise_equal(a, y)) << "inputs x and y of one seed must differ";
    }
  }
}

TEST(MakeInput, RandomNormalFloat32HasUnitMoments) {
  std::vector<double> values = values_of(make({"x", DType::kFloat32, {100000}, std::nullopt}, Fill::kRandomNormal, 3));
  double sum = 0, sum_squares = 0;
  for (double v : values) {
    sum += v;
    sum_squares += v * v;
  }
  const double mean = sum / static_cast<double>(values.size());
  const double variance = sum_squares / static_cast<double>(values.size()) - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(variance, 1.0, 0.03);
  const auto beyond_3_sigma = std::count_if(values.begin(), values.end(), [](double v) { return std::fabs(v) > 3; });
  EXPECT_NEAR(static_cast<double>(beyond_3_sigma) / 100000.0, 0.0027, 0.001);
}

TEST(MakeInput, LargeFloat16StaysFiniteAndSquaresToo) {
  std::vector<double> values = values_of(make({"x", DType::kFloat16, {4096}, std::nullopt}, Fill::kLarge, 5));
  bool saw_negative = false;
  for (double v : values) {
    ASSERT_TRUE(std::isfinite(v));
    EXPECT_GE(std::fabs(v), 50.0);
    EXPECT_LE(std::fabs(v), 100.0);
    EXPECT_LT(v * v, 65504.0) << "x*x would overflow float16";
    saw_negative = saw_negative || v < 0;
  }
  EXPECT_TRUE(saw_negative);
  // Large enough that exp(x) overflows float16 (exp(11.1) = 65504): a naive softmax fails.
  EXPECT_GT(*std::max_element(values.begin(), values.end()), 11.1);
}

TEST(MakeInput, LargeAndTinyRangesPerDtype) {
  for (DType dtype : {DType::kFloat32, DType::kBFloat16, DType::kFloat64}) {
    for (double v : values_of(make({"x", dtype, {1000}, std::nullopt}, Fill::kLarge, 5))) {
      EXPECT_GE(std::fabs(v), 5e3 * 0.99);
      EXPECT_LE(std::fabs(v), 1e4 * 1.01);
    }
    for (double v : values_of(make({"x", dtype, {1000}, std::nullopt}, Fill::kTiny, 5))) {
      EXPECT_GE(std::fabs(v), 1e-6 * 0.99);
      EXPECT_LE(std::fabs(v), 4e-6 * 1.01);
    }
  }
  for (double v : values_of(make({"x", DType::kFloat16, {1000}, std::nullopt}, Fill::kTiny, 5))) {
    EXPECT_GE(std::fabs(v), 6.1e-5) << "float16 tiny values must stay normal";
    EXPECT_LE(std::fabs(v), 4.01e-4);
  }
}

TEST(MakeInput, ZerosConstantAndMixedScales) {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64, DType::kInt32}) {
    std::vector<double> zeros = values_of(make({"x", dtype, {257}, std::nullopt}, Fill::kZeros, 9));
    EXPECT_TRUE(std::all_of(zeros.begin(), zeros.end(), [](double v) { return v == 0; }));
    std::vector<double> constant = values_of(make({"x", dtype, {257}, std::nullopt}, Fill::kConstant, 9));
    EXPECT_NE(constant[0], 0);
    EXPECT_TRUE(std::all_of(constant.begin(), constant.end(), [&](double v) { return v == constant[0]; }));
  }
  std::vector<double> mixed = values_of(make({"x", DType::kFloat32, {10000}, std::nullopt}, Fill::kMixedScales, 9));
  double smallest = INFINITY, largest = 0;
  for (double v : mixed) {
    smallest = std::min(smallest, std::fabs(v));
    largest = std::max(largest, std::fabs(v));
  }
  EXPECT_GE(smallest, 1e-4 * 0.99);
  EXPECT_LE(largest, 1e4 * 1.01);
  EXPECT_GT(largest / smallest, 1e7) << "mixed scales must span many decades";
}

TEST(MakeInput, IntegerBoundsAreRespectedForEveryFill) {
  for (DType dtype : {DType::kInt64, DType::kInt32, DType::kUInt8, DType::kInt8}) {
    for (Fill fill : all_fills()) {
      InputSpec spec{"indices", dtype, {5000}, int64_t{50}};
      std::vector<double> values = values_of(make(spec, fill, 11));
      for (double v : values) {
        ASSERT_GE(v, 0) << fill_name(fill);
        ASSERT_LT(v, 50) << fill_name(fill);
      }
      if (fill == Fill::kRandomNormal) {
        std::set<double> distinct(values.begin(), values.end());
        EXPECT_EQ(distinct.size(), 50u) << "uniform over [0, 50) should hit every value";
      }
      if (fill == Fill::kLarge) {
        EXPECT_GE(*std::min_element(values.begin(), values.end()), 47) << "large indices sit at the top";
        EXPECT_EQ(*std::max_element(values.begin(), values.end()), 49);
      }
    }
  }
  std::vector<double> single = values_of(make({"i", DType::kInt64, {100}, int64_t{1}}, Fill::kLarge, 1));
  EXPECT_TRUE(std::all_of(single.begin(), single.end(), [](double v) { return v == 0; }));
}

TEST(MakeInput, FreeIntegersStayInTheirSafeRange) {
  // "large" integers: products of two still fit the type.
  std::vector<double> i8 = values_of(make({"x", DType::kInt8, {1000}, std::nullopt}, Fill::kLarge, 2));
  for (double v : i8) {
    EXPECT_GE(std::fabs(v), 4);
    EXPECT_LE(std::fabs(v), 8);
  }
  std::vector<double> i32 = values_of(make({"x", DType::kInt32, {1000}, std::nullopt}, Fill::kLarge, 2));
  for (double v : i32) {
    EXPECT_GE(std::fabs(v), 16384);
    EXPECT_LE(std::fabs(v), 32768);
  }
  EXPECT_TRUE(std::any_of(i32.begin(), i32.end(), [](double v) { return v < 0; }));
  std::vector<double> u16 = values_of(make({"x", DType::kUInt16, {1000}, std::nullopt}, Fill::kMixedScales, 2));
  for (double v : u16) EXPECT_LE(v, 256);
  std::vector<double> tiny = values_of(make({"x", DType::kInt64, {1000}, std::nullopt}, Fill::kTiny, 2));
  for (double v : tiny) EXPECT_LE(std::fabs(v), 1);
}

TEST(MakeInput, Bool) {
  std::vector<double> random = values_of(make({"m", DType::kBool, {1000}, std::nullopt}, Fill::kRandomNormal, 4));
  const auto trues = std::count(random.begin(), random.end(), 1.0);
  EXPECT_EQ(std::count(random.begin(), random.end(), 0.0) + trues, 1000);
  EXPECT_GT(trues, 400);
  EXPECT_LT(trues, 600);
  std::vector<double> constant = values_of(make({"m", DType::kBool, {10}, std::nullopt}, Fill::kConstant, 4));
  EXPECT_EQ(std::count(constant.begin(), constant.end(), 1.0), 10);
}

TEST(MakeInput, RejectsWhatItCannotMake) {
  EXPECT_FALSE(make_input({"s", DType::kString, {2}, std::nullopt}, Fill::kZeros, 1).is_ok());
  EXPECT_FALSE(make_input({"c", DType::kComplex64, {2}, std::nullopt}, Fill::kZeros, 1).is_ok());
  EXPECT_FALSE(make_input({"x", DType::kFloat32, {2, -1}, std::nullopt}, Fill::kZeros, 1).is_ok());
  Result<TensorData> bad_bound = make_input({"i", DType::kInt64, {2}, int64_t{0}}, Fill::kZeros, 1);
  ASSERT_FALSE(bad_bound.is_ok());
  EXPECT_NE(bad_bound.status().message().find("'i'"), std::string::npos);
}

TEST(HalfConversion, KnownValuesAndRounding) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(0.1f), 0x2E66);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // halfway to 65536 rounds to even: Inf
  EXPECT_EQ(float_to_half(-1e6f), 0xFC00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // halfway, rounds to even 0
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);       // halfway: even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);   // halfway: even
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  uint16_t nan = float_to_half(NAN);
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
}

TEST(HalfConversion, RoundTripsEveryHalf) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    if ((h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0) continue;  // NaN payloads need not round-trip
    ASSERT_EQ(float_to_half(models::half_to_float(h)), h) << std::hex << bits;
  }
}

TEST(BFloat16Conversion, RoundTripsAndRounds) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t b = static_cast<uint16_t>(bits);
    if ((b & 0x7F80) == 0x7F80 && (b & 0x007F) != 0) continue;
    ASSERT_EQ(float_to_bfloat16(models::bfloat16_to_float(b)), b) << std::hex << bits;
  }
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);       // halfway: even
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);   // halfway: even
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -7) * 0.75f), 0x3F81);
  uint16_t nan = float_to_bfloat16(NAN);
  EXPECT_TRUE(std::isnan(models::bfloat16_to_float(nan)));
}

TEST(SweepShapes, ProposesHalvedDoubledOddAndOne) {
  std::vector<std::vector<int64_t>> shapes = sweep_shapes({8, 64, 3}, {true, true, false});
  std::set<std::vector<int64_t>> unique(shapes.begin(), shapes.end());
  EXPECT_EQ(unique.size(), shapes.size()) << "duplicates";
  EXPECT_EQ(unique.count({8, 64, 3}), 0u) << "the original shape is not a new size";
  for (const std::vector<int64_t>& expected : std::vector<std::vector<int64_t>>{
           {4, 32, 3}, {16, 128, 3}, {7, 63, 3}, {9, 65, 3}, {7, 7, 3}, {97, 97, 3}, {1, 1, 3},
           {7, 64, 3}, {9, 64, 3}, {8, 63, 3}, {8, 65, 3}}) {
    EXPECT_EQ(unique.count(expected), 1u) << models::shape_string(expected);
  }
  bool saw_odd = false;
  for (const std::vector<int64_t>& shape : shapes) {
    ASSERT_EQ(shape.size(), 3u);
    EXPECT_EQ(shape[2], 3) << "a const axis never changes";
    EXPECT_GE(shape[0], 1);
    EXPECT_GE(shape[1], 1);
    saw_odd = saw_odd || shape[0] % 2 == 1 || shape[1] % 2 == 1;
  }
  EXPECT_TRUE(saw_odd);
  EXPECT_EQ(shapes, sweep_shapes({8, 64, 3}, {true, true, false})) << "deterministic";
}

TEST(SweepShapes, EdgeCases) {
  EXPECT_TRUE(sweep_shapes({8, 64}, {false, false}).empty());
  EXPECT_TRUE(sweep_shapes({8, 64}, {}).empty());
  // Size 1: halving and n-1 would give 0 and are dropped; 1 is the original.
  std::vector<std::vector<int64_t>> from_one = sweep_shapes({1, 5}, {true, false});
  for (const auto& shape : from_one) EXPECT_GE(shape[0], 1);
  EXPECT_EQ(std::count(from_one.begin(), from_one.end(), std::vector<int64_t>{2, 5}), 1);
  // Doubling is capped, and proposals above max_numel are dropped.
  SweepOptions options;
  options.max_axis_size = 100;
  options.max_numel = 1000;
  std::vector<std::vector<int64_t>> capped = sweep_shapes({64, 10}, {true, false}, options);
  EXPECT_EQ(std::count(capped.begin(), capped.end(), std::vector<int64_t>{100, 10}), 1);
  EXPECT_EQ(std::count(capped.begin(), capped.end(), std::vector<int64_t>{128, 10}), 0);
  for (const auto& shape : capped) EXPECT_LE(shape[0] * shape[1], 1000);
}

TEST(Checksum, DetectsAnyChange) {
  InputSpec spec{"x", DType::kFloat32, {16, 16}, std::nullopt};
  TensorData a = make(spec, Fill::kRandomNormal, 1);
  const std::string sum = checksum(a);
  EXPECT_EQ(sum.size(), 64u);
  EXPECT_EQ(sum, checksum(make(spec, Fill::kRandomNormal, 1)));

  std::vector<std::byte> bytes(a.bytes.data, a.bytes.data + a.bytes.size_bytes);
  bytes[100] ^= std::byte{1};
  TensorData mutated = a;
  mutated.bytes = models::Buffer::copy_of(bytes.data(), bytes.size());
  EXPECT_NE(checksum(mutated), sum);

  TensorData reshaped = a;
  reshaped.dims = {256};
  EXPECT_NE(checksum(reshaped), sum);
  TensorData renamed = a;
  renamed.name = "other";
  EXPECT_EQ(checksum(renamed), sum);
}

}  // namespace
}  // namespace ak::verifier
