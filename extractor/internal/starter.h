#pragma once
/// Choosing a task's starter kernel: a template from kernels/templates.h when one computes
/// exactly what the task's nodes compute, else a skeleton. Torch-free.
///
/// Covered (float32, float16, bfloat16):
///   - elementwise_chain: single elementwise nodes, elementwise_chain groups, GELU groups
///     (erf or tanh form) and com.autokernel.Gelu; operands are kernel inputs, earlier
///     steps, or scalar constants kept in the subgraph (Clip's min/max become attributes);
///     Casts between float types anywhere. Each step rounds to its node's output dtype.
///   - rowwise_softmax / rowwise_log_softmax: Softmax/LogSoftmax over the last axis, and the
///     decomposed softmax group (ReduceMax/ReduceSum over the last axis, keepdims).
///   - rowwise_layer_norm: LayerNormalization (axis = last) with scale [and bias], and the
///     decomposed layer_norm group with its gamma [and beta].
///   - rowwise_rms_norm: the decomposed rms_norm group [with its gamma] (also dynamo's form
///     with float32 casts: the template computes in float, and rounds before the weight
///     where the graph casts down before it).
///   - rowwise_residual_layer_norm / rowwise_residual_rms_norm: the residual_layer_norm /
///     residual_rms_norm groups (the residual Add, then the norm): inputs the Add's two
///     operands (x's shape, no broadcast), gamma [and beta]; outputs y [and h, the sum].
///   Groups are read through models/patterns.h (match_exactly on the task's nodes): x,
///   gamma, beta, epsilon and axis come from the match's fields.
///   - gemm_epilogue: MatMul and Gemm nodes, and gemm_epilogue groups: the product followed by
///     any elementwise nodes of the template table (bias, activation, residual, scale, Casts
///     between float32 and the product's dtype anywhere), rounded per node as above.
///   - conv: Conv nodes (1-D or 2-D, any group, auto_pad resolved to pads) and conv_epilogue
///     groups, the convolution followed by elementwise nodes as above.
///   - attention: com.autokernel.Attention and attention groups (one dtype, a mask input or a
///     causal constant); rotary: rotary groups with known halves; gated_mlp groups are
///     elementwise chains.
///   - layout (any dtype): single Reshape, Flatten, Squeeze, Unsqueeze, Identity, Transpose,
///     Gather, Slice, Concat and Expand nodes; Gather's indices and Slice's bounds must be
///     constants kept in the subgraph; a shape / axes computed at run time is an unread
///     kernel input (the output's descriptor carries its result).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "extractor/internal/axes.h"
#include "kernels/templates.h"
#include "models/graph.h"
#include "profiler/hotspots.h"

namespace ak::extractor::internal {

/// What the starter choice looks at.
struct StarterContext {
  const models::Model* model = nullptr;     ///< the executed model (opsets)
  std::vector<const models::Node*> nodes;   ///< the hotspot's nodes in graph order (no Constant copies)
  profiler::HotspotKind kind;               ///< a node, or the group's pattern
  std::string op_type;                      ///< task.json's op_type (for the skeleton)
  std::vector<std::string> inputs;          ///< kernel inputs, in the plan's order
  std::vector<std::string> outputs;         ///< kernel outputs
  const std::map<std::string, models::TensorData>* constants = nullptr;  ///< kept inside the subgraph
  const ShapeMap* shapes = nullptr;         ///< every value's shape in the captured run
  std::map<std::string, models::DType> dtypes;  ///< of the inputs and outputs
  kernels::Target target = kernels::Target::kCpu;
  bool allow_tf32 = false;                  ///< the task's target.allow_tf32 (float32 products may use TF32)
  /// The template's parameter values (kernels/templates.h); empty: every default. A config
  /// the chosen template rejects makes no template: check it first (template_kind_of).
  kernels::TemplateConfig config;
  std::vector<std::string> input_lines, output_lines;  ///< "x: float32 [batch=2, n64=64]" for the skeleton
};

/// The chosen starter.
struct Starter {
  std::string template_name;        ///< "elementwise_chain", "rowwise_softmax", ..., "skeleton"
  std::string source;               ///< the complete file
  std::vector<std::string> inputs;  ///< kernel inputs in the order the source expects them
  std::string why_skeleton;         ///< for a skeleton: why no template applies
};

/// Picks and generates the starter. Never fails: anything a template cannot take exactly is
/// a skeleton (with the reason in why_skeleton).
Starter make_starter(const StarterContext& context);

/// Whose tunable parameters (kernels::template_parameters) the starter template named
/// `template_name` takes: rotary takes the elementwise ones; nullopt for "skeleton" and
/// names that are no template.
std::optional<kernels::TemplateKind> template_kind_of(const std::string& template_name);

}  // namespace ak::extractor::internal
