// kernels/templates/rowwise_rms_norm.h: one row of RMSNormalization,
// y = x / sqrt(mean(x^2) + epsilon) (* scale). Runs on the kLanes threads that share the
// row (see rowwise_softmax.h).
#pragma once

#include "rowwise_rows.h"

namespace {

template <int kLanes>
AK_FN void compute_row(const Params& p, int64_t r, int lane) {
  const auto [x, step, D, y] = row_of(p, r);
  Acc squares = 0;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float v = to_float(x[j * step]);
    squares += v * v;
  }
  squares = row_sum<kLanes>(squares);
  const float inv_rms = 1.0f / sqrtf(static_cast<float>(squares / D) + kEpsilon);
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float normalized = to_float(x[j * step]) * inv_rms;
    y[j] = from_float(kHasScale ? normalized * to_float(p.scale[j * p.scale_step]) : normalized);
  }
}

}  // namespace
