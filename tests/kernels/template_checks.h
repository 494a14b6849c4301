#pragma once
// Test helpers for the kernel templates (templates_test.cpp, templates_gpu_test.cpp):
// host tensors of float32/float16/bfloat16 with element encodings independent of the
// generated code, double-precision references written from the ONNX operator definitions,
// the cases every target is checked on, and building and calling a starter.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numbers>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "kernels/build.h"
#include "kernels/kernel_library.h"
#include "kernels/templates.h"
#include "kernels/tensor.h"
#include "scratch.h"

namespace ak::kernels::testing {

namespace fs = std::filesystem;
using Kind = Operand::Kind;

inline constexpr int32_t kF32 = AK_DTYPE_FLOAT;
inline constexpr int32_t kF16 = AK_DTYPE_FLOAT16;
inline constexpr int32_t kBF16 = AK_DTYPE_BFLOAT16;
inline constexpr int32_t kFloatDtypes[] = {kF32, kF16, kBF16};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------
// Element encodings, independent of the generated code: float16 through the compiler's
// _Float16, bfloat16 by choosing the nearest representable neighbour (ties to even).

inline uint16_t half_bits(double v) {
  const _Float16 h = static_cast<_Float16>(v);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
}

inline double half_value(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof h);
  return static_cast<double>(h);
}

inline double bf16_value(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

inline uint16_t bf16_bits(double v) {
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
inline HostTensor random_tensor(int32_t dtype, std::vector<int64_t> shape, uint32_t seed, double lo = -3, double hi = 3) {
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
inline Tolerance tolerance(int32_t dtype) {
  if (dtype == kF16) return {2e-3, 1e-3};
  if (dtype == kBF16) return {1e-2, 2e-3};
  return {2e-5, 1e-6};
}

inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, Tolerance tol,
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
inline std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// The element of a (right-aligned, broadcast) input at the output's multi-index.
inline int64_t broadcast_offset(const std::vector<int64_t>& out_index, const std::vector<int64_t>& shape,
                         const std::vector<int64_t>& strides) {
  const size_t lead = out_index.size() - shape.size();
  int64_t offset = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1) offset += out_index[lead + d] * strides[d];
  }
  return offset;
}

inline std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

inline double attr(const ElementwiseStep& step, const char* name, double fallback) {
  auto it = step.attributes.find(name);
  return it == step.attributes.end() ? fallback : it->second;
}

/// One ONNX op in double precision, written from the ONNX operator documentation.
inline double reference_op(const ElementwiseStep& step, const std::vector<double>& a) {
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

/// `v` rounded to nearest even in `dtype` (float32 steps are left in double: the kernel's
/// float32 rounding is within the tolerances).
inline double round_to(int32_t dtype, double v) {
  if (dtype == kF16) return half_value(half_bits(v));
  if (dtype == kBF16) return bf16_value(bf16_bits(v));
  return v;
}

/// The chain evaluated in double for every element of an output of `out_shape`, each step
/// rounded to its dtype (the chain's for 0) as the model rounds each node's output.
inline std::vector<double> reference_chain(const ElementwiseChain& chain, const std::vector<InputView>& inputs,
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
      steps.push_back(round_to(step.dtype == 0 ? chain.dtype : step.dtype, reference_op(step, args)));
    }
    out[i] = steps.back();
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Building and calling

/// Writes `text` to `path`, builds it with `backend` and loads it; nullopt, with the failure
/// recorded, when compilation or loading fails.
inline std::optional<KernelLibrary> build_and_load(const std::string& text, const fs::path& path, const BuildBackend& backend,
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

inline int call(const KernelLibrary& library, std::vector<ak_tensor> inputs, std::vector<ak_tensor> outputs) {
  return library.call(std::span<const ak_tensor>(inputs), std::span<ak_tensor>(outputs), nullptr);
}



inline ElementwiseStep step(std::string op, std::vector<Operand> operands, std::map<std::string, double> attributes = {}) {
  return ElementwiseStep{std::move(op), std::move(operands), std::move(attributes)};
}
inline Operand input(int index) { return {Kind::kInput, index, 0}; }
inline Operand prev(int index) { return {Kind::kStep, index, 0}; }
inline Operand constant(double value) { return {Kind::kConstant, 0, value}; }

/// The chain of the broadcasting tests: constants, LeakyRelu and Clip attributes, Gelu, Erf.
inline ElementwiseChain mixed_chain(int32_t dtype) {
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
inline void check_chain(const KernelLibrary& library, const ElementwiseChain& chain, const std::vector<int64_t>& x0_shape,
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
inline const ChainCase kChainCases[] = {{{4, 1, 8}, {8}, {4, 1, 8}}, {{4, 1, 8}, {3, 1}, {4, 3, 8}}, {{5, 6}, {5, 6}, {5, 6}}};

// ---------------------------------------------------------------------------------------
// Row-wise on the CPU

struct RowCase {
  RowwiseSpec::Kind kind;
  int num_inputs;
  const char* name;
};

inline const RowCase kRowCases[] = {
    {RowwiseSpec::Kind::kSoftmax, 1, "softmax"},          {RowwiseSpec::Kind::kLogSoftmax, 1, "log_softmax"},
    {RowwiseSpec::Kind::kLayerNorm, 3, "layer_norm_bias"}, {RowwiseSpec::Kind::kLayerNorm, 2, "layer_norm"},
    {RowwiseSpec::Kind::kRmsNorm, 2, "rms_norm_scale"},    {RowwiseSpec::Kind::kRmsNorm, 1, "rms_norm"},
};

/// The row-wise op over the last axis, in double.
inline std::vector<double> reference_rows(const RowCase& c, double epsilon, const std::vector<double>& x, int64_t D,
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

inline RowwiseSpec row_spec(const RowCase& c, int32_t dtype) {
  RowwiseSpec spec;
  spec.kind = c.kind;
  spec.dtype = dtype;
  spec.num_inputs = c.num_inputs;
  spec.epsilon = 1e-3;  // large enough that a wrong epsilon shows
  return spec;
}

/// Runs a row-wise kernel on random rows of `shape`; compares with the reference.
inline void check_rows(const KernelLibrary& library, const RowCase& c, int32_t dtype, const std::vector<int64_t>& shape) {
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

/// The residual norms: the norm cases of kRowCases with the residual input in front of
/// their scale and bias.
inline RowwiseSpec residual_spec(const RowCase& c, int32_t dtype, bool round_before_scale) {
  RowwiseSpec spec = row_spec(c, dtype);
  spec.residual = true;
  spec.num_inputs = c.num_inputs + 1;
  spec.round_before_scale = round_before_scale;
  return spec;
}

/// Runs a residual norm on random x and residual of `shape` (the residual read through a
/// transposed view of its last two dims when `strided_residual`): h must be exactly x +
/// residual rounded to the dtype (the Add node's output), y the norm of that h; `with_h`
/// false leaves h out of the outputs. An output of float32 when `output_float32`.
inline void check_residual_rows(const KernelLibrary& library, const RowCase& c, const RowwiseSpec& spec,
                                const std::vector<int64_t>& shape, bool with_h, bool strided_residual = false) {
  const int32_t dtype = spec.dtype;
  const int64_t D = shape.back();
  HostTensor x = random_tensor(dtype, shape, 31, -2, 3);
  std::vector<int64_t> stored = shape;  // the residual's storage: last two dims swapped when strided
  if (strided_residual) std::swap(stored[stored.size() - 1], stored[stored.size() - 2]);
  HostTensor residual = random_tensor(dtype, stored, 32, -2, 2);
  std::vector<int64_t> residual_strides(shape.size(), 1);
  for (size_t d = stored.size() - 1; d-- > 0;) residual_strides[d] = residual_strides[d + 1] * stored[d + 1];
  if (strided_residual) std::swap(residual_strides[shape.size() - 1], residual_strides[shape.size() - 2]);
  HostTensor scale = random_tensor(dtype, {D}, 33, 0.5, 1.5), bias = random_tensor(dtype, {D}, 34, -1, 1);
  const int32_t y_dtype = spec.output_dtype == 0 ? dtype : spec.output_dtype;
  HostTensor y(y_dtype, shape), h(dtype, shape), want_h(dtype, shape);
  const int64_t rank = static_cast<int64_t>(shape.size());
  for (int64_t i = 0; i < x.numel(); ++i) {
    // The residual's element at x's index i, through its strides.
    int64_t offset = 0, rest = i;
    for (int64_t d = rank - 1; d >= 0; --d) {
      offset += (rest % shape[d]) * residual_strides[d];
      rest /= shape[d];
    }
    want_h.set(i, x.get(i) + residual.get(offset));
  }
  std::vector<ak_tensor> ins = {x.view(), residual.view(shape, residual_strides)};
  if (c.num_inputs >= 2) ins.push_back(scale.view());
  if (c.num_inputs >= 3) ins.push_back(bias.view());
  std::vector<ak_tensor> outs = {y.view()};
  if (with_h) outs.push_back(h.view());
  const std::string what = std::string(c.name) + " " + describe(x.view()) + (strided_residual ? " strided" : "");
  ASSERT_EQ(call(library, ins, outs), 0) << what;
  if (with_h) {
    int bad = 0;
    for (int64_t i = 0; i < h.numel(); ++i)
      if (h.get(i) != want_h.get(i) && ++bad <= 5) ADD_FAILURE() << what << ": h[" << i << "] " << h.get(i) << ", want " << want_h.get(i);
    EXPECT_EQ(bad, 0) << what << ": h differs from x + residual rounded to the dtype";
  }
  std::vector<double> scale_values = c.num_inputs >= 2 ? scale.values() : std::vector<double>{};
  std::vector<double> want = reference_rows(c, spec.epsilon, want_h.values(), D,
                                            spec.round_before_scale ? std::vector<double>{} : scale_values,
                                            c.num_inputs >= 3 ? bias.values() : std::vector<double>{});
  if (spec.round_before_scale) {
    // The graph casts the normalized value down, then multiplies by the scale (and rounds again).
    HostTensor rounded(dtype, {1});
    for (size_t i = 0; i < want.size(); ++i) {
      rounded.set(0, want[i]);
      want[i] = rounded.get(0) * scale_values[i % static_cast<size_t>(D)];
    }
  }
  expect_close(y.values(), want, tolerance(y_dtype == dtype ? dtype : kF32), what);
}

// ---------------------------------------------------------------------------------------
// MatMul on the CPU

/// numpy matmul in double, with an optional bias over the last dim.
inline std::vector<double> reference_matmul(const HostTensor& a, const HostTensor& b, const HostTensor* bias,
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

inline const MatmulCase kMatmulCases[] = {
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
inline void check_matmul(const KernelLibrary& library, int32_t dtype, const MatmulCase& c) {
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

// ---------------------------------------------------------------------------------------
// Gemm on the CPU

struct GemmCase {
  std::string name;
  bool trans_a, trans_b;
  std::vector<int64_t> a, b;  // as stored (transposed when trans_*)
  std::optional<std::vector<int64_t>> c;
  double alpha, beta;
};

inline const GemmCase kGemmCases[] = {
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
inline std::vector<double> reference_gemm(const GemmCase& g, const HostTensor& a, const HostTensor& b, const HostTensor* c) {
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

inline void check_gemm(const KernelLibrary& library, int32_t dtype, const GemmCase& g) {
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

inline GemmSpec gemm_spec(const GemmCase& g, int32_t dtype) {
  return GemmSpec{dtype, g.trans_a, g.trans_b, g.alpha, g.beta, g.c.has_value()};
}

// ---------------------------------------------------------------------------------------
// Attention

/// One attention problem. K is held as [.., Sk, D] and passed as Kt [.., D, Sk]: a
/// contiguous transposed copy, or (k_view) a strided view of K itself. The mask (shape
/// `mask`, none when empty) is built by `mask_rule`.
struct AttentionCase {
  std::string name;
  std::vector<int64_t> q, k, v, y;
  bool k_view = false;
  std::vector<int64_t> mask;
  enum class Rule { kCausal, kPadding, kRandom } mask_rule = Rule::kRandom;
};

inline const AttentionCase kAttentionCases[] = {
    // GPT-2-like: [B, H, S, 64], a causal [1, 1, S, S] mask.
    {"causal_64", {2, 3, 17, 64}, {2, 3, 17, 64}, {2, 3, 17, 64}, {2, 3, 17, 64}, false, {1, 1, 17, 17},
     AttentionCase::Rule::kCausal},
    // BERT-like padding mask [B, 1, 1, Sk] broadcast over heads and rows; head dim 80.
    {"padding_80", {2, 2, 9, 80}, {2, 2, 9, 80}, {2, 2, 9, 80}, {2, 2, 9, 80}, true, {2, 1, 1, 9},
     AttentionCase::Rule::kPadding},
    // Grouped-query: 4 query heads on 2 key/value heads, K as a transposed view, head dim 128,
    // more keys than one block, a mask over [Sq, Sk] only.
    {"gqa_128", {1, 4, 5, 128}, {1, 2, 150, 128}, {1, 2, 150, 128}, {1, 4, 5, 128}, true, {5, 150},
     AttentionCase::Rule::kRandom},
    // Decoding: one query row; head dims 7 and Dv 1; rank 3 (no heads dim).
    {"decode_7", {3, 1, 7}, {3, 20, 7}, {3, 20, 1}, {3, 1, 1}, false, {3, 1, 20}, AttentionCase::Rule::kRandom},
    // Head dim 1, a single key, batch broadcast of K and V ([1, ..] against Q's 2).
    {"tiny", {2, 1, 3, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}, {2, 1, 3, 1}, false, {1}, AttentionCase::Rule::kRandom},
    // Rank 2 (no batch dims), odd sizes spanning several query and key blocks.
    {"plain_2d", {67, 33}, {301, 33}, {301, 19}, {67, 19}, true, {67, 301}, AttentionCase::Rule::kCausal},
};

/// Whether (i, j) of batch index b is masked under `rule` (Sq, Sk: the scores' sizes).
inline bool attention_masked(AttentionCase::Rule rule, int64_t b, int64_t i, int64_t j, int64_t Sq, int64_t Sk) {
  switch (rule) {
    case AttentionCase::Rule::kCausal: return j > i + (Sk - Sq);
    case AttentionCase::Rule::kPadding: return j >= Sk - 1 - (b % 3);  // the last 1-3 keys are padding
    case AttentionCase::Rule::kRandom: return (i * 7 + j * 13 + b * 5) % 4 == 1 && j != 0;
  }
  return false;
}

/// A mask tensor's bytes for the kernel: bool (1 = masked) or the dtype's 0 / -10000 plus
/// a small additive term, so that an ignored mask shows.
struct MaskTensor {
  std::vector<uint8_t> bool_bytes;
  std::optional<HostTensor> additive;
  std::vector<int64_t> shape;
  std::vector<double> values;  // as the reference reads it: the added value, or 1 / 0
  ak_tensor view() {
    if (additive) return additive->view();
    auto t = make_tensor(bool_bytes.data(), AK_DTYPE_BOOL, shape, {});
    EXPECT_TRUE(t.is_ok()) << t.status().message();
    return t.is_ok() ? *t : ak_tensor{};
  }
};

inline MaskTensor make_mask(const AttentionCase& c, AttentionSpec::Mask kind, int32_t dtype) {
  MaskTensor m;
  m.shape = c.mask;
  int64_t n = 1;
  for (int64_t s : c.mask) n *= s;
  const int64_t cols = c.mask.empty() ? 1 : c.mask.back();
  const int64_t rows = c.mask.size() >= 2 ? c.mask[c.mask.size() - 2] : 1;
  const int64_t Sq = c.q[c.q.size() - 2], Sk = c.k[c.k.size() - 2];
  if (kind == AttentionSpec::Mask::kAdditive) m.additive.emplace(dtype, c.mask);
  for (int64_t e = 0; e < n; ++e) {
    const int64_t j = e % cols, i = (e / cols) % rows, b = e / (cols * rows);
    // A [.., 1, Sk] mask row is the padding of every query; [.., Sq, Sk] is per query.
    const bool masked = attention_masked(c.mask_rule, b, rows == 1 ? Sq - 1 : i, j, Sq, Sk);
    if (kind == AttentionSpec::Mask::kBoolean) {
      m.bool_bytes.push_back(masked ? 1 : 0);
      m.values.push_back(masked ? 1 : 0);
    } else {
      m.additive->set(e, masked ? -10000.0 : -0.25 * static_cast<double>((e * 37) % 5));
      m.values.push_back(m.additive->get(e));
    }
  }
  return m;
}

/// softmax(scale * Q K^T + mask) V in double, from the stored values, with the batch dims
/// broadcast or grouped as the template documents.
inline std::vector<double> reference_attention(const AttentionCase& c, const AttentionSpec& spec, const HostTensor& q,
                                               const HostTensor& k, const HostTensor& v, const MaskTensor* mask) {
  const size_t yr = c.y.size();
  const int64_t Sq = c.y[yr - 2], Dv = c.y[yr - 1], D = c.q.back(), Sk = c.k[c.k.size() - 2];
  const std::vector<int64_t> y_batch(c.y.begin(), c.y.end() - 2);
  // The operand's element offset of batch index `index` (over Y's batch dims), matrix dims
  // excluded: a size-1 dim broadcasts, a smaller one is grouped.
  auto batch_base = [&](const std::vector<int64_t>& shape, size_t matrix_dims, const std::vector<int64_t>& index) {
    const std::vector<int64_t> strides = contiguous_strides(shape);
    const size_t lead = shape.size() - matrix_dims;
    int64_t offset = 0;
    for (size_t d = 0; d < lead; ++d) {
      const size_t yd = y_batch.size() - lead + d;
      const int64_t size = shape[d];
      const int64_t at = size == 1 ? 0 : index[yd] / (y_batch[yd] / size);
      offset += at * strides[d];
    }
    return offset;
  };
  int64_t batches = 1;
  for (int64_t s : y_batch) batches *= s;
  std::vector<double> y;
  for (int64_t b = 0; b < batches; ++b) {
    const std::vector<int64_t> index = unravel(b, y_batch);
    const int64_t qb = batch_base(c.q, 2, index), kb = batch_base(c.k, 2, index), vb = batch_base(c.v, 2, index);
    for (int64_t i = 0; i < Sq; ++i) {
      std::vector<double> s(static_cast<size_t>(Sk));
      for (int64_t j = 0; j < Sk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += q.get(qb + i * D + d) * k.get(kb + j * D + d);
        s[j] = dot * static_cast<float>(spec.scale);
        const bool causal_masked = j > i + (Sk - Sq);
        if (spec.mask == AttentionSpec::Mask::kCausal && causal_masked) s[j] = static_cast<float>(spec.mask_fill);
        if (spec.mask == AttentionSpec::Mask::kCausalAdditive && causal_masked) s[j] += static_cast<float>(spec.mask_fill);
        if (mask) {
          // The mask broadcast from the right over [batch.., Sq, Sk].
          std::vector<int64_t> full = index;
          full.insert(full.end(), {i, j});
          const double m = mask->values[broadcast_offset(full, c.mask, contiguous_strides(c.mask))];
          if (spec.mask == AttentionSpec::Mask::kAdditive) s[j] += m;
          else if (m != 0) s[j] = static_cast<float>(spec.mask_fill);
        }
      }
      const double max = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& e : s) sum += (e = std::exp(e - max));
      for (int64_t col = 0; col < Dv; ++col) {
        double out = 0;
        for (int64_t j = 0; j < Sk; ++j) out += s[j] / sum * v.get(vb + j * Dv + col);
        y.push_back(out);
      }
    }
  }
  return y;
}

/// Runs an attention kernel on one case with random Q, K, V (and the case's mask when the
/// kernel takes one); compares with the reference.
inline void check_attention(const KernelLibrary& library, const AttentionSpec& spec, const AttentionCase& c) {
  SCOPED_TRACE(c.name);
  const int32_t dtype = spec.dtype;
  HostTensor q = random_tensor(dtype, c.q, 51, -1, 1), k = random_tensor(dtype, c.k, 52, -1, 1);
  HostTensor v = random_tensor(dtype, c.v, 53, -2, 2), y(dtype, c.y);
  // Kt: K transposed, as a copy or as a strided view of K.
  std::vector<int64_t> kt_shape = c.k;
  std::swap(kt_shape[kt_shape.size() - 1], kt_shape[kt_shape.size() - 2]);
  const int64_t Sk = c.k[c.k.size() - 2], D = c.k.back();
  HostTensor kt(dtype, kt_shape);
  for (int64_t e = 0; e < k.numel(); ++e) {
    const int64_t d = e % D, j = (e / D) % Sk, base = e / (D * Sk) * D * Sk;
    kt.set(base + d * Sk + j, k.get(e));
  }
  std::vector<int64_t> view_strides = contiguous_strides(c.k);
  std::swap(view_strides[view_strides.size() - 1], view_strides[view_strides.size() - 2]);
  std::vector<ak_tensor> ins = {q.view(), c.k_view ? k.view(kt_shape, view_strides) : kt.view(), v.view()};
  std::optional<MaskTensor> mask;
  if (spec.mask == AttentionSpec::Mask::kAdditive || spec.mask == AttentionSpec::Mask::kBoolean) {
    mask = make_mask(c, spec.mask, dtype);
    ins.push_back(mask->view());
  }
  ASSERT_EQ(call(library, ins, {y.view()}), 0) << c.name;
  Tolerance tol = tolerance(dtype);
  if (dtype == kF32) tol = {1e-4, 1e-5};  // float accumulation over D and Sk
  expect_close(y.values(), reference_attention(c, spec, q, k, v, mask ? &*mask : nullptr), tol, c.name);
}

/// The specs every target is checked on, one per mask kind: the boolean one with float32's
/// lowest as the fill (the exporters' finfo.min), the causal one with -inf (a case with
/// fewer keys than queries has rows masked entirely: NaN, as in the reference), the
/// causal additive one with -10000 (rows masked entirely stay finite).
inline std::vector<AttentionSpec> attention_specs(int32_t dtype) {
  return {{dtype, 0.125, AttentionSpec::Mask::kNone, 0},
          {dtype, 0.7, AttentionSpec::Mask::kAdditive, 0},
          {dtype, 1.0 / std::sqrt(80.0), AttentionSpec::Mask::kBoolean, -3.4028234663852886e38},
          {dtype, 0.3, AttentionSpec::Mask::kCausal, -INFINITY},
          {dtype, 0.5, AttentionSpec::Mask::kCausalAdditive, -10000.0}};
}

// ---------------------------------------------------------------------------------------
// Rotary embedding

struct RotaryCase {
  std::vector<int64_t> x, cos;  // sin has cos's shape
};

inline const RotaryCase kRotaryCases[] = {
    {{2, 4, 9, 64}, {2, 1, 9, 64}},  // LLaMA: cos/sin [B, 1, S, D] broadcast over heads
    {{3, 7, 2}, {7, 2}},             // D = 2, cos/sin [S, D]
    {{5, 6}, {5, 6}},                // same shape
    {{1, 1, 1, 128}, {128}},         // one row
};

/// The rotary graph's value: each product stored in x's dtype as its Mul node stores it
/// (float32 products rounded to float32 too), their sum exact (the caller's tolerance covers
/// the Add's one rounding).
inline std::vector<double> reference_rotary(const HostTensor& x, const HostTensor& cos, const HostTensor& sin) {
  const int64_t D = x.shape.back();
  const std::vector<int64_t> cs = contiguous_strides(cos.shape);
  HostTensor stored(x.dtype, {1});
  const auto as_stored = [&stored](double v) {
    stored.set(0, v);
    return stored.get(0);
  };
  std::vector<double> y;
  for (int64_t e = 0; e < x.numel(); ++e) {
    const int64_t j = e % D;
    const double rotated = j < D / 2 ? -x.get(e + D / 2) : x.get(e - D / 2);
    const int64_t c = broadcast_offset(unravel(e, x.shape), cos.shape, cs);
    y.push_back(as_stored(x.get(e) * cos.get(c)) + as_stored(rotated * sin.get(c)));
  }
  return y;
}

inline void check_rotary(const KernelLibrary& library, int32_t dtype, const RotaryCase& c) {
  HostTensor x = random_tensor(dtype, c.x, 61), cos = random_tensor(dtype, c.cos, 62, -1, 1);
  HostTensor sin = random_tensor(dtype, c.cos, 63, -1, 1), y(dtype, c.x);
  ASSERT_EQ(call(library, {x.view(), cos.view(), sin.view()}, {y.view()}), 0) << describe(x.view());
  expect_close(y.values(), reference_rotary(x, cos, sin), tolerance(dtype), "rotary " + describe(x.view()));
}

// ---------------------------------------------------------------------------------------
// CUDA: every template compiles for sm_90a (there may be no GPU to run it on)

/// Every op in one chain, so that every helper is compiled.
inline ElementwiseChain all_ops_chain(int32_t dtype) {
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

/// A fixture for CPU template tests: one g++ backend for the suite, and build() that writes
/// a generated source as <name>.cpp in a scratch folder, builds it into a private cache and
/// loads it (nullopt, with the failure recorded, when any step fails).
class GxxTemplatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto backend = make_gxx_backend(BuildOptions{});
    if (backend.is_ok()) gxx_ = std::move(backend).value();
  }
  static void TearDownTestSuite() { gxx_.reset(); }
  void SetUp() override { ASSERT_TRUE(gxx_) << "no g++ backend"; }

  std::optional<KernelLibrary> build(const Result<std::string>& source, const std::string& name) {
    if (!source.is_ok()) {
      ADD_FAILURE() << name << ": generation failed: " << source.status().message();
      return std::nullopt;
    }
    BuildOptions options;
    options.cache_dir = dir_ / "cache";
    return build_and_load(*source, dir_ / (name + ".cpp"), *gxx_, options);
  }

  inline static std::unique_ptr<BuildBackend> gxx_;
  testing::ScratchDir dir_;
};

}  // namespace ak::kernels::testing
