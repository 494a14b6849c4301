// expect: RUNTIME_ERROR
// Correct values, plus one element written just past the end of the output.
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
__global__ void add_relu(const float* x, const float* b, float* y, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i <= n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = i < n ? x[i] + b[i % cols] : 42.0f;
    y[i] = v > 0 ? v : 0;
  }
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void* stream) {
  const int64_t n = in[0].shape[0] * in[0].shape[1];
  add_relu<<<64, 256, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<const float*>(in[0].data),
      static_cast<const float*>(in[1].data), static_cast<float*>(out[0].data), n, in[0].shape[1]);
  return 0;
}
