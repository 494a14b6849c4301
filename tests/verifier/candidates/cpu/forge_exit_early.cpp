// expect: CHEAT_SUSPECTED
// Computes nothing: tells the judge over the worker's socket (fd 3) that the cases are
// done and exits cleanly before the worker can report what really happened.
#include <autokernel_kernel.h>
#include <unistd.h>
#include <cstdint>
#include <cstring>
static void frame(const char* json) {
  const uint64_t n = std::strlen(json);
  (void)!write(3, &n, sizeof n);
  (void)!write(3, json, n);
}
extern "C" int autokernel_kernel(const ak_tensor*, int32_t, ak_tensor*, int32_t, void*) {
  frame("{\"event\":\"gates_done\"}");
  _exit(0);
}
