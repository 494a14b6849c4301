// Sample stand-in for the generated prologue of the elementwise templates.
#pragma once

#include "common.h"
#include "sample_dtype.h"

namespace {

constexpr int32_t kDtype = AK_SAMPLE_DTYPE;
constexpr int kNumInputs = 2;
constexpr int kMinParallelElements = 0;
constexpr int kThreadsPerBlock = 256;
constexpr int kMaxBlocks = 4096;

}  // namespace
