#pragma once
/// Cost model: floating-point operations and bytes moved by one ONNX node, computed from
/// the real shapes and dtypes it ran with. Torch-free; the profiler feeds it the shapes it
/// observed and the roofline (profiler/roofline.h) turns the cost into an attainable time.
///
/// FLOPs (one multiply-add counts 2):
///   matmul      MatMul: 2*batch*M*N*K, batch = broadcast of both operands' leading dims
///               (a 1-D operand counts as M=1 or N=1). Gemm: 2*M*N*K (+ M*N with C).
///   conv        Conv: 2*N*Cout*prod(out spatial)*(Cin/group)*prod(kernel) (+ N*Cout*prod(out
///               spatial) with a bias). ConvTranspose: 2*N*Cin*prod(in spatial)*(Cout/group)*
///               prod(kernel) (+ bias as for Conv).
///   attention   com.autokernel.Attention(Q [.., Sq, D], Kt [.., D, Sk], V [.., Sk, Dv][, mask]):
///               2*B*Sq*Sk*D + 2*B*Sq*Sk*Dv + kSoftmaxFlopsPerElement*B*Sq*Sk
///               (+ B*Sq*Sk for the scale, + B*Sq*Sk with a mask), B = batch of the output.
///   elementwise flops_per_element(op) per output element (kernels/op_traits.cpp, the one op table:
///               1 for Add/Sub/Mul/Div/Relu/Where/compares..., 4 for Exp/Log/Sigmoid/Sin/...,
///               6 for Tanh, 8 for Erf and Gelu, 0 for Cast; variadic Sum/Max/Min/Mean: one
///               per input beyond the first).
///   reduction   Reduce*/ArgMax/ArgMin/GlobalPools: per input element (2 for ReduceL2,
///               ReduceSumSquare, ReduceLogSumExp 5); MaxPool/AveragePool/LpPool: output
///               elements * prod(kernel_shape).
///   normalization  per output element: Softmax/LogSoftmax 5, LayerNormalization 8,
///               SimplifiedLayerNormalization/RMSNormalization 5, BatchNormalization 4,
///               InstanceNormalization/GroupNormalization 8, LpNormalization 3.
///   data_movement  0 (Reshape, Transpose, Concat, Gather, Slice, Expand, Pad, ...).
///   other       0 FLOPs (unknown op: only its bytes are counted).
///
/// Bytes: every input is read once and every output written once (sum of numel * dtype size),
/// except: views (Reshape, Squeeze, Unsqueeze, Flatten, Identity) move 0 bytes; Shape/Size
/// read only metadata (output bytes only); Gather/GatherElements/GatherND read the gathered
/// elements (output size) plus the indices, not the whole table; Slice reads only the slice.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/graph.h"

namespace ak::profiler {

/// A node with the concrete shapes and dtypes it ran with. `node` is borrowed (not owned)
/// and must outlive every use; shapes/dtypes are parallel to node->inputs / node->outputs
/// (an omitted optional input has an empty shape and kUndefined dtype).
struct NodeShapes {
  const models::Node* node = nullptr;
  std::vector<std::vector<int64_t>> input_shapes, output_shapes;
  std::vector<models::DType> input_dtypes, output_dtypes;
};

/// The cost of running one node (or one fused group) once.
struct NodeCost {
  double flops = 0;   ///< floating-point operations (multiply-add = 2)
  double bytes = 0;   ///< bytes read plus bytes written
  /// "matmul", "conv", "attention", "elementwise", "reduction", "normalization",
  /// "data_movement" or "other" (a static string).
  const char* op_class = "other";
};

/// The op class of `node` (see NodeCost::op_class) from its op type and domain alone.
const char* op_class_of(const models::Node& node);

/// FLOPs per output element of an elementwise op (the table above); -1 if `op_type` is not
/// an elementwise op this model knows.
double elementwise_flops_per_element(const std::string& op_type);

/// Product of dims (1 for a scalar); negative dims count as 0.
double shape_numel(const std::vector<int64_t>& shape);

/// The cost of one node from its shapes (never fails: unknown ops are "other" with bytes
/// only; shapes that do not fit an op's formula fall back to that too).
NodeCost estimate_cost(const NodeShapes& shapes);

/// Bytes of every value that appears in `nodes` (name -> numel * dtype size), for costing
/// fusion groups (profiler/fusion_groups.h).
std::map<std::string, double> value_bytes_of(const std::vector<NodeShapes>& nodes);

}  // namespace ak::profiler
