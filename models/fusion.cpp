#include "models/fusion.h"

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

namespace ak::models {

namespace {

class Matcher {
 public:
  explicit Matcher(const Graph& g) : g_(g) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& o : g.nodes[i].outputs) producer_[o] = i;
      for (const auto& in : g.nodes[i].inputs) ++consumers_[in];
    }
    for (const auto& o : g.outputs) ++consumers_[o.name], graph_outputs_.insert(o.name);
    for (const auto& t : g.initializers) constants_[t.name] = &t;
    for (const auto& n : g.nodes)
      if (n.op_type == "Constant" && n.domain.empty() && !n.outputs.empty())
        if (const Attribute* a = n.find_attribute("value")) constants_[n.outputs[0]] = &a->t;
  }

  /// The node producing `value` if it is of `op` and not yet taken, else null.
  const Node* producer(const std::string& value, const char* op) const {
    auto it = producer_.find(value);
    if (it == producer_.end() || taken_.count(it->second)) return nullptr;
    const Node& n = g_.nodes[it->second];
    return n.op_type == op && n.domain.empty() ? &n : nullptr;
  }
  /// Whether `value` feeds exactly one node and is not a graph output.
  bool private_value(const std::string& value) const {
    auto it = consumers_.find(value);
    return it != consumers_.end() && it->second == 1 && !graph_outputs_.count(value);
  }
  /// The only consumer of `value`, if it is of `op`.
  const Node* sole_consumer(const std::string& value, const char* op) const {
    if (!private_value(value)) return nullptr;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (taken_.count(i) || n.op_type != op || !n.domain.empty()) continue;
      for (const auto& in : n.inputs)
        if (in == value) return &n;
    }
    return nullptr;
  }
  /// The value of a one-element float constant, if `value` is one.
  bool scalar(const std::string& value, double* out) const {
    auto it = constants_.find(value);
    if (it == constants_.end()) return false;
    const TensorData& t = *it->second;
    if (t.numel() != 1 || t.bytes.data == nullptr) return false;
    if (t.dtype == DType::kFloat32) {
      float f;
      std::memcpy(&f, t.bytes.data, 4);
      *out = f;
    } else if (t.dtype == DType::kFloat64) {
      std::memcpy(out, t.bytes.data, 8);
    } else if (t.dtype == DType::kFloat16) {
      uint16_t h;
      std::memcpy(&h, t.bytes.data, 2);
      *out = half_to_float(h);
    } else {
      return false;
    }
    return true;
  }
  void take(const Node* n) { taken_.insert(static_cast<size_t>(n - g_.nodes.data())); }
  bool taken(size_t i) const { return taken_.count(i) > 0; }

 private:
  const Graph& g_;
  std::map<std::string, size_t> producer_;
  std::map<std::string, int> consumers_;
  std::set<std::string> graph_outputs_;
  std::map<std::string, const TensorData*> constants_;
  std::set<size_t> taken_;
};

Attribute float_attr(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}

Attribute int_attr(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}

Attribute names_attr(const std::vector<const Node*>& nodes) {
  Attribute a;
  a.name = "fused_nodes";
  a.type = Attribute::Type::kStrings;
  for (const Node* n : nodes) a.strings.push_back(n->name);
  return a;
}

/// Tries to fuse the attention pattern ending in Softmax `s`; returns the fused node.
std::optional<Node> match_attention(Matcher& m, const Node& s) {
  // axis -1 means the last axis under both the opset-1 and opset-13 definitions.
  const Attribute* axis = s.find_attribute("axis");
  if (axis == nullptr || axis->i != -1) return std::nullopt;
  if (s.inputs.size() != 1) return std::nullopt;
  const Node* m2 = m.sole_consumer(s.outputs[0], "MatMul");
  if (m2 == nullptr || m2->inputs[0] != s.outputs[0] || m2->inputs[1] == s.outputs[0]) return std::nullopt;
  std::vector<const Node*> chain{&s, m2};
  std::string scores = s.inputs[0];
  int64_t mask_kind = 0;  // 0 none, 1 additive mask, 2 boolean "masked where true"
  std::string mask;
  if (!m.private_value(scores)) return std::nullopt;
  double fill = 0;
  if (const Node* w = m.producer(scores, "Where")) {
    // Where(cond, fill, scores) with a hugely negative fill (-inf or the float minimum
    // that exporters use) is an additive mask of `fill` where cond holds.
    if (!m.scalar(w->inputs[1], &fill) || fill > -1e30 || !m.private_value(w->inputs[2])) return std::nullopt;
    mask_kind = 2;
    mask = w->inputs[0];
    scores = w->inputs[2];
    chain.push_back(w);
  } else if (const Node* add = m.producer(scores, "Add")) {
    // The side computed from the MatMul is private; the other is the mask.
    for (int side = 0; side < 2; ++side) {
      const std::string& x = add->inputs[side];
      if (m.private_value(x) && (m.producer(x, "MatMul") || m.producer(x, "Div") || m.producer(x, "Mul"))) {
        mask_kind = 1;
        mask = add->inputs[1 - side];
        scores = x;
        chain.push_back(add);
        break;
      }
    }
    if (mask_kind == 0) return std::nullopt;
  }
  double scale = 1.0;
  const Node* scale_node = m.producer(scores, "Div");
  if (scale_node == nullptr) scale_node = m.producer(scores, "Mul");
  if (scale_node != nullptr) {
    double c;
    if (!m.scalar(scale_node->inputs[1], &c) || c == 0 || !m.private_value(scale_node->inputs[0])) return std::nullopt;
    scale = scale_node->op_type == "Div" ? 1.0 / c : c;
    scores = scale_node->inputs[0];
    chain.push_back(scale_node);
  }
  const Node* m1 = m.producer(scores, "MatMul");
  if (m1 == nullptr) return std::nullopt;
  chain.push_back(m1);

  Node fused;
  fused.name = s.name + "/attention";
  fused.op_type = "Attention";
  fused.domain = "com.autokernel";
  fused.inputs = {m1->inputs[0], m1->inputs[1], m2->inputs[1]};
  if (mask_kind != 0) fused.inputs.push_back(mask);
  fused.outputs = {m2->outputs[0]};
  fused.attributes = {float_attr("scale", static_cast<float>(scale)), int_attr("mask_kind", mask_kind),
                      float_attr("mask_fill", static_cast<float>(fill)), names_attr(chain)};
  for (const Node* n : chain) m.take(n);
  return fused;
}

std::optional<Node> match_gelu(Matcher& m, const Node& erf) {
  const Node* div = m.producer(erf.inputs[0], "Div");
  double c;
  if (div == nullptr || !m.private_value(erf.inputs[0]) || !m.scalar(div->inputs[1], &c) || std::abs(c - std::sqrt(2.0)) > 1e-4)
    return std::nullopt;
  const std::string& x = div->inputs[0];
  const Node* add = m.sole_consumer(erf.outputs[0], "Add");
  double one;
  if (add == nullptr || add->inputs[0] != erf.outputs[0] || !m.scalar(add->inputs[1], &one) || one != 1.0) return std::nullopt;
  const Node* mul = m.sole_consumer(add->outputs[0], "Mul");
  if (mul == nullptr) return std::nullopt;
  const std::string& other = mul->inputs[0] == add->outputs[0] ? mul->inputs[1] : mul->inputs[0];
  if (other != x) return std::nullopt;
  const Node* half = m.sole_consumer(mul->outputs[0], "Mul");
  double h;
  if (half == nullptr || half->inputs[0] != mul->outputs[0] || !m.scalar(half->inputs[1], &h) || h != 0.5) return std::nullopt;
  Node fused;
  fused.name = erf.name + "/gelu";
  fused.op_type = "Gelu";
  fused.domain = "com.autokernel";
  fused.inputs = {x};
  fused.outputs = {half->outputs[0]};
  std::vector<const Node*> chain{div, &erf, add, mul, half};
  fused.attributes = {names_attr(chain)};
  for (const Node* n : chain) m.take(n);
  return fused;
}

}  // namespace

Graph fuse_graph(const Graph& graph, FusionReport* report) {
  Matcher m(graph);
  // fused node -> the index of the last original node it replaces (where it is placed)
  std::map<size_t, Node> placed;
  FusionReport r;
  auto last_index = [&](const Node& fused) {
    size_t last = 0;
    for (const auto& name : fused.find_attribute("fused_nodes")->strings)
      for (size_t i = 0; i < graph.nodes.size(); ++i)
        if (graph.nodes[i].name == name) last = std::max(last, i);
    return last;
  };
  for (const auto& n : graph.nodes) {
    if (!n.domain.empty()) continue;
    if (n.op_type == "Softmax") {
      if (auto f = match_attention(m, n)) {
        placed.emplace(last_index(*f), std::move(*f));
        ++r.attention;
      }
    } else if (n.op_type == "Erf") {
      if (auto f = match_gelu(m, n)) {
        placed.emplace(last_index(*f), std::move(*f));
        ++r.gelu;
      }
    }
  }
  if (report) *report = r;
  if (placed.empty()) return graph;
  Graph out = graph;
  out.nodes.clear();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!m.taken(i)) out.nodes.push_back(graph.nodes[i]);
    auto it = placed.find(i);
    if (it != placed.end()) out.nodes.push_back(it->second);
  }
  return out;
}

}  // namespace ak::models
