// expect: INCORRECT_NUMERICAL
// Computes the first call's answer, then replays it: right on the captured inputs only.
#include <autokernel_kernel.h>
#include <cstring>
#include <vector>
static std::vector<float> cache;
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  float* y = static_cast<float*>(out[0].data);
  if (cache.empty()) {
    const float* x = static_cast<const float*>(in[0].data);
    const float* b = static_cast<const float*>(in[1].data);
    cache.resize(rows * cols);
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = x[i] + b[i % cols];
      cache[i] = v > 0 ? v : 0;
    }
  }
  std::memcpy(y, cache.data(), sizeof(float) * std::min<int64_t>(rows * cols, cache.size()));
  return 0;
}
