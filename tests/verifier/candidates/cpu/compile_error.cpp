// expect: COMPILE_ERROR
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void*) {
  out[0].data = in[0].data + ;  // a syntax error
  return 0;
}
