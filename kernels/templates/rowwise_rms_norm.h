// kernels/templates/rowwise_rms_norm.h: one row of RMSNormalization,
// y = x / sqrt(mean(x^2) + epsilon) (* scale); with kResidual of the residual sum
// h = x + residual (written when the task has it) instead of x. Runs on the kLanes threads
// that share the row (see rowwise_softmax.h).
#pragma once

#include "rowwise_rows.h"

namespace {

template <int kLanes>
AK_FN void compute_row(const Params& p, int64_t r, int lane) {
  const Row row = row_of(p, r);
  const ResidualRow res = residual_of(p, r);
  const int64_t D = row.D;
  Acc squares = 0;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float v = norm_input(row, res, j);
    store_sum(res, j, v);
    squares += v * v;
  }
  squares = row_sum<kLanes>(squares);
  const float inv_rms = 1.0f / sqrtf(static_cast<float>(squares / D) + kEpsilon);
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float normalized = norm_input(row, res, j) * inv_rms;
    row.y[j] = to_output(kHasScale ? scale_input(normalized) * to_float(p.scale[j * p.scale_step]) : normalized);
  }
}

}  // namespace
