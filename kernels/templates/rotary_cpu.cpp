// kernels/templates/rotary_cpu.cpp: the rotary-embedding template for the CPU, both
// exported forms (halves by Split or by two Slices) in one pass over x. The generator
// replaces the prologue and dtype includes with the task's constants and storage type;
// samples/ stands in for them when this file is compiled on its own.
#include "elementwise_prologue.h"  // kDtype, kNumInputs = 3, the parameters (the elementwise template's)
#include "dtype.h"                 // T, to_float(), from_float()
#include "rotary_rows.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Layout layout;
  const int status = make_rotary_layout(inputs, num_inputs, outputs, num_outputs, &layout);
  if (status != kOk) return status;
  if (layout.numel == 0) return kOk;
  const T* x[kNumInputs];
  for (int k = 0; k < kNumInputs; ++k) x[k] = static_cast<const T*>(inputs[k].data);
  T* y = static_cast<T*>(outputs[0].data);
  const int rank = layout.rank;
  const int64_t D = layout.shape[rank - 1];
  const int64_t rows = layout.numel / D;
  // Small outputs run on the calling thread: waking the OpenMP team costs microseconds.
  const bool parallel = layout.numel >= kMinParallelElements;
  // One iteration per row of the last dim; each input's row start from its broadcast strides.
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset[kNumInputs];
    row_offsets(layout, row, offset);
    T* y_row = y + row * D;
    for (int64_t j = 0; j < D; ++j) {
      y_row[j] = from_float(rotary_element(x[0] + offset[0], layout.stride[0][rank - 1], x[1] + offset[1],
                                           layout.stride[1][rank - 1], x[2] + offset[2], layout.stride[2][rank - 1],
                                           j, D));
    }
  }
  return kOk;
}
