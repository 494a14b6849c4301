// kernels/templates/matmul_cuda.cu: the MatMul (+ bias) template for CUDA, through cuBLAS.
// The generator replaces the prologue and dtype includes with the task's constants and
// storage type; samples/ stands in for them when this file is compiled on its own.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "matmul_prologue.h"  // kDtype, kCublasType, kNumInputs, kHasBias, the parameters
#include "dtype.h"            // T, to_float(), from_float()
#include "matmul_problem.h"
#include "cublas_handle.cuh"

namespace {

// Y[i] = A[i] * B[i] for `count` batches starting at a, b, y, whose offsets grow by a_step,
// b_step and M * N per batch. cuBLAS is column-major: a row-major M x N matrix is its
// column-major N x M transpose, so it computes Y^T = B^T * A^T with the operands swapped.
cublasStatus_t gemm(cublasHandle_t handle, const Problem& p, const T* a, const T* b, T* y, int64_t a_step,
                    int64_t b_step, int count) {
  const float alpha = 1.0f, beta = 0.0f;  // float32 accumulation and scaling
  auto call = [&](cublasGemmAlgo_t algo) {
    return cublasGemmStridedBatchedEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(p.N), static_cast<int>(p.M),
                                      static_cast<int>(p.K), &alpha, b, kCublasType, static_cast<int>(p.b_row_stride),
                                      b_step, a, kCublasType, static_cast<int>(p.a_row_stride), a_step, &beta, y,
                                      kCublasType, static_cast<int>(p.N), p.M * p.N, count, CUBLAS_COMPUTE_32F, algo);
  };
  const cublasStatus_t status = call(static_cast<cublasGemmAlgo_t>(kCublasAlgo));
  return status == CUBLAS_STATUS_NOT_SUPPORTED ? call(CUBLAS_GEMM_DEFAULT) : status;
}

// The MatMul + Add epilogue: y[row, j] += bias[j] over all batch * M rows of Y.
// (cuBLASLt's CUBLASLT_EPILOGUE_BIAS would fuse this into the GEMM.)
__global__ void add_bias(T* y, const T* bias, int64_t bias_step, int64_t n, int64_t N) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = from_float(to_float(y[i]) + to_float(bias[(i % N) * bias_step]));
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.batch == 0 || p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  if (p.K == 0) {
    // An empty sum: Y is all zeros (then the bias).
    if (cudaMemsetAsync(y, 0, p.batch * p.M * p.N * sizeof(T), s) != cudaSuccess) return kErrCuda;
  } else {
    // cuBLAS takes row-major matrices whose columns are contiguous, with int sizes and
    // leading dims; a vector operand's "rows" are its elements (p.M or p.N is 1).
    const int64_t kIntMax = 2147483647;
    if (p.M > kIntMax || p.N > kIntMax || p.K > kIntMax || p.batch > kIntMax) return kErrTooLarge;
    if (p.M > 1) {
      if (p.a_col_stride != 1 || p.a_row_stride < p.K || p.a_row_stride > kIntMax) return kErrLayout;
    } else {
      if (p.K > 1 && p.a_col_stride != 1) return kErrLayout;
      p.a_row_stride = p.K;
    }
    if (p.N > 1 && p.b_col_stride != 1) return kErrLayout;
    if (p.b_row_stride < p.N || p.b_row_stride > kIntMax) {
      if (p.K > 1) return kErrLayout;
      p.b_row_stride = p.N;  // a single row of B: its row stride is never used
    }
    cublasHandle_t handle = handle_for_current_device();
    if (!handle || cublasSetStream(handle, s) != CUBLAS_STATUS_SUCCESS) return kErrCublas;

    // One strided-batched call when A's and B's batch offsets grow linearly with the batch
    // index (a regular stack, or broadcast = step 0); otherwise one call per batch.
    int64_t a_step = 0, b_step = 0;
    if (p.batch > 1) batch_offsets(p, 1, &a_step, &b_step);
    bool linear = true;
    for (int64_t i = 0; i < p.batch && linear; ++i) {
      int64_t a_offset, b_offset;
      batch_offsets(p, i, &a_offset, &b_offset);
      linear = a_offset == i * a_step && b_offset == i * b_step;
    }
    if (linear) {
      if (gemm(handle, p, a, b, y, a_step, b_step, static_cast<int>(p.batch)) != CUBLAS_STATUS_SUCCESS) return kErrCublas;
    } else {
      for (int64_t i = 0; i < p.batch; ++i) {
        int64_t a_offset, b_offset;
        batch_offsets(p, i, &a_offset, &b_offset);
        if (gemm(handle, p, a + a_offset, b + b_offset, y + i * p.M * p.N, 0, 0, 1) != CUBLAS_STATUS_SUCCESS) {
          return kErrCublas;
        }
      }
    }
  }
  if (kHasBias) {
    const int64_t n = p.batch * p.M * p.N;
    add_bias<<<epilogue_blocks(n), kEpilogueThreads, 0, s>>>(y, p.bias, p.bias_step, n, p.N);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
