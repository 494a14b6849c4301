// kernels/templates/rowwise_log_softmax.h: one row of LogSoftmax,
// y = x - max(x) - log(sum(exp(x - max(x)))).
// Runs on the kLanes threads that share the row (see rowwise_softmax.h).
#pragma once

#include "rowwise_rows.h"

namespace {

template <int kLanes>
AK_FN void compute_row(const Params& p, int64_t r, int lane) {
  const T* x = p.x + row_offset(p.rows, r);
  const int64_t step = p.rows.step;
  const int64_t D = p.rows.length;
  T* y = p.y + r * D;
  // The max keeps expf() from overflowing.
  float max_value = -INFINITY;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) max_value = fmaxf(max_value, to_float(x[j * step]));
  max_value = row_max<kLanes>(max_value);
  Acc sum = 0;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) sum += expf(to_float(x[j * step]) - max_value);
  sum = row_sum<kLanes>(sum);
  const float shift = max_value + logf(static_cast<float>(sum));
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) y[j] = from_float(to_float(x[j * step]) - shift);
}

}  // namespace
