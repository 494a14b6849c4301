// expect: RUNTIME_ERROR
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
__global__ void scribble(float* y) { y[threadIdx.x + (int64_t(1) << 40)] = 1.0f; }
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor* out, int32_t, void* stream) {
  scribble<<<1, 32, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<float*>(out[0].data));
  return 0;
}
