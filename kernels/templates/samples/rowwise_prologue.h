// Sample stand-in for the generated prologue of the row-wise templates. AK_SAMPLE_ROW picks
// the op (see rowwise_row.h); LayerNormalization with bias by default.
#pragma once

#include "common.h"
#include "sample_dtype.h"

#ifndef AK_SAMPLE_ROW
#define AK_SAMPLE_ROW 2
#endif

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int kNumInputs = AK_SAMPLE_ROW == 2 ? 3 : AK_SAMPLE_ROW == 3 ? 2 : 1;
constexpr int kMaxOutputs = AK_SAMPLE_ROW == 2 ? 3 : 1;
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
