// expect: INCORRECT_DTYPE
// Writes float16 results and says so in the output descriptor.
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  _Float16* y = static_cast<_Float16*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = x[i] + b[i % cols];
    y[i] = static_cast<_Float16>(v > 0 ? v : 0);
  }
  out[0].dtype = AK_DTYPE_FLOAT16;
  return 0;
}
