// kernels/templates/elementwise_cpu.cpp: the elementwise-chain template for the CPU.
// The generator replaces the prologue, dtype and apply includes with the task's constants,
// storage type and fused expression; samples/ stands in for them when this file is
// compiled on its own.
#include "elementwise_prologue.h"  // kDtype, kNumInputs, the parameters
#include "dtype.h"                 // T, to_float(), from_float()
#include "elementwise_ops.h"
#include "elementwise_apply.h"     // apply(x): one output element from kNumInputs input values
#include "elementwise_layout.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  Layout layout;
  const int status = make_layout(inputs, outputs[0], &layout);
  if (status != kOk) return status;
  if (layout.numel == 0) return kOk;
  const T* x[kNumInputs];
  for (int k = 0; k < kNumInputs; ++k) x[k] = static_cast<const T*>(inputs[k].data);
  T* y = static_cast<T*>(outputs[0].data);
  // Small outputs run on the calling thread: waking the OpenMP team costs microseconds.
  const bool parallel = layout.numel >= kMinParallelElements;

  if (layout.same_as_output) {
    // Fast path: no broadcasting, element i of every input belongs to y[i].
    const int64_t n = layout.numel;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < n; ++i) {
      float v[kNumInputs];
      for (int k = 0; k < kNumInputs; ++k) v[k] = to_float(x[k][i]);
      y[i] = from_float(apply(v));
    }
    return kOk;
  }

  // Broadcast path: one parallel iteration per row of y's last dim; each input's row start
  // comes from its broadcast strides, and it steps along the row by its last stride
  // (0 when it is broadcast along the row).
  const int rank = layout.rank;
  const int64_t row_length = layout.shape[rank - 1];
  const int64_t rows = layout.numel / row_length;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset[kNumInputs];
    row_offsets(layout, row, offset);
    const T* x_row[kNumInputs];
    int64_t x_step[kNumInputs];
    for (int k = 0; k < kNumInputs; ++k) {
      x_row[k] = x[k] + offset[k];
      x_step[k] = layout.stride[k][rank - 1];
    }
    T* y_row = y + row * row_length;
    for (int64_t j = 0; j < row_length; ++j) {
      float v[kNumInputs];
      for (int k = 0; k < kNumInputs; ++k) v[k] = to_float(x_row[k][j * x_step[k]]);
      y_row[j] = from_float(apply(v));
    }
  }
  return kOk;
}
