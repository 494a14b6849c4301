// Runs a session under a timing source and turns the joined records into per-node times.
#include "profiler/profile.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <utility>

#include "models/aten_interop.h"
#include "models/session.h"
#include "profiler/graph_attribution.h"
#include "profiler/launch_replay.h"
#include "profiler/timing_source.h"

namespace ak::profiler {

TimeStats time_stats(std::vector<int64_t> samples_ns) {
  TimeStats s;
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(samples_ns.size() - 1) + 0.5);
    return samples_ns[std::min(i, samples_ns.size() - 1)];
  };
  s.median_ns = at(0.5);
  s.p10_ns = at(0.1);
  s.p90_ns = at(0.9);
  s.min_ns = samples_ns.front();
  return s;
}

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void shapes_of(std::span<const at::Tensor* const> tensors, std::vector<std::vector<int64_t>>* shapes,
               std::vector<models::DType>* dtypes) {
  shapes->clear();
  dtypes->clear();
  for (const at::Tensor* t : tensors) {
    if (t == nullptr || !t->defined()) {
      shapes->emplace_back();
      dtypes->push_back(models::DType::kUndefined);
      continue;
    }
    shapes->emplace_back(t->sizes().begin(), t->sizes().end());
    dtypes->push_back(models::from_scalar_type(t->scalar_type()));
  }
}

/// Pushes an external id around each node. Cheap on the steady path: the labels are made
/// once, shapes are read only in the first observed iteration.
class ProfileObserver final : public models::NodeObserver {
 public:
  explicit ProfileObserver(std::vector<NodeProfile>* nodes) : nodes_(nodes) {}

  /// CUPTI sees only device work: nodes run on the host are not pushed.
  void set_source(TimingSource* source) {
    source_ = source;
    skip_host_nodes_ = source->name() == "cupti";
  }

  void begin_iteration(int64_t iteration, bool record_spans) {
    iteration_ = iteration;
    record_spans_ = record_spans;
    if (record_spans) spans_.clear();
  }

  void before_node(const models::NodeEvent& ev) override {
    NodeProfile& node = (*nodes_)[ev.node_index];
    if (!node.executed) {
      node.executed = true;
      node.on_host = ev.on_host;
      shapes_of(ev.inputs, &node.input_shapes, &node.input_dtypes);
    }
    if (skip_host_nodes_ && ev.on_host) return;
    const uint64_t id = static_cast<uint64_t>(iteration_) * nodes_->size() + ev.node_index + 1;
    if (record_spans_) spans_.push_back({ev.node_index, source_->timestamp_ns(), 0});
    source_->push_node(id, node.name);
  }

  void after_node(const models::NodeEvent& ev) override {
    NodeProfile& node = (*nodes_)[ev.node_index];
    if (node.output_shapes.empty() && !ev.outputs.empty()) shapes_of(ev.outputs, &node.output_shapes, &node.output_dtypes);
    if (skip_host_nodes_ && ev.on_host) return;
    source_->pop_node();
    if (record_spans_ && !spans_.empty()) spans_.back().end_ns = source_->timestamp_ns();
  }

  std::vector<HostSpan> take_spans() { return std::move(spans_); }

 private:
  TimingSource* source_ = nullptr;
  std::vector<NodeProfile>* nodes_;
  bool skip_host_nodes_ = false;
  int64_t iteration_ = 0;
  bool record_spans_ = false;
  std::vector<HostSpan> spans_;
};

void count_unattributed(const CorrelationResult& joined, Profile* profile);

/// Builds per-node statistics from the joined records. Iterations [0, warmup) are warm-up.
void summarize(const CorrelationResult& joined, int warmup, int iters, Profile* profile) {
  const size_t node_count = profile->nodes.size();
  std::vector<std::vector<int64_t>> iter_ns(node_count, std::vector<int64_t>(static_cast<size_t>(iters), 0));
  struct KernelAgg {
    std::vector<int64_t> durations;
    int64_t total_ns = 0;
    std::vector<uint32_t> streams;
  };
  std::vector<std::map<std::string, KernelAgg>> kernels(node_count);
  std::vector<int64_t> launches(node_count, 0), mem_ns(node_count, 0);
  int64_t attributed = 0, kernel_count = 0;
  const int64_t last_iteration = warmup + iters - 1;  // later ids belong to no profiled iteration

  for (const auto& [external_id, activity] : joined.nodes) {
    if (external_id == 0) continue;
    const int64_t iteration = static_cast<int64_t>((external_id - 1) / node_count);
    const size_t node_index = (external_id - 1) % node_count;
    if (iteration < warmup || iteration > last_iteration) continue;
    const size_t slot = static_cast<size_t>(iteration - warmup);
    iter_ns[node_index][slot] += activity.kernel_busy_ns + activity.mem_sum_ns;
    attributed += activity.kernel_busy_ns;
    mem_ns[node_index] += activity.mem_sum_ns;
    launches[node_index] += static_cast<int64_t>(activity.kernels.size() + activity.mems.size());
    kernel_count += static_cast<int64_t>(activity.kernels.size());
    for (const KernelRecord& k : activity.kernels) {
      KernelAgg& agg = kernels[node_index][k.name];
      agg.durations.push_back(k.end_ns - k.start_ns);
      agg.total_ns += k.end_ns - k.start_ns;
      if (std::find(agg.streams.begin(), agg.streams.end(), k.stream_id) == agg.streams.end())
        agg.streams.push_back(k.stream_id);
    }
  }

  const double n = std::max(1, iters);
  std::vector<int64_t> model_iter_ns(static_cast<size_t>(iters), 0);
  for (size_t i = 0; i < node_count; ++i) {
    NodeProfile& node = profile->nodes[i];
    for (int it = 0; it < iters; ++it) model_iter_ns[static_cast<size_t>(it)] += iter_ns[i][static_cast<size_t>(it)];
    node.iter_ns = std::move(iter_ns[i]);
    node.time = time_stats(node.iter_ns);
    node.launches_per_iter = static_cast<double>(launches[i]) / n;
    node.mem_ns_per_iter = static_cast<int64_t>(static_cast<double>(mem_ns[i]) / n);
    for (auto& [name, agg] : kernels[i]) {
      KernelSummary k;
      k.name = name;
      k.calls_per_iter = static_cast<double>(agg.durations.size()) / n;
      k.duration = time_stats(std::move(agg.durations));
      k.total_ns_per_iter = static_cast<int64_t>(static_cast<double>(agg.total_ns) / n);
      k.stream_ids = std::move(agg.streams);
      node.kernels.push_back(std::move(k));
    }
    std::sort(node.kernels.begin(), node.kernels.end(),
              [](const KernelSummary& a, const KernelSummary& b) { return a.total_ns_per_iter > b.total_ns_per_iter; });
  }
  profile->model_ns = time_stats(model_iter_ns).median_ns;
  profile->attributed_ns_per_iter = static_cast<int64_t>(static_cast<double>(attributed) / n);
  profile->kernels_per_iter = static_cast<int64_t>(static_cast<double>(kernel_count) / n + 0.5);
  profile->attributed_kernels = kernel_count;

  // GPU busy time over the profiled iterations only: the union of every kernel interval
  // (attributed or not) that starts inside them.
  int64_t window_start = INT64_MAX, window_end = INT64_MIN;
  for (const auto& [external_id, activity] : joined.nodes) {
    if (external_id == 0 || static_cast<int64_t>((external_id - 1) / node_count) < warmup) continue;
    for (const KernelRecord& k : activity.kernels) {
      window_start = std::min(window_start, k.start_ns);
      window_end = std::max(window_end, k.end_ns);
    }
  }
  std::vector<Interval> intervals;
  auto add = [&](const KernelRecord& k) {
    if (k.start_ns >= window_start && k.start_ns <= window_end) intervals.push_back({k.start_ns, k.end_ns});
  };
  for (const auto& [external_id, activity] : joined.nodes)
    for (const KernelRecord& k : activity.kernels) add(k);
  for (const KernelRecord& k : joined.unattributed_kernels) add(k);
  const int64_t busy = union_length_ns(std::move(intervals));
  profile->busy_ns_per_iter = static_cast<int64_t>(static_cast<double>(busy) / n);
  count_unattributed(joined, profile);
}

/// Adds what `joined` could not attribute or lost to the profile's totals.
void count_unattributed(const CorrelationResult& joined, Profile* profile) {
  profile->unattributed_kernels += static_cast<int64_t>(joined.unattributed_kernels.size());
  profile->unattributed_mems += static_cast<int64_t>(joined.unattributed_mems.size());
  for (const KernelRecord& k : joined.unattributed_kernels) {
    auto& names = profile->unattributed_kernel_names;
    if (names.size() < 5 && std::find(names.begin(), names.end(), k.name) == names.end()) names.push_back(k.name);
  }
  profile->dropped_records += joined.dropped_records;
  profile->duplicate_records += joined.duplicate_records;
}

/// The records of `iteration` for the trace, tagged with node index + 1.
void collect_trace(const CorrelationResult& joined, int64_t iteration, Profile* profile) {
  const size_t node_count = profile->nodes.size();
  const uint64_t first_id = static_cast<uint64_t>(iteration) * node_count + 1;
  for (auto it = joined.nodes.lower_bound(first_id); it != joined.nodes.end() && it->first < first_id + node_count; ++it) {
    const uint64_t node_id = it->first - first_id + 1;
    for (KernelRecord k : it->second.kernels) {
      k.external_id = node_id;
      profile->trace_kernels.push_back(std::move(k));
    }
    for (MemRecord m : it->second.mems) {
      m.external_id = node_id;
      profile->trace_mems.push_back(m);
    }
    for (RuntimeApiRecord r : it->second.runtime_calls) {
      r.external_id = node_id;
      profile->trace_runtime_calls.push_back(std::move(r));
    }
  }
}

/// G1-G2 of profile.h: the unprofiled replays, then the profiled ones attributed through
/// the capture's graph nodes. False (with profile->cuda_graph_refusal) when the replays
/// cannot be profiled and the caller profiles eagerly; an error only when a run failed.
Result<bool> profile_graph_replays(models::Session& session, const ProfileOptions& options,
                                   const std::function<Status(int64_t*)>& timed_run,
                                   const std::function<Result<std::unique_ptr<TimingSource>>(CuptiRecords)>& started_cupti,
                                   Profile* profile) {
  auto report = [&](const char* phase, int done, int total) {
    if (options.progress) options.progress(phase, done, total);
  };
  auto refuse = [&](std::string why) {
    profile->cuda_graph_refusal = std::move(why);
    return false;
  };
  // Run 1 warms the shape set up, run 2 captures it: neither is a replay.
  const int setup = std::max(2, options.warmup);
  int64_t ns = 0;
  std::vector<int64_t> walls;

  // G1. Unprofiled replays: the baseline, and the graph wall of the host-bound row.
  session.set_cuda_graph(true);
  if (!session.cuda_graph_state().enabled) return refuse(session.cuda_graph_state().ignored);
  for (int i = 0; i < setup; ++i) AK_RETURN_IF_ERROR(timed_run(&ns));
  if (session.cuda_graph_state().captured == 0) return refuse(session.cuda_graph_state().fallback_reason);
  int64_t replays_before = session.cuda_graph_state().replays;
  for (int i = 0; i < options.iters; ++i) {
    AK_RETURN_IF_ERROR(timed_run(&ns));
    walls.push_back(ns);
    report("baseline", i + 1, options.iters);
  }
  profile->unprofiled_wall = time_stats(walls);
  profile->graph_measured = true;
  profile->graph_wall = profile->unprofiled_wall;
  profile->graph_replays = session.cuda_graph_state().replays - replays_before;

  // G2. A fresh capture under CUPTI's graph-node recording, observed node by node; then
  // the profiled replays, kernel records only.
  auto source = started_cupti(CuptiRecords::kGraphNodes);
  if (!source.is_ok()) return refuse("CUPTI's graph-node recording could not start: " + source.status().message());
  ProfileObserver observer(&profile->nodes);
  observer.set_source(source->get());
  observer.begin_iteration(0, false);  // pushes node index + 1 during the capture
  session.set_cuda_graph(true);
  session.set_capture_observer(&observer);
  Status run_status;
  for (int i = 0; i < setup + options.warmup && run_status.is_ok(); ++i) {
    run_status = timed_run(&ns);
    report("warmup", i + 1, setup + options.warmup);
  }
  session.set_capture_observer(nullptr);
  replays_before = session.cuda_graph_state().replays;
  walls.clear();
  for (int i = 0; i < options.iters && run_status.is_ok(); ++i) {
    run_status = timed_run(&ns);
    walls.push_back(ns);
    report("profile", i + 1, options.iters);
  }
  auto joined = (*source)->stop();
  source->reset();  // one CUPTI source at a time: the eager profile may need its own
  AK_RETURN_IF_ERROR(run_status);
  const models::CudaGraphState& g = session.cuda_graph_state();
  if (g.captured == 0) return refuse(g.fallback_reason.empty() ? "cuda graph: the profiled capture did not happen" : g.fallback_reason);
  profile->cuda_graph_replays = g.replays - replays_before;
  if (profile->cuda_graph_replays != options.iters)
    return refuse("only " + std::to_string(profile->cuda_graph_replays) + " of " + std::to_string(options.iters) +
                  " profiled runs replayed the graph");
  if (!joined.is_ok()) return refuse("collecting CUPTI records: " + joined.status().message());
  auto attributed = attribute_by_graph_node(*joined, options.iters, profile->nodes.size());
  if (!attributed.is_ok()) return refuse(attributed.status().message());

  profile->timing_source = "cupti";
  profile->attribution = "graph";
  profile->cuda_graph = true;
  profile->profiled_wall = time_stats(walls);
  profile->overhead_ratio = profile->unprofiled_wall.median_ns > 0
                                ? static_cast<double>(profile->profiled_wall.median_ns) /
                                      static_cast<double>(profile->unprofiled_wall.median_ns)
                                : 0;
  collect_trace(*attributed, options.iters - 1, profile);
  summarize(*attributed, 0, options.iters, profile);
  return true;
}

}  // namespace

Status check_profile_options(const ProfileOptions& options, const models::Device& device) {
  if (options.iters < 1) return invalid_input("--iters must be at least 1");
  if (options.warmup < 0) return invalid_input("--warmup must not be negative");
  if (options.cuda_graph && !device.is_cuda())
    return invalid_input("profiling CUDA-graph replays needs a CUDA device; the model runs on " + device.str());
  if (options.cuda_graph && options.host_timing)
    return invalid_input("CUDA-graph replays cannot be profiled with host timing: a replay walks no node to time");
  return Status::ok();
}

Result<Profile> profile_session(models::Session& session, const std::vector<models::TensorData>& inputs,
                                const ProfileOptions& options) {
  AK_RETURN_IF_ERROR(check_profile_options(options, session.device()));
  const models::Graph& graph = session.model().graph;
  Profile profile;
  profile.warmup = options.warmup;
  profile.iters = options.iters;
  profile.nodes.resize(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    profile.nodes[i].node_index = i;
    profile.nodes[i].name = graph.nodes[i].name;
    profile.nodes[i].op_type = graph.nodes[i].op_type;
    profile.nodes[i].domain = graph.nodes[i].domain;
  }
  if (graph.nodes.empty()) return invalid_input("the model has no nodes to profile");

  const bool gpu = session.device().is_cuda();

  std::vector<at::Tensor> device_inputs;
  AK_RETURN_IF_ERROR(session.upload_inputs(inputs, &device_inputs));
  // Steps 1-3 run node by node (observers see every node, and the baseline must run the
  // way the profiled runs do); step 4 and the graph profile turn graphs on. The session's
  // setting comes back on every return.
  struct GraphModeRestore {
    models::Session& session;
    bool enabled;
    ~GraphModeRestore() {
      session.set_capture_observer(nullptr);
      session.set_cuda_graph(enabled);
    }
  } restore{session, session.cuda_graph_state().enabled};
  std::vector<at::Tensor> outputs;
  auto report = [&](const char* phase, int done, int total) {
    if (options.progress) options.progress(phase, done, total);
  };
  auto timed_run = [&](int64_t* wall_ns) -> Status {
    const int64_t start = now_ns();
    AK_RETURN_IF_ERROR(session.run_device(device_inputs, &outputs));
    session.synchronize();
    *wall_ns = now_ns() - start;
    return Status::ok();
  };
  auto started_cupti = [](CuptiRecords records) -> Result<std::unique_ptr<TimingSource>> {
    AK_ASSIGN_OR_RETURN(std::unique_ptr<TimingSource> source, make_cupti_timing_source(records));
    AK_RETURN_IF_ERROR(source->start());
    return source;
  };
  int64_t ns = 0;

  if (options.cuda_graph) {
    // G1-G2 (profile.h). On a refusal the profile is the eager one, saying why.
    const Profile before = profile;
    Result<bool> profiled = profile_graph_replays(session, options, timed_run, started_cupti, &profile);
    if (!profiled.is_ok()) return profiled.status();
    if (*profiled) return profile;
    const std::string why = profile.cuda_graph_refusal;
    profile = before;
    profile.cuda_graph_refusal = why;
  }
  session.set_cuda_graph(false);

  // 1. The unprofiled baseline.
  std::vector<int64_t> wall;
  for (int i = 0; i < options.warmup; ++i) AK_RETURN_IF_ERROR(timed_run(&ns));
  for (int i = 0; i < options.iters; ++i) {
    AK_RETURN_IF_ERROR(timed_run(&ns));
    wall.push_back(ns);
    report("baseline", i + 1, options.iters);
  }
  profile.unprofiled_wall = time_stats(wall);

  // 2. `warmups` then `iters` iterations under a timing source; `spans_at` is the iteration
  // whose host spans the trace shows (-1: none). Returns the joined records; the profiled
  // iterations' wall times go to `walls`.
  ProfileObserver observer(&profile.nodes);
  auto traced_runs = [&](TimingSource& source, int warmups, int iters, int spans_at,
                         std::vector<int64_t>* walls) -> Result<CorrelationResult> {
    observer.set_source(&source);
    session.add_observer(&observer);
    Status run_status;
    for (int i = 0; i < warmups + iters && run_status.is_ok(); ++i) {
      observer.begin_iteration(i, i == spans_at);
      run_status = timed_run(&ns);
      if (i < warmups) {
        report("warmup", i + 1, warmups);
      } else {
        walls->push_back(ns);
        report("profile", i - warmups + 1, iters);
      }
    }
    session.remove_observer(&observer);
    auto joined = source.stop();
    AK_RETURN_IF_ERROR(run_status);
    if (!joined.is_ok()) return joined.status().with_context("collecting " + source.name() + " records");
    return joined;
  };
  const bool replay = options.attribution == ProfileOptions::Attribution::kReplay;
  std::unique_ptr<TimingSource> source;
  if (gpu && !options.host_timing) {
    auto cupti = started_cupti(replay ? CuptiRecords::kDeviceOnly : CuptiRecords::kCorrelated);
    if (cupti.is_ok()) source = std::move(cupti).value();
    else profile.fallback_reason = cupti.status().message();
  } else if (gpu) {
    profile.fallback_reason = "host timing requested";
  }
  if (source == nullptr) {
    std::function<void()> sync;
    if (gpu) sync = [&session] { session.synchronize(); };
    source = make_host_timing_source(std::move(sync));
    AK_RETURN_IF_ERROR(source->start());
  }
  profile.timing_source = source->name();
  const int total = options.warmup + options.iters;
  wall.clear();

  if (profile.timing_source != "cupti" || !replay) {
    // Host timing, or CUPTI with external correlation: every record is joined to its node
    // as it is traced, so warm-up and profiled runs are one pass; the trace is the last run.
    profile.attribution = profile.timing_source == "cupti" ? "correlation" : "host";
    AK_ASSIGN_OR_RETURN(CorrelationResult joined, traced_runs(*source, options.warmup, options.iters, total - 1, &wall));
    profile.trace_spans = observer.take_spans();
    collect_trace(joined, total - 1, &profile);
    summarize(joined, options.warmup, options.iters, &profile);
  } else {
    // Replay: the warm-up and profiled runs first, with kernel records only (before
    // anything the calibration enables has been active in CUPTI), then the calibration
    // with external correlation, whose launch order attributes them; its last run is the
    // trace's iteration.
    AK_ASSIGN_OR_RETURN(CorrelationResult traced, traced_runs(*source, options.warmup, options.iters, -1, &wall));
    source.reset();  // one CUPTI source at a time
    const int calibration = std::max(1, options.warmup);
    profile.calibration_iters = calibration;
    AK_ASSIGN_OR_RETURN(std::unique_ptr<TimingSource> calibration_source, started_cupti(CuptiRecords::kCorrelated));
    AK_ASSIGN_OR_RETURN(CorrelationResult calibrated,
                        traced_runs(*calibration_source, calibration, 0, calibration - 1, nullptr));
    calibration_source.reset();
    profile.trace_spans = observer.take_spans();
    collect_trace(calibrated, calibration - 1, &profile);
    count_unattributed(calibrated, &profile);

    auto replayed = [&]() -> Result<CorrelationResult> {
      AK_ASSIGN_OR_RETURN(std::vector<LaunchStep> order, launch_order(calibrated, calibration - 1, profile.nodes.size()));
      return attribute_by_launch_order(order, traced, total, profile.nodes.size());
    }();
    if (replayed.is_ok()) {
      profile.attribution = "replay";
      summarize(*replayed, options.warmup, options.iters, &profile);
    } else {
      // Run the profiled iterations again, joined by external correlation.
      profile.replay_fallback_reason = replayed.status().message();
      profile.attribution = "correlation";
      wall.clear();
      AK_ASSIGN_OR_RETURN(std::unique_ptr<TimingSource> again, started_cupti(CuptiRecords::kCorrelated));
      AK_ASSIGN_OR_RETURN(CorrelationResult joined, traced_runs(*again, 0, options.iters, -1, &wall));
      summarize(joined, 0, options.iters, &profile);
    }
  }

  profile.profiled_wall = time_stats(wall);
  profile.overhead_ratio = profile.unprofiled_wall.median_ns > 0
                               ? static_cast<double>(profile.profiled_wall.median_ns) /
                                     static_cast<double>(profile.unprofiled_wall.median_ns)
                               : 0;

  // 4. The same unprofiled runs replayed as a CUDA graph: what removing the host's share
  // of the wall time is worth, measured rather than estimated.
  if (options.graph_replay && gpu) {
    session.set_cuda_graph(true);
    const models::CudaGraphState& g = session.cuda_graph_state();
    Status graph_status;
    if (g.enabled) {
      // Run 1 warms up the shape set, run 2 captures it: neither is a replay.
      for (int i = 0; i < std::max(2, options.warmup) && graph_status.is_ok(); ++i) graph_status = timed_run(&ns);
      const int64_t replays_before = g.replays;
      wall.clear();
      for (int i = 0; i < options.iters && graph_status.is_ok(); ++i) {
        graph_status = timed_run(&ns);
        wall.push_back(ns);
        report("graph", i + 1, options.iters);
      }
      profile.graph_measured = graph_status.is_ok();
      profile.graph_wall = time_stats(wall);
      profile.graph_replays = g.replays - replays_before;
      profile.graph_note = g.fallback_reason;
    } else {
      profile.graph_note = g.ignored;
    }
    AK_RETURN_IF_ERROR(graph_status.with_context("timing CUDA-graph replay"));
  }
  return profile;
}

}  // namespace ak::profiler
