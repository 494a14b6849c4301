#pragma once
// Test helpers for the GEMM-epilogue and conv templates (gemm_conv_templates_test.cpp,
// templates_gpu_test.cpp): their cases, double-precision references (the products' and
// chains' references of template_checks.h, and a direct convolution written from ONNX's
// Conv definition) and the checks that run a built kernel on a case.

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/templates.h"
#include "template_checks.h"

namespace ak::kernels::testing {

// ---------------------------------------------------------------------------------------
// GEMM + epilogue

/// A MatMul (a, b, y) or a Gemm (`gemm`), then the epilogue `steps` (input 0: the product;
/// input k: extras[k - 1], broadcast to y).
struct EpilogueCase {
  std::string name;
  std::vector<int64_t> a, b, y;  // MatMul shapes (a as the kernel sees it)
  std::optional<GemmCase> gemm;
  std::vector<std::vector<int64_t>> extras;
  std::vector<ElementwiseStep> steps;
  bool cast_to_float = false;      // a trailing Cast: Y is float32
  bool a_transposed_view = false;  // MatMul: A is the transposed view of a stored [..., K, M] tensor
};

inline std::vector<EpilogueCase> epilogue_cases() {
  using S = std::vector<ElementwiseStep>;
  const S bias_relu = {step("Add", {input(0), input(1)}), step("Relu", {prev(0)})};
  std::vector<EpilogueCase> cases = {
      // MatMul + bias + Gelu (erf), batched A, a 2-D B shared by the batch.
      {"bias_gelu", {2, 3, 5, 7}, {7, 9}, {2, 3, 5, 9}, {}, {{9}}, {step("Add", {input(0), input(1)}), step("Gelu", {prev(0)})}},
      // A true batch (both operands batched), Gelu's tanh form.
      {"batched_gelu_tanh", {2, 4, 6}, {2, 6, 5}, {2, 4, 5}, {}, {{5}},
       {step("Add", {input(1), input(0)}), step("Gelu", {prev(0)}, {{"approximate", 1}})}},
      // SiLU, a residual, a scale and a division by a constant; several cache blocks.
      {"silu_residual_scale", {37, 70}, {70, 150}, {37, 150}, {}, {{150}, {37, 150}},
       {step("Add", {input(0), input(1)}), step("Sigmoid", {prev(0)}), step("Mul", {prev(0), prev(1)}),
        step("Add", {prev(2), input(2)}), step("Mul", {prev(3), constant(0.5)}), step("Div", {prev(4), constant(3.0)})}},
      // A bias that is not over the last axis ([M, 1]), then Relu.
      {"column_bias_relu", {5, 8}, {8, 3}, {5, 3}, {}, {{5, 1}}, bias_relu},
      // The product is read again after the bias add, so cuBLASLt cannot take the bias:
      // Tanh((P + bias) * P).
      {"product_twice", {6, 8}, {8, 16}, {6, 16}, {}, {{16}},
       {step("Add", {input(0), input(1)}), step("Mul", {prev(0), input(0)}), step("Tanh", {prev(1)})}},
      // 1-D operands: their dim is dropped from Y.
      {"vector_b", {4, 6}, {6}, {4}, {}, {{4}}, {step("Add", {input(0), input(1)}), step("Tanh", {prev(0)})}},
      {"vector_a", {6}, {2, 6, 5}, {2, 5}, {}, {{5}}, bias_relu},
      // Sizes 1 and K = 0 (the product is 0: Y is the epilogue of 0).
      {"size_one", {1, 1}, {1, 1}, {1, 1}, {}, {{1}}, {step("Add", {input(0), input(1)}), step("Sigmoid", {prev(0)})}},
      {"empty_k", {3, 0}, {0, 4}, {3, 4}, {}, {{4}}, bias_relu},
      // A transposed (strided) view of A.
      {"transposed_a", {3, 5, 9}, {9, 4}, {3, 5, 4}, {}, {{4}}, bias_relu, false, true},
      // No epilogue at all, and a trailing Cast to float32.
      {"no_epilogue", {5, 7}, {7, 3}, {5, 3}, {}, {}, {}},
      {"cast_float32", {2, 9, 16}, {16, 12}, {2, 9, 12}, {}, {{12}}, bias_relu, true},
  };
  // Gemm: its C term first, then the epilogue.
  cases.push_back({"gemm_trans_a_tanh", {}, {}, {5, 9}, kGemmCases[2], {}, {step("Tanh", {input(0)})}});
  cases.push_back({"gemm_bias_relu", {}, {}, {7, 20}, GemmCase{"bias", false, true, {7, 64}, {20, 64},
                                                                std::vector<int64_t>{20}, 1.0, 1.0},
                   {}, {step("Relu", {input(0)})}});
  cases.push_back({"gemm_residual", {}, {}, {17, 9}, kGemmCases[3], {{17, 9}},
                   {step("Add", {input(0), input(1)}), step("Sigmoid", {prev(0)})}});
  return cases;
}

inline GemmEpilogueSpec epilogue_spec(const EpilogueCase& c, int32_t dtype) {
  GemmEpilogueSpec spec;
  spec.dtype = dtype;
  spec.output_dtype = c.cast_to_float ? kF32 : 0;
  if (c.gemm) {
    spec.gemm = true;
    spec.trans_a = c.gemm->trans_a, spec.trans_b = c.gemm->trans_b;
    spec.alpha = c.gemm->alpha, spec.beta = c.gemm->beta;
    spec.has_c = c.gemm->c.has_value();
  }
  spec.epilogue.num_inputs = 1 + static_cast<int>(c.extras.size());
  spec.epilogue.steps = c.steps;
  return spec;
}

/// Runs a GEMM-epilogue kernel on random operands; compares with the reference.
inline void check_epilogue(const KernelLibrary& library, int32_t dtype, const EpilogueCase& c, Tolerance tol) {
  SCOPED_TRACE(c.name);
  std::vector<int64_t> a_shape = c.gemm ? c.gemm->a : c.a;
  std::vector<int64_t> stored_a = a_shape;
  if (c.a_transposed_view) std::swap(stored_a[stored_a.size() - 1], stored_a[stored_a.size() - 2]);
  HostTensor a_stored = random_tensor(dtype, stored_a, 61, -1, 1);
  HostTensor b = random_tensor(dtype, c.gemm ? c.gemm->b : c.b, 62, -1, 1);
  HostTensor gemm_c = random_tensor(dtype, c.gemm && c.gemm->c ? *c.gemm->c : std::vector<int64_t>{}, 63);
  std::vector<HostTensor> extras;
  for (size_t k = 0; k < c.extras.size(); ++k) extras.push_back(random_tensor(dtype, c.extras[k], 64 + k, -1, 1));
  HostTensor y(c.cast_to_float ? kF32 : dtype, c.y);

  // A as the kernel reads it, and a contiguous copy for the reference.
  HostTensor a = a_stored;
  ak_tensor a_view = a_stored.view();
  if (c.a_transposed_view) {
    std::vector<int64_t> strides = contiguous_strides(stored_a);
    const size_t r = strides.size();
    std::swap(strides[r - 1], strides[r - 2]);
    a_view = a_stored.view(a_shape, strides);
    a = HostTensor(dtype, a_shape);
    const int64_t M = a_shape[r - 2], K = a_shape[r - 1];
    for (int64_t i = 0; i < a.numel(); ++i) {
      const int64_t batch = i / (M * K), row = i / K % M, col = i % K;
      a.set(i, a_stored.get(batch * M * K + col * M + row));
    }
  }
  std::vector<ak_tensor> ins = {a_view, b.view()};
  if (c.gemm && c.gemm->c) ins.push_back(gemm_c.view());
  for (HostTensor& e : extras) ins.push_back(e.view());
  ASSERT_EQ(call(library, ins, {y.view()}), 0);

  const std::vector<double> product =
      c.gemm ? reference_gemm(*c.gemm, a, b, c.gemm->c ? &gemm_c : nullptr) : reference_matmul(a, b, nullptr, c.y);
  // The product rounded to the dtype, as the MatMul/Gemm node's output is; then each step
  // rounded as its node (the chain's dtype).
  HostTensor p(dtype, c.y);
  for (int64_t i = 0; i < p.numel(); ++i) p.set(i, product[i]);
  ElementwiseChain chain;
  chain.num_inputs = 1 + static_cast<int>(extras.size());
  chain.dtype = dtype;
  chain.steps = c.steps;
  std::vector<double> want = p.values();
  if (!c.steps.empty()) {
    std::vector<InputView> views = {{&p, p.shape, contiguous_strides(p.shape)}};
    for (const HostTensor& e : extras) views.push_back({&e, e.shape, contiguous_strides(e.shape)});
    want = reference_chain(chain, views, c.y);
  }
  expect_close(y.values(), want, tol, c.name);
}

// ---------------------------------------------------------------------------------------
// Convolution

/// Conv(x, w[, bias]) per ONNX, then the epilogue `steps` (input 0: the conv + bias).
struct ConvCase {
  std::string name;
  std::vector<int64_t> x, w;
  int64_t group = 1;
  std::vector<int64_t> strides, dilations, pads;
  bool bias = false;
  std::vector<std::vector<int64_t>> extras;
  std::vector<ElementwiseStep> steps;
  bool strided_x = false;  // X is every other element of a stored tensor twice as wide
};

inline std::vector<ConvCase> conv_cases() {
  return {
      {"relu", {2, 3, 7, 6}, {4, 3, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, {}, {step("Relu", {input(0)})}},
      // Depthwise with strides, a dilation and asymmetric pads (CPU only: cuDNN pads alike).
      {"depthwise", {1, 4, 9, 9}, {4, 1, 3, 3}, 4, {2, 2}, {2, 1}, {1, 0, 2, 1}, true, {}, {}},
      // Grouped, no bias, an Add of a [M, 1, 1] tensor then Gelu.
      {"grouped", {2, 6, 5, 5}, {4, 3, 2, 2}, 2, {1, 2}, {1, 1}, {0, 0, 0, 0}, false, {{4, 1, 1}},
       {step("Add", {input(0), input(1)}), step("Gelu", {prev(0)})}},
      // 1-D, grouped, with a residual.
      {"conv1d", {2, 4, 11}, {6, 2, 3}, 2, {2}, {1}, {1, 1}, true, {{2, 6, 6}},
       {step("Add", {input(1), input(0)}), step("Sigmoid", {prev(0)})}},
      {"size_one", {1, 1, 1, 1}, {1, 1, 1, 1}, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, {}, {step("Relu", {input(0)})}},
      {"strided_x", {1, 2, 5, 6}, {3, 2, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, {}, {}, true},
      // Several blocks of every tile: a 7x7 depthwise over 20x20 and a 3x3 with 144-deep columns.
      {"depthwise_7x7", {1, 8, 20, 20}, {8, 1, 7, 7}, 8, {1, 1}, {1, 1}, {3, 3, 3, 3}, true, {}, {}},
      {"wide", {1, 16, 12, 12}, {40, 16, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, {}, {step("Relu", {input(0)})}},
  };
}

inline ConvSpec conv_spec(const ConvCase& c, int32_t dtype) {
  ConvSpec spec;
  spec.dtype = dtype;
  spec.spatial_rank = static_cast<int>(c.x.size()) - 2;
  spec.strides = c.strides, spec.dilations = c.dilations, spec.pads = c.pads;
  spec.group = c.group;
  spec.has_bias = c.bias;
  spec.epilogue.num_inputs = 1 + static_cast<int>(c.extras.size());
  spec.epilogue.steps = c.steps;
  return spec;
}

inline bool symmetric_pads(const ConvCase& c) {
  const size_t r = c.pads.size() / 2;
  for (size_t d = 0; d < r; ++d)
    if (c.pads[d] != c.pads[r + d]) return false;
  return true;
}

/// Y's shape per ONNX's output-size formula.
inline std::vector<int64_t> conv_output_shape(const ConvCase& c) {
  std::vector<int64_t> y = {c.x[0], c.w[0]};
  const size_t r = c.x.size() - 2;
  for (size_t d = 0; d < r; ++d)
    y.push_back((c.x[2 + d] + c.pads[d] + c.pads[r + d] - c.dilations[d] * (c.w[2 + d] - 1) - 1) / c.strides[d] + 1);
  return y;
}

/// The convolution in double, straight from the definition (1-D as 2-D with H = 1).
inline std::vector<double> reference_conv(const ConvCase& c, const HostTensor& x, const HostTensor& w,
                                          const HostTensor* bias) {
  const bool one_d = c.x.size() == 3;
  const std::vector<int64_t> y_shape = conv_output_shape(c);
  const int64_t N = c.x[0], C = c.x[1], H = one_d ? 1 : c.x[2], W = c.x.back();
  const int64_t M = c.w[0], KH = one_d ? 1 : c.w[2], KW = c.w.back();
  const int64_t OH = one_d ? 1 : y_shape[2], OW = y_shape.back();
  const int64_t sh = one_d ? 1 : c.strides[0], sw = c.strides.back();
  const int64_t dh = one_d ? 1 : c.dilations[0], dw = c.dilations.back();
  const int64_t ph = one_d ? 0 : c.pads[0], pw = c.pads[one_d ? 0 : 1];
  const int64_t Cg = C / c.group, Mg = M / c.group;
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double sum = bias ? bias->get(m) : 0;
          const int64_t g = m / Mg;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                sum += x.get(((n * C + g * Cg + ci) * H + ih) * W + iw) * w.get(((m * Cg + ci) * KH + kh) * KW + kw);
              }
          y.push_back(sum);
        }
  return y;
}

/// Runs a conv kernel on random tensors; compares with the reference.
inline void check_conv(const KernelLibrary& library, int32_t dtype, const ConvCase& c, Tolerance tol) {
  SCOPED_TRACE(c.name);
  HostTensor x = random_tensor(dtype, c.x, 71, -1, 1);
  HostTensor w = random_tensor(dtype, c.w, 72, -1, 1);
  HostTensor bias = random_tensor(dtype, {c.w[0]}, 73, -1, 1);
  std::vector<HostTensor> extras;
  for (size_t k = 0; k < c.extras.size(); ++k) extras.push_back(random_tensor(dtype, c.extras[k], 74 + k, -1, 1));
  const std::vector<int64_t> y_shape = conv_output_shape(c);
  HostTensor y(dtype, y_shape);

  // A strided X: the values sit at the even positions of a tensor twice as wide.
  std::vector<int64_t> wide_shape = c.x;
  wide_shape.back() *= 2;
  HostTensor wide(dtype, wide_shape);
  ak_tensor x_view = x.view();
  if (c.strided_x) {
    for (int64_t i = 0; i < x.numel(); ++i) wide.set(2 * i, x.get(i));
    std::vector<int64_t> strides = contiguous_strides(wide_shape);
    strides.back() = 2;
    x_view = wide.view(c.x, strides);
  }
  std::vector<ak_tensor> ins = {x_view, w.view()};
  if (c.bias) ins.push_back(bias.view());
  for (HostTensor& e : extras) ins.push_back(e.view());
  ASSERT_EQ(call(library, ins, {y.view()}), 0);

  const std::vector<double> conv = reference_conv(c, x, w, c.bias ? &bias : nullptr);
  std::vector<double> want = conv;
  if (!c.steps.empty()) {
    HostTensor p(dtype, y_shape);  // the Conv node's output, rounded to its dtype
    for (int64_t i = 0; i < p.numel(); ++i) p.set(i, conv[i]);
    ElementwiseChain chain;
    chain.num_inputs = 1 + static_cast<int>(extras.size());
    chain.dtype = dtype;
    chain.steps = c.steps;
    std::vector<InputView> views = {{&p, p.shape, contiguous_strides(p.shape)}};
    for (const HostTensor& e : extras) views.push_back({&e, e.shape, contiguous_strides(e.shape)});
    want = reference_chain(chain, views, y_shape);
  }
  expect_close(y.values(), want, tol, c.name);
}

/// The tolerances of these templates: float32 accumulation over K against double; 16-bit
/// types round the product and each step as the reference does, but a product that lands
/// near a rounding boundary may round the other way, and on the GPU cuBLASLt's bias
/// epilogue rounds once where the nodes round twice (`gpu`).
inline Tolerance epilogue_tolerance(int32_t dtype, bool gpu) {
  if (dtype == kF32) return {1e-5, 1e-4};
  if (!gpu) return tolerance(dtype);
  return dtype == kF16 ? Tolerance{4e-3, 8e-3} : Tolerance{2e-2, 5e-2};
}

}  // namespace ak::kernels::testing
