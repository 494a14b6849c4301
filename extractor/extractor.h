#pragma once
/// extractor: standalone kernel tasks from a model's hotspots (what `autokernel extract`
/// runs).
///
/// For each of the top K workloads of a profile (profiler/workloads.h: the hotspots, nodes
/// or fusion groups of the executed graph, that compute the same thing on the same shapes;
/// one kernel serves all of them) it writes a task directory:
///
///     <out>/<rank>_<slug>/
///         task.json        the definition (kernels/task.h: kernels::write_task, docs/extractor.md)
///         subgraph.onnx    the hotspot's nodes as a model of their own
///         inputs/<i>_<name>.pb   the real values the model fed the hotspot (TensorProto)
///         outputs/<i>_<name>.pb  the subgraph's outputs on those inputs (the reference)
///         starter.cpp | starter.cu   a correct starter kernel (kernels/templates.h) or a skeleton
///
/// The task is made from the workload's first instance (in graph order) and lists every
/// instance in task.json "workload"; its share is theirs together, its baseline the
/// instances' median time. The inputs are captured from one extra run of the whole model on
/// the inputs the profile used; the reference outputs come from running subgraph.onnx with the runtime on the same
/// device and must equal the whole model's values (within the task's tolerance). Which
/// dimensions vary with the model's symbolic input dimensions is found by one more run per
/// symbolic dimension, with that dimension one larger.
///
/// Checking the starters is the verifier's (verifier/starter_check.h: the judge on each).
/// This header is torch-free. Thread-compatible: one call at a time per Session.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/templates.h"
#include "models/graph.h"
#include "profiler/hotspots.h"
#include "profiler/profile.h"

namespace ak::models {
class Session;
}

namespace ak::extractor {

/// One task directory that was written.
struct TaskSummary {
  int rank = 0;                       ///< the workload's rank in the profile (1 = largest payoff)
  std::filesystem::path dir;          ///< <out>/<rank>_<slug>
  std::string name;                   ///< the directory's name, also task.json's "name"
  std::string op_type;                ///< the node's op type, or "fused:<kind>"
  std::string starter_template;       ///< "elementwise_chain", "rowwise_softmax", ..., or "skeleton"
  std::string starter_file;           ///< "starter.cpp" or "starter.cu"
  double baseline_us = 0;             ///< measured time of one instance per iteration (their median)
  double share = 0;                   ///< of model time, every instance together, 0..1
  int instances = 1;                  ///< how many hotspots of the model the task stands for
  std::vector<std::string> inputs;    ///< kernel inputs, in argument order
  std::vector<std::string> outputs;
};

/// How to extract. Every field has a default except out_dir.
struct ExtractOptions {
  int top = 10;                       ///< how many workloads (>= 1), best ranked first
  std::filesystem::path out_dir;      ///< created if missing; task directories go inside
  std::string model_label;            ///< the model as the user named it (task.json source.model)
  uint64_t seed = 0;                  ///< task.json random_inputs.seed (the seed of the profile's random inputs)
  bool allow_tf32 = false;            ///< passed to the sessions that compute reference outputs
  profiler::ProfileOptions profile;   ///< for extract_model: warm-up, iterations, timing, progress
  /// target.arch of CUDA tasks, e.g. "sm_90a"; empty: detected with nvidia-smi (kernels/build.h).
  std::string cuda_arch;
  /// Instead of the top hotspots, one task made of exactly these nodes (names in the
  /// executed graph; `autokernel extract --nodes A,B,C`), e.g. a Softmax with the scale and
  /// mask before it. Its op_type is the node's for one node, "fused:elementwise_chain" for
  /// several elementwise nodes (which get the chain template), else "fused:custom".
  std::vector<std::string> nodes;
  /// Called after each task is written, in rank order.
  std::function<void(const TaskSummary&)> on_task;
  /// Called with one line for each thing worth telling the user that is not an error (a
  /// hotspot that could not be extracted, a symbolic dim the model cannot vary).
  std::function<void(const std::string&)> on_notice;
};

/// What an extraction produced.
struct ExtractReport {
  std::vector<TaskSummary> tasks;    ///< in rank order
  std::vector<std::string> notices;  ///< the lines passed to on_notice
  std::string timing_source;         ///< the profile's: "cupti" or "host"
  int64_t model_ns = 0;              ///< model time per iteration
};

/// Profiles `session` on `inputs` (host tensors, one per runtime input) with
/// profiler::profile_session and analyze (as `autokernel profile` does), then
/// extract_hotspots. Checks `options` (top >= 1, a writable out_dir) before profiling:
/// kInvalidInput naming the flag or the folder. A model that fails to run is the runtime's
/// error (kInvalidInput naming the node).
Result<ExtractReport> extract_model(models::Session& session, const std::vector<models::TensorData>& inputs,
                                    const ExtractOptions& options);

/// Writes the task directories of the top options.top workloads of `analysis`, a profile of
/// `session` on `inputs`. `profile` supplies the timing source for task.json. Runs the
/// whole model 1 + (number of symbolic input dims) more times. A hotspot that cannot be a
/// standalone task (control flow with subgraphs, non-tensor values) is skipped with a notice;
/// a subgraph whose outputs differ from the whole model's is a kInternal error naming the task.
Result<ExtractReport> extract_hotspots(models::Session& session, const std::vector<models::TensorData>& inputs,
                                       const profiler::Profile& profile, const profiler::Analysis& analysis,
                                       const ExtractOptions& options);

/// A task's template starter made again with chosen parameter values (`autokernel
/// template`, the optimizer's template search).
struct ConfiguredStarter {
  std::string template_name;        ///< task.json starter.template, e.g. "rowwise_softmax"
  kernels::TemplateKind kind = kernels::TemplateKind::kElementwise;  ///< whose parameters it takes
  kernels::Target target = kernels::Target::kCpu;  ///< the task's device
  std::string file;                 ///< the file extract wrote it as: "starter.cpp" or "starter.cu"
  std::string source;               ///< the complete candidate; its header comment names the configuration
};

/// The starter extract wrote into `task_dir` (the same choice: extract's own starter code,
/// for the task's device), generated with `config`'s parameter values (the rest at their
/// defaults; an empty config reproduces starter.cpp / starter.cu as extract wrote it).
/// Reads task.json and subgraph.onnx; runs nothing. kInvalidInput, one line naming the
/// task: a folder that is missing or holds no readable task, a task whose starter is the
/// skeleton (with the reason no template applies), a task whose template or input order is
/// not what this build chooses (re-extract it), an unknown parameter or an illegal value
/// (kernels::validate_template_config's message).
Result<ConfiguredStarter> configured_starter(const std::filesystem::path& task_dir,
                                             const kernels::TemplateConfig& config = {});

}  // namespace ak::extractor
