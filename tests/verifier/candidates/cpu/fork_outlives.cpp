// expect: RUNTIME_ERROR
// needs: sandbox
// Correct values, but forks a process that outlives the call, leaves the worker's group
// and later writes a forged message to the judge's socket. seccomp kills the worker at
// the fork (SIGSYS).
#include <autokernel_kernel.h>
#include <unistd.h>
#include <cstdint>
#include <cstring>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  static bool forked = false;
  if (!forked) {
    forked = true;
    if (fork() == 0) {
      setsid();
      sleep(2);
      const char* json = "{\"event\":\"gates_done\"}";
      const uint64_t n = std::strlen(json);
      (void)!write(3, &n, sizeof n);
      (void)!write(3, json, n);
      _exit(0);
    }
  }
  const float* x = static_cast<const float*>(in[0].data);
  const float* b = static_cast<const float*>(in[1].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  for (int64_t i = 0; i < rows * cols; ++i) y[i] = x[i] + b[i % cols] > 0 ? x[i] + b[i % cols] : 0;
  return 0;
}
