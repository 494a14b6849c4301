// task.json, schema autokernel.task/1: the one reader and writer (docs/extractor.md
// documents every field).
#include "kernels/task.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/internal/json_reader.h"
#include "kernels/tensor.h"

namespace ak::kernels {

bool Task::is_cuda() const { return target.device.rfind("cuda", 0) == 0; }

std::vector<std::string> Task::var_axes() const {
  std::vector<std::string> names;
  for (const TaskAxis& a : axes)
    if (a.var) names.push_back(a.name);
  return names;
}

bool Task::is_var(const TaskTensor& tensor, size_t dim) const {
  if (dim >= tensor.axes.size()) return false;
  return std::any_of(axes.begin(), axes.end(), [&](const TaskAxis& a) { return a.var && a.name == tensor.axes[dim]; });
}

std::filesystem::path Task::file_path(const TaskTensor& tensor) const { return dir / tensor.file; }

std::filesystem::path Task::subgraph_path() const { return dir / subgraph; }

namespace {

using nlohmann::ordered_json;
using internal::Reader;

const char* const kFills[] = {"normal", "int", "ones", "bool", "captured"};

bool known_fill(const std::string& fill) {
  return std::find(std::begin(kFills), std::end(kFills), fill) != std::end(kFills);
}

/// The AK_DTYPE_* code of a dtype name as task.json writes it (kernels::dtype_name's
/// spelling, plus "float" for float32 as ONNX spells it); nullopt for anything else.
std::optional<int32_t> dtype_code(const std::string& name) {
  if (name == "float") return AK_DTYPE_FLOAT;
  for (int32_t code = AK_DTYPE_FLOAT; code <= AK_DTYPE_BFLOAT16; ++code)
    if (dtype_name(code) == name) return code;
  return std::nullopt;
}

bool is_integer_text(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

Status read_tensors(const Reader& r, const ordered_json& j, const char* key, const std::vector<TaskAxis>& axes,
                    std::vector<TaskTensor>* out) {
  AK_ASSIGN_OR_RETURN(const ordered_json* list, r.object(j, "", key));
  if (list == nullptr || list->empty()) return r.error(key, "missing or empty (an object {name: {shape, dtype, file}})");
  for (const auto& [name, spec] : list->items()) {
    const std::string at = std::string(key) + "." + name;
    if (!spec.is_object()) return r.error(at, "must be an object {shape, dtype, file}");
    TaskTensor t;
    t.name = name;
    std::string dtype;
    AK_RETURN_IF_ERROR(r.string(spec, at, "dtype", &dtype, true));
    auto code = dtype_code(dtype);
    if (!code) return r.error(at + ".dtype", "unknown dtype '" + dtype + "'");
    t.dtype = *code;
    auto shape = spec.find("shape");
    if (shape == spec.end() || !shape->is_array()) return r.error(at + ".shape", "missing (an array of axis names)");
    for (const auto& dim : *shape) {
      if (dim.is_number_integer() && dim.get<int64_t>() >= 0) {
        t.axes.push_back(std::to_string(dim.get<int64_t>()));
        t.dims.push_back(dim.get<int64_t>());
        continue;
      }
      if (!dim.is_string()) return r.error(at + ".shape", "a dimension must be an axis name or a non-negative integer");
      const std::string axis = dim.get<std::string>();
      auto a = std::find_if(axes.begin(), axes.end(), [&](const TaskAxis& x) { return x.name == axis; });
      if (a == axes.end()) return r.error(at + ".shape", "axis '" + axis + "' is not in \"axes\"");
      t.axes.push_back(axis);
      t.dims.push_back(a->value);
    }
    AK_RETURN_IF_ERROR(r.string(spec, at, "file", &t.file, false));
    out->push_back(std::move(t));
  }
  return Status::ok();
}

Status check_writable(const Task& task) {
  auto bad = [&](const std::string& what) { return invalid_input("task '" + task.name + "': " + what); };
  if (task.name.empty()) return invalid_input("a task needs a name");
  if (task.op_type.empty()) return bad("no op_type");
  if (task.inputs.empty() || task.outputs.empty()) return bad("a task needs inputs and outputs");
  for (const auto* list : {&task.inputs, &task.outputs})
    for (const TaskTensor& t : *list) {
      if (t.axes.size() != t.dims.size()) return bad("tensor '" + t.name + "' has " + std::to_string(t.axes.size()) +
                                                     " axis names for " + std::to_string(t.dims.size()) + " dims");
      for (size_t d = 0; d < t.dims.size(); ++d) {
        auto a = std::find_if(task.axes.begin(), task.axes.end(), [&](const TaskAxis& x) { return x.name == t.axes[d]; });
        const bool literal = a == task.axes.end() && is_integer_text(t.axes[d]) && std::to_string(t.dims[d]) == t.axes[d];
        if (!literal && (a == task.axes.end() || a->value != t.dims[d]))
          return bad("tensor '" + t.name + "' dimension " + std::to_string(d) + " (" + t.axes[d] + "=" +
                     std::to_string(t.dims[d]) + ") is not an axis of that size");
      }
      if (!dtype_code(dtype_name(t.dtype))) return bad("tensor '" + t.name + "' has no known dtype");
    }
  if (task.workload && (task.workload->hash.empty() || task.workload->instances.empty()))
    return bad("a workload needs a hash and at least one instance");
  const ordered_json attributes = ordered_json::parse(task.attributes_json, nullptr, /*allow_exceptions=*/false);
  if (attributes.is_discarded() || !attributes.is_object()) return bad("attributes are not a JSON object");
  return Status::ok();
}

ordered_json tensors_json(const std::vector<TaskTensor>& tensors, const std::vector<TaskAxis>& axes) {
  ordered_json j = ordered_json::object();
  for (const TaskTensor& t : tensors) {
    ordered_json shape = ordered_json::array();
    for (size_t d = 0; d < t.axes.size(); ++d) {
      const bool named = std::any_of(axes.begin(), axes.end(), [&](const TaskAxis& a) { return a.name == t.axes[d]; });
      if (named) shape.push_back(t.axes[d]);
      else shape.push_back(t.dims[d]);
    }
    j[t.name] = {{"shape", std::move(shape)}, {"dtype", dtype_name(t.dtype)}, {"file", t.file}};
  }
  return j;
}

}  // namespace

Result<Task> read_task(const std::filesystem::path& path) {
  const bool is_dir = std::filesystem::is_directory(path);
  const std::filesystem::path file = is_dir ? path / "task.json" : path;
  if (!std::filesystem::exists(file))
    return invalid_input(file.string() + " does not exist (expected a task directory from `autokernel extract`)");
  std::ifstream in(file);
  if (!in) return invalid_input("cannot read " + file.string());
  const ordered_json j = ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
  const Reader r(file.string());
  if (j.is_discarded() || !j.is_object()) return invalid_input(file.string() + ": not a JSON object");

  Task task;
  task.dir = std::filesystem::absolute(file).parent_path();
  std::string schema = kTaskSchema;
  AK_RETURN_IF_ERROR(r.string(j, "", "schema", &schema, false));
  if (schema != kTaskSchema)
    return r.error("schema", "'" + schema + "' is not supported (this autokernel reads " + kTaskSchema + ")");
  AK_RETURN_IF_ERROR(r.string(j, "", "name", &task.name, true));
  AK_RETURN_IF_ERROR(r.string(j, "", "op_type", &task.op_type, true));
  AK_RETURN_IF_ERROR(r.string(j, "", "description", &task.description, false));

  AK_ASSIGN_OR_RETURN(const ordered_json* axes, r.object(j, "", "axes"));
  if (axes != nullptr)
    for (const auto& [name, axis] : axes->items()) {
      const std::string at = "axes." + name;
      if (!axis.is_object()) return r.error(at, "must be an object {type, value}");
      TaskAxis a;
      a.name = name;
      std::string type = "const";
      AK_RETURN_IF_ERROR(r.string(axis, at, "type", &type, false));
      if (type != "var" && type != "const") return r.error(at + ".type", "must be \"var\" or \"const\", not '" + type + "'");
      a.var = type == "var";
      if (!axis.contains("value")) return r.error(at + ".value", "missing (a non-negative integer)");
      AK_RETURN_IF_ERROR(r.integer(axis, at, "value", &a.value));
      if (a.value < 0) return r.error(at + ".value", "must not be negative");
      task.axes.push_back(std::move(a));
    }
  AK_RETURN_IF_ERROR(read_tensors(r, j, "inputs", task.axes, &task.inputs));
  AK_RETURN_IF_ERROR(read_tensors(r, j, "outputs", task.axes, &task.outputs));
  AK_RETURN_IF_ERROR(r.strings(j, "", "tags", &task.tags));

  AK_ASSIGN_OR_RETURN(const ordered_json* source, r.object(j, "", "source"));
  if (source != nullptr) {
    AK_RETURN_IF_ERROR(r.string(*source, "source", "model", &task.source.model, false));
    AK_RETURN_IF_ERROR(r.strings(*source, "source", "nodes", &task.source.nodes));
    AK_RETURN_IF_ERROR(r.strings(*source, "source", "op_types", &task.source.op_types));
    int64_t rank = 0;
    AK_RETURN_IF_ERROR(r.integer(*source, "source", "rank", &rank));
    task.source.rank = static_cast<int>(rank);
  }
  AK_ASSIGN_OR_RETURN(const ordered_json* attributes, r.object(j, "", "attributes"));
  if (attributes != nullptr) task.attributes_json = attributes->dump();
  AK_RETURN_IF_ERROR(r.number(j, "", "flops", &task.flops));
  AK_RETURN_IF_ERROR(r.number(j, "", "bytes", &task.bytes));
  AK_RETURN_IF_ERROR(r.string(j, "", "op_class", &task.op_class, false));
  if (task.op_class.empty()) task.op_class = "other";

  AK_ASSIGN_OR_RETURN(const ordered_json* baseline, r.object(j, "", "baseline"));
  if (baseline != nullptr) {
    AK_RETURN_IF_ERROR(r.number(*baseline, "baseline", "latency_us", &task.baseline.latency_us));
    AK_RETURN_IF_ERROR(r.number(*baseline, "baseline", "share", &task.baseline.share));
    AK_RETURN_IF_ERROR(r.string(*baseline, "baseline", "device", &task.baseline.device, false));
    AK_RETURN_IF_ERROR(r.string(*baseline, "baseline", "device_name", &task.baseline.device_name, false));
    AK_RETURN_IF_ERROR(r.string(*baseline, "baseline", "timing_source", &task.baseline.timing_source, false));
  }

  AK_ASSIGN_OR_RETURN(const ordered_json* tolerance, r.object(j, "", "tolerance"));
  if (tolerance != nullptr) {
    AK_RETURN_IF_ERROR(r.number(*tolerance, "tolerance", "atol", &task.tolerance.atol));
    AK_RETURN_IF_ERROR(r.number(*tolerance, "tolerance", "rtol", &task.tolerance.rtol));
    AK_RETURN_IF_ERROR(r.number(*tolerance, "tolerance", "matched_ratio", &task.tolerance.min_matched_ratio));
    if (task.tolerance.atol < 0 || task.tolerance.rtol < 0) return r.error("tolerance", "atol and rtol must not be negative");
    if (task.tolerance.min_matched_ratio < 0 || task.tolerance.min_matched_ratio > 1)
      return r.error("tolerance.matched_ratio", "must be in [0, 1]");
  } else {
    task.tolerance = default_tolerance(task.outputs.front().dtype, task.op_class);
  }

  AK_ASSIGN_OR_RETURN(const ordered_json* target, r.object(j, "", "target"));
  if (target != nullptr) {
    AK_RETURN_IF_ERROR(r.string(*target, "target", "device", &task.target.device, false));
    AK_RETURN_IF_ERROR(r.string(*target, "target", "arch", &task.target.arch, false));
    AK_RETURN_IF_ERROR(r.boolean(*target, "target", "allow_tf32", &task.target.allow_tf32));
  }
  if (task.target.device != "cpu" && !task.is_cuda())
    return r.error("target.device", "must be cpu or cuda, not '" + task.target.device + "'");

  AK_ASSIGN_OR_RETURN(const ordered_json* random, r.object(j, "", "random_inputs"));
  if (random != nullptr) {
    if (random->contains("seed") && !(*random)["seed"].is_number_unsigned())
      return r.error("random_inputs.seed", "must be a non-negative integer");
    task.seed = random->value("seed", uint64_t{0});
    AK_ASSIGN_OR_RETURN(const ordered_json* fills, r.object(*random, "random_inputs", "inputs"));
    for (TaskTensor& t : task.inputs) {
      if (fills == nullptr || !fills->contains(t.name)) continue;
      const std::string at = "random_inputs.inputs." + t.name;
      const ordered_json& f = (*fills)[t.name];
      AK_RETURN_IF_ERROR(r.string(f, at, "fill", &t.fill, false));
      if (!known_fill(t.fill)) return r.error(at + ".fill", "unknown fill '" + t.fill + "'");
      if (f.contains("upper_bound")) {
        int64_t bound = 0;
        AK_RETURN_IF_ERROR(r.integer(f, at, "upper_bound", &bound));
        if (bound < 1) return r.error(at + ".upper_bound", "must be at least 1");
        t.upper_bound = bound;
      }
    }
  }
  AK_RETURN_IF_ERROR(r.string(j, "", "subgraph", &task.subgraph, false));
  if (task.subgraph.empty()) task.subgraph = "subgraph.onnx";
  AK_ASSIGN_OR_RETURN(const ordered_json* starter, r.object(j, "", "starter"));
  if (starter != nullptr) {
    AK_RETURN_IF_ERROR(r.string(*starter, "starter", "file", &task.starter.file, false));
    AK_RETURN_IF_ERROR(r.string(*starter, "starter", "template", &task.starter.template_name, false));
  }
  AK_ASSIGN_OR_RETURN(const ordered_json* workload, r.object(j, "", "workload"));
  if (workload != nullptr) {
    TaskWorkload w;
    AK_RETURN_IF_ERROR(r.string(*workload, "workload", "hash", &w.hash, true));
    AK_RETURN_IF_ERROR(r.string(*workload, "workload", "structure_hash", &w.structure_hash, false));
    AK_RETURN_IF_ERROR(r.string(*workload, "workload", "structure", &w.structure, false));
    AK_RETURN_IF_ERROR(r.number(*workload, "workload", "share", &w.share));
    auto instances = workload->find("instances");
    if (instances == workload->end() || !instances->is_array() || instances->empty())
      return r.error("workload.instances", "missing or empty (an array of arrays of node names)");
    for (const auto& instance : *instances) {
      if (!instance.is_array() || instance.empty())
        return r.error("workload.instances", "each instance must be a non-empty array of node names");
      std::vector<std::string> names;
      for (const auto& name : instance) {
        if (!name.is_string()) return r.error("workload.instances", "node names must be strings");
        names.push_back(name.get<std::string>());
      }
      w.instances.push_back(std::move(names));
    }
    task.workload = std::move(w);
  }
  return task;
}

Status write_task(const std::filesystem::path& dir, const Task& t) {
  AK_RETURN_IF_ERROR(check_writable(t));
  ordered_json j;
  j["schema"] = kTaskSchema;
  j["name"] = t.name;
  j["op_type"] = t.op_type;
  j["description"] = t.description;
  ordered_json axes = ordered_json::object();
  for (const TaskAxis& a : t.axes) axes[a.name] = {{"type", a.var ? "var" : "const"}, {"value", a.value}};
  j["axes"] = std::move(axes);
  j["inputs"] = tensors_json(t.inputs, t.axes);
  j["outputs"] = tensors_json(t.outputs, t.axes);
  j["tags"] = t.tags;
  j["source"] = {{"model", t.source.model}, {"nodes", t.source.nodes}, {"op_types", t.source.op_types},
                 {"rank", t.source.rank}};
  j["attributes"] = ordered_json::parse(t.attributes_json);
  j["flops"] = t.flops;
  j["bytes"] = t.bytes;
  j["op_class"] = t.op_class;
  j["baseline"] = {{"latency_us", t.baseline.latency_us},
                   {"share", t.baseline.share},
                   {"device", t.baseline.device},
                   {"device_name", t.baseline.device_name},
                   {"timing_source", t.baseline.timing_source}};
  j["tolerance"] = {{"atol", t.tolerance.atol}, {"rtol", t.tolerance.rtol}, {"matched_ratio", t.tolerance.min_matched_ratio}};
  j["target"] = {{"device", t.target.device}, {"arch", t.target.arch}, {"allow_tf32", t.target.allow_tf32}};
  ordered_json fills = ordered_json::object();
  for (const TaskTensor& e : t.inputs) {
    ordered_json f = {{"fill", e.fill}};
    if (e.upper_bound) f["upper_bound"] = *e.upper_bound;
    fills[e.name] = std::move(f);
  }
  j["random_inputs"] = {{"seed", t.seed}, {"inputs", std::move(fills)}};
  j["subgraph"] = t.subgraph;
  j["starter"] = {{"file", t.starter.file}, {"template", t.starter.template_name}};
  if (t.workload)
    j["workload"] = {{"hash", t.workload->hash},
                     {"structure_hash", t.workload->structure_hash},
                     {"share", t.workload->share},
                     {"instances", t.workload->instances},
                     {"structure", t.workload->structure}};

  return internal::write_json_file(dir / "task.json", j);
}

Status check_task_files(const Task& task) {
  const std::string where = (task.dir / "task.json").string();
  if (!std::filesystem::exists(task.subgraph_path()))
    return invalid_input(where + ": subgraph: " + task.subgraph_path().string() + " does not exist");
  for (const auto* list : {&task.inputs, &task.outputs})
    for (const TaskTensor& t : *list)
      if (t.file.empty() || !std::filesystem::exists(task.file_path(t)))
        return invalid_input(where + ": '" + t.name + "' has no data file (" + task.file_path(t).string() + ")");
  return Status::ok();
}

}  // namespace ak::kernels
