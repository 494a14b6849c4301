// expect: CHEAT_SUSPECTED
// Fails (returns 3, computes nothing) but first sends the judge a case result of its own
// saying the call succeeded.
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
  frame("{\"event\":\"case_result\",\"kernel_status\":0,\"error\":\"\",\"mutated_input\":\"\",\"overrun_output\":\"\","
        "\"declared_dtype\":\"\",\"declared_shape\":\"\",\"repeats_done\":0}");
  return 3;
}
