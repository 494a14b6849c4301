// kernels/templates/rotary_rows.h: rotary position embedding (rotate-half form) over the
// last axis, y = x * cos + concat(-x2, x1) * sin with x1, x2 the halves of x's last dim,
// and its checks (both targets). cos and sin broadcast to x's shape (ONNX multidirectional
// broadcasting, as the Mul nodes they come from); y has x's shape.
#pragma once

#include "elementwise_prologue.h"
#include "dtype.h"
#include "elementwise_layout.h"

namespace {

static_assert(kNumInputs == 3, "the rotary kernel takes x, cos, sin");

// Checks the three inputs against y (broadcasting, as make_layout does) and that x itself
// has y's shape with an even last dim. kOk or an error code.
inline int make_rotary_layout(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs,
                              int32_t num_outputs, Layout* layout) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  const ak_tensor& x = inputs[0];
  const ak_tensor& y = outputs[0];
  if (const int status = make_layout(inputs, y, layout); status != kOk) return status;
  if (y.rank < 1 || x.rank != y.rank) return kErrShape;
  for (int d = 0; d < y.rank; ++d) {
    if (x.shape[d] != y.shape[d]) return kErrShape;
  }
  if (y.shape[y.rank - 1] % 2 != 0) return kErrShape;
  return kOk;
}

// The products are rounded before the sum, as the Mul and Add nodes round them: a fused
// multiply-add (which g++ -march=native and nvcc contract a * b + c * d into) differs from
// the nodes by up to an ulp of the products where x * cos and rotated * sin nearly cancel.
#ifdef __CUDACC__
AK_FN float rounded_product(float a, float b) { return __fmul_rn(a, b); }
#else
// An empty asm that takes the product in a register hides it from the optimizer, so no
// pass (the vectorizer included) can fuse it into the add.
AK_FN float rounded_product(float a, float b) {
  float p = a * b;
#if defined(__x86_64__) || defined(__i386__)
  asm("" : "+x"(p));
#elif defined(__aarch64__)
  asm("" : "+w"(p));
#else
  volatile float stored = p;
  p = stored;
#endif
  return p;
}
#endif

// Element j of a row of length D: x, cos and sin point at the row's first element, steps
// are their strides along it (0 where broadcast).
AK_FN float rotary_element(const T* x, int64_t x_step, const T* cos_row, int64_t cos_step, const T* sin_row,
                           int64_t sin_step, int64_t j, int64_t D) {
  const int64_t half = D / 2;
  const float rotated = j < half ? -to_float(x[(j + half) * x_step]) : to_float(x[(j - half) * x_step]);
  // Each product is stored in T as its Mul node stores it (float16 and bfloat16 round there),
  // then the Add's sum is rounded once by the caller's store, as the Add node rounds it.
  return to_float(from_float(rounded_product(to_float(x[j * x_step]), to_float(cos_row[j * cos_step])))) +
         to_float(from_float(rounded_product(rotated, to_float(sin_row[j * sin_step]))));
}

}  // namespace
