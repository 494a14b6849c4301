#pragma once
/// The protocol between the judge (verifier/judge.h) and the worker process that loads a
/// candidate kernel (`autokernel worker JOB.json`). The judge writes the job and the input
/// tensors into a scratch folder; the worker writes outputs, a progress file (so a crash is
/// pinned to the case it happened in) and result.json. Reference outputs never enter the
/// worker: it cannot see what it is compared against. Torch-free.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"

namespace ak::verifier {

/// Shape and dtype of one output the worker allocates for the kernel.
struct OutputShape {
  models::DType dtype = models::DType::kFloat32;
  std::vector<int64_t> dims;
};

/// One call (or `repeats` calls) of the kernel on one set of inputs.
struct WorkerCase {
  std::string label;                              ///< "captured", "random seed 3", ...
  std::vector<std::filesystem::path> inputs;      ///< TensorProto files, kernel-argument order
  std::vector<OutputShape> outputs;
  int repeats = 1;                                ///< > 1: the determinism gate compares the calls
};

/// The timed phase: candidate and reference (the task's subgraph through the runtime)
/// interleaved on fresh inputs.
struct WorkerBench {
  std::filesystem::path subgraph;
  std::vector<std::string> input_names;          ///< the subgraph's graph inputs, kernel order
  std::vector<std::string> fills;                ///< per input: "normal", "int", "ones"
  std::vector<int64_t> int_bounds;               ///< per input (0: none)
  int warmup = 10;
  int iters = 100;
  /// Seconds the timed loop may take (0: no limit). Warm-up is cut short and timing stops
  /// once the next iteration would pass it, keeping at least kMinTimedIterations: a kernel
  /// that takes a second per call still gets a benchmark inside the worker's time limit.
  double time_budget_s = 0;
  int64_t l2_flush_bytes = 0;                    ///< written before every timed call (0: none)
  uint64_t seed = 1;
};

/// The fewest timed iterations a time budget leaves.
inline constexpr int kMinTimedIterations = 5;

struct WorkerJob {
  std::filesystem::path dir;      ///< scratch folder: outputs and result.json go here
  std::filesystem::path library;  ///< the candidate's shared object
  std::string device = "cpu";     ///< "cpu", "cuda", "cuda:N"
  int threads = 0;                ///< CPU threads for the reference (0: libtorch default)
  std::vector<WorkerCase> cases;
  bool check_stream = false;      ///< CUDA: capture one call as a graph to see it used the given stream
  std::optional<WorkerBench> bench;
};

Status write_job(const WorkerJob& job, const std::filesystem::path& path);
Result<WorkerJob> read_job(const std::filesystem::path& path);

/// What the worker reports for one case.
struct CaseResult {
  int kernel_status = 0;              ///< the entry point's return value (first non-zero)
  std::string error;                  ///< CUDA error text etc.; empty when fine
  std::string mutated_input;          ///< name of an input the kernel wrote into; empty if none
  std::string overrun_output;         ///< an output whose guard bytes were overwritten
  /// When the kernel rewrote an output's descriptor (the ABI passes it non-const) to say it
  /// wrote another dtype or shape: "output 0: float16 [8, 256]"; empty when unchanged.
  std::string declared_dtype, declared_shape;
  std::vector<std::vector<std::filesystem::path>> outputs;  ///< per repeat, per output
};

struct BenchResult {
  std::vector<int64_t> candidate_ns, reference_ns;  ///< paired, per timed iteration
  std::vector<std::filesystem::path> last_inputs;   ///< the last timed iteration's fresh inputs
  std::vector<std::filesystem::path> last_outputs;  ///< the candidate's outputs for them
  std::string error;
  int kernel_status = 0;
};

struct WorkerResult {
  std::vector<CaseResult> cases;
  std::string stream_error;  ///< CUDA: the kernel did not (only) use the given stream
  std::optional<BenchResult> bench;
};

Status write_result(const WorkerResult& result, const std::filesystem::path& path);
Result<WorkerResult> read_result(const std::filesystem::path& path);

/// The worker's progress file: one line "case N" before each case, "bench" before timing.
inline constexpr const char* kProgressFile = "progress";

/// Runs a job (the `autokernel worker` subcommand). Returns the process exit code: 0 when
/// result.json was written (even if the kernel failed), non-zero when the worker could not
/// report (the judge then reads the progress file and the exit status).
int run_worker(const std::filesystem::path& job_path);

}  // namespace ak::verifier
