#pragma once
/// The task's tolerance type (kernels/tolerance.h) in the verifier's namespace, and its
/// defaults spelled with models::DType. The values and the reasoning behind them are in
/// docs/verifier.md ("Tolerances").

#include <string_view>

#include "kernels/tolerance.h"
#include "models/graph.h"

namespace ak::verifier {

using kernels::Tolerance;

/// kernels::default_tolerance for a models::DType (the same ONNX numbering).
inline Tolerance default_tolerance(models::DType dtype, std::string_view op_class) {
  return kernels::default_tolerance(static_cast<int32_t>(dtype), op_class);
}

}  // namespace ak::verifier
