// Sample stand-in for the generated epilogue of the GEMM-epilogue template:
// y = Gelu(product + bias); apply_rest() is what follows cuBLASLt's bias epilogue.
#pragma once

#include "elementwise_ops.h"

namespace {

AK_FN float apply(const float* x) {
  const float s0 = x[0] + x[1];
  return gelu(s0, 0.0f);
}

AK_FN float apply_rest(const float* x) {
  const float s0 = x[0];
  return gelu(s0, 0.0f);
}

}  // namespace
