// kernels/templates/dtype_bfloat16_cpu.h: bfloat16 storage on the CPU, as the high 16 bits
// of a float32.
#pragma once

#include "common.h"

namespace {

using T = uint16_t;  // bfloat16 bits (the high half of a float32); arithmetic is float32

inline float to_float(T v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// Rounds to nearest even; NaN stays a (quiet) NaN.
inline T from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<T>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<T>(x >> 16);
}

}  // namespace
