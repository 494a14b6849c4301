// expect: PASSED
// Within tolerance on every case, but every other call rounds differently (a relative
// 1e-7 nudge): not bitwise repeatable, which the judge flags (deterministic: false) but
// does not fail.
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  static int calls = 0;
  const float nudge = ++calls % 2 ? 1.0f : 1.0f + 1e-7f;
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = (x[i] + b[i % cols]) * nudge;
    y[i] = v > 0 ? v : 0;
  }
  return 0;
}
