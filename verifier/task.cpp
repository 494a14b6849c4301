#include "verifier/task.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ak::verifier {

bool Task::is_var(const TaskTensor& tensor, size_t dim) const {
  return dim < tensor.axes.size() &&
         std::find(var_axes.begin(), var_axes.end(), tensor.axes[dim]) != var_axes.end();
}

namespace {

using nlohmann::ordered_json;

Status read_tensors(const ordered_json& list, const ordered_json& axes, const std::filesystem::path& dir,
                    const std::string& where, std::vector<TaskTensor>* out) {
  if (!list.is_object() || list.empty()) return invalid_input(where + " must be a non-empty object {name: {shape, dtype}}");
  for (const auto& [name, spec] : list.items()) {
    const std::string at = where + "." + name;
    if (!spec.is_object()) return invalid_input(at + " must be an object");
    TaskTensor t;
    t.name = name;
    auto dtype = spec.find("dtype");
    if (dtype == spec.end() || !dtype->is_string()) return invalid_input(at + ": missing string \"dtype\"");
    auto parsed = models::parse_dtype(dtype->get<std::string>());
    if (!parsed) return invalid_input(at + ": unknown dtype '" + dtype->get<std::string>() + "'");
    t.dtype = *parsed;
    auto shape = spec.find("shape");
    if (shape == spec.end() || !shape->is_array()) return invalid_input(at + ": missing array \"shape\"");
    for (const auto& dim : *shape) {
      if (dim.is_number_integer()) {
        t.axes.push_back(std::to_string(dim.get<int64_t>()));
        t.dims.push_back(dim.get<int64_t>());
        continue;
      }
      if (!dim.is_string()) return invalid_input(at + ": a dimension must be an axis name or an integer");
      const std::string axis = dim.get<std::string>();
      auto a = axes.find(axis);
      if (a == axes.end() || !a->is_object() || !a->contains("value") || !(*a)["value"].is_number_integer())
        return invalid_input(at + ": axis '" + axis + "' has no integer value in \"axes\"");
      t.axes.push_back(axis);
      t.dims.push_back((*a)["value"].get<int64_t>());
    }
    if (auto file = spec.find("file"); file != spec.end() && file->is_string()) t.file = dir / file->get<std::string>();
    out->push_back(std::move(t));
  }
  return Status::ok();
}

}  // namespace

Result<Task> load_task(const std::filesystem::path& path) {
  const bool is_dir = std::filesystem::is_directory(path);
  const std::filesystem::path file = is_dir ? path / "task.json" : path;
  if (!std::filesystem::exists(file)) return invalid_input(file.string() + " does not exist (expected a task directory from `autokernel extract`)");
  std::ifstream in(file);
  ordered_json j = ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
  const std::string where = file.string();
  if (j.is_discarded() || !j.is_object()) return invalid_input(where + ": not a JSON object");

  Task task;
  task.dir = std::filesystem::absolute(file.parent_path());
  auto string_field = [&](const char* key, std::string* out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      if (required) return invalid_input(where + ": missing string field \"" + key + "\"");
      return Status::ok();
    }
    *out = it->get<std::string>();
    return Status::ok();
  };
  AK_RETURN_IF_ERROR(string_field("name", &task.name, true));
  AK_RETURN_IF_ERROR(string_field("op_type", &task.op_type, true));
  AK_RETURN_IF_ERROR(string_field("op_class", &task.op_class, false));
  if (task.op_class.empty()) task.op_class = "other";
  std::string subgraph = "subgraph.onnx";
  AK_RETURN_IF_ERROR(string_field("subgraph", &subgraph, false));
  task.subgraph = task.dir / subgraph;

  const ordered_json axes = j.value("axes", ordered_json::object());
  if (!axes.is_object()) return invalid_input(where + ": \"axes\" must be an object");
  for (const auto& [name, axis] : axes.items())
    if (axis.is_object() && axis.value("type", "") == "var") task.var_axes.push_back(name);
  AK_RETURN_IF_ERROR(read_tensors(j.value("inputs", ordered_json()), axes, task.dir, where + ": inputs", &task.inputs));
  AK_RETURN_IF_ERROR(read_tensors(j.value("outputs", ordered_json()), axes, task.dir, where + ": outputs", &task.outputs));

  if (auto random = j.find("random_inputs"); random != j.end() && random->is_object()) {
    task.seed = random->value("seed", uint64_t{0});
    const ordered_json fills = random->value("inputs", ordered_json::object());
    for (TaskTensor& t : task.inputs) {
      auto f = fills.find(t.name);
      if (f == fills.end() || !f->is_object()) continue;
      t.fill = f->value("fill", std::string("normal"));
      if (f->contains("upper_bound") && (*f)["upper_bound"].is_number_integer())
        t.int_upper_bound = (*f)["upper_bound"].get<int64_t>();
    }
  }
  if (auto tol = j.find("tolerance"); tol != j.end() && tol->is_object()) {
    task.tolerance.atol = tol->value("atol", 0.0);
    task.tolerance.rtol = tol->value("rtol", 0.0);
    task.tolerance.min_matched_ratio = tol->value("matched_ratio", 1.0);
  } else {
    task.tolerance = default_tolerance(task.outputs.front().dtype, task.op_class);
  }
  if (auto target = j.find("target"); target != j.end() && target->is_object()) {
    task.device = target->value("device", std::string("cpu"));
    task.arch = target->value("arch", std::string("cpu"));
  }
  if (task.device != "cpu" && task.device.rfind("cuda", 0) != 0)
    return invalid_input(where + ": target.device must be cpu or cuda, not '" + task.device + "'");
  task.flops = j.value("flops", 0.0);
  task.bytes = j.value("bytes", 0.0);
  if (auto baseline = j.find("baseline"); baseline != j.end() && baseline->is_object())
    task.baseline_latency_us = baseline->value("latency_us", 0.0);
  if (auto attributes = j.find("attributes"); attributes != j.end() && attributes->is_object())
    task.attributes_json = attributes->dump();
  if (auto source = j.find("source"); source != j.end() && source->is_object()) {
    task.source_model = source->value("model", std::string());
    if (auto nodes = source->find("nodes"); nodes != source->end() && nodes->is_array())
      for (const auto& n : *nodes)
        if (n.is_string()) task.source_nodes.push_back(n.get<std::string>());
  }
  if (!std::filesystem::exists(task.subgraph)) return invalid_input(where + ": " + task.subgraph.string() + " does not exist");
  for (const auto* list : {&task.inputs, &task.outputs})
    for (const TaskTensor& t : *list)
      if (t.file.empty() || !std::filesystem::exists(t.file))
        return invalid_input(where + ": '" + t.name + "' has no data file (" + t.file.string() + ")");
  return task;
}

}  // namespace ak::verifier
