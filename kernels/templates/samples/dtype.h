// Sample stand-in for the generated dtype slot: AK_SAMPLE_DTYPE (1 float32, 10 float16 by
// default, 16 bfloat16) on either target.
#pragma once

#include "sample_dtype.h"

#if AK_SAMPLE_DTYPE == 1
#include "dtype_float32.h"
#elif defined(__CUDACC__) && AK_SAMPLE_DTYPE == 10
#include "dtype_float16_cuda.cuh"
#elif defined(__CUDACC__)
#include "dtype_bfloat16_cuda.cuh"
#elif AK_SAMPLE_DTYPE == 10
#include "dtype_float16_cpu.h"
#else
#include "dtype_bfloat16_cpu.h"
#endif
