#include "profiler/fusion_groups.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <set>

namespace ak::profiler {

namespace {

constexpr int kNone = -1;

/// Producer/consumer index over the top-level nodes, plus which nodes are already grouped.
class GroupFinder {
 public:
  explicit GroupFinder(const models::Graph& g) : g_(g), taken_(g.nodes.size(), false) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& o : g.nodes[i].outputs)
        if (!o.empty()) producer_[o] = static_cast<int>(i);
      for (const auto& in : g.nodes[i].inputs)
        if (!in.empty()) consumers_[in].push_back(i);
    }
    for (const auto& o : g.outputs) graph_outputs_.insert(o.name);
  }

  const models::Node& node(int i) const { return g_.nodes[static_cast<size_t>(i)]; }
  size_t size() const { return g_.nodes.size(); }
  bool taken(int i) const { return taken_[static_cast<size_t>(i)]; }

  bool is_op(int i, const char* op) const {
    if (i == kNone || taken(i)) return false;
    const models::Node& n = node(i);
    return n.op_type == op && (n.domain.empty() || n.domain == "ai.onnx");
  }
  bool is_any(int i, std::initializer_list<const char*> ops) const {
    for (const char* op : ops)
      if (is_op(i, op)) return true;
    return false;
  }
  const std::string& out(int i) const {
    static const std::string kEmpty;
    const auto& outs = node(i).outputs;
    return outs.empty() ? kEmpty : outs[0];
  }
  const std::string& in(int i, size_t k) const {
    static const std::string kEmpty;
    const auto& ins = node(i).inputs;
    return k < ins.size() ? ins[k] : kEmpty;
  }

  /// The untaken node of `op` producing `value`, or kNone.
  int producer(const std::string& value, const char* op) const {
    auto it = producer_.find(value);
    return it != producer_.end() && is_op(it->second, op) ? it->second : kNone;
  }
  /// The first untaken consumer of `value` of `op`, or kNone.
  int consumer(const std::string& value, const char* op) const {
    auto it = consumers_.find(value);
    if (it == consumers_.end()) return kNone;
    for (size_t c : it->second)
      if (is_op(static_cast<int>(c), op)) return static_cast<int>(c);
    return kNone;
  }
  /// Whether `value` feeds exactly one node and is not a graph output.
  bool private_value(const std::string& value) const {
    auto it = consumers_.find(value);
    return it != consumers_.end() && it->second.size() == 1 && !graph_outputs_.count(value);
  }
  /// The sole consumer of `value` when it is private, else kNone.
  int sole_consumer(const std::string& value) const {
    if (!private_value(value)) return kNone;
    return static_cast<int>(consumers_.at(value)[0]);
  }
  /// The input of binary node `i` that is not `value` (its other operand).
  const std::string& other_input(int i, const std::string& value) const { return in(i, 0) == value ? in(i, 1) : in(i, 0); }

  /// Records `members` as a group of `kind` if they are all untaken and only the last
  /// member's output leaves the group; returns whether it did.
  bool add(FusionKind kind, std::vector<int> members) {
    for (int m : members)
      if (m == kNone || taken(m)) return false;
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    const std::set<int> in_group(members.begin(), members.end());
    const int last = members.back();
    FusionGroup group;
    group.kind = kind;
    std::set<std::string> produced;
    for (int m : members)
      for (const auto& o : node(m).outputs)
        if (!o.empty()) produced.insert(o);
    for (int m : members) {
      for (const auto& o : node(m).outputs) {
        if (o.empty()) continue;
        bool escapes = graph_outputs_.count(o) > 0;
        auto it = consumers_.find(o);
        if (it != consumers_.end())
          for (size_t c : it->second) escapes = escapes || !in_group.count(static_cast<int>(c));
        if (!escapes) continue;
        if (m != last) return false;
        group.outputs.push_back(o);
      }
      for (const auto& i : node(m).inputs)
        if (!i.empty() && !produced.count(i) &&
            std::find(group.inputs.begin(), group.inputs.end(), i) == group.inputs.end())
          group.inputs.push_back(i);
    }
    if (group.outputs.empty()) return false;
    for (int m : members) {
      taken_[static_cast<size_t>(m)] = true;
      group.nodes.push_back(static_cast<size_t>(m));
    }
    group.name = std::string(fusion_kind_name(kind)) + ":" + node(members.front()).name + ".." + node(last).name;
    groups_.push_back(std::move(group));
    return true;
  }

  std::vector<FusionGroup> take_groups() {
    std::sort(groups_.begin(), groups_.end(),
              [](const FusionGroup& a, const FusionGroup& b) { return a.nodes.front() < b.nodes.front(); });
    return std::move(groups_);
  }

 private:
  const models::Graph& g_;
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<size_t>> consumers_;
  std::set<std::string> graph_outputs_;
  std::vector<bool> taken_;
  std::vector<FusionGroup> groups_;
};

bool is_activation(const models::Node& n) {
  if (n.domain == "com.autokernel") return n.op_type == "Gelu";
  static const std::set<std::string> kActivations = {"Relu", "Gelu", "Sigmoid", "Tanh", "Clip", "LeakyRelu",
                                                      "HardSwish", "HardSigmoid", "Elu", "Selu", "Softplus", "Mish"};
  return (n.domain.empty() || n.domain == "ai.onnx") && kActivations.count(n.op_type) > 0;
}

void match_attention(GroupFinder& f, int s) {
  if (!f.is_op(s, "Softmax")) return;
  const int m2 = f.consumer(f.out(s), "MatMul");
  if (m2 == kNone || f.in(m2, 0) != f.out(s)) return;
  std::vector<int> members = {s, m2};
  std::string x = f.in(s, 0);
  int p = f.producer(x, "Add");
  if (p != kNone) {
    members.push_back(p);
    const bool first_is_scores = f.producer(f.in(p, 0), "MatMul") != kNone || f.producer(f.in(p, 0), "Div") != kNone ||
                                 f.producer(f.in(p, 0), "Mul") != kNone;
    x = first_is_scores ? f.in(p, 0) : f.in(p, 1);
  } else if ((p = f.producer(x, "Where")) != kNone) {
    members.push_back(p);
    x = f.in(p, 2);
  }
  p = f.producer(x, "Div");
  if (p == kNone) p = f.producer(x, "Mul");
  if (p != kNone) {
    members.push_back(p);
    x = f.producer(f.in(p, 0), "MatMul") != kNone ? f.in(p, 0) : f.in(p, 1);
  }
  const int m1 = f.producer(x, "MatMul");
  if (m1 == kNone) return;
  members.push_back(m1);
  (void)f.add(FusionKind::kAttention, members);
}

/// Extends `members` (ending in `last`) by an optional Mul and then an optional Add
/// (scale and shift), while the value they absorb is private.
int append_affine(GroupFinder& f, std::vector<int>& members, int last, bool with_shift) {
  int mul = f.sole_consumer(f.out(last));
  if (!f.is_op(mul, "Mul")) return last;
  members.push_back(mul);
  last = mul;
  if (!with_shift) return last;
  int add = f.sole_consumer(f.out(last));
  if (!f.is_op(add, "Add")) return last;
  members.push_back(add);
  return add;
}

int square_of(const GroupFinder& f, const std::string& value) {
  int p = f.consumer(value, "Pow");
  if (p != kNone && f.in(p, 0) == value) return p;
  p = f.consumer(value, "Mul");
  if (p != kNone && f.in(p, 0) == value && f.in(p, 1) == value) return p;
  return kNone;
}

void match_layer_norm(GroupFinder& f, int r1) {
  if (!f.is_op(r1, "ReduceMean")) return;
  const std::string& x = f.in(r1, 0);
  const int sub = f.consumer(f.out(r1), "Sub");
  if (sub == kNone || f.in(sub, 0) != x || f.in(sub, 1) != f.out(r1)) return;
  const int sq = square_of(f, f.out(sub));
  if (sq == kNone) return;
  const int r2 = f.consumer(f.out(sq), "ReduceMean");
  if (r2 == kNone) return;
  const int eps = f.consumer(f.out(r2), "Add");
  if (eps == kNone) return;
  const int sqrt = f.consumer(f.out(eps), "Sqrt");
  if (sqrt == kNone) return;
  const int div = f.consumer(f.out(sqrt), "Div");
  if (div == kNone || f.in(div, 0) != f.out(sub) || f.in(div, 1) != f.out(sqrt)) return;
  std::vector<int> members = {r1, sub, sq, r2, eps, sqrt, div};
  append_affine(f, members, div, true);
  (void)f.add(FusionKind::kLayerNorm, members);
}

void match_rms_norm(GroupFinder& f, int sq) {
  if (!f.is_op(sq, "Pow") && !(f.is_op(sq, "Mul") && f.in(sq, 0) == f.in(sq, 1))) return;
  const std::string& x = f.in(sq, 0);
  const int r = f.consumer(f.out(sq), "ReduceMean");
  if (r == kNone) return;
  const int eps = f.consumer(f.out(r), "Add");
  if (eps == kNone) return;
  const int sqrt = f.consumer(f.out(eps), "Sqrt");
  if (sqrt == kNone) return;
  std::vector<int> members = {sq, r, eps, sqrt};
  int last = f.consumer(f.out(sqrt), "Div");
  if (last != kNone && f.in(last, 0) == x) {
    members.push_back(last);
  } else {
    const int rec = f.consumer(f.out(sqrt), "Reciprocal");
    if (rec == kNone) return;
    last = f.consumer(f.out(rec), "Mul");
    if (last == kNone || f.other_input(last, f.out(rec)) != x) return;
    members.push_back(rec);
    members.push_back(last);
  }
  append_affine(f, members, last, false);
  (void)f.add(FusionKind::kRmsNorm, members);
}

void match_softmax(GroupFinder& f, int e) {
  if (!f.is_op(e, "Exp")) return;
  std::vector<int> members = {e};
  const int sub = f.producer(f.in(e, 0), "Sub");
  if (sub != kNone) {
    const int rmax = f.producer(f.in(sub, 1), "ReduceMax");
    if (rmax != kNone && f.in(rmax, 0) == f.in(sub, 0)) members.insert(members.end(), {rmax, sub});
  }
  const int sum = f.consumer(f.out(e), "ReduceSum");
  if (sum == kNone) return;
  const int div = f.consumer(f.out(e), "Div");
  if (div == kNone || f.in(div, 0) != f.out(e) || f.in(div, 1) != f.out(sum)) return;
  members.insert(members.end(), {sum, div});
  if (!f.add(FusionKind::kSoftmax, members) && members.size() > 3)
    (void)f.add(FusionKind::kSoftmax, {e, sum, div});  // the max-subtraction may be shared
}

/// The tail shared by both GELU forms: `inner` (erf or tanh) -> Add(1) -> Mul [-> Mul].
/// A Mul(x, 0.5) feeding the Mul joins too.
bool gelu_tail(GroupFinder& f, int inner, const std::string& x, std::vector<int>& members) {
  const int add = f.consumer(f.out(inner), "Add");
  if (add == kNone) return false;
  const int mul = f.consumer(f.out(add), "Mul");
  if (mul == kNone) return false;
  members.insert(members.end(), {inner, add, mul});
  const std::string& other = f.other_input(mul, f.out(add));
  if (other != x) {
    const int half = f.producer(other, "Mul");
    if (half == kNone || (f.in(half, 0) != x && f.in(half, 1) != x)) return false;
    members.push_back(half);
  } else {
    const int half = f.sole_consumer(f.out(mul));
    if (f.is_op(half, "Mul")) members.push_back(half);
  }
  return true;
}

void match_gelu(GroupFinder& f, int i) {
  std::vector<int> members;
  if (f.is_op(i, "Erf")) {
    int pre = f.producer(f.in(i, 0), "Div");
    if (pre == kNone) pre = f.producer(f.in(i, 0), "Mul");
    if (pre == kNone) return;
    members.push_back(pre);
    if (gelu_tail(f, i, f.in(pre, 0), members)) (void)f.add(FusionKind::kGelu, members);
  } else if (f.is_op(i, "Tanh")) {
    // Tanh(c * (x + 0.044715 * x^3))
    const int scale = f.producer(f.in(i, 0), "Mul");
    if (scale == kNone) return;
    int inner = f.producer(f.in(scale, 0), "Add");
    if (inner == kNone) inner = f.producer(f.in(scale, 1), "Add");
    if (inner == kNone) return;
    for (int side = 0; side < 2; ++side) {
      const std::string& x = f.in(inner, static_cast<size_t>(side));
      const int cubic = f.producer(f.in(inner, static_cast<size_t>(1 - side)), "Mul");
      if (cubic == kNone) continue;
      int pow = f.producer(f.in(cubic, 0), "Pow");
      if (pow == kNone) pow = f.producer(f.in(cubic, 1), "Pow");
      if (pow == kNone || f.in(pow, 0) != x) continue;
      members = {pow, cubic, inner, scale};
      if (gelu_tail(f, i, x, members)) (void)f.add(FusionKind::kGelu, members);
      return;
    }
  }
}

void match_epilogue(GroupFinder& f, int i) {
  FusionKind kind;
  if (f.is_op(i, "MatMul") || f.is_op(i, "Gemm")) kind = FusionKind::kGemmEpilogue;
  else if (f.is_op(i, "Conv") || f.is_op(i, "ConvTranspose")) kind = FusionKind::kConvEpilogue;
  else return;
  std::vector<int> members = {i};
  int last = i;
  int next = f.sole_consumer(f.out(last));
  if (f.is_op(next, "Add")) {
    members.push_back(next);
    last = next;
    next = f.sole_consumer(f.out(last));
  }
  if (next != kNone && !f.taken(next) && is_activation(f.node(next))) members.push_back(next);
  if (members.size() > 1) (void)f.add(kind, members);
}

void match_elementwise_chain(GroupFinder& f, int i) {
  auto elementwise = [&f](int n) {
    return n != kNone && !f.taken(n) && std::strcmp(op_class_of(f.node(n)), "elementwise") == 0;
  };
  if (!elementwise(i)) return;
  std::vector<int> members = {i};
  int last = i;
  while (f.node(last).outputs.size() == 1) {
    const int next = f.sole_consumer(f.out(last));
    if (!elementwise(next)) break;
    members.push_back(next);
    last = next;
  }
  if (members.size() > 1) (void)f.add(FusionKind::kElementwiseChain, members);
}

}  // namespace

const char* fusion_kind_name(FusionKind kind) {
  switch (kind) {
    case FusionKind::kAttention: return "attention";
    case FusionKind::kLayerNorm: return "layer_norm";
    case FusionKind::kRmsNorm: return "rms_norm";
    case FusionKind::kSoftmax: return "softmax";
    case FusionKind::kGelu: return "gelu";
    case FusionKind::kGemmEpilogue: return "gemm_epilogue";
    case FusionKind::kConvEpilogue: return "conv_epilogue";
    case FusionKind::kElementwiseChain: return "elementwise_chain";
  }
  return "elementwise_chain";
}

std::vector<FusionGroup> find_fusion_groups(const models::Graph& graph) {
  GroupFinder f(graph);
  const int n = static_cast<int>(graph.nodes.size());
  // Most specific patterns first: a LayerNorm contains an RMSNorm-like tail, and every
  // pattern contains elementwise runs.
  for (auto match : {match_attention, match_layer_norm, match_rms_norm, match_softmax, match_gelu, match_epilogue,
                     match_elementwise_chain})
    for (int i = 0; i < n; ++i) match(f, i);
  return f.take_groups();
}

NodeCost group_cost(const FusionGroup& group, const std::vector<NodeCost>& node_costs,
                    const std::map<std::string, double>& value_bytes) {
  NodeCost cost;
  for (size_t i : group.nodes)
    if (i < node_costs.size()) cost.flops += node_costs[i].flops;
  for (const auto* names : {&group.inputs, &group.outputs})
    for (const auto& v : *names) {
      auto it = value_bytes.find(v);
      if (it != value_bytes.end()) cost.bytes += it->second;
    }
  switch (group.kind) {
    case FusionKind::kAttention: cost.op_class = "attention"; break;
    case FusionKind::kGemmEpilogue: cost.op_class = "matmul"; break;
    case FusionKind::kConvEpilogue: cost.op_class = "conv"; break;
    case FusionKind::kLayerNorm:
    case FusionKind::kRmsNorm:
    case FusionKind::kSoftmax: cost.op_class = "normalization"; break;
    case FusionKind::kGelu:
    case FusionKind::kElementwiseChain: cost.op_class = "elementwise"; break;
  }
  return cost;
}

int64_t group_time_ns(const FusionGroup& group, const std::vector<int64_t>& node_time_ns) {
  int64_t total = 0;
  for (size_t i : group.nodes)
    if (i < node_time_ns.size()) total += node_time_ns[i];
  return total;
}

}  // namespace ak::profiler
