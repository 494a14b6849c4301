// kernels/templates/elementwise_ops.h: the helpers that the fused expressions of the
// op-traits table (kernels/op_traits.cpp) call; everything else they use is math.h.
// Arithmetic is float32. NaN inputs stay NaN wherever ONNX (and torch) keep them.
#pragma once

#include "common.h"

namespace {

// ONNX Max/Min propagate NaN (as torch.maximum does); fmaxf/fminf would drop it.
AK_FN float max_nan(float a, float b) { return (isnan(a) || isnan(b)) ? a + b : (a > b ? a : b); }
AK_FN float min_nan(float a, float b) { return (isnan(a) || isnan(b)) ? a + b : (a < b ? a : b); }

AK_FN float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// x < 0 ? 0 : x keeps NaN (a NaN compares false).
AK_FN float relu(float x) { return x < 0.0f ? 0.0f : x; }

AK_FN float leaky_relu(float x, float alpha) { return x < 0.0f ? alpha * x : x; }

AK_FN float elu(float x, float alpha) { return x < 0.0f ? alpha * expm1f(x) : x; }

// gamma * (alpha * e^x - alpha) for x <= 0, gamma * x otherwise.
AK_FN float selu(float x, float alpha, float gamma) { return x > 0.0f ? gamma * x : gamma * alpha * expm1f(x); }

// max(0, min(1, alpha * x + beta)), NaN kept.
AK_FN float hard_sigmoid(float x, float alpha, float beta) {
  const float v = alpha * x + beta;
  return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

// x * max(0, min(1, x / 6 + 0.5)).
AK_FN float hard_swish(float x) {
  const float v = x * (1.0f / 6.0f) + 0.5f;
  return x * (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
}

// log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
AK_FN float softplus(float x) { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }

AK_FN float softsign(float x) { return x / (1.0f + fabsf(x)); }

// Gelu with ONNX's `approximate` as a number (a constant in the fused expression, so the
// branch folds away): 0 = "none", 0.5 * x * (1 + erf(x / sqrt(2))); 1 = "tanh",
// 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
AK_FN float gelu(float x, float approximate) {
  if (approximate == 0.0f) return 0.5f * x * (1.0f + erff(x * 0.707106781186547524f));
  const float inner = 0.797884560802865355f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(inner));
}

// min(max(x, lo), hi) as ONNX Clip orders them (hi wins when lo > hi); NaN kept.
AK_FN float clip(float x, float lo, float hi) {
  const float v = x < lo ? lo : x;
  return v > hi ? hi : v;
}

// -1, 0 or 1; a zero keeps its sign, NaN stays NaN.
AK_FN float sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }

}  // namespace
