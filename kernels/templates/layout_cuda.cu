// kernels/templates/layout_cuda.cu: the data-movement template for CUDA (Reshape and its
// kin, Transpose, Gather, Slice, Concat, Expand as byte copies): a grid-stride copy through
// the layout map, and for a Transpose of the last two dims a tiled kernel that reads and
// writes whole rows through shared memory. The generator replaces the prologue include with
// the task's constants; samples/ stands in for it when this file is compiled on its own.
#include <cuda_runtime.h>

#include "common.h"
#include "layout_prologue.h"  // kDtype, kElementBytes, kOp, kNumInputs, the op's constants, the parameters
#include "layout_problem.h"

namespace {

struct Params {
  const Element* src[kNumInputs];
  Element* y;
  LayoutMap map;
};

// One thread per output element (grid-stride).
__global__ void layout_kernel(Params p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.map.numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int k = 0;
    p.y[i] = *source_element(p.map, p.src, i, &k);
  }
}

// y[.., a, b] = x[.., b, a]: a kTileDim x kTileDim tile is read along a (x's rows), kept in
// shared memory (one padding column, so the transposed reads hit distinct banks) and
// written along b (y's rows), so both sides move whole rows. blockIdx.z walks the batch.
__global__ void tiled_transpose_kernel(Params p) {
  __shared__ Element tile[kTileDim][kTileDim + 1];
  const LayoutMap& m = p.map;
  const int r = m.rank;
  const int64_t A = m.shape[r - 2], B = m.shape[r - 1];
  const int64_t batches = m.numel / (A * B);
  const int64_t a0 = static_cast<int64_t>(blockIdx.y) * kTileDim, b0 = static_cast<int64_t>(blockIdx.x) * kTileDim;
  for (int64_t batch = blockIdx.z; batch < batches; batch += gridDim.z) {
    int64_t rest = batch, offset = m.base[0];
    for (int d = r - 3; d >= 0; --d) {
      offset += (rest % m.shape[d]) * m.coef[0][d];
      rest /= m.shape[d];
    }
    for (int j = threadIdx.y; j < kTileDim; j += kTileRows) {
      const int64_t a = a0 + threadIdx.x, b = b0 + j;
      if (a < A && b < B) tile[j][threadIdx.x] = p.src[0][offset + a * m.coef[0][r - 2] + b * m.coef[0][r - 1]];
    }
    __syncthreads();
    for (int j = threadIdx.y; j < kTileDim; j += kTileRows) {
      const int64_t a = a0 + j, b = b0 + threadIdx.x;
      if (a < A && b < B) p.y[batch * A * B + a * B + b] = tile[threadIdx.x][j];
    }
    __syncthreads();
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Params p;
  const int status = make_layout_map(inputs, num_inputs, outputs, num_outputs, &p.map);
  if (status != kOk) return status;
  if (p.map.numel == 0) return kOk;
  for (int k = 0; k < kNumInputs; ++k) p.src[k] = static_cast<const Element*>(inputs[k].data);
  p.y = static_cast<Element*>(outputs[0].data);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (kTiledTranspose && p.map.rank >= 2) {
    const int64_t A = p.map.shape[p.map.rank - 2], B = p.map.shape[p.map.rank - 1];
    const int64_t tiles_b = (B + kTileDim - 1) / kTileDim, tiles_a = (A + kTileDim - 1) / kTileDim;
    const int64_t batches = p.map.numel / (A * B);
    if (tiles_a <= 65535 && tiles_b <= 2147483647) {
      const dim3 grid(static_cast<unsigned>(tiles_b), static_cast<unsigned>(tiles_a),
                      static_cast<unsigned>(batches < 65535 ? batches : 65535));
      tiled_transpose_kernel<<<grid, dim3(kTileDim, kTileRows), 0, s>>>(p);
      return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
    }
  }
  // Enough blocks to cover the output, at most kMaxBlocks: the grid-stride loop covers the rest.
  const int64_t wanted = (p.map.numel + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
  layout_kernel<<<blocks, kThreadsPerBlock, 0, s>>>(p);
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
