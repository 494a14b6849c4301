// Sample stand-in for the generated prologue of the MatMul templates: MatMul + bias.
#pragma once

#include "common.h"
#ifdef __CUDACC__
#include <cublas_v2.h>
#endif

namespace {

constexpr int32_t kDtype = 10;  // ONNX TensorProto.FLOAT16
constexpr int kNumInputs = 3;
constexpr bool kHasBias = true;
#ifdef __CUDACC__
constexpr cudaDataType_t kCublasType = CUDA_R_16F;
#endif
constexpr int kRowBlock = 32;
constexpr int kColBlock = 128;
constexpr int kDepthBlock = 256;
constexpr int kCublasAlgo = -1;  // CUBLAS_GEMM_DEFAULT
constexpr int kEpilogueThreads = 256;

}  // namespace
