// Sample stand-in for the generated prologue of the row-wise templates. AK_SAMPLE_ROW picks
// the op (see rowwise_row.h); LayerNormalization with bias by default. AK_SAMPLE_RESIDUAL=1
// makes a norm the residual norm (inputs x, residual, scale[, bias]; outputs y[, h]).
#pragma once

#include "common.h"
#include "sample_dtype.h"

#ifndef AK_SAMPLE_ROW
#define AK_SAMPLE_ROW 2
#endif
#ifndef AK_SAMPLE_RESIDUAL
#define AK_SAMPLE_RESIDUAL 0
#endif

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr bool kResidual = AK_SAMPLE_RESIDUAL != 0;
constexpr int kNumInputs = (AK_SAMPLE_ROW == 2 ? 3 : AK_SAMPLE_ROW == 3 ? 2 : 1) + (kResidual ? 1 : 0);
constexpr int kMaxOutputs = kResidual ? 2 : AK_SAMPLE_ROW == 2 ? 3 : 1;
constexpr bool kOutputFloat32 = false;
constexpr bool kRoundBeforeScale = kResidual;
constexpr bool kHasScale = AK_SAMPLE_ROW >= 2;
constexpr bool kHasBias = AK_SAMPLE_ROW == 2;
constexpr bool kLogSoftmax = AK_SAMPLE_ROW == 1;
constexpr float kEpsilon = 1e-5f;
constexpr int kUnroll = 2;
constexpr int kRowsPerChunk = 0;
constexpr int kAccumulateDouble = 1;
constexpr int kWarpRowMaxLength = 1024;
constexpr int kWarpRowsPerBlock = 8;
constexpr int kBlockRowThreads = 512;

}  // namespace
