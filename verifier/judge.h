#pragma once
/// Judging one candidate kernel on one task: build, correctness gates, anti-cheat checks
/// and a fair benchmark, the candidate always running in a worker process with limits.
///
/// Order (the first failure ends the evaluation):
///   compile      kernels::build_kernel (cached); COMPILE_ERROR with the compiler's head.
///   captured     the task's captured real inputs against its reference outputs.
///   random       fresh random inputs (several seeds) against the runtime's reference.
///   sweep        other sizes of the var axes (odd ones too), where the reference runs.
///   adversarial  large, tiny, zero, constant and mixed-scale values.
///   determinism  the captured case twice: not bitwise equal is flagged, not failed.
///   anti_cheat   inputs unchanged (checksums), guard bytes behind every output intact,
///                on CUDA the call captured as a graph on the given stream.
///   benchmark    candidate and reference interleaved on fresh inputs behind an L2 flush,
///                every call requested and timed around by the judge: a reported time that
///                does not fit the round trip is CHEAT_SUSPECTED; the last iteration's
///                outputs checked against the reference (an output cached from earlier
///                calls fails here); a median below the roofline floor is re-measured in
///                a fresh worker, and CHEAT_SUSPECTED when it stays below; a speedup above
///                1 is re-timed in a fresh worker (the lower of two that disagree is kept)
///                and bounded by the reference timed alone.
/// Every gate case runs in one worker process and the benchmark in a second; reference
/// outputs are computed here, never in the process that runs the candidate's checks.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/build.h"
#include "kernels/task.h"
#include "verifier/verdict.h"

namespace ak::verifier {

struct JudgeOptions {
  bool quick = false;          ///< fewer cases and iterations (~a third of the time)
  double timeout_s = 60;       ///< per worker run (gates; benchmark)
  int threads = 0;             ///< CPU threads for candidate (OMP_NUM_THREADS) and reference; 0: all
  std::filesystem::path worker_program;  ///< the `autokernel` binary (its `worker` subcommand)
  std::filesystem::path scratch_dir;     ///< empty: a fresh folder under the system temp dir
  bool keep_scratch = false;
  kernels::BuildOptions build;
  /// The fastest the task can run on this device, ns (profiler::roofline_floor_ns: measured
  /// peaks, the task's TF32 setting, a safety margin); 0: unknown, no floor check.
  double roofline_floor_ns = 0;
  int bench_iters = 100;       ///< timed iterations (quick: 20)
  int bench_warmup = 10;       ///< (quick: 3)
  /// Resident memory of every worker (CPU and CUDA), polled by run_process: above it the
  /// worker is killed and the candidate is RUNTIME_ERROR. 0: 1.5 GiB plus 8 copies of the
  /// task's tensors, at most half the machine's memory. On CUDA, device memory a call
  /// leaves allocated is limited to 1 GiB plus 8 copies of the task's tensors.
  uint64_t memory_limit_bytes = 0;
  std::function<void(const std::string&)> progress;
};

/// One judged candidate.
struct Evaluation {
  Verdict verdict = Verdict::kPassed;
  std::string gate;     ///< the gate that failed; "" when PASSED
  std::string message;  ///< one line: why, or a summary
  std::string failure_input;  ///< which case exposed it ("random seed 3", "sweep batch=7")
  double max_abs_error = 0, max_rel_error = 0;  ///< worst over every compared case
  bool deterministic = true;
  int cases_passed = 0;
  /// Per var axis of the task, the sizes of the gate cases that passed (the captured size
  /// and the sweep's), ascending, each once. For PASSED these are every size the candidate
  /// was checked at: `pack add` takes each axis's [min, max] as the entry's range.
  std::map<std::string, std::vector<int64_t>> verified_sizes;
  std::optional<double> latency_us, reference_latency_us;  ///< medians
  std::optional<double> latency_ci_low_us, latency_ci_high_us;
  std::optional<double> speedup, speedup_ci_low, speedup_ci_high;
  double roofline_floor_us = 0;
  /// Lines about how it was judged, e.g. a sandbox the kernel could not apply
  /// ("sandbox: Landlock unavailable ..."); "" when nothing to say. Also in `message`.
  std::string notes;
  int64_t worker_peak_resident_kb = 0;  ///< the largest resident size any worker was seen at
  kernels::BuildResult build;
  double seconds = 0;  ///< wall time of the whole evaluation
};

/// Judges `candidate` (.cpp for a CPU task, .cu for a CUDA task) on `task` (kernels::read_task).
/// A failed candidate is an Evaluation; a Status error means the judge could not run (bad
/// task, a data file task.json names is missing, missing compiler, no worker program).
Result<Evaluation> judge_candidate(const kernels::Task& task, const std::filesystem::path& candidate, const JudgeOptions& options);

}  // namespace ak::verifier
