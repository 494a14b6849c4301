#include "models/workload.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "base/sha256.h"
#include "kernels/op_traits.h"
#include "models/fusion.h"

namespace ak::models {

namespace {

/// Floats print with 9 significant digits: exact for float32, the width attributes have.
std::string format_float(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? "," : "") + std::to_string(dims[i]);
  return out + "]";
}

/// Element `i` of a tensor as text; raw hex for dtypes without a numeric reading.
std::string element_text(const TensorData& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32: return format_float(t.data<float>()[i]);
    case DType::kFloat64: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", t.data<double>()[i]);
      return buf;
    }
    case DType::kFloat16: return format_float(half_to_float(t.data<uint16_t>()[i]));
    case DType::kBFloat16: return format_float(bfloat16_to_float(t.data<uint16_t>()[i]));
    case DType::kInt64: return std::to_string(t.data<int64_t>()[i]);
    case DType::kInt32: return std::to_string(t.data<int32_t>()[i]);
    case DType::kInt16: return std::to_string(t.data<int16_t>()[i]);
    case DType::kInt8: return std::to_string(t.data<int8_t>()[i]);
    case DType::kUInt64: return std::to_string(t.data<uint64_t>()[i]);
    case DType::kUInt32: return std::to_string(t.data<uint32_t>()[i]);
    case DType::kUInt16: return std::to_string(t.data<uint16_t>()[i]);
    case DType::kUInt8:
    case DType::kBool: return std::to_string(t.data<uint8_t>()[i]);
    case DType::kString: return quoted(t.strings.at(static_cast<size_t>(i)));
    default: {
      const size_t size = dtype_size(t.dtype);
      std::string out = "0x";
      char buf[4];
      for (size_t b = 0; b < size; ++b) {
        std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(t.bytes.data[static_cast<size_t>(i) * size + b]));
        out += buf;
      }
      return out;
    }
  }
}

bool is_small(const TensorData& t) { return t.numel() <= kInlineConstantElements; }

/// A constant by value (small) or by dtype and shape (large).
std::string tensor_text(const TensorData& t) {
  std::string out = dtype_name(t.dtype) + dims_text(t.dims);
  if (!is_small(t)) return out;
  const bool readable = t.dtype == DType::kString ? t.strings.size() == static_cast<size_t>(t.numel())
                                                  : t.bytes.size_bytes >= static_cast<size_t>(t.numel()) * dtype_size(t.dtype);
  if (!readable) return out + "{?}";
  out += "{";
  for (int64_t i = 0; i < t.numel(); ++i) out += (i ? "," : "") + element_text(t, i);
  return out + "}";
}

std::string attribute_value_text(const Attribute& a) {
  auto list = [](const auto& items, auto text) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + text(items[i]);
    return out + "]";
  };
  auto subgraph = [](const std::shared_ptr<const Graph>& g) {
    if (!g) return std::string("graph{}");
    std::vector<size_t> all(g->nodes.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    return "graph{" + workload_key(*g, all).structure + "}";
  };
  switch (a.type) {
    case Attribute::Type::kFloat: return format_float(a.f);
    case Attribute::Type::kInt: return std::to_string(a.i);
    case Attribute::Type::kString: return quoted(a.s);
    case Attribute::Type::kTensor: return tensor_text(a.t);
    case Attribute::Type::kGraph: return subgraph(a.g);
    case Attribute::Type::kFloats: return list(a.floats, [](float f) { return format_float(f); });
    case Attribute::Type::kInts: return list(a.ints, [](int64_t i) { return std::to_string(i); });
    case Attribute::Type::kStrings: return list(a.strings, quoted);
    case Attribute::Type::kTensors: return list(a.tensors, tensor_text);
    case Attribute::Type::kGraphs: return list(a.graphs, subgraph);
    case Attribute::Type::kUndefined: break;
  }
  return "?";
}

/// `{name=value,...}` sorted by name, with op_traits' numeric defaults for the ones omitted.
std::string attributes_text(const Node& node) {
  std::map<std::string, std::string> attrs;
  for (const Attribute& a : node.attributes)
    if (a.name != kFusedNodesAttribute) attrs[a.name] = attribute_value_text(a);
  if (const kernels::OpTraits* traits = kernels::find_op_traits(node.op_type, node.domain)) {
    for (const kernels::OpAttribute& d : traits->attributes) {
      const std::string name(d.name);
      if (attrs.count(name)) continue;
      // An integral default prints as an int attribute would, any other as a float one.
      const double v = d.default_value;
      const bool integral = v == static_cast<double>(static_cast<int64_t>(v));
      attrs[name] = integral ? std::to_string(static_cast<int64_t>(v)) : format_float(static_cast<float>(v));
    }
  }
  if (attrs.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : attrs) {
    out += (first ? "" : ",") + name + "=" + value;
    first = false;
  }
  return out + "}";
}

std::string op_text(const Node& node) {
  const bool default_domain = node.domain.empty() || node.domain == "ai.onnx";
  return (default_domain ? "" : node.domain + "::") + node.op_type + attributes_text(node);
}

/// The value of a constant input: an initializer, or a Constant node's `value` outside the set.
const TensorData* constant_of(const std::string& value, const Graph& graph,
                              const std::map<std::string, size_t>& producer) {
  if (const TensorData* init = graph.find_initializer(value)) return init;
  auto it = producer.find(value);
  if (it == producer.end()) return nullptr;
  const Node& n = graph.nodes[it->second];
  if (n.op_type != "Constant" || !(n.domain.empty() || n.domain == "ai.onnx")) return nullptr;
  const Attribute* a = n.find_attribute("value");
  return a && a->type == Attribute::Type::kTensor ? &a->t : nullptr;
}

}  // namespace

std::string WorkloadKey::text() const {
  std::string out = structure + "\ndtypes:";
  for (size_t i = 0; i < dtypes.size(); ++i)
    out += (i ? "," : "") + (dtypes[i] == DType::kUndefined ? std::string("?") : dtype_name(dtypes[i]));
  if (has_shapes) {
    out += "\nshapes:";
    for (size_t i = 0; i < shapes.size(); ++i) out += (i ? "," : "") + dims_text(shapes[i]);
  }
  return out;
}

std::string WorkloadKey::hash() const { return sha256_hex(text()); }

std::string WorkloadKey::structure_hash() const { return sha256_hex(structure); }

ValueTypeLookup declared_types(const Graph& graph) {
  auto table = std::make_shared<std::map<std::string, ValueType>>();
  auto add = [&](const ValueInfo& v) {
    if (v.kind != ValueInfo::Kind::kTensor || v.name.empty()) return;
    ValueType t{v.dtype, std::nullopt};
    bool fixed = v.has_shape;
    std::vector<int64_t> dims;
    for (const Dim& d : v.shape) {
      fixed = fixed && d.is_fixed();
      dims.push_back(d.value);
    }
    if (fixed) t.shape = dims;
    (*table)[v.name] = t;
  };
  for (const ValueInfo& v : graph.value_info) add(v);
  for (const ValueInfo& v : graph.outputs) add(v);
  for (const ValueInfo& v : graph.inputs) add(v);
  for (const TensorData& t : graph.initializers) (*table)[t.name] = ValueType{t.dtype, t.dims};
  return [table](const std::string& value) -> std::optional<ValueType> {
    auto it = table->find(value);
    return it == table->end() ? std::nullopt : std::optional<ValueType>(it->second);
  };
}

WorkloadKey workload_key(const Graph& graph, std::span<const size_t> nodes, const ValueTypeLookup& types) {
  std::vector<size_t> set;
  for (size_t n : nodes)
    if (n < graph.nodes.size()) set.push_back(n);
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  const std::set<size_t> members(set.begin(), set.end());

  std::map<std::string, size_t> producer;  // value -> node index, whole graph
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (const std::string& out : graph.nodes[i].outputs)
      if (!out.empty()) producer[out] = i;
  auto internal_producer = [&](const std::string& value) -> std::optional<size_t> {
    auto it = producer.find(value);
    if (it == producer.end() || !members.count(it->second)) return std::nullopt;
    return it->second;
  };
  auto output_index = [&](size_t node, const std::string& value) {
    const auto& outs = graph.nodes[node].outputs;
    return static_cast<size_t>(std::find(outs.begin(), outs.end(), value) - outs.begin());
  };

  // A name-free digest of each node and everything upstream of it inside the set: the
  // tie-break among nodes ready at the same time, so the canonical order does not depend
  // on how the exporter happened to order independent nodes. Computed in graph order,
  // which is topological.
  std::map<size_t, std::string> digest;
  for (size_t n : set) {
    const Node& node = graph.nodes[n];
    std::string d = op_text(node) + "(";
    for (const std::string& in : node.inputs) {
      if (in.empty()) {
        d += "-,";
      } else if (auto p = internal_producer(in)) {
        d += digest[*p] + "." + std::to_string(output_index(*p, in)) + ",";
      } else if (const TensorData* c = constant_of(in, graph, producer)) {
        d += "c" + tensor_text(*c) + ",";
      } else {
        d += "x,";
      }
    }
    digest[n] = sha256_hex(d + ")");
  }

  // Kahn's algorithm; among ready nodes the smallest digest first (graph order on ties).
  std::map<size_t, int> pending;
  std::map<size_t, std::vector<size_t>> consumers;
  for (size_t n : set) {
    std::set<size_t> deps;
    for (const std::string& in : graph.nodes[n].inputs)
      if (!in.empty())
        if (auto p = internal_producer(in); p && *p != n) deps.insert(*p);
    pending[n] = static_cast<int>(deps.size());
    for (size_t p : deps) consumers[p].push_back(n);
  }
  auto before = [&](size_t a, size_t b) { return std::tie(digest[a], a) > std::tie(digest[b], b); };
  std::vector<size_t> ready;
  for (size_t n : set)
    if (pending[n] == 0) ready.push_back(n);
  WorkloadKey key;
  key.has_shapes = true;
  while (!ready.empty()) {
    std::sort(ready.begin(), ready.end(), before);  // smallest last
    const size_t n = ready.back();
    ready.pop_back();
    key.nodes.push_back(n);
    for (size_t c : consumers[n])
      if (--pending[c] == 0) ready.push_back(c);
  }

  std::map<size_t, size_t> position;  // node index -> %n
  for (size_t i = 0; i < key.nodes.size(); ++i) position[key.nodes[i]] = i;
  std::map<std::string, size_t> input_number;  // value -> $k
  std::vector<std::string> input_decls;
  ValueTypeLookup declared;  // built on first need: a profile's lookup usually knows every dtype
  auto type_of = [&](const std::string& value) {
    ValueType t = (types ? types(value) : std::nullopt).value_or(ValueType{});
    if (t.dtype == DType::kUndefined) {
      if (!declared) declared = declared_types(graph);
      if (std::optional<ValueType> d = declared(value)) t.dtype = d->dtype;
    }
    return t;
  };

  std::string text;
  for (size_t i = 0; i < key.nodes.size(); ++i) {
    const Node& node = graph.nodes[key.nodes[i]];
    text += "%" + std::to_string(i) + "=" + op_text(node) + "(";
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const std::string& in = node.inputs[j];
      text += j ? "," : "";
      if (in.empty()) {
        text += "-";
        continue;
      }
      if (auto p = internal_producer(in)) {
        text += "%" + std::to_string(position[*p]) + "." + std::to_string(output_index(*p, in));
        continue;
      }
      const TensorData* c = constant_of(in, graph, producer);
      if (c && is_small(*c)) {
        text += tensor_text(*c);
        continue;
      }
      auto [it, added] = input_number.emplace(in, key.inputs.size());
      if (added) {
        key.inputs.push_back(in);
        if (c) {
          input_decls.push_back("const " + tensor_text(*c));
          key.dtypes.push_back(c->dtype);
          key.shapes.push_back(c->dims);
        } else {
          const ValueType t = type_of(in);
          input_decls.push_back("input");
          key.dtypes.push_back(t.dtype);
          key.shapes.push_back(t.shape.value_or(std::vector<int64_t>{}));
          key.has_shapes = key.has_shapes && t.shape.has_value();
        }
      }
      text += "$" + std::to_string(it->second);
    }
    text += ")\n";
  }

  // Outputs: values of the set read by a node outside it, or graph outputs.
  std::set<std::string> read_outside;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!members.count(i))
      for (const std::string& in : graph.nodes[i].inputs) read_outside.insert(in);
  for (const ValueInfo& out : graph.outputs) read_outside.insert(out.name);
  std::string outputs;
  for (size_t i = 0; i < key.nodes.size(); ++i) {
    const auto& outs = graph.nodes[key.nodes[i]].outputs;
    for (size_t k = 0; k < outs.size(); ++k)
      if (!outs[k].empty() && read_outside.count(outs[k])) {
        outputs += (outputs.empty() ? "" : ",") + ("%" + std::to_string(i) + "." + std::to_string(k));
        key.outputs.push_back(outs[k]);
      }
  }

  std::string header = "inputs:";
  for (size_t k = 0; k < input_decls.size(); ++k)
    header += (k ? "," : "") + ("$" + std::to_string(k) + "=" + input_decls[k]);
  key.structure = header + "\n" + text + "outputs:" + outputs;
  return key;
}

}  // namespace ak::models
