// kernels/templates/elementwise_cuda.cu: the elementwise-chain template for CUDA.
// The generator replaces the prologue, dtype and apply includes with the task's constants,
// storage type and fused expression; samples/ stands in for them when this file is
// compiled on its own.
#include <cuda_runtime.h>

#include "elementwise_prologue.h"  // kDtype, kNumInputs, the parameters
#include "dtype.h"                 // T, to_float(), from_float()
#include "elementwise_ops.h"
#include "elementwise_apply.h"     // apply(x): one output element from kNumInputs input values
#include "elementwise_layout.h"

namespace {

// Kernel arguments, passed by value (they live in the kernel's constant parameter space).
struct Params {
  const T* x[kNumInputs];
  T* y;
  Layout layout;
};

// Fast path: no broadcasting, element i of every input belongs to y[i].
__global__ void elementwise_flat(Params p) {
  const int64_t n = p.layout.numel;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v[kNumInputs];
#pragma unroll
    for (int k = 0; k < kNumInputs; ++k) v[k] = to_float(p.x[k][i]);
    p.y[i] = from_float(apply(v));
  }
}

// Broadcast path: each thread turns its flat index into y's coordinates and each input's
// offset (broadcast strides are 0).
__global__ void elementwise_broadcast(Params p) {
  const int64_t n = p.layout.numel;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t offset[kNumInputs] = {};
    int64_t rest = i;
    for (int d = p.layout.rank - 1; d >= 0; --d) {
      const int64_t coordinate = rest % p.layout.shape[d];
      rest /= p.layout.shape[d];
#pragma unroll
      for (int k = 0; k < kNumInputs; ++k) offset[k] += coordinate * p.layout.stride[k][d];
    }
    float v[kNumInputs];
#pragma unroll
    for (int k = 0; k < kNumInputs; ++k) v[k] = to_float(p.x[k][offset[k]]);
    p.y[i] = from_float(apply(v));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  Params p;
  const int status = make_layout(inputs, outputs[0], &p.layout);
  if (status != kOk) return status;
  if (p.layout.numel == 0) return kOk;
  for (int k = 0; k < kNumInputs; ++k) p.x[k] = static_cast<const T*>(inputs[k].data);
  p.y = static_cast<T*>(outputs[0].data);

  // Enough blocks to cover the output, at most kMaxBlocks: the grid-stride loops cover the rest.
  const int64_t wanted = (p.layout.numel + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (p.layout.same_as_output) {
    elementwise_flat<<<blocks, kThreadsPerBlock, 0, s>>>(p);
  } else {
    elementwise_broadcast<<<blocks, kThreadsPerBlock, 0, s>>>(p);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
