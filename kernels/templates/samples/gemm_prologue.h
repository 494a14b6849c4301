// Sample stand-in for the generated prologue of the Gemm templates: transA, a C term.
#pragma once

#include "common.h"
#include "sample_dtype.h"

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int32_t kOutputDtype = kDtype;
constexpr int kNumInputs = 3;
constexpr bool kTransA = true;
constexpr bool kTransB = false;
constexpr float kAlpha = 0.5f;
constexpr float kBeta = 2.0f;
constexpr bool kHasC = true;
constexpr bool kCTerm = true;
constexpr int kRowBlock = 32;
constexpr int kColBlock = 128;
constexpr int kDepthBlock = 256;
constexpr int kCublasAlgo = -1;  // CUBLAS_GEMM_DEFAULT
constexpr int kEpilogueThreads = 256;

}  // namespace
