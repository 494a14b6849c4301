// kernels/templates/gemm_epilogue_cpu.cpp: the GEMM-with-epilogue template for the CPU: the
// products' blocked loop (MatMul's or Gemm's shapes) with the fused epilogue (bias,
// activation, residual, scale, Cast) applied in the store, so Y is written once. The
// generator replaces the prologue, dtype, shape and apply includes with the task's constants,
// storage type, shape checks and epilogue expression; samples/ stands in for them when this
// file is compiled on its own.
#include "gemm_epilogue_prologue.h"  // kDtype, kOutputDtype, kNumInputs, kAlpha, the tile sizes
#include "dtype.h"                   // T, to_float(), from_float()
#include "gemm_epilogue_shape.h"     // make_problem(): matmul_problem.h or gemm_problem.h
#include "product_cpu.h"
#include "elementwise_ops.h"
#include "epilogue_apply.h"          // apply(x): Y's element from x[0] = the product, x[1..] the epilogue tensors
#include "epilogue_layout.h"

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Problem p;
  int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  EpilogueLayout e;
  status = make_epilogue_layout(inputs + kFirstEpilogueInput, outputs[0], &e);
  if (status != kOk) return status;
  if (p.batch == 0 || p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  const T* x[kExtraSlots] = {};
  for (int k = 0; k < kExtraInputs; ++k) x[k] = static_cast<const T*>(inputs[kFirstEpilogueInput + k].data);
  Out* y = static_cast<Out*>(outputs[0].data);
  // A row segment of Y lies along Y's last dim (when N > 1 that dim is N), so each epilogue
  // tensor's offsets are found once per segment and then step by its last stride.
  blocked_product_rows(p, a, b, y, [&](int64_t row, int64_t j0, int64_t cols, const float* acc, Out* y_row) {
    int64_t offset[kExtraSlots];
    epilogue_offsets(e, row * p.N + j0, offset);
    for (int64_t j = 0; j < cols; ++j) {
      float v[kExtraInputs + 1];
      v[0] = kAlpha * acc[j];
      for (int k = 0; k < kExtraInputs; ++k) v[k + 1] = to_float(x[k][offset[k] + j * e.stride[k][e.rank - 1]]);
      store(&y_row[j], apply(v));
    }
  });
  return kOk;
}
