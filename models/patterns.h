#pragma once
/// Graph patterns: the one matcher for multi-node patterns of exported models (attention,
/// normalizations, GELU, rotary embeddings, gated MLPs, GEMM/conv epilogues, elementwise
/// chains), in the forms both torch.onnx exporters write (TorchScript and dynamo). The
/// runtime fusions (models/fusion.h), the profiler's fusion groups, the extractor's
/// starters and the swap-in check all call find_patterns() and read the typed fields of
/// its matches; none walks the nodes again. Torch-free: it reads the graph IR only.
/// docs/patterns.md lists every pattern, the exporter forms it matches and its fields.
///
/// A match covers a set of top-level nodes of which only the last one's outputs may be
/// read outside the match (or be graph outputs): a fused kernel never has to write an
/// intermediate. The one exception are the residual norms, whose residual Add's output may
/// leave too (their second output). A node belongs to at most one match.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "models/graph.h"

namespace ak::models {

/// What a match computes. The printed names are the fusion-group kinds of profile reports
/// and task.json ("attention", "layer_norm", ...).
enum class PatternKind {
  kAttention,
  kLayerNorm,
  kRmsNorm,
  kSoftmax,
  kGelu,
  kRotary,
  kGatedMlp,
  kGemmEpilogue,
  kConvEpilogue,
  kElementwiseChain,
  /// The norms with the residual Add that makes their input (h = x + residual; y = norm(h)),
  /// one match with two outputs: y, and h when it is read outside (the residual stream).
  /// Only when asked for (PatternOptions::kinds): the default leaves the Add to others.
  kResidualLayerNorm,
  kResidualRmsNorm,
};

/// "attention", "layer_norm", "rms_norm", "softmax", "gelu", "rotary", "gated_mlp",
/// "gemm_epilogue", "conv_epilogue", "elementwise_chain", "residual_layer_norm",
/// "residual_rms_norm" (static strings).
const char* pattern_kind_name(PatternKind kind);
/// The kind printed as `name`; nullopt for any other string.
std::optional<PatternKind> parse_pattern_kind(std::string_view name);

/// How attention scores are masked.
enum class MaskKind {
  kNone,
  kCausal,    ///< a lower-triangular mask (Trilu-built or a triangular constant), either form
  kAdditive,  ///< scores + mask (e.g. a padding mask built from an attention_mask input)
  kBoolean,   ///< Where(cond, fill, scores): scores replaced by `mask_value` where cond holds
};
/// "none", "causal", "additive", "boolean".
const char* mask_kind_name(MaskKind kind);

/// What is applied to scores before a softmax: a constant scale, a mask, an upcast.
struct ScoreFields {
  /// The product of the constant factors (Div counts 1/c): on the scores, and for attention
  /// also on Q and on Kt. A scale computed at run time (TorchScript's Sqrt(Cast(Shape))
  /// chains) stays outside the match and is not part of this number.
  double scale = 1;
  MaskKind mask_kind = MaskKind::kNone;
  /// The additive mask (kAdditive, or kCausal built additively), or the boolean condition
  /// (kBoolean, or kCausal in Where form); "" for kNone.
  std::string mask;
  bool mask_is_condition = false;  ///< `mask` selects (Where form) rather than adds
  /// The fill of masked positions: the Where fill, or the fill constant that builds an
  /// additive mask when one is found upstream; 0 when unknown or unmasked.
  double mask_value = 0;
  /// The scores are cast (to this dtype) before the softmax, as TorchScript's float16
  /// graphs do to run it in float32; kUndefined without a cast.
  DType scores_dtype = DType::kUndefined;
};

/// softmax(scale * Q @ Kt [+ mask | masked]) @ V.
struct AttentionFields : ScoreFields {
  std::string q;   ///< Q as the pattern reads it (before a constant scale that was folded in)
  std::string kt;  ///< K already transposed to [.., D, Sk] (before a folded constant scale)
  std::string v;
  /// K and V are expanded from fewer heads (grouped-query attention: Unsqueeze -> Expand
  /// -> Reshape on the K and V paths); k_source / v_source are the values before it.
  bool grouped_kv = false;
  std::string k_source, v_source;
  bool nan_guard = false;  ///< Where(IsNaN(p), 0, p) between Softmax and the second MatMul
  /// The Softmax has no axis attribute: the last axis from opset 13 on, a 2-D coercion
  /// before (the runtime rewrite leaves such matches alone).
  bool softmax_default_axis = false;
};

/// LayerNorm and RMSNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta (RMSNorm: no
/// mean, no beta).
struct NormFields {
  std::string x;      ///< the input (before an upcast Cast that the match covers)
  std::string gamma;  ///< "" when there is no scale
  std::string beta;   ///< "" when there is no shift (always for RMSNorm)
  double epsilon = 0;
  int64_t axis = -1;  ///< the normalized axis as written (may be negative)
  /// The dtype the statistics are computed in when the match covers Cast nodes (dynamo's
  /// float32 upcast of float16 RMSNorm); kUndefined without casts.
  DType compute_dtype = DType::kUndefined;
  /// The Add that makes x (residual + norm), when there is one. In layer_norm / rms_norm
  /// matches it is not one of the match's nodes (its output is also read by the next
  /// residual Add); in residual_layer_norm / residual_rms_norm matches it is.
  std::optional<size_t> residual_node;
  std::string residual_a, residual_b;  ///< its operands
};

/// A softmax with its scale and mask: a Softmax node after a constant scale and/or a mask
/// (outside attention), or the decomposed [ReduceMax -> Sub ->] Exp -> ReduceSum -> Div.
struct SoftmaxFields : ScoreFields {
  std::string x;  ///< the scores before the scale and mask
  int64_t axis = -1;
  bool decomposed = false;     ///< Exp / ReduceSum / Div rather than a Softmax node
  bool subtracts_max = false;  ///< decomposed with the ReduceMax subtraction
};

/// GELU: 0.5 * x * (1 + erf(x / sqrt 2)) or its tanh approximation.
struct GeluFields {
  std::string x;
  bool tanh = false;
};

/// Rotary embedding (rotate-half): x * cos + concat(-x2, x1) * sin.
struct RotaryFields {
  std::string x, cos, sin;
  bool split = false;  ///< halves taken by Split (dynamo) rather than two Slices (TorchScript)
};

/// Gated MLP: act(gate) * up. SwiGLU: act = silu (x * Sigmoid(x)); GeGLU: act = a Gelu node.
struct GatedMlpFields {
  std::string gate, up;
  std::string activation;  ///< "silu" or "gelu"
};

/// MatMul|Gemm|Conv|ConvTranspose [-> Add(bias)] [-> activation].
struct EpilogueFields {
  size_t producer = 0;     ///< the MatMul/Gemm/Conv node's index
  std::string bias;        ///< the Add's other operand; "" without an Add
  std::string activation;  ///< the activation's op type ("" without one)
};

/// One matched pattern.
struct PatternMatch {
  PatternKind kind = PatternKind::kElementwiseChain;
  std::vector<size_t> nodes;         ///< indices into graph.nodes, ascending (graph order)
  std::vector<std::string> inputs;   ///< values read from outside the match, first use order
  std::vector<std::string> outputs;  ///< values it must write (the last node's outputs that are used)
  std::variant<std::monostate, AttentionFields, NormFields, SoftmaxFields, GeluFields, RotaryFields,
               GatedMlpFields, EpilogueFields>
      fields;  ///< the kind's typed fields (monostate for elementwise chains)

  const std::string& output() const;  ///< outputs[0]
  const AttentionFields* attention() const { return std::get_if<AttentionFields>(&fields); }
  const NormFields* norm() const { return std::get_if<NormFields>(&fields); }
  const SoftmaxFields* softmax() const { return std::get_if<SoftmaxFields>(&fields); }
  const GeluFields* gelu() const { return std::get_if<GeluFields>(&fields); }
  const RotaryFields* rotary() const { return std::get_if<RotaryFields>(&fields); }
  const GatedMlpFields* gated_mlp() const { return std::get_if<GatedMlpFields>(&fields); }
  const EpilogueFields* epilogue() const { return std::get_if<EpilogueFields>(&fields); }
};

/// What to look for.
struct PatternOptions {
  /// The kinds, in priority order: every kind is tried over the whole graph before the
  /// next, and a node taken by an earlier match is not offered again. Empty: every kind
  /// but the residual norms, in the enum's order (most specific first). A residual norm
  /// kind goes before its plain kind (the plain match would take the norm's nodes).
  std::vector<PatternKind> kinds;
  /// Whether a single LayerNormalization node counts as a layer_norm match (it is already
  /// one kernel; the profiler's groups leave it out).
  bool single_node_layer_norm = true;
};

/// Every non-overlapping match in `graph`'s top-level nodes (subgraphs are not searched),
/// sorted by first node.
std::vector<PatternMatch> find_patterns(const Graph& graph, const PatternOptions& options = {});

/// The match of `kind` whose nodes are exactly `nodes` (ascending indices), if the matcher
/// finds one there when offered only `kind`: the check a swap-in or a starter uses to ask
/// "is this node set that pattern, and with which fields?".
std::optional<PatternMatch> match_exactly(const Graph& graph, PatternKind kind, const std::vector<size_t>& nodes);

}  // namespace ak::models
