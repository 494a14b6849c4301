// expect: RUNTIME_ERROR
// needs: sandbox
// Correct values, but forks a process that outlives the call, leaves the worker's group
// and later writes a forged message to the judge's socket. seccomp kills the worker at
// the fork (SIGSYS).
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
#include <unistd.h>
#include <cstdint>
#include <cstring>
__global__ void add_relu(const float* x, const float* b, float* y, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i] + b[i % cols];
    y[i] = v > 0 ? v : 0;
  }
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void* stream) {
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
  const int64_t n = in[0].shape[0] * in[0].shape[1];
  add_relu<<<256, 256, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<const float*>(in[0].data),
                                                              static_cast<const float*>(in[1].data),
                                                              static_cast<float*>(out[0].data), n, in[0].shape[1]);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}
