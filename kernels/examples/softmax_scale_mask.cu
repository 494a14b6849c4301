// BERT's attention probabilities: y = Softmax(scores / 8 + mask) over the last axis, where
// 8 = sqrt(head size 64) is the Div constant of the task's subgraph. One warp per row, the
// row in registers (cols <= 1024), one read and one write of the scores instead of three
// kernels. Task: inputs {scores [batch, 12, 128, 128], mask [batch, 1, 1, 128]} float32.
#include <autokernel_kernel.h>
#include <cuda_runtime.h>

constexpr int kMaxPerLane = 32;  // cols <= 32 * 32

__global__ void softmax_rows(const float* __restrict__ scores, const float* __restrict__ mask, float* __restrict__ y,
                             int64_t num_rows, int64_t rows_per_batch, int cols, float scale) {
  const int lane = threadIdx.x & 31;
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  if (row >= num_rows) return;
  const float* s = scores + row * cols;
  const float* m = mask + (row / rows_per_batch) * cols;
  float v[kMaxPerLane];
  float mx = -INFINITY;
#pragma unroll
  for (int k = 0; k < kMaxPerLane; ++k) {
    const int c = lane + 32 * k;
    v[k] = c < cols ? s[c] * scale + m[c] : -INFINITY;
    mx = fmaxf(mx, v[k]);
  }
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  float sum = 0;
#pragma unroll
  for (int k = 0; k < kMaxPerLane; ++k) {
    v[k] = lane + 32 * k < cols ? __expf(v[k] - mx) : 0.0f;
    sum += v[k];
  }
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float inv = 1.0f / sum;
#pragma unroll
  for (int k = 0; k < kMaxPerLane; ++k) {
    const int c = lane + 32 * k;
    if (c < cols) y[row * cols + c] = v[k] * inv;
  }
}

extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  if (n_in != 2 || n_out != 1) return 1;
  if (in[0].dtype != AK_DTYPE_FLOAT || in[1].dtype != AK_DTYPE_FLOAT) return 2;
  if (in[0].rank != 4 || in[1].rank != 4) return 3;
  const int64_t batch = in[0].shape[0], heads = in[0].shape[1], rows = in[0].shape[2], cols = in[0].shape[3];
  if (in[1].shape[0] != batch || in[1].shape[1] != 1 || in[1].shape[2] != 1 || in[1].shape[3] != cols) return 4;
  if (cols > 32 * kMaxPerLane) return 5;
  const int64_t num_rows = batch * heads * rows;
  const int warps_per_block = 8;
  const int64_t blocks = (num_rows + warps_per_block - 1) / warps_per_block;
  softmax_rows<<<static_cast<unsigned>(blocks), 32 * warps_per_block, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data), static_cast<float*>(out[0].data),
      num_rows, heads * rows, static_cast<int>(cols), 1.0f / 8.0f);
  return cudaGetLastError() == cudaSuccess ? 0 : 7;
}
