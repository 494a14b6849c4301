#pragma once
/// The protocol between the judge (verifier/judge.h) and the worker process that loads a
/// candidate kernel (`autokernel worker`, hidden). Everything travels over one socket the
/// worker inherits as fd 3 (verifier/channel.h): the job as the first frame, then the
/// worker's events and the judge's commands. The judge writes the input tensors into a
/// scratch folder the worker only reads (it may not write anywhere: verifier/sandbox.h);
/// outputs come back as frames. Reference outputs never enter the worker: it cannot see
/// what it is compared against. Torch-free.
///
/// Worker -> judge, in order (JSON frames; "+ N raw" = N frames of tensor bytes follow):
///   {"event":"loaded","sandbox":NOTE}          the candidate is loaded, the sandbox on
///   {"event":"load_error","message":M}         dlopen failed (COMPILE_ERROR)
///   {"event":"case","index":C}                 before case C (a crash is pinned to it)
///   {"event":"case_result",...} + reps x outputs raw
///   {"event":"stream"} / {"event":"stream_result","error":E}   CUDA, after the last case
///   {"event":"gates_done"}
/// Then, for a job with `bench`, the judge drives every timed call and the worker answers:
///   {"cmd":"prep","fresh":B}    fresh inputs (B), NaN outputs, cache flush -> {"ready":true}
///   {"cmd":"call","side":S[,"repeat":R]}  S "candidate"/"reference", timed (R calls back to back,
///                               default 1) -> {"ns":N,"status":K,"error":E}
///   {"cmd":"report"}            -> {"inputs":I,"outputs":O} + I raw + O raw: copies taken the
///                               moment the last candidate call returned
///   {"cmd":"exit"}
/// The judge timestamps each "call" itself (verifier/judge.cpp): a reported time longer
/// than the round trip, or shorter than the round trip leaves room for, is caught there.
/// "side" names what to run, so a later whole-model timing (`autokernel verify`) can add
/// sides without a new protocol.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
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

/// What the timed phase needs in the worker: the reference (the task's subgraph through
/// the runtime) and how to refresh inputs. How many calls, in which order and for how
/// long is the judge's business: it sends the commands.
struct WorkerBench {
  std::filesystem::path subgraph;
  std::vector<std::string> input_names;          ///< the subgraph's graph inputs, kernel order
  std::vector<std::string> fills;                ///< per input: "normal", "int", "ones"
  std::vector<int64_t> int_bounds;               ///< per input (0: none)
  int64_t l2_flush_bytes = 0;                    ///< written before every timed call (0: none)
  uint64_t seed = 1;
};

/// The fewest timed iterations a time budget leaves.
inline constexpr int kMinTimedIterations = 5;

struct WorkerJob {
  std::filesystem::path library;  ///< the candidate's shared object; empty: reference only
  std::string device = "cpu";     ///< "cpu", "cuda", "cuda:N"
  int threads = 0;                ///< CPU threads for the reference (0: libtorch default)
  std::vector<WorkerCase> cases;
  bool check_stream = false;      ///< CUDA: capture one call as a graph to see it used the given stream
  /// CUDA: device memory a call may leave allocated (0: unchecked); more is an error.
  int64_t device_memory_limit_bytes = 0;
  std::optional<WorkerBench> bench;
};

std::string encode_job(const WorkerJob& job);
Result<WorkerJob> decode_job(std::string_view text);

/// What the worker reports for one case (the outputs follow as raw frames).
struct CaseResult {
  int kernel_status = 0;              ///< the entry point's return value (first non-zero)
  std::string error;                  ///< CUDA error text etc.; empty when fine
  std::string mutated_input;          ///< name of an input the kernel wrote into; empty if none
  std::string overrun_output;         ///< an output whose guard bytes were overwritten
  /// When the kernel rewrote an output's descriptor (the ABI passes it non-const) to say it
  /// wrote another dtype or shape: "output 0: float16 [8, 256]"; empty when unchanged.
  std::string declared_dtype, declared_shape;
  int repeats_done = 0;               ///< calls whose outputs follow (each: every output)
  /// Filled by the judge from the raw frames: per repeat, per output.
  std::vector<std::vector<models::TensorData>> outputs;
};

std::string encode_case_result(const CaseResult& result);
Result<CaseResult> decode_case_result(std::string_view text);

/// Runs the worker on the channel at `fd` (the `autokernel worker` subcommand). Returns
/// the process exit code: 0 when everything was reported (even if the kernel failed),
/// non-zero when the worker could not go on (the judge then pins the failure to the last
/// event it received and the exit status).
int run_worker(int fd);

}  // namespace ak::verifier
