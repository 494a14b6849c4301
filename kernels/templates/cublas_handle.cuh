// kernels/templates/cublas_handle.cuh: the cuBLAS handle of the MatMul and Gemm templates,
// and the launch of their small epilogue kernels.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <mutex>

#include "common.h"
#include "cublas_operand.cuh"

namespace {

// One cuBLAS handle per device, created on the first call and kept for the life of the
// process (cublasCreate is slow and cannot be captured in a CUDA graph: make the first call
// before any capture). The default math mode keeps float32 exact: no TF32.
cublasHandle_t handle_for_current_device() {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static cublasHandle_t handles[kMaxDevices] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (!handles[device]) {
    cublasHandle_t handle = nullptr;
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return nullptr;
    if (cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle);
      return nullptr;
    }
    handles[device] = handle;
  }
  return handles[device];
}

// kCublasAlgo (the cublas_algo parameter) picks the cuBLAS algorithm; one that cuBLAS does
// not support for these operands (CUBLAS_STATUS_NOT_SUPPORTED) is retried with
// CUBLAS_GEMM_DEFAULT, so that every value of the parameter computes the product.

}  // namespace
