// kernels/templates/gemm_problem.h: ONNX Gemm's shapes (A and B read through their
// transposes, C broadcast to [M, N]) as a one-batch Problem (both targets).
#pragma once

#include "gemm_prologue.h"
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
  if (a.rank != 2 || b.rank != 2 || y.rank != 2) return kErrRank;
  // A' = transA ? A^T : A is M x K; B' = transB ? B^T : B is K x N. Reading A^T is reading A
  // with its two strides swapped.
  p->M = a.shape[kTransA ? 1 : 0];
  p->K = a.shape[kTransA ? 0 : 1];
  p->a_row_stride = a.strides[kTransA ? 1 : 0];
  p->a_col_stride = a.strides[kTransA ? 0 : 1];
  p->N = b.shape[kTransB ? 0 : 1];
  p->b_row_stride = b.strides[kTransB ? 1 : 0];
  p->b_col_stride = b.strides[kTransB ? 0 : 1];
  if (b.shape[kTransB ? 1 : 0] != p->K || p->M < 0 || p->K < 0 || p->N < 0) return kErrShape;
  if (y.shape[0] != p->M || y.shape[1] != p->N) return kErrShape;
  if (kHasC) {
    // C broadcasts to [M, N] from the right: a scalar, [N] or [1], or [M or 1, N or 1].
    const ak_tensor& c = inputs[2];
    if (c.dtype != kDtype) return kErrDtype;
    if (c.rank > 2) return kErrRank;
    const int64_t c_rows = c.rank == 2 ? c.shape[0] : 1;
    const int64_t c_cols = c.rank >= 1 ? c.shape[c.rank - 1] : 1;
    if ((c_rows != p->M && c_rows != 1) || (c_cols != p->N && c_cols != 1)) return kErrShape;
    p->c = static_cast<const T*>(c.data);
    p->c_row_stride = c_rows == 1 ? 0 : c.strides[0];
    p->c_col_stride = c_cols == 1 ? 0 : c.strides[c.rank - 1];
  }
  return kOk;
}

}  // namespace
