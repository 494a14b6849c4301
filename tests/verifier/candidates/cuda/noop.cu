// expect: INCORRECT_NUMERICAL
#include <autokernel_kernel.h>
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) { return 0; }
