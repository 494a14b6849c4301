// kernels/templates/dtype_bfloat16_cuda.cuh: bfloat16 storage in CUDA sources.
#pragma once

#include <cuda_bf16.h>

#include "common.h"

namespace {

using T = __nv_bfloat16;  // storage type; arithmetic is float32, rounded to nearest even on store
AK_FN float to_float(T v) { return __bfloat162float(v); }
AK_FN T from_float(float f) { return __float2bfloat16_rn(f); }

}  // namespace
