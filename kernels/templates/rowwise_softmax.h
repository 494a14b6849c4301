// kernels/templates/rowwise_softmax.h: one row of Softmax,
// y = exp(x - max(x)) / sum(exp(x - max(x))), or with kLogSoftmax of LogSoftmax,
// y = x - max(x) - log(sum(exp(x - max(x)))).
// Runs on the kLanes threads that share the row (lane = this thread's place among them; on
// the CPU kLanes = 1); row_max/row_sum combine their partial results.
#pragma once

#include "rowwise_rows.h"

namespace {

template <int kLanes>
AK_FN void compute_row(const Params& p, int64_t r, int lane) {
  const auto [x, step, D, y] = row_of(p, r);
  // Subtracting the row max keeps expf() from overflowing (numerically stable softmax).
  float max_value = -INFINITY;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) max_value = fmaxf(max_value, to_float(x[j * step]));
  max_value = row_max<kLanes>(max_value);
  Acc sum = 0;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) sum += expf(to_float(x[j * step]) - max_value);
  sum = row_sum<kLanes>(sum);
  if constexpr (kLogSoftmax) {
    const float shift = max_value + logf(static_cast<float>(sum));
    AK_UNROLL(kUnroll)
    for (int64_t j = lane; j < D; j += kLanes) y[j] = from_float(to_float(x[j * step]) - shift);
  } else {
    const float inv_sum = static_cast<float>(1 / sum);
    AK_UNROLL(kUnroll)
    for (int64_t j = lane; j < D; j += kLanes) y[j] = from_float(expf(to_float(x[j * step]) - max_value) * inv_sum);
  }
}

}  // namespace
