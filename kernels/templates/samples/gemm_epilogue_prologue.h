// Sample stand-in for the generated prologue of the GEMM-epilogue template: the MatMul
// sample's shapes (A, B and one epilogue tensor, the bias) with y = Gelu(A B + bias), the
// bias fused into cuBLASLt's epilogue, the Gelu after it.
#pragma once

#include "common.h"
#include "matmul_prologue.h"

namespace {

constexpr int kFirstEpilogueInput = 2;
constexpr float kAlpha = 1.0f;
constexpr int kAlgoIndex = 0;
#ifdef __CUDACC__
constexpr cudaDataType_t kCudaType = AK_SAMPLE_DTYPE == 1 ? CUDA_R_32F : AK_SAMPLE_DTYPE == 10 ? CUDA_R_16F : CUDA_R_16BF;
constexpr cudaDataType_t kOutCudaType = kCudaType;
constexpr cublasComputeType_t kComputeType = CUBLAS_COMPUTE_32F;
constexpr cublasLtEpilogue_t kLtEpilogue = CUBLASLT_EPILOGUE_BIAS;
#endif
constexpr int kLtBiasInput = 2;
constexpr bool kLtHasRest = true;
constexpr bool kHasEpilogue = true;

}  // namespace
