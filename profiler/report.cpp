#include "profiler/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/strings.h"
#include "profiler/workloads.h"

namespace ak::profiler {
namespace {

using nlohmann::ordered_json;

double us(int64_t ns) { return static_cast<double>(ns) / 1e3; }

std::string shapes_text(const std::vector<std::vector<int64_t>>& shapes) {
  std::string out;
  for (const auto& s : shapes) {
    if (!out.empty()) out += ",";
    out += s.empty() ? "()" : models::shape_string(s);
  }
  return out;
}

/// Shortens `text` to `width` characters, keeping both ends ("attention:MatMul_1..Ma~_9").
std::string fit(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  if (width < 5) return text.substr(0, width);
  const size_t head = (width - 1) / 2, tail = width - 1 - head;
  return text.substr(0, head) + "~" + text.substr(text.size() - tail);
}

/// Achieved rates of a unit measured at `time_ns`.
double gbps(double bytes, int64_t time_ns) { return time_ns > 0 ? bytes / static_cast<double>(time_ns) : 0; }
double tflops(double flops, int64_t time_ns) { return time_ns > 0 ? flops / static_cast<double>(time_ns) / 1e3 : 0; }

ordered_json peaks_json(const DevicePeaks& p) {
  return {{"name", p.name},
          {"bandwidth_gbps", p.bandwidth_gbps},
          {"fp32_tflops", p.fp32_tflops},
          {"tf32_tflops", p.tf32_tflops},
          {"fp16_tflops", p.fp16_tflops},
          {"bf16_tflops", p.bf16_tflops},
          {"launch_overhead_us", us(p.launch_overhead_ns)},
          {"source", p.source}};
}

/// "float32[2,16,64], float32[64]": a workload's inputs, shapes where the profile knew them.
std::string workload_inputs_text(const models::WorkloadKey& key) {
  std::string out;
  for (size_t i = 0; i < key.dtypes.size(); ++i) {
    out += (i ? "," : "");
    out += key.shapes[i].empty() && !key.has_shapes ? "?" : models::shape_string(key.shapes[i]);
  }
  return out;
}

/// What a workload is called in reports: its pattern, or the op type of a single node.
std::string workload_label(const Workload& w) {
  return w.kind.is_node() && !w.op_types.empty() ? w.op_types.front() : w.kind.name();
}

/// The by-workload table: identical hotspots (models/workload.h) as one row each.
void format_workload_table(const ReportInput& in, int top, std::ostringstream& out) {
  auto workloads = rank_workloads(*in.analysis, *in.profile, *in.graph);
  if (!workloads.is_ok()) {
    out << "\nnote:    no by-workload table: " << workloads.status().message() << "\n";
    return;
  }
  char line[512];
  out << "\nBy workload (the hotspots that compute the same thing on the same shapes; one kernel serves every instance):\n";
  std::snprintf(line, sizeof line, "%4s  %-20s %5s %9s %10s %6s %6s %-28s %7s %6s  %s\n", "rank", "workload", "inst",
                "each(us)", "total(us)", "%model", "cum%", "input shapes", "attain", "e2e", "first instance");
  out << line;
  double cumulative_share = 0;
  int shown = 0;
  for (const Workload& w : *workloads) {
    if (top > 0 && shown >= top) break;
    ++shown;
    cumulative_share += w.share;
    const Hotspot& first = in.analysis->hotspots[w.instances.front()];
    std::snprintf(line, sizeof line, "%4d  %-20s %5zu %9.1f %10.1f %6.1f %6.1f %-28s %6.2fx %6.3f  %s\n", w.rank,
                  fit(workload_label(w), 20).c_str(), w.instances.size(), us(w.instance_median_ns), us(w.time_ns),
                  100 * w.share, 100 * cumulative_share, fit(workload_inputs_text(w.key), 28).c_str(),
                  w.attainable_speedup, w.e2e_gain, fit(first.name, 40).c_str());
    out << line;
  }
  if (shown > 0) {
    std::snprintf(line, sizeof line,
                  "\nIf the top %d workloads reached their roofline: model %.2fx faster (%zu workloads in %zu hotspots).\n",
                  shown, (*workloads)[static_cast<size_t>(shown) - 1].cumulative_speedup, workloads->size(),
                  in.analysis->hotspots.size());
    out << line;
  }
}

ordered_json workloads_json(const ReportInput& in) {
  ordered_json list = ordered_json::array();
  auto workloads = rank_workloads(*in.analysis, *in.profile, *in.graph);
  if (!workloads.is_ok()) return list;
  for (const Workload& w : *workloads) {
    ordered_json instances = ordered_json::array();
    for (size_t i : w.instances) {
      const Hotspot& h = in.analysis->hotspots[i];
      std::vector<std::string> names;
      for (size_t n : h.nodes) names.push_back(in.graph->nodes[n].name);
      instances.push_back({{"hotspot_rank", h.rank}, {"name", h.name}, {"nodes", names}, {"time_us", us(h.time_ns)}});
    }
    std::vector<std::string> dtypes;
    for (models::DType t : w.key.dtypes) dtypes.push_back(t == models::DType::kUndefined ? "" : models::dtype_name(t));
    list.push_back({{"rank", w.rank},
                    {"hash", w.hash},
                    {"structure_hash", w.key.structure_hash()},
                    {"kind", w.kind.name()},
                    {"op_types", w.op_types},
                    {"input_dtypes", dtypes},
                    {"input_shapes", w.key.has_shapes ? ordered_json(w.key.shapes) : ordered_json(nullptr)},
                    {"instance_count", w.instances.size()},
                    {"instances", instances},
                    {"instance_median_us", us(w.instance_median_ns)},
                    {"time_us", us(w.time_ns)},
                    {"share", w.share},
                    {"attainable_us", us(w.attainable_ns)},
                    {"attainable_speedup", w.attainable_speedup},
                    {"e2e_gain", w.e2e_gain},
                    {"cumulative_speedup", w.cumulative_speedup},
                    {"structure", w.key.structure}});
  }
  return list;
}

}  // namespace

std::string format_profile_table(const ReportInput& in, int top) {
  const Profile& p = *in.profile;
  const Analysis& a = *in.analysis;
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "model:   %s (%zu nodes)\n", in.model_path.c_str(), in.graph->nodes.size());
  out << line;
  std::snprintf(line, sizeof line, "device:  %s (%s); peaks: %.0f GB/s, %.1f TFLOP/s fp32, %.0f fp16 (%s)\n",
                in.device.c_str(), in.device_name.c_str(), a.peaks.bandwidth_gbps, a.peaks.fp32_tflops,
                a.peaks.fp16_tflops, a.peaks.source.c_str());
  out << line;
  std::snprintf(line, sizeof line, "timing:  %s, %d iterations after %d warm-up; model time %.1f us per iteration\n",
                p.timing_source.c_str(), p.iters, p.warmup, us(a.model_ns));
  out << line;
  if (p.cuda_graph) {
    std::snprintf(line, sizeof line,
                  "mode:    cuda graph: %lld of %d profiled iterations replayed the captured graph; %lld of %lld kernels "
                  "attributed through their graph nodes\n",
                  static_cast<long long>(p.cuda_graph_replays), p.iters, static_cast<long long>(p.attributed_kernels),
                  static_cast<long long>(p.attributed_kernels + p.unattributed_kernels));
    out << line;
  } else if (!p.cuda_graph_refusal.empty()) {
    out << "mode:    eager (--cuda-graph asked for, not profiled: " << p.cuda_graph_refusal << ")\n";
  }
  out << "\n";
  std::snprintf(line, sizeof line, "%4s  %-36s %-22s %-24s %-8s %10s %6s %6s %5s %8s %7s %6s %-8s %6s\n", "rank",
                "node or group", "op types", "shapes", "dtype", "time(us)", "%model", "cum%", "kern", "GB/s",
                "TFLOP/s", "%roof", "bound", "e2e");
  out << line;
  double cumulative_share = 0;
  int shown = 0;
  bool host_shown = !a.host_bound.has_value();
  auto host_row = [&] {
    const HostBoundRow& hb = *a.host_bound;
    host_shown = true;
    cumulative_share += hb.share;
    std::snprintf(line, sizeof line, "%4d  %-36s %-22s %-24s %-8s %10.1f %6.1f %6.1f %5s %8s %7s %6s %-8s %6.3f\n", hb.rank,
                  "(host-bound: GPU waits for the host)", "-", "-", "-", us(hb.time_ns), 100 * hb.share,
                  100 * cumulative_share, "-", "-", "-", "-", "host", hb.e2e_gain);
    out << line;
  };
  for (const Hotspot& h : a.hotspots) {
    if (top > 0 && shown >= top) break;
    if (!host_shown && a.host_bound->rank < h.rank) {
      host_row();
      ++shown;
      if (top > 0 && shown >= top) break;
    }
    ++shown;
    cumulative_share += h.share;
    const NodeProfile& first = p.nodes[h.nodes.front()];
    std::snprintf(line, sizeof line, "%4d  %-36s %-22s %-24s %-8s %10.1f %6.1f %6.1f %5lld %8.1f %7.2f %6.1f %-8s %6.3f\n",
                  h.rank, fit(h.name, 36).c_str(), fit(join(h.op_types, ","), 22).c_str(),
                  fit(shapes_text(first.input_shapes), 24).c_str(), models::dtype_name(h.dtype).c_str(), us(h.time_ns),
                  100 * h.share, 100 * cumulative_share, static_cast<long long>(h.kernels), gbps(h.cost.bytes, h.time_ns),
                  tflops(h.cost.flops, h.time_ns), 100 * h.roofline.achieved_fraction, bound_name(h.roofline.bound),
                  h.e2e_gain);
    out << line;
  }
  if (!host_shown && (top <= 0 || shown < top)) {
    host_row();
    ++shown;
  }
  // Cumulative speedups by rank, the host-bound row included wherever it ranks.
  std::vector<std::pair<int, double>> cumulative;
  for (const Hotspot& h : a.hotspots) cumulative.emplace_back(h.rank, h.cumulative_speedup);
  if (a.host_bound) cumulative.emplace_back(a.host_bound->rank, a.host_bound->cumulative_speedup);
  std::sort(cumulative.begin(), cumulative.end());
  if (shown > 0) {
    std::snprintf(line, sizeof line,
                  "\nIf the top %d reached their roofline%s: model %.2fx faster (Amdahl; every hotspot: %.2fx).\n", shown,
                  a.host_bound ? " (the host-bound row: by graph replay)" : "",
                  cumulative[static_cast<size_t>(shown) - 1].second, cumulative.back().second);
    out << line;
  }
  format_workload_table(in, top, out);

  out << "\nBy op type:\n";
  std::snprintf(line, sizeof line, "  %-24s %6s %10s %7s %9s\n", "op type", "nodes", "time(us)", "%model", "kern/iter");
  out << line;
  for (const OpTypeSummary& s : a.op_types) {
    if (s.time_ns <= 0) continue;
    std::snprintf(line, sizeof line, "  %-24s %6d %10.1f %7.1f %9.1f\n", fit(s.op_type, 24).c_str(), s.nodes,
                  us(s.time_ns), 100 * s.share, s.kernels_per_iter);
    out << line;
  }

  out << "\n";
  std::snprintf(line, sizeof line,
                "wall:    %.1f us per iteration unprofiled, %.1f us profiled (overhead %.3fx)\n",
                us(p.unprofiled_wall.median_ns), us(p.profiled_wall.median_ns), p.overhead_ratio);
  out << line;
  if (p.timing_source == "cupti") {
    const double attributed_pct =
        p.busy_ns_per_iter > 0 ? 100.0 * static_cast<double>(p.attributed_ns_per_iter) / static_cast<double>(p.busy_ns_per_iter) : 0;
    std::snprintf(line, sizeof line,
                  "kernels: %lld per iteration; %lld unattributed kernels, %lld unattributed memcpy/memset, %llu dropped "
                  "records; attributed %.1f%% of GPU busy time (%.1f us)\n",
                  static_cast<long long>(p.kernels_per_iter), static_cast<long long>(p.unattributed_kernels),
                  static_cast<long long>(p.unattributed_mems), static_cast<unsigned long long>(p.dropped_records),
                  attributed_pct, us(p.busy_ns_per_iter));
    out << line;
    for (const std::string& name : p.unattributed_kernel_names) out << "         unattributed: " << fit(name, 120) << "\n";
    out << "attribution: " << p.attribution;
    if (p.attribution == "replay")
      out << " (profiled iterations record kernels only, matched to the launch order of " << p.calibration_iters
          << " calibration iteration" << (p.calibration_iters == 1 ? "" : "s") << " with external correlation)";
    else if (p.attribution == "correlation")
      out << " (external correlation ids in every profiled iteration)";
    else if (p.attribution == "graph")
      out << " (CUDA-graph replays: each kernel by the graph node its node created during the capture)";
    out << "\n";
    if (!p.replay_fallback_reason.empty()) out << "note:    replay not used: " << p.replay_fallback_reason << "\n";
  }
  if (!p.fallback_reason.empty()) out << "note:    host timing because " << p.fallback_reason << "\n";
  if (a.host_bound) {
    const HostBoundRow& hb = *a.host_bound;
    std::snprintf(line, sizeof line,
                  "host:    GPU idle %.1f%% of the wall time; replayed as a CUDA graph %.1f us per iteration against "
                  "%.1f us (%.2fx, %lld of %d timed runs replayed)\n",
                  100 * hb.gpu_idle_share, us(hb.graph_wall_ns), us(hb.wall_ns),
                  hb.graph_wall_ns > 0 ? static_cast<double>(hb.wall_ns) / static_cast<double>(hb.graph_wall_ns) : 0,
                  static_cast<long long>(p.graph_replays), p.iters);
    out << line;
  }
  if (!p.graph_note.empty()) out << "note:    " << p.graph_note << "\n";
  return out.str();
}

std::string profile_json(const ReportInput& in) {
  const Profile& p = *in.profile;
  const Analysis& a = *in.analysis;
  ordered_json j;
  j["schema"] = kProfileSchema;
  j["model"] = in.model_path;
  j["device"] = {{"kind", in.device}, {"name", in.device_name}, {"peaks", peaks_json(a.peaks)}, {"allow_tf32", a.allow_tf32}};
  j["timing"] = {{"source", p.timing_source},
                 {"fallback_reason", p.fallback_reason},
                 {"attribution", p.attribution},
                 {"replay_fallback_reason", p.replay_fallback_reason},
                 {"warmup", p.warmup},
                 {"calibration_iters", p.calibration_iters},
                 {"iters", p.iters},
                 {"profiled_wall_us", us(p.profiled_wall.median_ns)},
                 {"unprofiled_wall_us", us(p.unprofiled_wall.median_ns)},
                 {"overhead_ratio", p.overhead_ratio},
                 {"graph_measured", p.graph_measured},
                 {"graph_wall_us", us(p.graph_wall.median_ns)},
                 {"graph_replays", p.graph_replays},
                 {"graph_note", p.graph_note},
                 {"cuda_graph", p.cuda_graph},
                 {"cuda_graph_replays", p.cuda_graph_replays},
                 {"cuda_graph_refusal", p.cuda_graph_refusal}};
  j["cuda_graph"] = p.cuda_graph;
  j["total_time_us"] = us(a.model_ns);
  j["frame_us"] = us(a.frame_ns);
  if (a.host_bound) {
    const HostBoundRow& hb = *a.host_bound;
    j["host_bound"] = {{"rank", hb.rank},
                       {"time_us", us(hb.time_ns)},
                       {"wall_us", us(hb.wall_ns)},
                       {"graph_wall_us", us(hb.graph_wall_ns)},
                       {"gpu_idle_share", hb.gpu_idle_share},
                       {"share", hb.share},
                       {"attainable_speedup", hb.attainable_speedup},
                       {"e2e_gain", hb.e2e_gain},
                       {"cumulative_speedup", hb.cumulative_speedup},
                       {"note", hb.note}};
  } else {
    j["host_bound"] = nullptr;
  }
  j["attribution"] = {{"kernels_per_iter", p.kernels_per_iter},
                      {"attributed_kernels", p.attributed_kernels},
                      {"busy_us_per_iter", us(p.busy_ns_per_iter)},
                      {"attributed_us_per_iter", us(p.attributed_ns_per_iter)},
                      {"unattributed_kernels", p.unattributed_kernels},
                      {"unattributed_mems", p.unattributed_mems},
                      {"unattributed_kernel_names", p.unattributed_kernel_names},
                      {"dropped_records", p.dropped_records},
                      {"duplicate_records", p.duplicate_records}};
  ordered_json nodes = ordered_json::array();
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const NodeProfile& n = p.nodes[i];
    const NodeAnalysis& na = a.nodes[i];
    ordered_json kernels = ordered_json::array();
    for (const KernelSummary& k : n.kernels)
      kernels.push_back({{"name", k.name},
                         {"calls_per_iter", k.calls_per_iter},
                         {"median_us", us(k.duration.median_ns)},
                         {"p10_us", us(k.duration.p10_ns)},
                         {"p90_us", us(k.duration.p90_ns)},
                         {"total_us_per_iter", us(k.total_ns_per_iter)},
                         {"streams", k.stream_ids}});
    std::vector<std::string> in_dtypes, out_dtypes;
    for (auto t : n.input_dtypes) in_dtypes.push_back(models::dtype_name(t));
    for (auto t : n.output_dtypes) out_dtypes.push_back(models::dtype_name(t));
    nodes.push_back({{"index", i},
                     {"name", n.name},
                     {"op_type", n.op_type},
                     {"domain", n.domain},
                     {"input_shapes", n.input_shapes},
                     {"input_dtypes", in_dtypes},
                     {"output_shapes", n.output_shapes},
                     {"output_dtypes", out_dtypes},
                     {"dtype", models::dtype_name(na.dtype)},
                     {"on_host", n.on_host},
                     {"time_us", us(n.time.median_ns)},
                     {"p10_us", us(n.time.p10_ns)},
                     {"p90_us", us(n.time.p90_ns)},
                     {"share", na.share},
                     {"launches_per_iter", n.launches_per_iter},
                     {"kernels", kernels},
                     {"op_class", na.cost.op_class},
                     {"flops", na.cost.flops},
                     {"bytes", na.cost.bytes},
                     {"bound", bound_name(na.roofline.bound)},
                     {"attainable_us", na.roofline.attainable_ns / 1e3},
                     {"roofline_fraction", na.roofline.achieved_fraction},
                     {"attainable_speedup", na.roofline.attainable_speedup},
                     {"e2e_gain", na.e2e_gain}});
  }
  j["nodes"] = std::move(nodes);
  ordered_json hotspots = ordered_json::array();
  for (const Hotspot& h : a.hotspots) {
    std::vector<std::string> names;
    for (size_t i : h.nodes) names.push_back(in.graph->nodes[i].name);
    hotspots.push_back({{"rank", h.rank},
                        {"name", h.name},
                        {"kind", h.kind.name()},
                        {"nodes", names},
                        {"op_types", h.op_types},
                        {"dtype", models::dtype_name(h.dtype)},
                        {"time_us", us(h.time_ns)},
                        {"share", h.share},
                        {"kernels_per_iter", h.kernels},
                        {"flops", h.cost.flops},
                        {"bytes", h.cost.bytes},
                        {"bound", bound_name(h.roofline.bound)},
                        {"attainable_us", h.roofline.attainable_ns / 1e3},
                        {"roofline_fraction", h.roofline.achieved_fraction},
                        {"attainable_speedup", h.roofline.attainable_speedup},
                        {"e2e_gain", h.e2e_gain},
                        {"cumulative_speedup", h.cumulative_speedup}});
  }
  j["hotspots"] = std::move(hotspots);
  j["workloads"] = workloads_json(in);
  ordered_json op_types = ordered_json::array();
  for (const OpTypeSummary& s : a.op_types)
    op_types.push_back({{"op_type", s.op_type}, {"nodes", s.nodes}, {"time_us", us(s.time_ns)}, {"share", s.share},
                        {"kernels_per_iter", s.kernels_per_iter}});
  j["op_types"] = std::move(op_types);
  return j.dump(2);
}

std::string chrome_trace_json(const ReportInput& in) {
  const Profile& p = *in.profile;
  constexpr int kHostPid = 1, kGpuPid = 2, kNodeTid = 1, kApiTid = 2;
  // Times relative to the iteration's first event, in microseconds (the format's unit).
  int64_t origin = INT64_MAX;
  for (const HostSpan& s : p.trace_spans) origin = std::min(origin, s.start_ns);
  for (const KernelRecord& k : p.trace_kernels) origin = std::min(origin, k.start_ns);
  for (const RuntimeApiRecord& r : p.trace_runtime_calls) origin = std::min(origin, r.start_ns);
  if (origin == INT64_MAX) origin = 0;
  auto ts = [origin](int64_t ns) { return static_cast<double>(ns - origin) / 1e3; };

  ordered_json events = ordered_json::array();
  auto name_process = [&](int pid, const std::string& name) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", name}}}});
  };
  auto name_thread = [&](int pid, int64_t tid, const std::string& name) {
    events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}});
  };
  name_process(kHostPid, "host: " + in.model_path);
  name_thread(kHostPid, kNodeTid, "ONNX nodes");
  const bool device_records = p.timing_source == "cupti";
  if (device_records) {
    name_thread(kHostPid, kApiTid, "CUDA runtime API");
    name_process(kGpuPid, "GPU: " + in.device_name);
  }

  auto node_args = [&](size_t index) {
    const NodeProfile& n = p.nodes[index];
    std::vector<std::string> dtypes;
    for (auto t : n.input_dtypes) dtypes.push_back(models::dtype_name(t));
    return ordered_json{{"node", n.name},
                        {"op_type", n.op_type},
                        {"input_shapes", shapes_text(n.input_shapes)},
                        {"output_shapes", shapes_text(n.output_shapes)},
                        {"dtypes", join(dtypes, ",")}};
  };
  std::map<uint64_t, int64_t> launch_ts_by_node;  // a flow source for kernels without an API record
  for (const HostSpan& s : p.trace_spans) {
    events.push_back({{"ph", "X"}, {"name", p.nodes[s.node_index].name}, {"cat", "node"}, {"pid", kHostPid},
                      {"tid", kNodeTid}, {"ts", ts(s.start_ns)}, {"dur", ts(s.end_ns) - ts(s.start_ns)},
                      {"args", node_args(s.node_index)}});
    launch_ts_by_node.emplace(s.node_index + 1, s.start_ns);
  }
  if (!device_records) return ordered_json{{"traceEvents", events}, {"displayTimeUnit", "ns"}}.dump();

  std::map<uint64_t, int64_t> api_ts_by_correlation;
  for (const RuntimeApiRecord& r : p.trace_runtime_calls) {
    events.push_back({{"ph", "X"}, {"name", r.name.empty() ? "cbid " + std::to_string(r.cbid) : r.name},
                      {"cat", "cuda_api"}, {"pid", kHostPid}, {"tid", kApiTid}, {"ts", ts(r.start_ns)},
                      {"dur", ts(r.end_ns) - ts(r.start_ns)}, {"args", {{"correlation", r.correlation_id}}}});
    api_ts_by_correlation[r.correlation_id] = r.start_ns;
  }
  std::map<uint32_t, bool> streams;
  for (const KernelRecord& k : p.trace_kernels) {
    streams[k.stream_id] = true;
    ordered_json args = node_args(k.external_id - 1);
    args["grid"] = std::to_string(k.grid_x) + "x" + std::to_string(k.grid_y) + "x" + std::to_string(k.grid_z);
    args["block"] = std::to_string(k.block_x) + "x" + std::to_string(k.block_y) + "x" + std::to_string(k.block_z);
    args["registers_per_thread"] = k.registers_per_thread;
    args["shared_memory_bytes"] = k.shared_memory_bytes;
    args["correlation"] = k.correlation_id;
    events.push_back({{"ph", "X"}, {"name", k.name}, {"cat", "kernel"}, {"pid", kGpuPid}, {"tid", k.stream_id},
                      {"ts", ts(k.start_ns)}, {"dur", ts(k.end_ns) - ts(k.start_ns)}, {"args", args}});
    // The arrow starts at the launching API call (or the node span) and ends at the kernel.
    int64_t from_ns = 0;
    int from_tid = kApiTid;
    if (auto it = api_ts_by_correlation.find(k.correlation_id); it != api_ts_by_correlation.end()) {
      from_ns = it->second;
    } else if (auto nt = launch_ts_by_node.find(k.external_id); nt != launch_ts_by_node.end()) {
      from_ns = nt->second;
      from_tid = kNodeTid;
    } else {
      continue;
    }
    const std::string flow_id = std::to_string(k.correlation_id) + ":" + std::to_string(k.start_ns);
    events.push_back({{"ph", "s"}, {"name", "launch"}, {"cat", "launch"}, {"id", flow_id}, {"pid", kHostPid},
                      {"tid", from_tid}, {"ts", ts(from_ns)}});
    events.push_back({{"ph", "f"}, {"bp", "e"}, {"name", "launch"}, {"cat", "launch"}, {"id", flow_id},
                      {"pid", kGpuPid}, {"tid", k.stream_id}, {"ts", ts(k.start_ns)}});
  }
  for (const MemRecord& m : p.trace_mems) {
    streams[m.stream_id] = true;
    ordered_json args = node_args(m.external_id - 1);
    args["bytes"] = m.size_bytes;
    events.push_back({{"ph", "X"}, {"name", std::string(mem_kind_name(m.kind))}, {"cat", "memory"}, {"pid", kGpuPid},
                      {"tid", m.stream_id}, {"ts", ts(m.start_ns)}, {"dur", ts(m.end_ns) - ts(m.start_ns)},
                      {"args", args}});
  }
  for (const auto& [stream, unused] : streams) name_thread(kGpuPid, stream, "stream " + std::to_string(stream));
  return ordered_json{{"traceEvents", events}, {"displayTimeUnit", "ns"}}.dump();
}

}  // namespace ak::profiler
