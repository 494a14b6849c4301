// `autokernel extract MODEL --top K -o DIR`: standalone kernel tasks for the top hotspots.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "cli/progress.h"
#include "extractor/extractor.h"
#include "models/session.h"
#include "profiler/roofline_floor.h"
#include "verifier/starter_check.h"

namespace ak::cli {

namespace {

struct ExtractArgs {
  ModelOptions model;
  int top = 10;
  std::vector<std::string> nodes;
  std::string out_dir;
  int iters = 10;
  int warmup = 3;
  bool json = false;
  bool host_timing = false;
  bool check_starters = false;
  std::string cuda_arch;
};

/// The starter checks by task name (only with --check-starters).
using Checks = std::map<std::string, verifier::StarterCheck>;

std::string check_text(const verifier::StarterCheck& c) {
  if (c.passed()) return "passed";
  const std::string why = std::string(verifier::verdict_name(c.verdict)) + (c.gate.empty() ? "" : " at " + c.gate) +
                          ": " + c.message;
  if (c.skeleton()) return "skeleton (" + why + ")";
  return "FAILED: " + why;
}

std::string check_column(const Checks& checks, const extractor::TaskSummary& t) {
  auto it = checks.find(t.name);
  return it == checks.end() ? "" : check_text(it->second);
}

void print_table(const extractor::ExtractReport& report, const Checks& checks, bool checked) {
  std::printf("%4s  %-58s %-28s %-20s %5s %12s %7s%s\n", "rank", "task", "op type", "starter", "inst", "baseline(us)",
              "%model", checked ? "  check" : "");
  for (const auto& t : report.tasks) {
    std::printf("%4d  %-58s %-28s %-20s %5d %12.1f %7.2f%s%s\n", t.rank, t.dir.string().c_str(), t.op_type.c_str(),
                t.starter_template.c_str(), t.instances, t.baseline_us, t.share * 100.0, checked ? "  " : "",
                check_column(checks, t).c_str());
  }
  int templated = 0;
  for (const auto& t : report.tasks) templated += t.starter_template != "skeleton";
  std::printf("\n%zu tasks (%d with a template starter, %zu skeletons); model time %.1f us per iteration (%s timing)\n",
              report.tasks.size(), templated, report.tasks.size() - static_cast<size_t>(templated),
              static_cast<double>(report.model_ns) / 1e3, report.timing_source.c_str());
}

void print_json(const extractor::ExtractReport& report, const Checks& checks) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& t : report.tasks) {
    nlohmann::ordered_json j;
    j["rank"] = t.rank;
    j["name"] = t.name;
    j["dir"] = t.dir.string();
    j["op_type"] = t.op_type;
    j["starter"] = {{"file", t.starter_file}, {"template", t.starter_template}};
    j["baseline_us"] = t.baseline_us;
    j["share"] = t.share;
    j["instances"] = t.instances;
    j["inputs"] = t.inputs;
    j["outputs"] = t.outputs;
    if (auto it = checks.find(t.name); it != checks.end()) {
      const verifier::StarterCheck& c = it->second;
      j["check"] = {{"passed", c.passed()}, {"status", verifier::verdict_name(c.verdict)}, {"gate", c.gate},
                    {"detail", c.message}, {"seconds", c.seconds}};
    }
    list.push_back(std::move(j));
  }
  std::cout << list.dump(2) << "\n";
}

/// Judges every written starter (verifier::check_starters), one line per task on stderr.
Result<Checks> check_starters(const ExtractArgs& args, const extractor::ExtractReport& report, Progress& progress) {
  verifier::StarterCheckOptions options;
  options.judge.worker_program = self_program();
  options.judge.threads = args.model.threads;
  options.roofline_floor_ns = [](const kernels::Task& task) {
    std::string note;
    auto floor = profiler::task_roofline_floor_ns(task, &note);
    return floor.is_ok() ? *floor : 0.0;  // no peaks: no floor check
  };
  std::string current;
  options.on_start = [&](const std::filesystem::path& dir) { current = dir.filename().string(); };
  options.judge.progress = [&](const std::string& what) { progress.step("check " + current + ": " + what); };
  options.on_check = [&](const std::filesystem::path&, const verifier::StarterCheck& c) {
    progress.clear();
    std::cerr << "check " << current << ": starter " << c.template_name << ", " << check_text(c) << std::endl;
  };
  std::vector<std::filesystem::path> dirs;
  for (const auto& t : report.tasks) dirs.push_back(t.dir);
  AK_ASSIGN_OR_RETURN(std::vector<verifier::StarterCheck> checked, verifier::check_starters(dirs, options));
  Checks checks;
  for (size_t i = 0; i < checked.size(); ++i) checks.emplace(report.tasks[i].name, std::move(checked[i]));
  return checks;
}

Status run(const ExtractArgs& args) {
  // Bad flags before the model loads: they are cheaper to report than a long profile.
  if (args.top < 1) return invalid_input("--top must be at least 1 (got " + std::to_string(args.top) + ")");
  AK_ASSIGN_OR_RETURN(LoadedModel loaded, load_model_with_inputs(args.model));
  models::Session& session = *loaded.session;
  for (const auto& notice : loaded.inputs.notices) std::cerr << "autokernel: notice: " << notice << "\n";

  Progress progress;
  extractor::ExtractOptions options;
  options.top = args.top;
  options.nodes = args.nodes;
  options.out_dir = args.out_dir;
  options.model_label = args.model.path;
  options.seed = args.model.seed;
  options.allow_tf32 = args.model.tf32;
  options.cuda_arch = args.cuda_arch;
  options.profile.iters = args.iters;
  options.profile.warmup = args.warmup;
  options.profile.host_timing = args.host_timing;
  options.profile.progress = [&](const std::string& phase, int done, int total) { progress.update(phase, done, total); };
  options.on_notice = [&](const std::string& line) {
    progress.clear();
    std::cerr << "autokernel: notice: " << line << "\n";
  };
  options.on_task = [&](const extractor::TaskSummary& t) {
    progress.clear();
    std::cerr << "task " << t.name << ": " << t.op_type << ", starter " << t.starter_template << std::endl;
  };
  auto extracted = extractor::extract_model(session, loaded.inputs.tensors, options);
  if (!extracted) {
    progress.clear();
    return models::explain_defaulted_dims(extracted.status(), loaded.inputs);
  }
  extractor::ExtractReport report = std::move(extracted).value();
  progress.clear();
  Checks checks;
  if (args.check_starters) {
    AK_ASSIGN_OR_RETURN(checks, check_starters(args, report, progress));
  }
  if (args.json) print_json(report, checks);
  else print_table(report, checks, args.check_starters);
  for (const auto& [name, c] : checks)
    if (c.failed()) return failed("the starter of task " + name + " failed its check: " + check_text(c));
  return Status::ok();
}

}  // namespace

void add_extract_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExtractArgs>();
  CLI::App* cmd = app.add_subcommand(
      "extract", "Profile, then write a standalone task (subgraph, captured inputs, reference, starter) per hotspot");
  add_model_options(*cmd, args->model);
  cmd->add_option("--top", args->top, "How many workloads to extract (one task each, for all its instances), best ranked first")->capture_default_str();
  cmd->add_option("--nodes", args->nodes, "Extract one task made of exactly these nodes (names, comma-separated) instead")
      ->delimiter(',');
  cmd->add_option("-o,--out", args->out_dir, "Folder for the task directories (created if missing)")->required();
  cmd->add_option("--iters", args->iters, "Profiled iterations")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Warm-up iterations before the baseline and before profiling")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the tasks as a JSON list instead of a table");
  cmd->add_flag("--host-timing", args->host_timing, "Time nodes with the host clock even on a GPU (no CUPTI)");
  cmd->add_flag("--check-starters", args->check_starters,
                "Judge each starter as `autokernel bench --quick` would (in a worker process), after extraction");
  cmd->add_option("--cuda-arch", args->cuda_arch, "target.arch of CUDA tasks, e.g. sm_90a (default: from nvidia-smi)");
  cmd->callback([args, &exit_code] { exit_code = finish(run(*args)); });
}

}  // namespace ak::cli
