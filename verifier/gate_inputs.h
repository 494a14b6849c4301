#pragma once
/// Host input tensors for the correctness gates (fresh random seeds, adversarial values),
/// the shapes of the var-axis sweep, and content checksums for the input-mutation check.
/// Torch-free and deterministic: the same spec, fill and seed give the same bytes on every
/// run. The value ranges and their reasons are in docs/verifier.md ("Input fills").

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"

namespace ak::verifier {

/// One input of a task, as the gates must produce it.
struct InputSpec {
  std::string name;
  models::DType dtype = models::DType::kFloat32;
  std::vector<int64_t> dims;
  /// For integer inputs that index into something (Gather indices, token ids): values are
  /// kept in [0, int_upper_bound). Must be >= 1 when set.
  std::optional<int64_t> int_upper_bound;
};

/// What values an input holds. For floats (magnitudes per dtype in docs/verifier.md):
enum class Fill {
  kRandomNormal,  ///< N(0, 1); integers: small values (uniform in [0, bound) with a bound)
  kLarge,         ///< random sign, magnitude near the dtype's "large" (fp16 100, others 1e4)
  kTiny,          ///< random sign, magnitude near the dtype's "tiny" (fp16 1e-4, others 1e-6)
  kZeros,         ///< all zero (all false)
  kConstant,      ///< one seed-chosen non-zero value everywhere (all true for bool)
  kMixedScales,   ///< random sign, magnitude 10^u with u uniform over several decades
};

/// "random", "large", "tiny", "zeros", "constant", "mixed_scales" (static strings).
const char* fill_name(Fill fill);

/// Every Fill, in the order the adversarial gate uses them (kRandomNormal first).
std::vector<Fill> all_fills();

/// A tensor for `spec` filled per `fill`. The seed is mixed with the input's name, so two
/// inputs of one call with the same seed still get different values (x - y must not be 0).
/// Supports float32/64, float16, bfloat16, every integer type and bool. Fails for string,
/// complex or undefined dtypes, negative dims, or an int_upper_bound < 1.
Result<models::TensorData> make_input(const InputSpec& spec, Fill fill, uint64_t seed);

/// Limits on the sweep's proposals.
struct SweepOptions {
  int64_t max_axis_size = int64_t{1} << 20;  ///< a doubled axis is capped at this
  int64_t max_numel = int64_t{1} << 28;      ///< proposals with more elements are dropped
};

/// Other sizes for the var axes of `dims` (`var_axes[i]` true: axis i may change; missing
/// entries count as false), for the shape-sweep gate. First every var axis together:
/// halved, doubled (capped), n-1, n+1, 7, 97 and 1; then each var axis alone at n-1 and n+1
/// (odd sizes, off-by-one in one dimension). Sizes stay >= 1; the original shape and
/// duplicates are left out; the order is deterministic. Empty when no axis is var.
std::vector<std::vector<int64_t>> sweep_shapes(const std::vector<int64_t>& dims, const std::vector<bool>& var_axes,
                                               const SweepOptions& options = {});

/// SHA-256 (hex) of a tensor's dtype, dims and content (bytes, or the strings), for the
/// anti-cheat check that a candidate did not write into its inputs. The name is not hashed.
std::string checksum(const models::TensorData& tensor);

/// IEEE half bits nearest to `value` (round to nearest even; overflow gives +/-Inf).
uint16_t float_to_half(float value);
/// bfloat16 bits nearest to `value` (round to nearest even; NaN stays NaN).
uint16_t float_to_bfloat16(float value);

}  // namespace ak::verifier
