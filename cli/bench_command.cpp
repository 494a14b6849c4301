// `autokernel bench TASKDIR CANDIDATE`: judge one candidate kernel on one task; the
// command every optimizer and agent runs in its loop. Greppable `key: value` lines.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "kernels/task.h"
#include "memory/memory.h"
#include "models/session.h"
#include "profiler/roofline_floor.h"
#include "verifier/evaluation_record.h"
#include "verifier/judge.h"

namespace ak::cli {

namespace {

struct BenchArgs {
  std::string task_dir;
  std::string candidate;
  bool json = false;
  bool quick = false;
  double timeout_s = 60;
  int threads = 0;
  bool no_memory = false;
  std::string memory_path;
  std::string generator = "human";
  std::string parent;
  bool keep = false;
  double memory_limit_mib = 0;
};

Result<int> run(const BenchArgs& args) {
  AK_ASSIGN_OR_RETURN(kernels::Task task, kernels::read_task(args.task_dir));
  AK_ASSIGN_OR_RETURN(models::Device device, models::Device::parse(task.target.device));
  std::unique_ptr<memory::Store> store;
  if (!args.no_memory) {
    // Opened first: a memory file that is not usable is bad input before any work is done.
    AK_ASSIGN_OR_RETURN(store, memory::Store::open(memory::default_memory_path(args.memory_path)));
  }
  Progress progress(args.json);
  verifier::JudgeOptions options;
  options.quick = args.quick;
  options.timeout_s = args.timeout_s;
  options.threads = args.threads;
  options.worker_program = self_program();
  options.keep_scratch = args.keep;
  options.memory_limit_bytes = static_cast<uint64_t>(args.memory_limit_mib * 1048576.0);
  std::string peaks_note;
  progress.step("device peaks");  // measured on first use (seconds), then cached
  // Without peaks there is no floor to check against: the judge skips that check (0).
  auto floor = profiler::task_roofline_floor_ns(task, &peaks_note);
  options.roofline_floor_ns = floor.is_ok() ? *floor : 0;
  if (task.is_cuda() && task.target.arch != "cpu") options.build.cuda_arch = task.target.arch;
  options.progress = [&](const std::string& what) { progress.step(what); };
  AK_ASSIGN_OR_RETURN(verifier::Evaluation e, verifier::judge_candidate(task, args.candidate, options));
  progress.clear();

  const std::string device_name = models::device_name(device);
  std::string evaluation_ref;
  if (store) {
    AK_ASSIGN_OR_RETURN(std::string source, read_file(args.candidate));
    const verifier::CandidateOrigin origin{std::move(source), args.generator, args.parent};
    auto ids = store->record(verifier::evaluation_record(task, e, origin, device_name));
    if (!ids.is_ok()) return ids.status().with_context("recording in " + store->path().string());
    evaluation_ref = memory::format_item_ref({memory::ItemKind::kEvaluation, ids->evaluation_id});
  }

  const char* status = verifier::verdict_name(e.verdict);
  if (args.json) {
    nlohmann::ordered_json j;
    j["status"] = status;
    j["gate"] = e.gate;
    j["message"] = e.message;
    j["failure_input"] = e.failure_input;
    j["task"] = task.name;
    j["candidate"] = args.candidate;
    j["device"] = device_name;
    j["speedup"] = e.speedup ? nlohmann::ordered_json(*e.speedup) : nlohmann::ordered_json();
    j["speedup_ci95"] = e.speedup ? nlohmann::ordered_json({*e.speedup_ci_low, *e.speedup_ci_high}) : nlohmann::ordered_json();
    j["latency_us"] = e.latency_us ? nlohmann::ordered_json(*e.latency_us) : nlohmann::ordered_json();
    j["latency_ci95_us"] = e.latency_us ? nlohmann::ordered_json({*e.latency_ci_low_us, *e.latency_ci_high_us}) : nlohmann::ordered_json();
    j["reference_latency_us"] = e.reference_latency_us ? nlohmann::ordered_json(*e.reference_latency_us) : nlohmann::ordered_json();
    j["roofline_floor_us"] = e.roofline_floor_us;
    j["max_abs_error"] = e.max_abs_error;
    j["max_rel_error"] = e.max_rel_error;
    j["deterministic"] = e.deterministic;
    j["cases_passed"] = e.cases_passed;
    j["verified_sizes"] = e.verified_sizes;
    j["build"] = {{"cached", e.build.cached}, {"key", e.build.key}, {"compiler", e.build.compiler_version},
                  {"seconds", e.build.seconds}};
    if (e.verdict == verifier::Verdict::kCompileError) j["build"]["log"] = e.build.log;
    j["seconds"] = e.seconds;
    j["evaluation"] = evaluation_ref;
    std::cout << j.dump(2) << std::endl;
  } else {
    std::printf("status: %s\n", status);
    if (e.speedup) {
      std::printf("speedup: %.4f\n", *e.speedup);
      std::printf("speedup_ci95: %.4f %.4f\n", *e.speedup_ci_low, *e.speedup_ci_high);
    }
    if (e.latency_us) std::printf("latency_us: %.3f\n", *e.latency_us);
    if (e.reference_latency_us) std::printf("reference_latency_us: %.3f\n", *e.reference_latency_us);
    if (e.roofline_floor_us > 0) std::printf("roofline_floor_us: %.3f\n", e.roofline_floor_us);
    if (e.verdict != verifier::Verdict::kCompileError) {
      std::printf("max_abs_error: %.6g\n", e.max_abs_error);
      std::printf("max_rel_error: %.6g\n", e.max_rel_error);
      std::printf("deterministic: %s\n", e.deterministic ? "true" : "false");
    }
    std::printf("gate: %s\n", e.gate.empty() ? "none" : e.gate.c_str());
    std::printf("cases_passed: %d\n", e.cases_passed);
    for (const auto& [axis, sizes] : e.verified_sizes) {
      std::string list;
      for (int64_t size : sizes) list += (list.empty() ? "" : ",") + std::to_string(size);
      std::printf("verified_sizes: %s=%s\n", axis.c_str(), list.c_str());
    }
    if (!e.message.empty()) {
      std::string line = e.message;
      for (char& c : line)
        if (c == '\n') c = ' ';
      std::printf("message: %s\n", line.c_str());
    }
    if (e.verdict == verifier::Verdict::kCompileError) std::printf("compiler_log:\n%s\n", e.build.log.c_str());
    std::printf("build: %s (%s, key %.12s)\n", e.build.cached ? "cached" : "compiled", e.build.compiler_version.c_str(),
                e.build.key.c_str());
    std::printf("seconds: %.2f\n", e.seconds);
    if (!evaluation_ref.empty()) std::printf("evaluation: %s\n", evaluation_ref.c_str());
  }
  return e.verdict == verifier::Verdict::kPassed ? 0 : 1;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Judge a candidate kernel on a task: correctness gates, anti-cheat, benchmark");
  cmd->add_option("task", args->task_dir, "Task directory from `autokernel extract`")->required();
  cmd->add_option("candidate", args->candidate, "Candidate kernel: .cu for a CUDA task, .cpp for a CPU task")->required();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("--quick", args->quick, "Fewer gate cases and timed iterations");
  cmd->add_option("--timeout", args->timeout_s, "Seconds each worker run may take")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads for candidate and reference (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-memory", args->no_memory, "Do not record the evaluation in the memory");
  cmd->add_option("--memory", args->memory_path, "Memory file (default: $AUTOKERNEL_MEMORY, else ~/.cache/autokernel/memory.db)");
  cmd->add_option("--generator", args->generator, "What made the candidate, for the memory (\"human\", \"llm:<model>\", ...)")
      ->capture_default_str();
  cmd->add_option("--parent", args->parent, "Hash of the candidate this one was derived from");
  cmd->add_flag("--keep", args->keep, "Keep the scratch folder with the worker's inputs");
  cmd->add_option("--memory-limit", args->memory_limit_mib, "Resident MiB a worker may use (0: 1.5 GiB + 8x the task's tensors, at most half the RAM)")->check(CLI::NonNegativeNumber);
  cmd->callback([args, &exit_code] {
    auto r = run(*args);
    exit_code = r.is_ok() ? *r : finish(r.status());
  });
}

}  // namespace ak::cli
