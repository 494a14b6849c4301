// expect: RUNTIME_ERROR
#include <autokernel_kernel.h>
#include <cstdlib>
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) {
  std::abort();
}
