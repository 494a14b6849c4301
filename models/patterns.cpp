#include "models/patterns.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <span>

#include "kernels/op_traits.h"

namespace ak::models {

namespace {

constexpr int kNone = -1;
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi), tanh-GELU's factor

bool default_domain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

/// The value of a one-element tensor of a floating or integer dtype.
std::optional<double> scalar_of(const TensorData& t) {
  if (t.numel() != 1 || t.bytes.data == nullptr) return std::nullopt;
  switch (t.dtype) {
    case DType::kFloat32: return *t.data<float>();
    case DType::kFloat64: return *t.data<double>();
    case DType::kFloat16: return half_to_float(*t.data<uint16_t>());
    case DType::kBFloat16: return bfloat16_to_float(*t.data<uint16_t>());
    case DType::kInt64: return static_cast<double>(*t.data<int64_t>());
    case DType::kInt32: return *t.data<int32_t>();
    default: return std::nullopt;
  }
}

/// Element `i` of a numeric or bool tensor as a double (nullopt for other dtypes).
std::optional<double> element_of(const TensorData& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kFloat16: return half_to_float(t.data<uint16_t>()[i]);
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kBool:
    case DType::kUInt8: return t.data<uint8_t>()[i];
    default: return std::nullopt;
  }
}

/// +1 when `t` (last two dims square) is nonzero exactly on and below the diagonal, -1
/// when exactly above it, 0 otherwise. Leading dims must be 1 (one shared mask).
int triangle_of(const TensorData& t) {
  if (t.dims.size() < 2 || t.bytes.data == nullptr) return 0;
  const int64_t n = t.dims.back();
  if (t.dims[t.dims.size() - 2] != n || n < 2 || t.numel() != n * n) return 0;
  bool lower = true, upper = true;
  for (int64_t r = 0; r < n && (lower || upper); ++r)
    for (int64_t c = 0; c < n; ++c) {
      auto v = element_of(t, r * n + c);
      if (!v) return 0;
      const bool set = *v != 0;
      lower = lower && set == (c <= r);
      upper = upper && set == (c > r);
    }
  return lower ? 1 : upper ? -1 : 0;
}

/// Producer/consumer index over the top-level nodes, the graph's constants, and which
/// nodes earlier matches took.
class Index {
 public:
  explicit Index(const Graph& g) : g_(g), taken_(g.nodes.size(), false) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& o : g.nodes[i].outputs)
        if (!o.empty()) producer_[o] = static_cast<int>(i);
      for (const auto& in : g.nodes[i].inputs)
        if (!in.empty()) consumers_[in].push_back(i);
    }
    for (const auto& o : g.outputs) graph_outputs_.insert(o.name);
    for (const auto& t : g.initializers) constants_[t.name] = &t;
    for (const auto& n : g.nodes)
      if (n.op_type == "Constant" && default_domain(n) && !n.outputs.empty())
        if (const Attribute* a = n.find_attribute("value")) constants_[n.outputs[0]] = &a->t;
  }

  const Graph& graph() const { return g_; }
  const Node& node(int i) const { return g_.nodes[static_cast<size_t>(i)]; }
  int size() const { return static_cast<int>(g_.nodes.size()); }
  bool taken(int i) const { return taken_[static_cast<size_t>(i)]; }
  void take(const std::vector<size_t>& nodes) {
    for (size_t i : nodes) taken_[i] = true;
  }

  /// Whether node `i` exists, is untaken and is `op` of the default domain.
  bool is_op(int i, const char* op) const {
    if (i == kNone || taken(i)) return false;
    const Node& n = node(i);
    return n.op_type == op && default_domain(n);
  }
  const std::string& out(int i, size_t k = 0) const {
    static const std::string kEmpty;
    const auto& outs = node(i).outputs;
    return k < outs.size() ? outs[k] : kEmpty;
  }
  const std::string& in(int i, size_t k) const {
    static const std::string kEmpty;
    const auto& ins = node(i).inputs;
    return k < ins.size() ? ins[k] : kEmpty;
  }
  /// The input of binary node `i` that is not `value`.
  const std::string& other_input(int i, const std::string& value) const { return in(i, 0) == value ? in(i, 1) : in(i, 0); }

  /// The node making `value` (taken or not), or kNone.
  int producer_any(const std::string& value) const {
    auto it = producer_.find(value);
    return it == producer_.end() ? kNone : it->second;
  }
  /// The untaken node of `op` producing `value`, or kNone.
  int producer(const std::string& value, const char* op) const {
    const int p = producer_any(value);
    return is_op(p, op) ? p : kNone;
  }
  /// The first untaken consumer of `value` of `op`, or kNone.
  int consumer(const std::string& value, const char* op) const {
    auto it = consumers_.find(value);
    if (it == consumers_.end()) return kNone;
    for (size_t c : it->second)
      if (is_op(static_cast<int>(c), op)) return static_cast<int>(c);
    return kNone;
  }
  const std::vector<size_t>& consumers(const std::string& value) const {
    static const std::vector<size_t> kEmpty;
    auto it = consumers_.find(value);
    return it == consumers_.end() ? kEmpty : it->second;
  }
  /// Whether `value` feeds exactly one node and is not a graph output.
  bool private_value(const std::string& value) const {
    return consumers(value).size() == 1 && !graph_outputs_.count(value);
  }
  /// The sole consumer of `value` when it is private, else kNone.
  int sole_consumer(const std::string& value) const {
    return private_value(value) ? static_cast<int>(consumers(value)[0]) : kNone;
  }
  bool is_graph_output(const std::string& value) const { return graph_outputs_.count(value) > 0; }

  const TensorData* constant(const std::string& value) const {
    auto it = constants_.find(value);
    return it == constants_.end() ? nullptr : it->second;
  }
  std::optional<double> scalar(const std::string& value) const {
    const TensorData* t = constant(value);
    return t ? scalar_of(*t) : std::nullopt;
  }
  bool scalar_is(const std::string& value, double want, double tolerance = 1e-6) const {
    auto v = scalar(value);
    return v && std::abs(*v - want) <= tolerance * std::max(1.0, std::abs(want));
  }

  /// The one axis reduction `i` reduces, keeping it (attribute or constant input); nullopt
  /// for several axes, all axes, keepdims 0 or axes computed at run time.
  std::optional<int64_t> single_reduced_axis(int i) const {
    const Node& n = node(i);
    if (n.attr_int("keepdims", 1) != 1) return std::nullopt;
    std::vector<int64_t> axes = n.attr_ints("axes");
    if (n.has_input(1)) {
      const TensorData* t = constant(n.inputs[1]);
      if (t == nullptr || t->dtype != DType::kInt64) return std::nullopt;
      axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
    }
    if (axes.size() != 1) return std::nullopt;
    return axes[0];
  }

 private:
  const Graph& g_;
  std::vector<bool> taken_;
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<size_t>> consumers_;
  std::set<std::string> graph_outputs_;
  std::map<std::string, const TensorData*> constants_;
};

/// Finishes a match of `members`: they must be untaken and distinct from kNone, and only
/// the last member's outputs (in graph order) may be read outside them or be graph
/// outputs, and those of `shared` (a residual norm's Add), which come after them.
/// Computes inputs/outputs and takes the nodes.
std::optional<PatternMatch> finish(Index& ix, PatternKind kind, std::vector<int> members,
                                   decltype(PatternMatch::fields) fields = {}, int shared = kNone) {
  for (int m : members)
    if (m == kNone || ix.taken(m)) return std::nullopt;
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  const std::set<int> in_match(members.begin(), members.end());
  const int last = members.back();
  PatternMatch match;
  match.kind = kind;
  std::set<std::string> produced;
  std::vector<std::string> shared_outputs;
  for (int m : members)
    for (const auto& o : ix.node(m).outputs)
      if (!o.empty()) produced.insert(o);
  for (int m : members) {
    for (const auto& o : ix.node(m).outputs) {
      if (o.empty()) continue;
      bool escapes = ix.is_graph_output(o);
      for (size_t c : ix.consumers(o)) escapes = escapes || !in_match.count(static_cast<int>(c));
      if (!escapes) continue;
      if (m == shared) {
        shared_outputs.push_back(o);
        continue;
      }
      if (m != last) return std::nullopt;
      match.outputs.push_back(o);
    }
    for (const auto& i : ix.node(m).inputs)
      if (!i.empty() && !produced.count(i) && std::find(match.inputs.begin(), match.inputs.end(), i) == match.inputs.end())
        match.inputs.push_back(i);
  }
  if (match.outputs.empty()) return std::nullopt;
  match.outputs.insert(match.outputs.end(), shared_outputs.begin(), shared_outputs.end());
  for (int m : members) match.nodes.push_back(static_cast<size_t>(m));
  match.fields = std::move(fields);
  ix.take(match.nodes);
  return match;
}

// --- attention ----------------------------------------------------------------------------

/// Calls `visit` on every node above `value` (its producer, their producers, ...) up to
/// `depth` levels, each node once.
void walk_up(const Index& ix, const std::string& value, int depth, const std::function<void(int)>& visit) {
  std::set<int> seen;
  std::vector<std::string> frontier = {value};
  for (; depth > 0 && !frontier.empty(); --depth) {
    std::vector<std::string> next;
    for (const auto& v : frontier) {
      const int p = ix.producer_any(v);
      if (p == kNone || !seen.insert(p).second) continue;
      visit(p);
      for (const auto& in : ix.node(p).inputs)
        if (!in.empty()) next.push_back(in);
    }
    frontier = std::move(next);
  }
}

/// Whether the boolean condition `cond` (true = masked) is causal: a strictly-upper
/// triangular constant, or a lower-triangular one under an odd number of Nots, reached
/// through Cast/Slice/Not/Expand/Reshape/Unsqueeze; or anything built by Trilu.
bool causal_condition(const Index& ix, std::string value, int depth = 8) {
  bool negated = false;
  for (; depth > 0; --depth) {
    if (const TensorData* t = ix.constant(value)) {
      const int tri = triangle_of(*t);
      return (tri == -1 && !negated) || (tri == 1 && negated);
    }
    const int p = ix.producer_any(value);
    if (p == kNone) return false;
    const std::string& op = ix.node(p).op_type;
    if (op == "Trilu") return true;
    if (op == "Not") negated = !negated;
    else if (op != "Cast" && op != "Slice" && op != "Expand" && op != "Reshape" && op != "Unsqueeze" && op != "Equal")
      return false;
    if (op == "Equal") {
      // Equal(tril, 0) is "masked where not lower": the Trilu upstream decides.
      bool trilu = false;
      walk_up(ix, ix.in(p, 0), depth, [&](int n) { trilu = trilu || ix.node(n).op_type == "Trilu"; });
      return trilu;
    }
    value = ix.in(p, 0);
  }
  return false;
}

/// For an additive mask: whether Trilu builds it, and the fill constant of a Where or a
/// Mul by a large negative constant upstream (0 when none is found).
void classify_additive(const Index& ix, const std::string& mask, ScoreFields* f) {
  bool trilu = false;
  walk_up(ix, mask, 8, [&](int n) {
    const Node& node = ix.node(n);
    if (node.op_type == "Trilu") trilu = true;
    if (f->mask_value != 0) return;
    if (node.op_type == "Where" || node.op_type == "Mul")
      for (const auto& in : node.inputs)
        if (auto c = ix.scalar(in); c && *c <= -1e4) f->mask_value = *c;
  });
  f->mask_kind = trilu ? MaskKind::kCausal : MaskKind::kAdditive;
}

/// The value before a GQA expand (Unsqueeze -> Expand -> Reshape) on the path up from
/// `value` through Reshape/Transpose/Mul/Cast, or "" when there is none.
std::string before_expand(const Index& ix, std::string value) {
  for (int depth = 0; depth < 6; ++depth) {
    const int p = ix.producer_any(value);
    if (p == kNone) return {};
    const std::string& op = ix.node(p).op_type;
    if (op == "Expand") {
      const int u = ix.producer_any(ix.in(p, 0));
      return u != kNone && ix.node(u).op_type == "Unsqueeze" ? ix.in(u, 0) : std::string();
    }
    if (op != "Reshape" && op != "Transpose" && op != "Mul" && op != "Cast") return {};
    value = ix.in(p, 0);
  }
  return {};
}

/// What comes before a Softmax over attention scores, walking up from `*scores`:
/// [Where(cond, fill, .) | Add(., mask)] [-> Cast] [-> Div|Mul by a constant] [-> Cast].
/// Fills `f`, appends the nodes and leaves `*scores` at the value before them; false when
/// a Where or an Add there is not a mask.
bool scores_prologue(const Index& ix, std::string* scores, ScoreFields* f, std::vector<int>& members) {
  // The scores side of the Add is private and computed by the MatMul (or its scaling); a
  // mask is shared by the layers or is a graph input.
  auto scored = [&](const std::string& x) {
    return ix.private_value(x) && (ix.producer(x, "MatMul") != kNone || ix.producer(x, "Div") != kNone ||
                                   ix.producer(x, "Mul") != kNone || ix.producer(x, "Cast") != kNone);
  };
  // TorchScript's float16 graphs upcast the scores to float32 right after the MatMul.
  auto take_cast = [&] {
    const int cast = ix.producer(*scores, "Cast");
    if (cast == kNone || f->scores_dtype != DType::kUndefined) return;
    f->scores_dtype = static_cast<DType>(ix.node(cast).attr_int("to", 0));
    *scores = ix.in(cast, 0);
    members.push_back(cast);
  };
  if (const int w = ix.producer(*scores, "Where"); w != kNone) {
    auto fill = ix.scalar(ix.in(w, 1));
    // A hugely negative fill (-inf, the float32 minimum, float16's -65504) is a mask.
    if (!fill || *fill > -1e4) return false;
    f->mask = ix.in(w, 0);
    f->mask_is_condition = true;
    f->mask_value = *fill;
    f->mask_kind = causal_condition(ix, f->mask) ? MaskKind::kCausal : MaskKind::kBoolean;
    *scores = ix.in(w, 2);
    members.push_back(w);
  } else if (const int add = ix.producer(*scores, "Add"); add != kNone) {
    const int side = scored(ix.in(add, 0)) ? 0 : scored(ix.in(add, 1)) ? 1 : -1;
    if (side < 0) return false;
    f->mask = ix.in(add, static_cast<size_t>(1 - side));
    classify_additive(ix, f->mask, f);
    *scores = ix.in(add, static_cast<size_t>(side));
    members.push_back(add);
  }
  take_cast();
  int scale = ix.producer(*scores, "Div");
  if (scale == kNone) scale = ix.producer(*scores, "Mul");
  if (scale != kNone) {
    const int side = ix.scalar(ix.in(scale, 1)) ? 0 : 1;
    auto c = ix.scalar(ix.in(scale, static_cast<size_t>(1 - side)));
    const bool is_div = ix.node(scale).op_type == "Div";
    // Not a constant factor (a runtime scale, c / scores): the scale node stays outside.
    if (c && *c != 0 && !(is_div && side != 0)) {
      f->scale = is_div ? 1.0 / *c : *c;
      *scores = ix.in(scale, static_cast<size_t>(side));
      members.push_back(scale);
    }
  }
  take_cast();
  return true;
}

std::optional<PatternMatch> match_attention(Index& ix, int s) {
  if (!ix.is_op(s, "Softmax")) return std::nullopt;
  // axis -1 is the last axis under both the opset-1 and opset-13 definitions; without the
  // attribute it is the last axis from opset 13 on (the graph does not say which).
  const Attribute* axis = ix.node(s).find_attribute("axis");
  if (axis != nullptr && axis->i != -1) return std::nullopt;
  AttentionFields f;
  f.softmax_default_axis = axis == nullptr;
  std::vector<int> members = {s};
  std::string probs = ix.out(s);
  // Some dynamo versions guard fully-masked rows: Where(IsNaN(p), 0, p).
  if (ix.consumers(probs).size() == 2) {
    const int isnan = ix.consumer(probs, "IsNaN");
    const int w = ix.consumer(probs, "Where");
    if (isnan == kNone || w == kNone || ix.in(w, 0) != ix.out(isnan) || ix.in(w, 2) != probs || !ix.scalar_is(ix.in(w, 1), 0))
      return std::nullopt;
    members.insert(members.end(), {isnan, w});
    probs = ix.out(w);
    f.nan_guard = true;
  }
  const int m2 = ix.sole_consumer(probs);
  if (!ix.is_op(m2, "MatMul") || ix.in(m2, 0) != probs || ix.in(m2, 1) == probs) return std::nullopt;
  members.push_back(m2);
  f.v = ix.in(m2, 1);
  std::string scores = ix.in(s, 0);
  if (!scores_prologue(ix, &scores, &f, members)) return std::nullopt;
  const int m1 = ix.producer(scores, "MatMul");
  if (m1 == kNone) return std::nullopt;
  members.push_back(m1);
  f.q = ix.in(m1, 0);
  f.kt = ix.in(m1, 1);
  // The dynamo exporter scales Q and Kt by sqrt(scale) each before the MatMul.
  for (std::string* operand : {&f.q, &f.kt}) {
    const int mul = ix.producer(*operand, "Mul");
    if (mul == kNone || !ix.private_value(*operand)) continue;
    const int side = ix.scalar(ix.in(mul, 1)) ? 0 : ix.scalar(ix.in(mul, 0)) ? 1 : -1;
    if (side < 0) continue;
    f.scale *= *ix.scalar(ix.in(mul, static_cast<size_t>(1 - side)));
    *operand = ix.in(mul, static_cast<size_t>(side));
    members.push_back(mul);
  }
  f.k_source = before_expand(ix, f.kt);
  f.v_source = before_expand(ix, f.v);
  f.grouped_kv = !f.k_source.empty() && !f.v_source.empty();
  if (!f.grouped_kv) f.k_source.clear(), f.v_source.clear();
  return finish(ix, PatternKind::kAttention, members, f);
}

// --- normalizations ---------------------------------------------------------------------

/// The Add making `x`, as the residual of a norm.
void note_residual(const Index& ix, const std::string& x, NormFields* f) {
  const int add = ix.producer(x, "Add");
  if (add == kNone || ix.in(add, 0).empty() || ix.in(add, 1).empty()) return;
  if (ix.constant(ix.in(add, 0)) || ix.constant(ix.in(add, 1))) return;  // a bias, not a residual
  f->residual_node = static_cast<size_t>(add);
  f->residual_a = ix.in(add, 0);
  f->residual_b = ix.in(add, 1);
}

/// Mul(prev, gamma) [-> Add(., beta)] after `last`, while the value it absorbs is private.
int append_affine(const Index& ix, std::vector<int>& members, int last, NormFields* f, bool with_shift) {
  const int mul = ix.sole_consumer(ix.out(last));
  if (!ix.is_op(mul, "Mul")) return last;
  f->gamma = ix.other_input(mul, ix.out(last));
  members.push_back(mul);
  if (!with_shift) return mul;
  const int add = ix.sole_consumer(ix.out(mul));
  if (!ix.is_op(add, "Add")) return mul;
  f->beta = ix.other_input(add, ix.out(mul));
  members.push_back(add);
  return add;
}

/// Pow(v, 2) or Mul(v, v) among v's consumers.
int square_of(const Index& ix, const std::string& value) {
  int p = ix.consumer(value, "Pow");
  if (p != kNone && ix.in(p, 0) == value && ix.scalar_is(ix.in(p, 1), 2)) return p;
  p = ix.consumer(value, "Mul");
  if (p != kNone && ix.in(p, 0) == value && ix.in(p, 1) == value) return p;
  return kNone;
}

/// ReduceMean(sq) over one axis -> Add(eps): appends both, returns the Add (kNone if not).
int mean_plus_eps(const Index& ix, int sq, std::vector<int>& members, NormFields* f) {
  const int r = ix.consumer(ix.out(sq), "ReduceMean");
  if (r == kNone) return kNone;
  auto axis = ix.single_reduced_axis(r);
  if (!axis || (!members.empty() && ix.is_op(members[0], "ReduceMean") && ix.single_reduced_axis(members[0]) != axis))
    return kNone;
  const int add = ix.consumer(ix.out(r), "Add");
  if (add == kNone) return kNone;
  auto eps = ix.scalar(ix.other_input(add, ix.out(r)));
  if (!eps) return kNone;
  f->axis = *axis;
  f->epsilon = *eps;
  members.insert(members.end(), {sq, r, add});
  return add;
}

/// Finishes a norm match: the plain kind (the residual Add, if any, stays outside), or with
/// `residual` the residual kind, which takes the Add in and lets its output leave as well.
std::optional<PatternMatch> finish_norm(Index& ix, PatternKind kind, std::vector<int> members, NormFields f,
                                        bool residual) {
  note_residual(ix, f.x, &f);
  if (!residual) return finish(ix, kind, std::move(members), f);
  if (!f.residual_node) return std::nullopt;
  const int add = static_cast<int>(*f.residual_node);
  members.push_back(add);
  return finish(ix, kind == PatternKind::kLayerNorm ? PatternKind::kResidualLayerNorm : PatternKind::kResidualRmsNorm,
                std::move(members), f, add);
}

std::optional<PatternMatch> match_layer_norm(Index& ix, int i, bool single_node, bool residual) {
  if (ix.is_op(i, "LayerNormalization")) {
    // A lone node is one kernel already; with its residual Add it is a fusion.
    if (!single_node && !residual) return std::nullopt;
    const Node& n = ix.node(i);
    NormFields f;
    f.x = ix.in(i, 0);
    f.gamma = ix.in(i, 1);
    f.beta = ix.in(i, 2);
    f.epsilon = n.attr_float("epsilon", 1e-5f);
    f.axis = n.attr_int("axis", -1);
    return finish_norm(ix, PatternKind::kLayerNorm, {i}, f, residual);
  }
  if (!ix.is_op(i, "ReduceMean")) return std::nullopt;
  NormFields f;
  f.x = ix.in(i, 0);
  const int sub = ix.consumer(ix.out(i), "Sub");
  if (sub == kNone || ix.in(sub, 0) != f.x || ix.in(sub, 1) != ix.out(i) || !ix.single_reduced_axis(i)) return std::nullopt;
  const int sq = square_of(ix, ix.out(sub));
  if (sq == kNone) return std::nullopt;
  std::vector<int> members = {i};
  const int eps = mean_plus_eps(ix, sq, members, &f);
  if (eps == kNone) return std::nullopt;
  const int sqrt = ix.consumer(ix.out(eps), "Sqrt");
  if (sqrt == kNone) return std::nullopt;
  const int div = ix.consumer(ix.out(sqrt), "Div");
  if (div == kNone || ix.in(div, 0) != ix.out(sub) || ix.in(div, 1) != ix.out(sqrt)) return std::nullopt;
  members.insert(members.end(), {sub, sqrt, div});
  append_affine(ix, members, div, &f, true);
  return finish_norm(ix, PatternKind::kLayerNorm, members, f, residual);
}

std::optional<PatternMatch> match_rms_norm(Index& ix, int sq, bool residual) {
  if (!ix.is_op(sq, "Pow") && !ix.is_op(sq, "Mul")) return std::nullopt;
  NormFields f;
  std::string x = ix.in(sq, 0);
  if (square_of(ix, x) != sq) return std::nullopt;
  std::vector<int> members;
  const int up = ix.producer(x, "Cast");
  const int add = mean_plus_eps(ix, sq, members, &f);
  if (add == kNone) return std::nullopt;
  const int sqrt = ix.consumer(ix.out(add), "Sqrt");
  if (sqrt == kNone) return std::nullopt;
  members.push_back(sqrt);
  int last = ix.consumer(ix.out(sqrt), "Div");
  if (last != kNone && ix.in(last, 0) == x && ix.in(last, 1) == ix.out(sqrt)) {
    members.push_back(last);
  } else {
    // 1/sqrt as Reciprocal (dynamo) or Div(1, sqrt) (TorchScript), then Mul(x, .).
    int rec = ix.consumer(ix.out(sqrt), "Reciprocal");
    if (rec == kNone) {
      rec = ix.consumer(ix.out(sqrt), "Div");
      if (rec == kNone || ix.in(rec, 1) != ix.out(sqrt) || !ix.scalar_is(ix.in(rec, 0), 1)) return std::nullopt;
    }
    last = ix.consumer(ix.out(rec), "Mul");
    if (last == kNone || ix.other_input(last, ix.out(rec)) != x) return std::nullopt;
    members.insert(members.end(), {rec, last});
  }
  // An upcast before and a downcast after (float16 models computing in float32). The
  // TorchScript exporter writes them in float32 models too and may reuse the no-op upcast
  // as the residual stream: then the match leaves the upcast out, or both casts.
  const int down = ix.is_op(ix.sole_consumer(ix.out(last)), "Cast") ? ix.sole_consumer(ix.out(last)) : kNone;
  for (const auto& [with_up, with_down] : {std::pair{true, true}, std::pair{false, true}, std::pair{false, false}}) {
    if ((with_up && up == kNone) || (with_down && down == kNone)) continue;
    NormFields g = f;
    std::vector<int> tried = members;
    int tail = last;
    g.x = x;
    if (with_up) {
      g.compute_dtype = static_cast<DType>(ix.node(up).attr_int("to", 0));
      g.x = ix.in(up, 0);
      tried.push_back(up);
    }
    if (with_down) {
      tried.push_back(down);
      tail = down;
    }
    append_affine(ix, tried, tail, &g, false);
    if (auto m = finish_norm(ix, PatternKind::kRmsNorm, tried, g, residual)) return m;
  }
  return std::nullopt;
}

// --- softmax, GELU ------------------------------------------------------------------------

/// A Softmax node with its scale and mask ([Div|Mul scale ->] [Add mask | Where ->]
/// Softmax) where no attention MatMuls surround it; a bare Softmax is no pattern.
std::optional<PatternMatch> match_softmax_node(Index& ix, int s) {
  SoftmaxFields f;
  const Node& n = ix.node(s);
  f.axis = n.attr_int("axis", -1);
  f.x = ix.in(s, 0);
  std::vector<int> members = {s};
  if (!scores_prologue(ix, &f.x, &f, members) || members.size() < 2) return std::nullopt;
  return finish(ix, PatternKind::kSoftmax, members, f);
}

std::optional<PatternMatch> match_softmax(Index& ix, int e) {
  if (ix.is_op(e, "Softmax")) return match_softmax_node(ix, e);
  if (!ix.is_op(e, "Exp")) return std::nullopt;
  const int sum = ix.consumer(ix.out(e), "ReduceSum");
  if (sum == kNone) return std::nullopt;
  const int div = ix.consumer(ix.out(e), "Div");
  if (div == kNone || ix.in(div, 0) != ix.out(e) || ix.in(div, 1) != ix.out(sum)) return std::nullopt;
  auto axis = ix.single_reduced_axis(sum);
  SoftmaxFields f;
  f.decomposed = true;
  f.x = ix.in(e, 0);
  f.axis = axis.value_or(-1);
  const int sub = ix.producer(ix.in(e, 0), "Sub");
  if (sub != kNone) {
    const int rmax = ix.producer(ix.in(sub, 1), "ReduceMax");
    if (rmax != kNone && ix.in(rmax, 0) == ix.in(sub, 0) && ix.single_reduced_axis(rmax) == axis) {
      SoftmaxFields with_max = f;
      with_max.x = ix.in(rmax, 0);
      with_max.subtracts_max = true;
      if (auto m = finish(ix, PatternKind::kSoftmax, {rmax, sub, e, sum, div}, with_max)) return m;
    }
  }
  // The max-subtraction may be shared with another consumer.
  return finish(ix, PatternKind::kSoftmax, {e, sum, div}, f);
}

/// The tail of both GELU forms after `inner` (Erf or Tanh): Add(1) and the products by x
/// and 0.5 in any order (Mul(x, .) -> Mul(0.5), Mul(0.5, .) -> Mul(x, .), or
/// Mul(Mul(x, 0.5), .)). Appends the members; false if the tail is not there.
bool gelu_tail(const Index& ix, int inner, const std::string& x, std::vector<int>& members) {
  const int add = ix.sole_consumer(ix.out(inner));
  if (!ix.is_op(add, "Add") || !ix.scalar_is(ix.other_input(add, ix.out(inner)), 1)) return false;
  const int mul = ix.sole_consumer(ix.out(add));
  if (!ix.is_op(mul, "Mul")) return false;
  members.insert(members.end(), {inner, add, mul});
  const std::string& other = ix.other_input(mul, ix.out(add));
  if (other == x || ix.scalar_is(other, 0.5)) {
    const int second = ix.sole_consumer(ix.out(mul));
    if (!ix.is_op(second, "Mul")) return false;
    const std::string& factor = ix.other_input(second, ix.out(mul));
    if (other == x ? !ix.scalar_is(factor, 0.5) : factor != x) return false;
    members.push_back(second);
    return true;
  }
  const int half = ix.producer(other, "Mul");
  if (half == kNone || ix.other_input(half, x) == x || !ix.scalar_is(ix.other_input(half, x), 0.5)) return false;
  members.push_back(half);
  return true;
}

/// Whether node `m` is Mul(a, b) with {a, b} == {x, y} in either order.
bool is_product(const Index& ix, int m, const std::string& x, const std::string& y) {
  return ix.is_op(m, "Mul") && ((ix.in(m, 0) == x && ix.in(m, 1) == y) || (ix.in(m, 0) == y && ix.in(m, 1) == x));
}

/// The operand of Mul node `m` that is not the scalar constant `c` ("" if neither is c).
std::string scaled_by(const Index& ix, int m, double c) {
  if (!ix.is_op(m, "Mul")) return {};
  if (ix.scalar_is(ix.in(m, 1), c, 1e-4)) return ix.in(m, 0);
  if (ix.scalar_is(ix.in(m, 0), c, 1e-4)) return ix.in(m, 1);
  return {};
}

std::optional<PatternMatch> match_gelu(Index& ix, int i) {
  std::vector<int> members;
  GeluFields f;
  if (ix.is_op(i, "Erf")) {
    // Div(x, sqrt 2) or Mul(x, 1/sqrt 2).
    const int div = ix.producer(ix.in(i, 0), "Div");
    if (div != kNone && ix.scalar_is(ix.in(div, 1), std::sqrt(2.0), 1e-4)) {
      f.x = ix.in(div, 0);
      members.push_back(div);
    } else {
      const int mul = ix.producer(ix.in(i, 0), "Mul");
      f.x = scaled_by(ix, mul, std::sqrt(0.5));
      if (f.x.empty()) return std::nullopt;
      members.push_back(mul);
    }
  } else if (ix.is_op(i, "Tanh")) {
    // Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)); x^3 as Pow(x, 3) or Mul(x, Mul(x, x)).
    f.tanh = true;
    const int scale = ix.producer(ix.in(i, 0), "Mul");
    const std::string sum = scale == kNone ? std::string() : scaled_by(ix, scale, kSqrt2OverPi);
    const int inner = ix.producer(sum, "Add");
    if (inner == kNone) return std::nullopt;
    for (size_t side = 0; side < 2 && f.x.empty(); ++side) {
      const std::string& x = ix.in(inner, side);
      const int cubic = ix.producer(ix.in(inner, 1 - side), "Mul");
      const std::string cube = scaled_by(ix, cubic, 0.044715);
      if (cube.empty()) continue;
      const int pow = ix.producer(cube, "Pow");
      if (pow != kNone && ix.in(pow, 0) == x && ix.scalar_is(ix.in(pow, 1), 3)) {
        members = {pow, cubic, inner, scale};
        f.x = x;
        continue;
      }
      const int outer = ix.producer(cube, "Mul");
      if (outer == kNone) continue;
      const int square = ix.producer(ix.other_input(outer, x), "Mul");
      if (is_product(ix, outer, x, ix.other_input(outer, x)) && is_product(ix, square, x, x)) {
        members = {square, outer, cubic, inner, scale};
        f.x = x;
      }
    }
    if (f.x.empty()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!gelu_tail(ix, i, f.x, members)) return std::nullopt;
  return finish(ix, PatternKind::kGelu, members, f);
}

// --- rotary, gated MLP --------------------------------------------------------------------

/// Whether `second` (what Neg reads) and `first` (Concat's other input) are the two
/// halves of one x: the outputs of one Split (dynamo), or two Slices of x where the first
/// ends where the second starts (TorchScript; the bounds may be computed at run time).
/// Sets x and `split` and appends the slicing nodes.
bool halves_of(const Index& ix, const std::string& second, const std::string& first, std::vector<int>& members,
               std::string* x, bool* split) {
  const int p = ix.producer_any(second);
  if (p == kNone || ix.taken(p)) return false;
  if (ix.is_op(p, "Split") && ix.node(p).outputs.size() == 2 && ix.out(p, 1) == second && ix.out(p, 0) == first) {
    *x = ix.in(p, 0);
    *split = true;
    members.push_back(p);
    return true;
  }
  const int head = ix.producer(first, "Slice");
  if (!ix.is_op(p, "Slice") || head == kNone || head == p || ix.in(head, 0) != ix.in(p, 0) ||
      ix.in(head, 2) != ix.in(p, 1) || ix.in(head, 3) != ix.in(p, 3))
    return false;
  *x = ix.in(p, 0);
  members.insert(members.end(), {head, p});
  return true;
}

std::optional<PatternMatch> match_rotary(Index& ix, int neg) {
  if (!ix.is_op(neg, "Neg")) return std::nullopt;
  const int cat = ix.sole_consumer(ix.out(neg));
  if (!ix.is_op(cat, "Concat") || ix.node(cat).inputs.size() != 2 || ix.in(cat, 0) != ix.out(neg)) return std::nullopt;
  RotaryFields f;
  std::vector<int> members = {neg, cat};
  if (!halves_of(ix, ix.in(neg, 0), ix.in(cat, 1), members, &f.x, &f.split)) return std::nullopt;
  const int mul_sin = ix.sole_consumer(ix.out(cat));
  if (!ix.is_op(mul_sin, "Mul")) return std::nullopt;
  f.sin = ix.other_input(mul_sin, ix.out(cat));
  const int add = ix.sole_consumer(ix.out(mul_sin));
  if (!ix.is_op(add, "Add")) return std::nullopt;
  const int mul_cos = ix.producer(ix.other_input(add, ix.out(mul_sin)), "Mul");
  if (mul_cos == kNone || (ix.in(mul_cos, 0) != f.x && ix.in(mul_cos, 1) != f.x)) return std::nullopt;
  f.cos = ix.other_input(mul_cos, f.x);
  members.insert(members.end(), {mul_sin, mul_cos, add});
  return finish(ix, PatternKind::kRotary, members, f);
}

std::optional<PatternMatch> match_gated_mlp(Index& ix, int i) {
  GatedMlpFields f;
  std::vector<int> members = {i};
  std::string act;
  if (ix.is_op(i, "Sigmoid")) {
    // silu(g) = g * Sigmoid(g)
    f.gate = ix.in(i, 0);
    const int silu = ix.sole_consumer(ix.out(i));
    if (!is_product(ix, silu, f.gate, ix.out(i))) return std::nullopt;
    members.push_back(silu);
    act = ix.out(silu);
    f.activation = "silu";
  } else if (i != kNone && !ix.taken(i) && ix.node(i).op_type == "Gelu" &&
             (default_domain(ix.node(i)) || ix.node(i).domain == "com.autokernel")) {
    f.gate = ix.in(i, 0);
    act = ix.out(i);
    f.activation = "gelu";
  } else {
    return std::nullopt;
  }
  const int mul = ix.sole_consumer(act);
  if (!ix.is_op(mul, "Mul")) return std::nullopt;
  f.up = ix.other_input(mul, act);
  if (f.up == act || f.up == f.gate) return std::nullopt;
  members.push_back(mul);
  return finish(ix, PatternKind::kGatedMlp, members, f);
}

// --- epilogues, elementwise chains --------------------------------------------------------

const kernels::OpTraits* traits_of(const Node& n) {
  return kernels::find_op_traits(n.op_type, n.domain);
}

std::optional<PatternMatch> match_epilogue(Index& ix, int i, PatternKind kind) {
  const bool gemm = ix.is_op(i, "MatMul") || ix.is_op(i, "Gemm");
  const bool conv = ix.is_op(i, "Conv") || ix.is_op(i, "ConvTranspose");
  if (kind == PatternKind::kGemmEpilogue ? !gemm : !conv) return std::nullopt;
  EpilogueFields f;
  f.producer = static_cast<size_t>(i);
  std::vector<int> members = {i};
  int last = i;
  int next = ix.sole_consumer(ix.out(last));
  if (ix.is_op(next, "Add")) {
    f.bias = ix.other_input(next, ix.out(last));
    members.push_back(next);
    last = next;
    next = ix.sole_consumer(ix.out(last));
  }
  if (next != kNone && !ix.taken(next)) {
    const kernels::OpTraits* t = traits_of(ix.node(next));
    if (t != nullptr && t->activation) {
      f.activation = ix.node(next).op_type;
      members.push_back(next);
    }
  }
  if (members.size() < 2) return std::nullopt;
  return finish(ix, kind, members, f);
}

std::optional<PatternMatch> match_elementwise_chain(Index& ix, int i) {
  auto elementwise = [&ix](int n) {
    if (n == kNone || ix.taken(n)) return false;
    const kernels::OpTraits* t = traits_of(ix.node(n));
    return t != nullptr && t->elementwise();
  };
  if (!elementwise(i)) return std::nullopt;
  std::vector<int> members = {i};
  int last = i;
  while (ix.node(last).outputs.size() == 1) {
    const int next = ix.sole_consumer(ix.out(last));
    if (!elementwise(next)) break;
    members.push_back(next);
    last = next;
  }
  if (members.size() < 2) return std::nullopt;
  return finish(ix, PatternKind::kElementwiseChain, members);
}

std::optional<PatternMatch> match_at(Index& ix, PatternKind kind, int i, const PatternOptions& options) {
  switch (kind) {
    case PatternKind::kAttention: return match_attention(ix, i);
    case PatternKind::kLayerNorm: return match_layer_norm(ix, i, options.single_node_layer_norm, false);
    case PatternKind::kRmsNorm: return match_rms_norm(ix, i, false);
    case PatternKind::kResidualLayerNorm: return match_layer_norm(ix, i, options.single_node_layer_norm, true);
    case PatternKind::kResidualRmsNorm: return match_rms_norm(ix, i, true);
    case PatternKind::kSoftmax: return match_softmax(ix, i);
    case PatternKind::kGelu: return match_gelu(ix, i);
    case PatternKind::kRotary: return match_rotary(ix, i);
    case PatternKind::kGatedMlp: return match_gated_mlp(ix, i);
    case PatternKind::kGemmEpilogue:
    case PatternKind::kConvEpilogue: return match_epilogue(ix, i, kind);
    case PatternKind::kElementwiseChain: return match_elementwise_chain(ix, i);
  }
  return std::nullopt;
}

/// What an empty PatternOptions::kinds tries: every kind but the residual norms.
constexpr PatternKind kDefaultKinds[] = {
    PatternKind::kAttention, PatternKind::kLayerNorm,    PatternKind::kRmsNorm,      PatternKind::kSoftmax,
    PatternKind::kGelu,      PatternKind::kRotary,       PatternKind::kGatedMlp,     PatternKind::kGemmEpilogue,
    PatternKind::kConvEpilogue, PatternKind::kElementwiseChain,
};
constexpr PatternKind kResidualKinds[] = {PatternKind::kResidualLayerNorm, PatternKind::kResidualRmsNorm};

}  // namespace

const char* pattern_kind_name(PatternKind kind) {
  switch (kind) {
    case PatternKind::kAttention: return "attention";
    case PatternKind::kLayerNorm: return "layer_norm";
    case PatternKind::kRmsNorm: return "rms_norm";
    case PatternKind::kSoftmax: return "softmax";
    case PatternKind::kGelu: return "gelu";
    case PatternKind::kRotary: return "rotary";
    case PatternKind::kGatedMlp: return "gated_mlp";
    case PatternKind::kGemmEpilogue: return "gemm_epilogue";
    case PatternKind::kConvEpilogue: return "conv_epilogue";
    case PatternKind::kElementwiseChain: return "elementwise_chain";
    case PatternKind::kResidualLayerNorm: return "residual_layer_norm";
    case PatternKind::kResidualRmsNorm: return "residual_rms_norm";
  }
  return "elementwise_chain";
}

std::optional<PatternKind> parse_pattern_kind(std::string_view name) {
  for (const auto& kinds : {std::span<const PatternKind>(kDefaultKinds), std::span<const PatternKind>(kResidualKinds)})
    for (PatternKind k : kinds)
      if (name == pattern_kind_name(k)) return k;
  return std::nullopt;
}

const char* mask_kind_name(MaskKind kind) {
  switch (kind) {
    case MaskKind::kNone: return "none";
    case MaskKind::kCausal: return "causal";
    case MaskKind::kAdditive: return "additive";
    case MaskKind::kBoolean: return "boolean";
  }
  return "none";
}

const std::string& PatternMatch::output() const {
  static const std::string kEmpty;
  return outputs.empty() ? kEmpty : outputs[0];
}

std::vector<PatternMatch> find_patterns(const Graph& graph, const PatternOptions& options) {
  Index ix(graph);
  std::vector<PatternKind> kinds = options.kinds;
  if (kinds.empty()) kinds.assign(std::begin(kDefaultKinds), std::end(kDefaultKinds));
  std::vector<PatternMatch> out;
  for (PatternKind kind : kinds)
    for (int i = 0; i < ix.size(); ++i)
      if (auto m = match_at(ix, kind, i, options)) out.push_back(std::move(*m));
  std::sort(out.begin(), out.end(), [](const PatternMatch& a, const PatternMatch& b) { return a.nodes.front() < b.nodes.front(); });
  return out;
}

std::optional<PatternMatch> match_exactly(const Graph& graph, PatternKind kind, const std::vector<size_t>& nodes) {
  PatternOptions options;
  options.kinds = {kind};
  for (PatternMatch& m : find_patterns(graph, options))
    if (m.nodes == nodes) return std::move(m);
  return std::nullopt;
}

}  // namespace ak::models
