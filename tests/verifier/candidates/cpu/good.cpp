// expect: PASSED
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void*) {
  if (n_in != 2 || n_out != 1) return 1;
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float v = x[r * cols + c] + b[c];
      y[r * cols + c] = v > 0 ? v : 0;
    }
  return 0;
}
