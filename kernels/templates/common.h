// kernels/templates/common.h: the return codes every starter shares, the qualifiers of
// per-element helpers, and numel().
#pragma once

#include <autokernel_kernel.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

// Per-element helpers run on the device in CUDA sources and on the host in C++ ones. They
// are [[maybe_unused]]: a starter includes every helper of a file (nvcc warns about the
// unused ones otherwise).
#ifdef __CUDACC__
#define AK_FN [[maybe_unused]] __device__ __forceinline__
#define AK_HOST_DEVICE [[maybe_unused]] __host__ __device__ inline
#else
#define AK_FN [[maybe_unused]] inline
#define AK_HOST_DEVICE [[maybe_unused]] inline
#endif

// AK_UNROLL(n): unroll the next loop n times (1: not at all), in either compiler's spelling.
#define AK_PRAGMA(text) _Pragma(#text)
#ifdef __CUDACC__
#define AK_UNROLL(n) AK_PRAGMA(unroll n)
#else
#define AK_UNROLL(n) AK_PRAGMA(GCC unroll n)
#endif

namespace {

// Return codes: 0 on success, else the first check that failed. The numbers are the same
// in every template, so a code means the same thing in every starter.
enum : int {
  kOk = 0,
  kErrArgCount = 1,  // num_inputs / num_outputs differ from what this kernel takes
  kErrDtype = 2,     // a tensor's dtype is not the one this kernel was generated for
  kErrRank = 3,      // a tensor's rank is out of range
  kErrShape = 4,     // shapes do not fit together (broadcast, row length, output shape)
  kErrLayout = 5,    // a stride pattern this kernel does not handle
  kErrTooLarge = 6,  // a size exceeds cuBLAS's int arguments
  kErrCuda = 7,      // a CUDA call or kernel launch failed
  kErrCublas = 8,    // cuBLAS returned an error (or its handle could not be created)
};

// Elements of `t` (1 for rank 0), or -1 when a dim is negative.
[[maybe_unused]] inline int64_t numel(const ak_tensor& t) {
  int64_t n = 1;
  for (int d = 0; d < t.rank; ++d) {
    if (t.shape[d] < 0) return -1;
    n *= t.shape[d];
  }
  return n;
}

}  // namespace
