#pragma once
/// Numerical tolerances for comparing a candidate's outputs with the reference's, per
/// element type and op class: part of a task (kernels/task.h, task.json "tolerance"). The
/// values and the reasoning behind them are in docs/verifier.md ("Tolerances"); a task may
/// override them. Torch-free, data only.

#include <cstdint>
#include <string>
#include <string_view>

namespace ak::kernels {

/// An element `actual` matches `expected` when |actual - expected| <= atol + rtol * |expected|
/// (NaN and Inf rules in verifier/compare.h). The output passes when at least
/// `min_matched_ratio` of its elements match and none is NaN/Inf where the reference is finite.
struct Tolerance {
  double atol = 0;                ///< absolute tolerance, in the output's units
  double rtol = 0;                ///< relative tolerance (fraction of |expected|)
  double min_matched_ratio = 1.0; ///< in [0, 1]; 1.0 requires every element to match

  /// True when only bit-identical values match (atol = rtol = 0, ratio 1).
  bool is_exact() const { return atol == 0 && rtol == 0 && min_matched_ratio >= 1.0; }
  /// "atol 1e-05 rtol 1e-05" (plus " matched >= 0.999" when the ratio is below 1).
  std::string describe() const;

  bool operator==(const Tolerance&) const = default;
};

/// The default tolerance for an output of `dtype` (an AK_DTYPE_* code, the ONNX
/// TensorProto.DataType numbering that models::DType shares) produced by an op of
/// `op_class`, one of the cost model's classes (kernels/op_traits.h): "matmul", "conv",
/// "attention", "elementwise", "reduction", "normalization", "data_movement", "other". An
/// unknown class is treated as "other". Integer and bool outputs, and every data_movement
/// output, are exact.
Tolerance default_tolerance(int32_t dtype, std::string_view op_class);

}  // namespace ak::kernels
