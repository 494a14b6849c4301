// Built-in kernel templates: the generated starters build with g++ (and nvcc, compile only),
// and on the CPU they compute what ONNX specifies, checked against straightforward
// double-precision references written here.
#include "kernels/templates.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numbers>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "kernels/build.h"
#include "kernels/kernel_library.h"
#include "kernels/op_traits.h"
#include "kernels/tensor.h"
#include "models/onnx_io.h"
#include "scratch.h"
#include "template_checks.h"

namespace ak::kernels {
namespace {

using namespace ak::kernels::testing;

// The CPU fixture: g++ builds into a private cache, then dlopen.
class TemplatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto backend = make_gxx_backend(BuildOptions{});
    if (backend.is_ok()) gxx_ = std::move(backend).value();
    else gxx_error_ = backend.status().message();
  }
  static void TearDownTestSuite() { gxx_.reset(); }
  void SetUp() override { ASSERT_TRUE(gxx_) << "g++ backend: " << gxx_error_; }

  /// Writes the generated `source` as <name>.cpp, builds and loads it; nullopt, with the
  /// failure recorded, when generation, compilation or loading fails.
  std::optional<KernelLibrary> build(const Result<std::string>& source, const std::string& name) {
    if (!source.is_ok()) {
      ADD_FAILURE() << name << ": generation failed: " << source.status().message();
      return std::nullopt;
    }
    BuildOptions options;
    options.cache_dir = dir_ / "cache";
    return build_and_load(*source, dir_ / (name + ".cpp"), *gxx_, options);
  }

  static std::unique_ptr<BuildBackend> gxx_;
  static std::string gxx_error_;
  testing::ScratchDir dir_;
};

std::unique_ptr<BuildBackend> TemplatesTest::gxx_;
std::string TemplatesTest::gxx_error_;

// ---------------------------------------------------------------------------------------
// Elementwise on the CPU

TEST_F(TemplatesTest, EveryElementwiseOpMatchesTheOnnxDefinitionFloat32) {
  // Attributes other than the defaults where the op has them, to see them reach the code.
  const std::map<std::string, std::map<std::string, double>> attributes = {
      {"LeakyRelu", {{"alpha", 0.2}}}, {"HardSigmoid", {{"alpha", 0.3}, {"beta", 0.4}}},
      {"Clip", {{"min", -1.0}, {"max", 1.5}}}, {"Elu", {{"alpha", 0.5}}}};
  for (const std::string& op : supported_elementwise_ops()) {
    SCOPED_TRACE(op);
    const bool binary = op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" || op == "Max" ||
                        op == "Min";
    ElementwiseChain chain;
    chain.num_inputs = binary ? 2 : 1;
    chain.dtype = kF32;
    auto it = attributes.find(op);
    chain.steps = {step(op, binary ? std::vector<Operand>{input(0), input(1)} : std::vector<Operand>{input(0)},
                        it == attributes.end() ? std::map<std::string, double>{} : it->second)};
    auto library = build(elementwise_chain_source(chain, Target::kCpu), "op_" + op);
    if (!library) continue;

    // Binary ops broadcast x1 [3, 1] against x0 [2, 3, 4]; unary ops take the flat path.
    HostTensor x0 = random_tensor(kF32, {2, 3, 4}, 1);
    HostTensor x1 = random_tensor(kF32, {3, 1}, 2);
    HostTensor y(kF32, {2, 3, 4});
    std::vector<ak_tensor> ins = {x0.view()};
    std::vector<InputView> views = {{&x0, x0.shape, contiguous_strides(x0.shape)}};
    if (binary) {
      ins.push_back(x1.view());
      views.push_back({&x1, x1.shape, contiguous_strides(x1.shape)});
    }
    ASSERT_EQ(call(*library, ins, {y.view()}), 0);
    expect_close(y.values(), reference_chain(chain, views, y.shape), tolerance(kF32), op);
  }
}

TEST_F(TemplatesTest, RoundIsHalfToEvenAndSignKeepsZero) {
  ElementwiseChain chain;
  chain.num_inputs = 1;
  chain.steps = {step("Round", {input(0)}), step("Sign", {input(0)}), step("Mul", {prev(0), prev(1)})};
  auto library = build(elementwise_chain_source(chain, Target::kCpu), "round_sign");
  ASSERT_TRUE(library);
  const std::vector<double> x_values = {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.0, 3.7, -3.2};
  const std::vector<double> want = {0, 2, 2, 0, 2, 2, 0, 4, 3};  // round(x) * sign(x)
  HostTensor x(kF32, {static_cast<int64_t>(x_values.size())});
  for (size_t i = 0; i < x_values.size(); ++i) x.set(static_cast<int64_t>(i), x_values[i]);
  HostTensor y(kF32, x.shape);
  ASSERT_EQ(call(*library, {x.view()}, {y.view()}), 0);
  expect_close(y.values(), want, {0, 0}, "round(x) * sign(x)");
}

TEST_F(TemplatesTest, BroadcastChainsMatchTheReferenceInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    SCOPED_TRACE("dtype " + dtype_name(dtype));
    const ElementwiseChain chain = mixed_chain(dtype);
    auto library = build(elementwise_chain_source(chain, Target::kCpu), "chain_" + dtype_name(dtype));
    if (!library) continue;
    for (const ChainCase& c : kChainCases) check_chain(*library, chain, c.x0, c.x1, c.y);
  }
}

TEST_F(TemplatesTest, ElementwiseReadsInputsThroughTheirStrides) {
  const ElementwiseChain chain = mixed_chain(kF32);
  auto library = build(elementwise_chain_source(chain, Target::kCpu), "strided");
  ASSERT_TRUE(library);
  // x0 is the transpose of a contiguous [8, 4] buffer: shape [4, 8], strides [1, 4].
  HostTensor x0 = random_tensor(kF32, {8, 4}, 5);
  HostTensor x1 = random_tensor(kF32, {4, 8}, 6);
  HostTensor y(kF32, {4, 8});
  ASSERT_EQ(call(*library, {x0.view({4, 8}, {1, 4}), x1.view()}, {y.view()}), 0);
  const std::vector<InputView> views = {{&x0, {4, 8}, {1, 4}}, {&x1, x1.shape, contiguous_strides(x1.shape)}};
  expect_close(y.values(), reference_chain(chain, views, y.shape), tolerance(kF32), "transposed x0");
}

TEST_F(TemplatesTest, ScalarOutputsWork) {
  ElementwiseChain chain;
  chain.num_inputs = 2;
  chain.steps = {step("Div", {input(0), input(1)}), step("Sqrt", {prev(0)})};
  auto library = build(elementwise_chain_source(chain, Target::kCpu), "scalar");
  ASSERT_TRUE(library);
  HostTensor a(kF32, {}), b(kF32, {}), y(kF32, {});
  a.set(0, 9);
  b.set(0, 4);
  ASSERT_EQ(call(*library, {a.view(), b.view()}, {y.view()}), 0);
  EXPECT_EQ(y.get(0), 1.5);
}

TEST_F(TemplatesTest, SixteenBitStoresRoundToNearestEven) {
  // x * c with few significant bits is exact in float32, so the kernel's one rounding on
  // store must give exactly the bits of the independently rounded product: ties, subnormals
  // and overflow to inf included.
  for (int32_t dtype : {kF16, kBF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const double c = dtype == kF16 ? 1 + std::ldexp(1, -10) : 1 + std::ldexp(1, -7);
    ElementwiseChain chain;
    chain.num_inputs = 1;
    chain.dtype = dtype;
    chain.steps = {step("Mul", {input(0), constant(c)})};
    auto library = build(elementwise_chain_source(chain, Target::kCpu), "round_" + dtype_name(dtype));
    if (!library) continue;
    HostTensor x(dtype, {4096});
    std::mt19937 rng(7);
    for (int64_t i = 0; i < x.numel(); ++i) {
      // Every bit pattern class: random finite values across the exponent range.
      uint16_t bits = static_cast<uint16_t>(rng());
      const double v = dtype == kF16 ? half_value(bits) : bf16_value(bits);
      x.set(i, std::isfinite(v) ? v : 1.0);
    }
    x.set(0, dtype == kF16 ? 65504 : 3.3895313892515355e38);  // the largest finite value: overflows
    HostTensor y(dtype, x.shape);
    ASSERT_EQ(call(*library, {x.view()}, {y.view()}), 0);
    int bad = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double exact = x.get(i) * c;
      const uint16_t want = dtype == kF16 ? half_bits(exact) : bf16_bits(exact);
      if (y.bits16(i) != want && ++bad <= 5) {
        ADD_FAILURE() << x.get(i) << " * " << c << ": bits " << std::hex << y.bits16(i) << ", want " << want;
      }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_TRUE(std::isinf(y.get(0)));
  }
}

/// Mixed-scale float16 values (10^u, u in [-3, 2], random sign: the judge's adversarial fill),
/// where rounding each node's output and rounding once on store disagree most often.
HostTensor mixed_scale_tensor(int64_t n, uint32_t seed) {
  HostTensor t(kF16, {n});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> exponent(-3, 2);
  for (int64_t i = 0; i < n; ++i) t.set(i, (rng() % 2 ? 1 : -1) * std::pow(10.0, exponent(rng)));
  return t;
}

TEST_F(TemplatesTest, Float16ChainsRoundEveryNodeAsTheModelDoes) {
  // y = (x0 * x1 + x2) * x1: products of float16 values are exact in float32, and a float32
  // sum rounded to float16 is the exact sum rounded (24 >= 2 * 11 + 2 bits), so rounding each
  // step's exact value to float16 is bitwise what the model's nodes compute.
  ElementwiseChain chain;
  chain.num_inputs = 3;
  chain.dtype = kF16;
  chain.steps = {step("Mul", {input(0), input(1)}), step("Add", {prev(0), input(2)}), step("Mul", {prev(1), input(1)})};
  auto library = build(elementwise_chain_source(chain, Target::kCpu), "per_node_f16");
  ASSERT_TRUE(library);
  const int64_t n = 4096;
  HostTensor x0 = mixed_scale_tensor(n, 11), x1 = mixed_scale_tensor(n, 12), x2 = mixed_scale_tensor(n, 13);
  HostTensor y(kF16, {n});
  ASSERT_EQ(call(*library, {x0.view(), x1.view(), x2.view()}, {y.view()}), 0);
  int differs_from_once = 0, bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = x0.get(i), b = x1.get(i), c = x2.get(i);
    const uint16_t per_node = half_bits(half_value(half_bits(half_value(half_bits(a * b)) + c)) * b);
    if (half_bits((a * b + c) * b) != per_node) ++differs_from_once;
    if (y.bits16(i) != per_node && ++bad <= 5)
      ADD_FAILURE() << "element " << i << ": bits " << std::hex << y.bits16(i) << ", want " << per_node;
  }
  EXPECT_EQ(bad, 0);
  // The test can tell the two: one rounding on store would fail it.
  EXPECT_GT(differs_from_once, n / 100);

  // A Cast to float32 mid-chain means "compute in float32 from here": only the Cast back
  // (an Identity step of the storage dtype) rounds, once.
  ElementwiseChain upcast = chain;
  upcast.steps = {step("Identity", {input(0)}), step("Mul", {prev(0), input(1)}), step("Add", {prev(1), input(2)}),
                  step("Mul", {prev(2), input(1)}), step("Identity", {prev(3)})};
  for (size_t i = 0; i < 4; ++i) upcast.steps[i].dtype = kF32;
  upcast.steps[4].dtype = kF16;
  auto up = build(elementwise_chain_source(upcast, Target::kCpu), "upcast_f16");
  ASSERT_TRUE(up);
  ASSERT_EQ(call(*up, {x0.view(), x1.view(), x2.view()}, {y.view()}), 0);
  bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    // float32 arithmetic: the product is exact, the sum rounds to float, then once to float16.
    const float a = static_cast<float>(x0.get(i)), b = static_cast<float>(x1.get(i)), c = static_cast<float>(x2.get(i));
    const uint16_t want = half_bits(static_cast<double>((a * b + c) * b));
    if (y.bits16(i) != want && ++bad <= 5)
      ADD_FAILURE() << "upcast element " << i << ": bits " << std::hex << y.bits16(i) << ", want " << want;
  }
  EXPECT_EQ(bad, 0);
}

TEST(TemplatesGeneration, AStepRoundsOnlyToTheStorageDtypeOrStaysFloat32) {
  ElementwiseChain chain;
  chain.num_inputs = 1;
  chain.dtype = kF16;
  chain.steps = {step("Identity", {input(0)})};
  chain.steps[0].dtype = kBF16;
  auto source = elementwise_chain_source(chain, Target::kCpu);
  ASSERT_FALSE(source.is_ok());
  EXPECT_EQ(source.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(source.status().message().find("step 0 (Identity) rounds to bfloat16"), std::string::npos)
      << source.status().message();
  chain.steps[0].dtype = 7;  // int64
  EXPECT_EQ(elementwise_chain_source(chain, Target::kCpu).status().code(), StatusCode::kUnsupported);
  // float32 storage: a float16 step would round below the storage precision: refused too.
  chain.dtype = kF32;
  chain.steps[0].dtype = kF16;
  EXPECT_EQ(elementwise_chain_source(chain, Target::kCpu).status().code(), StatusCode::kUnsupported);
  // The generated code rounds the float16 steps and names each step's dtype.
  chain.dtype = kF16;
  chain.steps = {step("Sigmoid", {input(0)}), step("Identity", {prev(0)})};
  chain.steps[1].dtype = kF32;
  auto text = elementwise_chain_source(chain, Target::kCuda);
  ASSERT_TRUE(text.is_ok()) << text.status().message();
  EXPECT_NE(text->find("const float s0 = to_float(from_float("), std::string::npos) << *text;
  EXPECT_NE(text->find("s0 = Sigmoid(x0) -> float16"), std::string::npos) << *text;
  EXPECT_NE(text->find("const float s1 = s0;"), std::string::npos) << *text;
}

TEST_F(TemplatesTest, ElementwiseRejectsBadTensorsWithItsCodes) {
  auto library = build(elementwise_chain_source(mixed_chain(kF32), Target::kCpu), "codes");
  ASSERT_TRUE(library);
  HostTensor a(kF32, {4, 1, 8}), b(kF32, {8}), y(kF32, {4, 1, 8});
  HostTensor wrong_dtype(kF16, {8}), seven(kF32, {7}), big_y(kF32, {4, 2, 8}), rank4(kF32, {1, 4, 1, 8});
  EXPECT_EQ(call(*library, {a.view(), b.view()}, {y.view()}), 0);
  EXPECT_EQ(call(*library, {a.view()}, {y.view()}), 1) << "one input instead of two";
  EXPECT_EQ(call(*library, {a.view(), wrong_dtype.view()}, {y.view()}), 2) << "a float16 input";
  EXPECT_EQ(call(*library, {rank4.view(), b.view()}, {y.view()}), 3) << "an input of higher rank than y";
  EXPECT_EQ(call(*library, {a.view(), seven.view()}, {y.view()}), 4) << "[4,1,8] with [7]";
  EXPECT_EQ(call(*library, {a.view(), b.view()}, {big_y.view()}), 4) << "y larger than the broadcast";
}

TEST_F(TemplatesTest, RowwiseOpsMatchTheReferenceInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    for (const RowCase& c : kRowCases) {
      SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype));
      auto library = build(rowwise_source(row_spec(c, dtype), Target::kCpu), std::string(c.name) + "_" + dtype_name(dtype));
      if (!library) continue;
      check_rows(*library, c, dtype, {3, 5, 37});
    }
  }
}

/// The norm cases of kRowCases (LayerNorm with and without bias, RMSNorm with and without
/// scale): the ones the residual form takes.
std::vector<RowCase> norm_cases() {
  std::vector<RowCase> out;
  for (const RowCase& c : kRowCases)
    if (c.kind == RowwiseSpec::Kind::kLayerNorm || c.kind == RowwiseSpec::Kind::kRmsNorm) out.push_back(c);
  return out;
}

TEST_F(TemplatesTest, ResidualNormsWriteTheRoundedSumAndItsNormInEveryDtype) {
  // Odd row lengths, rows of one element and a single row; h written or not; the residual
  // read through a transposed view once per case.
  const std::vector<std::vector<int64_t>> shapes = {{3, 5, 37}, {1, 1}, {4, 1}, {1, 7}, {2, 3, 9}};
  for (int32_t dtype : kFloatDtypes) {
    for (const RowCase& c : norm_cases()) {
      const std::string name = std::string("residual_") + c.name + "_" + dtype_name(dtype);
      SCOPED_TRACE(name);
      const RowwiseSpec spec = residual_spec(c, dtype, false);
      auto library = build(rowwise_source(spec, Target::kCpu), name);
      if (!library) continue;
      for (size_t i = 0; i < shapes.size(); ++i) check_residual_rows(*library, c, spec, shapes[i], i % 2 == 0);
      check_residual_rows(*library, c, spec, {2, 3, 9}, true, /*strided_residual=*/true);
    }
  }
}

TEST_F(TemplatesTest, ResidualNormsRoundBeforeTheScaleAndWriteFloat32WhenAsked) {
  const RowCase& rms = kRowCases[4];  // RMSNorm with a scale
  const RowCase& layer_norm = kRowCases[2];
  for (int32_t dtype : {kF16, kBF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    // dynamo's float16 RMSNorm: the normalized value cast down, then Mul(weight).
    const RowwiseSpec rounded = residual_spec(rms, dtype, true);
    auto library = build(rowwise_source(rounded, Target::kCpu), "residual_rms_round_" + dtype_name(dtype));
    if (library) check_residual_rows(*library, rms, rounded, {3, 5, 37}, true);
    RowwiseSpec wide = residual_spec(layer_norm, dtype, false);
    wide.output_dtype = kF32;
    auto wide_library = build(rowwise_source(wide, Target::kCpu), "residual_ln_f32_" + dtype_name(dtype));
    if (wide_library) check_residual_rows(*wide_library, layer_norm, wide, {3, 5, 37}, true);
  }
}

TEST_F(TemplatesTest, ResidualNormRejectsBadTensorsWithItsCodes) {
  const RowwiseSpec spec = residual_spec(kRowCases[2], kF16, false);
  auto library = build(rowwise_source(spec, Target::kCpu), "residual_codes");
  ASSERT_TRUE(library);
  HostTensor x = random_tensor(kF16, {4, 6, 16}, 41), r = random_tensor(kF16, {4, 6, 16}, 42);
  HostTensor scale = random_tensor(kF16, {16}, 43), bias = random_tensor(kF16, {16}, 44);
  HostTensor y(kF16, x.shape), h(kF16, x.shape);
  HostTensor broadcast_r(kF16, {1, 6, 16}), f32_r(kF32, {4, 6, 16}), f32_y(kF32, x.shape), short_h(kF16, {4, 6, 15});
  EXPECT_EQ(call(*library, {x.view(), r.view(), scale.view(), bias.view()}, {y.view(), h.view()}), 0);
  EXPECT_EQ(call(*library, {x.view(), scale.view(), bias.view()}, {y.view()}), 1) << "residual missing";
  EXPECT_EQ(call(*library, {x.view(), r.view(), scale.view(), bias.view()}, {y.view(), h.view(), h.view()}), 1)
      << "three outputs";
  EXPECT_EQ(call(*library, {x.view(), f32_r.view(), scale.view(), bias.view()}, {y.view()}), 2) << "float32 residual";
  EXPECT_EQ(call(*library, {x.view(), r.view(), scale.view(), bias.view()}, {f32_y.view()}), 2) << "float32 y";
  EXPECT_EQ(call(*library, {x.view(), broadcast_r.view(), scale.view(), bias.view()}, {y.view()}), 4)
      << "a residual that would broadcast";
  EXPECT_EQ(call(*library, {x.view(), r.view(), scale.view(), bias.view()}, {y.view(), short_h.view()}), 4)
      << "h of another shape";

  // Specs outside the template.
  RowwiseSpec softmax{RowwiseSpec::Kind::kSoftmax, kF32, 1e-5, 2};
  softmax.residual = true;
  EXPECT_EQ(rowwise_source(softmax, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  RowwiseSpec too_few = residual_spec(kRowCases[3], kF32, false);
  too_few.num_inputs = 2;  // x, residual: no scale for a LayerNorm
  EXPECT_EQ(rowwise_source(too_few, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  RowwiseSpec no_scale = residual_spec(kRowCases[5], kF16, true);  // RMSNorm without a scale
  EXPECT_EQ(rowwise_source(no_scale, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  RowwiseSpec narrow = residual_spec(kRowCases[2], kF32, false);
  narrow.output_dtype = kF16;
  EXPECT_EQ(rowwise_source(narrow, Target::kCpu).status().code(), StatusCode::kUnsupported);
}

TEST_F(TemplatesTest, LayerNormWritesMeanAndInvStdDevWhenAsked) {
  RowwiseSpec spec;
  spec.kind = RowwiseSpec::Kind::kLayerNorm;
  spec.dtype = kBF16;
  spec.num_inputs = 3;
  auto library = build(rowwise_source(spec, Target::kCpu), "layer_norm_stats");
  ASSERT_TRUE(library);
  HostTensor x = random_tensor(kBF16, {4, 6, 64}, 21, -1, 2);
  HostTensor scale = random_tensor(kBF16, {64}, 22), bias = random_tensor(kBF16, {1, 64}, 23);
  HostTensor y(kBF16, x.shape), mean(kF32, {4, 6, 1}), inv_std(kF32, {4, 6, 1});
  ASSERT_EQ(call(*library, {x.view(), scale.view(), bias.view()}, {y.view(), mean.view(), inv_std.view()}), 0);
  std::vector<double> want_mean, want_inv_std;
  const std::vector<double> want = reference_rows(kRowCases[2], spec.epsilon, x.values(), 64, scale.values(),
                                                  bias.values(), &want_mean, &want_inv_std);
  expect_close(y.values(), want, tolerance(kBF16), "y");
  expect_close(mean.values(), want_mean, tolerance(kF32), "Mean");
  expect_close(inv_std.values(), want_inv_std, tolerance(kF32), "InvStdDev");

  HostTensor short_scale(kBF16, {63}), f16_mean(kF16, {4, 6, 1}), y_other(kBF16, {4, 6, 65});
  EXPECT_EQ(call(*library, {x.view(), scale.view()}, {y.view()}), 1) << "bias missing";
  EXPECT_EQ(call(*library, {x.view(), scale.view(), bias.view()}, {y.view(), f16_mean.view()}), 2) << "float16 Mean";
  EXPECT_EQ(call(*library, {x.view(), short_scale.view(), bias.view()}, {y.view()}), 4) << "63 scales for D = 64";
  EXPECT_EQ(call(*library, {x.view(), scale.view(), bias.view()}, {y_other.view()}), 4) << "y of another shape";
}

TEST_F(TemplatesTest, MatmulMatchesTheReferenceInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    for (bool has_bias : {false, true}) {
      SCOPED_TRACE(dtype_name(dtype) + (has_bias ? " with bias" : ""));
      auto library = build(matmul_source({dtype, has_bias}, Target::kCpu),
                           "matmul_" + dtype_name(dtype) + (has_bias ? "_bias" : ""));
      if (!library) continue;
      for (const MatmulCase& c : kMatmulCases) {
        if (c.bias == has_bias) check_matmul(*library, dtype, c);
      }
    }
  }
}

TEST_F(TemplatesTest, MatmulRejectsBadTensorsWithItsCodes) {
  auto library = build(matmul_source({kF32, true}, Target::kCpu), "matmul_codes");
  ASSERT_TRUE(library);
  HostTensor a(kF32, {2, 3, 4}), b(kF32, {4, 5}), bias(kF32, {5}), y(kF32, {2, 3, 5});
  HostTensor b_bad_k(kF32, {3, 5}), bias_bad(kF32, {4}), y_bad(kF32, {2, 3, 6}), scalar(kF32, {}), b16(kF16, {4, 5});
  EXPECT_EQ(call(*library, {a.view(), b.view(), bias.view()}, {y.view()}), 0);
  EXPECT_EQ(call(*library, {a.view(), b.view()}, {y.view()}), 1) << "bias missing";
  EXPECT_EQ(call(*library, {a.view(), b16.view(), bias.view()}, {y.view()}), 2) << "float16 B";
  EXPECT_EQ(call(*library, {scalar.view(), b.view(), bias.view()}, {y.view()}), 3) << "rank-0 A";
  EXPECT_EQ(call(*library, {a.view(), b_bad_k.view(), bias.view()}, {y.view()}), 4) << "K 4 vs 3";
  EXPECT_EQ(call(*library, {a.view(), b.view(), bias_bad.view()}, {y.view()}), 4) << "4 biases for N = 5";
  EXPECT_EQ(call(*library, {a.view(), b.view(), bias.view()}, {y_bad.view()}), 4) << "Y of another shape";
}

TEST_F(TemplatesTest, GemmMatchesTheReferenceForEveryLayoutAndBroadcast) {
  for (int32_t dtype : kFloatDtypes) {
    for (const GemmCase& g : kGemmCases) {
      if (dtype != kF32 && g.name != "lm_head" && g.name != "trans_a") continue;  // 16-bit: two cases
      SCOPED_TRACE(dtype_name(dtype) + " " + g.name);
      auto library = build(gemm_source(gemm_spec(g, dtype), Target::kCpu), "gemm_" + g.name + "_" + dtype_name(dtype));
      if (library) check_gemm(*library, dtype, g);
    }
  }
}

/// ONNX's own Gemm node tests (Debian's libonnx-testdata): the attributes from model.onnx,
/// inputs and expected output from test_data_set_0.
TEST_F(TemplatesTest, GemmPassesOnnxsBackendTests) {
  const char* env = std::getenv("AK_ONNX_TESTDATA");
  const fs::path node_dir = fs::path(env && *env ? env : "/usr/share/libonnx-testdata/data") / "node";
  if (!fs::is_directory(node_dir)) GTEST_SKIP() << "no ONNX backend test data at " << node_dir;
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(node_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("test_gemm_", 0) != 0) continue;
    SCOPED_TRACE(name);
    auto model = models::load_model(entry.path() / "model.onnx");
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    ASSERT_EQ(model->graph.nodes.size(), 1u);
    const models::Node& node = model->graph.nodes[0];
    ASSERT_EQ(node.op_type, "Gemm");
    GemmSpec spec;
    spec.trans_a = node.attr_int("transA", 0) != 0;
    spec.trans_b = node.attr_int("transB", 0) != 0;
    spec.alpha = node.attr_float("alpha", 1.0f);
    spec.beta = node.attr_float("beta", 1.0f);
    spec.has_c = node.inputs.size() > 2 && !node.inputs[2].empty();
    auto library = build(gemm_source(spec, Target::kCpu), name);
    ASSERT_TRUE(library);
    std::vector<models::TensorData> inputs;
    for (int i = 0; i < (spec.has_c ? 3 : 2); ++i) {
      auto t = models::load_tensor_file(entry.path() / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb"));
      ASSERT_TRUE(t.is_ok()) << t.status().message();
      ASSERT_EQ(t->dtype, models::DType::kFloat32);
      inputs.push_back(std::move(t).value());
    }
    auto expected = models::load_tensor_file(entry.path() / "test_data_set_0" / "output_0.pb");
    ASSERT_TRUE(expected.is_ok()) << expected.status().message();
    std::vector<float> y(static_cast<size_t>(expected->numel()));
    std::vector<ak_tensor> ins;
    for (models::TensorData& t : inputs) {
      auto view = make_tensor(const_cast<void*>(static_cast<const void*>(t.bytes.data)), kF32, t.dims);
      ASSERT_TRUE(view.is_ok()) << view.status().message();
      ins.push_back(*view);
    }
    auto out = make_tensor(y.data(), kF32, expected->dims);
    ASSERT_TRUE(out.is_ok());
    ASSERT_EQ(call(*library, ins, {*out}), 0);
    const float* want = expected->data<float>();
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << i;
    ++checked;
  }
  EXPECT_GE(checked, 11) << "ONNX ships 11 test_gemm_* node tests";
}

TEST_F(TemplatesTest, GemmRejectsBadTensorsWithItsCodes) {
  auto library = build(gemm_source({kF32, false, true, 1.0, 1.0, true}, Target::kCpu), "gemm_codes");
  ASSERT_TRUE(library);
  HostTensor a(kF32, {3, 4}), b(kF32, {5, 4}), c(kF32, {5}), y(kF32, {3, 5});
  HostTensor b_bad_k(kF32, {5, 3}), c_bad(kF32, {2, 5}), c_rank3(kF32, {1, 1, 5}), y_bad(kF32, {5, 3}), a3(kF32, {1, 3, 4}),
      c16(kF16, {5});
  EXPECT_EQ(call(*library, {a.view(), b.view(), c.view()}, {y.view()}), 0);
  EXPECT_EQ(call(*library, {a.view(), b.view()}, {y.view()}), 1) << "C missing";
  EXPECT_EQ(call(*library, {a.view(), b.view(), c16.view()}, {y.view()}), 2) << "float16 C";
  EXPECT_EQ(call(*library, {a3.view(), b.view(), c.view()}, {y.view()}), 3) << "3-D A";
  EXPECT_EQ(call(*library, {a.view(), b.view(), c_rank3.view()}, {y.view()}), 3) << "3-D C";
  EXPECT_EQ(call(*library, {a.view(), b_bad_k.view(), c.view()}, {y.view()}), 4) << "K 4 vs 3";
  EXPECT_EQ(call(*library, {a.view(), b.view(), c_bad.view()}, {y.view()}), 4) << "C rows 2 for M = 3";
  EXPECT_EQ(call(*library, {a.view(), b.view(), c.view()}, {y_bad.view()}), 4) << "Y transposed";
  EXPECT_FALSE(gemm_source({kF32, false, false, NAN, 1.0, false}, Target::kCpu).is_ok());
  EXPECT_EQ(gemm_source({AK_DTYPE_INT64, false, false, 1.0, 1.0, false}, Target::kCpu).status().code(),
            StatusCode::kUnsupported);
}

// ---------------------------------------------------------------------------------------
// The skeleton

TEST_F(TemplatesTest, SkeletonListsTheTaskBuildsAndNeverSucceeds) {
  SkeletonSpec spec{"TopK", {"X: float32 [4, 8]", "K: int64 [1]"}, {"Values: float32 [4, 2]", "Indices: int64 [4, 2]"},
                    "no template covers TopK"};
  const std::string source = skeleton_source(spec, Target::kCpu);
  for (const char* part : {"TopK", "X: float32 [4, 8]", "K: int64 [1]", "Indices: int64 [4, 2]", "autokernel_kernel.h",
                           "Why no template applies: no template covers TopK"}) {
    EXPECT_TRUE(contains(source, part)) << part;
  }
  auto library = build(source, "skeleton");
  ASSERT_TRUE(library);
  HostTensor x(kF32, {4, 8}), v(kF32, {4, 2});
  EXPECT_NE(call(*library, {x.view()}, {v.view()}), 0);
  EXPECT_TRUE(contains(skeleton_source(spec, Target::kCuda), "cudaStream_t"));
}

// ---------------------------------------------------------------------------------------
// Generation errors

TEST(TemplatesGeneration, RejectsWhatItCannotGenerate) {
  ElementwiseChain chain = mixed_chain(kF32);
  EXPECT_TRUE(elementwise_chain_source(chain, Target::kCpu).is_ok());

  ElementwiseChain unknown = chain;
  unknown.steps[1].op = "Cast";
  auto r = elementwise_chain_source(unknown, Target::kCpu);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(r.status().message(), "Cast")) << r.status().message();

  for (int32_t dtype : {AK_DTYPE_INT64, AK_DTYPE_DOUBLE, AK_DTYPE_INT32, AK_DTYPE_BOOL}) {
    ElementwiseChain other = chain;
    other.dtype = dtype;
    EXPECT_EQ(elementwise_chain_source(other, Target::kCuda).status().code(), StatusCode::kUnsupported) << dtype;
    EXPECT_EQ(rowwise_source({RowwiseSpec::Kind::kSoftmax, dtype, 1e-5, 1}, Target::kCpu).status().code(),
              StatusCode::kUnsupported);
    EXPECT_EQ(matmul_source({dtype, false}, Target::kCuda).status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(attention_source({dtype, 1.0, AttentionSpec::Mask::kNone, 0}, Target::kCuda).status().code(),
              StatusCode::kUnsupported);
    EXPECT_EQ(rotary_source({dtype}, Target::kCpu).status().code(), StatusCode::kUnsupported);
  }
  EXPECT_EQ(attention_source({kF32, INFINITY, AttentionSpec::Mask::kNone, 0}, Target::kCpu).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(attention_source({kF32, 1.0, AttentionSpec::Mask::kBoolean, NAN}, Target::kCpu).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(attention_source({kF32, 1.0, AttentionSpec::Mask::kNone, 0}, Target::kCuda, {{"query_block", 16}})
                .status()
                .code(),
            StatusCode::kInvalidInput);  // a CPU parameter on CUDA

  ElementwiseChain bad = chain;
  bad.steps[0].operands[1] = input(2);  // only 2 inputs
  EXPECT_EQ(elementwise_chain_source(bad, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  bad = chain;
  bad.steps[1].operands[0] = prev(1);  // a step reading itself
  EXPECT_EQ(elementwise_chain_source(bad, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  bad = chain;
  bad.steps[0].operands.pop_back();  // Add with one operand
  EXPECT_EQ(elementwise_chain_source(bad, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  bad = chain;
  bad.steps[2].attributes["beta"] = 1;  // LeakyRelu has no beta
  EXPECT_EQ(elementwise_chain_source(bad, Target::kCpu).status().code(), StatusCode::kUnsupported);
  bad = chain;
  bad.steps.clear();
  EXPECT_EQ(elementwise_chain_source(bad, Target::kCpu).status().code(), StatusCode::kInvalidInput);
  bad = chain;
  bad.num_inputs = 0;
  EXPECT_FALSE(elementwise_chain_source(bad, Target::kCpu).is_ok());

  EXPECT_EQ(rowwise_source({RowwiseSpec::Kind::kLayerNorm, kF32, 1e-5, 1}, Target::kCpu).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(rowwise_source({RowwiseSpec::Kind::kSoftmax, kF32, 1e-5, 2}, Target::kCpu).status().code(),
            StatusCode::kInvalidInput);
  EXPECT_EQ(rowwise_source({RowwiseSpec::Kind::kRmsNorm, kF32, -1, 1}, Target::kCpu).status().code(),
            StatusCode::kInvalidInput);
}

TEST(TemplatesGeneration, CudaSourcesFollowTheAbiRules) {
  for (int32_t dtype : kFloatDtypes) {
    const std::string ew = *elementwise_chain_source(mixed_chain(dtype), Target::kCuda);
    const std::string softmax = *rowwise_source({RowwiseSpec::Kind::kSoftmax, dtype, 1e-5, 1}, Target::kCuda);
    const std::string mm = *matmul_source({dtype, true}, Target::kCuda);
    const std::string gemm = *gemm_source({dtype, true, true, 0.5, 2.0, true}, Target::kCuda);
    for (const std::string* source : {&ew, &softmax, &mm, &gemm}) {
      EXPECT_TRUE(contains(*source, "static_cast<cudaStream_t>(stream)"));
      EXPECT_FALSE(contains(*source, "Synchronize"));
      EXPECT_FALSE(contains(*source, "cudaMalloc"));
      EXPECT_TRUE(contains(*source, "cudaGetLastError"));
    }
    EXPECT_TRUE(contains(softmax, "__shfl_xor_sync"));
    EXPECT_TRUE(contains(mm, "cublasGemmStridedBatchedEx"));
    EXPECT_TRUE(contains(mm, "CUBLAS_COMPUTE_32F,"));
    EXPECT_TRUE(contains(mm, "CUBLAS_DEFAULT_MATH"));
    EXPECT_FALSE(contains(mm, "TF32_TENSOR_OP"));
    EXPECT_TRUE(contains(gemm, "cublasGemmEx"));
    EXPECT_TRUE(contains(gemm, "CUBLAS_OP_T"));
    EXPECT_TRUE(contains(gemm, "constexpr float kAlpha = 0.5f;"));
    EXPECT_TRUE(contains(gemm, "constexpr float kBeta = 2.0f;"));
  }
}

// ---------------------------------------------------------------------------------------
// The op-traits table drives the elementwise template

TEST(TemplatesOpTraits, TheTableDrivesTheElementwiseTemplate) {
  EXPECT_EQ(supported_elementwise_ops(), fusable_elementwise_ops());
  EXPECT_EQ(supported_elementwise_ops().size(), 33u);
  for (const std::string& op : supported_elementwise_ops()) {
    SCOPED_TRACE(op);
    const OpTraits* traits = find_op_traits(op);
    ASSERT_TRUE(traits);
    // Every ${name} is one of the op's attributes, every $n one of its operands.
    const std::string_view e = traits->expression;
    for (size_t i = e.find('$'); i != std::string_view::npos; i = e.find('$', i + 1)) {
      if (e[i + 1] == '{') {
        const std::string name(e.substr(i + 2, e.find('}', i) - i - 2));
        EXPECT_TRUE(std::any_of(traits->attributes.begin(), traits->attributes.end(),
                                [&](const OpAttribute& a) { return a.name == name; }))
            << name;
      } else {
        const int index = e[i + 1] - '0';
        EXPECT_LT(index, traits->max_operands < 0 ? 2 : traits->max_operands) << e;
      }
    }
  }
  // Gelu's approximate is 0 (none) or 1 (tanh), nothing else.
  ElementwiseChain gelu;
  gelu.num_inputs = 1;
  gelu.steps = {step("Gelu", {input(0)}, {{"approximate", 0.5}})};
  auto r = elementwise_chain_source(gelu, Target::kCpu);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(contains(r.status().message(), "approximate")) << r.status().message();
}

TEST_F(TemplatesTest, AbsentAttributesTakeOnnxsDefaults) {
  // No attributes at all: the table's defaults must be ONNX's (the reference's).
  for (const char* op : {"LeakyRelu", "Elu", "Selu", "HardSigmoid", "Clip", "Gelu"}) {
    SCOPED_TRACE(op);
    ElementwiseChain chain;
    chain.num_inputs = 1;
    chain.steps = {step(op, {input(0)})};
    auto library = build(elementwise_chain_source(chain, Target::kCpu), std::string("default_") + op);
    if (!library) continue;
    HostTensor x = random_tensor(kF32, {64}, 9, -4, 4);
    HostTensor y(kF32, {64});
    ASSERT_EQ(call(*library, {x.view()}, {y.view()}), 0);
    const std::vector<InputView> views = {{&x, x.shape, contiguous_strides(x.shape)}};
    expect_close(y.values(), reference_chain(chain, views, y.shape), tolerance(kF32), op);
  }
}

// ---------------------------------------------------------------------------------------
// Template parameters

/// Configuration `j` of a template: every parameter at its (j mod count)-th legal value.
/// Configurations 0 .. max count - 1 give each value of each parameter at least once.
TemplateConfig nth_config(TemplateKind kind, Target target, size_t j) {
  TemplateConfig config;
  for (const TemplateParameter& p : template_parameters(kind, target)) config[p.name] = p.values[j % p.values.size()];
  return config;
}

size_t config_count(TemplateKind kind, Target target) {
  size_t n = 1;
  for (const TemplateParameter& p : template_parameters(kind, target)) n = std::max(n, p.values.size());
  return n;
}

constexpr TemplateKind kKinds[] = {TemplateKind::kElementwise, TemplateKind::kRowwise, TemplateKind::kMatmul,
                                   TemplateKind::kGemm, TemplateKind::kAttention};

TEST(TemplatesParameters, EveryTemplateNamesItsParametersWithLegalDefaults) {
  for (TemplateKind kind : kKinds) {
    for (Target target : {Target::kCpu, Target::kCuda}) {
      SCOPED_TRACE(std::string(template_kind_name(kind)) + (target == Target::kCuda ? " CUDA" : " CPU"));
      const std::vector<TemplateParameter>& parameters = template_parameters(kind, target);
      EXPECT_FALSE(parameters.empty());
      std::set<std::string> names;
      for (const TemplateParameter& p : parameters) {
        EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
        EXPECT_EQ(p.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789"), std::string::npos) << p.name;
        EXPECT_FALSE(p.doc.empty()) << p.name;
        ASSERT_FALSE(p.values.empty()) << p.name;
        EXPECT_TRUE(std::is_sorted(p.values.begin(), p.values.end())) << p.name;
        EXPECT_EQ(std::adjacent_find(p.values.begin(), p.values.end()), p.values.end()) << p.name;
        EXPECT_NE(std::find(p.values.begin(), p.values.end(), p.default_value), p.values.end()) << p.name;
      }
      EXPECT_TRUE(validate_template_config(kind, target, {}).is_ok());
    }
  }
  // The cuBLAS algorithm excludes the *_TENSOR_OP values (they allow float16 rounding of
  // float32 operands).
  for (const TemplateParameter& p : template_parameters(TemplateKind::kMatmul, Target::kCuda)) {
    if (p.name == "cublas_algo") {
      EXPECT_LT(p.values.back(), 99);
    }
  }
}

TEST(TemplatesParameters, BadConfigsAreInvalidInputNamingTheParameter) {
  auto expect_rejected = [](const Result<std::string>& r, const std::vector<std::string>& parts) {
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << r.status().message();
    for (const std::string& part : parts) EXPECT_TRUE(contains(r.status().message(), part)) << r.status().message();
  };
  const ElementwiseChain chain = mixed_chain(kF32);
  expect_rejected(elementwise_chain_source(chain, Target::kCpu, {{"threads_per_block", 256}}),
                  {"'threads_per_block'", "unknown", "min_parallel_elements"});  // a CUDA parameter on the CPU
  expect_rejected(elementwise_chain_source(chain, Target::kCuda, {{"threads_per_block", 96}}),
                  {"'threads_per_block'", "96", "1024"});
  expect_rejected(rowwise_source({RowwiseSpec::Kind::kSoftmax, kF32, 1e-5, 1}, Target::kCuda, {{"unroll", 3}}),
                  {"'unroll'", "3"});
  expect_rejected(rowwise_source({RowwiseSpec::Kind::kSoftmax, kF32, 1e-5, 1}, Target::kCpu, {{"Unroll", 2}}),
                  {"'Unroll'"});
  expect_rejected(matmul_source({kF16, false}, Target::kCpu, {{"row_block", 0}}), {"'row_block'", "0"});
  expect_rejected(gemm_source({kF32, false, false, 1.0, 1.0, false}, Target::kCuda, {{"cublas_algo", 99}}),
                  {"'cublas_algo'", "99"});
  EXPECT_EQ(validate_template_config(TemplateKind::kGemm, Target::kCpu, {{"depth_block", 100}}).code(),
            StatusCode::kInvalidInput);
}

TEST(TemplatesParameters, TheSourceNamesItsConfiguration) {
  const std::string defaults = *matmul_source({kF32, true}, Target::kCpu);
  EXPECT_TRUE(contains(defaults, "row_block=32 col_block=128 depth_block=256")) << defaults.substr(0, 2000);
  EXPECT_TRUE(contains(defaults, "constexpr int kRowBlock = 32;"));
  const std::string tuned = *matmul_source({kF32, true}, Target::kCpu, {{"row_block", 8}, {"depth_block", 1024}});
  EXPECT_TRUE(contains(tuned, "row_block=8 col_block=128 depth_block=1024"));
  EXPECT_TRUE(contains(tuned, "constexpr int kRowBlock = 8;"));
  EXPECT_TRUE(contains(tuned, "constexpr int kDepthBlock = 1024;"));
  const std::string rows = *rowwise_source({RowwiseSpec::Kind::kRmsNorm, kF16, 1e-5, 2}, Target::kCuda,
                                           {{"warp_row_max_length", 0}, {"block_row_threads", 128}});
  EXPECT_TRUE(contains(rows, "warp_row_max_length=0 warp_rows_per_block=8 block_row_threads=128 unroll=1"));
  EXPECT_TRUE(contains(rows, "constexpr int kBlockRowThreads = 128;"));
  const std::string gemm = *gemm_source({kF32, false, true, 1.0, 1.0, false}, Target::kCuda, {{"cublas_algo", 5}});
  EXPECT_TRUE(contains(gemm, "constexpr int kCublasAlgo = 5;"));
  // One self-contained file: none of our includes is left, the ABI header comes first.
  for (const std::string* source : {&defaults, &tuned, &rows, &gemm}) {
    EXPECT_FALSE(contains(*source, "#include \"")) << *source;
    EXPECT_FALSE(contains(*source, "#pragma once"));
    EXPECT_LT(source->find("#include <autokernel_kernel.h>"), source->find("#include <math.h>"));
  }
}

TEST_F(TemplatesTest, EveryParameterValueComputesTheReferenceOnTheCpu) {
  // Elementwise: the broadcasting chain.
  for (size_t j = 0; j < config_count(TemplateKind::kElementwise, Target::kCpu); ++j) {
    const TemplateConfig config = nth_config(TemplateKind::kElementwise, Target::kCpu, j);
    const int32_t dtype = kFloatDtypes[j % 3];
    SCOPED_TRACE("elementwise config " + std::to_string(j) + " " + dtype_name(dtype));
    const ElementwiseChain chain = mixed_chain(dtype);
    auto library = build(elementwise_chain_source(chain, Target::kCpu, config), "ew_config_" + std::to_string(j));
    if (!library) continue;
    for (const ChainCase& c : kChainCases) check_chain(*library, chain, c.x0, c.x1, c.y);
  }
  // Row-wise: a different op (and dtype) per configuration; rows long enough to unroll.
  for (size_t j = 0; j < config_count(TemplateKind::kRowwise, Target::kCpu); ++j) {
    const TemplateConfig config = nth_config(TemplateKind::kRowwise, Target::kCpu, j);
    const RowCase& c = kRowCases[j % std::size(kRowCases)];
    const int32_t dtype = kFloatDtypes[j % 3];
    SCOPED_TRACE("rowwise config " + std::to_string(j) + " " + c.name + " " + dtype_name(dtype));
    auto library = build(rowwise_source(row_spec(c, dtype), Target::kCpu, config), "rows_config_" + std::to_string(j));
    if (!library) continue;
    check_rows(*library, c, dtype, {3, 5, 37});
    check_rows(*library, c, dtype, {70, 301});
  }
  // MatMul and Gemm share the blocked loop; the cases span several blocks of every size.
  for (size_t j = 0; j < config_count(TemplateKind::kMatmul, Target::kCpu); ++j) {
    const TemplateConfig config = nth_config(TemplateKind::kMatmul, Target::kCpu, j);
    const int32_t dtype = kFloatDtypes[j % 3];
    const bool has_bias = j % 2 == 0;
    SCOPED_TRACE("matmul config " + std::to_string(j) + " " + dtype_name(dtype));
    auto matmul = build(matmul_source({dtype, has_bias}, Target::kCpu, config), "mm_config_" + std::to_string(j));
    if (matmul) {
      for (const MatmulCase& c : kMatmulCases) {
        if (c.bias == has_bias) check_matmul(*matmul, dtype, c);
      }
    }
    const GemmCase& g = kGemmCases[j % std::size(kGemmCases)];
    auto gemm = build(gemm_source(gemm_spec(g, kF32), Target::kCpu, nth_config(TemplateKind::kGemm, Target::kCpu, j)),
                      "gemm_config_" + std::to_string(j));
    if (gemm) check_gemm(*gemm, kF32, g);
  }
  // Attention: a different mask kind and dtype per configuration, every case (the cases
  // span one to several query and key blocks of every size).
  for (size_t j = 0; j < config_count(TemplateKind::kAttention, Target::kCpu); ++j) {
    const TemplateConfig config = nth_config(TemplateKind::kAttention, Target::kCpu, j);
    const int32_t dtype = kFloatDtypes[j % 3];
    const AttentionSpec spec = attention_specs(dtype)[j % 5];
    SCOPED_TRACE("attention config " + std::to_string(j) + " " + dtype_name(dtype));
    auto library = build(attention_source(spec, Target::kCpu, config), "attention_config_" + std::to_string(j));
    if (!library) continue;
    for (const AttentionCase& c : kAttentionCases) check_attention(*library, spec, c);
  }
  // Rotary takes the elementwise parameters.
  for (size_t j = 0; j < config_count(TemplateKind::kElementwise, Target::kCpu); ++j) {
    const int32_t dtype = kFloatDtypes[j % 3];
    SCOPED_TRACE("rotary config " + std::to_string(j) + " " + dtype_name(dtype));
    auto library = build(rotary_source({dtype}, Target::kCpu, nth_config(TemplateKind::kElementwise, Target::kCpu, j)),
                         "rotary_config_" + std::to_string(j));
    if (!library) continue;
    for (const RotaryCase& c : kRotaryCases) check_rotary(*library, dtype, c);
  }
}

TEST_F(TemplatesTest, AttentionMatchesTheReferenceForEveryMaskAndDtype) {
  for (int32_t dtype : kFloatDtypes) {
    for (const AttentionSpec& spec : attention_specs(dtype)) {
      const std::string name = "attention_" + dtype_name(dtype) + "_mask" + std::to_string(static_cast<int>(spec.mask));
      SCOPED_TRACE(name);
      auto library = build(attention_source(spec, Target::kCpu), name);
      if (!library) continue;
      for (const AttentionCase& c : kAttentionCases) check_attention(*library, spec, c);
    }
  }
}

TEST_F(TemplatesTest, AttentionRowsMaskedEntirelyAreNanAndNoKeysGiveZero) {
  // Where(mask, -inf, scores) over a whole row: softmax of all -inf is NaN (ATen's too); the
  // other rows must not be touched by it. With Sk = 0, Y = P x V is an empty sum.
  const AttentionSpec spec{kF32, 1.0, AttentionSpec::Mask::kBoolean, -INFINITY};
  auto library = build(attention_source(spec, Target::kCpu, {{"kv_block", 16}}), "attention_masked_rows");
  ASSERT_TRUE(library);
  HostTensor q = random_tensor(kF32, {3, 4}, 1), kt = random_tensor(kF32, {4, 40}, 2), v = random_tensor(kF32, {40, 2}, 3);
  HostTensor y(kF32, {3, 2});
  std::vector<uint8_t> mask(3 * 40, 0);
  for (int j = 0; j < 40; ++j) mask[40 + j] = 1;  // row 1 masked entirely
  for (int j = 0; j < 20; ++j) mask[2 * 40 + j] = 1;  // row 2: the first key block masked
  const std::vector<int64_t> mask_shape = {3, 40};
  auto mask_view = make_tensor(mask.data(), AK_DTYPE_BOOL, mask_shape, {});
  ASSERT_TRUE(mask_view.is_ok());
  ASSERT_EQ(call(*library, {q.view(), kt.view(), v.view(), *mask_view}, {y.view()}), 0);
  EXPECT_TRUE(std::isnan(y.get(2)) && std::isnan(y.get(3)));
  for (int64_t e : {0, 1, 4, 5}) EXPECT_TRUE(std::isfinite(y.get(e))) << e;
  // Row 2 against softmax over its last 20 keys.
  double sum = 0, out = 0;
  for (int j = 20; j < 40; ++j) {
    double dot = 0;
    for (int d = 0; d < 4; ++d) dot += q.get(2 * 4 + d) * kt.get(d * 40 + j);
    sum += std::exp(dot);
    out += std::exp(dot) * v.get(j * 2);
  }
  EXPECT_NEAR(y.get(4), out / sum, 1e-5);

  auto plain = build(attention_source({kF32, 1.0, AttentionSpec::Mask::kNone, 0}, Target::kCpu), "attention_no_keys");
  ASSERT_TRUE(plain);
  HostTensor kt0(kF32, {4, 0}), v0(kF32, {0, 2});
  for (int64_t e = 0; e < y.numel(); ++e) y.set(e, 7);
  ASSERT_EQ(call(*plain, {q.view(), kt0.view(), v0.view()}, {y.view()}), 0);
  expect_close(y.values(), std::vector<double>(6, 0.0), tolerance(kF32), "no keys");
}

TEST_F(TemplatesTest, AttentionRejectsBadTensorsWithItsCodes) {
  auto library = build(attention_source({kF16, 0.5, AttentionSpec::Mask::kAdditive, 0}, Target::kCpu), "attention_bad");
  ASSERT_TRUE(library);
  HostTensor q(kF16, {1, 4, 5, 8}), kt(kF16, {1, 4, 8, 6}), v(kF16, {1, 4, 6, 8}), y(kF16, {1, 4, 5, 8});
  HostTensor mask(kF16, {1, 1, 5, 6});
  EXPECT_EQ(call(*library, {q.view(), kt.view(), v.view(), mask.view()}, {y.view()}), 0);
  EXPECT_EQ(call(*library, {q.view(), kt.view(), v.view()}, {y.view()}), 1);  // the mask is missing
  HostTensor q32(kF32, {1, 4, 5, 8}), mask32(kF32, {1, 1, 5, 6});
  EXPECT_EQ(call(*library, {q32.view(), kt.view(), v.view(), mask.view()}, {y.view()}), 2);
  EXPECT_EQ(call(*library, {q.view(), kt.view(), v.view(), mask32.view()}, {y.view()}), 2);  // mask dtype
  HostTensor kt_bad(kF16, {1, 4, 7, 6});  // D differs from Q's
  EXPECT_EQ(call(*library, {q.view(), kt_bad.view(), v.view(), mask.view()}, {y.view()}), 4);
  HostTensor kv3(kF16, {1, 3, 8, 6}), v3(kF16, {1, 3, 6, 8});  // 3 key/value heads do not divide 4
  EXPECT_EQ(call(*library, {q.view(), kv3.view(), v3.view(), mask.view()}, {y.view()}), 4);
  HostTensor mask_bad(kF16, {1, 1, 5, 4});  // Sk differs
  EXPECT_EQ(call(*library, {q.view(), kt.view(), v.view(), mask_bad.view()}, {y.view()}), 4);
  HostTensor y_bad(kF16, {1, 4, 5, 7});
  EXPECT_EQ(call(*library, {q.view(), kt.view(), v.view(), mask.view()}, {y_bad.view()}), 4);
  HostTensor q5(kF16, {1, 1, 4, 5, 8}), y5(kF16, {1, 1, 4, 5, 8});  // three batch dims
  EXPECT_EQ(call(*library, {q5.view(), kt.view(), v.view(), mask.view()}, {y5.view()}), 3);
}

TEST_F(TemplatesTest, RotaryMatchesTheReferenceInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    SCOPED_TRACE(dtype_name(dtype));
    auto library = build(rotary_source({dtype}, Target::kCpu), "rotary_" + dtype_name(dtype));
    if (!library) continue;
    for (const RotaryCase& c : kRotaryCases) check_rotary(*library, dtype, c);
    // x read through strides: a [4, 6] view of every other column of a [4, 12] tensor.
    HostTensor wide = random_tensor(dtype, {4, 12}, 64), x(dtype, {4, 6});
    for (int64_t e = 0; e < 24; ++e) x.set(e, wide.get((e / 6) * 12 + (e % 6) * 2));
    HostTensor cos = random_tensor(dtype, {6}, 65), sin = random_tensor(dtype, {6}, 66), y(dtype, {4, 6});
    ASSERT_EQ(call(*library, {wide.view({4, 6}, {12, 2}), cos.view(), sin.view()}, {y.view()}), 0);
    expect_close(y.values(), reference_rotary(x, cos, sin), tolerance(dtype), "strided x");
    // An odd last dim has no halves; cos that does not broadcast; a wrong output shape.
    HostTensor odd(dtype, {2, 5}), odd_cs(dtype, {5}), odd_y(dtype, {2, 5});
    EXPECT_EQ(call(*library, {odd.view(), odd_cs.view(), odd_cs.view()}, {odd_y.view()}), 4);
    HostTensor cos_bad(dtype, {4}), y_bad(dtype, {4, 4});
    EXPECT_EQ(call(*library, {x.view(), cos_bad.view(), sin.view()}, {y.view()}), 4);
    EXPECT_EQ(call(*library, {x.view(), cos.view(), sin.view()}, {y_bad.view()}), 4);
    EXPECT_EQ(call(*library, {x.view(), cos.view()}, {y.view()}), 1);
  }
}

// ---------------------------------------------------------------------------------------
// CUDA: every template compiles for sm_90a (there may be no GPU to run it on)

/// Many generated sources as one translation unit, so that nvcc (5-20 s a run on a 2-core
/// machine) runs once for all of them: each source's includes go to the top, the rest into
/// a namespace of its own with its entry point renamed.
std::string bundle(const std::vector<std::pair<std::string, std::string>>& sources) {
  std::vector<std::string> includes;
  std::string bodies;
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string tag = "bundled_" + std::to_string(i);
    bodies += "// " + sources[i].first + "\n#define autokernel_kernel " + tag + "_kernel\nnamespace " + tag + " {\n";
    std::istringstream in(sources[i].second);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("#include", 0) == 0) {
        if (std::find(includes.begin(), includes.end(), line) == includes.end()) includes.push_back(line);
      } else {
        bodies += line + "\n";
      }
    }
    bodies += "}  // namespace " + tag + "\n#undef autokernel_kernel\n\n";
  }
  std::string out;
  for (const std::string& include : includes) out += include + "\n";
  return out + "\n" + bodies;
}

class TemplatesCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.cache_dir = dir_ / "cache";
    options_.cuda_arch = "sm_90a";
    auto backend = make_nvcc_backend(options_);
    if (!backend.is_ok()) GTEST_SKIP() << "no nvcc: " << backend.status().message();
    nvcc_ = std::move(backend).value();
  }

  /// Adds a generated source to the next bundle; a generation failure is a test failure.
  void add(const Result<std::string>& source, const std::string& name) {
    if (!source.is_ok()) {
      ADD_FAILURE() << name << ": " << source.status().message();
      return;
    }
    sources_.emplace_back(name, *source);
  }

  /// Builds the bundle of the sources added so far; the compiler log must be free of
  /// warnings too (agents read it).
  void expect_bundle_compiles(const std::string& name) {
    const fs::path path = testing::write_text(dir_ / (name + ".cu"), bundle(sources_));
    auto built = build_kernel(path, *nvcc_, options_);
    ASSERT_TRUE(built.is_ok()) << name << ": " << built.status().message();
    EXPECT_TRUE(built->ok) << name << " does not compile:\n" << built->command << "\n" << head_lines(built->log, 40);
    EXPECT_FALSE(contains(built->log, "warning")) << name << ":\n" << head_lines(built->log, 40);
    sources_.clear();
  }

  testing::ScratchDir dir_;
  BuildOptions options_;
  std::unique_ptr<BuildBackend> nvcc_;
  std::vector<std::pair<std::string, std::string>> sources_;
};

TEST_F(TemplatesCudaTest, EveryTemplateCompilesForSm90aInEveryDtype) {
  for (int32_t dtype : kFloatDtypes) {
    const std::string suffix = "_" + dtype_name(dtype);
    add(elementwise_chain_source(all_ops_chain(dtype), Target::kCuda), "elementwise" + suffix);
    for (const RowCase& c : kRowCases) {
      if (c.kind == RowwiseSpec::Kind::kLayerNorm && c.num_inputs == 2) continue;  // the 3-input one covers it
      add(rowwise_source({c.kind, dtype, 1e-5, c.num_inputs}, Target::kCuda), c.name + suffix);
    }
    add(rowwise_source(residual_spec(kRowCases[2], dtype, false), Target::kCuda), "residual_layer_norm" + suffix);
    add(rowwise_source(residual_spec(kRowCases[4], dtype, dtype != kF32), Target::kCuda), "residual_rms_norm" + suffix);
    add(matmul_source({dtype, false}, Target::kCuda), "matmul" + suffix);
    add(matmul_source({dtype, true}, Target::kCuda), "matmul_bias" + suffix);
    for (const GemmCase& g : kGemmCases) {  // with and without the C kernel
      if (g.name == "both" || g.name == "lm_head") add(gemm_source(gemm_spec(g, dtype), Target::kCuda), "gemm_" + g.name + suffix);
    }
  }
  // Attention compiles slowly (three instantiations of a large kernel): one mask kind per
  // dtype here, the others in EveryParameterValueCompiles.
  for (size_t i = 0; i < std::size(kFloatDtypes); ++i) {
    const int32_t dtype = kFloatDtypes[i];
    add(attention_source(attention_specs(dtype)[i], Target::kCuda), "attention_" + dtype_name(dtype));
    add(rotary_source({dtype}, Target::kCuda), "rotary_" + dtype_name(dtype));
  }
  add(skeleton_source({"TopK", {"X: float32 [4, 8]"}, {"Values: float32 [4, 2]"}, ""}, Target::kCuda), "skeleton");
  expect_bundle_compiles("every_template");
}

TEST_F(TemplatesCudaTest, EveryParameterValueCompiles) {
  // Configuration j of each template (every value of every parameter at least once), a
  // different dtype and op per configuration.
  for (size_t j = 0; j < config_count(TemplateKind::kElementwise, Target::kCuda); ++j) {
    add(elementwise_chain_source(mixed_chain(kFloatDtypes[j % 3]), Target::kCuda,
                                 nth_config(TemplateKind::kElementwise, Target::kCuda, j)),
        "elementwise_" + std::to_string(j));
  }
  for (size_t j = 0; j < config_count(TemplateKind::kRowwise, Target::kCuda); ++j) {
    add(rowwise_source(row_spec(kRowCases[j % std::size(kRowCases)], kFloatDtypes[j % 3]), Target::kCuda,
                       nth_config(TemplateKind::kRowwise, Target::kCuda, j)),
        "rowwise_" + std::to_string(j));
  }
  for (size_t j = 0; j < config_count(TemplateKind::kMatmul, Target::kCuda); ++j) {
    add(matmul_source({kFloatDtypes[j % 3], j % 2 == 0}, Target::kCuda, nth_config(TemplateKind::kMatmul, Target::kCuda, j)),
        "matmul_" + std::to_string(j));
  }
  for (size_t j = 0; j < config_count(TemplateKind::kGemm, Target::kCuda); ++j) {
    const GemmCase& g = kGemmCases[j % std::size(kGemmCases)];
    add(gemm_source(gemm_spec(g, kFloatDtypes[j % 3]), Target::kCuda, nth_config(TemplateKind::kGemm, Target::kCuda, j)),
        "gemm_" + std::to_string(j));
  }
  for (size_t j = 0; j < config_count(TemplateKind::kAttention, Target::kCuda); ++j) {
    add(attention_source(attention_specs(kFloatDtypes[j % 3])[(j + 3) % 5], Target::kCuda,
                         nth_config(TemplateKind::kAttention, Target::kCuda, j)),
        "attention_" + std::to_string(j));
  }
  expect_bundle_compiles("every_parameter_value");
}

}  // namespace
}  // namespace ak::kernels
