#include "verifier/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

namespace ak::verifier {
namespace {

using models::DType;

constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
T load(const std::byte* data, int64_t index) {
  T value;
  std::memcpy(&value, data + static_cast<size_t>(index) * sizeof(T), sizeof(T));
  return value;
}

/// Floating types and bool, widened to double (exact for every one of them).
double load_real(const std::byte* data, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::kFloat32: return load<float>(data, index);
    case DType::kFloat64: return load<double>(data, index);
    case DType::kFloat16: return models::half_to_float(load<uint16_t>(data, index));
    case DType::kBFloat16: return models::bfloat16_to_float(load<uint16_t>(data, index));
    case DType::kBool: return load<uint8_t>(data, index) != 0 ? 1.0 : 0.0;
    default: return 0;
  }
}

/// Integers widened to long double, whose 64-bit (or wider) mantissa holds every int64 and
/// uint64 exactly, so differences between large values are not rounded away.
long double load_integer(const std::byte* data, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::kInt8: return load<int8_t>(data, index);
    case DType::kUInt8: return load<uint8_t>(data, index);
    case DType::kInt16: return load<int16_t>(data, index);
    case DType::kUInt16: return load<uint16_t>(data, index);
    case DType::kInt32: return load<int32_t>(data, index);
    case DType::kUInt32: return load<uint32_t>(data, index);
    case DType::kInt64: return static_cast<long double>(load<int64_t>(data, index));
    case DType::kUInt64: return static_cast<long double>(load<uint64_t>(data, index));
    default: return 0;
  }
}

bool is_complex(DType dtype) { return dtype == DType::kComplex64 || dtype == DType::kComplex128; }

std::string format_error(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1e", value);
  return buffer;
}

std::string format_value(long double value, bool integer) {
  char buffer[48];
  if (integer) {
    std::snprintf(buffer, sizeof buffer, "%.0Lf", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.6g", static_cast<double>(value));
  }
  return buffer;
}

/// Running state of the element loop.
struct Tally {
  int64_t mismatched = 0;
  int64_t nonfinite_mismatched = 0;
  int64_t actual_nan = 0;
  int64_t expected_nan = 0;
  double max_abs = 0;
  double max_rel = 0;
  int64_t max_abs_index = -1;
  int64_t worst_index = -1;  // largest violation among mismatches
  double worst_violation = 0;
  double worst_abs = 0;
  long double max_abs_expected = 0, max_abs_actual = 0;
  long double worst_expected = 0, worst_actual = 0;
};

/// One element under the rules in compare.h. `Value` is double or long double.
/// `scale` is the element's term magnitude (0 when there is none).
template <typename Value>
void tally_element(int64_t index, Value e, Value a, double scale, const Tolerance& tolerance, Tally& tally) {
  const bool e_nan = std::isnan(e), a_nan = std::isnan(a);
  const bool e_finite = std::isfinite(e), a_finite = std::isfinite(a);
  if (e_nan) ++tally.expected_nan;
  if (a_nan) ++tally.actual_nan;

  bool match;
  double abs_error;
  double violation;
  if (!e_finite || !a_finite) {
    match = e_nan ? a_nan : (e_finite ? false : a == e);
    abs_error = match ? 0 : kInf;
    violation = match ? 0 : kInf;
    if (!match) ++tally.nonfinite_mismatched;
  } else {
    abs_error = static_cast<double>(std::fabs(a - e));
    const double magnitude = static_cast<double>(std::fabs(e));
    const double allowed = tolerance.atol + tolerance.rtol * std::max(magnitude, std::isfinite(scale) ? std::fabs(scale) : 0.0);
    match = abs_error <= allowed;
    violation = allowed > 0 ? abs_error / allowed : (abs_error > 0 ? kInf : 0);
    if (magnitude > 0) tally.max_rel = std::max(tally.max_rel, abs_error / magnitude);
  }

  if (abs_error > tally.max_abs || tally.max_abs_index < 0) {
    tally.max_abs = std::max(tally.max_abs, abs_error);
    tally.max_abs_index = index;
    tally.max_abs_expected = e;
    tally.max_abs_actual = a;
  }
  if (!match) {
    ++tally.mismatched;
    if (tally.worst_index < 0 || violation > tally.worst_violation ||
        (violation == tally.worst_violation && abs_error > tally.worst_abs)) {
      tally.worst_index = index;
      tally.worst_violation = violation;
      tally.worst_abs = abs_error;
      tally.worst_expected = e;
      tally.worst_actual = a;
    }
  }
}

std::string plural_elements(int64_t count) { return count == 1 ? "element" : "elements"; }

void finish_numerical(const models::TensorData& expected, const Tolerance& tolerance, bool integer,
                      const Tally& tally, Comparison& result) {
  const int64_t n = result.element_count;
  result.mismatched_count = tally.mismatched;
  result.nonfinite_mismatch_count = tally.nonfinite_mismatched;
  result.matched_ratio = n == 0 ? 1.0 : static_cast<double>(n - tally.mismatched) / static_cast<double>(n);
  result.max_abs_error = tally.max_abs;
  result.max_rel_error = tally.max_rel;
  result.never_written = n > 0 && tally.actual_nan == n && tally.expected_nan < n;

  long double worst_expected, worst_actual;
  double worst_abs;
  if (tally.worst_index >= 0) {
    result.worst_index = tally.worst_index;
    worst_expected = tally.worst_expected;
    worst_actual = tally.worst_actual;
    worst_abs = tally.worst_abs;
  } else {
    result.worst_index = tally.max_abs_index;
    worst_expected = tally.max_abs_expected;
    worst_actual = tally.max_abs_actual;
    worst_abs = tally.max_abs;
  }
  result.expected_value = static_cast<double>(worst_expected);
  result.actual_value = static_cast<double>(worst_actual);

  const bool within_ratio = result.matched_ratio >= tolerance.min_matched_ratio;
  const bool ok = tally.mismatched == 0 || (tally.nonfinite_mismatched == 0 && within_ratio);
  result.verdict = ok ? Verdict::kPassed : Verdict::kIncorrectNumerical;

  if (n == 0) {
    result.summary = "empty output (0 elements)";
    return;
  }
  result.worst_position = position_string(expected.dims, result.worst_index);
  const std::string where = " at " + result.worst_position + " (expected " + format_value(worst_expected, integer) +
                            ", got " + format_value(worst_actual, integer) + ")";
  std::string text;
  if (result.never_written) text = "output never written (all NaN); ";
  text += "max_abs_error " + format_error(tally.max_abs);
  if (worst_abs == tally.max_abs) {
    text += where;
  } else {
    text += "; worst element" + where;
  }
  if (tally.mismatched == 0) {
    text += "; all " + std::to_string(n) + " " + plural_elements(n) + " within " + tolerance.describe();
  } else {
    text += "; " + std::to_string(tally.mismatched) + " of " + std::to_string(n) + " " + plural_elements(n) +
            " outside " + tolerance.describe();
    if (tally.nonfinite_mismatched > 0) {
      text += "; " + std::to_string(tally.nonfinite_mismatched) + " NaN/Inf " +
              plural_elements(tally.nonfinite_mismatched) + " disagree with the reference";
    } else if (ok) {
      text += " (allowed)";
    }
  }
  result.summary = std::move(text);
}

void compare_strings(const models::TensorData& expected, const models::TensorData& actual, Comparison& result) {
  const int64_t n = result.element_count;
  for (int64_t i = 0; i < n; ++i) {
    if (expected.strings[static_cast<size_t>(i)] == actual.strings[static_cast<size_t>(i)]) continue;
    if (result.mismatched_count++ == 0) result.worst_index = i;
  }
  result.matched_ratio = n == 0 ? 1.0 : static_cast<double>(n - result.mismatched_count) / static_cast<double>(n);
  if (result.mismatched_count == 0) {
    result.summary = "all " + std::to_string(n) + " strings equal";
    return;
  }
  result.verdict = Verdict::kIncorrectNumerical;
  result.worst_position = position_string(expected.dims, result.worst_index);
  const size_t w = static_cast<size_t>(result.worst_index);
  result.summary = std::to_string(result.mismatched_count) + " of " + std::to_string(n) +
                   " strings differ; first at " + result.worst_position + " (expected \"" + expected.strings[w] +
                   "\", got \"" + actual.strings[w] + "\")";
}

void compare_bytes_per_element(const models::TensorData& expected, const models::TensorData& actual,
                               Comparison& result) {
  const size_t element_size = models::dtype_size(expected.dtype);
  const int64_t n = result.element_count;
  for (int64_t i = 0; i < n; ++i) {
    const size_t offset = static_cast<size_t>(i) * element_size;
    if (std::memcmp(expected.bytes.data + offset, actual.bytes.data + offset, element_size) == 0) continue;
    if (result.mismatched_count++ == 0) result.worst_index = i;
  }
  result.matched_ratio = n == 0 ? 1.0 : static_cast<double>(n - result.mismatched_count) / static_cast<double>(n);
  if (result.mismatched_count == 0) {
    result.summary = "all " + std::to_string(n) + " " + plural_elements(n) + " bitwise equal";
    return;
  }
  result.verdict = Verdict::kIncorrectNumerical;
  result.worst_position = position_string(expected.dims, result.worst_index);
  result.summary = std::to_string(result.mismatched_count) + " of " + std::to_string(n) + " " +
                   plural_elements(n) + " differ (compared exactly); first at " + result.worst_position;
}

/// Byte count check: "" when `tensor` holds what its dims and dtype need.
std::string size_problem(const models::TensorData& tensor, const char* which) {
  const int64_t n = tensor.numel();
  if (tensor.dtype == DType::kString) {
    if (static_cast<int64_t>(tensor.strings.size()) == n) return {};
    return std::string(which) + " holds " + std::to_string(tensor.strings.size()) + " strings, shape " +
           tensor.shape_string() + " needs " + std::to_string(n);
  }
  const size_t needed = static_cast<size_t>(n) * models::dtype_size(tensor.dtype);
  if (tensor.bytes.size_bytes == needed && (needed == 0 || tensor.bytes.data != nullptr)) return {};
  return std::string(which) + " holds " + std::to_string(tensor.bytes.size_bytes) + " bytes, " +
         tensor.shape_string() + " " + models::dtype_name(tensor.dtype) + " needs " + std::to_string(needed);
}

}  // namespace

std::string position_string(const std::vector<int64_t>& dims, int64_t index) {
  std::vector<int64_t> position(dims.size(), 0);
  int64_t rest = index;
  for (size_t axis = dims.size(); axis-- > 0;) {
    const int64_t size = dims[axis] > 0 ? dims[axis] : 1;
    position[axis] = rest % size;
    rest /= size;
  }
  std::string text = "[";
  for (size_t axis = 0; axis < position.size(); ++axis) {
    if (axis > 0) text += ", ";
    text += std::to_string(position[axis]);
  }
  return text + "]";
}

Comparison compare_outputs(const models::TensorData& expected, const models::TensorData& actual,
                           const Tolerance& tolerance, const models::TensorData* magnitude) {
  Comparison result;
  if (expected.dims != actual.dims) {
    result.verdict = Verdict::kIncorrectShape;
    result.summary = "shape " + expected.shape_string() + " expected, got " + actual.shape_string();
    return result;
  }
  if (expected.dtype != actual.dtype) {
    result.verdict = Verdict::kIncorrectDtype;
    result.summary =
        "dtype " + models::dtype_name(expected.dtype) + " expected, got " + models::dtype_name(actual.dtype);
    return result;
  }
  for (const auto& [tensor, which] : {std::pair{&expected, "the reference"}, std::pair{&actual, "the output"}}) {
    std::string problem = size_problem(*tensor, which);
    if (!problem.empty()) {
      result.verdict = Verdict::kIncorrectShape;
      result.summary = std::move(problem);
      return result;
    }
  }

  result.element_count = expected.numel();
  const DType dtype = expected.dtype;
  if (dtype == DType::kString) {
    compare_strings(expected, actual, result);
    return result;
  }
  if (is_complex(dtype) || models::dtype_size(dtype) == 0) {
    compare_bytes_per_element(expected, actual, result);
    return result;
  }

  Tally tally;
  const int64_t n = result.element_count;
  const bool integer = models::is_integer(dtype);
  if (integer) {
    for (int64_t i = 0; i < n; ++i) {
      tally_element(i, load_integer(expected.bytes.data, dtype, i), load_integer(actual.bytes.data, dtype, i), 0.0,
                    tolerance, tally);
    }
  } else {
    const bool scaled = magnitude != nullptr && magnitude->dims == expected.dims && magnitude->dtype == dtype &&
                        size_problem(*magnitude, "the magnitude").empty();
    for (int64_t i = 0; i < n; ++i) {
      const double scale = scaled ? static_cast<double>(load_real(magnitude->bytes.data, dtype, i)) : 0.0;
      tally_element(i, load_real(expected.bytes.data, dtype, i), load_real(actual.bytes.data, dtype, i), scale,
                    tolerance, tally);
    }
  }
  finish_numerical(expected, tolerance, integer || dtype == DType::kBool, tally, result);
  if (magnitude != nullptr && tally.mismatched > 0) result.summary += " (rtol of max(|expected|, the terms' magnitude))";
  return result;
}

bool bitwise_equal(const models::TensorData& a, const models::TensorData& b) {
  if (a.dtype != b.dtype || a.dims != b.dims || a.strings != b.strings) return false;
  if (a.bytes.size_bytes != b.bytes.size_bytes) return false;
  if (a.bytes.size_bytes == 0) return true;
  return std::memcmp(a.bytes.data, b.bytes.data, a.bytes.size_bytes) == 0;
}

}  // namespace ak::verifier
