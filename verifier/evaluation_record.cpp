#include "verifier/evaluation_record.h"

#include <cmath>

#include "kernels/tensor.h"

namespace ak::verifier {

memory::WorkloadSpec workload_of(const kernels::Task& task) {
  memory::WorkloadSpec w;
  w.op_type = task.op_type;
  w.attributes_json = task.attributes_json;
  for (const kernels::TaskTensor& t : task.inputs) {
    w.dtypes.push_back(kernels::dtype_name(t.dtype));
    w.shape.push_back(t.dims);
  }
  w.arch = task.target.arch;
  w.source_model = task.source.model;
  w.source_nodes = task.source.nodes;
  return w;
}

namespace {

/// us -> ns, rounded to the nearest (a truncating cast turned 1.9999 us into 1999 ns).
int64_t to_ns(double us) { return static_cast<int64_t>(std::llround(us * 1e3)); }

}  // namespace

memory::Record evaluation_record(const kernels::Task& task, const Evaluation& e, const CandidateOrigin& candidate,
                                 const std::string& device_name) {
  memory::Record r;
  r.workload = workload_of(task);
  r.candidate.source = candidate.source;
  r.candidate.language = task.is_cuda() ? "cuda" : "cpp";
  r.candidate.generator = candidate.generator;
  r.candidate.parent_hash = candidate.parent_hash;
  memory::EvaluationSpec& s = r.evaluation;
  s.status = e.verdict;
  s.device = device_name;
  s.compiler_version = e.build.compiler_version;
  if (e.latency_us) s.latency_ns = to_ns(*e.latency_us);
  if (e.reference_latency_us) s.baseline_latency_ns = to_ns(*e.reference_latency_us);
  s.speedup = e.speedup;
  s.speedup_low = e.speedup_ci_low;
  s.speedup_high = e.speedup_ci_high;
  if (e.verdict != Verdict::kCompileError && e.verdict != Verdict::kTimeout) {
    s.max_abs_error = e.max_abs_error;
    s.max_rel_error = e.max_rel_error;
  }
  s.failure_gate = e.gate;
  s.failure_input = e.failure_input;
  s.failure_summary = e.verdict == Verdict::kPassed ? "" : e.message.substr(0, 1024);
  return r;
}

}  // namespace ak::verifier
