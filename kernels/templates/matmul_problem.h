// kernels/templates/matmul_problem.h: ONNX MatMul's shapes (numpy matmul: broadcast batch
// dims, 1-D operands) and the optional bias of the MatMul + Add epilogue (both targets).
#pragma once

#include "matmul_prologue.h"
#include "dtype.h"
#include "product_problem.h"

namespace {

// Checks counts, dtypes and shapes; fills `p`. Returns kOk or an error code.
inline int make_problem(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs, int32_t num_outputs,
                        Problem* p) {
  if (const int status = check_operands(inputs, num_inputs, outputs, num_outputs); status != kOk) return status;
  const ak_tensor& a = inputs[0];
  const ak_tensor& b = inputs[1];
  const ak_tensor& y = outputs[0];
  if (a.rank < 1 || a.rank > AK_MAX_RANK || b.rank < 1 || b.rank > AK_MAX_RANK) return kErrRank;
  const bool a_vector = a.rank == 1;
  const bool b_vector = b.rank == 1;
  p->M = a_vector ? 1 : a.shape[a.rank - 2];
  p->K = a.shape[a.rank - 1];
  p->N = b_vector ? 1 : b.shape[b.rank - 1];
  if ((b_vector ? b.shape[0] : b.shape[b.rank - 2]) != p->K) return kErrShape;
  if (p->M < 0 || p->K < 0 || p->N < 0) return kErrShape;
  p->a_row_stride = a_vector ? 0 : a.strides[a.rank - 2];
  p->a_col_stride = a.strides[a.rank - 1];
  p->b_row_stride = b_vector ? b.strides[0] : b.strides[b.rank - 2];
  p->b_col_stride = b_vector ? 0 : b.strides[b.rank - 1];

  // Batch dims broadcast like elementwise dims, aligned from the right.
  const int a_batch_rank = a.rank > 2 ? a.rank - 2 : 0;
  const int b_batch_rank = b.rank > 2 ? b.rank - 2 : 0;
  p->batch_rank = a_batch_rank > b_batch_rank ? a_batch_rank : b_batch_rank;
  for (int d = 0; d < p->batch_rank; ++d) {
    const int da = d - (p->batch_rank - a_batch_rank);  // A's dim, or < 0 when A lacks it
    const int db = d - (p->batch_rank - b_batch_rank);
    const int64_t size_a = da >= 0 ? a.shape[da] : 1;
    const int64_t size_b = db >= 0 ? b.shape[db] : 1;
    if (size_a < 0 || size_b < 0 || (size_a != size_b && size_a != 1 && size_b != 1)) return kErrShape;
    const int64_t size = size_a == 1 ? size_b : size_a;
    p->batch_shape[d] = size;
    p->a_batch_stride[d] = size_a == 1 ? 0 : a.strides[da];
    p->b_batch_stride[d] = size_b == 1 ? 0 : b.strides[db];
    p->batch *= size;
  }

  // Y = [batch dims..., M unless A is 1-D, N unless B is 1-D].
  int64_t expected[AK_MAX_RANK + 2];
  int rank = 0;
  for (int d = 0; d < p->batch_rank; ++d) expected[rank++] = p->batch_shape[d];
  if (!a_vector) expected[rank++] = p->M;
  if (!b_vector) expected[rank++] = p->N;
  if (y.rank != rank) return kErrShape;
  for (int d = 0; d < rank; ++d) {
    if (y.shape[d] != expected[d]) return kErrShape;
  }
  if (kHasBias) {
    // The bias (MatMul + Add epilogue): N values, any shape whose last dim holds them all.
    const ak_tensor& bias = inputs[2];
    if (bias.dtype != kDtype) return kErrDtype;
    if (bias.rank < 1 || bias.rank > AK_MAX_RANK) return kErrRank;
    if (bias.shape[bias.rank - 1] != p->N || numel(bias) != p->N) return kErrShape;
    p->bias = static_cast<const T*>(bias.data);
    p->bias_step = bias.strides[bias.rank - 1];
  }
  return kOk;
}

}  // namespace
