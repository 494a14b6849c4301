// expect: RUNTIME_ERROR
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) {
  volatile float* p = nullptr;
  *p = 1.0f;
  return 0;
}
