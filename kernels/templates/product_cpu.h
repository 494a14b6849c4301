// kernels/templates/product_cpu.h: the CPU's cache-blocked, OpenMP-parallel matrix product
// shared by the MatMul and Gemm templates. Arithmetic is float32, accumulated in float32
// over K.
#pragma once

#include <vector>

#include "product_problem.h"

namespace {

// Tile sizes (template parameters): a task computes kRowBlock x kColBlock of one Y matrix;
// it walks K in steps of kDepthBlock, converting that slice of A and B to float32 tiles
// first (at the defaults 32 x 128 x 256 the B tile, 128 KiB, stays in L2; the accumulator
// tile, 16 KiB, in L1).
//
// For every batch b, the sums S[b](i, j) = sum over k of A[b](i, k) * B[b](k, j) go to
// store_row(row, j0, cols, acc, y_row): Y's row `row` of the flattened [batch * M, N] view,
// columns j0 .. j0 + cols - 1, from the float32 sums acc[0 .. cols - 1], to be written at
// y_row[0 .. cols - 1] (the store is where an epilogue is fused). Out is Y's storage type.
template <typename Out, typename StoreRow>
void blocked_product_rows(const Problem& p, const T* a, const T* b, Out* y, StoreRow store_row) {
  const int64_t M = p.M, K = p.K, N = p.N;
  // Independent tasks: (batch, block of rows, block of columns).
  const int64_t row_blocks = (M + kRowBlock - 1) / kRowBlock;
  const int64_t col_blocks = (N + kColBlock - 1) / kColBlock;
  const int64_t tasks = p.batch * row_blocks * col_blocks;
#pragma omp parallel
  {
    // Per-thread tiles, float32.
    std::vector<float> a_tile(kRowBlock * kDepthBlock), b_tile(kDepthBlock * kColBlock), acc(kRowBlock * kColBlock);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t batch_index = task / (row_blocks * col_blocks);
      const int64_t i0 = (task / col_blocks % row_blocks) * kRowBlock;
      const int64_t j0 = task % col_blocks * kColBlock;
      const int64_t rows = M - i0 < kRowBlock ? M - i0 : kRowBlock;
      const int64_t cols = N - j0 < kColBlock ? N - j0 : kColBlock;
      int64_t a_offset, b_offset;
      batch_offsets(p, batch_index, &a_offset, &b_offset);
      const T* a_mat = a + a_offset;
      const T* b_mat = b + b_offset;
      for (int64_t i = 0; i < rows * kColBlock; ++i) acc[i] = 0.0f;

      for (int64_t k0 = 0; k0 < K; k0 += kDepthBlock) {
        const int64_t depth = K - k0 < kDepthBlock ? K - k0 : kDepthBlock;
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t k = 0; k < depth; ++k) {
            a_tile[i * kDepthBlock + k] = to_float(a_mat[(i0 + i) * p.a_row_stride + (k0 + k) * p.a_col_stride]);
          }
        }
        for (int64_t k = 0; k < depth; ++k) {
          for (int64_t j = 0; j < cols; ++j) {
            b_tile[k * kColBlock + j] = to_float(b_mat[(k0 + k) * p.b_row_stride + (j0 + j) * p.b_col_stride]);
          }
        }
        // The hot loop: rank-1 updates of the accumulator tile; the j loop vectorizes (FMA).
        for (int64_t i = 0; i < rows; ++i) {
          float* acc_row = &acc[i * kColBlock];
          for (int64_t k = 0; k < depth; ++k) {
            const float a_ik = a_tile[i * kDepthBlock + k];
            const float* b_row = &b_tile[k * kColBlock];
            for (int64_t j = 0; j < cols; ++j) acc_row[j] += a_ik * b_row[j];
          }
        }
      }

      for (int64_t i = 0; i < rows; ++i) {
        const int64_t row = batch_index * M + i0 + i;
        store_row(row, j0, cols, &acc[i * kColBlock], y + row * N + j0);
      }
    }
  }
}

// Y[b](i, j) = epilogue(i, j, S[b](i, j)), stored in T.
template <typename Epilogue>
void blocked_product(const Problem& p, const T* a, const T* b, T* y, Epilogue epilogue) {
  blocked_product_rows(p, a, b, y, [&](int64_t row, int64_t j0, int64_t cols, const float* acc, T* y_row) {
    const int64_t i = row % p.M;
    for (int64_t j = 0; j < cols; ++j) y_row[j] = from_float(epilogue(i, j0 + j, acc[j]));
  });
}

}  // namespace
