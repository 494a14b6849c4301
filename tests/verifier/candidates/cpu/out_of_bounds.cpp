// expect: RUNTIME_ERROR
// Correct values, then a write just past the end of the output.
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = x[i] + b[i % cols];
    y[i] = v > 0 ? v : 0;
  }
  y[rows * cols + 7] = 42.0f;
  return 0;
}
