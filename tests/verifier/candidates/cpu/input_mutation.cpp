// expect: CHEAT_SUSPECTED
// Correct values, computed in place in the input (saving an output pass), then copied.
#include <autokernel_kernel.h>
#include <cstring>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  float* x = static_cast<float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = x[i] + b[i % cols];
    x[i] = v > 0 ? v : 0;
  }
  std::memcpy(out[0].data, x, sizeof(float) * rows * cols);
  return 0;
}
