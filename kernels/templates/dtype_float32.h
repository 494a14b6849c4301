// kernels/templates/dtype_float32.h: float32 storage (both targets).
#pragma once

#include "common.h"

namespace {

using T = float;  // storage type; arithmetic is float32
AK_FN float to_float(T v) { return v; }
AK_FN T from_float(float f) { return f; }

}  // namespace
