// Sample stand-in for the generated prologue of the conv template: a 2-D conv, 2 groups,
// stride 2, pads 1, a bias, then one epilogue tensor (a residual).
#pragma once

#include "common.h"
#include "sample_dtype.h"

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int32_t kOutputDtype = kDtype;
constexpr int kNumInputs = 4;  // X, W, bias, residual
constexpr int kFirstEpilogueInput = 3;
constexpr bool kHasBias = true;
constexpr int kSpatial = 2;
constexpr int64_t kGroup = 2;
constexpr int64_t kStride[2] = {2, 2};
constexpr int64_t kDilation[2] = {1, 1};
constexpr int64_t kPadBegin[2] = {1, 1};
constexpr int64_t kPadEnd[2] = {1, 1};
constexpr bool kHasEpilogue = true;
#ifdef __CUDACC__
constexpr cudnnDataType_t kCudnnType =
    AK_SAMPLE_DTYPE == 1 ? CUDNN_DATA_FLOAT : AK_SAMPLE_DTYPE == 10 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
constexpr cudnnMathType_t kMathType = AK_SAMPLE_DTYPE == 1 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
#endif
constexpr int kRowBlock = 32;
constexpr int kColBlock = 128;
constexpr int kDepthBlock = 256;
constexpr int kAlgoIndex = 0;
constexpr int kEpilogueThreads = 256;

}  // namespace
