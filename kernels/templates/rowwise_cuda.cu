// kernels/templates/rowwise_cuda.cu: the row-wise template (Softmax, LogSoftmax,
// LayerNormalization, RMSNormalization over the last axis; the norms also after a residual
// Add, kResidual) for CUDA. The generator
// replaces the prologue, dtype and row includes with the task's constants, storage type and
// the op's row function; samples/ stands in for them when this file is compiled on its own.
#include <cuda_runtime.h>

#include "rowwise_prologue.h"  // kDtype, the op's constants (kNumInputs, kEpsilon, ...), the parameters
#include "dtype.h"             // T, to_float(), from_float()
#include "rowwise_rows.h"

namespace {

using Acc = float;  // row sums in float32, combined across threads by a tree

// Sum and max over the kLanes threads that share a row (a warp, or a whole block); every
// one of them gets the result. Warps reduce with shuffles; a block combines its warps'
// partial results through shared memory.
template <int kLanes>
__device__ __forceinline__ float row_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if constexpr (kLanes > 32) {
    __shared__ float partial[kLanes / 32];
    __syncthreads();  // an earlier reduction may still be reading `partial`
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    v = threadIdx.x % 32 < kLanes / 32 ? partial[threadIdx.x % 32] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

template <int kLanes>
__device__ __forceinline__ float row_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if constexpr (kLanes > 32) {
    __shared__ float partial[kLanes / 32];
    __syncthreads();
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    v = threadIdx.x % 32 < kLanes / 32 ? partial[threadIdx.x % 32] : -INFINITY;
    for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

}  // namespace

#include "rowwise_row.h"  // compute_row<kLanes>(p, r, lane): the op on row r

namespace {

// One row per group of kLanes threads: threadIdx.x is the place in the row's group,
// threadIdx.y picks the row among the block's groups.
template <int kLanes>
__global__ void rows_kernel(Params p) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.y) + threadIdx.y; r < p.rows.count;
       r += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    compute_row<kLanes>(p, r, static_cast<int>(threadIdx.x));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Params p;
  const int status = make_params(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.rows.count == 0 || p.rows.length == 0) return kOk;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  constexpr int64_t kMaxBlocks = 65535;  // the row loop covers any remaining rows
  if (p.rows.length <= kWarpRowMaxLength) {
    // Short rows: a warp per row (shuffles only), kWarpRowsPerBlock rows per block.
    const int64_t wanted = (p.rows.count + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock;
    const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
    rows_kernel<32><<<blocks, dim3(32, kWarpRowsPerBlock), 0, s>>>(p);
  } else {
    // Long rows: a block of kBlockRowThreads per row (shuffles, then shared memory).
    const int blocks = static_cast<int>(p.rows.count < kMaxBlocks ? p.rows.count : kMaxBlocks);
    rows_kernel<kBlockRowThreads><<<blocks, dim3(kBlockRowThreads, 1), 0, s>>>(p);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
