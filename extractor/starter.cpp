// The starter kernel of a task: a template that computes exactly the task's nodes, or a skeleton.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>

#include "extractor/internal/starter.h"

#include "models/patterns.h"

namespace ak::extractor::internal {

namespace {

using models::DType;
using models::Node;

bool default_domain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

bool template_dtype(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

/// The value of element `i` of a tensor of any numeric dtype.
std::optional<double> element_value(const models::TensorData& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kFloat64: return t.data<double>()[i];
    case DType::kFloat16: return models::half_to_float(t.data<uint16_t>()[i]);
    case DType::kBFloat16: return models::bfloat16_to_float(t.data<uint16_t>()[i]);
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kInt16: return t.data<int16_t>()[i];
    case DType::kInt8: return t.data<int8_t>()[i];
    case DType::kUInt8:
    case DType::kBool: return t.data<uint8_t>()[i];
    default: return std::nullopt;
  }
}

/// The value of a one-element tensor of any numeric dtype.
std::optional<double> scalar_value(const models::TensorData& t) {
  if (t.numel() != 1 || t.bytes.data == nullptr) return std::nullopt;
  return element_value(t, 0);
}

/// Questions about the task's values, and the first reason a template does not apply.
class Matcher {
 public:
  explicit Matcher(const StarterContext& c) : c_(c) {}

  /// Records `reason` (the first one wins) and returns false.
  bool fail(const std::string& reason) {
    if (why_.empty()) why_ = reason;
    return false;
  }
  /// fail() for functions that return a Starter (an empty one: no template).
  Starter skip(const std::string& reason) {
    fail(reason);
    return {};
  }
  /// fail() for functions that return an optional.
  std::nullopt_t none(const std::string& reason) {
    fail(reason);
    return std::nullopt;
  }
  const std::string& why() const { return why_; }

  bool is_input(const std::string& v) const {
    return !v.empty() && std::find(c_.inputs.begin(), c_.inputs.end(), v) != c_.inputs.end();
  }
  int input_index(const std::string& v) const {
    return static_cast<int>(std::find(c_.inputs.begin(), c_.inputs.end(), v) - c_.inputs.begin());
  }
  std::optional<double> scalar(const std::string& v) const {
    auto it = c_.constants->find(v);
    if (it == c_.constants->end()) return std::nullopt;
    return scalar_value(it->second);
  }
  const std::vector<int64_t>* shape(const std::string& v) const {
    auto it = c_.shapes->find(v);
    return it == c_.shapes->end() ? nullptr : &it->second;
  }
  int64_t rank(const std::string& v) const {
    const auto* s = shape(v);
    return s ? static_cast<int64_t>(s->size()) : -1;
  }
  int64_t numel(const std::string& v) const {
    const auto* s = shape(v);
    if (!s) return -1;
    int64_t n = 1;
    for (int64_t d : *s) n *= d;
    return n;
  }
  int64_t last_dim(const std::string& v) const {
    const auto* s = shape(v);
    return s && !s->empty() ? s->back() : -1;
  }
  DType dtype(const std::string& v) const {
    auto it = c_.dtypes.find(v);
    return it == c_.dtypes.end() ? DType::kUndefined : it->second;
  }

  /// The task's one output dtype when every kernel input and output shares it and a
  /// template takes it.
  std::optional<DType> common_dtype() {
    if (c_.outputs.size() != 1) return none("the task has " + std::to_string(c_.outputs.size()) + " outputs");
    const DType t = dtype(c_.outputs[0]);
    if (!template_dtype(t)) return none("templates take float32/float16/bfloat16, the output is " + models::dtype_name(t));
    for (const auto& in : c_.inputs)
      if (dtype(in) != t)
        return none("input '" + in + "' is " + models::dtype_name(dtype(in)) + ", the output " + models::dtype_name(t));
    return t;
  }

  /// Whether the kernel inputs are exactly `wanted` (in any order).
  bool inputs_are(std::vector<std::string> wanted) {
    std::vector<std::string> have = c_.inputs;
    std::sort(have.begin(), have.end());
    std::sort(wanted.begin(), wanted.end());
    if (have != wanted || std::adjacent_find(wanted.begin(), wanted.end()) != wanted.end())
      return fail("the kernel inputs are not the ones the template takes");
    return true;
  }

  /// `v` holds D values for rows of length D (a per-feature vector).
  bool per_feature(const std::string& v, int64_t d, const char* what) {
    const auto* s = shape(v);
    if (!s || numel(v) != d || (!s->empty() && s->back() != d)) return fail(std::string(what) + " '" + v + "' is not a vector over the last axis");
    return true;
  }

 private:
  const StarterContext& c_;
  std::string why_;
};

Starter from(Result<std::string> source, std::string name, std::vector<std::string> inputs, Matcher& m) {
  Starter s;
  if (!source.is_ok()) {
    m.fail(source.status().message());
    return s;
  }
  s.source = std::move(source).value();
  s.template_name = std::move(name);
  s.inputs = std::move(inputs);
  return s;
}

// --- elementwise chains ---------------------------------------------------------------

/// Where a chain's steps read values that no earlier step makes: the chain input's index,
/// or nullopt (then the value must be a scalar constant).
using ChainInputs = std::function<std::optional<int>(const std::string&)>;

/// The steps computing `nodes` in order, each an op of the elementwise template's table or a
/// Cast between float types (an Identity step), each with its node's output dtype, which the
/// kernel rounds the step's result to as the model does: a Cast to float32 mid-chain means
/// "compute in float32 from here", a Cast back rounds. `value_dtypes` seeds the dtypes of
/// values that are not kernel inputs (an epilogue's product). nullopt (with a reason) for
/// anything else.
std::optional<std::vector<kernels::ElementwiseStep>> chain_steps(const StarterContext& c, Matcher& m,
                                                                 const std::vector<const Node*>& nodes,
                                                                 const ChainInputs& input_of,
                                                                 std::map<std::string, DType> value_dtypes) {
  const auto& ops = kernels::supported_elementwise_ops();
  std::vector<kernels::ElementwiseStep> steps;
  std::map<std::string, int> step_of;
  const int64_t opset = c.model->opset("");
  auto dtype_of = [&](const std::string& v) {
    if (const auto it = value_dtypes.find(v); it != value_dtypes.end()) return it->second;
    if (const auto it = c.constants->find(v); it != c.constants->end()) return it->second.dtype;
    return m.dtype(v);
  };
  for (const Node* n : nodes) {
    std::string op = n->op_type;
    const bool fused_gelu = n->domain == "com.autokernel" && op == "Gelu";
    if (!default_domain(*n) && !fused_gelu) return m.none("op " + n->domain + "." + op + " is not elementwise");
    if (n->outputs.size() != 1 || n->outputs[0].empty()) return m.none("node '" + n->name + "' has several outputs");
    const bool cast = op == "Cast";
    // An elementwise node writes its first operand's dtype (ONNX's ops take one type; Pow's
    // exponent may differ, and comes second); a Cast writes `to`.
    DType out = n->inputs.empty() ? DType::kUndefined : dtype_of(n->inputs[0]);
    if (cast) {
      out = static_cast<DType>(n->attr_int("to", 0));
      if (!template_dtype(out)) return m.none("a Cast to " + models::dtype_name(out) + " has no template counterpart");
      op = "Identity";
    } else if (std::find(ops.begin(), ops.end(), op) == ops.end()) {
      return m.none("op " + op + " has no elementwise template");
    }
    if (!template_dtype(out))
      return m.none("node '" + n->name + "' computes in " + models::dtype_name(out) + " (templates take float32/float16/bfloat16)");
    kernels::ElementwiseStep step;
    step.op = op;
    step.dtype = static_cast<int32_t>(out);
    for (size_t j = 0; j < n->inputs.size(); ++j) {
      const std::string& v = n->inputs[j];
      if (op == "Clip" && j > 0) {
        if (v.empty()) continue;
        auto bound = m.scalar(v);
        if (!bound) return m.none("Clip bound '" + v + "' is not a constant");
        step.attributes[j == 1 ? "min" : "max"] = *bound;
        continue;
      }
      if (v.empty()) return m.none("node '" + n->name + "' omits an input");
      kernels::Operand operand;
      if (auto s = step_of.find(v); s != step_of.end()) {
        operand = {kernels::Operand::Kind::kStep, s->second, 0};
      } else if (auto index = input_of(v)) {
        operand = {kernels::Operand::Kind::kInput, *index, 0};
      } else if (auto k = m.scalar(v)) {
        operand = {kernels::Operand::Kind::kConstant, 0, *k};
      } else {
        return m.none("operand '" + v + "' of node '" + n->name + "' is a constant of more than one element");
      }
      step.operands.push_back(operand);
    }
    for (const auto& a : n->attributes) {
      if (a.name == "fused_nodes" || (cast && (a.name == "to" || a.name == "saturate"))) continue;
      if (op == "Gelu" && a.name == "approximate") {
        if (a.s != "none" && a.s != "tanh") return m.none("Gelu approximate '" + a.s + "'");
        step.attributes["approximate"] = a.s == "tanh" ? 1 : 0;
      } else if (a.type == models::Attribute::Type::kFloat) {
        step.attributes[a.name] = a.f;
      } else if (op == "Clip" && opset < 11) {
        continue;
      } else {
        return m.none("attribute '" + a.name + "' of node '" + n->name + "' has no template counterpart");
      }
    }
    step_of[n->outputs[0]] = static_cast<int>(steps.size());
    value_dtypes[n->outputs[0]] = out;
    steps.push_back(std::move(step));
  }
  if (!nodes.empty() && nodes.back()->outputs[0] != c.outputs[0])
    return m.none("the last node does not make the task's output");
  return steps;
}

/// A chain computing the task's nodes in order, its inputs the kernel inputs; nullopt (with
/// a reason) when any node or operand is out of the template's reach.
std::optional<kernels::ElementwiseChain> build_chain(const StarterContext& c, Matcher& m) {
  auto dtype = m.common_dtype();
  if (!dtype) return std::nullopt;
  if (c.nodes.empty()) return m.none("no nodes");
  auto steps = chain_steps(c, m, c.nodes, [&m](const std::string& v) -> std::optional<int> {
    if (!m.is_input(v)) return std::nullopt;
    return m.input_index(v);
  }, {});
  if (!steps) return std::nullopt;
  kernels::ElementwiseChain chain;
  chain.num_inputs = static_cast<int>(c.inputs.size());
  chain.dtype = static_cast<int32_t>(*dtype);
  chain.steps = std::move(*steps);
  return chain;
}

// --- row-wise ops -----------------------------------------------------------------------

Starter rowwise(kernels::RowwiseSpec::Kind kind, DType dtype, double epsilon, std::vector<std::string> inputs,
                const StarterContext& c, Matcher& m) {
  kernels::RowwiseSpec spec;
  spec.kind = kind;
  spec.dtype = static_cast<int32_t>(dtype);
  spec.epsilon = epsilon;
  spec.num_inputs = static_cast<int>(inputs.size());
  const char* name = kind == kernels::RowwiseSpec::Kind::kSoftmax      ? "rowwise_softmax"
                     : kind == kernels::RowwiseSpec::Kind::kLogSoftmax ? "rowwise_log_softmax"
                     : kind == kernels::RowwiseSpec::Kind::kLayerNorm  ? "rowwise_layer_norm"
                                                                        : "rowwise_rms_norm";
  return from(kernels::rowwise_source(spec, c.target, c.config), name, std::move(inputs), m);
}

Starter softmax_node(const StarterContext& c, Matcher& m, const Node& n) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  const std::string& x = n.inputs.empty() ? std::string() : n.inputs[0];
  if (!m.inputs_are({x})) return {};
  const int64_t r = m.rank(x);
  int64_t axis = n.attr_int("axis", c.model->opset("") >= 13 ? -1 : 1);
  if (axis < 0) axis += r;
  if (r < 1 || axis != r - 1) return m.skip(n.op_type + " over axis " + std::to_string(axis) + ", not the last");
  return rowwise(n.op_type == "Softmax" ? kernels::RowwiseSpec::Kind::kSoftmax : kernels::RowwiseSpec::Kind::kLogSoftmax,
                 *dtype, 0, {x}, c, m);
}

Starter layer_norm_node(const StarterContext& c, Matcher& m, const Node& n) {
  const std::string x = n.inputs.empty() ? std::string() : n.inputs[0];
  const DType t = m.dtype(c.outputs.empty() ? std::string() : c.outputs[0]);
  if (!template_dtype(t) || m.dtype(x) != t) return m.skip("LayerNormalization dtype " + models::dtype_name(t));
  for (size_t i = 0; i < c.outputs.size(); ++i)
    if (i >= n.outputs.size() || c.outputs[i] != n.outputs[i])
      return m.skip("LayerNormalization outputs are not Y[, Mean[, InvStdDev]]");
  const int64_t r = m.rank(x);
  int64_t axis = n.attr_int("axis", -1);
  if (axis < 0) axis += r;
  if (r < 1 || axis != r - 1) return m.skip("LayerNormalization over axis " + std::to_string(axis) + ", not the last");
  if (n.attr_int("stash_type", 1) != 1) return m.skip("LayerNormalization stash_type is not float32");
  std::vector<std::string> order = {x};
  for (size_t i = 1; i < 3 && i < n.inputs.size(); ++i) {
    if (n.inputs[i].empty()) break;
    if (!m.per_feature(n.inputs[i], m.last_dim(x), i == 1 ? "scale" : "bias") || m.dtype(n.inputs[i]) != t)
      return m.skip("LayerNormalization scale/bias are not " + models::dtype_name(t) + " vectors");
    order.push_back(n.inputs[i]);
  }
  if (order.size() < 2 || !m.inputs_are(order)) return m.skip("LayerNormalization without a scale input");
  return rowwise(kernels::RowwiseSpec::Kind::kLayerNorm, t, n.attr_float("epsilon", 1e-5f), order, c, m);
}

/// The pattern of `kind` covering exactly the task's nodes, matched on a graph of those
/// nodes alone (its constants as initializers, the kernel outputs as graph outputs), so
/// the fields (x, gamma, epsilon, axis, ...) name the task's values. `sub` keeps the
/// graph the match refers to.
std::optional<models::PatternMatch> task_match(const StarterContext& c, models::PatternKind kind, models::Graph* sub,
                                               Matcher& m) {
  for (const Node* n : c.nodes) sub->nodes.push_back(*n);
  for (const auto& [name, t] : *c.constants) {
    sub->initializers.push_back(t);
    sub->initializers.back().name = name;
  }
  for (const auto& o : c.outputs) {
    models::ValueInfo info;
    info.name = o;
    sub->outputs.push_back(info);
  }
  std::vector<size_t> all(c.nodes.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto match = models::match_exactly(*sub, kind, all);
  if (!match) return m.none(std::string("the nodes are not one ") + models::pattern_kind_name(kind) + " pattern");
  return match;
}

/// Whether `axis` (as written, may be negative) is the last axis of `x`.
bool last_axis(Matcher& m, const std::string& x, int64_t axis, const char* what) {
  const int64_t r = m.rank(x);
  if (r < 1) return m.fail(std::string(what) + ": unknown rank of '" + x + "'");
  if ((axis < 0 ? axis + r : axis) != r - 1)
    return m.fail(std::string(what) + " over axis " + std::to_string(axis) + ", not the last");
  return true;
}

/// Whether the task's nodes cast the normalized value down to `t` (a 16-bit dtype) before
/// the scale multiplies it (dynamo's float16 RMSNorm: Cast(to float16) -> Mul(weight)).
bool casts_down_before_scale(const StarterContext& c, DType t, const models::NormFields& f) {
  if (t == DType::kFloat32 || f.gamma.empty()) return false;
  return std::any_of(c.nodes.begin(), c.nodes.end(), [t](const Node* n) {
    return n->op_type == "Cast" && n->attr_int("to", 0) == static_cast<int64_t>(t);
  });
}

/// The layer_norm / rms_norm groups (decomposed, with their gamma [and beta]) and the
/// residual_layer_norm / residual_rms_norm groups (the residual Add, then a
/// LayerNormalization node or a decomposed norm), from the pattern's fields: LayerNorm needs
/// a gamma (the template's scale input). A residual group writes y, and h = x + residual
/// when the graph reads it elsewhere.
Starter norm_group(const StarterContext& c, Matcher& m, models::PatternKind kind) {
  using models::PatternKind;
  const bool residual = kind == PatternKind::kResidualLayerNorm || kind == PatternKind::kResidualRmsNorm;
  if (!residual && !m.common_dtype()) return {};
  models::Graph sub;
  auto match = task_match(c, kind, &sub, m);
  if (!match) return {};
  const models::NormFields& f = *match->norm();
  const bool layer_norm = kind == PatternKind::kLayerNorm || kind == PatternKind::kResidualLayerNorm;
  const std::string what = models::pattern_kind_name(kind) + std::string(" group");
  if (!last_axis(m, f.x, f.axis, what.c_str())) return {};
  if (layer_norm && f.gamma.empty()) return m.skip(what + " without gamma (the template needs a scale)");
  for (const Node* n : c.nodes)
    if (n->op_type == "LayerNormalization" && n->attr_int("stash_type", 1) != 1)
      return m.skip("LayerNormalization stash_type is not float32");
  // The norm's input is x (h for a residual group): its dtype is the kernel's.
  std::vector<std::string> order = {f.x};
  if (residual) order = {f.residual_a, f.residual_b};
  const DType t = m.dtype(order[0]);
  if (!template_dtype(t)) return m.skip("templates take float32/float16/bfloat16, the norm reads " + models::dtype_name(t));
  const std::string& y = c.outputs.empty() ? f.x : c.outputs[0];
  if (residual) {
    const auto* hs = m.shape(f.x);
    for (const std::string& v : order) {
      if (m.dtype(v) != t) return m.skip("residual operands of different dtypes");
      if (!hs || !m.shape(v) || *m.shape(v) != *hs)
        return m.skip("residual operand '" + v + "' is not of the sum's shape (the template does not broadcast)");
    }
    if (c.outputs.size() > 2 || (c.outputs.size() == 2 && c.outputs[1] != f.x) || y == f.x)
      return m.skip("the residual norm's outputs are not y[, h]");
    if (c.outputs.size() == 2 && m.dtype(f.x) != t) return m.skip("h is not " + models::dtype_name(t));
  }
  const DType y_dtype = m.dtype(y);
  if (y_dtype != t && y_dtype != DType::kFloat32)
    return m.skip("the norm reads " + models::dtype_name(t) + " and writes " + models::dtype_name(y_dtype));
  const int64_t d = m.last_dim(f.x);
  for (const std::string* v : {&f.gamma, &f.beta}) {
    if (v->empty()) continue;
    if (!m.is_input(*v) || !m.per_feature(*v, d, v == &f.gamma ? "gamma" : "beta")) return {};
    if (m.dtype(*v) != t)
      return m.skip("'" + *v + "' is " + models::dtype_name(m.dtype(*v)) + ", the norm's input " + models::dtype_name(t));
    order.push_back(*v);
  }
  if (!m.inputs_are(order)) return {};
  kernels::RowwiseSpec spec;
  spec.kind = layer_norm ? kernels::RowwiseSpec::Kind::kLayerNorm : kernels::RowwiseSpec::Kind::kRmsNorm;
  spec.dtype = static_cast<int32_t>(t);
  spec.epsilon = f.epsilon;
  spec.num_inputs = static_cast<int>(order.size());
  spec.residual = residual;
  spec.output_dtype = static_cast<int32_t>(y_dtype);
  spec.round_before_scale = casts_down_before_scale(c, t, f);
  const std::string name = std::string(residual ? "rowwise_residual_" : "rowwise_") + (layer_norm ? "layer_norm" : "rms_norm");
  return from(kernels::rowwise_source(spec, c.target), name, std::move(order), m);
}

/// The decomposed softmax group: [ReduceMax -> Sub ->] Exp -> ReduceSum -> Div.
Starter softmax_group(const StarterContext& c, Matcher& m) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  models::Graph sub;
  auto match = task_match(c, models::PatternKind::kSoftmax, &sub, m);
  if (!match) return {};
  const models::SoftmaxFields& f = *match->softmax();
  if (!f.decomposed) return m.skip("softmax with a scale or mask: the row-wise template takes neither");
  if (!last_axis(m, f.x, f.axis, "softmax group") || !m.inputs_are({f.x})) return {};
  return rowwise(kernels::RowwiseSpec::Kind::kSoftmax, *dtype, 0, {f.x}, c, m);
}

// --- products and convolutions with epilogues ------------------------------------------------

/// The epilogue of a product or convolution `producer` (the task's first node): the
/// task's other nodes as a chain whose input 0 is the producer's output and whose inputs
/// 1.. are the kernel inputs not in `order` (appended to it, each in dtype `t`).
std::optional<kernels::ElementwiseChain> epilogue_of(const StarterContext& c, Matcher& m, const Node& producer,
                                                     DType t, std::vector<std::string>* order) {
  if (c.outputs.size() != 1) return m.none("the task has " + std::to_string(c.outputs.size()) + " outputs");
  if (producer.outputs.size() != 1) return m.none(producer.op_type + " with several outputs");
  std::map<std::string, int> extra;
  for (const std::string& v : c.inputs) {
    if (std::find(order->begin(), order->end(), v) != order->end()) continue;
    if (m.dtype(v) != t)
      return m.none("epilogue input '" + v + "' is " + models::dtype_name(m.dtype(v)) + ", the " + producer.op_type +
                    " " + models::dtype_name(t));
    extra[v] = 1 + static_cast<int>(extra.size());
    order->push_back(v);
  }
  const std::vector<const Node*> rest(c.nodes.begin() + 1, c.nodes.end());
  if (rest.empty() && producer.outputs[0] != c.outputs[0]) return m.none("the node does not make the task's output");
  auto steps = chain_steps(c, m, rest, [&](const std::string& v) -> std::optional<int> {
    if (v == producer.outputs[0]) return 0;
    const auto it = extra.find(v);
    if (it == extra.end()) return std::nullopt;
    return it->second;
  }, {{producer.outputs[0], t}});
  if (!steps) return std::nullopt;
  kernels::ElementwiseChain chain;
  chain.num_inputs = 1 + static_cast<int>(extra.size());
  chain.steps = std::move(*steps);
  return chain;
}

/// Whether the node's first `count` inputs are kernel inputs of dtype `t` (a template dtype).
bool operands_are_inputs(Matcher& m, const Node& n, size_t count, DType* t) {
  if (n.inputs.size() < count) return m.fail("unexpected " + n.op_type);
  *t = m.dtype(n.inputs[0]);
  if (!template_dtype(*t)) return m.fail("templates take float32/float16/bfloat16, " + n.op_type + " reads " + models::dtype_name(*t));
  for (size_t i = 0; i < count; ++i) {
    if (!m.is_input(n.inputs[i])) return m.fail(n.op_type + " operand '" + n.inputs[i] + "' is not a kernel input");
    if (m.dtype(n.inputs[i]) != *t) return m.fail(n.op_type + " operands of different dtypes");
  }
  return true;
}

/// MatMul or Gemm nodes, and gemm_epilogue groups: the product with its epilogue.
Starter product_epilogue(const StarterContext& c, Matcher& m) {
  const Node& p = *c.nodes.front();
  if (!default_domain(p) || (p.op_type != "MatMul" && p.op_type != "Gemm"))
    return m.skip("the group does not start with a MatMul or Gemm");
  DType t;
  if (!operands_are_inputs(m, p, 2, &t)) return {};
  kernels::GemmEpilogueSpec spec;
  spec.dtype = static_cast<int32_t>(t);
  spec.output_dtype = static_cast<int32_t>(m.dtype(c.outputs.empty() ? std::string() : c.outputs[0]));
  spec.allow_tf32 = c.allow_tf32;
  std::vector<std::string> order = {p.inputs[0], p.inputs[1]};
  if (p.op_type == "Gemm") {
    spec.gemm = true;
    spec.trans_a = p.attr_int("transA", 0) != 0;
    spec.trans_b = p.attr_int("transB", 0) != 0;
    spec.alpha = p.attr_float("alpha", 1.0f);
    spec.beta = p.attr_float("beta", 1.0f);
    spec.has_c = p.has_input(2);
    if (spec.has_c) {
      if (!m.is_input(p.inputs[2]) || m.dtype(p.inputs[2]) != t) return m.skip("Gemm's C is not a kernel input of A's dtype");
      order.push_back(p.inputs[2]);
    }
  }
  auto chain = epilogue_of(c, m, p, t, &order);
  if (!chain) return {};
  spec.epilogue = std::move(*chain);
  return from(kernels::gemm_epilogue_source(spec, c.target, c.config), "gemm_epilogue", order, m);
}

/// ONNX's explicit pads for `auto_pad` (SAME_UPPER / SAME_LOWER: the output is ceil(in /
/// stride), the extra padding at the end or the start).
std::optional<std::vector<int64_t>> conv_pads(Matcher& m, const Node& n, const std::vector<int64_t>& x,
                                              const std::vector<int64_t>& w, const std::vector<int64_t>& strides,
                                              const std::vector<int64_t>& dilations) {
  const size_t r = x.size() - 2;
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    std::vector<int64_t> pads = n.attr_ints("pads");
    if (pads.empty()) pads.assign(2 * r, 0);
    if (pads.size() != 2 * r) return m.none("Conv pads of the wrong length");
    return pads;
  }
  if (auto_pad == "VALID") return std::vector<int64_t>(2 * r, 0);
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") return m.none("Conv auto_pad '" + auto_pad + "'");
  std::vector<int64_t> pads(2 * r);
  for (size_t d = 0; d < r; ++d) {
    const int64_t in = x[2 + d], out = (in + strides[d] - 1) / strides[d];
    const int64_t total = std::max<int64_t>(0, (out - 1) * strides[d] + (w[2 + d] - 1) * dilations[d] + 1 - in);
    const int64_t small = total / 2;
    pads[d] = auto_pad == "SAME_UPPER" ? small : total - small;
    pads[r + d] = total - pads[d];
  }
  return pads;
}

/// Conv nodes and conv_epilogue groups: the convolution (+ its bias) with its epilogue.
Starter conv_epilogue(const StarterContext& c, Matcher& m) {
  const Node& n = *c.nodes.front();
  if (!default_domain(n) || n.op_type != "Conv") return m.skip("no template for " + n.op_type);
  DType t;
  if (!operands_are_inputs(m, n, n.has_input(2) ? 3 : 2, &t)) return {};
  const auto* x = m.shape(n.inputs[0]);
  const auto* w = m.shape(n.inputs[1]);
  if (!x || !w || x->size() != w->size() || (x->size() != 3 && x->size() != 4))
    return m.skip("Conv with " + std::to_string(x ? static_cast<int>(x->size()) - 2 : -1) +
                  " spatial dims (the template takes 1 or 2)");
  if (m.dtype(c.outputs.empty() ? std::string() : c.outputs[0]) != t)
    return m.skip("the conv template writes the input's dtype");
  const size_t r = x->size() - 2;
  kernels::ConvSpec spec;
  spec.dtype = static_cast<int32_t>(t);
  spec.spatial_rank = static_cast<int>(r);
  spec.strides = n.attr_ints("strides");
  spec.dilations = n.attr_ints("dilations");
  if (spec.strides.empty()) spec.strides.assign(r, 1);
  if (spec.dilations.empty()) spec.dilations.assign(r, 1);
  if (spec.strides.size() != r || spec.dilations.size() != r) return m.skip("Conv strides/dilations of the wrong length");
  auto pads = conv_pads(m, n, *x, *w, spec.strides, spec.dilations);
  if (!pads) return {};
  spec.pads = *pads;
  spec.group = n.attr_int("group", 1);
  spec.has_bias = n.has_input(2);
  spec.allow_tf32 = c.allow_tf32;
  std::vector<std::string> order = {n.inputs[0], n.inputs[1]};
  if (spec.has_bias) order.push_back(n.inputs[2]);
  auto chain = epilogue_of(c, m, n, t, &order);
  if (!chain) return {};
  spec.epilogue = std::move(*chain);
  return from(kernels::conv_source(spec, c.target, c.config), "conv", order, m);
}

// --- pooling ---------------------------------------------------------------------------

/// MaxPool, AveragePool, GlobalMaxPool and GlobalAveragePool nodes over 1-3 spatial dims.
/// The attributes go into the source; the sizes (and SAME pads) the kernel reads at run time.
Starter pool_node(const StarterContext& c, Matcher& m, const Node& n) {
  if (n.outputs.size() > 1 && !n.outputs[1].empty())
    return m.skip("MaxPool's Indices output (the pool template computes Y only)");
  DType t;
  if (!operands_are_inputs(m, n, 1, &t)) return {};
  if (c.outputs.size() != 1 || m.dtype(c.outputs[0]) != t) return m.skip("the pool template writes one Y of X's dtype");
  const int64_t rank = m.rank(n.inputs[0]);
  if (rank < 3 || rank > 5)
    return m.skip(n.op_type + " with " + std::to_string(rank - 2) + " spatial dims (the template takes 1, 2 or 3)");
  kernels::PoolSpec spec;
  spec.kind = n.op_type.find("Max") != std::string::npos ? kernels::PoolSpec::Kind::kMax : kernels::PoolSpec::Kind::kAverage;
  spec.global = n.op_type.rfind("Global", 0) == 0;
  spec.dtype = static_cast<int32_t>(t);
  spec.spatial_rank = static_cast<int>(rank - 2);
  if (!spec.global) {
    spec.kernel = n.attr_ints("kernel_shape");
    spec.strides = n.attr_ints("strides");
    spec.dilations = n.attr_ints("dilations");
    spec.pads = n.attr_ints("pads");
    spec.ceil_mode = n.attr_int("ceil_mode", 0) != 0;
    spec.count_include_pad = spec.kind == kernels::PoolSpec::Kind::kAverage && n.attr_int("count_include_pad", 0) != 0;
    const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
    using AutoPad = kernels::PoolSpec::AutoPad;
    if (auto_pad == "SAME_UPPER") spec.auto_pad = AutoPad::kSameUpper;
    else if (auto_pad == "SAME_LOWER") spec.auto_pad = AutoPad::kSameLower;
    else if (auto_pad == "VALID") spec.auto_pad = AutoPad::kValid;
    else if (auto_pad != "NOTSET") return m.skip(n.op_type + " auto_pad '" + auto_pad + "'");
    // ONNX ignores explicit pads under auto_pad; an all-zero list is what exporters write.
    if (spec.auto_pad != AutoPad::kNotSet &&
        std::all_of(spec.pads.begin(), spec.pads.end(), [](int64_t p) { return p == 0; }))
      spec.pads.clear();
  }
  return from(kernels::pool_source(spec, c.target, c.config), "pool", {n.inputs[0]}, m);
}

// --- attention, rotary embedding -------------------------------------------------------

/// What an attention starter needs from the nodes: the pattern's fields or the fused
/// node's attributes.
struct AttentionInputs {
  std::string q, kt, v, mask;
  bool mask_is_condition = false;
  double mask_fill = 0;
  double scale = 1;
};

/// Whether `shape` broadcasts to `to` from the right (each dim equal or 1, no more dims).
bool broadcasts_to(const std::vector<int64_t>& shape, const std::vector<int64_t>& to) {
  if (shape.size() > to.size()) return false;
  for (size_t i = 1; i <= shape.size(); ++i) {
    const int64_t d = shape[shape.size() - i];
    if (d != 1 && d != to[to.size() - i]) return false;
  }
  return true;
}

/// Whether the constant `mask` is a causal mask over scores of Sq x Sk: its last two dims
/// are exactly [Sq, Sk] (the others 1) and it masks key j of row i exactly where
/// j > i + Sk - Sq. A condition masks where true; an additive mask is 0 where kept and one
/// large negative value (returned in `*fill`) where masked.
bool causal_constant(const models::TensorData& mask, bool condition, int64_t sq, int64_t sk, double* fill) {
  const auto& dims = mask.dims;
  if (dims.size() < 2 || dims[dims.size() - 2] != sq || dims.back() != sk || mask.numel() != sq * sk ||
      mask.bytes.data == nullptr)
    return false;
  if (condition != (mask.dtype == DType::kBool)) return false;
  std::optional<double> masked_value;
  for (int64_t i = 0; i < sq; ++i) {
    for (int64_t j = 0; j < sk; ++j) {
      const auto v = element_value(mask, i * sk + j);
      if (!v) return false;
      const bool masked = j > i + sk - sq;
      if (condition) {
        if ((*v != 0) != masked) return false;
      } else if (!masked) {
        if (*v != 0) return false;
      } else {
        if (*v > -1e4 || (masked_value && *masked_value != *v)) return false;
        masked_value = *v;
      }
    }
  }
  if (!condition) *fill = masked_value.value_or(0);
  return true;
}

/// The attention template for Q, Kt, V [and a mask], after checking what it states it
/// takes: one dtype for Q, Kt, V and Y (an additive mask too, a boolean one is bool), Y of
/// rank 2 to 4, Q's and the mask's dims broadcasting to Y's, and on CUDA D, Dv <= 256.
Starter attention(const StarterContext& c, Matcher& m, const AttentionInputs& a) {
  if (c.outputs.size() != 1) return m.skip("attention with " + std::to_string(c.outputs.size()) + " outputs");
  const std::string& y = c.outputs[0];
  const DType t = m.dtype(y);
  if (!template_dtype(t)) return m.skip("attention template takes float32/float16/bfloat16, Y is " + models::dtype_name(t));
  for (const std::string* v : {&a.q, &a.kt, &a.v}) {
    if (!m.is_input(*v)) return m.skip("attention operand '" + *v + "' is not a kernel input");
    if (m.dtype(*v) != t)
      return m.skip("attention operand '" + *v + "' is " + models::dtype_name(m.dtype(*v)) + ", Y " + models::dtype_name(t) +
                    " (the template takes one dtype: no upcast of the scores)");
  }
  const auto *qs = m.shape(a.q), *ks = m.shape(a.kt), *vs = m.shape(a.v), *ys = m.shape(y);
  if (!qs || !ks || !vs || !ys) return m.skip("attention operand shapes are unknown");
  if (ys->size() < 2 || ys->size() > 4) return m.skip("attention output of rank " + std::to_string(ys->size()) + " (the template takes 2 to 4)");
  for (const auto* s : {qs, ks, vs})
    if (s->size() < 2) return m.skip("attention operand of rank < 2");
  const int64_t d = qs->back(), dv = vs->back();
  if (c.target == kernels::Target::kCuda && (d > kernels::kAttentionCudaMaxHeadDim || dv > kernels::kAttentionCudaMaxHeadDim))
    return m.skip("attention head dims " + std::to_string(d) + ", " + std::to_string(dv) + " exceed the CUDA template's " +
                  std::to_string(kernels::kAttentionCudaMaxHeadDim));
  std::vector<int64_t> q_batch(qs->begin(), qs->end() - 2), y_batch(ys->begin(), ys->end() - 2);
  if (!broadcasts_to(q_batch, y_batch)) return m.skip("attention Q's batch dims do not broadcast to Y's");
  kernels::AttentionSpec spec;
  spec.dtype = static_cast<int32_t>(t);
  spec.scale = a.scale;
  std::vector<std::string> order = {a.q, a.kt, a.v};
  const auto constant_mask = a.mask.empty() || m.is_input(a.mask) ? c.constants->end() : c.constants->find(a.mask);
  if (constant_mask != c.constants->end()) {
    // A constant mask kept in the subgraph (a causal buffer) is no kernel input: the
    // template computes it, when it is exactly causal.
    double fill = a.mask_fill;
    if (!causal_constant(constant_mask->second, a.mask_is_condition, (*qs)[qs->size() - 2], ks->back(), &fill))
      return m.skip("attention mask '" + a.mask + "' is a constant that is not a causal [Sq, Sk] mask");
    spec.mask = a.mask_is_condition ? kernels::AttentionSpec::Mask::kCausal : kernels::AttentionSpec::Mask::kCausalAdditive;
    spec.mask_fill = fill;
  } else if (!a.mask.empty()) {
    if (!m.is_input(a.mask)) return m.skip("attention mask '" + a.mask + "' is not a kernel input");
    const DType mt = m.dtype(a.mask);
    if (a.mask_is_condition ? mt != DType::kBool : mt != t)
      return m.skip("attention mask '" + a.mask + "' is " + models::dtype_name(mt) + " (the template takes " +
                    (a.mask_is_condition ? std::string("bool") : models::dtype_name(t)) + ")");
    const auto* ms = m.shape(a.mask);
    std::vector<int64_t> scores = y_batch;
    scores.insert(scores.end(), {(*qs)[qs->size() - 2], ks->back()});
    if (!ms || !broadcasts_to(*ms, scores)) return m.skip("attention mask '" + a.mask + "' does not broadcast to the scores");
    spec.mask = a.mask_is_condition ? kernels::AttentionSpec::Mask::kBoolean : kernels::AttentionSpec::Mask::kAdditive;
    spec.mask_fill = a.mask_fill;
    order.push_back(a.mask);
  }
  if (!m.inputs_are(order)) return {};
  return from(kernels::attention_source(spec, c.target, c.config), "attention", order, m);
}

/// The attention group, from the pattern's fields. A NaN guard (rows masked entirely give 0
/// rather than NaN) and a Softmax without axis before opset 13 are outside the template.
Starter attention_group(const StarterContext& c, Matcher& m) {
  models::Graph sub;
  auto match = task_match(c, models::PatternKind::kAttention, &sub, m);
  if (!match) return {};
  const models::AttentionFields& f = *match->attention();
  if (f.nan_guard) return m.skip("attention with a NaN guard (fully masked rows become 0): the template gives NaN there");
  if (f.softmax_default_axis && c.model->opset("") < 13)
    return m.skip("attention Softmax without axis before opset 13 (a 2-D coercion)");
  AttentionInputs a{f.q, f.kt, f.v, f.mask, f.mask_is_condition, f.mask_value, f.scale};
  return attention(c, m, a);
}

/// The runtime's fused com.autokernel.Attention node (models/fusion.cpp): inputs Q, Kt, V
/// [, mask], attributes scale, mask_kind (0 none, 1 additive, 2 boolean) and mask_fill.
Starter attention_node(const StarterContext& c, Matcher& m, const Node& n) {
  const int64_t mask_kind = n.attr_int("mask_kind", 0);
  if (mask_kind < 0 || mask_kind > 2) return m.skip("Attention mask_kind " + std::to_string(mask_kind));
  if (n.inputs.size() != (mask_kind == 0 ? 3u : 4u)) return m.skip("Attention node with unexpected inputs");
  AttentionInputs a{n.inputs[0], n.inputs[1], n.inputs[2], mask_kind == 0 ? std::string() : n.inputs[3], mask_kind == 2,
                    n.attr_float("mask_fill", 0), n.attr_float("scale", 1)};
  return attention(c, m, a);
}

/// Whether the rotary match's halves are x[.., :D/2] and x[.., D/2:] (the pattern only
/// checks that they come from one Split or two Slices of x meeting at one point): a Split
/// along the last axis into two equal parts, or Slices along it with constant bounds 0, D/2
/// and D/2, >= D, step 1.
bool rotary_halves(const StarterContext& c, Matcher& m, const models::Graph& sub, const std::string& x) {
  const int64_t r = m.rank(x), d = m.last_dim(x);
  auto producer = [&](const std::string& v) -> const Node* {
    for (const Node& n : sub.nodes)
      if (!n.outputs.empty() && n.outputs[0] == v) return &n;
    for (const Node& n : sub.nodes)
      if (std::find(n.outputs.begin(), n.outputs.end(), v) != n.outputs.end()) return &n;
    return nullptr;
  };
  auto is_last = [&](std::optional<double> axis) { return axis && (*axis == r - 1 || *axis == -1); };
  const Node *neg = nullptr, *cat = nullptr;
  for (const Node& n : sub.nodes) {
    if (n.op_type == "Neg") neg = &n;
    if (n.op_type == "Concat") cat = &n;
  }
  if (!neg || !cat || cat->inputs.size() != 2) return m.fail("rotary without Neg and a two-input Concat");
  if (!is_last(static_cast<double>(cat->attr_int("axis", 0)))) return m.fail("rotary Concat not over the last axis");
  const Node* tail = producer(neg->inputs[0]);
  const Node* head = producer(cat->inputs[1]);
  if (!tail || !head) return m.fail("rotary halves not made in the task");
  if (tail->op_type == "Split") {
    if (!is_last(static_cast<double>(tail->attr_int("axis", 0)))) return m.fail("rotary Split not over the last axis");
    if (tail->has_input(1)) {
      const auto it = c.constants->find(tail->inputs[1]);
      if (it == c.constants->end() || it->second.numel() != 2 || element_value(it->second, 0) != d / 2 ||
          element_value(it->second, 1) != d / 2)
        return m.fail("rotary Split sizes are not two constant halves");
    } else if (!tail->attr_ints("split").empty() && tail->attr_ints("split") != std::vector<int64_t>{d / 2, d / 2}) {
      return m.fail("rotary Split sizes are not two halves");
    }
    return true;
  }
  // Slice(x, starts, ends, axes, steps): every bound a constant, so the halves are known.
  auto bound = [&](const Node& n, size_t i) { return n.has_input(i) ? m.scalar(n.inputs[i]) : std::nullopt; };
  if (head->op_type != "Slice" || tail->op_type != "Slice" || head->inputs.size() < 4)
    return m.fail("rotary halves are not two Slices");
  for (const Node* n : {head, tail}) {
    if (!bound(*n, 1) || !bound(*n, 2))
      return m.fail("rotary Slice bounds are computed at run time (kernel inputs), so the halves are unknown");
    if (!is_last(bound(*n, 3))) return m.fail("rotary Slices not over the last axis");
    if (n->has_input(4) && bound(*n, 4) != 1.0) return m.fail("rotary Slice with a step");
  }
  if (*bound(*head, 1) != 0 || *bound(*head, 2) != d / 2 || *bound(*tail, 1) != d / 2 || *bound(*tail, 2) < d)
    return m.fail("rotary Slices are not the halves of the last axis");
  return true;
}

/// The rotary group (either form): x, cos, sin of one dtype, cos and sin broadcasting to x,
/// an even last dim.
Starter rotary_group(const StarterContext& c, Matcher& m) {
  models::Graph sub;
  auto match = task_match(c, models::PatternKind::kRotary, &sub, m);
  if (!match) return {};
  const models::RotaryFields& f = *match->rotary();
  if (c.outputs.size() != 1) return m.skip("rotary with " + std::to_string(c.outputs.size()) + " outputs");
  const DType dtype = m.dtype(c.outputs[0]);
  if (!template_dtype(dtype)) return m.skip("rotary template takes float32/float16/bfloat16, y is " + models::dtype_name(dtype));
  for (const std::string* v : {&f.x, &f.cos, &f.sin})
    if (m.dtype(*v) != dtype) return m.skip("rotary '" + *v + "' is not " + models::dtype_name(dtype));
  const auto *xs = m.shape(f.x), *ys = m.shape(c.outputs[0]);
  if (!xs || !ys || *xs != *ys || xs->empty()) return m.skip("rotary output shape is not x's");
  if (xs->back() % 2 != 0) return m.skip("rotary over an odd last dim");
  if (!rotary_halves(c, m, sub, f.x)) return {};
  for (const std::string* v : {&f.cos, &f.sin}) {
    const auto* s = m.shape(*v);
    if (!s || !broadcasts_to(*s, *xs)) return m.skip("rotary '" + *v + "' does not broadcast to x");
  }
  if (!m.inputs_are({f.x, f.cos, f.sin})) return {};
  kernels::RotarySpec spec;
  spec.dtype = static_cast<int32_t>(dtype);
  return from(kernels::rotary_source(spec, c.target, c.config), "rotary", {f.x, f.cos, f.sin}, m);
}

// --- data movement --------------------------------------------------------------------

bool is_layout_op(const std::string& op) {
  static const char* const kOps[] = {"Reshape", "Flatten", "Squeeze",  "Unsqueeze", "Identity",
                                     "Transpose", "Gather", "Slice", "Concat", "Expand"};
  return std::any_of(std::begin(kOps), std::end(kOps), [&](const char* o) { return op == o; });
}

/// The values of input `i` of `n`, an integer constant kept in the subgraph (a shape, axes,
/// indices, a Slice bound); an absent optional input is empty; nullopt (with the reason) when
/// the value is computed at run time, so the template cannot bake it in.
std::optional<std::vector<int64_t>> constant_ints(const StarterContext& c, Matcher& m, const Node& n, size_t i,
                                                  std::vector<int64_t>* dims = nullptr) {
  if (!n.has_input(i)) return std::vector<int64_t>{};
  const auto it = c.constants->find(n.inputs[i]);
  if (it == c.constants->end() || it->second.bytes.data == nullptr)
    return m.none(n.op_type + " input '" + n.inputs[i] +
                  "' is computed at run time (a kernel input); the layout template bakes it in as a constant");
  const models::TensorData& t = it->second;
  if (t.dtype != DType::kInt64 && t.dtype != DType::kInt32)
    return m.none(n.op_type + " input '" + n.inputs[i] + "' is " + models::dtype_name(t.dtype) + ", not int64/int32");
  std::vector<int64_t> values(static_cast<size_t>(t.numel()));
  for (size_t k = 0; k < values.size(); ++k)
    values[k] = t.dtype == DType::kInt64 ? t.data<int64_t>()[k] : t.data<int32_t>()[k];
  if (dims) *dims = t.dims;
  return values;
}

/// `axis` in [0, rank) (ONNX's negative axes counted from the end), or nullopt with the reason.
std::optional<int64_t> normalized_axis(Matcher& m, const Node& n, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return m.none(n.op_type + " axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return a;
}

/// Slice's per-dim starts, ends and steps from its constant inputs (opset >= 10) or
/// attributes: dims not named in axes are whole (0, INT64_MAX, 1).
bool slice_bounds(const StarterContext& c, Matcher& m, const Node& n, kernels::LayoutSpec* spec) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.model->opset("") >= 10) {
    auto s = constant_ints(c, m, n, 1), e = constant_ints(c, m, n, 2), a = constant_ints(c, m, n, 3),
         st = constant_ints(c, m, n, 4);
    if (!s || !e || !a || !st) return false;
    starts = *s, ends = *e, axes = *a, steps = *st;
  } else {
    starts = n.attr_ints("starts"), ends = n.attr_ints("ends"), axes = n.attr_ints("axes");
  }
  if (axes.empty())
    for (size_t d = 0; d < starts.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return m.fail("Slice starts, ends, axes and steps of different lengths");
  spec->starts.assign(spec->rank, 0);
  spec->ends.assign(spec->rank, INT64_MAX);
  spec->steps.assign(spec->rank, 1);
  std::vector<bool> seen(spec->rank, false);
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto a = normalized_axis(m, n, axes[k], spec->rank);
    if (!a) return false;
    if (seen[*a]) return m.fail("Slice names axis " + std::to_string(*a) + " twice");
    if (steps[k] == 0) return m.fail("Slice with a step of 0");
    seen[*a] = true;
    spec->starts[*a] = starts[k];
    spec->ends[*a] = ends[k];
    spec->steps[*a] = steps[k];
  }
  return true;
}

/// A single data-movement node as the layout template's byte copy: its data inputs are the
/// kernel inputs, every other input (shape, axes, indices, Slice bounds) a constant.
Starter layout_node(const StarterContext& c, Matcher& m, const Node& n) {
  using Op = kernels::LayoutSpec::Op;
  const std::string& op = n.op_type;
  if (c.outputs.size() != 1 || n.outputs.empty() || n.outputs[0] != c.outputs[0] || n.inputs.empty())
    return m.skip(op + ": the task's one output is not the node's");
  const std::string& x = n.inputs[0];
  kernels::LayoutSpec spec;
  spec.dtype = static_cast<int32_t>(m.dtype(c.outputs[0]));
  spec.rank = static_cast<int>(m.rank(x));
  if (spec.rank < 0 && (op == "Transpose" || op == "Gather" || op == "Slice" || op == "Concat"))
    return m.skip(op + " input of unknown rank");
  std::vector<std::string> data = {x}, unread;
  if (op == "Concat") {
    data = n.inputs;
    spec.op = Op::kConcat;
    spec.num_inputs = static_cast<int>(data.size());
  } else if (op == "Transpose") {
    spec.op = Op::kTranspose;
    spec.perm = n.attr_ints("perm");
    if (spec.perm.empty())
      for (int d = spec.rank - 1; d >= 0; --d) spec.perm.push_back(d);
  } else if (op == "Gather") {
    spec.op = Op::kGather;
    std::vector<int64_t> dims;
    auto indices = constant_ints(c, m, n, 1, &dims);
    if (!indices) return {};
    if (dims.size() > 1) return m.skip("Gather with indices of rank " + std::to_string(dims.size()) + " (the template takes 0 or 1)");
    spec.indices = std::move(*indices);
    spec.scalar_index = dims.empty();
  } else if (op == "Slice") {
    spec.op = Op::kSlice;
    if (!slice_bounds(c, m, n, &spec)) return {};
  } else {
    // Reshape, Flatten, Squeeze, Unsqueeze, Identity copy; Expand broadcasts. Their shape or
    // axes input only decides the output's shape, which the output's descriptor carries: a
    // constant stays in the subgraph, one computed at run time (the exporters' Shape ->
    // Gather -> Concat) is a kernel input the kernel takes and does not read.
    spec.op = op == "Expand" ? Op::kExpand : Op::kCopy;
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      if (!n.has_input(i) || c.constants->count(n.inputs[i])) continue;
      if (!m.is_input(n.inputs[i])) return m.skip(op + " input '" + n.inputs[i] + "' is neither a constant nor a kernel input");
      unread.push_back(n.inputs[i]);
    }
    spec.unread_inputs = static_cast<int>(unread.size());
  }
  if (spec.op == Op::kGather || spec.op == Op::kConcat) {
    const auto axis = normalized_axis(m, n, n.attr_int("axis", op == "Concat" ? 1 : 0), spec.rank);
    if (!axis) return {};
    spec.axis = *axis;
  }
  for (const std::string& v : data) {
    if (!m.is_input(v)) return m.skip(op + " operand '" + v + "' is not a kernel input");
    if (static_cast<int32_t>(m.dtype(v)) != spec.dtype) return m.skip(op + " operand '" + v + "' is not of the output's dtype");
  }
  data.insert(data.end(), unread.begin(), unread.end());
  if (!m.inputs_are(data)) return {};
  return from(kernels::layout_source(spec, c.target, c.config), "layout", data, m);
}

Starter choose(const StarterContext& c, Matcher& m) {
  using models::PatternKind;
  if (c.nodes.empty()) return m.skip("no nodes");
  if (c.kind.is_node()) {
    const Node& n = *c.nodes.front();
    if (default_domain(n)) {
      if (n.op_type == "Softmax" || n.op_type == "LogSoftmax") return softmax_node(c, m, n);
      if (n.op_type == "LayerNormalization") return layer_norm_node(c, m, n);
      if (n.op_type == "MatMul" || n.op_type == "Gemm") return product_epilogue(c, m);
      if (n.op_type == "Conv") return conv_epilogue(c, m);
      if (n.op_type == "MaxPool" || n.op_type == "AveragePool" || n.op_type == "GlobalMaxPool" ||
          n.op_type == "GlobalAveragePool")
        return pool_node(c, m, n);
      if (is_layout_op(n.op_type)) return layout_node(c, m, n);
    }
    if (n.domain == "com.autokernel" && n.op_type == "Attention") return attention_node(c, m, n);
  } else {
    const std::optional<PatternKind> kind = c.kind.pattern();
    if (kind == PatternKind::kLayerNorm || kind == PatternKind::kRmsNorm || kind == PatternKind::kResidualLayerNorm ||
        kind == PatternKind::kResidualRmsNorm)
      return norm_group(c, m, *kind);
    if (kind == PatternKind::kSoftmax) return softmax_group(c, m);
    if (kind == PatternKind::kGemmEpilogue) return product_epilogue(c, m);
    if (kind == PatternKind::kConvEpilogue) return conv_epilogue(c, m);
    if (kind == PatternKind::kAttention) return attention_group(c, m);
    if (kind == PatternKind::kRotary) return rotary_group(c, m);
    // A gated MLP (act(gate) * up: Sigmoid, Mul, Mul or Gelu, Mul) is an elementwise chain.
    if (kind != PatternKind::kElementwiseChain && kind != PatternKind::kGelu && kind != PatternKind::kGatedMlp)
      return m.skip("no template for " + c.kind.name());
  }
  auto chain = build_chain(c, m);
  if (!chain) return {};
  return from(kernels::elementwise_chain_source(*chain, c.target, c.config), "elementwise_chain", c.inputs, m);
}

}  // namespace

Starter make_starter(const StarterContext& context) {
  Matcher m(context);
  Starter s = choose(context, m);
  if (!s.template_name.empty()) return s;
  kernels::SkeletonSpec spec;
  spec.op_type = context.op_type;
  spec.input_lines = context.input_lines;
  spec.output_lines = context.output_lines;
  s.why_skeleton = m.why().empty() ? "no template covers " + context.op_type : m.why();
  spec.reason = s.why_skeleton;
  s.template_name = "skeleton";
  s.source = kernels::skeleton_source(spec, context.target);
  s.inputs = context.inputs;
  return s;
}

std::optional<kernels::TemplateKind> template_kind_of(const std::string& template_name) {
  using kernels::TemplateKind;
  if (template_name == "elementwise_chain" || template_name == "rotary") return TemplateKind::kElementwise;
  if (template_name.rfind("rowwise_", 0) == 0) return TemplateKind::kRowwise;
  if (template_name == "gemm_epilogue") return TemplateKind::kGemmEpilogue;
  if (template_name == "conv") return TemplateKind::kConv;
  if (template_name == "attention") return TemplateKind::kAttention;
  if (template_name == "pool") return TemplateKind::kPool;
  if (template_name == "layout") return TemplateKind::kLayout;
  return std::nullopt;
}

}  // namespace ak::extractor::internal
