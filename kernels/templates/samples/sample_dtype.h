// The samples' dtype: AK_SAMPLE_DTYPE (an ONNX TensorProto code), float16 unless -D says
// otherwise, and the cuBLAS type that goes with it.
#pragma once

#ifndef AK_SAMPLE_DTYPE
#define AK_SAMPLE_DTYPE 10
#endif

#ifdef __CUDACC__
#include <cublas_v2.h>
namespace {
constexpr cudaDataType_t kCublasType = AK_SAMPLE_DTYPE == 1 ? CUDA_R_32F : AK_SAMPLE_DTYPE == 10 ? CUDA_R_16F : CUDA_R_16BF;
}  // namespace
#endif
