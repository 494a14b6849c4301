#pragma once
/// Built-in kernel templates: generators of the correct starter candidates that
/// `autokernel extract` writes into each task directory (`starter.cpp` for the CPU,
/// `starter.cu` for CUDA).
///
/// Each generator returns the complete source of one candidate that implements the kernel
/// ABI of kernels/autokernel_kernel.h (`extern "C" int autokernel_kernel(...)`). The
/// sources are meant to be read and improved by people and LLM agents: they say what they
/// compute, which shapes they accept, what every non-zero return code means, and where the
/// time goes. They are correct first and reasonably fast second: arithmetic is float32
/// (float16 and bfloat16 are converted on load and rounded to nearest even on store), CPU
/// loops are OpenMP-parallel, CUDA kernels use grid-stride loops and launch on the stream
/// the caller passes, matrix products go through cuBLAS / cuBLASLt and convolutions through
/// cuDNN.
///
/// The kernels are real source files in kernels/templates/ (embedded into the binary at build
/// time); a generator writes a small prologue (dtype, constants, the fused expression, the
/// template's parameters) and splices in the files, so each starter is one self-contained
/// source. Each template states its tunable parameters (template_parameters()); a
/// TemplateConfig picks their values, and every legal configuration computes the op (float
/// rounding aside: e.g. float instead of double row sums).
///
/// Supported dtypes (ONNX TensorProto codes): 1 float32, 10 float16, 16 bfloat16 (the layout
/// template, a byte copy, takes every ABI dtype but string and complex128). Anything else is
/// a kUnsupported Status. All functions are pure and thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace ak::kernels {

/// Which kind of source to generate: C++ for g++ (host pointers, `stream` is NULL) or CUDA
/// for nvcc (device pointers, launched on the `cudaStream_t` passed as `stream`).
enum class Target { kCpu, kCuda };

/// The templates that have tunable parameters. The rotary template takes the elementwise
/// template's parameters (it is one elementwise pass).
enum class TemplateKind { kElementwise, kRowwise, kMatmul, kGemm, kGemmEpilogue, kConv, kAttention, kPool, kLayout };

/// "elementwise", "rowwise", "matmul", "gemm", "gemm_epilogue", "conv", "attention", "pool",
/// "layout" (static strings).
const char* template_kind_name(TemplateKind kind);

/// One tunable parameter of a template: its name (snake_case, e.g. "threads_per_block"),
/// every legal value (in ascending order), the value used when a configuration leaves it
/// out, and one line on what it changes. The generated source holds it as a constant named
/// in PascalCase after a `k` (`kThreadsPerBlock`).
struct TemplateParameter {
  std::string name;
  std::vector<int64_t> values;
  int64_t default_value = 0;
  std::string doc;
};

/// The parameters of `kind` on `target`, in a stable order: the search space an optimizer
/// tunes. Static storage; the same for every dtype and spec of that template.
const std::vector<TemplateParameter>& template_parameters(TemplateKind kind, Target target);

/// Parameter values by name; a parameter left out takes its default.
using TemplateConfig = std::map<std::string, int64_t>;

/// Ok when every name in `config` is a parameter of `kind` on `target` and every value is
/// one of its legal values; otherwise kInvalidInput naming the first offending parameter.
Status validate_template_config(TemplateKind kind, Target target, const TemplateConfig& config);

/// An operand of an elementwise step: a task input (`index` into the kernel's inputs), the
/// result of an earlier step (`index` of that step), or a scalar constant (`value`).
struct Operand {
  enum class Kind { kInput, kStep, kConstant };
  Kind kind = Kind::kInput;
  int index = 0;
  double value = 0;
};

/// One ONNX elementwise op applied per element. `op` is the ONNX op type ("Add", "Gelu",
/// ...); `attributes` are its numeric attributes (LeakyRelu/Elu/Selu/HardSigmoid "alpha",
/// Selu "gamma", HardSigmoid "beta", Clip "min"/"max" supplied by the caller from the
/// node's inputs, Gelu "approximate" 0 = none (default), 1 = tanh). Attributes that are
/// absent take their ONNX defaults; an attribute the op does not have is an error.
/// `dtype` is the ONNX dtype of the node's output, which the kernel rounds the step's result
/// to as the model does: 0 (the default) is the storage dtype (the chain's, or the product's
/// for an epilogue); float32 (1) is not rounded (after a Cast to float32 the chain computes
/// in float32 until a Cast back, an Identity step of the storage dtype, rounds). Any other
/// dtype is kUnsupported. Arithmetic is float32 throughout.
struct ElementwiseStep {
  std::string op;
  std::vector<Operand> operands;
  std::map<std::string, double> attributes;
  int32_t dtype = 0;
};

/// y = steps.back() evaluated per output element, with the `num_inputs` inputs broadcast to
/// the output shape (ONNX multidirectional broadcasting). `dtype` is that of every input
/// and of the output (the storage dtype); each step rounds to its own dtype.
struct ElementwiseChain {
  int num_inputs = 0;
  std::vector<ElementwiseStep> steps;
  int32_t dtype = 1;
};

/// The ONNX ops an ElementwiseChain step may use, in a stable order (for documentation,
/// tests and callers deciding whether a fusion group is covered): the fusable ops of the
/// op-traits table (kernels/op_traits.h, fusable_elementwise_ops()), which also gives each
/// op's arity, attributes with their defaults and expression.
const std::vector<std::string>& supported_elementwise_ops();

/// The source of a kernel computing `chain`, with `config`'s values for the elementwise
/// template's parameters. kInvalidInput for a malformed chain (no steps, no inputs, an
/// operand out of range, a wrong operand count, Gelu approximate other than 0 or 1) or a bad
/// config, kUnsupported for an op or attribute outside supported_elementwise_ops() or a
/// dtype other than float32/16/bfloat16.
Result<std::string> elementwise_chain_source(const ElementwiseChain& chain, Target target,
                                             const TemplateConfig& config = {});

/// Row-wise ops over the LAST axis of input 0 (callers use them only when the reduced axis
/// is the last one):
/// - kSoftmax, kLogSoftmax: inputs {x}.
/// - kLayerNorm: inputs {x, scale[, bias]} (scale and bias hold D = x.shape[-1] values),
///   y = (x - mean) / sqrt(var + epsilon) * scale + bias; ONNX's optional Mean and
///   InvStdDev outputs (float32) are written when the task has them.
/// - kRmsNorm: inputs {x[, scale]}, y = x / sqrt(mean(x^2) + epsilon) * scale.
/// `num_inputs` counts x, the residual and the optional scale/bias.
///
/// Residual norms (`residual`, kLayerNorm and kRmsNorm): inputs {x, residual, scale[, bias]}
/// (RMSNorm: the scale optional), the residual of x's shape exactly (no broadcast, any
/// strides); the norm reads h = x + residual rounded to `dtype` (as the graph's Add node
/// rounds its output), and output 1, when the task has it, is h (the residual stream the
/// next block reads). No Mean/InvStdDev outputs.
struct RowwiseSpec {
  enum class Kind { kSoftmax, kLogSoftmax, kLayerNorm, kRmsNorm };
  Kind kind = Kind::kSoftmax;
  int32_t dtype = 1;
  double epsilon = 1e-5;
  int num_inputs = 1;
  bool residual = false;  ///< the residual norm above (norms only)
  /// y's dtype (norms only): 0 = dtype; float32 for a norm whose result the graph casts to
  /// float32. Inputs, scale, bias and h stay in `dtype`.
  int32_t output_dtype = 0;
  /// The normalized value is rounded to y's dtype before the scale multiplies it (norms with
  /// a scale only), as dynamo's float16 RMSNorm does: Cast down, then Mul(weight).
  bool round_before_scale = false;
};

/// The source of a row-wise kernel, with `config`'s values for the row-wise template's
/// parameters. kInvalidInput when `num_inputs` does not fit the kind, epsilon is
/// negative/not finite, `residual`, `output_dtype` or `round_before_scale` is set for a
/// softmax, round_before_scale without a scale, or the config is bad; kUnsupported for a
/// dtype other than float32/16/bfloat16 or an output dtype other than dtype or float32.
Result<std::string> rowwise_source(const RowwiseSpec& spec, Target target, const TemplateConfig& config = {});

/// MatMul per ONNX (numpy matmul): A[..., M, K] x B[..., K, N] -> Y[..., M, N] with
/// broadcast batch dims (B may be 2-D and shared across the batch; 1-D A or B follow numpy's
/// promotion rules). With `has_bias`, input 2 holds N values added to every row (the
/// MatMul + Add epilogue). CUDA: cuBLAS with float accumulation (float32 without TF32);
/// CPU: a cache-blocked OpenMP loop with float accumulation.
struct MatmulSpec {
  int32_t dtype = 1;
  bool has_bias = false;
};

/// The source of a MatMul kernel, with `config`'s values for the MatMul template's
/// parameters. kInvalidInput for a bad config, kUnsupported for a dtype other than
/// float32/16/bfloat16.
Result<std::string> matmul_source(const MatmulSpec& spec, Target target, const TemplateConfig& config = {});

/// Gemm per ONNX: Y[M, N] = alpha * A' x B' + beta * C, with A' = A^T when `trans_a` (A is
/// [K, M]) else A ([M, K]), B' likewise ([N, K] or [K, N]), and the optional C (input 2,
/// `has_c`) broadcast to [M, N]: a scalar, [N], [1, N], [M, 1] or [M, N]. CUDA: cuBLAS with
/// float accumulation (float32 without TF32), any operand layout with one unit stride;
/// CPU: the MatMul template's blocked loop.
struct GemmSpec {
  int32_t dtype = 1;
  bool trans_a = false, trans_b = false;
  double alpha = 1, beta = 1;
  bool has_c = false;
};

/// The source of a Gemm kernel, with `config`'s values for the Gemm template's parameters.
/// kInvalidInput for a non-finite alpha or beta or a bad config, kUnsupported for a dtype
/// other than float32/16/bfloat16.
Result<std::string> gemm_source(const GemmSpec& spec, Target target, const TemplateConfig& config = {});

/// MatMul or Gemm followed by a fused elementwise epilogue, one kernel: Y = epilogue(P, e1,
/// e2, ...) per element, where P is the MatMul (numpy matmul, as MatmulSpec) or the Gemm
/// (alpha * A' x B' + beta * C, as GemmSpec) and e1.. are further tensors broadcast to Y's
/// shape (a bias over the last axis or any broadcastable tensor, a residual, ...).
/// Kernel inputs: A, B[, C for a Gemm with has_c], then the epilogue tensors.
/// CUDA: cuBLASLt, with its own epilogue for a leading bias add (+ Relu, or + Gelu with the
/// tanh approximation) when the bias is a contiguous [N] vector in Y's dtype at run time, and
/// one elementwise kernel for the rest; float32 accumulation, TF32 only with allow_tf32.
/// CPU: the products' blocked loop with the epilogue applied in the store.
struct GemmEpilogueSpec {
  int32_t dtype = 1;         ///< A, B, C and the epilogue tensors
  int32_t output_dtype = 0;  ///< Y's dtype: 0 = dtype; float32 stands for a trailing Cast to float32
  bool gemm = false;         ///< ONNX Gemm (2-D operands) instead of MatMul
  bool trans_a = false, trans_b = false;  ///< Gemm only
  double alpha = 1, beta = 1;             ///< Gemm only
  bool has_c = false;                     ///< Gemm only
  /// The epilogue: input 0 is the MatMul/Gemm result, input k >= 1 the k-th epilogue tensor
  /// (kernel input 1 + k, or 2 + k for a Gemm with C). No steps: Y is the product. Its dtype
  /// field is ignored: `dtype` is its storage dtype, and the product is rounded to it before
  /// the steps, as the MatMul/Gemm node's output is (a Gemm with C: after adding beta * C).
  ElementwiseChain epilogue;
  bool allow_tf32 = false;  ///< float32 products may use TF32 tensor cores (CUDA)
};

/// The source of a GEMM-with-epilogue kernel, with `config`'s values for its parameters.
/// kInvalidInput for a malformed epilogue (as elementwise_chain_source), non-finite alpha or
/// beta or a bad config; kUnsupported for a dtype other than float32/16/bfloat16 or an
/// output dtype other than dtype or float32.
Result<std::string> gemm_epilogue_source(const GemmEpilogueSpec& spec, Target target,
                                         const TemplateConfig& config = {});

/// ONNX Conv with 1 or 2 spatial dims (X [N, C, (H,) W], W [M, C / group, (KH,) KW], the
/// optional bias B [M]), any group count (grouped and depthwise), pads, strides and
/// dilations, followed by a fused elementwise epilogue (as GemmEpilogueSpec's; its input 0
/// is the convolution plus B). Kernel inputs: X, W[, B], then the epilogue tensors.
/// Layout: NCHW (ONNX's); X may be strided. CUDA: cuDNN (cudnnConvolutionForward, float
/// accumulation, TF32 only with allow_tf32; W packed; symmetric pads only), then one
/// elementwise kernel for B and the epilogue. CPU: im2col and the products' blocked loop,
/// B and the epilogue applied in the store.
struct ConvSpec {
  int32_t dtype = 1;
  int spatial_rank = 2;             ///< 1 or 2
  std::vector<int64_t> strides;     ///< one per spatial dim (empty: all 1)
  std::vector<int64_t> dilations;   ///< one per spatial dim (empty: all 1)
  std::vector<int64_t> pads;        ///< ONNX order: begins, then ends (empty: all 0)
  int64_t group = 1;
  bool has_bias = false;
  ElementwiseChain epilogue;        ///< input 0: conv + B (rounded to dtype); input k: kernel input (has_bias ? 2 : 1) + k
  bool allow_tf32 = false;
};

/// The source of a convolution kernel, with `config`'s values for its parameters.
/// kInvalidInput for a spatial rank other than 1 or 2, attribute lists of the wrong length,
/// a stride, dilation or group below 1, a negative pad, a malformed epilogue or a bad
/// config; kUnsupported for a dtype other than float32/16/bfloat16, and on CUDA for
/// asymmetric pads.
Result<std::string> conv_source(const ConvSpec& spec, Target target, const TemplateConfig& config = {});
/// Attention as the exporters write it (MatMul -> scale -> mask -> Softmax -> MatMul) and as
/// the runtime's fused com.autokernel.Attention node computes it:
///   Y[.., Sq, Dv] = softmax(scale * Q[.., Sq, D] x Kt[.., D, Sk] (+ mask | masked)) x V[.., Sk, Dv]
/// Inputs {Q, Kt, V[, mask]}: K comes already transposed (any strides, so a [.., Sk, D] K
/// passed as a transposed view works too). Up to two batch dims (batch, heads), aligned
/// from the right; a size-1 dim broadcasts, and Kt's and V's may divide Y's (grouped-query
/// attention: query head h reads key/value head h / (H / Hkv)). The mask broadcasts to
/// [.., Sq, Sk] from the right: kAdditive adds it (the dtype of Q; a causal or padding mask
/// built as 0 / -large), kBoolean (bool) replaces the score by `mask_fill` where it is true
/// (Where(cond, fill, scores); a causal mask in that form). kCausal and kCausalAdditive take
/// no mask input: key j is masked for query row i where j > i + Sk - Sq (the triangular
/// constant a graph keeps), its score replaced by `mask_fill` or `mask_fill` added to it.
/// Q, Kt, V, Y share `dtype`;
/// arithmetic is float32 with an online softmax (no [Sq, Sk] buffer). CUDA: D, Dv <= 256.
struct AttentionSpec {
  enum class Mask { kNone, kAdditive, kBoolean, kCausal, kCausalAdditive };
  int32_t dtype = 1;
  double scale = 1;
  Mask mask = Mask::kNone;
  /// kBoolean, kCausal: the score of a masked position (e.g. -inf, float32's lowest);
  /// kCausalAdditive: what is added to it.
  double mask_fill = 0;
};

/// Largest D and Dv the CUDA attention kernel takes (its accumulators live in registers).
inline constexpr int64_t kAttentionCudaMaxHeadDim = 256;

/// The source of an attention kernel, with `config`'s values for the attention template's
/// parameters. kInvalidInput for a non-finite scale, a NaN mask_fill or a bad config,
/// kUnsupported for a dtype other than float32/16/bfloat16.
Result<std::string> attention_source(const AttentionSpec& spec, Target target, const TemplateConfig& config = {});

/// Rotary position embedding, rotate-half form (both exporters' forms: halves by Split or
/// by two Slices): y = x * cos + concat(-x[.., D/2:], x[.., :D/2]) * sin over the last axis.
/// Inputs {x, cos, sin}, one dtype; cos and sin broadcast to x's shape; D even.
struct RotarySpec {
  int32_t dtype = 1;
};

/// The source of a rotary kernel, with `config`'s values for the ELEMENTWISE template's
/// parameters (TemplateKind::kElementwise). kInvalidInput for a bad config, kUnsupported for
/// a dtype other than float32/16/bfloat16.
Result<std::string> rotary_source(const RotarySpec& spec, Target target, const TemplateConfig& config = {});

/// ONNX pooling over the spatial dims of an NCHW input X [N, C, (D,) (H,) W] (1, 2 or 3
/// spatial dims): MaxPool and AveragePool with their attributes, GlobalMaxPool and
/// GlobalAveragePool (`global`: the window is the whole input, the attribute lists stay
/// empty). Y [N, C, out...] has X's dtype; N and the spatial sizes are read from the tensors
/// at run time (auto_pad SAME pads are computed there too), the attributes are constants.
/// MaxPool's NaN handling is ATen's (a window with a NaN gives NaN); AveragePool sums in
/// float32 and divides by the window's input elements, or with count_include_pad by its
/// positions inside the padded input. MaxPool's optional Indices output is not computed.
struct PoolSpec {
  enum class Kind { kMax, kAverage };
  enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };
  Kind kind = Kind::kMax;
  bool global = false;
  int32_t dtype = 1;
  int spatial_rank = 2;            ///< 1, 2 or 3
  std::vector<int64_t> kernel;     ///< kernel_shape, one per spatial dim (required unless global)
  std::vector<int64_t> strides;    ///< one per spatial dim (empty: all 1)
  std::vector<int64_t> dilations;  ///< one per spatial dim (empty: all 1)
  std::vector<int64_t> pads;       ///< ONNX order: begins, then ends (empty: all 0); auto_pad kNotSet only
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;          ///< auto_pad kNotSet only
  bool count_include_pad = false;  ///< AveragePool only
};

/// The source of a pooling kernel, with `config`'s values for the pool template's
/// parameters. kInvalidInput for a spatial rank other than 1-3, attribute lists of the wrong
/// length (or any for a global pool), a kernel, stride or dilation below 1, a negative pad,
/// a pad at least as wide as the window, pads or ceil_mode with an auto_pad other than
/// NOTSET, count_include_pad for a MaxPool, or a bad config;
/// kUnsupported for a dtype other than float32/16/bfloat16.
Result<std::string> pool_source(const PoolSpec& spec, Target target, const TemplateConfig& config = {});
/// A data-movement node as a byte copy (one input and output dtype, any ABI dtype but
/// string and complex128): the output's elements are input elements, found from the
/// descriptors' shapes at run time and the node's constants baked in here.
/// - kCopy: Reshape, Flatten, Squeeze, Unsqueeze, Identity: the input in row-major order
///   (any strides, so a Reshape of a transposed view is the copy it costs).
/// - kTranspose: y.shape[d] = x.shape[perm[d]]; on CUDA a tiled kernel through shared memory
///   when perm swaps the last two dims only, a strided one otherwise.
/// - kGather: constant `indices` along `axis`, negative ones wrapped by the axis's size at run
///   time; `scalar_index` (0-D indices, one value) removes the axis.
/// - kSlice: one start, end and step per input dim (ONNX clamping at run time; a dim not
///   sliced is 0, INT64_MAX, 1).
/// - kConcat: `num_inputs` inputs along `axis`.
/// - kExpand: x broadcast to the output's shape (dims aligned from the right).
struct LayoutSpec {
  enum class Op { kCopy, kTranspose, kGather, kSlice, kConcat, kExpand };
  Op op = Op::kCopy;
  int32_t dtype = 1;
  int rank = 0;                   ///< the input's rank (all ops but kCopy and kExpand)
  std::vector<int64_t> perm;      ///< kTranspose: a permutation of 0..rank-1
  int64_t axis = 0;               ///< kGather, kConcat: in [0, rank)
  std::vector<int64_t> indices;   ///< kGather
  bool scalar_index = false;      ///< kGather: 0-D indices
  std::vector<int64_t> starts, ends, steps;  ///< kSlice: rank values each, steps non-zero
  int num_inputs = 1;             ///< kConcat: at least 1; every other op: 1
  /// kCopy, kExpand: kernel inputs after the data that the kernel takes but never reads (a
  /// Reshape's or Expand's shape, an Unsqueeze's axes computed at run time: the output's
  /// descriptor carries what they decide). Any dtype.
  int unread_inputs = 0;
};

/// The source of a data-movement kernel, with `config`'s values for the layout template's
/// parameters. kInvalidInput for a spec that does not fit its op (a perm that is no
/// permutation, an axis out of range, a zero step, the wrong vector lengths, a rank above 8)
/// or a bad config; kUnsupported for the string or complex128 dtype or an unknown code.
Result<std::string> layout_source(const LayoutSpec& spec, Target target, const TemplateConfig& config = {});

/// What a skeleton lists: the op it stands for and one line of text per input and output
/// (e.g. "x: float16 [8, 128, 768]").
struct SkeletonSpec {
  std::string op_type;
  std::vector<std::string> input_lines, output_lines;
  std::string reason;  ///< why no template applies (one line; written into the source when set)
};

/// A documented skeleton for op types no template covers: it includes the ABI header,
/// explains the ABI, lists the task's inputs and outputs, and returns a non-zero code
/// ("not implemented"), so it never passes verification as it stands.
std::string skeleton_source(const SkeletonSpec& spec, Target target);

}  // namespace ak::kernels
