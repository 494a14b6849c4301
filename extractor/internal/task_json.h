#pragma once
/// task.json (schema autokernel.task/1, every field in docs/extractor.md). Torch-free;
/// nlohmann stays in task_json.cpp.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "extractor/internal/axes.h"
#include "models/graph.h"
#include "verifier/tolerance.h"

namespace ak::extractor::internal {

/// One kernel input or output.
struct TensorEntry {
  std::string name;
  models::DType dtype = models::DType::kUndefined;
  std::vector<int64_t> dims;
  std::vector<std::string> axes;  ///< axis names, parallel to dims
  std::string file;               ///< "inputs/0_x.pb"
  /// random_inputs: "normal", "int" (with upper_bound), "ones", "bool", "captured".
  std::string fill;
  int64_t upper_bound = 0;
};

/// Everything task.json says.
struct TaskRecord {
  std::string name, op_type, kind, description;
  std::vector<Axis> axes;
  std::vector<TensorEntry> inputs, outputs;
  std::vector<std::string> tags;
  std::string model;
  std::vector<const models::Node*> nodes;  ///< source nodes (attributes are read from them)
  /// Values kept inside the subgraph (scalars, shape metadata), by value name.
  const std::map<std::string, models::TensorData>* constants = nullptr;
  int rank = 0;
  double flops = 0, bytes = 0;
  std::string op_class;
  double latency_us = 0, share = 0;
  std::string device, device_name, timing_source;
  verifier::Tolerance tolerance;
  std::string target_device, target_arch;
  uint64_t seed = 0;
  std::string starter_file, starter_template;
};

/// The task.json text (pretty-printed, fields in documented order).
std::string task_json(const TaskRecord& record);

}  // namespace ak::extractor::internal
