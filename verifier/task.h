#pragma once
/// A task directory as `autokernel extract` writes it (docs/extractor.md), read back for
/// judging candidates: the kernel's inputs and outputs with concrete shapes, which axes
/// may vary, the captured inputs and reference outputs, the tolerance and the target.
/// Torch-free.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"
#include "verifier/tolerance.h"

namespace ak::verifier {

/// One kernel argument (an input or an output) of a task.
struct TaskTensor {
  std::string name;
  models::DType dtype = models::DType::kUndefined;
  std::vector<std::string> axes;   ///< axis name per dimension
  std::vector<int64_t> dims;       ///< the axes' values in the task
  std::filesystem::path file;      ///< captured input / reference output (absolute)
  std::string fill = "normal";     ///< random inputs: "normal", "int", "ones", "bool" or "captured" (keep the file's values)
  std::optional<int64_t> int_upper_bound;
};

struct Task {
  std::filesystem::path dir;
  std::string name;
  std::string op_type;   ///< "Softmax", "fused:layer_norm", ...
  std::string op_class;  ///< the cost model's class ("elementwise", "matmul", ...)
  std::string attributes_json = "{}";
  std::vector<std::string> source_nodes;
  std::string source_model;
  std::vector<TaskTensor> inputs, outputs;  ///< in kernel-argument order
  std::vector<std::string> var_axes;        ///< names of the axes that may change
  Tolerance tolerance;
  std::string device = "cpu";  ///< "cpu" or "cuda"
  std::string arch = "cpu";
  double flops = 0, bytes = 0;
  double baseline_latency_us = 0;
  uint64_t seed = 0;
  std::filesystem::path subgraph;  ///< absolute path of subgraph.onnx

  /// Whether dimension `dim` of `tensor` is on a var axis.
  bool is_var(const TaskTensor& tensor, size_t dim) const;
};

/// Reads `dir`/task.json (or `dir` itself when it is the file). Every problem is one line
/// naming the file and the field.
Result<Task> load_task(const std::filesystem::path& dir);

}  // namespace ak::verifier
