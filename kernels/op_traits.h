#pragma once
/// The one table of what autokernel knows about each ONNX op it reasons about: its family
/// (the cost model's op class), whether it is elementwise, its cost per output element, and,
/// for the ops a fused elementwise kernel can compute, the arity, the numeric attributes with
/// their ONNX defaults and the float expression the generated kernel uses. The cost model
/// (profiler/), the runtime fusions and graph patterns (models/) and the kernel templates
/// (kernels/) all read it; none keeps its own op list. Torch-free, data only, thread-safe.

#include <string>
#include <string_view>
#include <vector>

namespace ak::kernels {

/// The cost model's op classes.
enum class OpFamily {
  kElementwise,
  kMatmul,
  kConv,
  kAttention,
  kReduction,
  kNormalization,
  kDataMovement,
  kOther,
};

/// "elementwise", "matmul", "conv", "attention", "reduction", "normalization",
/// "data_movement", "other" (static strings; the op_class of task.json and the profile).
const char* op_family_name(OpFamily family);

/// A numeric attribute of an elementwise op with its ONNX default.
struct OpAttribute {
  std::string_view name;
  double default_value;
};

/// One op (ai.onnx domain unless `domain` says otherwise).
struct OpTraits {
  std::string_view op;
  std::string_view domain;  ///< "" for ai.onnx, "com.microsoft", "com.autokernel"
  OpFamily family = OpFamily::kOther;
  /// Floating-point operations per output element (elementwise ops; variadic ones per input
  /// beyond the first); -1 for ops whose cost the cost model computes from their shapes.
  double flops_per_element = -1;
  /// A pointwise nonlinearity applied after a GEMM or a convolution (bias + activation).
  bool activation = false;
  /// Elementwise ops a generated kernel can compute: operand counts (max -1: variadic), the
  /// numeric attributes, and the float expression with `$0`, `$1`, ... for the operands and
  /// `${name}` for attribute values. Helpers the expression calls (`gelu(...)`) are defined
  /// in kernels/templates/elementwise_ops.h. An empty expression: not fusable by templates.
  int min_operands = 0, max_operands = 0;
  std::vector<OpAttribute> attributes;
  std::string_view expression;

  bool elementwise() const { return family == OpFamily::kElementwise; }
  bool fusable() const { return !expression.empty(); }
};

/// The traits of `op` in `domain` ("" and "ai.onnx" are the same), nullptr when the table
/// does not list it.
const OpTraits* find_op_traits(std::string_view op, std::string_view domain = "");

/// Every op in the table, in a stable order.
const std::vector<OpTraits>& all_op_traits();

/// The ops a generated elementwise kernel can compute (fusable()), in table order.
std::vector<std::string> fusable_elementwise_ops();

}  // namespace ak::kernels
