// Sample stand-in for the generated prologue of the elementwise templates (and of the
// rotary ones, which take the elementwise parameters: -DAK_SAMPLE_NUM_INPUTS=3).
#pragma once

#include "common.h"
#include "sample_dtype.h"

#ifndef AK_SAMPLE_NUM_INPUTS
#define AK_SAMPLE_NUM_INPUTS 2
#endif

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int kNumInputs = AK_SAMPLE_NUM_INPUTS;
constexpr int kMinParallelElements = 0;
constexpr int kThreadsPerBlock = 256;
constexpr int kMaxBlocks = 4096;

}  // namespace
