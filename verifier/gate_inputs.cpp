#include "verifier/gate_inputs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <set>
#include <string_view>

#include "base/sha256.h"

namespace ak::verifier {
namespace {

using models::DType;

/// splitmix64 (see statistics.cpp): exactly specified, so the same seed gives the same
/// tensor on every platform and standard library.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, bound), bound >= 1.
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  double sign() { return (next() & 1) != 0 ? 1.0 : -1.0; }
  /// Standard normal (Box-Muller; the second value is dropped to keep the stream simple).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log(0) is not allowed
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  uint64_t state_;
};

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// Value ranges for float fills, per dtype (docs/verifier.md explains the choices).
struct FloatRanges {
  double large;        ///< kLarge magnitudes lie in [large/2, large]
  double tiny;         ///< kTiny magnitudes lie in [tiny, 4*tiny]
  double mixed_low_exp, mixed_high_exp;  ///< kMixedScales magnitudes 10^[low, high]
};

FloatRanges float_ranges(DType dtype) {
  // float16 tops out at 65504: 100^2 = 1e4 stays finite, and exp() of anything above 11
  // overflows, so a softmax that forgets to subtract the max fails. Its smallest normal is
  // 6.1e-5, so tiny stays just above it.
  if (dtype == DType::kFloat16) return {100.0, 1e-4, -3.0, 2.0};
  // float32, bfloat16 (float32's range, 8 mantissa bits) and float64: 1e4^2 = 1e8, and
  // exp(1e4) overflows every one of them, which the reference avoids by subtracting the max.
  return {1e4, 1e-6, -4.0, 4.0};
}

bool is_supported(DType dtype) {
  return models::is_floating(dtype) || models::is_integer(dtype) || dtype == DType::kBool;
}

bool is_signed_integer(DType dtype) {
  return dtype == DType::kInt8 || dtype == DType::kInt16 || dtype == DType::kInt32 || dtype == DType::kInt64;
}

template <typename T>
void store(std::vector<std::byte>& bytes, int64_t index, T value) {
  std::memcpy(bytes.data() + static_cast<size_t>(index) * sizeof(T), &value, sizeof(T));
}

void store_float(std::vector<std::byte>& bytes, DType dtype, int64_t index, double value) {
  switch (dtype) {
    case DType::kFloat32: store(bytes, index, static_cast<float>(value)); break;
    case DType::kFloat64: store(bytes, index, value); break;
    case DType::kFloat16: store(bytes, index, float_to_half(static_cast<float>(value))); break;
    case DType::kBFloat16: store(bytes, index, float_to_bfloat16(static_cast<float>(value))); break;
    default: break;
  }
}

void store_integer(std::vector<std::byte>& bytes, DType dtype, int64_t index, int64_t value) {
  switch (dtype) {
    case DType::kInt8: store(bytes, index, static_cast<int8_t>(value)); break;
    case DType::kUInt8: store(bytes, index, static_cast<uint8_t>(value)); break;
    case DType::kInt16: store(bytes, index, static_cast<int16_t>(value)); break;
    case DType::kUInt16: store(bytes, index, static_cast<uint16_t>(value)); break;
    case DType::kInt32: store(bytes, index, static_cast<int32_t>(value)); break;
    case DType::kUInt32: store(bytes, index, static_cast<uint32_t>(value)); break;
    case DType::kInt64: store(bytes, index, value); break;
    case DType::kUInt64: store(bytes, index, static_cast<uint64_t>(value)); break;
    case DType::kBool: store(bytes, index, static_cast<uint8_t>(value != 0 ? 1 : 0)); break;
    default: break;
  }
}

void fill_floats(std::vector<std::byte>& bytes, DType dtype, int64_t n, Fill fill, Random& rng) {
  const FloatRanges ranges = float_ranges(dtype);
  const double constant = rng.sign() * (0.5 + 1.5 * rng.uniform());
  for (int64_t i = 0; i < n; ++i) {
    double value = 0;
    switch (fill) {
      case Fill::kRandomNormal: value = rng.normal(); break;
      case Fill::kLarge: value = rng.sign() * ranges.large * (0.5 + 0.5 * rng.uniform()); break;
      case Fill::kTiny: value = rng.sign() * ranges.tiny * (1.0 + 3.0 * rng.uniform()); break;
      case Fill::kZeros: value = 0; break;
      case Fill::kConstant: value = constant; break;
      case Fill::kMixedScales: {
        const double exponent =
            ranges.mixed_low_exp + (ranges.mixed_high_exp - ranges.mixed_low_exp) * rng.uniform();
        value = rng.sign() * std::pow(10.0, exponent);
        break;
      }
    }
    store_float(bytes, dtype, i, value);
  }
}

/// Indices and ids: every value in [0, bound).
int64_t bounded_integer(Fill fill, int64_t bound, int64_t constant, Random& rng) {
  const uint64_t b = static_cast<uint64_t>(bound);
  switch (fill) {
    case Fill::kRandomNormal: return static_cast<int64_t>(rng.below(b));
    case Fill::kLarge: {
      // The top sixteenth of the range: the last valid rows, where off-by-one reads land.
      const uint64_t span = std::max<uint64_t>(1, b / 16);
      return bound - 1 - static_cast<int64_t>(rng.below(span));
    }
    case Fill::kTiny: return static_cast<int64_t>(rng.below(std::min<uint64_t>(b, 2)));
    case Fill::kZeros: return 0;
    case Fill::kConstant: return constant;
    case Fill::kMixedScales: {
      // Log-uniform over [1, bound]: small and large indices in one tensor.
      const double value = std::floor(std::exp(rng.uniform() * std::log(static_cast<double>(bound))));
      return std::clamp<int64_t>(static_cast<int64_t>(value) - 1, 0, bound - 1);
    }
  }
  return 0;
}

/// Free integers: "large" is the largest magnitude whose products of two still fit the type
/// (2^(bits/2 - 1) signed, 2^(bits/2) unsigned), so the reference never overflows.
int64_t free_integer(DType dtype, Fill fill, int64_t constant, Random& rng) {
  const bool is_signed = is_signed_integer(dtype);
  const int bits = static_cast<int>(models::dtype_size(dtype)) * 8;
  const int64_t max_magnitude = int64_t{1} << (is_signed ? bits / 2 - 1 : bits / 2);
  const int64_t sign = is_signed && (rng.next() & 1) != 0 ? -1 : 1;
  switch (fill) {
    case Fill::kRandomNormal:
      return is_signed ? static_cast<int64_t>(rng.below(16)) - 8 : static_cast<int64_t>(rng.below(16));
    case Fill::kLarge:
      return sign * (max_magnitude / 2 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(max_magnitude / 2) + 1)));
    case Fill::kTiny:
      return is_signed ? static_cast<int64_t>(rng.below(3)) - 1 : static_cast<int64_t>(rng.below(2));
    case Fill::kZeros: return 0;
    case Fill::kConstant: return constant;
    case Fill::kMixedScales: {
      const double exponent = rng.uniform() * std::log2(static_cast<double>(max_magnitude));
      return sign * static_cast<int64_t>(std::floor(std::exp2(exponent)));
    }
  }
  return 0;
}

void fill_integers(std::vector<std::byte>& bytes, const InputSpec& spec, int64_t n, Fill fill, Random& rng) {
  const DType dtype = spec.dtype;
  if (dtype == DType::kBool) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t value = 1;
      if (fill == Fill::kZeros) value = 0;
      else if (fill != Fill::kConstant) value = static_cast<int64_t>(rng.next() & 1);
      store_integer(bytes, dtype, i, value);
    }
    return;
  }
  int64_t constant;
  if (spec.int_upper_bound) {
    constant = static_cast<int64_t>(rng.below(static_cast<uint64_t>(*spec.int_upper_bound)));
  } else {
    const bool is_signed = is_signed_integer(dtype);
    const int bits = static_cast<int>(models::dtype_size(dtype)) * 8;
    const int64_t max_magnitude = int64_t{1} << (is_signed ? bits / 2 - 1 : bits / 2);
    constant = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(max_magnitude)));
    if (is_signed && (rng.next() & 1) != 0) constant = -constant;
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t value = spec.int_upper_bound ? bounded_integer(fill, *spec.int_upper_bound, constant, rng)
                                               : free_integer(dtype, fill, constant, rng);
    store_integer(bytes, dtype, i, value);
  }
}

}  // namespace

const char* fill_name(Fill fill) {
  switch (fill) {
    case Fill::kRandomNormal: return "random";
    case Fill::kLarge: return "large";
    case Fill::kTiny: return "tiny";
    case Fill::kZeros: return "zeros";
    case Fill::kConstant: return "constant";
    case Fill::kMixedScales: return "mixed_scales";
  }
  return "unknown";
}

std::vector<Fill> all_fills() {
  return {Fill::kRandomNormal, Fill::kLarge, Fill::kTiny, Fill::kZeros, Fill::kConstant, Fill::kMixedScales};
}

Result<models::TensorData> make_input(const InputSpec& spec, Fill fill, uint64_t seed) {
  if (!is_supported(spec.dtype)) {
    return unsupported("input '" + spec.name + "': cannot generate values of dtype " + models::dtype_name(spec.dtype));
  }
  for (int64_t dim : spec.dims) {
    if (dim < 0) {
      return invalid_input("input '" + spec.name + "': negative dimension in shape " + models::shape_string(spec.dims));
    }
  }
  if (spec.int_upper_bound && *spec.int_upper_bound < 1) {
    return invalid_input("input '" + spec.name + "': int_upper_bound must be >= 1, got " +
                         std::to_string(*spec.int_upper_bound));
  }

  models::TensorData tensor;
  tensor.name = spec.name;
  tensor.dtype = spec.dtype;
  tensor.dims = spec.dims;
  const int64_t n = tensor.numel();
  std::vector<std::byte> bytes(static_cast<size_t>(n) * models::dtype_size(spec.dtype));

  // Name and fill enter the seed: inputs of one call, and fills of one seed, must differ.
  Random rng(seed ^ fnv1a(spec.name) ^ (static_cast<uint64_t>(fill) * 0x9e3779b97f4a7c15ULL));
  if (models::is_floating(spec.dtype)) {
    fill_floats(bytes, spec.dtype, n, fill, rng);
  } else {
    fill_integers(bytes, spec, n, fill, rng);
  }
  tensor.bytes = models::Buffer::copy_of(bytes.data(), bytes.size());
  return tensor;
}

std::vector<std::vector<int64_t>> sweep_shapes(const std::vector<int64_t>& dims, const std::vector<bool>& var_axes,
                                               const SweepOptions& options) {
  std::vector<size_t> var;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (axis < var_axes.size() && var_axes[axis]) var.push_back(axis);
  }
  std::vector<std::vector<int64_t>> shapes;
  if (var.empty()) return shapes;

  std::set<std::vector<int64_t>> seen{dims};
  auto propose = [&](std::vector<int64_t> shape) {
    for (int64_t size : shape) {
      if (size < 1) return;
    }
    double numel = 1;
    for (int64_t size : shape) numel *= static_cast<double>(size);
    if (numel > static_cast<double>(options.max_numel)) return;
    if (seen.insert(shape).second) shapes.push_back(std::move(shape));
  };
  auto all_var_axes = [&](auto resize) {
    std::vector<int64_t> shape = dims;
    for (size_t axis : var) shape[axis] = resize(dims[axis]);
    propose(std::move(shape));
  };

  all_var_axes([](int64_t n) { return n / 2; });
  all_var_axes([&](int64_t n) { return std::min(n * 2, std::max(options.max_axis_size, n)); });
  all_var_axes([](int64_t n) { return n - 1; });
  all_var_axes([](int64_t n) { return n + 1; });
  all_var_axes([](int64_t) { return int64_t{7}; });
  all_var_axes([](int64_t) { return int64_t{97}; });
  all_var_axes([](int64_t) { return int64_t{1}; });
  if (var.size() > 1) {
    for (size_t axis : var) {
      for (int64_t delta : {-1, 1}) {
        std::vector<int64_t> shape = dims;
        shape[axis] += delta;
        propose(std::move(shape));
      }
    }
  }
  return shapes;
}

std::string checksum(const models::TensorData& tensor) {
  // Hash the content first, then a header naming dtype and dims with it: a reshaped or
  // retyped tensor with the same bytes must not collide.
  std::string content_hash;
  if (tensor.dtype == DType::kString) {
    std::string joined;
    for (const std::string& text : tensor.strings) {
      joined += std::to_string(text.size());
      joined += ':';
      joined += text;
    }
    content_hash = sha256_hex(joined);
  } else {
    content_hash = sha256_hex(
        std::string_view(reinterpret_cast<const char*>(tensor.bytes.data), tensor.bytes.size_bytes));
  }
  std::string header = "dtype=" + std::to_string(static_cast<int>(tensor.dtype)) + ";dims=";
  for (int64_t dim : tensor.dims) header += std::to_string(dim) + ",";
  return sha256_hex(header + ";content=" + content_hash);
}

uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // Inf, or NaN (kept quiet, payload truncated)
    return static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u | ((magnitude >> 13) & 0x3ffu) : 0));
  }
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to Inf
  if (magnitude >= 0x38800000u) {  // normal half (>= 2^-14)
    const uint32_t exponent = (magnitude >> 23) - 127 + 15;
    const uint32_t mantissa = magnitude & 0x7fffffu;
    uint32_t half = (exponent << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) != 0)) ++half;  // a carry into the exponent is right
    return static_cast<uint16_t>(sign | half);
  }
  if (magnitude <= 0x33000000u) return sign;  // <= 2^-25: rounds to (signed) zero
  // Subnormal half: units of 2^-24.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exponent;
  uint32_t half = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1u) != 0)) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t float_to_bfloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace ak::verifier
