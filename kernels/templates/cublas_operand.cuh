// kernels/templates/cublas_operand.cuh: what the cuBLAS and cuBLASLt product templates share:
// how cuBLAS reads a row-major operand, and the grid of their small epilogue kernels.
#pragma once

#include <cublas_api.h>

#include "common.h"

namespace {

// cuBLAS is column-major: a row-major M x N product Y = A'B' is computed as the column-major
// N x M product Y^T = B'^T A'^T, the operands swapped. How cuBLAS reads an operand, a rows x cols row-major
// view with the given strides: a unit column stride is the operand as stored (CUBLAS_OP_N)
// with the row stride as leading dim; a unit row stride is its transpose (CUBLAS_OP_T) with
// the column stride. A single row or column may have any stride there. False otherwise.
[[maybe_unused]] inline bool cublas_operand(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                                            cublasOperation_t* op, int* ld) {
  const int64_t kIntMax = 2147483647;
  if (col_stride == 1 || cols == 1) {
    const int64_t l = rows == 1 ? cols : row_stride;
    if (l >= cols && l <= kIntMax) {
      *op = CUBLAS_OP_N;
      *ld = static_cast<int>(l);
      return true;
    }
  }
  if (row_stride == 1 || rows == 1) {
    const int64_t l = cols == 1 ? rows : col_stride;
    if (l >= rows && l <= kIntMax) {
      *op = CUBLAS_OP_T;
      *ld = static_cast<int>(l);
      return true;
    }
  }
  return false;
}

// Blocks for an epilogue kernel over n elements: enough to cover them, at most 4096 (its
// grid-stride loop covers the rest).
[[maybe_unused]] inline int epilogue_blocks(int64_t n) {
  constexpr int64_t kMaxBlocks = 4096;
  const int64_t wanted = (n + kEpilogueThreads - 1) / kEpilogueThreads;
  return static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
}

}  // namespace
