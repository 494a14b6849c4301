// Sample stand-in for the generated prologue of the attention templates. AK_SAMPLE_MASK
// picks the mask: 0 none, 1 additive (default), 2 boolean, 3 causal (no input), 4 causal
// added.
#pragma once

#include "common.h"
#include "sample_dtype.h"

#ifndef AK_SAMPLE_MASK
#define AK_SAMPLE_MASK 1
#endif

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int kMaskKind = AK_SAMPLE_MASK;
constexpr int kNumInputs = kMaskKind == 1 || kMaskKind == 2 ? 4 : 3;
constexpr float kScale = 0.125f;
constexpr float kMaskFill = -3.40282347e38f;
#ifdef __CUDACC__
constexpr int64_t kMaxHeadDim = 256;
#else
constexpr int64_t kMaxHeadDim = INT64_MAX;
#endif
constexpr int kQueryBlock = 32;
constexpr int kKvBlock = 128;
constexpr int kBlockQ = 32;
constexpr int kBlockKv = 64;
constexpr int kWarps = 4;

}  // namespace
