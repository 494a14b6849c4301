// BERT's attention probabilities: y = Softmax(scores / 8 + mask) over the last axis, where
// 8 = sqrt(head size 64) is the Div constant of the task's subgraph. One pass per row
// instead of three full-tensor passes (Div, Add, Softmax), with a vectorizable exp.
// Task: inputs {scores [batch, 12, 128, 128], mask [batch, 1, 1, 128]} float32; y like scores.
#include <autokernel_kernel.h>

#include <cstdint>
#include <cstring>

#include <vector>

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
  if (n_in != 2 || n_out != 1) return 1;
  if (in[0].dtype != AK_DTYPE_FLOAT || in[1].dtype != AK_DTYPE_FLOAT) return 2;
  if (in[0].rank != 4 || in[1].rank != 4) return 3;
  const int64_t batch = in[0].shape[0], heads = in[0].shape[1], rows = in[0].shape[2], cols = in[0].shape[3];
  if (in[1].shape[0] != batch || in[1].shape[1] != 1 || in[1].shape[2] != 1 || in[1].shape[3] != cols) return 4;
  const float* scores = static_cast<const float*>(in[0].data);
  const float* mask = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const float scale = 1.0f / 8.0f;
#pragma omp parallel
  {
    std::vector<float> row(cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < batch * heads * rows; ++r) {
      const float* s = scores + r * cols;
      const float* m = mask + (r / (heads * rows)) * cols;
      float* o = y + r * cols;
      float mx = -__builtin_inff();
#pragma omp simd reduction(max : mx)
      for (int64_t c = 0; c < cols; ++c) {
        row[c] = s[c] * scale + m[c];
        mx = row[c] > mx ? row[c] : mx;
      }
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < cols; ++c) {
        row[c] = ak_fast_exp(row[c] - mx);
        sum += row[c];
      }
      const float inv = 1.0f / sum;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) o[c] = row[c] * inv;
    }
  }
  return 0;
}
