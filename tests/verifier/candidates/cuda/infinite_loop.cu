// expect: TIMEOUT
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
__global__ void spin(volatile int* flag) {
  while (*flag == 0) {
  }
}
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor* out, int32_t, void* stream) {
  cudaMemsetAsync(out[0].data, 0, 4, static_cast<cudaStream_t>(stream));
  spin<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<volatile int*>(out[0].data));
  return 0;
}
