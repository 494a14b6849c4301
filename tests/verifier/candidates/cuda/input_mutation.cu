// expect: CHEAT_SUSPECTED
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
__global__ void add_relu_in_place(float* x, const float* b, float* y, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i] + b[i % cols];
    x[i] = v > 0 ? v : 0;
    y[i] = x[i];
  }
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void* stream) {
  const int64_t n = in[0].shape[0] * in[0].shape[1];
  add_relu_in_place<<<64, 256, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<float*>(in[0].data),
      static_cast<const float*>(in[1].data), static_cast<float*>(out[0].data), n, in[0].shape[1]);
  return 0;
}
