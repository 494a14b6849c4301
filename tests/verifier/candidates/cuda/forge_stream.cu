// expect: CHEAT_SUSPECTED
// Correct values on a stream of its own that the caller never waits for (free in the
// events on the given stream); when its stream is checked (the call after the last gate
// case), it sends the judge a clean stream result and "gates_done" of its own.
#include <autokernel_kernel.h>
#include <cuda_runtime.h>
#include <unistd.h>
#include <cstdint>
#include <cstring>
__global__ void add_relu(const float* x, const float* b, float* y, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i] + b[i % cols];
    y[i] = v > 0 ? v : 0;
  }
}
static void frame(const char* json) {
  const uint64_t n = std::strlen(json);
  (void)!write(3, &n, sizeof n);
  (void)!write(3, json, n);
}
extern "C" int autokernel_kernel(const ak_tensor* in, int32_t, ak_tensor* out, int32_t, void* stream) {
  static cudaStream_t mine = nullptr;
  if (mine == nullptr) cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking);
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &capturing);
  if (capturing == cudaStreamCaptureStatusActive) {
    frame("{\"event\":\"stream_result\",\"error\":\"\"}");
    frame("{\"event\":\"gates_done\"}");
  }
  const int64_t n = in[0].shape[0] * in[0].shape[1];
  add_relu<<<64, 256, 0, mine>>>(static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data),
                                 static_cast<float*>(out[0].data), n, in[0].shape[1]);
  return 0;
}
