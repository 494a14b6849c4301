// Sample stand-in for the generated prologue of the pool template: a 2-D MaxPool (3x3,
// stride 2, pads 1, as ResNet's stem) by default; AK_SAMPLE_POOL=1 makes it an AveragePool
// with ceil_mode and count_include_pad, AK_SAMPLE_POOL=2 a GlobalAveragePool.
#pragma once

#include "common.h"
#include "sample_dtype.h"

#ifndef AK_SAMPLE_POOL
#define AK_SAMPLE_POOL 0
#endif

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr bool kPoolMax = AK_SAMPLE_POOL == 0;
constexpr bool kGlobal = AK_SAMPLE_POOL == 2;
constexpr int kSpatial = 2;
constexpr int64_t kKernel[kSpatial] = {3, 3};
constexpr int64_t kStride[kSpatial] = {2, 2};
constexpr int64_t kDilation[kSpatial] = {1, 1};
constexpr int64_t kPadBegin[kSpatial] = {1, 1};
constexpr int64_t kPadEnd[kSpatial] = {1, 1};
constexpr int kAutoPad = 0;
constexpr bool kCeilMode = AK_SAMPLE_POOL == 1;
constexpr bool kCountIncludePad = AK_SAMPLE_POOL == 1;
constexpr int kRowsPerChunk = 16;
constexpr int kMinParallelOutputs = 0;
constexpr int kThreadsPerBlock = 256;
constexpr int kMaxBlocks = 4096;

}  // namespace
