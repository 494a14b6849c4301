// expect: INCORRECT_NUMERICAL
// Keeps the first call's answer in a buffer of its own and replays it.
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
__global__ void add_relu(const float* x, const float* b, float* y, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i] + b[i % cols];
    y[i] = v > 0 ? v : 0;
  }
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void* stream) {
  static float* cache = nullptr;
  static int64_t cached_n = 0;
  const int64_t n = in[0].shape[0] * in[0].shape[1];
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (cache == nullptr) {
    cudaMalloc(&cache, n * sizeof(float));
    cached_n = n;
    add_relu<<<64, 256, 0, s>>>(static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data), cache, n,
                                in[0].shape[1]);
  }
  cudaMemcpyAsync(out[0].data, cache, (n < cached_n ? n : cached_n) * sizeof(float), cudaMemcpyDeviceToDevice, s);
  return 0;
}
