// kernels/templates/layout_cpu.cpp: the data-movement template for the CPU (Reshape and
// its kin, Transpose, Gather, Slice, Concat, Expand as byte copies). The generator
// replaces the prologue include with the task's constants; samples/ stands in for it when
// this file is compiled on its own.
#include "common.h"
#include "layout_prologue.h"  // kDtype, kElementBytes, kOp, kNumInputs, the op's constants, the parameters
#include "layout_problem.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  LayoutMap m;
  const int status = make_layout_map(inputs, num_inputs, outputs, num_outputs, &m);
  if (status != kOk) return status;
  if (m.numel == 0) return kOk;
  const Element* src[kNumInputs];
  for (int k = 0; k < kNumInputs; ++k) src[k] = static_cast<const Element*>(inputs[k].data);
  Element* y = static_cast<Element*>(outputs[0].data);
  const int last = m.rank - 1;
  const int64_t inner = m.rank > 0 ? m.shape[last] : 1;
  const int64_t rows = m.numel / inner;
  // A row of the index space's last dim is one strided run of one input, unless that dim
  // picks the input (Concat) or reads the index table (Gather).
  const bool strided_rows = m.rank > 0 && last != m.split_dim && last != m.table_dim;
  // Small outputs run on the calling thread: waking the OpenMP team costs microseconds.
  const bool parallel = m.numel >= kMinParallelElements;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t row = 0; row < rows; ++row) {
    Element* out = y + row * inner;
    int k = 0;
    if (strided_rows) {
      const Element* in = source_element(m, src, row * inner, &k);
      const int64_t step = m.coef[k][last];
      if (step == 1) {
        memcpy(out, in, static_cast<size_t>(inner) * sizeof(Element));
      } else {
        for (int64_t j = 0; j < inner; ++j) out[j] = in[j * step];
      }
    } else {
      for (int64_t j = 0; j < inner; ++j) out[j] = *source_element(m, src, row * inner + j, &k);
    }
  }
  return kOk;
}
