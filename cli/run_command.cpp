// `autokernel run MODEL`: run a model once for its outputs, then time it.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "models/onnx_io.h"
#include "models/session.h"

namespace ak::cli {

namespace {

struct RunArgs {
  ModelOptions model;
  int iters = 10;
  int warmup = 3;
  bool json = false;
  bool cuda_graph = false;     ///< --cuda-graph
  bool no_cuda_graph = false;  ///< --no-cuda-graph
};

/// One line saying what CUDA-graph execution did: "replayed (...)", the fallback reason,
/// or why it was off or ignored.
std::string cuda_graph_line(const models::CudaGraphState& g, bool asked_off) {
  if (asked_off) return "off (--no-cuda-graph)";
  if (!g.enabled) return g.ignored.empty() ? "off" : g.ignored;
  std::string line = std::to_string(g.replays) + " replays of " + std::to_string(g.captured) + " captured graph(s), " +
                     std::to_string(g.eager_runs) + " eager runs";
  if (!g.fallback_reason.empty()) line += "; " + g.fallback_reason;
  return line;
}

/// The swap-in report: instances, entries, what matched nothing, and the runs that fell back.
nlohmann::json kernels_json(const models::SwapReport& swaps) {
  nlohmann::json instances = nlohmann::json::array();
  int64_t fallbacks = 0;
  for (const auto& i : swaps.instances) {
    instances.push_back({{"entry", i.entry}, {"workload", i.workload}, {"nodes", i.nodes}, {"kernel_calls", i.kernel_calls},
                         {"fallbacks", i.fallbacks}, {"last_fallback_reason", i.last_fallback_reason}});
    fallbacks += i.fallbacks;
  }
  return {{"summary", swaps.summary()}, {"swapped", swaps.instances.size()}, {"entries", swaps.entries},
          {"workloads", swaps.workloads}, {"unmatched", swaps.unmatched_entries},
          {"other_device_entries", swaps.other_device_entries}, {"fallbacks", fallbacks},
          {"instances", std::move(instances)}};
}

void print_kernels(const models::SwapReport& swaps) {
  std::printf("%s\n", swaps.summary().c_str());
  for (const auto& id : swaps.unmatched_entries) std::printf("  entry %s matched nothing\n", id.c_str());
  for (const auto& i : swaps.instances)
    if (i.fallbacks > 0)
      std::printf("  %s (%s): %lld of %lld runs fell back to the original nodes: %s\n", i.entry.c_str(),
                  i.nodes.front().c_str(), static_cast<long long>(i.fallbacks),
                  static_cast<long long>(i.fallbacks + i.kernel_calls), i.last_fallback_reason.c_str());
}

Status run(const RunArgs& args) {
  AK_ASSIGN_OR_RETURN(LoadedModel loaded, load_model_with_inputs(args.model));
  models::Session& session = *loaded.session;
  if (!args.json)
    for (const auto& notice : loaded.inputs.notices) std::cerr << "autokernel: notice: " << notice << "\n";
  // Graphs are the default on CUDA: a shape set whose capture fails or whose replay does
  // not reproduce the eager outputs bit for bit runs eagerly (docs/runtime.md). On the CPU
  // only an explicit --cuda-graph is answered, with the line saying it is ignored.
  session.set_cuda_graph(!args.no_cuda_graph && (args.cuda_graph || session.device().is_cuda()));

  auto ran = session.run(loaded.inputs.tensors);
  if (!ran) return models::explain_defaulted_dims(ran.status(), loaded.inputs);
  std::vector<models::TensorData> outputs = std::move(ran).value();
  const bool tty = isatty(STDERR_FILENO);
  auto progress = [&](int done, int total) {
    if (tty && !args.json) std::cerr << "\rtiming: " << done << "/" << total << std::flush;
  };
  AK_ASSIGN_OR_RETURN(models::LatencyStats latency, session.measure_latency(loaded.inputs.tensors, args.warmup, args.iters, progress));
  if (tty && !args.json) std::cerr << "\r" << std::string(32, ' ') << "\r";

  const models::Model& model = session.model();
  const models::SwapReport& swaps = session.swap_report();
  if (args.json) {
    nlohmann::json j;
    j["model"] = args.model.path;
    j["device"] = session.device().str();
    j["device_name"] = models::device_name(session.device());
    j["iters"] = args.iters;
    j["warmup"] = args.warmup;
    j["latency_ms"] = {{"median", latency.median_ms}, {"p10", latency.p10_ms}, {"p90", latency.p90_ms},
                       {"mean", latency.mean_ms}, {"min", latency.min_ms}};
    j["fusions"] = {{"attention", session.fused_attention()}, {"gelu", session.fused_gelu()}};
    if (!args.model.kernels.empty()) j["kernels"] = kernels_json(swaps);
    j["host_syncs_per_run"] = session.host_syncs() / std::max(1, args.iters + args.warmup + 1);
    const models::CudaGraphState& g = session.cuda_graph_state();
    j["cuda_graph"] = {{"enabled", g.enabled}, {"captured", g.captured}, {"replays", g.replays},
                       {"eager_runs", g.eager_runs}, {"evicted", g.evicted}, {"refused", g.refused},
                       {"fallback_reason", g.fallback_reason}, {"ignored", g.ignored}};
    j["inputs"] = nlohmann::json::array();
    for (size_t i = 0; i < loaded.inputs.tensors.size(); ++i) {
      const auto& t = loaded.inputs.tensors[i];
      j["inputs"].push_back({{"name", t.name}, {"shape", t.dims}, {"dtype", models::dtype_name(t.dtype)},
                             {"source", loaded.inputs.sources[i].source}});
    }
    j["outputs"] = nlohmann::json::array();
    for (const auto& o : outputs) {
      auto s = models::compute_stats(o);
      j["outputs"].push_back({{"name", o.name}, {"shape", o.dims}, {"dtype", models::dtype_name(o.dtype)},
                              {"mean", s.mean}, {"std", s.stddev}, {"min", s.min}, {"max", s.max},
                              {"nan_count", s.nan_count}, {"inf_count", s.inf_count}});
    }
    std::cout << j.dump(2) << std::endl;
    return Status::ok();
  }
  std::printf("model:   %s (ir %lld, opset %lld, %zu nodes)\n", args.model.path.c_str(),
              static_cast<long long>(model.ir_version), static_cast<long long>(model.opset()), model.graph.nodes.size());
  std::printf("fusions: %d attention, %d gelu (--no-fuse to run the graph as loaded)\n", session.fused_attention(),
              session.fused_gelu());
  std::printf("device:  %s (%s)\n", session.device().str().c_str(), models::device_name(session.device()).c_str());
  if (session.device().is_cuda() || args.cuda_graph)
    std::printf("cuda graph: %s\n", cuda_graph_line(session.cuda_graph_state(), args.no_cuda_graph).c_str());
  if (!args.model.kernels.empty()) print_kernels(swaps);
  std::printf("inputs:\n");
  for (size_t i = 0; i < loaded.inputs.tensors.size(); ++i) {
    const auto& t = loaded.inputs.tensors[i];
    std::printf("  %-24s %-16s %-9s %s\n", t.name.c_str(), t.shape_string().c_str(), models::dtype_name(t.dtype).c_str(),
                loaded.inputs.sources[i].source.c_str());
  }
  std::printf("outputs:\n");
  for (const auto& o : outputs) {
    auto s = models::compute_stats(o);
    std::printf("  %-24s %-16s %-9s mean %.6g  std %.6g  min %.6g  max %.6g%s\n", o.name.c_str(), o.shape_string().c_str(),
                models::dtype_name(o.dtype).c_str(), s.mean, s.stddev, s.min, s.max,
                s.nan_count + s.inf_count > 0 ? ("  (" + std::to_string(s.nan_count) + " NaN, " +
                                                 std::to_string(s.inf_count) + " Inf)").c_str() : "");
  }
  std::printf("latency: median %.3f ms  p10 %.3f ms  p90 %.3f ms  (%d iterations after %d warm-up)\n", latency.median_ms,
              latency.p10_ms, latency.p90_ms, args.iters, args.warmup);
  return Status::ok();
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model: print its outputs and latency (median, p90)");
  add_model_options(*cmd, args->model);
  cmd->add_option("--iters", args->iters, "Timed iterations")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed warm-up iterations")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  CLI::Option* graph_on = cmd->add_flag("--cuda-graph", args->cuda_graph,
                                        "Replay the run as a CUDA graph per input-shape set (the default on CUDA)");
  cmd->add_flag("--no-cuda-graph", args->no_cuda_graph, "Run node by node on CUDA, without CUDA graphs")->excludes(graph_on);
  cmd->add_option("--kernels", args->model.kernels, "A kernel pack folder: swap its kernels into the model (docs/packs.md)");
  cmd->callback([args, &exit_code] { exit_code = finish(run(*args)); });
}

}  // namespace ak::cli
