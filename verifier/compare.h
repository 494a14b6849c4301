#pragma once
/// Comparing a candidate's output tensor with the reference's: shape, dtype, then every
/// element against a Tolerance, with explicit NaN/Inf rules. Torch-free; works on host
/// tensors (models::TensorData) of every numeric dtype, bool and string.
///
/// Element rules (e = expected, a = actual):
///   e finite:  a matches when a is finite and |a - e| <= atol + rtol * |e|.
///   e NaN:     a matches only when a is NaN (any payload).
///   e +/-Inf:  a matches only when a is the same infinity.
/// A mismatch that involves NaN or Inf on either side fails the output whatever
/// min_matched_ratio allows: rounding never produces or removes a NaN. An output that is
/// NaN everywhere while the reference is not (the verifier pre-fills outputs with NaN, so
/// this is a kernel that never wrote them) is reported as "output never written (all NaN)".

#include <cstdint>
#include <string>

#include "models/graph.h"
#include "verifier/tolerance.h"
#include "verifier/verdict.h"

namespace ak::verifier {

/// The outcome of comparing one output, with the numbers that explain it.
struct Comparison {
  /// kPassed, kIncorrectShape, kIncorrectDtype or kIncorrectNumerical.
  Verdict verdict = Verdict::kPassed;
  int64_t element_count = 0;
  int64_t mismatched_count = 0;  ///< elements that do not match (NaN/Inf mismatches included)
  int64_t nonfinite_mismatch_count = 0;  ///< mismatches with a NaN or Inf on either side
  double matched_ratio = 1.0;    ///< (element_count - mismatched_count) / element_count; 1 when empty
  double max_abs_error = 0;      ///< over all elements; +Inf when a NaN/Inf mismatch exists
  /// Max of |a - e| / |e| over elements with a finite, non-zero e and a finite a (elements
  /// whose reference is 0 are left out: their relative error is unbounded and not useful).
  double max_rel_error = 0;
  /// The element that most exceeds its tolerance (error / (atol + rtol * |e|)), ties by the
  /// larger absolute error; when all match, the one with the largest absolute error.
  /// -1 when there are no elements or the shapes/dtypes differ.
  int64_t worst_index = -1;
  std::string worst_position;    ///< worst_index as a multi-index, "[0, 5, 17]"
  double expected_value = 0;     ///< at worst_index (integers above 2^53 are rounded)
  double actual_value = 0;       ///< at worst_index
  bool never_written = false;    ///< the actual output is NaN everywhere, the reference is not
  /// One line, e.g. "max_abs_error 3.2e-01 at [0, 5, 17] (expected 1.25, got 0.93); 412 of
  /// 4096 elements outside atol 1e-05 rtol 1e-05", or the shape/dtype mismatch.
  std::string summary;

  bool passed() const { return verdict == Verdict::kPassed; }
};

/// Compares `actual` (the candidate's output) with `expected` (the reference's). The shape
/// is checked first, then the dtype, then the byte sizes, then the elements. Never fails:
/// malformed tensors (a byte count that does not match dims and dtype) are reported as
/// kIncorrectShape. Complex tensors are compared exactly, element by element.
///
/// `magnitude` (optional; same dims and dtype as `expected`, else ignored) is the size of
/// the terms each element sums: the rtol term becomes rtol * max(|e|, |m|). A sum's rounding
/// error is relative to its terms, not to its result: a matmul element whose large terms
/// cancel to near zero carries the terms' rounding (for matmul and conv the judge passes
/// the reference evaluated on |inputs|, the sum of |a| * |b|; for a LayerNorm-like
/// normalization |n| * |scale| + |bias|, judge.cpp's add_magnitude).
Comparison compare_outputs(const models::TensorData& expected, const models::TensorData& actual,
                           const Tolerance& tolerance, const models::TensorData* magnitude = nullptr);

/// True when both tensors have the same dtype, dims and bytes (and strings): the
/// determinism gate's "bitwise repeatable". A NaN equals the same NaN bit pattern here.
bool bitwise_equal(const models::TensorData& a, const models::TensorData& b);

/// "[0, 5, 17]": the multi-index of row-major flat `index` in `dims` ("[]" for a scalar).
std::string position_string(const std::vector<int64_t>& dims, int64_t index);

}  // namespace ak::verifier
