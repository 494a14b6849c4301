// `autokernel pack`: building kernel packs (kernels/pack.h).
//   pack add PACK TASKDIR CANDIDATE   judged first (by `autokernel bench`) unless the memory
//                                     already holds a PASSED evaluation of that exact source
//                                     on that workload; a failed candidate is refused; the
//                                     var axes' ranges are the hull of the sizes it passed
//   pack list PACK                    the entries as a table
//   pack MODEL --from-memory -o PACK  the best PASSED candidate the memory holds for each
//                                     workload the extractor finds in the model
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/remove_tree.h"
#include "base/sha256.h"
#include "base/subprocess.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "cli/progress.h"
#include "extractor/extractor.h"
#include "kernels/pack.h"
#include "kernels/task.h"
#include "memory/memory.h"
#include "models/onnx_io.h"
#include "models/workload.h"
#include "verifier/evaluation_record.h"

namespace ak::cli {

namespace {

struct PackFlags {
  bool json = false;
  bool no_memory = false;
  std::string memory_path;
};

/// Gates a PASSED candidate went through (verifier/judge.h's order).
const std::vector<std::string> kPassedGates = {"compile", "captured", "random", "sweep", "adversarial", "anti_cheat",
                                               "benchmark"};

kernels::PackEvidence evidence_of(const memory::EvaluationInfo& e) {
  kernels::PackEvidence evidence;
  evidence.evaluation_ids = {e.id};
  evidence.speedup = e.result.speedup.value_or(0);
  evidence.speedup_low = e.result.speedup_low.value_or(0);
  evidence.speedup_high = e.result.speedup_high.value_or(0);
  evidence.gates = kPassedGates;
  evidence.verdict = kernels::verdict_name(e.result.status);
  return evidence;
}

/// The best PASSED evaluations the memory holds on `task`'s workload (its architecture
/// only), best first; `hash` (when given) keeps only that candidate's.
Result<std::vector<memory::CandidateHit>> passed_hits(memory::Store& store, const kernels::Task& task,
                                                      const std::string& hash) {
  const memory::WorkloadSpec workload = verifier::workload_of(task);
  AK_ASSIGN_OR_RETURN(memory::Query query, memory::query_for(workload));
  query.arch = workload.arch;
  query.k = 0;
  query.per_workload = 1000;
  AK_ASSIGN_OR_RETURN(memory::SearchResult found, store.search(query));
  std::vector<memory::CandidateHit> hits;
  for (const auto& match : found.exact)
    for (const auto& hit : match.best)
      if (hit.evaluation.result.status == kernels::Verdict::kPassed && (hash.empty() || hit.candidate.hash == hash))
        hits.push_back(hit);
  return hits;
}

/// The task's workload key hash (models/workload.h): the extractor's (task.json "workload",
/// with the profile's shapes), else, for older tasks, the key of the task's subgraph (every
/// node, shapes as declared). "" when neither can be had.
std::string workload_hash_of(const kernels::Task& task) {
  if (task.workload) return task.workload->hash;
  auto model = models::load_model(task.subgraph_path());
  if (!model.is_ok()) return "";
  std::vector<size_t> nodes(model->graph.nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i] = i;
  return models::workload_key(model->graph, nodes, models::declared_types(model->graph)).hash();
}

/// PACK's pack.json, or a new empty pack when the folder has none.
Result<kernels::Pack> open_or_new_pack(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "pack.json", ec)) return kernels::read_pack(dir);
  kernels::Pack pack;
  pack.dir = std::filesystem::absolute(dir, ec);
  pack.created_by = "autokernel";
  return pack;
}

void print_entry_line(const char* what, const kernels::PackEntry& e) {
  std::string evals;
  for (int64_t id : e.evidence.evaluation_ids) evals += (evals.empty() ? "" : ",") + std::string("E") + std::to_string(id);
  std::printf("%s entry %s (%s, %s) speedup %.3f [%.3f, %.3f]%s%s\n", what, e.id.c_str(), e.language.c_str(),
              e.arch.empty() ? "any arch" : e.arch.c_str(), e.evidence.speedup, e.evidence.speedup_low,
              e.evidence.speedup_high, evals.empty() ? "" : ", evidence ", evals.c_str());
}

nlohmann::ordered_json entry_json(const kernels::Pack& pack, const kernels::PackEntry& e) {
  auto task = pack.entry_task(e);
  nlohmann::ordered_json ranges = nlohmann::ordered_json::object();
  for (const auto& r : e.ranges) ranges[r.axis] = {r.min, r.max};
  std::string last = "never";
  for (const auto& v : pack.verifications)
    if (std::find(v.entries.begin(), v.entries.end(), e.id) != v.entries.end())
      last = v.verdict + " " + v.model + " " + v.date;
  return {{"id", e.id}, {"workload", e.workload}, {"op", task.is_ok() ? task->op_type : ""},
          {"language", e.language}, {"device", e.device}, {"arch", e.arch}, {"speedup", e.evidence.speedup},
          {"speedup_ci95", {e.evidence.speedup_low, e.evidence.speedup_high}},
          {"evaluations", e.evidence.evaluation_ids}, {"ranges", ranges}, {"last_verification", last}};
}

// ---- pack add -------------------------------------------------------------------------------

struct AddArgs {
  PackFlags flags;
  std::string pack, task_dir, candidate;
  bool quick = false;
  double timeout_s = 60;
  int threads = 0;
  double memory_limit_mib = 0;
  /// A PASSED candidate whose median speedup is below this is refused: a pack entry must
  /// make its workload faster, or the model gets slower.
  double min_speedup = 1.0;
};

/// Judges the candidate with `autokernel bench` (the judge, its roofline floor and its
/// memory record, exactly as an agent's loop runs it); its JSON answer.
Result<nlohmann::json> judge_with_bench(const AddArgs& a) {
  std::vector<std::string> argv = {self_program(), "bench", a.task_dir, a.candidate, "--json",
                                   "--timeout", std::to_string(a.timeout_s), "--threads", std::to_string(a.threads)};
  if (a.quick) argv.push_back("--quick");
  if (a.memory_limit_mib > 0) argv.insert(argv.end(), {"--memory-limit", std::to_string(a.memory_limit_mib)});
  if (a.flags.no_memory) argv.push_back("--no-memory");
  else argv.insert(argv.end(), {"--memory", memory::default_memory_path(a.flags.memory_path).string()});
  AK_ASSIGN_OR_RETURN(ProcessResult ended, run_process(argv));
  if (ended.end == ProcessResult::End::kExited && ended.exit_code == 2) {
    std::string line = ended.stderr_text.substr(0, ended.stderr_text.find('\n'));
    const std::string prefix = "autokernel: error: ";
    if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
    return invalid_input(line);
  }
  nlohmann::json j = nlohmann::json::parse(ended.stdout_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return failed("autokernel bench " + ended.describe() + ": " + head_lines(ended.stderr_text, 3));
  return j;
}

/// Each var axis's range from `autokernel bench --json`'s verified_sizes: [min, max] of the
/// sizes the judge passed (captured and sweep). Odd and prime sizes among them catch a kernel
/// that needs a multiple of its tile, so the sizes between are trusted (docs/packs.md,
/// "Verified ranges"). An axis without sizes is left out: add_pack_entry gives it its
/// captured size.
std::vector<kernels::AxisRange> verified_ranges(const nlohmann::json& judged) {
  std::vector<kernels::AxisRange> ranges;
  const auto found = judged.find("verified_sizes");
  if (found == judged.end() || !found->is_object()) return ranges;
  for (const auto& [axis, sizes] : found->items()) {
    std::vector<int64_t> values;
    if (sizes.is_array())
      for (const auto& size : sizes)
        if (size.is_number_integer()) values.push_back(size.get<int64_t>());
    if (values.empty()) continue;
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    ranges.push_back({axis, *low, *high});
  }
  return ranges;
}

/// The memory keeps no sizes with an evaluation: the ranges of the pack's own entry of this
/// source on this workload (a judge's, when `pack add` judged it before) are kept rather
/// than narrowed to the captured size; none: the captured sizes.
std::vector<kernels::AxisRange> ranges_already_judged(const kernels::Pack& pack, const std::string& workload,
                                                      const std::string& source) {
  const std::string sha256 = sha256_hex(source);
  for (const kernels::PackEntry& e : pack.entries)
    if (e.source_sha256 == sha256 && e.workload == workload) return e.ranges;
  return {};
}

Result<int> run_add(const AddArgs& a) {
  AK_ASSIGN_OR_RETURN(kernels::Task task, kernels::read_task(a.task_dir));
  AK_ASSIGN_OR_RETURN(std::string source, read_file(a.candidate));
  AK_ASSIGN_OR_RETURN(kernels::Pack pack, open_or_new_pack(a.pack));
  std::unique_ptr<memory::Store> store;
  if (!a.flags.no_memory) {
    AK_ASSIGN_OR_RETURN(store, memory::Store::open(memory::default_memory_path(a.flags.memory_path)));
  }
  AK_ASSIGN_OR_RETURN(std::string hash, memory::candidate_hash({source, "", "", "", "{}"}));

  kernels::PackEntry entry;
  entry.workload = workload_hash_of(task);
  std::string how;
  std::vector<memory::CandidateHit> hits;
  if (store) {
    AK_ASSIGN_OR_RETURN(hits, passed_hits(*store, task, hash));
  }
  if (!hits.empty()) {
    entry.evidence = evidence_of(hits.front().evaluation);
    entry.ranges = ranges_already_judged(pack, entry.workload, source);
    how = "memory holds a PASSED evaluation (E" + std::to_string(hits.front().evaluation.id) + ")";
  } else {
    Progress progress(a.flags.json);
    progress.step("pack add: judging " + a.candidate + " on " + task.name);
    AK_ASSIGN_OR_RETURN(nlohmann::json judged, judge_with_bench(a));
    progress.clear();
    const std::string status = judged.value("status", "");
    if (status != "PASSED")
      return failed("refused: " + a.candidate + " is " + status + " on " + task.name +
                    (judged.value("gate", "").empty() ? "" : " (gate " + judged.value("gate", "") + ")") + ": " +
                    judged.value("message", ""));
    entry.evidence.verdict = status;
    entry.evidence.gates = kPassedGates;
    entry.evidence.speedup = judged.value("speedup", 0.0);
    if (judged.contains("speedup_ci95") && judged["speedup_ci95"].is_array() && judged["speedup_ci95"].size() == 2) {
      entry.evidence.speedup_low = judged["speedup_ci95"][0].get<double>();
      entry.evidence.speedup_high = judged["speedup_ci95"][1].get<double>();
    }
    const std::string ref = judged.value("evaluation", "");
    if (auto parsed = memory::parse_item_ref(ref)) entry.evidence.evaluation_ids = {parsed->id};
    entry.ranges = verified_ranges(judged);
    how = "judged now: PASSED" + (ref.empty() ? std::string() : " (" + ref + ")");
  }
  if (entry.evidence.speedup < a.min_speedup) {
    char text[160];
    std::snprintf(text, sizeof text, "%.3fx the reference, below --min-speedup %.3g", entry.evidence.speedup,
                  a.min_speedup);
    return failed("refused: " + a.candidate + " is PASSED but " + text + " on " + task.name + " (" + how + ")");
  }
  AK_ASSIGN_OR_RETURN(kernels::PackEntry added, kernels::add_pack_entry(&pack, task, a.candidate, entry));
  AK_RETURN_IF_ERROR(kernels::write_pack(pack.dir, pack));
  if (a.flags.json) {
    nlohmann::ordered_json j = entry_json(pack, added);
    j["how"] = how;
    std::cout << j.dump(2) << std::endl;
  } else {
    std::printf("%s\n", how.c_str());
    print_entry_line("added:", added);
    std::printf("pack:   %s (%zu entries)\n", pack.dir.c_str(), pack.entries.size());
  }
  return 0;
}

// ---- pack list -------------------------------------------------------------------------------

Result<int> run_list(const std::string& dir, const PackFlags& flags) {
  AK_ASSIGN_OR_RETURN(kernels::Pack pack, kernels::read_pack(dir));
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& e : pack.entries) rows.push_back(entry_json(pack, e));
  if (flags.json) {
    std::cout << nlohmann::ordered_json{{"pack", pack.dir.string()}, {"created_by", pack.created_by}, {"entries", rows}}.dump(2)
              << std::endl;
    return 0;
  }
  int id_width = 2;
  for (const auto& e : pack.entries) id_width = std::max(id_width, static_cast<int>(e.id.size()));
  std::printf("%-*s %-12s %-24s %-8s %-8s %-22s %-16s %s\n", id_width, "id", "workload", "op", "language", "arch",
              "speedup", "ranges", "last verification");
  for (const auto& r : rows) {
    std::string ranges;
    for (const auto& [axis, range] : r["ranges"].items())
      ranges += (ranges.empty() ? "" : " ") + axis + "=" + std::to_string(range[0].get<int64_t>()) + ".." +
                std::to_string(range[1].get<int64_t>());
    char speedup[64];
    std::snprintf(speedup, sizeof speedup, "%.3f [%.3f, %.3f]", r["speedup"].get<double>(),
                  r["speedup_ci95"][0].get<double>(), r["speedup_ci95"][1].get<double>());
    const std::string workload = r["workload"].get<std::string>().substr(0, 12);
    std::printf("%-*s %-12s %-24s %-8s %-8s %-22s %-16s %s\n", id_width, r["id"].get<std::string>().c_str(),
                workload.empty() ? "-" : workload.c_str(), r["op"].get<std::string>().c_str(),
                r["language"].get<std::string>().c_str(),
                r["arch"].get<std::string>().empty() ? "any" : r["arch"].get<std::string>().c_str(), speedup,
                ranges.empty() ? "-" : ranges.c_str(), r["last_verification"].get<std::string>().c_str());
  }
  std::printf("%zu entries, %zu verifications\n", pack.entries.size(), pack.verifications.size());
  return 0;
}

// ---- pack MODEL --from-memory ----------------------------------------------------------------

struct FromMemoryArgs {
  PackFlags flags;
  ModelOptions model;
  bool from_memory = false;
  std::string out;
  int top = 10;
};

Result<int> run_from_memory(const FromMemoryArgs& a) {
  if (!a.from_memory) return invalid_input("pack " + a.model.path + ": say where the kernels come from (--from-memory)");
  if (a.out.empty()) return invalid_input("pack " + a.model.path + " --from-memory: -o PACK is required");
  if (a.flags.no_memory) return invalid_input("--from-memory and --no-memory contradict each other");
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(a.out) / "pack.json", ec))
    return invalid_input("-o " + a.out + ": already holds a pack.json (choose a new folder)");
  AK_ASSIGN_OR_RETURN(auto store, memory::Store::open(memory::default_memory_path(a.flags.memory_path),
                                                      memory::OpenOptions{.create_if_missing = false}));
  AK_ASSIGN_OR_RETURN(LoadedModel loaded, load_model_with_inputs(a.model));
  const std::filesystem::path scratch = std::filesystem::temp_directory_path() /
                                        ("autokernel-pack-" + std::to_string(::getpid()));
  ak::remove_tree(scratch);
  Progress progress(a.flags.json);
  extractor::ExtractOptions eo;
  eo.top = a.top;
  eo.out_dir = scratch / "tasks";
  eo.model_label = a.model.path;
  eo.seed = a.model.seed;
  eo.allow_tf32 = a.model.tf32;
  eo.profile.progress = [&](const std::string& phase, int done, int total) { progress.update(phase, done, total); };
  auto extracted = extractor::extract_model(*loaded.session, loaded.inputs.tensors, eo);
  progress.clear();
  if (!extracted.is_ok()) {
    ak::remove_tree(scratch);
    return extracted.status();
  }
  kernels::Pack pack;
  pack.dir = std::filesystem::absolute(a.out, ec);
  pack.created_by = "autokernel";
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::vector<std::string> missing;
  for (const auto& summary : extracted->tasks) {
    auto task = kernels::read_task(summary.dir);
    if (!task.is_ok()) continue;
    AK_ASSIGN_OR_RETURN(auto hits, passed_hits(*store, *task, ""));
    if (hits.empty()) {
      missing.push_back(summary.name);
      continue;
    }
    AK_ASSIGN_OR_RETURN(memory::CandidateDetail detail, store->candidate_detail(hits.front().candidate.id));
    const auto source = scratch / ("candidate_" + summary.name + (detail.candidate.language == "cuda" ? ".cu" : ".cpp"));
    std::ofstream(source) << detail.candidate.source;
    kernels::PackEntry entry;
    entry.workload = workload_hash_of(*task);
    entry.evidence = evidence_of(hits.front().evaluation);
    auto added = kernels::add_pack_entry(&pack, *task, source, entry);
    if (!added.is_ok()) {
      ak::remove_tree(scratch);
      return added.status();
    }
    rows.push_back(entry_json(pack, *added));
    if (!a.flags.json) print_entry_line(("task " + summary.name + ":").c_str(), *added);
  }
  ak::remove_tree(scratch);
  if (pack.entries.empty())
    return failed("the memory holds no PASSED candidate for any of the " + std::to_string(extracted->tasks.size()) +
                  " workloads of " + a.model.path + "; nothing written");
  AK_RETURN_IF_ERROR(kernels::write_pack(pack.dir, pack));
  if (a.flags.json) {
    std::cout << nlohmann::ordered_json{{"pack", pack.dir.string()}, {"entries", rows}, {"without_candidate", missing}}.dump(2)
              << std::endl;
  } else {
    for (const auto& name : missing) std::printf("task %s: no PASSED candidate in the memory\n", name.c_str());
    std::printf("pack:   %s (%zu entries of %zu workloads)\n", pack.dir.c_str(), pack.entries.size(),
                extracted->tasks.size());
  }
  return 0;
}

void add_flags(CLI::App* cmd, PackFlags& flags) {
  cmd->add_flag("--json", flags.json, "Print one JSON object");
  cmd->add_flag("--no-memory", flags.no_memory, "Do not use the memory");
  cmd->add_option("--memory", flags.memory_path, "Memory file (default: $AUTOKERNEL_MEMORY, else ~/.cache/autokernel/memory.db)");
}

template <typename Run>
void set_callback(CLI::App* cmd, int& exit_code, Run run) {
  cmd->callback([run, &exit_code] {
    auto r = run();
    exit_code = r.is_ok() ? *r : finish(r.status());
  });
}

}  // namespace

void add_pack_command(CLI::App& app, int& exit_code) {
  CLI::App* pack = app.add_subcommand("pack", "Kernel packs: add a judged kernel, list a pack, build one from the memory");
  auto from = std::make_shared<FromMemoryArgs>();
  add_model_options(*pack, from->model);
  pack->get_option("model")->required(false);
  pack->add_flag("--from-memory", from->from_memory, "For each workload of MODEL, the best PASSED candidate in the memory");
  pack->add_option("-o,--output", from->out, "The pack folder to write (with --from-memory)");
  pack->add_option("--top", from->top, "How many hotspots to extract as workloads")->check(CLI::PositiveNumber)->capture_default_str();
  add_flags(pack, from->flags);
  pack->callback([pack, from, &exit_code] {
    if (!pack->get_subcommands().empty()) return;  // `pack add` / `pack list` ran and set the exit code
    auto r = from->model.path.empty()
                 ? Result<int>(invalid_input("pack: expected `pack add`, `pack list` or `pack MODEL --from-memory -o PACK`"))
                 : run_from_memory(*from);
    exit_code = r.is_ok() ? *r : finish(r.status());
  });

  auto add = std::make_shared<AddArgs>();
  CLI::App* add_cmd = pack->add_subcommand("add", "Judge a candidate on a task (unless the memory has a PASSED one) and add it");
  add_cmd->add_option("pack", add->pack, "The pack folder (created when it holds no pack.json)")->required();
  add_cmd->add_option("task", add->task_dir, "Task directory from `autokernel extract`")->required();
  add_cmd->add_option("candidate", add->candidate, "Candidate kernel: .cu for a CUDA task, .cpp for a CPU task")->required();
  add_cmd->add_flag("--quick", add->quick, "Judge with fewer cases and iterations");
  add_cmd->add_option("--min-speedup", add->min_speedup,
                      "Refuse a PASSED candidate whose median speedup over the reference is below this (0: accept any)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_cmd->add_option("--timeout", add->timeout_s, "Seconds each judge worker run may take")->check(CLI::PositiveNumber)->capture_default_str();
  add_cmd->add_option("--threads", add->threads, "CPU threads for candidate and reference (0: all)")->check(CLI::NonNegativeNumber);
  add_cmd->add_option("--memory-limit", add->memory_limit_mib, "Resident MiB a judge worker may use")->check(CLI::NonNegativeNumber);
  add_flags(add_cmd, add->flags);
  set_callback(add_cmd, exit_code, [add] { return run_add(*add); });

  auto list = std::make_shared<std::pair<std::string, PackFlags>>();
  CLI::App* list_cmd = pack->add_subcommand("list", "The entries of a pack: id, workload, op, language, arch, speedup, ranges");
  list_cmd->add_option("pack", list->first, "The pack folder")->required();
  add_flags(list_cmd, list->second);
  set_callback(list_cmd, exit_code, [list] { return run_list(list->first, list->second); });
}

}  // namespace ak::cli
