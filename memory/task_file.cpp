// A search query from a task directory's task.json (written by extractor/, FlashInfer
// Definition shape plus our fields). Fields read: op_type, inputs {name: {shape, dtype}}
// in file order, axes {name: {value}} to resolve named dimensions, attributes.
#include <fstream>
#include <nlohmann/json.hpp>

#include "memory/memory.h"

namespace ak::memory {

Result<Query> query_from_task(const std::filesystem::path& task_dir) {
  using nlohmann::ordered_json;
  const std::filesystem::path file =
      std::filesystem::is_directory(task_dir) ? task_dir / "task.json" : task_dir;
  std::ifstream in(file);
  if (!in) return invalid_input("cannot read " + file.string() + " (--task wants a task directory with task.json)");
  ordered_json task = ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
  const std::string name = file.string();
  if (task.is_discarded() || !task.is_object()) return invalid_input(name + ": not a JSON object");

  auto op_type = task.find("op_type");
  if (op_type == task.end() || !op_type->is_string() || op_type->get<std::string>().empty())
    return invalid_input(name + ": missing string field \"op_type\"");
  auto inputs = task.find("inputs");
  if (inputs == task.end() || !inputs->is_object() || inputs->empty())
    return invalid_input(name + ": missing object field \"inputs\" {name: {shape, dtype}}");
  const ordered_json* axes = nullptr;
  if (auto it = task.find("axes"); it != task.end() && it->is_object()) axes = &*it;

  WorkloadSpec spec;
  spec.op_type = op_type->get<std::string>();
  if (auto it = task.find("attributes"); it != task.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_input(name + ": \"attributes\" must be an object");
    spec.attributes_json = it->dump();
  }
  for (const auto& [input_name, input] : inputs->items()) {
    const std::string where = name + ": input '" + input_name + "'";
    if (!input.is_object()) return invalid_input(where + " must be an object {shape, dtype}");
    auto dtype = input.find("dtype");
    if (dtype == input.end() || !dtype->is_string()) return invalid_input(where + " has no string \"dtype\"");
    auto shape = input.find("shape");
    if (shape == input.end() || !shape->is_array()) return invalid_input(where + " has no array \"shape\"");
    std::vector<int64_t> dims;
    for (const auto& dim : *shape) {
      if (dim.is_number_integer() && dim.get<int64_t>() >= 0) {
        dims.push_back(dim.get<int64_t>());
        continue;
      }
      if (!dim.is_string()) return invalid_input(where + ": a dimension must be a non-negative integer or an axis name");
      // A named axis: {"M": {"type": "const", "value": 64}} or {"M": 64}.
      const std::string axis = dim.get<std::string>();
      const ordered_json* entry = nullptr;
      if (axes != nullptr)
        if (auto it = axes->find(axis); it != axes->end()) entry = &*it;
      const ordered_json* value = entry;
      if (entry != nullptr && entry->is_object()) {
        auto it = entry->find("value");
        value = it == entry->end() ? nullptr : &*it;
      }
      if (value == nullptr || !value->is_number_integer() || value->get<int64_t>() < 0)
        return invalid_input(where + ": axis '" + axis + "' has no concrete value in \"axes\"");
      dims.push_back(value->get<int64_t>());
    }
    spec.dtypes.push_back(dtype->get<std::string>());
    spec.shape.push_back(std::move(dims));
  }

  Query query;
  auto signature = canonical_signature(spec);
  if (!signature.is_ok()) return signature.status().with_context(name);
  query.signature = std::move(signature).value();
  query.op_type = spec.op_type;
  query.dtype = spec.dtypes.front();
  query.shape = std::move(spec.shape);
  return query;
}

}  // namespace ak::memory
