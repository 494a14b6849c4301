// Sample stand-in for the generated dtype slot: float16 on either target.
#pragma once

#ifdef __CUDACC__
#include "dtype_float16_cuda.cuh"
#else
#include "dtype_float16_cpu.h"
#endif
