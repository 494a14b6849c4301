// kernels/templates/matmul_cpu.cpp: the MatMul (+ bias) template for the CPU. The generator
// replaces the prologue and dtype includes with the task's constants and storage type;
// samples/ stands in for them when this file is compiled on its own.
#include "matmul_prologue.h"  // kDtype, kNumInputs, kHasBias, the tile sizes
#include "dtype.h"            // T, to_float(), from_float()
#include "matmul_problem.h"
#include "product_cpu.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.batch == 0 || p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  blocked_product(p, a, b, y, [&p](int64_t, int64_t j, float sum) {
    return kHasBias ? sum + to_float(p.bias[j * p.bias_step]) : sum;
  });
  return kOk;
}
