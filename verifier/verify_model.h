#pragma once
/// Whole-model verification of a kernel pack (`autokernel verify MODEL --kernels PACK`):
/// the original model and the model with the pack's kernels swapped in (models/swap.h) run
/// on several input sets, every output is compared with the judge's comparison
/// (verifier/compare.h) at the per-dtype model tolerance, and on a failure the entries,
/// then the instances of each culprit entry, are bisected to the smallest set that breaks
/// the model. The swapped side always runs in a worker process (`autokernel verify-worker`)
/// with a time and a memory limit: a kernel that crashes or hangs is a verdict naming it.
/// Whole-model latency, original vs swapped, is measured interleaved in one worker.
/// Torch-free; docs/verifier.md ("Verifying a model") documents it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"
#include "models/swap.h"
#include "verifier/compare.h"
#include "verifier/statistics.h"
#include "verifier/tolerance.h"
#include "verifier/verdict.h"

namespace ak::models {
class Session;
}

namespace ak::verifier {

// ---- bisection ----------------------------------------------------------------------------

/// Culprits among n items, and how many subsets were tested to find them.
struct BisectResult {
  std::vector<size_t> culprits;  ///< indices, ascending
  int tests = 0;                 ///< calls of the predicate
};

/// Whether the model breaks with only the items at these indices swapped in. An error
/// (the worker could not be started at all) ends the bisection.
using SubsetFails = std::function<Result<bool>(const std::vector<size_t>& subset)>;

/// Finds culprits among items 0..n-1, given that the whole set fails. Repeatedly halves a
/// failing set, keeping a half that fails (the first half is tested; when it passes, the
/// second is taken without a test, which holds when each culprit breaks the model on its
/// own), so one culprit costs ceil(log2 n) tests; then the set without the culprits found
/// is tested and the search goes on while it still fails. Each culprit costs
/// ceil(log2 m) + 1 tests for the m items left. The result is a set whose removal makes the
/// rest pass (culprits that only fail together are still removed one by one).
Result<BisectResult> bisect_culprits(size_t n, const SubsetFails& fails);

// ---- input sets and output comparison -----------------------------------------------------

/// One set of model inputs both sides run on.
struct InputSet {
  std::string name;  ///< "captured test_data_set_0", "random seed 1", "batch=2 (seed 1)"
  std::vector<models::TensorData> tensors;  ///< one per runtime input, the model's order
};

/// How input sets are made (`verify`'s options).
struct InputSetOptions {
  /// Inputs the user gave (--input NAME=FILE or NAME=SHAPE); empty: captured ones, the
  /// model folder's test_data_set_*/input_*.pb, when it has them.
  std::vector<std::string> input_specs;
  std::map<std::string, int64_t> dims;  ///< --dim NAME=N: the base size of a symbolic dim
  /// --dims NAME=a,b: the other sizes to try for a dim; a dim not named here is tried at
  /// 2x its base size and at 1 (whichever differ from the base).
  std::map<std::string, std::vector<int64_t>> other_sizes;
  int random_sets = 2;  ///< seeded random sets at the base sizes (seeds seed+1..)
  uint64_t seed = 0;
  bool vary_dims = true;  ///< false: no sets at other sizes of the symbolic dims
};

/// The input sets for `model` (models/inputs.h for random data). A symbolic dim of the
/// model's inputs is found by name in their declared shapes. Bad specs are kInvalidInput.
Result<std::vector<InputSet>> make_input_sets(const models::Model& model, const std::filesystem::path& model_path,
                                              const InputSetOptions& options);

/// The tolerance a model output of `dtype` is held to: the judge's default for the "other"
/// op class (reduction, normalization), since a model output is the end of a chain of
/// ops of every class; `override_tolerance` replaces it when given.
Tolerance model_output_tolerance(models::DType dtype, const std::optional<Tolerance>& override_tolerance);

/// One output of one input set, compared.
struct OutputCheck {
  std::string input_set;
  std::string output;  ///< the graph output's name
  Tolerance tolerance;
  Comparison comparison;
};

/// Compares swapped outputs with the original's, output by output (matched by position;
/// a missing output is kIncorrectShape). Uses compare_outputs, the judge's comparison.
std::vector<OutputCheck> compare_model_outputs(const std::string& input_set,
                                               const std::vector<models::TensorData>& expected,
                                               const std::vector<models::TensorData>& actual,
                                               const std::optional<Tolerance>& override_tolerance);

// ---- CUDA graphs: running both sides as deployed ------------------------------------------

/// What CUDA-graph execution did in one session (models::CudaGraphState, the part a
/// report needs).
struct DeployedGraph {
  bool enabled = false;  ///< graphs were in use (asked for, on CUDA, in a CUDA build)
  int64_t captured = 0, replays = 0;
  int refused = 0;       ///< input-shape sets that ran eagerly because their capture was refused
  std::string refusal;   ///< the last refusal, naming the node ("" when none)
};
DeployedGraph deployed_graph(const models::Session& session);

/// Runs `session` on `inputs` as it is deployed: with CUDA graphs on (the caller turned
/// them on), a new input-shape set runs its warm-up and then its capture, whose outputs
/// come from a replay; `*replayed` says whether the outputs came from a replay (false:
/// graphs off or ignored, or the capture refused). At most two runs.
Result<std::vector<models::TensorData>> run_as_deployed(models::Session& session,
                                                        const std::vector<models::TensorData>& inputs, bool* replayed);

/// Elements of `actual` whose bytes differ from `expected`'s (every element when the
/// dtypes or shapes differ; strings compared as strings).
int64_t differing_elements(const models::TensorData& expected, const models::TensorData& actual);

/// One output of the original model: its graph replays against its eager runs.
struct GraphOutputCheck {
  std::string output;
  bool bitwise_equal = true;     ///< on every input set that replayed
  int64_t differing_elements = 0;  ///< on the first set that differs
  std::string first_difference;  ///< that set's name ("" when equal)
};

/// The original model run as deployed (CUDA graphs) against its eager outputs.
struct CudaGraphCheck {
  DeployedGraph original;
  std::string ignored;     ///< why graphs were asked for and not used ("" otherwise)
  int sets_replayed = 0;   ///< input sets whose outputs came from a replay
  std::vector<GraphOutputCheck> outputs;  ///< per output, in the model's order
};

/// Turns `session`'s CUDA graphs on, runs every set as deployed and compares each
/// replayed set's outputs with `eager` (the same session's outputs without graphs, one
/// list per set) bit for bit; turns graphs off again. A set whose capture is refused is
/// not compared (the refusal is reported). Fails only when a run fails.
Result<CudaGraphCheck> check_cuda_graph(models::Session& session, const std::vector<InputSet>& sets,
                                        const std::vector<std::vector<models::TensorData>>& eager);

// ---- the swapped side ---------------------------------------------------------------------

/// Which entries and instances are swapped in (models::SwapOptions' filters).
struct SwapSelection {
  std::vector<std::string> entries;    ///< empty: every entry
  std::vector<std::string> instances;  ///< first-node names; empty: every instance
};

/// One instance that fell back to the original nodes on an input set.
struct Fallback {
  std::string input_set;
  std::string entry;
  std::string node;    ///< the instance's first node
  std::string reason;  ///< models::SwapInstance::last_fallback_reason
};

/// What one run of the swapped model on every input set gave.
struct SwappedRun {
  /// kPassed when the worker ran every set; kRuntimeError (crash, memory limit, an error
  /// the kernel returned) or kTimeout otherwise.
  Verdict verdict = Verdict::kPassed;
  std::string message;    ///< why the worker failed: "killed by SIGSEGV (...) in set random seed 1"
  std::string input_set;  ///< the set it failed in; "" when unknown or passed
  /// Outputs per input set, in the sets' order (only the sets that completed).
  std::vector<std::vector<models::TensorData>> outputs;
  models::SwapReport swap;  ///< what swap-in did (kernel calls and fallbacks summed over the sets)
  std::vector<Fallback> fallbacks;
  /// Interleaved whole-model timings (only when asked): ns per run, pairs in order.
  std::vector<int64_t> original_ns, swapped_ns;
  DeployedGraph graph;  ///< CUDA graphs of the swapped session (WorkerRunnerOptions::cuda_graph)
};

/// Runs the swapped model with `selection` on every input set; `measure` asks for latency
/// samples too. The worker implementation is make_worker_runner; tests inject others.
using SwappedRunner = std::function<Result<SwappedRun>(const SwapSelection& selection, bool measure)>;

/// How the worker runs.
struct WorkerRunnerOptions {
  std::filesystem::path worker_program;  ///< the `autokernel` binary (its `verify-worker` subcommand)
  std::filesystem::path model;
  std::filesystem::path pack;
  std::string device = "cpu";
  int threads = 0;
  bool fuse = true;
  bool allow_tf32 = false;
  /// Run both sides as deployed on CUDA: the swapped model's outputs from graph replays,
  /// and the timing of both with graphs (docs/runtime.md's rule); ignored on the CPU.
  bool cuda_graph = false;
  double timeout_s = 120;            ///< per worker run (all sets, and the timing when asked)
  uint64_t memory_limit_bytes = 0;   ///< resident; 0: 2 GiB + 4x the model file, at most half the RAM
  int warmup = 2, iterations = 10;   ///< interleaved timing of the first input set
  std::filesystem::path scratch_dir; ///< empty: a fresh folder under the system temp dir (removed)
};

/// A runner that writes the input sets once into a scratch folder and runs
/// `autokernel verify-worker` per call. The returned function keeps the folder alive.
Result<SwappedRunner> make_worker_runner(const WorkerRunnerOptions& options, const std::vector<InputSet>& sets);

/// The worker's side (`autokernel verify-worker JOBDIR`): reads JOBDIR/job.json, creates the
/// swapped session (and the original one when timing), runs every set, writes the outputs
/// and JOBDIR/result.json. Announces each set on stderr first ("verify-worker: set NAME"),
/// so a crash is pinned to a set. An error is the worker's exit status (2: the pack's
/// kernels cannot be swapped in; 1: a run failed).
Status run_verify_worker(const std::filesystem::path& job_dir);

// ---- the whole verification ---------------------------------------------------------------

/// One culprit: an entry (and, when only some of its instances break the model, those).
struct Culprit {
  std::string entry;
  std::string workload;
  std::vector<std::string> nodes;  ///< the culprit instances' nodes
  int instances = 0, instances_of_entry = 0;
  Verdict verdict = Verdict::kIncorrectNumerical;  ///< with only this culprit swapped in
  std::string input_set, output;  ///< where it broke (numerical verdicts)
  double max_abs_error = 0, max_rel_error = 0;
  Tolerance tolerance;
  std::string message;  ///< one line: the comparison's summary or the worker's failure
};

/// An entry that computes correctly but makes the whole model slower: with it alone swapped
/// in, the model's speedup interval lies below 1 (a kernel faster on its task can still
/// lose in the model, e.g. to the copies of non-contiguous inputs the ABI makes).
struct SlowEntry {
  std::string entry;
  std::string workload;
  int instances = 0;
  SpeedupEstimate speedup;  ///< the whole model, original / swapped with only this entry
};

/// A full run judged: the worker's outcome and every output's comparison.
struct RunVerdict {
  Verdict verdict = Verdict::kPassed;
  std::string message;
  std::vector<OutputCheck> checks;
  const OutputCheck* worst() const;  ///< the failing (or else largest-error) check; null when none
};

/// Whole-model latency, original vs swapped, from interleaved pairs.
struct ModelLatency {
  Summary original_ms, swapped_ms;
  SpeedupEstimate speedup;  ///< original / swapped, paired bootstrap
};

struct VerifyOptions {
  std::optional<Tolerance> tolerance;  ///< replaces model_output_tolerance's defaults
  bool bisect = true;
  bool measure_latency = true;
  /// When the whole pack is not clearly faster (its speedup interval reaches below 1), time
  /// each matched entry alone to name the ones that slow the model (VerifyReport::slow_entries).
  bool find_slow_entries = true;
  std::function<void(const std::string&)> progress;
};

struct VerifyReport {
  Verdict verdict = Verdict::kPassed;  ///< of the whole pack
  RunVerdict full;                     ///< the run with every entry
  std::vector<std::string> input_sets;
  std::vector<std::string> entries;    ///< the pack's entry ids
  models::SwapReport swap;
  std::vector<Fallback> fallbacks;
  std::vector<Culprit> culprits;
  int bisection_runs = 0;
  std::optional<ModelLatency> latency;  ///< PASSED runs only
  std::vector<SlowEntry> slow_entries;  ///< PASSED runs that were not clearly faster (find_slow_entries)
  DeployedGraph swapped_graph;          ///< CUDA graphs in the full run's worker
};

/// Verifies the swapped model against `expected` (the original's outputs per input set):
/// one run with every entry of `entries`; on a failure, bisection over the entries, then
/// over the instances of each culprit entry, and one run per culprit alone for its
/// numbers; latency (when asked) on a passing run, and when that is not clearly faster, one
/// timed run per matched entry alone for the slow ones. Fails (Status) only when a run could
/// not be made at all.
Result<VerifyReport> verify_swapped(const std::vector<std::string>& input_sets,
                                    const std::vector<std::vector<models::TensorData>>& expected,
                                    const std::vector<std::string>& entries, const SwappedRunner& runner,
                                    const VerifyOptions& options);

/// Judges one run against the expected outputs (a worker failure is its verdict; else the
/// first failing output's, PASSED when all pass).
RunVerdict judge_run(const SwappedRun& run, const std::vector<std::string>& input_sets,
                     const std::vector<std::vector<models::TensorData>>& expected,
                     const std::optional<Tolerance>& tolerance);

}  // namespace ak::verifier
