// GELU, tanh form, as GPT-2's export spells it in 9 elementwise nodes:
//   y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
// One pass instead of nine, using 0.5 * (1 + tanh(z)) = 1 / (1 + exp(-2z)), so one exp per
// element and no tanh. Task: inputs {x [batch, 128, 3072] float32}, output y like x.
#include <autokernel_kernel.h>

#include <cstdint>
#include <cstring>

// exp(x) for float in plain arithmetic the compiler can vectorize (no libm call):
// 2^(x log2 e) split into 2^n (built in the exponent bits) and 2^f, f in [-0.5, 0.5], by a
// degree-6 polynomial (relative error ~2e-7 over the range). Inputs at or below -87 give 0,
// above 88 are clamped to 88 (finite), which the kernels below never reach or do not mind.

static inline float ak_fast_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float t = x * 1.44269504088896341f;     // x * log2(e)
  // Nearest integer by the 1.5 * 2^23 trick (no libm call, so the loop vectorizes).
  const float n = (t + 12582912.0f) - 12582912.0f;
  const float f = t - n;                        // in [-0.5, 0.5]
  // 2^f = e^(f ln2): Taylor terms of e^y with y = f ln 2, |y| <= 0.347.
  const float y = f * 0.693147180559945f;
  float p = 1.0f / 720.0f;
  p = p * y + 1.0f / 120.0f;
  p = p * y + 1.0f / 24.0f;
  p = p * y + 1.0f / 6.0f;
  p = p * y + 0.5f;
  p = p * y + 1.0f;
  p = p * y + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x <= -87.0f ? 0.0f : p * scale;
}

extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void*) {
  if (n_in != 1 || n_out != 1) return 1;
  if (in[0].dtype != AK_DTYPE_FLOAT || out[0].dtype != AK_DTYPE_FLOAT) return 2;
  int64_t n = 1;
  for (int d = 0; d < in[0].rank; ++d) n *= in[0].shape[d];
  const float* x = static_cast<const float*>(in[0].data);
  float* y = static_cast<float*>(out[0].data);
  const float k0 = 0.7978845608028654f;  // sqrt(2/pi)
  const float k1 = 0.044715f;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float z = k0 * (v + k1 * v * v * v);
    y[i] = v / (1.0f + ak_fast_exp(-2.0f * z));
  }
  return 0;
}
