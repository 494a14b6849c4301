// kernels/templates/rotary_cuda.cu: the rotary-embedding template for CUDA, both exported
// forms (halves by Split or by two Slices) in one kernel. The generator replaces the
// prologue and dtype includes with the task's constants and storage type; samples/ stands
// in for them when this file is compiled on its own.
#include <cuda_runtime.h>

#include "elementwise_prologue.h"  // kDtype, kNumInputs = 3, the parameters (the elementwise template's)
#include "dtype.h"                 // T, to_float(), from_float()
#include "rotary_rows.h"

namespace {

struct Params {
  const T* x[kNumInputs];
  T* y;
  Layout layout;
};

// One thread per output element (grid-stride): its row gives each input's row start.
__global__ void rotary_kernel(Params p) {
  const int rank = p.layout.rank;
  const int64_t n = p.layout.numel, D = p.layout.shape[rank - 1];
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t offset[kNumInputs];
    row_offsets(p.layout, i / D, offset);
    p.y[i] = from_float(rotary_element(p.x[0] + offset[0], p.layout.stride[0][rank - 1], p.x[1] + offset[1],
                                       p.layout.stride[1][rank - 1], p.x[2] + offset[2],
                                       p.layout.stride[2][rank - 1], i % D, D));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Params p;
  const int status = make_rotary_layout(inputs, num_inputs, outputs, num_outputs, &p.layout);
  if (status != kOk) return status;
  if (p.layout.numel == 0) return kOk;
  for (int k = 0; k < kNumInputs; ++k) p.x[k] = static_cast<const T*>(inputs[k].data);
  p.y = static_cast<T*>(outputs[0].data);
  // Enough blocks to cover the output, at most kMaxBlocks: the grid-stride loop covers the rest.
  const int64_t wanted = (p.layout.numel + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const int blocks = static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
  rotary_kernel<<<blocks, kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(p);
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
