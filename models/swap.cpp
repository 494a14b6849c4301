// Swap-in of pack kernels (models/swap.h): the subgraph matcher, the graph rewrite, and
// building and loading each entry's kernel.
#include "models/swap.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "base/strings.h"
#include "kernels/build.h"
#include "models/onnx_io.h"
#include "models/workload.h"

namespace ak::models {

std::string SwapReport::summary() const {
  std::set<std::string> matched;
  for (const auto& instance : instances) matched.insert(instance.entry);
  std::string text = "kernels: swapped " + std::to_string(instances.size()) + " instance" + (instances.size() == 1 ? "" : "s");
  // Without an entry for this device, "of 0 workloads (0 of 0 entries)" says nothing.
  if (entries > 0 || other_device_entries == 0)
    text += " of " + std::to_string(workloads) + " workload" + (workloads == 1 ? "" : "s") + " (" +
            std::to_string(matched.size()) + " of " + std::to_string(entries) + " entries)";
  const size_t unmatched = unmatched_entries.size();
  if (unmatched > 0)
    text += "; " + std::to_string(unmatched) + (unmatched == 1 ? " entry matched" : " entries matched") + " nothing";
  if (other_device_entries > 0)
    text += "; " + std::to_string(other_device_entries) + (other_device_entries == 1 ? " entry is" : " entries are") +
            " for " + (cuda ? "cpu" : "cuda") + ", not " + (cuda ? "cuda" : "cpu");
  return text;
}

namespace {

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

bool same_op(const Node& a, const Node& b) {
  return a.op_type == b.op_type && (a.domain == b.domain || (is_default_domain(a.domain) && is_default_domain(b.domain)));
}

bool is_constant_node(const Node& n) { return n.op_type == "Constant" && is_default_domain(n.domain); }

/// Who produces and who reads each value of one graph.
struct GraphIndex {
  explicit GraphIndex(const Graph& graph) : g(graph) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      for (size_t k = 0; k < n.outputs.size(); ++k)
        if (!n.outputs[k].empty()) producer[n.outputs[k]] = {i, k};
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (!n.inputs[k].empty()) consumers[n.inputs[k]].push_back({i, k});
      // A value an If/Loop body reads from the enclosing graph is read by the node that owns the body.
      for (const Attribute& a : n.attributes) {
        std::vector<const Graph*> bodies;
        if (a.g) bodies.push_back(a.g.get());
        for (const auto& b : a.graphs) bodies.push_back(b.get());
        for (const Graph* body : bodies) add_body_reads(*body, i);
      }
    }
    for (const ValueInfo& o : g.outputs) graph_outputs.insert(o.name);
  }

  void add_body_reads(const Graph& body, size_t owner) {
    for (const Node& n : body.nodes) {
      for (const std::string& in : n.inputs)
        if (!in.empty()) consumers[in].push_back({owner, SIZE_MAX});
      for (const Attribute& a : n.attributes) {
        if (a.g) add_body_reads(*a.g, owner);
        for (const auto& b : a.graphs) add_body_reads(*b, owner);
      }
    }
  }

  /// Whether `value` is an initializer or the output of a Constant node.
  bool is_constant(const std::string& value) const {
    if (g.find_initializer(value)) return true;
    auto it = producer.find(value);
    return it != producer.end() && is_constant_node(g.nodes[it->second.first]);
  }

  const Graph& g;
  std::map<std::string, std::pair<size_t, size_t>> producer;  ///< value -> (node, output index)
  std::map<std::string, std::vector<std::pair<size_t, size_t>>> consumers;  ///< value -> (node, input index)
  std::set<std::string> graph_outputs;
};

/// An entry's subgraph.onnx, prepared for matching.
struct Pattern {
  Model model;
  std::vector<size_t> nodes;  ///< the nodes a kernel replaces (Constant nodes are not among them)
  std::set<std::string> inputs;
  std::vector<std::string> outputs;
  WorkloadKey key;
};

/// One instance: pattern node -> model node, pattern input -> model value.
struct Match {
  std::map<size_t, size_t> nodes;
  std::map<std::string, std::string> values;
};

/// Backtracking subgraph isomorphism of one pattern into the model graph, anchored on the
/// producer of the pattern's first output. Checks op types, domains, arities and the edge
/// structure; attributes and constants are compared afterwards through the workload key.
class Matcher {
 public:
  Matcher(const Pattern& pattern, const GraphIndex& model, const std::vector<bool>& claimed)
      : p_(pattern), pg_(pattern.model.graph), pi_(pg_), m_(model), claimed_(claimed) {
    order_search();
  }

  /// The match whose anchor is model node `anchor`, if there is one.
  std::optional<Match> match_at(size_t anchor) {
    match_ = {};
    used_.clear();
    if (!assign(order_[0], anchor)) return std::nullopt;
    if (!extend(1)) return std::nullopt;
    return match_;
  }

  size_t anchor_node() const { return order_[0]; }

 private:
  /// Pattern nodes in search order: the anchor, then each node linked to an earlier one
  /// (its producer first: that candidate is unique).
  void order_search() {
    std::set<size_t> left(p_.nodes.begin(), p_.nodes.end());
    size_t anchor = p_.nodes.back();
    if (auto it = pi_.producer.find(p_.outputs.front()); it != pi_.producer.end()) anchor = it->second.first;
    order_.push_back(anchor);
    left.erase(anchor);
    while (!left.empty()) {
      std::optional<size_t> next;
      for (size_t o : order_)
        for (const std::string& in : pg_.nodes[o].inputs)
          if (auto it = pi_.producer.find(in); !next && it != pi_.producer.end() && left.count(it->second.first))
            next = it->second.first;
      if (!next)
        for (size_t n : left)
          for (const std::string& in : pg_.nodes[n].inputs)
            if (!next && (linked_to_order(in))) next = n;
      if (!next) next = *left.begin();
      order_.push_back(*next);
      left.erase(*next);
    }
  }

  bool linked_to_order(const std::string& value) const {
    for (size_t o : order_) {
      const Node& n = pg_.nodes[o];
      if (std::count(n.inputs.begin(), n.inputs.end(), value) || std::count(n.outputs.begin(), n.outputs.end(), value))
        return true;
    }
    return false;
  }

  bool extend(size_t k) {
    if (k == order_.size()) return boundary_ok();
    const size_t p = order_[k];
    for (size_t candidate : candidates(p)) {
      const Match saved = match_;
      if (assign(p, candidate) && extend(k + 1)) return true;
      match_ = saved;
      used_.erase(candidate);
    }
    return false;
  }

  /// Model nodes that pattern node `p` can be, given what is mapped so far.
  std::vector<size_t> candidates(size_t p) const {
    const Node& pn = pg_.nodes[p];
    // A mapped node reads an output of p: p is that value's producer.
    for (size_t j = 0; j < pn.outputs.size(); ++j) {
      auto readers = pi_.consumers.find(pn.outputs[j]);
      if (readers == pi_.consumers.end()) continue;
      for (auto [o, i] : readers->second) {
        auto mapped = match_.nodes.find(o);
        if (mapped == match_.nodes.end()) continue;
        auto prod = m_.producer.find(m_.g.nodes[mapped->second].inputs[i]);
        if (prod == m_.producer.end() || prod->second.second != j) return {};
        return {prod->second.first};
      }
    }
    // p reads a mapped value: p is one of that value's readers.
    for (size_t i = 0; i < pn.inputs.size(); ++i) {
      std::optional<std::string> value;
      if (auto prod = pi_.producer.find(pn.inputs[i]); prod != pi_.producer.end()) {
        if (auto mapped = match_.nodes.find(prod->second.first); mapped != match_.nodes.end())
          value = m_.g.nodes[mapped->second].outputs[prod->second.second];
      } else if (auto v = match_.values.find(pn.inputs[i]); v != match_.values.end()) {
        value = v->second;
      }
      if (!value) continue;
      std::vector<size_t> out;
      if (auto readers = m_.consumers.find(*value); readers != m_.consumers.end())
        for (auto [n, pos] : readers->second)
          if (pos == i) out.push_back(n);
      return out;
    }
    std::vector<size_t> all;
    for (size_t n = 0; n < m_.g.nodes.size(); ++n)
      if (same_op(pn, m_.g.nodes[n])) all.push_back(n);
    return all;
  }

  /// Maps pattern node p to model node m when their ops and arities agree and every edge to
  /// an already mapped node is the same edge in the model.
  bool assign(size_t p, size_t m) {
    const Node& pn = pg_.nodes[p];
    const Node& mn = m_.g.nodes[m];
    if (claimed_[m] || used_.count(m) || !same_op(pn, mn)) return false;
    if (pn.inputs.size() != mn.inputs.size() || pn.outputs.size() != mn.outputs.size()) return false;
    for (size_t i = 0; i < pn.inputs.size(); ++i) {
      const std::string& pv = pn.inputs[i];
      const std::string& mv = mn.inputs[i];
      if (pv.empty() != mv.empty()) return false;
      if (pv.empty()) continue;
      if (auto prod = pi_.producer.find(pv); prod != pi_.producer.end() && !is_constant_node(pg_.nodes[prod->second.first])) {
        auto mapped = match_.nodes.find(prod->second.first);
        if (mapped != match_.nodes.end() && m_.g.nodes[mapped->second].outputs[prod->second.second] != mv) return false;
      } else if (p_.inputs.count(pv)) {
        auto [it, added] = match_.values.emplace(pv, mv);
        if (!added && it->second != mv) return false;
        if (added)
          for (const auto& [other, value] : match_.values)
            if (other != pv && value == mv) return false;  // two kernel inputs, one model value
      } else if (!m_.is_constant(mv)) {
        return false;  // a constant of the pattern must be a constant of the model
      }
    }
    for (size_t j = 0; j < pn.outputs.size(); ++j) {
      if (pn.outputs[j].empty()) continue;
      if (mn.outputs[j].empty()) return false;
      auto readers = pi_.consumers.find(pn.outputs[j]);
      if (readers == pi_.consumers.end()) continue;
      for (auto [o, i] : readers->second) {
        auto mapped = match_.nodes.find(o);
        if (mapped != match_.nodes.end() && m_.g.nodes[mapped->second].inputs[i] != mn.outputs[j]) return false;
      }
    }
    match_.nodes[p] = m;
    used_.insert(m);
    return true;
  }

  /// The whole instance: every kernel input bound, no value of the instance used outside it
  /// unless it is an output of the pattern, outputs read only after the instance's last node
  /// (where the swapped node goes), inputs not made by the instance itself.
  bool boundary_ok() const {
    if (match_.values.size() != p_.inputs.size()) return false;
    const size_t last = *std::max_element(used_.begin(), used_.end());
    const std::set<std::string> outputs(p_.outputs.begin(), p_.outputs.end());
    for (const auto& [p, m] : match_.nodes) {
      const Node& pn = pg_.nodes[p];
      const Node& mn = m_.g.nodes[m];
      for (size_t j = 0; j < pn.outputs.size(); ++j) {
        const std::string& mv = mn.outputs[j];
        if (mv.empty()) continue;
        const bool is_output = !pn.outputs[j].empty() && outputs.count(pn.outputs[j]);
        if (!is_output && m_.graph_outputs.count(mv)) return false;
        auto readers = m_.consumers.find(mv);
        if (readers == m_.consumers.end()) continue;
        for (auto [reader, pos] : readers->second) {
          if (used_.count(reader)) continue;
          if (!is_output || reader < last) return false;
        }
      }
    }
    for (const auto& [pv, mv] : match_.values)
      if (auto prod = m_.producer.find(mv); prod != m_.producer.end() && used_.count(prod->second.first)) return false;
    return true;
  }

  const Pattern& p_;
  const Graph& pg_;
  GraphIndex pi_;
  const GraphIndex& m_;
  const std::vector<bool>& claimed_;
  std::vector<size_t> order_;
  Match match_;
  std::set<size_t> used_;
};

/// The instance as a standalone graph with the pattern's boundary (kernel inputs as graph
/// inputs, the pattern's constants as the model's constants), so its workload key is
/// comparable with the pattern's.
WorkloadKey instance_key(const Pattern& pattern, const Match& match, const GraphIndex& model,
                         const ValueTypeLookup& model_types) {
  Graph g;
  std::vector<size_t> set;
  std::set<std::string> copied;  // kernel inputs, and the constants copied so far
  for (const auto& [pv, mv] : match.values) copied.insert(mv);
  for (size_t p : pattern.nodes) {
    for (const std::string& in : model.g.nodes[match.nodes.at(p)].inputs) {
      if (in.empty() || !copied.insert(in).second) continue;
      if (const TensorData* init = model.g.find_initializer(in)) {
        g.initializers.push_back(*init);
      } else if (auto prod = model.producer.find(in);
                 prod != model.producer.end() && is_constant_node(model.g.nodes[prod->second.first])) {
        g.nodes.push_back(model.g.nodes[prod->second.first]);
      }
    }
  }
  for (size_t p : pattern.nodes) {
    set.push_back(g.nodes.size());
    g.nodes.push_back(model.g.nodes[match.nodes.at(p)]);
  }
  for (const ValueInfo& in : pattern.model.graph.inputs) {
    if (!pattern.inputs.count(in.name)) continue;
    ValueInfo vi;
    vi.name = match.values.at(in.name);
    if (auto t = model_types(vi.name)) vi.dtype = t->dtype;
    g.inputs.push_back(vi);
  }
  const GraphIndex pattern_index(pattern.model.graph);
  for (const std::string& out : pattern.outputs) {
    auto [node, k] = pattern_index.producer.at(out);
    ValueInfo vi;
    vi.name = model.g.nodes[match.nodes.at(node)].outputs[k];
    g.outputs.push_back(vi);
  }
  return workload_key(g, set);
}

/// Whether the instance's key is the pattern's: equal structure, and equal dtypes wherever
/// the model declares them (a value the model does not declare is checked at run time).
bool same_workload(const WorkloadKey& pattern, const WorkloadKey& instance) {
  if (pattern.structure != instance.structure || pattern.dtypes.size() != instance.dtypes.size()) return false;
  for (size_t k = 0; k < pattern.dtypes.size(); ++k)
    if (instance.dtypes[k] != DType::kUndefined && pattern.dtypes[k] != DType::kUndefined &&
        instance.dtypes[k] != pattern.dtypes[k])
      return false;
  return true;
}

/// Whether every kernel input whose type the model knows (an initializer's, a declared
/// value's) has the dtype, rank and fixed sizes the subgraph declares; a size it does not
/// know is checked at run time.
bool types_fit(const Pattern& pattern, const Match& match, const ValueTypeLookup& model_types) {
  for (const ValueInfo& in : pattern.model.graph.inputs) {
    auto bound = match.values.find(in.name);
    if (bound == match.values.end()) continue;
    const std::optional<ValueType> known = model_types(bound->second);
    if (!known) continue;
    if (known->dtype != DType::kUndefined && in.dtype != DType::kUndefined && known->dtype != in.dtype) return false;
    if (!known->shape || !in.has_shape) continue;
    if (known->shape->size() != in.shape.size()) return false;
    for (size_t d = 0; d < in.shape.size(); ++d)
      if (in.shape[d].is_fixed() && (*known->shape)[d] != in.shape[d].value) return false;
  }
  return true;
}

Result<Pattern> load_pattern(const kernels::Task& task, const std::string& where) {
  auto loaded = load_model(task.subgraph_path());
  if (!loaded.is_ok()) return invalid_input(where + ": subgraph.onnx: " + loaded.status().message());
  Pattern p;
  p.model = std::move(loaded).value();
  const Graph& g = p.model.graph;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!is_constant_node(g.nodes[i])) p.nodes.push_back(i);
  for (const ValueInfo* in : g.runtime_inputs()) p.inputs.insert(in->name);
  for (const ValueInfo& out : g.outputs) p.outputs.push_back(out.name);
  if (p.nodes.empty() || p.outputs.empty()) return invalid_input(where + ": subgraph.onnx has no nodes or no outputs");
  const GraphIndex index(g);
  for (const std::string& out : p.outputs) {
    auto prod = index.producer.find(out);
    if (prod == index.producer.end() || is_constant_node(g.nodes[prod->second.first]))
      return invalid_input(where + ": subgraph.onnx output '" + out + "' is not computed by its nodes");
  }
  // The kernel's arguments are the task's inputs and outputs, in task.json's order.
  std::set<std::string> task_inputs, task_outputs;
  for (const auto& t : task.inputs) task_inputs.insert(t.name);
  for (const auto& t : task.outputs) task_outputs.insert(t.name);
  if (task_inputs != p.inputs || task_outputs != std::set<std::string>(p.outputs.begin(), p.outputs.end()))
    return invalid_input(where + ": task.json's inputs and outputs are not subgraph.onnx's (" +
                         join(std::vector<std::string>(p.inputs.begin(), p.inputs.end()), ", ") + " -> " +
                         join(p.outputs, ", ") + ")");
  p.key = workload_key(g, p.nodes, declared_types(g));
  return p;
}

/// The first line of a compiler log that says "error", else its first line.
std::string first_error(const std::string& log) {
  std::string first;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(start, end - start);
    if (first.empty() && !line.empty()) first = line;
    if (line.find("error") != std::string::npos) return line;
    start = end + 1;
  }
  return first.empty() ? "(no compiler output)" : first;
}

/// Builds the entry's source for this machine and loads it.
Result<std::shared_ptr<const kernels::KernelLibrary>> build_entry(const kernels::Pack& pack, const kernels::PackEntry& entry,
                                                                  const std::string& where) {
  kernels::BuildOptions options;
  if (entry.device == "cuda") {
    auto arch = kernels::detect_cuda_arch();
    if (!arch.is_ok()) return invalid_input(where + ": cannot tell this GPU's architecture: " + arch.status().message());
    options.cuda_arch = *arch;
  }
  auto built = kernels::build_kernel(pack.source_path(entry), options);
  if (!built.is_ok()) return invalid_input(where + ": " + built.status().message());
  if (!built->ok) {
    if (!entry.arch.empty() && entry.arch != built->arch)
      return invalid_input(where + ": built for " + entry.arch + ", this machine is " + built->arch +
                           ", and rebuilding " + entry.source + " from source for " + built->arch +
                           " failed: " + first_error(built->log));
    return invalid_input(where + ": " + entry.source + " does not build: " + first_error(built->log));
  }
  auto library = kernels::KernelLibrary::load(built->library_path);
  if (!library.is_ok()) return invalid_input(where + ": " + library.status().message());
  return std::make_shared<const kernels::KernelLibrary>(std::move(library).value());
}

Attribute strings_attr(const std::string& name, std::vector<std::string> values) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kStrings;
  a.strings = std::move(values);
  return a;
}

Attribute string_attr(const std::string& name, std::string value) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kString;
  a.s = std::move(value);
  return a;
}

/// The com.autokernel.PackKernel node of one instance: the task's inputs and outputs as
/// the model's values, the original nodes as its fallback subgraph (which reads the same
/// values from the enclosing graph).
Node pack_kernel_node(const Graph& graph, const kernels::Task& task, const Pattern& pattern, const Match& match,
                      const std::vector<size_t>& nodes, const std::string& entry) {
  const GraphIndex pattern_index(pattern.model.graph);
  Node node;
  node.name = graph.nodes[nodes.back()].name + "/pack";
  node.op_type = "PackKernel";
  node.domain = "com.autokernel";
  for (const auto& t : task.inputs) node.inputs.push_back(match.values.at(t.name));
  for (const auto& t : task.outputs) {
    auto [p, k] = pattern_index.producer.at(t.name);
    node.outputs.push_back(graph.nodes[match.nodes.at(p)].outputs[k]);
  }
  auto fallback = std::make_shared<Graph>();
  fallback->name = node.name + "/fallback";
  std::vector<std::string> names;
  for (size_t i : nodes) {
    fallback->nodes.push_back(graph.nodes[i]);
    names.push_back(graph.nodes[i].name);
  }
  for (const std::string& out : node.outputs) {
    ValueInfo vi;
    vi.name = out;
    fallback->outputs.push_back(vi);
  }
  Attribute body;
  body.name = "fallback";
  body.type = Attribute::Type::kGraph;
  body.g = std::move(fallback);
  node.attributes = {string_attr("entry", entry), strings_attr("fused_nodes", std::move(names)), std::move(body)};
  return node;
}

}  // namespace

Result<SwapPlan> plan_swap_in(const Model& model, const SwapOptions& options, bool cuda) {
  AK_ASSIGN_OR_RETURN(const kernels::Pack pack, kernels::read_pack(options.pack));
  for (const std::string& id : options.only_entries)
    if (!pack.find(id)) return invalid_input(options.pack.string() + ": no entry '" + id + "'");

  SwapPlan plan;
  const Graph& graph = model.graph;
  const GraphIndex index(graph);
  const ValueTypeLookup model_types = declared_types(graph);
  std::vector<bool> claimed(graph.nodes.size(), false);
  std::map<size_t, Node> placed;  // last replaced node -> the PackKernel node put there
  std::set<std::string> workloads;
  struct Found {
    std::vector<size_t> nodes;  // graph order
    std::string workload;
    Node node;
    SwapBinding binding;
  };
  std::vector<Found> found;

  plan.report.cuda = cuda;
  for (const kernels::PackEntry& entry : pack.entries) {
    if (!options.only_entries.empty() &&
        std::find(options.only_entries.begin(), options.only_entries.end(), entry.id) == options.only_entries.end())
      continue;
    if ((entry.device == "cuda") != cuda) {
      ++plan.report.other_device_entries;
      continue;
    }
    ++plan.report.entries;
    const std::string where = (pack.dir / "pack.json").string() + ": entry '" + entry.id + "'";
    AK_ASSIGN_OR_RETURN(kernels::Task task, pack.entry_task(entry));
    AK_ASSIGN_OR_RETURN(const Pattern pattern, load_pattern(task, where));

    Matcher matcher(pattern, index, claimed);
    std::vector<std::pair<std::vector<size_t>, Match>> instances;
    for (size_t anchor = 0; anchor < graph.nodes.size(); ++anchor) {
      if (claimed[anchor]) continue;
      std::optional<Match> match = matcher.match_at(anchor);
      if (!match || !types_fit(pattern, *match, model_types)) continue;
      if (!same_workload(pattern.key, instance_key(pattern, *match, index, model_types))) continue;
      std::vector<size_t> nodes;
      for (const auto& [p, m] : match->nodes) nodes.push_back(m);
      std::sort(nodes.begin(), nodes.end());
      const std::string& first = graph.nodes[nodes.front()].name;
      if (!options.only_instances.empty() &&
          std::find(options.only_instances.begin(), options.only_instances.end(), first) == options.only_instances.end())
        continue;
      for (size_t n : nodes) claimed[n] = true;
      instances.emplace_back(std::move(nodes), std::move(*match));
    }
    if (instances.empty()) {
      plan.report.unmatched_entries.push_back(entry.id);
      continue;
    }
    AK_ASSIGN_OR_RETURN(auto library, build_entry(pack, entry, where));
    const std::string workload = entry.workload.empty() ? pattern.key.hash() : entry.workload;
    workloads.insert(workload);
    for (auto& [nodes, match] : instances) {
      Found f;
      f.node = pack_kernel_node(graph, task, pattern, match, nodes, entry.id);
      f.binding = {entry.id, task, entry.ranges, library, 0};
      f.workload = workload;
      f.nodes = std::move(nodes);
      found.push_back(std::move(f));
    }
  }
  plan.report.workloads = static_cast<int>(workloads.size());

  // Report instances in graph order (of their first node), as the header promises.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.nodes.front() < b.nodes.front(); });
  for (Found& f : found) {
    SwapInstance instance;
    instance.entry = f.binding.entry;
    instance.workload = f.workload;
    for (size_t n : f.nodes) instance.nodes.push_back(graph.nodes[n].name);
    f.binding.instance = plan.report.instances.size();
    plan.report.instances.push_back(std::move(instance));
    plan.bindings.emplace(f.node.name, std::move(f.binding));
    placed.emplace(f.nodes.back(), std::move(f.node));
  }
  plan.graph = graph;
  if (placed.empty()) return plan;
  plan.graph.nodes.clear();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!claimed[i]) plan.graph.nodes.push_back(graph.nodes[i]);
    if (auto it = placed.find(i); it != placed.end()) plan.graph.nodes.push_back(std::move(it->second));
  }
  return plan;
}

}  // namespace ak::models
