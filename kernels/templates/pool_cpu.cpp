// kernels/templates/pool_cpu.cpp: the pooling template for the CPU (MaxPool, AveragePool,
// GlobalMaxPool, GlobalAveragePool; NCHW, 1-3 spatial dims). The generator replaces the
// prologue and dtype includes with the task's attributes and storage type; samples/ stands
// in for them when this file is compiled on its own.
#include "pool_prologue.h"  // the attributes and the parameters (kRowsPerChunk, kMinParallelOutputs)
#include "dtype.h"          // T, to_float(), from_float()
#include "pool_problem.h"   // make_pool_problem(), pool_element()

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  PoolProblem p;
  const int status = make_pool_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.numel == 0) return kOk;
  const T* x = static_cast<const T*>(inputs[0].data);
  T* y = static_cast<T*>(outputs[0].data);
  // One iteration per output row (n, c, od, oh): its OW outputs are contiguous in Y. Small
  // outputs run on the calling thread: waking the OpenMP team costs microseconds.
  const int64_t rows = p.numel / p.out[2];
  const bool parallel = p.numel >= kMinParallelOutputs;
#pragma omp parallel for schedule(dynamic, kRowsPerChunk) if (parallel)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t oh = row % p.out[1];
    const int64_t od = row / p.out[1] % p.out[0];
    const int64_t plane = row / (p.out[1] * p.out[0]);
    const T* x_plane = x + plane / p.channels * p.x_stride[0] + plane % p.channels * p.x_stride[1];
    T* y_row = y + row * p.out[2];
    for (int64_t ow = 0; ow < p.out[2]; ++ow) y_row[ow] = from_float(pool_element(x_plane, p, od, oh, ow));
  }
  return kOk;
}
