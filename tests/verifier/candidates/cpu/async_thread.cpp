// expect: CHEAT_SUSPECTED
// Correct values, computed in the call for the first 10 calls of a process (every gate
// case); after that it hands the work to a thread of its own and returns at once, so its
// timed calls look free. The CPU twin of a CUDA kernel on an unjoined stream.
#include <autokernel_kernel.h>
#include <chrono>
#include <thread>
static void add_relu(const float* x, const float* b, float* y, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows * cols; ++i) y[i] = x[i] + b[i % cols] > 0 ? x[i] + b[i % cols] : 0;
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  static int calls = 0;
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  if (++calls <= 10) {
    add_relu(x, b, y, rows, cols);
  } else {
    std::thread([=] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the "real" work
      add_relu(x, b, y, rows, cols);
    }).detach();
  }
  return 0;
}
