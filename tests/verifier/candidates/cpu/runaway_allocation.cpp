// expect: RUNTIME_ERROR
// Allocates and touches memory until something stops it.
#include <autokernel_kernel.h>
#include <cstdlib>
#include <cstring>
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) {
  for (;;) {
    char* p = static_cast<char*>(std::malloc(size_t{1} << 30));
    std::memset(p, 1, size_t{1} << 30);  // NULL once the limit is hit: a crash
  }
}
