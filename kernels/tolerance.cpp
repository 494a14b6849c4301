#include "kernels/tolerance.h"

#include <cstdio>

#include "kernels/autokernel_kernel.h"

namespace ak::kernels {
namespace {

/// How an op class accumulates rounding error: not at all (exact copies), once per element,
/// or over a sum whose order the candidate is free to change.
enum class ErrorKind { kExact, kElementwise, kAccumulating, kGemmLike };

ErrorKind error_kind(std::string_view op_class) {
  if (op_class == "data_movement") return ErrorKind::kExact;
  if (op_class == "elementwise") return ErrorKind::kElementwise;
  if (op_class == "matmul" || op_class == "conv" || op_class == "attention") return ErrorKind::kGemmLike;
  // reduction, normalization, other and anything unknown: a reordered sum is allowed.
  return ErrorKind::kAccumulating;
}

constexpr Tolerance kExact{0, 0, 1.0};

}  // namespace

std::string Tolerance::describe() const {
  char buffer[96];
  if (min_matched_ratio < 1.0) {
    std::snprintf(buffer, sizeof buffer, "atol %g rtol %g matched >= %g", atol, rtol, min_matched_ratio);
  } else {
    std::snprintf(buffer, sizeof buffer, "atol %g rtol %g", atol, rtol);
  }
  return buffer;
}

Tolerance default_tolerance(int32_t dtype, std::string_view op_class) {
  const ErrorKind kind = error_kind(op_class);
  if (kind == ErrorKind::kExact) return kExact;
  switch (dtype) {
    case AK_DTYPE_DOUBLE:
      if (kind == ErrorKind::kElementwise) return {1e-10, 1e-10, 1.0};
      return {1e-8, 1e-8, 1.0};
    case AK_DTYPE_FLOAT:
      if (kind == ErrorKind::kElementwise) return {1e-5, 1e-5, 1.0};
      if (kind == ErrorKind::kGemmLike) return {1e-4, 1e-4, 0.9999};
      return {1e-4, 1e-4, 1.0};
    case AK_DTYPE_FLOAT16:
      if (kind == ErrorKind::kElementwise) return {1e-3, 1e-3, 1.0};
      return {1e-2, 1e-2, 0.999};
    case AK_DTYPE_BFLOAT16:
      if (kind == ErrorKind::kElementwise) return {1e-2, 1e-2, 1.0};
      return {2e-2, 2e-2, 0.999};
    default:
      // Integers, bool, strings, complex: exact. (Integer arithmetic has no rounding to forgive.)
      return kExact;
  }
}

}  // namespace ak::kernels
