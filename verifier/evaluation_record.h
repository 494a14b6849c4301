#pragma once
/// What the memory records of one judged candidate: the task as the memory's workload
/// description, the candidate, and the evaluation with its numbers. The one mapping from
/// the verifier's types to memory/records.h; `autokernel bench` and `memory search --task`
/// call it. Torch-free (the Evaluation struct is plain data).

#include <string>

#include "kernels/task.h"
#include "memory/records.h"
#include "verifier/judge.h"

namespace ak::verifier {

/// The memory's workload for `task`: op type, attributes, one dtype and shape per input in
/// kernel-argument order, the target architecture and where the task came from.
memory::WorkloadSpec workload_of(const kernels::Task& task);

/// Who made a candidate, for the memory.
struct CandidateOrigin {
  std::string source;       ///< the candidate file's complete text
  std::string generator = "human";  ///< "human", "template:<name>", "llm:<model>", ...
  std::string parent_hash;  ///< the candidate it was derived from; "" for none
};

/// The record of `evaluation` of a candidate on `task`, run on the device called
/// `device_name` (models::device_name). Latencies become integer ns; the error numbers are
/// left out where nothing was compared (COMPILE_ERROR, TIMEOUT); the failure summary is the
/// evaluation's message cut to 1 KiB, empty when PASSED.
memory::Record evaluation_record(const kernels::Task& task, const Evaluation& evaluation, const CandidateOrigin& candidate,
                                 const std::string& device_name);

}  // namespace ak::verifier
