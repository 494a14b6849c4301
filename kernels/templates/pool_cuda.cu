// kernels/templates/pool_cuda.cu: the pooling template for CUDA (MaxPool, AveragePool,
// GlobalMaxPool, GlobalAveragePool; NCHW, 1-3 spatial dims), one thread per output element.
// The generator replaces the prologue and dtype includes with the task's attributes and
// storage type; samples/ stands in for them when this file is compiled on its own.
#include <cuda_runtime.h>

#include "pool_prologue.h"  // the attributes and the parameters (kThreadsPerBlock, kMaxBlocks)
#include "dtype.h"          // T, to_float(), from_float()
#include "pool_problem.h"   // make_pool_problem(), pool_output()

namespace {

// Grid-stride over the outputs of Y (contiguous); each thread reduces its window.
__global__ void pool_kernel(const T* x, T* y, PoolProblem p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = from_float(pool_output(x, p, i));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  PoolProblem p;
  const int status = make_pool_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.numel == 0) return kOk;
  // Enough blocks to cover the output, at most kMaxBlocks: the grid-stride loop covers the rest.
  const int64_t wanted = (p.numel + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
  pool_kernel<<<blocks, kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const T*>(inputs[0].data), static_cast<T*>(outputs[0].data), p);
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
