// The starter kernel of a task: a template that computes exactly the task's nodes, or a skeleton.
#include <algorithm>
#include <optional>

#include "extractor/internal/starter.h"

namespace ak::extractor::internal {

namespace {

using models::DType;
using models::Node;

bool default_domain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

bool template_dtype(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

/// The value of a one-element tensor of any numeric dtype.
std::optional<double> scalar_value(const models::TensorData& t) {
  if (t.numel() != 1 || t.bytes.data == nullptr) return std::nullopt;
  switch (t.dtype) {
    case DType::kFloat32: return *t.data<float>();
    case DType::kFloat64: return *t.data<double>();
    case DType::kFloat16: return models::half_to_float(*t.data<uint16_t>());
    case DType::kBFloat16: return models::bfloat16_to_float(*t.data<uint16_t>());
    case DType::kInt64: return static_cast<double>(*t.data<int64_t>());
    case DType::kInt32: return *t.data<int32_t>();
    case DType::kInt16: return *t.data<int16_t>();
    case DType::kInt8: return *t.data<int8_t>();
    case DType::kUInt8:
    case DType::kBool: return *t.data<uint8_t>();
    default: return std::nullopt;
  }
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
  std::optional<std::vector<int64_t>> ints(const std::string& v) const {
    auto it = c_.constants->find(v);
    if (it == c_.constants->end()) return std::nullopt;
    const models::TensorData& t = it->second;
    std::vector<int64_t> out;
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (t.dtype == DType::kInt64) out.push_back(t.data<int64_t>()[i]);
      else if (t.dtype == DType::kInt32) out.push_back(t.data<int32_t>()[i]);
      else return std::nullopt;
    }
    return out;
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

  /// The node among the task's that has op `op` and reads `value`; null if none.
  const Node* consumer(const std::string& value, const char* op) const {
    for (const Node* n : c_.nodes)
      if (n->op_type == op && default_domain(*n) && std::find(n->inputs.begin(), n->inputs.end(), value) != n->inputs.end())
        return n;
    return nullptr;
  }
  static const std::string& other_input(const Node& n, const std::string& value) {
    return n.inputs.size() > 1 && n.inputs[0] == value ? n.inputs[1] : n.inputs[0];
  }
  static const std::string& out(const Node& n) {
    static const std::string kEmpty;
    return n.outputs.empty() ? kEmpty : n.outputs[0];
  }

  /// Whether reduction `n` reduces exactly the last axis of its input and keeps it.
  bool reduces_last_axis(const Node& n) {
    const int64_t r = rank(n.inputs.empty() ? std::string() : n.inputs[0]);
    if (r < 1) return fail("node '" + n.name + "': unknown input rank");
    if (n.attr_int("keepdims", 1) != 1) return fail("node '" + n.name + "' drops the reduced axis (keepdims 0)");
    std::vector<int64_t> axes;
    if (n.has_input(1)) {
      auto v = ints(n.inputs[1]);
      if (!v) return fail("node '" + n.name + "': axes are not a constant");
      axes = *v;
    } else {
      axes = n.attr_ints("axes");
    }
    if (axes.empty()) {
      if (n.attr_int("noop_with_empty_axes", 0) != 0) return fail("node '" + n.name + "' reduces nothing");
      if (r != 1) return fail("node '" + n.name + "' reduces every axis");
      return true;
    }
    if (axes.size() != 1 || (axes[0] < 0 ? axes[0] + r : axes[0]) != r - 1)
      return fail("node '" + n.name + "' does not reduce only the last axis");
    return true;
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

/// A chain computing the task's nodes in order; nullopt (with a reason) when any node or
/// operand is out of the template's reach.
std::optional<kernels::ElementwiseChain> build_chain(const StarterContext& c, Matcher& m) {
  auto dtype = m.common_dtype();
  if (!dtype) return std::nullopt;
  const auto& ops = kernels::supported_elementwise_ops();
  kernels::ElementwiseChain chain;
  chain.num_inputs = static_cast<int>(c.inputs.size());
  chain.dtype = static_cast<int32_t>(*dtype);
  std::map<std::string, int> step_of;
  const int64_t opset = c.model->opset("");
  for (const Node* n : c.nodes) {
    std::string op = n->op_type;
    const bool fused_gelu = n->domain == "com.autokernel" && op == "Gelu";
    if (!default_domain(*n) && !fused_gelu) return m.none("op " + n->domain + "." + op + " is not elementwise");
    if (std::find(ops.begin(), ops.end(), op) == ops.end())
      return m.none("op " + op + " has no elementwise template");
    if (n->outputs.size() != 1 || n->outputs[0].empty()) return m.none("node '" + n->name + "' has several outputs");
    kernels::ElementwiseStep step;
    step.op = op;
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
      if (m.is_input(v)) {
        operand = {kernels::Operand::Kind::kInput, m.input_index(v), 0};
      } else if (auto s = step_of.find(v); s != step_of.end()) {
        operand = {kernels::Operand::Kind::kStep, s->second, 0};
      } else if (auto k = m.scalar(v)) {
        operand = {kernels::Operand::Kind::kConstant, 0, *k};
      } else {
        return m.none("operand '" + v + "' of node '" + n->name + "' is a constant of more than one element");
      }
      step.operands.push_back(operand);
    }
    for (const auto& a : n->attributes) {
      if (a.name == "fused_nodes") continue;
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
    step_of[n->outputs[0]] = static_cast<int>(chain.steps.size());
    chain.steps.push_back(std::move(step));
  }
  if (c.nodes.empty() || c.nodes.back()->outputs[0] != c.outputs[0])
    return m.none("the last node does not make the task's output");
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
  return from(kernels::rowwise_source(spec, c.target), name, std::move(inputs), m);
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

/// The epsilon of the Add that follows `reduced` (the mean of squares).
std::optional<double> epsilon_after(Matcher& m, const std::string& reduced, const Node** add) {
  *add = m.consumer(reduced, "Add");
  if (*add == nullptr) return m.none("no epsilon Add");
  auto eps = m.scalar(Matcher::other_input(**add, reduced));
  if (!eps) return m.none("epsilon is not a scalar constant");
  return eps;
}

/// The decomposed layer_norm group: ReduceMean -> Sub -> Pow|Mul -> ReduceMean -> Add(eps)
/// -> Sqrt -> Div [-> Mul(gamma) [-> Add(beta)]].
Starter layer_norm_group(const StarterContext& c, Matcher& m) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  const Node& r1 = *c.nodes.front();
  if (r1.op_type != "ReduceMean" || r1.inputs.empty()) return m.skip("layer_norm group does not start with ReduceMean");
  const std::string x = r1.inputs[0];
  const Node* sub = m.consumer(Matcher::out(r1), "Sub");
  if (!sub || !m.reduces_last_axis(r1)) return m.skip("unexpected layer_norm group");
  const Node* sq = m.consumer(Matcher::out(*sub), "Pow");
  if (sq) {
    auto e = m.scalar(sq->inputs.size() > 1 ? sq->inputs[1] : std::string());
    if (!e || *e != 2.0) return m.skip("the variance squares with Pow of another exponent");
  } else {
    sq = m.consumer(Matcher::out(*sub), "Mul");
  }
  const Node* r2 = sq ? m.consumer(Matcher::out(*sq), "ReduceMean") : nullptr;
  if (!r2 || !m.reduces_last_axis(*r2)) return m.skip("unexpected layer_norm group");
  const Node* add = nullptr;
  auto eps = epsilon_after(m, Matcher::out(*r2), &add);
  if (!eps) return {};
  const Node* sqrt = m.consumer(Matcher::out(*add), "Sqrt");
  const Node* div = sqrt ? m.consumer(Matcher::out(*sqrt), "Div") : nullptr;
  if (!div) return m.skip("unexpected layer_norm group");
  std::vector<std::string> order = {x};
  size_t members = 7;
  const int64_t d = m.last_dim(x);
  if (const Node* mul = m.consumer(Matcher::out(*div), "Mul")) {
    const std::string& gamma = Matcher::other_input(*mul, Matcher::out(*div));
    if (!m.is_input(gamma) || !m.per_feature(gamma, d, "gamma")) return {};
    order.push_back(gamma);
    ++members;
    if (const Node* shift = m.consumer(Matcher::out(*mul), "Add")) {
      const std::string& beta = Matcher::other_input(*shift, Matcher::out(*mul));
      if (!m.is_input(beta) || !m.per_feature(beta, d, "beta")) return {};
      order.push_back(beta);
      ++members;
    }
  }
  if (order.size() < 2) return m.skip("layer_norm group without gamma (the template needs a scale)");
  if (members != c.nodes.size() || !m.inputs_are(order)) return m.skip("unexpected layer_norm group");
  return rowwise(kernels::RowwiseSpec::Kind::kLayerNorm, *dtype, *eps, order, c, m);
}

/// The decomposed rms_norm group: Pow|Mul(x, x) -> ReduceMean -> Add(eps) -> Sqrt ->
/// Div(x, .) | Reciprocal -> Mul(x, .) [-> Mul(gamma)].
Starter rms_norm_group(const StarterContext& c, Matcher& m) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  const Node& sq = *c.nodes.front();
  if (sq.inputs.empty()) return m.skip("unexpected rms_norm group");
  const std::string x = sq.inputs[0];
  if (sq.op_type == "Pow") {
    auto e = m.scalar(sq.inputs.size() > 1 ? sq.inputs[1] : std::string());
    if (!e || *e != 2.0) return m.skip("the mean of squares uses Pow of another exponent");
  } else if (sq.op_type != "Mul" || sq.inputs.size() != 2 || sq.inputs[1] != x) {
    return m.skip("unexpected rms_norm group");
  }
  const Node* r = m.consumer(Matcher::out(sq), "ReduceMean");
  if (!r || !m.reduces_last_axis(*r)) return m.skip("unexpected rms_norm group");
  const Node* add = nullptr;
  auto eps = epsilon_after(m, Matcher::out(*r), &add);
  if (!eps) return {};
  const Node* sqrt = m.consumer(Matcher::out(*add), "Sqrt");
  if (!sqrt) return m.skip("unexpected rms_norm group");
  size_t members = 5;
  std::string normalized;
  if (const Node* div = m.consumer(Matcher::out(*sqrt), "Div"); div && div->inputs[0] == x) {
    normalized = Matcher::out(*div);
  } else if (const Node* rec = m.consumer(Matcher::out(*sqrt), "Reciprocal")) {
    const Node* mul = m.consumer(Matcher::out(*rec), "Mul");
    if (!mul || Matcher::other_input(*mul, Matcher::out(*rec)) != x) return m.skip("unexpected rms_norm group");
    normalized = Matcher::out(*mul);
    members = 6;
  } else {
    return m.skip("unexpected rms_norm group");
  }
  std::vector<std::string> order = {x};
  if (const Node* mul = m.consumer(normalized, "Mul")) {
    const std::string& gamma = Matcher::other_input(*mul, normalized);
    if (!m.is_input(gamma) || !m.per_feature(gamma, m.last_dim(x), "gamma")) return {};
    order.push_back(gamma);
    ++members;
  }
  if (members != c.nodes.size() || !m.inputs_are(order)) return m.skip("unexpected rms_norm group");
  return rowwise(kernels::RowwiseSpec::Kind::kRmsNorm, *dtype, *eps, order, c, m);
}

/// The decomposed softmax group: [ReduceMax -> Sub ->] Exp -> ReduceSum -> Div.
Starter softmax_group(const StarterContext& c, Matcher& m) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  const Node* exp = nullptr;
  const Node* rmax = nullptr;
  for (const Node* n : c.nodes) {
    if (n->op_type == "Exp") exp = n;
    if (n->op_type == "ReduceMax") rmax = n;
  }
  if (!exp) return m.skip("unexpected softmax group");
  std::string x = exp->inputs[0];
  size_t members = 3;
  if (rmax) {
    const Node* sub = m.consumer(Matcher::out(*rmax), "Sub");
    if (!sub || Matcher::out(*sub) != exp->inputs[0] || sub->inputs[0] != rmax->inputs[0] || !m.reduces_last_axis(*rmax))
      return m.skip("unexpected softmax group");
    x = rmax->inputs[0];
    members = 5;
  }
  const Node* sum = m.consumer(Matcher::out(*exp), "ReduceSum");
  const Node* div = m.consumer(Matcher::out(*exp), "Div");
  if (!sum || !div || !m.reduces_last_axis(*sum) || div->inputs[0] != Matcher::out(*exp) ||
      div->inputs[1] != Matcher::out(*sum))
    return m.skip("unexpected softmax group");
  if (members != c.nodes.size() || !m.inputs_are({x})) return m.skip("unexpected softmax group");
  return rowwise(kernels::RowwiseSpec::Kind::kSoftmax, *dtype, 0, {x}, c, m);
}

// --- matmul -----------------------------------------------------------------------------

Starter matmul(const StarterContext& c, Matcher& m, const Node& mm, const std::string& bias) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  if (mm.inputs.size() != 2) return m.skip("unexpected MatMul");
  std::vector<std::string> order = {mm.inputs[0], mm.inputs[1]};
  if (!bias.empty()) {
    const auto* s = m.shape(bias);
    if (!s || s->size() != 1 || (*s)[0] != m.last_dim(c.outputs[0]))
      return m.skip("the Add after MatMul is not a 1-D bias over the output's last axis");
    order.push_back(bias);
  }
  if (!m.inputs_are(order)) return {};
  kernels::MatmulSpec spec;
  spec.dtype = static_cast<int32_t>(*dtype);
  spec.has_bias = !bias.empty();
  return from(kernels::matmul_source(spec, c.target), bias.empty() ? "matmul" : "matmul_bias", order, m);
}

Starter gemm_node(const StarterContext& c, Matcher& m, const Node& n) {
  auto dtype = m.common_dtype();
  if (!dtype) return {};
  if (n.inputs.size() < 2) return m.skip("unexpected Gemm");
  kernels::GemmSpec spec;
  spec.dtype = static_cast<int32_t>(*dtype);
  spec.trans_a = n.attr_int("transA", 0) != 0;
  spec.trans_b = n.attr_int("transB", 0) != 0;
  spec.alpha = n.attr_float("alpha", 1.0f);
  spec.beta = n.attr_float("beta", 1.0f);
  spec.has_c = n.has_input(2);
  std::vector<std::string> order = {n.inputs[0], n.inputs[1]};
  if (spec.has_c) order.push_back(n.inputs[2]);
  if (!m.inputs_are(order)) return {};
  return from(kernels::gemm_source(spec, c.target), "gemm", order, m);
}

Starter gemm_epilogue(const StarterContext& c, Matcher& m) {
  if (c.nodes.size() != 2 || c.nodes[0]->op_type != "MatMul" || c.nodes[1]->op_type != "Add")
    return m.skip("the epilogue is not MatMul + Add (an activation or Gemm)");
  const Node& mm = *c.nodes[0];
  return matmul(c, m, mm, Matcher::other_input(*c.nodes[1], Matcher::out(mm)));
}

Starter choose(const StarterContext& c, Matcher& m) {
  if (c.nodes.empty()) return m.skip("no nodes");
  if (c.kind == "node") {
    const Node& n = *c.nodes.front();
    if (default_domain(n)) {
      if (n.op_type == "Softmax" || n.op_type == "LogSoftmax") return softmax_node(c, m, n);
      if (n.op_type == "LayerNormalization") return layer_norm_node(c, m, n);
      if (n.op_type == "MatMul") return matmul(c, m, n, "");
      if (n.op_type == "Gemm") return gemm_node(c, m, n);
    }
  } else if (c.kind == "layer_norm") {
    return layer_norm_group(c, m);
  } else if (c.kind == "rms_norm") {
    return rms_norm_group(c, m);
  } else if (c.kind == "softmax") {
    return softmax_group(c, m);
  } else if (c.kind == "gemm_epilogue") {
    return gemm_epilogue(c, m);
  } else if (c.kind != "elementwise_chain" && c.kind != "gelu") {
    return m.skip("no template for " + c.kind);
  }
  auto chain = build_chain(c, m);
  if (!chain) return {};
  return from(kernels::elementwise_chain_source(*chain, c.target), "elementwise_chain", c.inputs, m);
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
  s.template_name = "skeleton";
  s.source = kernels::skeleton_source(spec, context.target);
  s.inputs = context.inputs;
  s.why_skeleton = m.why().empty() ? "no template covers " + context.op_type : m.why();
  return s;
}

}  // namespace ak::extractor::internal
