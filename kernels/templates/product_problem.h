// kernels/templates/product_problem.h: a matrix product as batches of row-major matrices,
// shared by the MatMul and Gemm templates (both targets): the Problem, the checks of the
// operands' counts and dtypes, and the batch offsets.
#pragma once

#include "common.h"

namespace {

// Y[b] (M x N) = A[b] (M x K) * B[b] (K x N), read through strides. MatMul: a 1-D A ([K]) is
// a 1 x K matrix whose M dim is dropped from Y; a 1-D B ([K]) is a K x 1 matrix whose N dim
// is dropped from Y (numpy's matmul rules). Gemm: one batch.
struct Problem {
  int64_t M = 1, K = 1, N = 1;
  int batch_rank = 0;                          // Y's batch dims (all dims but the matrix ones)
  int64_t batch_shape[AK_MAX_RANK] = {};
  int64_t a_batch_stride[AK_MAX_RANK] = {};    // 0 where A is broadcast along a batch dim
  int64_t b_batch_stride[AK_MAX_RANK] = {};
  int64_t batch = 1;                           // number of matrices in Y
  int64_t a_row_stride = 0, a_col_stride = 1;  // A[b](i, k) = A_b[i * a_row_stride + k * a_col_stride]
  int64_t b_row_stride = 0, b_col_stride = 1;  // B[b](k, j) = B_b[k * b_row_stride + j * b_col_stride]
  const T* bias = nullptr;                     // MatMul + Add: [N]
  int64_t bias_step = 0;
  const T* c = nullptr;                        // Gemm: C(i, j) = c[i * c_row_stride + j * c_col_stride]
  int64_t c_row_stride = 0, c_col_stride = 0;  // 0 along a broadcast dim
};

// Argument counts and the dtypes of A, B (kDtype) and Y (kOutputDtype: kDtype unless the
// GEMM-epilogue template ends in a Cast).
inline int check_operands(const ak_tensor* inputs, int32_t num_inputs, const ak_tensor* outputs,
                          int32_t num_outputs) {
  if (num_inputs != kNumInputs || num_outputs != 1) return kErrArgCount;
  if (inputs[0].dtype != kDtype || inputs[1].dtype != kDtype || outputs[0].dtype != kOutputDtype) return kErrDtype;
  return kOk;
}

// Offsets (in elements) of batch index `index`'s matrices in A and B.
[[maybe_unused]] inline void batch_offsets(const Problem& p, int64_t index, int64_t* a_offset, int64_t* b_offset) {
  int64_t a = 0, b = 0;
  for (int d = p.batch_rank - 1; d >= 0; --d) {
    const int64_t coordinate = index % p.batch_shape[d];
    index /= p.batch_shape[d];
    a += coordinate * p.a_batch_stride[d];
    b += coordinate * p.b_batch_stride[d];
  }
  *a_offset = a;
  *b_offset = b;
}

}  // namespace
