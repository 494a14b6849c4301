// GELU, tanh form, as GPT-2's export spells it in 9 elementwise nodes:
//   y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
// One kernel instead of nine, float4 loads, and 0.5 * (1 + tanh(z)) = 1 / (1 + exp(-2z)).
// Task: inputs {x [batch, 128, 3072] float32}, output y like x.
#include <autokernel_kernel.h>
#include <cuda_runtime.h>

__device__ __forceinline__ float gelu(float v) {
  const float z = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  return v / (1.0f + __expf(-2.0f * z));
}

__global__ void gelu_vec4(const float4* __restrict__ x, float4* __restrict__ y, int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4; i += int64_t(gridDim.x) * blockDim.x) {
    float4 v = x[i];
    v.x = gelu(v.x);
    v.y = gelu(v.y);
    v.z = gelu(v.z);
    v.w = gelu(v.w);
    y[i] = v;
  }
}

__global__ void gelu_tail(const float* __restrict__ x, float* __restrict__ y, int64_t start, int64_t n) {
  const int64_t i = start + blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = gelu(x[i]);
}

extern "C" int autokernel_kernel(const ak_tensor* in, int32_t n_in, ak_tensor* out, int32_t n_out, void* stream) {
  if (n_in != 1 || n_out != 1) return 1;
  if (in[0].dtype != AK_DTYPE_FLOAT || out[0].dtype != AK_DTYPE_FLOAT) return 2;
  int64_t n = 1;
  for (int d = 0; d < in[0].rank; ++d) n *= in[0].shape[d];
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const float* x = static_cast<const float*>(in[0].data);
  float* y = static_cast<float*>(out[0].data);
  const int64_t n4 = n / 4;
  if (n4 > 0) {
    const int64_t blocks = (n4 + 255) / 256;
    gelu_vec4<<<static_cast<int>(blocks < 8192 ? blocks : 8192), 256, 0, s>>>(reinterpret_cast<const float4*>(x),
                                                                            reinterpret_cast<float4*>(y), n4);
  }
  if (n % 4 != 0) gelu_tail<<<1, 4, 0, s>>>(x, y, n4 * 4, n);
  return cudaGetLastError() == cudaSuccess ? 0 : 7;
}
