// expect: COMPILE_ERROR
#include <autokernel_kernel.h>
__global__ void broken(float* y) { y[threadIdx.x] = undefined_name; }
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) { return 0; }
