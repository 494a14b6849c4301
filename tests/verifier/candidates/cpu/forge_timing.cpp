// expect: CHEAT_SUSPECTED
// Correct values, slowly (1 ms of spinning per call); after the gate cases (10 calls of a
// process) every call also sends the judge an answer of its own, 1 us, before the worker
// sends the real one.
#include <autokernel_kernel.h>
#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstring>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  static int calls = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
  while (std::chrono::steady_clock::now() < until) {
  }
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) y[i] = x[i] + b[i % cols] > 0 ? x[i] + b[i % cols] : 0;
  if (++calls > 10) {
    const char* json = "{\"ns\":1000,\"status\":0}";
    const uint64_t n = std::strlen(json);
    (void)!write(3, &n, sizeof n);
    (void)!write(3, json, n);
  }
  return 0;
}
