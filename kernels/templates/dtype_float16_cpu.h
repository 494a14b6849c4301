// kernels/templates/dtype_float16_cpu.h: float16 storage on the CPU, as IEEE binary16 bits
// converted in software (no F16C needed).
#pragma once

#include "common.h"

namespace {

using T = uint16_t;  // IEEE binary16 bits; arithmetic is float32

inline float to_float(T h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// Rounds to nearest even; values from 65520 up become inf, NaN stays a (quiet) NaN.
inline T from_float(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint32_t h;
  if (x >= 0x47800000u) {  // |f| >= 65536, inf or NaN
    h = x > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (x < 0x38800000u) {  // |f| < 2^-14: a subnormal half (or zero)
    // Adding 0.5f puts the value's 2^-24 units in float's last mantissa bits, so the FPU
    // does the rounding; the difference of the bit patterns is the half's bit pattern.
    const uint32_t half_bits = 0x3f000000u;  // 0.5f
    float v, half;
    memcpy(&v, &x, sizeof v);
    memcpy(&half, &half_bits, sizeof half);
    v += half;
    uint32_t v_bits;
    memcpy(&v_bits, &v, sizeof v_bits);
    h = v_bits - half_bits;
  } else {
    const uint32_t mantissa_odd = (x >> 13) & 1u;
    x += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + mantissa_odd;  // rebias, round
    h = x >> 13;
  }
  return static_cast<T>(h | (sign >> 16));
}

}  // namespace
