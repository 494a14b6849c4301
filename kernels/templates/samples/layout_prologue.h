// Sample stand-in for the generated prologue of the layout template: a Transpose of the
// last two dims of a rank-3 float16 tensor (-DAK_SAMPLE_LAYOUT_OP=2: a Gather of two rows).
#pragma once

#include "common.h"
#include "sample_dtype.h"

#ifndef AK_SAMPLE_LAYOUT_OP
#define AK_SAMPLE_LAYOUT_OP 1
#endif

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int kElementBytes = AK_SAMPLE_DTYPE == 1 ? 4 : 2;
constexpr int kOp = AK_SAMPLE_LAYOUT_OP;
constexpr int kNumInputs = 1;
constexpr int kNumUnreadInputs = 0;
constexpr int kRank = 3;
constexpr int64_t kPerm[AK_MAX_RANK] = {0, 2, 1};
constexpr bool kTiledTranspose = AK_SAMPLE_LAYOUT_OP == 1;
constexpr int kAxis = 1;
constexpr int kIndicesRank = 1;
constexpr int64_t kNumIndices = 2;
constexpr int64_t kIndexMin = -1, kIndexMax = 0;
constexpr int64_t kScalarIndex = 0;
#ifdef __CUDACC__
__device__
#endif
const int64_t kIndices[] = {0, -1};
constexpr int64_t kStarts[AK_MAX_RANK] = {0, 0, 0};
constexpr int64_t kEnds[AK_MAX_RANK] = {INT64_MAX, INT64_MAX, INT64_MAX};
constexpr int64_t kSteps[AK_MAX_RANK] = {1, 1, 1};
constexpr int kMinParallelElements = 0;
constexpr int kThreadsPerBlock = 256;
constexpr int kMaxBlocks = 4096;
constexpr int kTileDim = 32;
constexpr int kTileRows = 8;

}  // namespace
