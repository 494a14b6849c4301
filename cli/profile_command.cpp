// `autokernel profile MODEL`: where the model's time goes, and what each part is worth.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "cli/progress.h"
#include "profiler/device_probe.h"
#include "profiler/hotspots.h"
#include "profiler/profile.h"
#include "profiler/report.h"

namespace ak::cli {

namespace {

struct ProfileArgs {
  ModelOptions model;
  int top = 20;
  int iters = 20;
  int warmup = 5;
  std::string json_path;
  std::string trace_path;
  bool host_timing = false;
  std::string attribution = "replay";
  bool cuda_graph = false;  ///< profile the CUDA-graph replays (docs/profiler.md)
};

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text << "\n";
  out.close();
  if (!out) return invalid_input("cannot write " + path);
  return Status::ok();
}

Status run(const ProfileArgs& args) {
  // Fail on unwritable report paths before spending time on the run.
  for (const std::string* path : {&args.json_path, &args.trace_path}) {
    if (path->empty()) continue;
    std::ofstream probe(*path, std::ios::app);
    if (!probe) return invalid_input("cannot write " + *path);
  }
  AK_ASSIGN_OR_RETURN(LoadedModel loaded, load_model_with_inputs(args.model));
  models::Session& session = *loaded.session;
  for (const auto& notice : loaded.inputs.notices) std::cerr << "autokernel: notice: " << notice << "\n";

  Progress progress;
  profiler::ProfileOptions options;
  options.iters = args.iters;
  options.warmup = args.warmup;
  options.host_timing = args.host_timing;
  options.attribution = args.attribution == "correlation" ? profiler::ProfileOptions::Attribution::kCorrelation
                                                          : profiler::ProfileOptions::Attribution::kReplay;
  options.progress = [&](const std::string& phase, int done, int total) { progress.update(phase, done, total); };
  options.graph_replay = true;  // CUDA: the host-bound row, measured by replaying (docs/profiler.md)
  options.cuda_graph = args.cuda_graph;
  // Before the run, so that bad options are not explained as the run's failure.
  AK_RETURN_IF_ERROR(profiler::check_profile_options(options, session.device()));
  auto profiled = profiler::profile_session(session, loaded.inputs.tensors, options);
  if (!profiled) {
    progress.clear();
    return models::explain_defaulted_dims(profiled.status(), loaded.inputs);
  }
  profiler::Profile profile = std::move(profiled).value();
  // The peaks only feed the analysis: measured (when nothing is cached) after the profile,
  // so bad input is answered before a device measurement.
  std::string peaks_note;
  progress.step("device peaks");
  auto peaks = profiler::peaks_for_device(session.device(), &peaks_note);
  progress.clear();
  if (!peaks) return peaks.status();
  if (!profile.cuda_graph_refusal.empty())
    std::cerr << "autokernel: notice: --cuda-graph: profiled eagerly: " << profile.cuda_graph_refusal << "\n";
  if (!profile.fallback_reason.empty() && session.device().is_cuda())
    std::cerr << "autokernel: warning: CUPTI unavailable, using host timing with a sync per node: "
              << profile.fallback_reason << "\n";

  const models::Graph& graph = session.model().graph;
  AK_ASSIGN_OR_RETURN(profiler::Analysis analysis, profiler::analyze(profile, graph, *peaks, args.model.tf32));
  profiler::ReportInput report{args.model.path, session.device().str(), models::device_name(session.device()), &graph,
                               &profile, &analysis};
  std::cout << profiler::format_profile_table(report, args.top);
  std::cout << "peaks:   " << peaks_note << "\n";
  if (!args.json_path.empty()) {
    AK_RETURN_IF_ERROR(write_file(args.json_path, profiler::profile_json(report)));
    std::cout << "json:    " << args.json_path << "\n";
  }
  if (!args.trace_path.empty()) {
    AK_RETURN_IF_ERROR(write_file(args.trace_path, profiler::chrome_trace_json(report)));
    std::cout << "trace:   " << args.trace_path << " (open in https://ui.perfetto.dev)\n";
  }
  return Status::ok();
}

}  // namespace

void add_profile_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "profile", "Attribute every kernel to its ONNX node; rank nodes and fusion groups by Amdahl payoff");
  add_model_options(*cmd, args->model);
  cmd->add_option("--top", args->top, "Rows of the hotspot table (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--iters", args->iters, "Profiled iterations")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Warm-up iterations before the baseline and before profiling")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--json", args->json_path, "Write the report as JSON (schema autokernel.profile/1, docs/profiler.md)");
  cmd->add_option("--trace", args->trace_path, "Write a Chrome trace of one iteration (opens in Perfetto)");
  CLI::Option* host_timing = cmd->add_flag("--host-timing", args->host_timing, "Time nodes with the host clock even on a GPU (no CUPTI)");
  CLI::Option* attribution = cmd->add_option("--attribution", args->attribution,
                  "How CUPTI joins kernels to nodes in the profiled iterations: replay (kernel records only, "
                  "matched to a calibration's launch order; cheapest) or correlation (API records every iteration)")
      ->check(CLI::IsMember({"replay", "correlation"}))
      ->capture_default_str();
  cmd->add_flag("--cuda-graph", args->cuda_graph,
                "CUDA: profile the run replayed as a CUDA graph, as deployed (kernels attributed through the "
                "capture's graph nodes); a refused capture profiles eagerly and says why")
      ->excludes(attribution)
      ->excludes(host_timing);
  cmd->callback([args, &exit_code] { exit_code = finish(run(*args)); });
}

}  // namespace ak::cli
