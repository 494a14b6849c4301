// kernels/templates/rowwise_cpu.cpp: the row-wise template (Softmax, LogSoftmax,
// LayerNormalization, RMSNormalization over the last axis; the norms also after a residual
// Add, kResidual) for the CPU. The generator
// replaces the prologue, dtype and row includes with the task's constants, storage type and
// the op's row function; samples/ stands in for them when this file is compiled on its own.
#include <type_traits>

#include "rowwise_prologue.h"  // kDtype, the op's constants (kNumInputs, kEpsilon, ...), the parameters
#include "dtype.h"             // T, to_float(), from_float()
#include "rowwise_rows.h"

namespace {

// Row sums accumulate in double unless kAccumulateDouble is off.
using Acc = std::conditional_t<kAccumulateDouble != 0, double, float>;

// One thread computes a whole row: its partial results are the row's.
template <int kLanes>
inline Acc row_sum(Acc v) { return v; }
template <int kLanes>
inline float row_max(float v) { return v; }

}  // namespace

#include "rowwise_row.h"  // compute_row<kLanes>(p, r, lane): the op on row r

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  (void)stream;
  Params p;
  const int status = make_params(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.rows.length == 0) return kOk;
  // One row per iteration; rows are independent. kRowsPerChunk = 0 splits the rows evenly
  // between the threads; otherwise threads take chunks of that many rows as they finish.
  if constexpr (kRowsPerChunk == 0) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < p.rows.count; ++r) compute_row<1>(p, r, 0);
  } else {
    constexpr int kChunk = kRowsPerChunk > 0 ? kRowsPerChunk : 1;  // g++ checks the chunk in either branch
#pragma omp parallel for schedule(dynamic, kChunk)
    for (int64_t r = 0; r < p.rows.count; ++r) compute_row<1>(p, r, 0);
  }
  return kOk;
}
