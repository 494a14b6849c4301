// kernels/templates/gemm_cpu.cpp: the Gemm template for the CPU (the MatMul template's
// blocked loop with one batch). The generator replaces the prologue and dtype includes with
// the task's constants and storage type; samples/ stands in for them when this file is
// compiled on its own.
#include "gemm_prologue.h"  // kDtype, kNumInputs, kTransA/B, kAlpha, kBeta, kHasC, the tile sizes
#include "dtype.h"          // T, to_float(), from_float()
#include "gemm_problem.h"
#include "product_cpu.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  // Y = alpha * A'B' + beta * C; the generator leaves the C term out when beta is 0.
  blocked_product(p, a, b, y, [&p](int64_t i, int64_t j, float sum) {
    if (!kCTerm) return kAlpha * sum;
    return kAlpha * sum + kBeta * to_float(p.c[i * p.c_row_stride + j * p.c_col_stride]);
  });
  return kOk;
}
