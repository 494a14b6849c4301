// Sample stand-in for the generated fused expression: y = gelu(x0 + x1).
#pragma once

#include "elementwise_ops.h"

namespace {

AK_FN float apply(const float* x) {
  const float s0 = x[0] + x[1];
  return gelu(s0, 0.0f);
}

}  // namespace
