// kernels/templates/gemm_cuda.cu: the Gemm template for CUDA, through cuBLAS (transposed
// operands read in place with CUBLAS_OP_T). The generator replaces the prologue and dtype
// includes with the task's constants and storage type; samples/ stands in for them when
// this file is compiled on its own.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "gemm_prologue.h"  // kDtype, kCublasType, kNumInputs, kTransA/B, kAlpha, kBeta, kHasC, the parameters
#include "dtype.h"          // T, to_float(), from_float()
#include "gemm_problem.h"
#include "cublas_handle.cuh"

namespace {

// The C term: y[i, j] += beta * C(i, j), C broadcast to [M, N] by zero strides.
// (cuBLAS's own beta would need C copied into Y first; cuBLASLt's bias epilogue covers [N].)
__global__ void add_c(T* y, const T* c, int64_t c_row_stride, int64_t c_col_stride, int64_t n, int64_t N) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float term = to_float(c[(i / N) * c_row_stride + (i % N) * c_col_stride]);
    y[i] = from_float(to_float(y[i]) + kBeta * term);
  }
}

}  // namespace

extern "C" int autokernel_kernel(const ak_tensor* inputs, int32_t num_inputs, ak_tensor* outputs,
                                 int32_t num_outputs, void* stream) {
  Problem p;
  const int status = make_problem(inputs, num_inputs, outputs, num_outputs, &p);
  if (status != kOk) return status;
  if (p.M == 0 || p.N == 0) return kOk;
  const T* a = static_cast<const T*>(inputs[0].data);
  const T* b = static_cast<const T*>(inputs[1].data);
  T* y = static_cast<T*>(outputs[0].data);
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  if (p.K == 0) {
    // An empty sum: alpha * A'B' is all zeros.
    if (cudaMemsetAsync(y, 0, p.M * p.N * sizeof(T), s) != cudaSuccess) return kErrCuda;
  } else {
    const int64_t kIntMax = 2147483647;
    if (p.M > kIntMax || p.N > kIntMax || p.K > kIntMax) return kErrTooLarge;
    // cuBLAS is column-major: the row-major M x N matrix Y is its column-major N x M
    // transpose, so it computes Y^T = B'^T * A'^T with the operands swapped.
    cublasOperation_t op_a, op_b;
    int lda = 0, ldb = 0;
    if (!cublas_operand(p.M, p.K, p.a_row_stride, p.a_col_stride, &op_a, &lda)) return kErrLayout;
    if (!cublas_operand(p.K, p.N, p.b_row_stride, p.b_col_stride, &op_b, &ldb)) return kErrLayout;
    cublasHandle_t handle = handle_for_current_device();
    if (!handle || cublasSetStream(handle, s) != CUBLAS_STATUS_SUCCESS) return kErrCublas;
    const float alpha = kAlpha, beta = 0.0f;  // float32 accumulation and scaling; C is added after
    auto call = [&](cublasGemmAlgo_t algo) {
      return cublasGemmEx(handle, op_b, op_a, static_cast<int>(p.N), static_cast<int>(p.M), static_cast<int>(p.K),
                          &alpha, b, kCublasType, ldb, a, kCublasType, lda, &beta, y, kCublasType,
                          static_cast<int>(p.N), CUBLAS_COMPUTE_32F, algo);
    };
    cublasStatus_t status = call(static_cast<cublasGemmAlgo_t>(kCublasAlgo));
    if (status == CUBLAS_STATUS_NOT_SUPPORTED) status = call(CUBLAS_GEMM_DEFAULT);  // see cublas_handle.cuh
    if (status != CUBLAS_STATUS_SUCCESS) return kErrCublas;
  }
  if (kCTerm) {  // the generator leaves the C term out when beta is 0
    const int64_t n = p.M * p.N;
    add_c<<<epilogue_blocks(n), kEpilogueThreads, 0, s>>>(y, p.c, p.c_row_stride, p.c_col_stride, n, p.N);
  }
  return cudaGetLastError() == cudaSuccess ? kOk : kErrCuda;
}
