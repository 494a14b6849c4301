#pragma once
/// The Task: one standalone kernel task as `autokernel extract` writes it, task.json of a
/// task directory (schema autokernel.task/1, every field in docs/extractor.md). The one
/// reader and writer of that file: the extractor builds a Task and calls write_task, the
/// verifier judges candidates on a Task read with read_task, the bench path turns it into
/// the memory's workload description. Torch-free and protobuf-free (nlohmann stays in
/// task.cpp); dtypes are the kernel ABI's AK_DTYPE_* codes (ONNX TensorProto numbering,
/// the same values as models::DType).
///
/// A task directory holds, beside task.json, `subgraph.onnx` (the reference as an ONNX
/// model), `inputs/<i>_<name>.pb` (captured inputs) and `outputs/<i>_<name>.pb` (reference
/// outputs); task.json names them relative to the directory.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/tolerance.h"

namespace ak::kernels {

/// The schema id written into every task.json (and the only one read; a file without
/// "schema" is read as this version).
inline constexpr const char* kTaskSchema = "autokernel.task/1";

/// One named dimension of a task (FlashInfer's const/var axes).
struct TaskAxis {
  std::string name;
  bool var = false;   ///< varies with the model's symbolic input dimensions
  int64_t value = 0;  ///< its size in the captured run

  bool operator==(const TaskAxis&) const = default;
};

/// One kernel argument: an input or an output.
struct TaskTensor {
  std::string name;      ///< the ONNX value name (a graph input/output of subgraph.onnx)
  int32_t dtype = 0;     ///< AK_DTYPE_* code
  /// Axis name per dimension, parallel to `dims`. A dimension written in task.json as a bare
  /// integer gets its decimal text as its name (it is not an axis and never var).
  std::vector<std::string> axes;
  std::vector<int64_t> dims;  ///< the axes' values in the captured run
  std::string file;           ///< captured input / reference output, relative to the task dir ("inputs/0_x.pb")
  /// Inputs only (task.json random_inputs): how the verifier draws fresh values: "normal",
  /// "int" (in [0, upper_bound)), "ones", "bool", or "captured" (keep the file's values).
  std::string fill = "normal";
  std::optional<int64_t> upper_bound;  ///< "int" fills (written only when set)

  bool operator==(const TaskTensor&) const = default;
};

/// Where the task came from (task.json "source").
struct TaskSource {
  std::string model;                  ///< the model file as the user named it
  std::vector<std::string> nodes;     ///< node names in graph order
  std::vector<std::string> op_types;  ///< distinct, in order
  int rank = 0;                       ///< the hotspot's rank in the profile

  bool operator==(const TaskSource&) const = default;
};

/// The measured reference (task.json "baseline").
struct TaskBaseline {
  double latency_us = 0;  ///< median per iteration in the profile
  double share = 0;       ///< of model time, 0..1
  std::string device;     ///< "cpu", "cuda", "cuda:1"
  std::string device_name;
  std::string timing_source;  ///< "cupti" or "host"

  bool operator==(const TaskBaseline&) const = default;
};

/// What candidates are built for and run on (task.json "target").
struct TaskTarget {
  std::string device = "cpu";  ///< "cpu" or "cuda" (read: also "cuda:N")
  std::string arch = "cpu";    ///< "cpu" or a CUDA architecture ("sm_90a"); may be empty
  /// Whether float32 matmul/conv of the model ran with TF32 (`--tf32` at extraction): the
  /// reference outputs were computed so, and the roofline floor uses the TF32 peak.
  /// Optional in the file (absent: false), so older task.json files read unchanged.
  bool allow_tf32 = false;

  bool operator==(const TaskTarget&) const = default;
};

/// The starter kernel written beside task.json (task.json "starter").
struct TaskStarter {
  std::string file;           ///< "starter.cpp" or "starter.cu"
  std::string template_name;  ///< "elementwise_chain", "rowwise_softmax", ..., or "skeleton"

  bool operator==(const TaskStarter&) const = default;
};

/// The workload a task stands for (task.json "workload", optional): every hotspot of the
/// model that computes the same thing on the same shapes (models/workload.h), so that one
/// kernel serves all of them. The task's inputs are captured from the first instance.
struct TaskWorkload {
  std::string hash;            ///< models::WorkloadKey::hash(): structure, dtypes, shapes
  std::string structure_hash;  ///< models::WorkloadKey::structure_hash(): equal across shapes and dtypes
  std::string structure;       ///< the canonical, name-free structure text
  std::vector<std::vector<std::string>> instances;  ///< node names per instance, graph order; [0] is the captured one
  double share = 0;            ///< of model time, all instances together, 0..1

  bool operator==(const TaskWorkload&) const = default;
};

/// Everything task.json holds.
struct Task {
  /// The directory it was read from (absolute), where relative file names resolve.
  /// read_task sets it; write_task does not write it.
  std::filesystem::path dir;

  std::string name;         ///< the task directory's name, "<rank>_<slug>"
  std::string op_type;      ///< "Softmax", "com.autokernel.Attention", "fused:layer_norm", ...
  std::string description;
  std::vector<TaskAxis> axes;               ///< every axis name the tensors use, first-use order
  std::vector<TaskTensor> inputs, outputs;  ///< kernel-argument order
  std::vector<std::string> tags;
  TaskSource source;
  /// The ONNX attributes as a JSON object's text (a node's {attr: value}, or a group's
  /// {"pattern": [...]}); key order is kept.
  std::string attributes_json = "{}";
  double flops = 0, bytes = 0;   ///< the cost model's count for one call
  std::string op_class = "other";  ///< the cost model's class ("elementwise", "matmul", ...)
  TaskBaseline baseline;
  Tolerance tolerance;  ///< read: default_tolerance(first output, op_class) when absent
  TaskTarget target;
  uint64_t seed = 0;    ///< task.json random_inputs.seed
  std::string subgraph = "subgraph.onnx";  ///< relative to dir
  TaskStarter starter;
  /// Absent in files written before workloads (and for `extract --nodes` tasks).
  std::optional<TaskWorkload> workload;

  /// Whether the task runs on a CUDA device (target.device "cuda" or "cuda:N").
  bool is_cuda() const;
  /// The names of the var axes, in axis order.
  std::vector<std::string> var_axes() const;
  /// Whether dimension `dim` of `tensor` is on a var axis.
  bool is_var(const TaskTensor& tensor, size_t dim) const;
  /// dir / tensor.file.
  std::filesystem::path file_path(const TaskTensor& tensor) const;
  /// dir / subgraph.
  std::filesystem::path subgraph_path() const;

  /// Field-by-field equality (dir included).
  bool operator==(const Task&) const = default;
};

/// Reads `path`/task.json, or `path` itself when it is a file. Checks the format (schema,
/// required fields and their types, axis names that resolve, dtype names, fills); does not
/// check that the data files exist (check_task_files). Every problem is kInvalidInput, one
/// line naming the file and the field: "DIR/task.json: inputs.x: unknown dtype 'float33'".
Result<Task> read_task(const std::filesystem::path& path);

/// Writes `task` as `dir`/task.json (pretty-printed, fields in the documented order), via
/// a temporary file renamed into place. `dir` must exist. Fails (kInvalidInput) on a task
/// read_task would refuse: no name, op type, inputs or outputs, attributes that are not a
/// JSON object, or a tensor whose axes and dims differ in length.
Status write_task(const std::filesystem::path& dir, const Task& task);

/// kInvalidInput naming the first file task.json refers to that is missing: subgraph.onnx,
/// an input or an output file.
Status check_task_files(const Task& task);

}  // namespace ak::kernels
