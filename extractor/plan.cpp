// Which nodes and values make up a task, and the standalone subgraph built from them.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "base/strings.h"
#include "extractor/internal/plan.h"

namespace ak::extractor::internal {

namespace {

template <typename T>
models::TensorData tensor_of(const std::string& name, models::DType dtype, std::vector<int64_t> dims,
                             const std::vector<T>& values) {
  models::TensorData t;
  t.name = name;
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.bytes = models::Buffer::copy_of(values.data(), values.size() * sizeof(T));
  return t;
}

/// Constants stay inside the subgraph when they are metadata (integers: shapes, axes,
/// indices; bools) or a scalar (eps, an exponent); every other float tensor is data a kernel
/// must receive.
bool stays_inside(const models::TensorData& t) { return !models::is_floating(t.dtype) || t.numel() <= 1; }

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

}  // namespace

std::string slug(const std::string& text, size_t max_length) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.size() > max_length) {
    out.resize(max_length);
    while (!out.empty() && out.back() == '_') out.pop_back();
  }
  return out.empty() ? "value" : out;
}

std::string task_dir_name(const profiler::Hotspot& hotspot, const models::Graph& graph) {
  std::string kind = hotspot.kind;
  if (!hotspot.is_group && !hotspot.nodes.empty()) {
    kind = graph.nodes[hotspot.nodes.front()].op_type;
    kind = ak::lower(kind);
  }
  const std::string first = hotspot.nodes.empty() ? hotspot.name : graph.nodes[hotspot.nodes.front()].name;
  char rank[16];
  std::snprintf(rank, sizeof(rank), "%02d", hotspot.rank);
  return std::string(rank) + "_" + slug(kind + "_" + first, 80);
}

std::optional<models::TensorData> constant_node_tensor(const models::Node& node) {
  using models::DType;
  const std::string& name = node.outputs.empty() ? node.name : node.outputs[0];
  for (const auto& a : node.attributes) {
    if (a.name == "value" && a.type == models::Attribute::Type::kTensor) {
      models::TensorData t = a.t;
      t.name = name;
      return t;
    }
    if (a.name == "value_float") return tensor_of(name, DType::kFloat32, {}, std::vector<float>{a.f});
    if (a.name == "value_floats")
      return tensor_of(name, DType::kFloat32, {static_cast<int64_t>(a.floats.size())}, a.floats);
    if (a.name == "value_int") return tensor_of(name, DType::kInt64, {}, std::vector<int64_t>{a.i});
    if (a.name == "value_ints") return tensor_of(name, DType::kInt64, {static_cast<int64_t>(a.ints.size())}, a.ints);
  }
  return std::nullopt;
}

Result<TaskPlan> plan_task(const models::Graph& graph, const profiler::Hotspot& hotspot,
                           const std::vector<profiler::FusionGroup>& groups) {
  TaskPlan plan;
  plan.hotspot = &hotspot;
  plan.name = task_dir_name(hotspot, graph);
  plan.nodes = hotspot.nodes;
  std::sort(plan.nodes.begin(), plan.nodes.end());
  if (plan.nodes.empty()) return internal_error("hotspot '" + hotspot.name + "' has no nodes");
  for (size_t i : plan.nodes)
    if (i >= graph.nodes.size()) return internal_error("hotspot '" + hotspot.name + "' names node " + std::to_string(i));

  std::map<std::string, size_t> producer;
  std::set<std::string> consumed;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const auto& o : graph.nodes[i].outputs)
      if (!o.empty()) producer[o] = i;
    for (const auto& in : graph.nodes[i].inputs)
      if (!in.empty()) consumed.insert(in);
  }
  for (const auto& o : graph.outputs) consumed.insert(o.name);

  for (size_t i : plan.nodes) {
    const models::Node& n = graph.nodes[i];
    for (const auto& a : n.attributes)
      if (a.g || !a.graphs.empty())
        return unsupported("node '" + n.name + "' (" + n.op_type + ") has subgraphs; control flow cannot be extracted");
  }

  std::vector<std::string> external;
  if (hotspot.is_group) {
    auto group = std::find_if(groups.begin(), groups.end(), [&](const profiler::FusionGroup& g) {
      std::vector<size_t> nodes = g.nodes;
      std::sort(nodes.begin(), nodes.end());
      return nodes == plan.nodes;
    });
    if (group == groups.end()) return internal_error("no fusion group for hotspot '" + hotspot.name + "'");
    external = group->inputs;
    plan.outputs = group->outputs;
    plan.op_type = "fused:" + hotspot.kind.name();
  } else {
    const models::Node& n = graph.nodes[plan.nodes.front()];
    plan.op_type = is_default_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
    for (const auto& in : n.inputs)
      if (!in.empty() && std::find(external.begin(), external.end(), in) == external.end()) external.push_back(in);
    for (const auto& o : n.outputs)
      if (!o.empty() && consumed.count(o)) plan.outputs.push_back(o);
    if (plan.outputs.empty())
      for (const auto& o : n.outputs)
        if (!o.empty()) plan.outputs.push_back(o);
  }
  if (plan.outputs.empty()) return unsupported("hotspot '" + hotspot.name + "' has no outputs");

  for (const std::string& value : external) {
    if (const models::TensorData* init = graph.find_initializer(value)) {
      if (stays_inside(*init)) {
        plan.constants[value] = *init;
        continue;
      }
    } else if (auto p = producer.find(value); p != producer.end()) {
      const models::Node& n = graph.nodes[p->second];
      if (n.op_type == "Constant" && is_default_domain(n.domain)) {
        auto t = constant_node_tensor(n);
        if (t && stays_inside(*t)) {
          plan.constants[value] = std::move(*t);
          plan.constant_nodes.push_back(p->second);
          continue;
        }
      }
    }
    plan.inputs.push_back(value);
  }
  std::sort(plan.constant_nodes.begin(), plan.constant_nodes.end());
  return plan;
}

namespace {
models::ValueInfo value_info(const ValueType& v) {
  models::ValueInfo info;
  info.name = v.name;
  info.dtype = v.dtype;
  info.has_shape = true;
  for (size_t k = 0; k < v.dims.size(); ++k) {
    models::Dim d;
    if (k < v.axis_var.size() && v.axis_var[k]) d.param = v.axis_names[k];
    else d.value = v.dims[k];
    info.shape.push_back(d);
  }
  return info;
}
}  // namespace

models::Model build_subgraph(const models::Model& executed, const TaskPlan& plan, const std::vector<ValueType>& inputs,
                             const std::vector<ValueType>& outputs) {
  models::Model m;
  m.ir_version = executed.ir_version;
  m.producer = "autokernel extract";
  m.opsets = executed.opsets;
  const models::Graph& g = executed.graph;
  m.graph.name = plan.name;
  for (size_t i : plan.constant_nodes) m.graph.nodes.push_back(g.nodes[i]);
  for (size_t i : plan.nodes) m.graph.nodes.push_back(g.nodes[i]);
  std::set<std::string> made_by_nodes;
  for (const auto& n : m.graph.nodes)
    for (const auto& o : n.outputs) made_by_nodes.insert(o);
  for (const auto& [name, tensor] : plan.constants)
    if (!made_by_nodes.count(name)) m.graph.initializers.push_back(tensor);
  for (const auto& v : inputs) m.graph.inputs.push_back(value_info(v));
  for (const auto& v : outputs) m.graph.outputs.push_back(value_info(v));
  return m;
}

}  // namespace ak::extractor::internal
