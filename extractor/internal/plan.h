#pragma once
/// Which values and nodes make up one task, decided from the executed graph alone (before
/// anything runs), and the standalone subgraph built from that decision. Torch-free.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/task.h"
#include "models/graph.h"
#include "profiler/hotspots.h"

namespace ak::extractor::internal {

/// The hotspot's nodes and the values that cross its boundary.
struct TaskPlan {
  const profiler::Hotspot* hotspot = nullptr;
  std::string name;     ///< the task directory's name: "<rank>_<slug>"
  std::string op_type;  ///< the node's op type (domain-qualified outside ai.onnx), or "fused:<kind>"
  std::vector<size_t> nodes;  ///< indices into the executed graph's nodes, in graph order
  /// Kernel inputs (the subgraph's graph inputs), in argument order. Starts in the order the
  /// hotspot reads them; the starter may reorder it to the order its template expects.
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;  ///< the subgraph's graph outputs
  /// Constants that stay inside the subgraph (integer-typed, or at most one element): by
  /// value name, the tensor, and the Constant node that makes it when it is not an
  /// initializer (copied into the subgraph).
  std::map<std::string, models::TensorData> constants;
  std::vector<size_t> constant_nodes;  ///< executed-graph indices of Constant nodes to copy
  /// The workload the task stands for (all its instances); nullopt for `--nodes` tasks.
  std::optional<kernels::TaskWorkload> workload;
};

/// "<rank, 2 digits>_<slug of the kind (or the node's op type) and the first node's name>",
/// e.g. "03_softmax_blocks_0_attn_Softmax". Only [A-Za-z0-9_], at most ~80 characters.
std::string task_dir_name(const profiler::Hotspot& hotspot, const models::Graph& graph);

/// Plans the task of `hotspot` in `graph` (the executed graph the profile indexes);
/// `groups` are the analysis' fusion groups (a group hotspot's inputs and outputs come from
/// its group). kUnsupported when the hotspot cannot stand alone (a node with subgraphs).
Result<TaskPlan> plan_task(const models::Graph& graph, const profiler::Hotspot& hotspot,
                           const std::vector<profiler::FusionGroup>& groups);

/// The tensor a Constant node makes (value, value_float(s), value_int(s)); nullopt for the
/// other forms (sparse, strings).
std::optional<models::TensorData> constant_node_tensor(const models::Node& node);

/// A declared tensor type: `dims` with the dimensions whose `axis_names` entry is a var
/// axis written as Dim::param.
struct ValueType {
  std::string name;
  models::DType dtype = models::DType::kUndefined;
  std::vector<int64_t> dims;
  std::vector<std::string> axis_names;  ///< parallel to dims
  std::vector<bool> axis_var;           ///< parallel to dims
};

/// The standalone model: the opsets and IR version of `executed`, the plan's Constant nodes
/// and hotspot nodes (attributes kept), constants as initializers, `inputs`/`outputs` as the
/// graph's inputs and outputs (in the order given).
models::Model build_subgraph(const models::Model& executed, const TaskPlan& plan, const std::vector<ValueType>& inputs,
                             const std::vector<ValueType>& outputs);

/// "x" -> "x"; "/blocks.0/attn/Softmax_output_0" -> "blocks_0_attn_Softmax_output_0": a
/// file-name-safe form of a value or node name (at most `max_length` characters).
std::string slug(const std::string& text, size_t max_length = 80);

}  // namespace ak::extractor::internal
