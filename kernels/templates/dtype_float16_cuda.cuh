// kernels/templates/dtype_float16_cuda.cuh: float16 storage in CUDA sources.
#pragma once

#include <cuda_fp16.h>

#include "common.h"

namespace {

using T = __half;  // storage type; arithmetic is float32, rounded to nearest even on store
AK_FN float to_float(T v) { return __half2float(v); }
AK_FN T from_float(float f) { return __float2half_rn(f); }

}  // namespace
