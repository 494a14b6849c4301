// kernels/templates/rowwise_layer_norm.h: one row of LayerNormalization,
// y = (x - mean(x)) / sqrt(var(x) + epsilon) * scale (+ bias), and ONNX's optional Mean and
// InvStdDev outputs; with kResidual of the residual sum h = x + residual (written when the
// task has it) instead of x. Runs on the kLanes threads that share the row (see
// rowwise_softmax.h).
#pragma once

#include "rowwise_rows.h"

namespace {

template <int kLanes>
AK_FN void compute_row(const Params& p, int64_t r, int lane) {
  const Row row = row_of(p, r);
  const ResidualRow res = residual_of(p, r);
  const int64_t D = row.D;
  // Two passes (mean, then the mean of squared deviations) for an accurate variance. Each
  // pass reads the row again (h recomputed from x and the residual: the same rounding).
  Acc sum = 0;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float v = norm_input(row, res, j);
    store_sum(res, j, v);
    sum += v;
  }
  sum = row_sum<kLanes>(sum);
  const float mean = static_cast<float>(sum / D);
  Acc squares = 0;
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float deviation = norm_input(row, res, j) - mean;
    squares += deviation * deviation;
  }
  squares = row_sum<kLanes>(squares);
  const float inv_std_dev = 1.0f / sqrtf(static_cast<float>(squares / D) + kEpsilon);
  AK_UNROLL(kUnroll)
  for (int64_t j = lane; j < D; j += kLanes) {
    const float normalized = scale_input((norm_input(row, res, j) - mean) * inv_std_dev);
    const float shifted = normalized * to_float(p.scale[j * p.scale_step]);
    row.y[j] = to_output(kHasBias ? shifted + to_float(p.bias[j * p.bias_step]) : shifted);
  }
  // ONNX's optional outputs Mean and InvStdDev (float32, one value per row).
  if (lane == 0 && p.mean) p.mean[r] = mean;
  if (lane == 0 && p.inv_std_dev) p.inv_std_dev[r] = inv_std_dev;
}

}  // namespace
