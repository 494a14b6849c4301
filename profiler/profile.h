#pragma once
/// Profiling a whole model run: per-node device time (CUPTI on a GPU, the host clock on a
/// CPU or when CUPTI cannot start), every kernel attributed to the node that launched it,
/// and what one profiled iteration costs against an unprofiled one.
///
/// How a run is profiled (profile_session):
///   1. `warmup` unprofiled iterations, then `iters` unprofiled timed iterations (each
///      synchronized): the baseline wall time.
///   2. Around each top-level node the observer pushes external id
///      iteration * node_count + node_index + 1 into the timing source; joined records give
///      each node's time per iteration (the union of its kernels' intervals plus its
///      memcpy/memset time).
///   3. Host timing, or CUPTI with Attribution::kCorrelation (API records and external ids
///      in every run): `warmup` discarded iterations, then `iters` profiled ones, each
///      synchronized and timed on the host; the trace shows the last.
///      CUPTI with Attribution::kReplay: `warmup` + `iters` iterations recording device
///      activity only (the cheapest tracing), then max(1, `warmup`) calibration iterations
///      with API records and external correlation; the profiled iterations are attributed
///      by the last calibration iteration's launch order (launch_replay.h), and the trace
///      shows that calibration iteration. When the order does not repeat exactly, the
///      profiled iterations are run again with external correlation and the reason kept.
///   4. ProfileOptions::graph_replay on CUDA: `warmup` (at least 2: the warm-up and the
///      capture) then `iters` unprofiled runs with the session's CUDA-graph execution on,
///      timed like the baseline: the wall time with graph replay (graph_wall), which the
///      host-bound row of the analysis is made of (hotspots.h).
/// ProfileOptions::cuda_graph on CUDA profiles what is deployed, the graph replays, instead of
/// steps 1-4 (docs/profiler.md, "Profiling CUDA-graph replays"):
///   G1. the session's graphs on, fresh: max(2, `warmup`) runs (warm-up, capture), then
///       `iters` unprofiled replays timed: the baseline, which is also the graph wall.
///   G2. graphs on, fresh again, under CUPTI with graph-node recording
///       (CuptiRecords::kGraphNodes): the capture run is observed (Session's capture
///       observer pushes node index + 1), `warmup` more replays, then `iters` profiled
///       replays timed; graph_attribution.h attributes their records through their graph
///       nodes. A refused capture (or a failure of CUPTI's graph-node recording) makes the
///       profile the eager one of steps 1-4, with the reason in cuda_graph_refusal.
/// With CUPTI, nodes the runtime runs on the host (shape arithmetic) are not pushed: they
/// launch nothing. With host timing every node is timed (with a device synchronize on
/// each side of a node when the model runs on a GPU).
///
/// This header is torch-free; profile.cpp runs the session.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/graph.h"
#include "profiler/kernel_record.h"

namespace ak::models {
class Session;
struct Device;
}

namespace ak::profiler {

/// Median and spread of a list of per-iteration times.
struct TimeStats {
  int64_t median_ns = 0, p10_ns = 0, p90_ns = 0, min_ns = 0;
};
/// Percentiles by nearest rank over `samples_ns` (empty: all zero).
TimeStats time_stats(std::vector<int64_t> samples_ns);

/// One kernel (by name) launched by a node, over the profiled iterations.
struct KernelSummary {
  std::string name;
  double calls_per_iter = 0;
  TimeStats duration;             ///< per call
  int64_t total_ns_per_iter = 0;  ///< the sum of its durations, divided by the iterations
  std::vector<uint32_t> stream_ids;
};

/// One top-level node of the executed model.
struct NodeProfile {
  size_t node_index = 0;
  std::string name, op_type, domain;
  std::vector<std::vector<int64_t>> input_shapes, output_shapes;
  std::vector<models::DType> input_dtypes, output_dtypes;
  bool on_host = false;     ///< ran on the host (shape arithmetic): no device work
  bool executed = false;    ///< the observer saw it (false: never reached)
  std::vector<int64_t> iter_ns;  ///< time per profiled iteration
  TimeStats time;
  double launches_per_iter = 0;  ///< kernels plus memcpy/memset per iteration
  std::vector<KernelSummary> kernels;  ///< by total time, largest first
  int64_t mem_ns_per_iter = 0;         ///< memcpy/memset time per iteration
};

/// A span of host time: one node on the host track of a trace.
struct HostSpan {
  size_t node_index = 0;
  int64_t start_ns = 0, end_ns = 0;  ///< on the timing source's clock
};

/// Everything one profile_session call measured.
struct Profile {
  std::string timing_source;    ///< "cupti" or "host"
  std::string fallback_reason;  ///< why CUPTI was not used ("" when it was, or on a CPU)
  /// How device records were joined to nodes in the profiled iterations: "replay" (launch
  /// order), "correlation" (external ids) or "host" (host timing).
  std::string attribution;
  std::string replay_fallback_reason;  ///< why replay was asked for but not used
  int warmup = 0, iters = 0;
  int calibration_iters = 0;  ///< CUPTI: iterations traced with external correlation before the profiled ones
  std::vector<NodeProfile> nodes;  ///< every top-level node, in graph order

  /// Model time per iteration: the median over iterations of the sum of node times.
  int64_t model_ns = 0;
  TimeStats profiled_wall;    ///< host wall time of a profiled iteration (synchronized)
  TimeStats unprofiled_wall;  ///< the same without observer or timing source
  /// profiled_wall.median / unprofiled_wall.median: what profiling costs per iteration.
  double overhead_ratio = 0;

  // Graph replay (ProfileOptions::graph_replay, CUDA only).
  bool graph_measured = false;  ///< graph_wall holds a measurement
  TimeStats graph_wall;         ///< unprofiled wall time with the run replayed as a CUDA graph
  int64_t graph_replays = 0;    ///< of the timed runs, how many were replays (the rest ran eagerly)
  /// Why graph replay was not measured or not used: the session's fallback reason (the
  /// node named), "cuda graphs are for CUDA devices ..."; "" when every timed run replayed.
  std::string graph_note;

  // Profiling the graph replays (ProfileOptions::cuda_graph).
  bool cuda_graph = false;           ///< the profiled iterations were CUDA-graph replays
  int64_t cuda_graph_replays = 0;    ///< of the profiled iterations, how many were replays
  /// Why graph replays were asked for and not profiled (the capture's refusal naming the
  /// node, CUPTI's graph-node recording failing); "" otherwise.
  std::string cuda_graph_refusal;

  // Attribution (GPU runs with CUPTI; host timing attributes by construction).
  int64_t busy_ns_per_iter = 0;        ///< union of all kernel intervals / iterations (warm-up excluded)
  int64_t attributed_ns_per_iter = 0;  ///< sum of node kernel busy times / iterations (warm-up excluded)
  int64_t kernels_per_iter = 0;        ///< attributed kernels per iteration
  int64_t attributed_kernels = 0;      ///< attributed kernels over the profiled iterations
  int64_t unattributed_kernels = 0;    ///< over the whole traced run (warm-up/calibration included)
  int64_t unattributed_mems = 0;
  std::vector<std::string> unattributed_kernel_names;  ///< distinct names, at most 5 (diagnostics)
  uint64_t dropped_records = 0;
  int64_t duplicate_records = 0;

  // One iteration for traces: with replay the last calibration iteration (it has the API
  // records), otherwise the last profiled one.
  std::vector<HostSpan> trace_spans;
  std::vector<KernelRecord> trace_kernels;  ///< external_id = node_index + 1
  std::vector<MemRecord> trace_mems;
  std::vector<RuntimeApiRecord> trace_runtime_calls;
};

/// Options of one profiling run.
struct ProfileOptions {
  int warmup = 3;
  int iters = 20;
  bool host_timing = false;  ///< skip CUPTI even on a GPU
  /// How CUPTI's records are joined to nodes in the profiled iterations.
  enum class Attribution {
    kReplay,       ///< device records only, attributed by the calibration's launch order
    kCorrelation,  ///< API records and external ids in every iteration (costs more host time)
  };
  Attribution attribution = Attribution::kReplay;
  /// CUDA: after profiling, time the run replayed as a CUDA graph (step 4 above), for the
  /// host-bound row. Off by default (extract does not need it); `profile` turns it on.
  bool graph_replay = false;
  /// CUDA: profile the run replayed as a CUDA graph (G1-G2 above), what is deployed. On a
  /// CPU profile_session refuses it (kInvalidInput); host timing cannot see inside a replay.
  bool cuda_graph = false;
  /// Called after each iteration of each phase: ("baseline"|"warmup"|"profile"|"graph", done, total).
  /// With replay, "warmup" runs again for the calibration, and "profile" again when replay
  /// falls back to correlation.
  std::function<void(const std::string&, int, int)> progress;
};

/// Bad options for a session on `device` (kInvalidInput, one line): iterations, warm-up,
/// cuda_graph off CUDA or with host timing. profile_session checks them first; a caller
/// can check them before anything runs.
Status check_profile_options(const ProfileOptions& options, const models::Device& device);

/// Profiles `session` on `inputs` (host tensors, uploaded once). A failed CUPTI start is
/// not an error: the profile falls back to host timing and says why in fallback_reason.
Result<Profile> profile_session(models::Session& session, const std::vector<models::TensorData>& inputs,
                                const ProfileOptions& options);

}  // namespace ak::profiler
