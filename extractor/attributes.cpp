// task.json's "attributes" (docs/extractor.md documents the format).
#include "extractor/internal/attributes.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "models/fusion.h"

namespace ak::extractor::internal {

namespace {

using nlohmann::ordered_json;

/// The shortest decimal that reads back as the same float (1e-05, not 9.99999974737875e-06).
double shortest(float f) {
  char text[32];
  for (int precision = 6; precision <= 9; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, static_cast<double>(f));
    if (std::strtof(text, nullptr) == f) break;
  }
  return std::strtod(text, nullptr);
}

/// A tensor attribute as {dtype, shape[, values]}: values only for small numeric tensors.
ordered_json tensor_summary(const models::TensorData& t) {
  ordered_json j;
  j["dtype"] = models::dtype_name(t.dtype);
  j["shape"] = t.dims;
  constexpr int64_t kMaxValues = 16;
  if (t.numel() > kMaxValues || t.bytes.data == nullptr) return j;
  ordered_json values = ordered_json::array();
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype) {
      case models::DType::kFloat32: values.push_back(shortest(t.data<float>()[i])); break;
      case models::DType::kFloat64: values.push_back(t.data<double>()[i]); break;
      case models::DType::kFloat16: values.push_back(shortest(models::half_to_float(t.data<uint16_t>()[i]))); break;
      case models::DType::kBFloat16: values.push_back(shortest(models::bfloat16_to_float(t.data<uint16_t>()[i]))); break;
      case models::DType::kInt64: values.push_back(t.data<int64_t>()[i]); break;
      case models::DType::kInt32: values.push_back(t.data<int32_t>()[i]); break;
      case models::DType::kInt8: values.push_back(t.data<int8_t>()[i]); break;
      case models::DType::kUInt8: values.push_back(t.data<uint8_t>()[i]); break;
      case models::DType::kBool: values.push_back(t.data<uint8_t>()[i] != 0); break;
      default: return j;
    }
  }
  j["values"] = std::move(values);
  return j;
}

ordered_json attribute_value(const models::Attribute& a) {
  using Type = models::Attribute::Type;
  switch (a.type) {
    case Type::kFloat: return shortest(a.f);
    case Type::kInt: return a.i;
    case Type::kString: return a.s;
    case Type::kTensor: return tensor_summary(a.t);
    case Type::kGraph: return "<graph>";
    case Type::kFloats: {
      ordered_json v = ordered_json::array();
      for (float f : a.floats) v.push_back(shortest(f));
      return v;
    }
    case Type::kInts: return a.ints;
    case Type::kStrings: return a.strings;
    case Type::kTensors: {
      ordered_json v = ordered_json::array();
      for (const auto& t : a.tensors) v.push_back(tensor_summary(t));
      return v;
    }
    case Type::kGraphs: return ordered_json::array({"<graphs>"});
    case Type::kUndefined: break;
  }
  return nullptr;
}

/// A scalar constant's value (first element), or null for anything else.
ordered_json scalar_value(const models::TensorData& t) {
  if (t.numel() != 1) return nullptr;
  switch (t.dtype) {
    case models::DType::kFloat32: return *t.data<float>();
    case models::DType::kFloat64: return *t.data<double>();
    case models::DType::kInt64: return *t.data<int64_t>();
    case models::DType::kInt32: return *t.data<int32_t>();
    default: return nullptr;
  }
}

ordered_json attributes_of(const models::Node& n);

/// A group's structure without names, so the same pattern in another layer or model has
/// the same workload signature in the memory: per node in order, its op type, attributes
/// and where each input comes from ("in<k>": kernel input k, "node<j>:<o>": output o of
/// the group's node j, a number: a scalar constant, "const": a larger constant).
ordered_json pattern_of(const std::vector<const models::Node*>& nodes, const std::vector<std::string>& kernel_inputs,
                        const std::map<std::string, models::TensorData>* constants) {
  std::map<std::string, std::string> source;
  for (size_t k = 0; k < kernel_inputs.size(); ++k) source[kernel_inputs[k]] = "in" + std::to_string(k);
  ordered_json pattern = ordered_json::array();
  for (size_t j = 0; j < nodes.size(); ++j) {
    const models::Node& n = *nodes[j];
    ordered_json inputs = ordered_json::array();
    for (const std::string& in : n.inputs) {
      if (in.empty()) {
        inputs.push_back(nullptr);
      } else if (auto it = source.find(in); it != source.end()) {
        inputs.push_back(it->second);
      } else if (constants != nullptr && constants->count(in)) {
        ordered_json v = scalar_value(constants->at(in));
        inputs.push_back(v.is_null() ? ordered_json("const") : v);
      } else {
        inputs.push_back("const");
      }
    }
    for (size_t o = 0; o < n.outputs.size(); ++o)
      if (!n.outputs[o].empty()) source[n.outputs[o]] = "node" + std::to_string(j) + ":" + std::to_string(o);
    pattern.push_back({{"op", n.domain.empty() ? n.op_type : n.domain + "." + n.op_type},
                       {"attributes", attributes_of(n)},
                       {"inputs", std::move(inputs)}});
  }
  return pattern;
}

ordered_json attributes_of(const models::Node& n) {
  ordered_json j = ordered_json::object();
  // A fused node's list of the nodes it replaced names them: leaving it out keeps the
  // attributes equal across layers (the memory keys on them; source.nodes has the names).
  for (const auto& a : n.attributes)
    if (a.name != models::kFusedNodesAttribute) j[a.name] = attribute_value(a);
  return j;
}

}  // namespace

std::string attributes_json(const std::vector<const models::Node*>& nodes, bool single_node,
                            const std::vector<std::string>& inputs,
                            const std::map<std::string, models::TensorData>* constants) {
  if (single_node && nodes.size() == 1) return attributes_of(*nodes.front()).dump();
  return ordered_json{{"pattern", pattern_of(nodes, inputs, constants)}}.dump();
}

}  // namespace ak::extractor::internal
