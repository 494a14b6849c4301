// Built-in kernel templates: the generated starters build with g++ (and nvcc, compile only),
// and on the CPU they compute what ONNX specifies, checked against straightforward
// double-precision references written here.
#include "kernels/templates.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numbers>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "kernels/build.h"
#include "kernels/kernel_library.h"
#include "kernels/tensor.h"
#include "models/onnx_io.h"
#include "scratch.h"

namespace ak::kernels {
namespace {

namespace fs = std::filesystem;
using Kind = Operand::Kind;

constexpr int32_t kF32 = AK_DTYPE_FLOAT;
constexpr int32_t kF16 = AK_DTYPE_FLOAT16;
constexpr int32_t kBF16 = AK_DTYPE_BFLOAT16;
constexpr int32_t kFloatDtypes[] = {kF32, kF16, kBF16};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------
// Element encodings, independent of the generated code: float16 through the compiler's
// _Float16, bfloat16 by choosing the nearest representable neighbour (ties to even).

uint16_t half_bits(double v) {
  const _Float16 h = static_cast<_Float16>(v);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
}

double half_value(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof h);
  return static_cast<double>(h);
}

double bf16_value(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

uint16_t bf16_bits(double v) {
  if (std::isnan(v)) return 0x7fc0;
  const float f = static_cast<float>(v);
  uint32_t wide;
  std::memcpy(&wide, &f, sizeof wide);
  const uint32_t sign = wide & 0x80000000u;
  const int64_t truncated = (wide & 0x7fffffffu) >> 16;  // magnitude bits, toward zero
  const double magnitude = std::fabs(v);
  int64_t best = -1;
  double best_distance = 0;
  for (int64_t candidate = truncated - 1; candidate <= truncated + 1; ++candidate) {
    if (candidate < 0 || candidate > 0x7f80) continue;
    // inf stands for 2^128: the value that rounds to it (IEEE overflow rule).
    const double value = candidate == 0x7f80 ? std::ldexp(1.0, 128) : bf16_value(static_cast<uint16_t>(candidate));
    const double distance = std::fabs(value - magnitude);
    if (best < 0 || distance < best_distance || (distance == best_distance && candidate % 2 == 0)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return static_cast<uint16_t>((sign >> 16) | static_cast<uint32_t>(best));
}

/// A host tensor of float32, float16 or bfloat16, contiguous unless a view says otherwise.
struct HostTensor {
  int32_t dtype = kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  HostTensor(int32_t dtype_in, std::vector<int64_t> shape_in) : dtype(dtype_in), shape(std::move(shape_in)) {
    bytes.assign(static_cast<size_t>(numel() * (dtype == kF32 ? 4 : 2)), 0);
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t size : shape) n *= size;
    return n;
  }
  double get(int64_t i) const {
    if (dtype == kF32) {
      float f;
      std::memcpy(&f, bytes.data() + 4 * i, 4);
      return f;
    }
    uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    return dtype == kF16 ? half_value(bits) : bf16_value(bits);
  }
  uint16_t bits16(int64_t i) const {
    uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    return bits;
  }
  /// Stores v rounded to nearest even.
  void set(int64_t i, double v) {
    if (dtype == kF32) {
      const float f = static_cast<float>(v);
      std::memcpy(bytes.data() + 4 * i, &f, 4);
      return;
    }
    const uint16_t bits = dtype == kF16 ? half_bits(v) : bf16_bits(v);
    std::memcpy(bytes.data() + 2 * i, &bits, 2);
  }
  std::vector<double> values() const {
    std::vector<double> out(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) out[i] = get(i);
    return out;
  }
  ak_tensor view(std::vector<int64_t> view_shape = {}, std::vector<int64_t> strides = {}) {
    if (view_shape.empty() && strides.empty()) view_shape = shape;
    auto t = make_tensor(bytes.data(), dtype, view_shape, strides);
    EXPECT_TRUE(t.is_ok()) << t.status().message();
    return t.is_ok() ? *t : ak_tensor{};
  }
};

/// Random values in [lo, hi], stored (so rounded to the dtype): the reference then starts
/// from exactly the values the kernel reads. A third of them are multiples of 1/4 (exact
/// halves and integers for Round, Floor, Sign, Relu at 0).
HostTensor random_tensor(int32_t dtype, std::vector<int64_t> shape, uint32_t seed, double lo = -3, double hi = 3) {
  HostTensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = uniform(rng);
    t.set(i, i % 3 == 0 ? std::round(v * 4) / 4 : v);
  }
  return t;
}

struct Tolerance {
  double rtol, atol;
};

/// float32: float arithmetic against double; 16-bit types: one rounding on store dominates.
Tolerance tolerance(int32_t dtype) {
  if (dtype == kF16) return {2e-3, 1e-3};
  if (dtype == kBF16) return {1e-2, 2e-3};
  return {2e-5, 1e-6};
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, Tolerance tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if ((std::isnan(g) && std::isnan(w)) || g == w) continue;
    if (std::fabs(g - w) <= tol.atol + tol.rtol * std::fabs(w)) continue;
    if (++bad <= 5) ADD_FAILURE() << what << ": element " << i << " is " << g << ", want " << w;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " elements out of tolerance (rtol "
                    << tol.rtol << ", atol " << tol.atol << ")";
}

// ---------------------------------------------------------------------------------------
// References

/// Row-major strides of `shape`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// The element of a (right-aligned, broadcast) input at the output's multi-index.
int64_t broadcast_offset(const std::vector<int64_t>& out_index, const std::vector<int64_t>& shape,
                         const std::vector<int64_t>& strides) {
  const size_t lead = out_index.size() - shape.size();
  int64_t offset = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1) offset += out_index[lead + d] * strides[d];
  }
  return offset;
}

std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

double attr(const ElementwiseStep& step, const char* name, double fallback) {
  auto it = step.attributes.find(name);
  return it == step.attributes.end() ? fallback : it->second;
}

/// One ONNX op in double precision, written from the ONNX operator documentation.
double reference_op(const ElementwiseStep& step, const std::vector<double>& a) {
  const std::string& op = step.op;
  const double x = a[0];
  if (op == "Add") return a[0] + a[1];
  if (op == "Sub") return a[0] - a[1];
  if (op == "Mul") return a[0] * a[1];
  if (op == "Div") return a[0] / a[1];
  if (op == "Pow") return std::pow(a[0], a[1]);
  if (op == "Max" || op == "Min") {
    double r = a[0];
    for (double v : a) {
      if (std::isnan(v) || std::isnan(r)) return NAN;
      r = op == "Max" ? std::max(r, v) : std::min(r, v);
    }
    return r;
  }
  if (op == "Neg") return -x;
  if (op == "Abs") return std::fabs(x);
  if (op == "Exp") return std::exp(x);
  if (op == "Log") return std::log(x);
  if (op == "Sqrt") return std::sqrt(x);
  if (op == "Reciprocal") return 1 / x;
  if (op == "Sigmoid") return 1 / (1 + std::exp(-x));
  if (op == "Tanh") return std::tanh(x);
  if (op == "Relu") return x > 0 ? x : 0;
  if (op == "LeakyRelu") return x >= 0 ? x : attr(step, "alpha", 0.01) * x;
  if (op == "Elu") return x >= 0 ? x : attr(step, "alpha", 1.0) * (std::exp(x) - 1);
  if (op == "Selu") {
    const double alpha = attr(step, "alpha", 1.67326319217681884765625);
    const double gamma = attr(step, "gamma", 1.05070102214813232421875);
    return x > 0 ? gamma * x : gamma * (alpha * std::exp(x) - alpha);
  }
  if (op == "HardSigmoid") return std::max(0.0, std::min(1.0, attr(step, "alpha", 0.2) * x + attr(step, "beta", 0.5)));
  if (op == "HardSwish") return x * std::max(0.0, std::min(1.0, x / 6 + 0.5));
  if (op == "Softplus") return std::log(std::exp(x) + 1);
  if (op == "Softsign") return x / (1 + std::fabs(x));
  if (op == "Erf") return std::erf(x);
  if (op == "Gelu") {
    if (attr(step, "approximate", 0) == 1) {
      return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    }
    return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  if (op == "Clip") return std::min(std::max(x, attr(step, "min", -INFINITY)), attr(step, "max", INFINITY));
  if (op == "Sin") return std::sin(x);
  if (op == "Cos") return std::cos(x);
  if (op == "Floor") return std::floor(x);
  if (op == "Ceil") return std::ceil(x);
  if (op == "Round") {
    const double r = std::round(x);  // half away from zero, then fix the ties to even
    return std::fabs(x - std::trunc(x)) == 0.5 ? 2 * std::round(x / 2) : r;
  }
  if (op == "Sign") return x > 0 ? 1 : (x < 0 ? -1 : 0);
  if (op == "Identity") return x;
  ADD_FAILURE() << "no reference for " << op;
  return NAN;
}

/// An input as the kernel sees it: a tensor and the view (shape, strides) it is passed as.
struct InputView {
  const HostTensor* tensor;
  std::vector<int64_t> shape, strides;
};

/// The chain evaluated in double for every element of an output of `out_shape`.
std::vector<double> reference_chain(const ElementwiseChain& chain, const std::vector<InputView>& inputs,
                                    const std::vector<int64_t>& out_shape) {
  int64_t n = 1;
  for (int64_t size : out_shape) n *= size;
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> index = unravel(i, out_shape);
    std::vector<double> steps;
    for (const ElementwiseStep& step : chain.steps) {
      std::vector<double> args;
      for (const Operand& operand : step.operands) {
        if (operand.kind == Kind::kConstant) {
          args.push_back(static_cast<float>(operand.value));  // the kernel's constants are float32
        } else if (operand.kind == Kind::kStep) {
          args.push_back(steps[operand.index]);
        } else {
          const InputView& in = inputs[operand.index];
          args.push_back(in.tensor->get(broadcast_offset(index, in.shape, in.strides)));
        }
      }
      steps.push_back(reference_op(step, args));
    }
    out[i] = steps.back();
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Building and calling

/// Writes `text` to `path`, builds it with `backend` and loads it; nullopt, with the failure
/// recorded, when compilation or loading fails.
std::optional<KernelLibrary> build_and_load(const std::string& text, const fs::path& path, const BuildBackend& backend,
                                            const BuildOptions& options) {
  testing::write_text(path, text);
  auto built = build_kernel(path, backend, options);
  if (!built.is_ok()) {
    ADD_FAILURE() << path.filename() << ": " << built.status().message();
    return std::nullopt;
  }
  if (!built->ok) {
    ADD_FAILURE() << path.filename() << " does not compile:\n" << built->command << "\n" << head_lines(built->log, 40);
    return std::nullopt;
  }
  auto library = KernelLibrary::load(built->library_path);
  if (!library.is_ok()) {
    ADD_FAILURE() << path.filename() << ": " << library.status().message();
    return std::nullopt;
  }
  return std::move(library).value();
}

int call(const KernelLibrary& library, std::vector<ak_tensor> inputs, std::vector<ak_tensor> outputs) {
  return library.call(std::span<const ak_tensor>(inputs), std::span<ak_tensor>(outputs), nullptr);
}

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

ElementwiseStep step(std::string op, std::vector<Operand> operands, std::map<std::string, double> attributes = {}) {
  return ElementwiseStep{std::move(op), std::move(operands), std::move(attributes)};
}
Operand input(int index) { return {Kind::kInput, index, 0}; }
Operand prev(int index) { return {Kind::kStep, index, 0}; }
Operand constant(double value) { return {Kind::kConstant, 0, value}; }

/// The chain of the broadcasting tests: constants, LeakyRelu and Clip attributes, Gelu, Erf.
ElementwiseChain mixed_chain(int32_t dtype) {
  ElementwiseChain chain;
  chain.num_inputs = 2;
  chain.dtype = dtype;
  chain.steps = {
      step("Add", {input(0), input(1)}),
      step("Mul", {prev(0), constant(0.75)}),
      step("LeakyRelu", {prev(1)}, {{"alpha", 0.1}}),
      step("Clip", {prev(2)}, {{"min", -0.25}, {"max", 2.0}}),
      step("Sub", {prev(3), input(0)}),
      step("Gelu", {prev(4)}),
      step("Erf", {input(1)}),
      step("Add", {prev(5), prev(6)}),
  };
  return chain;
}

/// Runs a two-input chain on random inputs of the given shapes; compares with the reference.
void check_chain(const KernelLibrary& library, const ElementwiseChain& chain, const std::vector<int64_t>& x0_shape,
                 const std::vector<int64_t>& x1_shape, const std::vector<int64_t>& y_shape) {
  HostTensor x0 = random_tensor(chain.dtype, x0_shape, 3);
  HostTensor x1 = random_tensor(chain.dtype, x1_shape, 4);
  HostTensor y(chain.dtype, y_shape);
  ASSERT_EQ(call(library, {x0.view(), x1.view()}, {y.view()}), 0) << describe(x0.view()) << ", " << describe(x1.view());
  const std::vector<InputView> views = {{&x0, x0.shape, contiguous_strides(x0.shape)},
                                        {&x1, x1.shape, contiguous_strides(x1.shape)}};
  expect_close(y.values(), reference_chain(chain, views, y.shape), tolerance(chain.dtype), "y " + describe(y.view()));
}

/// Shapes of the broadcasting tests: [4,1,8] + [8] -> [4,1,8]; [4,1,8] + [3,1] -> [4,3,8]
/// (both inputs broadcast); equal shapes take the flat path.
struct ChainCase {
  std::vector<int64_t> x0, x1, y;
};
const ChainCase kChainCases[] = {{{4, 1, 8}, {8}, {4, 1, 8}}, {{4, 1, 8}, {3, 1}, {4, 3, 8}}, {{5, 6}, {5, 6}, {5, 6}}};

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

// ---------------------------------------------------------------------------------------
// Row-wise on the CPU

struct RowCase {
  RowwiseSpec::Kind kind;
  int num_inputs;
  const char* name;
};

const RowCase kRowCases[] = {
    {RowwiseSpec::Kind::kSoftmax, 1, "softmax"},          {RowwiseSpec::Kind::kLogSoftmax, 1, "log_softmax"},
    {RowwiseSpec::Kind::kLayerNorm, 3, "layer_norm_bias"}, {RowwiseSpec::Kind::kLayerNorm, 2, "layer_norm"},
    {RowwiseSpec::Kind::kRmsNorm, 2, "rms_norm_scale"},    {RowwiseSpec::Kind::kRmsNorm, 1, "rms_norm"},
};

/// The row-wise op over the last axis, in double.
std::vector<double> reference_rows(const RowCase& c, double epsilon, const std::vector<double>& x, int64_t D,
                                   const std::vector<double>& scale, const std::vector<double>& bias,
                                   std::vector<double>* means = nullptr, std::vector<double>* inv_std = nullptr) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r * D < x.size(); ++r) {
    const double* row = &x[r * D];
    double* out = &y[r * D];
    if (c.kind == RowwiseSpec::Kind::kSoftmax || c.kind == RowwiseSpec::Kind::kLogSoftmax) {
      double sum = 0;
      for (int64_t j = 0; j < D; ++j) sum += std::exp(row[j]);
      for (int64_t j = 0; j < D; ++j) {
        out[j] = c.kind == RowwiseSpec::Kind::kSoftmax ? std::exp(row[j]) / sum : row[j] - std::log(sum);
      }
    } else if (c.kind == RowwiseSpec::Kind::kLayerNorm) {
      double mean = 0, var = 0;
      for (int64_t j = 0; j < D; ++j) mean += row[j] / D;
      for (int64_t j = 0; j < D; ++j) var += (row[j] - mean) * (row[j] - mean) / D;
      const double inv = 1 / std::sqrt(var + epsilon);
      for (int64_t j = 0; j < D; ++j) out[j] = (row[j] - mean) * inv * scale[j] + (bias.empty() ? 0 : bias[j]);
      if (means) means->push_back(mean);
      if (inv_std) inv_std->push_back(inv);
    } else {
      double mean_square = 0;
      for (int64_t j = 0; j < D; ++j) mean_square += row[j] * row[j] / D;
      const double inv = 1 / std::sqrt(mean_square + epsilon);
      for (int64_t j = 0; j < D; ++j) out[j] = row[j] * inv * (scale.empty() ? 1 : scale[j]);
    }
  }
  return y;
}

RowwiseSpec row_spec(const RowCase& c, int32_t dtype) {
  RowwiseSpec spec;
  spec.kind = c.kind;
  spec.dtype = dtype;
  spec.num_inputs = c.num_inputs;
  spec.epsilon = 1e-3;  // large enough that a wrong epsilon shows
  return spec;
}

/// Runs a row-wise kernel on random rows of `shape`; compares with the reference.
void check_rows(const KernelLibrary& library, const RowCase& c, int32_t dtype, const std::vector<int64_t>& shape) {
  const int64_t D = shape.back();
  // Softmax inputs in [8, 12] check the max subtraction: exp(12) * 37 overflows float16.
  const bool softmax = c.kind == RowwiseSpec::Kind::kSoftmax || c.kind == RowwiseSpec::Kind::kLogSoftmax;
  HostTensor x = random_tensor(dtype, shape, 11, softmax ? 8 : -2, softmax ? 12 : 3);
  HostTensor scale = random_tensor(dtype, {D}, 12, 0.5, 1.5);
  HostTensor bias = random_tensor(dtype, {D}, 13, -1, 1);
  HostTensor y(dtype, shape);
  std::vector<ak_tensor> ins = {x.view()};
  if (c.num_inputs >= 2) ins.push_back(scale.view());
  if (c.num_inputs >= 3) ins.push_back(bias.view());
  ASSERT_EQ(call(library, ins, {y.view()}), 0) << describe(x.view());
  const std::vector<double> want =
      reference_rows(c, row_spec(c, dtype).epsilon, x.values(), D,
                     c.num_inputs >= 2 ? scale.values() : std::vector<double>{},
                     c.num_inputs >= 3 ? bias.values() : std::vector<double>{});
  expect_close(y.values(), want, tolerance(dtype), std::string(c.name) + " " + describe(x.view()));
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

// ---------------------------------------------------------------------------------------
// MatMul on the CPU

/// numpy matmul in double, with an optional bias over the last dim.
std::vector<double> reference_matmul(const HostTensor& a, const HostTensor& b, const HostTensor* bias,
                                     const std::vector<int64_t>& y_shape) {
  // Promote 1-D operands as numpy does, then broadcast the batch dims.
  std::vector<int64_t> a_shape = a.shape, b_shape = b.shape;
  if (a_shape.size() == 1) a_shape.insert(a_shape.begin(), 1);
  if (b_shape.size() == 1) b_shape.push_back(1);
  const int64_t M = a_shape[a_shape.size() - 2], K = a_shape.back(), N = b_shape.back();
  const std::vector<int64_t> a_batch(a_shape.begin(), a_shape.end() - 2), b_batch(b_shape.begin(), b_shape.end() - 2);
  std::vector<int64_t> batch_shape(std::max(a_batch.size(), b_batch.size()), 1);
  for (size_t d = 0; d < batch_shape.size(); ++d) {
    const size_t from_right = batch_shape.size() - 1 - d;
    const int64_t sa = from_right < a_batch.size() ? a_batch[a_batch.size() - 1 - from_right] : 1;
    const int64_t sb = from_right < b_batch.size() ? b_batch[b_batch.size() - 1 - from_right] : 1;
    batch_shape[d] = std::max(sa, sb);
  }
  const std::vector<int64_t> a_strides = contiguous_strides(a_batch), b_strides = contiguous_strides(b_batch);
  int64_t batches = 1;
  for (int64_t size : batch_shape) batches *= size;
  std::vector<double> y;
  for (int64_t batch = 0; batch < batches; ++batch) {
    const std::vector<int64_t> index = unravel(batch, batch_shape);
    const int64_t a_base = broadcast_offset(index, a_batch, a_strides) * M * K;
    const int64_t b_base = broadcast_offset(index, b_batch, b_strides) * K * N;
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += a.get(a_base + i * K + k) * b.get(b_base + k * N + j);
        y.push_back(sum + (bias ? bias->get(j) : 0));
      }
    }
  }
  int64_t y_numel = 1;
  for (int64_t size : y_shape) y_numel *= size;
  EXPECT_EQ(static_cast<int64_t>(y.size()), y_numel) << "reference shape";
  return y;
}

struct MatmulCase {
  std::vector<int64_t> a, b, y;
  bool bias;
};

const MatmulCase kMatmulCases[] = {
    // Batched A, 2-D B shared across the batch, bias; M, N, K span several cache blocks.
    {{2, 3, 40, 300}, {300, 130}, {2, 3, 40, 130}, true},
    // Both operands broadcast along different batch dims.
    {{2, 1, 5, 7}, {3, 7, 4}, {2, 3, 5, 4}, false},
    // 1-D operands: their dim is dropped from Y.
    {{7}, {2, 7, 3}, {2, 3}, false},
    {{2, 5, 7}, {7}, {2, 5}, true},
    // K = 0: Y is the bias alone.
    {{3, 0}, {0, 4}, {3, 4}, true},
};

/// Runs a MatMul kernel on random A, B (and bias); compares with the reference.
void check_matmul(const KernelLibrary& library, int32_t dtype, const MatmulCase& c) {
  HostTensor a = random_tensor(dtype, c.a, 31, -1, 1);
  HostTensor b = random_tensor(dtype, c.b, 32, -1, 1);
  HostTensor bias = random_tensor(dtype, {c.b.size() >= 2 ? c.y.back() : 1}, 33);
  HostTensor y(dtype, c.y);
  std::vector<ak_tensor> ins = {a.view(), b.view()};
  if (c.bias) ins.push_back(bias.view());
  const std::string what = describe(a.view()) + " x " + describe(b.view());
  ASSERT_EQ(call(library, ins, {y.view()}), 0) << what;
  Tolerance tol = tolerance(dtype);
  if (dtype == kF32) tol = {1e-5, 1e-4};  // float accumulation over K = 300
  // The judge's bfloat16 matmul tolerance (verifier/tolerance.cpp): on the GPU cuBLAS rounds
  // the product to bfloat16 and the bias kernel rounds again (measured on an H200: up to
  // 0.006 off at |y| ~ 0.2, over the 1-rounding bound above).
  if (dtype == kBF16) tol = {2e-2, 2e-2};
  expect_close(y.values(), reference_matmul(a, b, c.bias ? &bias : nullptr, c.y), tol, what);
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

// ---------------------------------------------------------------------------------------
// Gemm on the CPU

struct GemmCase {
  std::string name;
  bool trans_a, trans_b;
  std::vector<int64_t> a, b;  // as stored (transposed when trans_*)
  std::optional<std::vector<int64_t>> c;
  double alpha, beta;
};

const GemmCase kGemmCases[] = {
    // Several cache blocks in M, N and K; a bias over N.
    {"plain", false, false, {40, 300}, {300, 130}, std::vector<int64_t>{130}, 1.0, 1.0},
    // An LM head: B is [N, K] (transB), no C.
    {"lm_head", false, true, {7, 64}, {200, 64}, std::nullopt, 1.0, 1.0},
    // transA with a column of C ([M, 1]) and a negative beta.
    {"trans_a", true, false, {64, 5}, {64, 9}, std::vector<int64_t>{5, 1}, 0.5, -2.0},
    // Both transposed, a scalar C.
    {"both", true, true, {33, 17}, {9, 33}, std::vector<int64_t>{}, 2.0, 0.25},
    // A full C and a [1, N] C.
    {"full_c", false, false, {6, 10}, {10, 4}, std::vector<int64_t>{6, 4}, 1.0, 1.0},
    {"row_c", false, true, {6, 10}, {4, 10}, std::vector<int64_t>{1, 4}, 1.5, 1.0},
    // K = 0: Y is beta * C alone.
    {"empty_k", false, false, {3, 0}, {0, 4}, std::vector<int64_t>{4}, 1.0, 3.0},
};

/// ONNX Gemm in double: alpha * A' B' + beta * C, C broadcast from the right.
std::vector<double> reference_gemm(const GemmCase& g, const HostTensor& a, const HostTensor& b, const HostTensor* c) {
  const int64_t M = g.trans_a ? g.a[1] : g.a[0], K = g.trans_a ? g.a[0] : g.a[1];
  const int64_t N = g.trans_b ? g.b[0] : g.b[1];
  std::vector<double> y;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double av = g.trans_a ? a.get(k * M + i) : a.get(i * K + k);
        const double bv = g.trans_b ? b.get(j * K + k) : b.get(k * N + j);
        sum += av * bv;
      }
      double term = 0;
      if (c) {
        const std::vector<int64_t>& cs = c->shape;
        const int64_t rows = cs.size() == 2 ? cs[0] : 1, cols = cs.empty() ? 1 : cs.back();
        term = c->get((rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j));
      }
      y.push_back(g.alpha * sum + g.beta * term);
    }
  }
  return y;
}

void check_gemm(const KernelLibrary& library, int32_t dtype, const GemmCase& g) {
  HostTensor a = random_tensor(dtype, g.a, 41, -1, 1), b = random_tensor(dtype, g.b, 42, -1, 1);
  HostTensor c = random_tensor(dtype, g.c.value_or(std::vector<int64_t>{}), 43);
  const int64_t M = g.trans_a ? g.a[1] : g.a[0], N = g.trans_b ? g.b[0] : g.b[1];
  HostTensor y(dtype, {M, N});
  std::vector<ak_tensor> ins = {a.view(), b.view()};
  if (g.c) ins.push_back(c.view());
  ASSERT_EQ(call(library, ins, {y.view()}), 0) << g.name;
  Tolerance tol = tolerance(dtype);
  if (dtype == kF32) tol = {1e-5, 1e-4};  // float accumulation over K = 300
  if (dtype == kBF16) tol = {2e-2, 2e-2};  // as MatMul: on the GPU the product and the C term round twice
  expect_close(y.values(), reference_gemm(g, a, b, g.c ? &c : nullptr), tol, g.name);
}

GemmSpec gemm_spec(const GemmCase& g, int32_t dtype) {
  return GemmSpec{dtype, g.trans_a, g.trans_b, g.alpha, g.beta, g.c.has_value()};
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
  SkeletonSpec spec{"TopK", {"X: float32 [4, 8]", "K: int64 [1]"}, {"Values: float32 [4, 2]", "Indices: int64 [4, 2]"}};
  const std::string source = skeleton_source(spec, Target::kCpu);
  for (const char* part : {"TopK", "X: float32 [4, 8]", "K: int64 [1]", "Indices: int64 [4, 2]", "autokernel_kernel.h"}) {
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
  }

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
// CUDA: every template compiles for sm_90a (there may be no GPU to run it on)

/// Every op in one chain, so that every helper is compiled.
ElementwiseChain all_ops_chain(int32_t dtype) {
  ElementwiseChain chain;
  chain.num_inputs = 2;
  chain.dtype = dtype;
  int last = -1;
  for (const std::string& op : supported_elementwise_ops()) {
    const Operand x = last < 0 ? input(0) : prev(last);
    const bool binary = op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" || op == "Max" ||
                        op == "Min";
    std::map<std::string, double> attributes;
    if (op == "Clip") attributes = {{"min", 0}};  // max absent: unbounded
    if (op == "Gelu") attributes = {{"approximate", 1}};
    chain.steps.push_back(step(op, binary ? std::vector<Operand>{x, input(1)} : std::vector<Operand>{x}, attributes));
    ++last;
  }
  chain.steps.push_back(step("Gelu", {prev(last)}));
  return chain;
}

class TemplatesCudaTest : public ::testing::TestWithParam<int32_t> {
 protected:
  void SetUp() override {
    options_.cache_dir = dir_ / "cache";
    options_.cuda_arch = "sm_90a";
    auto backend = make_nvcc_backend(options_);
    if (!backend.is_ok()) GTEST_SKIP() << "no nvcc: " << backend.status().message();
    nvcc_ = std::move(backend).value();
  }

  /// Builds the .cu; the compiler log must be free of warnings too (agents read it).
  void expect_compiles(const Result<std::string>& source, const std::string& name) {
    ASSERT_TRUE(source.is_ok()) << name << ": " << source.status().message();
    const fs::path path = testing::write_text(dir_ / (name + ".cu"), *source);
    auto built = build_kernel(path, *nvcc_, options_);
    ASSERT_TRUE(built.is_ok()) << name << ": " << built.status().message();
    EXPECT_TRUE(built->ok) << name << " does not compile:\n" << built->command << "\n" << head_lines(built->log, 40);
    EXPECT_FALSE(contains(built->log, "warning")) << name << ":\n" << head_lines(built->log, 40);
  }

  testing::ScratchDir dir_;
  BuildOptions options_;
  std::unique_ptr<BuildBackend> nvcc_;
};

TEST_P(TemplatesCudaTest, EveryTemplateCompilesForSm90a) {
  const int32_t dtype = GetParam();
  const std::string suffix = "_" + dtype_name(dtype);
  expect_compiles(elementwise_chain_source(all_ops_chain(dtype), Target::kCuda), "elementwise" + suffix);
  for (const RowCase& c : kRowCases) {
    if (c.kind == RowwiseSpec::Kind::kLayerNorm && c.num_inputs == 2) continue;  // the 3-input one covers it
    expect_compiles(rowwise_source({c.kind, dtype, 1e-5, c.num_inputs}, Target::kCuda), c.name + suffix);
  }
  expect_compiles(matmul_source({dtype, false}, Target::kCuda), "matmul" + suffix);
  expect_compiles(matmul_source({dtype, true}, Target::kCuda), "matmul_bias" + suffix);
  for (const GemmCase& g : kGemmCases) {  // with and without the C kernel
    if (g.name == "both" || g.name == "lm_head")
      expect_compiles(gemm_source(gemm_spec(g, dtype), Target::kCuda), "gemm_" + g.name + suffix);
  }
  if (dtype == kF32) {
    expect_compiles(skeleton_source({"TopK", {"X: float32 [4, 8]"}, {"Values: float32 [4, 2]"}}, Target::kCuda),
                    "skeleton");
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TemplatesCudaTest, ::testing::ValuesIn(kFloatDtypes),
                         [](const ::testing::TestParamInfo<int32_t>& info) { return dtype_name(info.param); });

// ---------------------------------------------------------------------------------------
// CUDA on a GPU: the same references, through a harness that moves host tensors to the
// device and back. Skipped where nvcc, nvidia-smi (the architecture) or a device is missing.

constexpr int kNoDevice = 1000;

/// The generated .cu with its entry point renamed to starter_kernel, plus an
/// autokernel_kernel that takes host tensors: copies inputs to the GPU, runs the starter on
/// a stream, waits, copies the outputs back. Returns kNoDevice when no GPU is usable.
std::string gpu_harness(const std::string& starter) {
  return std::string(R"(#include <autokernel_kernel.h>
#include <cuda_runtime.h>
#define autokernel_kernel starter_kernel
)") + starter + R"(
#undef autokernel_kernel

namespace harness {

// Elements spanned by a (possibly strided) view.
int64_t span_elements(const ak_tensor& t) {
  int64_t last = 0;
  for (int d = 0; d < t.rank; ++d) {
    if (t.shape[d] == 0) return 0;
    last += (t.shape[d] - 1) * t.strides[d];
  }
  return last + 1;
}

size_t bytes(const ak_tensor& t) { return span_elements(t) * (t.dtype == AK_DTYPE_FLOAT ? 4 : 2); }

}  // namespace harness

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void*) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) return 1000;
  constexpr int kMax = 8;
  if (num_inputs > kMax || num_outputs > kMax) return 1001;
  ak_tensor device_in[kMax], device_out[kMax];
  int rc = 0;
  for (int i = 0; i < num_inputs; ++i) {
    device_in[i] = inputs[i];
    if (cudaMalloc(&device_in[i].data, harness::bytes(inputs[i]) + 1) != cudaSuccess) return 1002;
    cudaMemcpy(device_in[i].data, inputs[i].data, harness::bytes(inputs[i]), cudaMemcpyHostToDevice);
  }
  for (int i = 0; i < num_outputs; ++i) {
    device_out[i] = outputs[i];
    if (cudaMalloc(&device_out[i].data, harness::bytes(outputs[i]) + 1) != cudaSuccess) return 1002;
  }
  cudaStream_t stream;
  if (cudaStreamCreate(&stream) != cudaSuccess) return 1003;
  rc = starter_kernel(device_in, num_inputs, device_out, num_outputs, stream);
  if (cudaStreamSynchronize(stream) != cudaSuccess && rc == 0) rc = 1004;
  for (int i = 0; i < num_outputs && rc == 0; ++i) {
    if (cudaMemcpy(outputs[i].data, device_out[i].data, harness::bytes(outputs[i]), cudaMemcpyDeviceToHost) !=
        cudaSuccess) {
      rc = 1005;
    }
  }
  cudaStreamDestroy(stream);
  for (int i = 0; i < num_inputs; ++i) cudaFree(device_in[i].data);
  for (int i = 0; i < num_outputs; ++i) cudaFree(device_out[i].data);
  return rc;
}
)";
}

class TemplatesGpuTest : public ::testing::TestWithParam<int32_t> {
 protected:
  void SetUp() override {
    options_.cache_dir = dir_ / "cache";  // cuda_arch empty: taken from the GPU (nvidia-smi)
    auto backend = make_nvcc_backend(options_);
    if (!backend.is_ok()) GTEST_SKIP() << "no nvcc or no GPU: " << backend.status().message();
    nvcc_ = std::move(backend).value();
  }

  std::optional<KernelLibrary> build(const Result<std::string>& source, const std::string& name) {
    if (!source.is_ok()) {
      ADD_FAILURE() << name << ": generation failed: " << source.status().message();
      return std::nullopt;
    }
    return build_and_load(gpu_harness(*source), dir_ / (name + ".cu"), *nvcc_, options_);
  }

  testing::ScratchDir dir_;
  BuildOptions options_;
  std::unique_ptr<BuildBackend> nvcc_;
};

TEST_P(TemplatesGpuTest, StartersMatchTheReferenceOnTheGpu) {
  const int32_t dtype = GetParam();
  const ElementwiseChain chain = mixed_chain(dtype);
  auto elementwise = build(elementwise_chain_source(chain, Target::kCuda), "chain");
  ASSERT_TRUE(elementwise);
  {
    HostTensor x(dtype, {8}), y(dtype, {8});
    const int rc = call(*elementwise, {x.view(), x.view()}, {y.view()});
    if (rc == kNoDevice) GTEST_SKIP() << "no usable CUDA device";
    ASSERT_EQ(rc, 0);
  }
  for (const ChainCase& c : kChainCases) check_chain(*elementwise, chain, c.x0, c.x1, c.y);

  for (const RowCase& c : kRowCases) {
    SCOPED_TRACE(c.name);
    auto rows = build(rowwise_source(row_spec(c, dtype), Target::kCuda), c.name);
    if (!rows) continue;
    check_rows(*rows, c, dtype, {3, 5, 37});  // a warp per row
    check_rows(*rows, c, dtype, {2, 3000});   // a block per row
  }
  for (bool has_bias : {false, true}) {
    SCOPED_TRACE(has_bias ? "matmul with bias" : "matmul");
    auto matmul = build(matmul_source({dtype, has_bias}, Target::kCuda), has_bias ? "matmul_bias" : "matmul");
    if (!matmul) continue;
    for (const MatmulCase& c : kMatmulCases) {
      if (c.bias == has_bias) check_matmul(*matmul, dtype, c);
    }
  }
  for (const GemmCase& g : kGemmCases) {
    SCOPED_TRACE("gemm " + g.name);
    auto gemm = build(gemm_source(gemm_spec(g, dtype), Target::kCuda), "gemm_" + g.name);
    if (gemm) check_gemm(*gemm, dtype, g);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TemplatesGpuTest, ::testing::ValuesIn(kFloatDtypes),
                         [](const ::testing::TestParamInfo<int32_t>& info) { return dtype_name(info.param); });

}  // namespace
}  // namespace ak::kernels
