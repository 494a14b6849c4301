// `autokernel memory`: search, show, stats, export, import, gc and note over the memory
// file (memory/memory.h). Parsing and printing only.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "kernels/task.h"
#include "memory/memory.h"
#include "verifier/evaluation_record.h"

namespace ak::cli {
namespace {

using namespace ak::memory;

struct MemoryFlags {
  std::string memory_path;
  bool json = false;
};

// "123 ns", "4.56 us", "7.89 ms", "1.23 s".
std::string format_duration(int64_t ns) {
  char text[32];
  if (ns < 1000) std::snprintf(text, sizeof(text), "%lld ns", static_cast<long long>(ns));
  else if (ns < 1000000) std::snprintf(text, sizeof(text), "%.2f us", static_cast<double>(ns) / 1e3);
  else if (ns < 1000000000) std::snprintf(text, sizeof(text), "%.2f ms", static_cast<double>(ns) / 1e6);
  else std::snprintf(text, sizeof(text), "%.2f s", static_cast<double>(ns) / 1e9);
  return text;
}

std::string format_speedup(const EvaluationSpec& r) {
  if (!r.speedup) return "speedup n/a";
  char text[64];
  if (r.speedup_low && r.speedup_high)
    std::snprintf(text, sizeof(text), "%.2fx [%.2f, %.2f]", *r.speedup, *r.speedup_low, *r.speedup_high);
  else
    std::snprintf(text, sizeof(text), "%.2fx", *r.speedup);
  return text;
}

std::string workload_line(const WorkloadInfo& w) {
  return format_item_ref({ItemKind::kWorkload, w.id}) + "  " + w.signature + "  " + format_shape(w.shape) + "  " +
         w.arch;
}

std::string hit_line(const CandidateHit& hit, int64_t query_workload) {
  const EvaluationSpec& r = hit.evaluation.result;
  std::string line = format_item_ref({ItemKind::kCandidate, hit.candidate.id}) + " " + hit.candidate.hash.substr(0, 12) +
                     "  " + format_speedup(r);
  if (r.latency_ns) line += "  " + format_duration(*r.latency_ns);
  line += "  " + hit.candidate.generator + "  verified for " + format_item_ref({ItemKind::kWorkload, hit.verified_for});
  if (hit.verified_for != query_workload) line += " only (re-verify on this shape)";
  line += " (" + format_item_ref({ItemKind::kEvaluation, hit.evaluation.id}) + ", " + r.device + ")";
  return line;
}

void print_search(const Query& query, const SearchResult& result, const std::filesystem::path& path) {
  std::cout << "memory: " << path.string() << "\n";
  std::cout << "query: " << query.op_type << " " << query.dtype << " " << format_shape(query.shape)
            << (query.arch.empty() ? " on any arch" : " on " + query.arch)
            << (query.signature.empty() ? "" : " (" + query.signature + ")") << "\n\n";
  auto print_match = [](const WorkloadMatch& match, bool exact) {
    std::cout << "  " << workload_line(match.workload);
    if (!exact) {
      char distance[32];
      std::snprintf(distance, sizeof(distance), "  distance %.2f", match.distance);
      std::cout << distance;
    }
    std::cout << "  (" << match.evaluations << " evaluations, " << match.passed << " passed)\n";
    if (match.best.empty()) std::cout << "    no verified candidate\n";
    for (const auto& hit : match.best) std::cout << "    " << hit_line(hit, exact ? hit.verified_for : 0) << "\n";
  };
  std::cout << "exact matches: " << (result.exact.empty() ? "none" : std::to_string(result.exact.size())) << "\n";
  for (const auto& match : result.exact) print_match(match, true);
  std::cout << "\nnearest workloads (same op and dtype, log2-shape distance): "
            << (result.nearest.empty() ? "none" : std::to_string(result.nearest.size())) << "\n";
  for (const auto& match : result.nearest) print_match(match, false);
  std::cout << "\nfrequent failures among these workloads: " << (result.failures.empty() ? "none" : "") << "\n";
  for (const auto& failure : result.failures) {
    std::string summary = failure.example_summary.substr(0, 100);
    for (char& c : summary)
      if (c == '\n') c = ' ';
    std::cout << "  " << failure.count << "x " << kernels::verdict_name(failure.status)
              << (failure.gate.empty() ? "" : " (" + failure.gate + ")") << "  e.g. "
              << format_item_ref({ItemKind::kEvaluation, failure.example_evaluation_id}) << ": " << summary << "\n";
  }
}

void print_evaluation_line(const EvaluationInfo& e) {
  const EvaluationSpec& r = e.result;
  std::cout << "  " << format_item_ref({ItemKind::kEvaluation, e.id}) << "  "
            << format_item_ref({ItemKind::kWorkload, e.workload_id}) << "  "
            << format_item_ref({ItemKind::kCandidate, e.candidate_id}) << "  " << kernels::verdict_name(r.status);
  if (r.status == Verdict::kPassed) {
    std::cout << "  " << format_speedup(r);
    if (r.latency_ns) std::cout << "  " << format_duration(*r.latency_ns);
  } else if (!r.failure_gate.empty() || !r.failure_summary.empty()) {
    std::cout << "  " << r.failure_gate << ": " << r.failure_summary.substr(0, 80);
  }
  std::cout << "\n";
}

void print_notes(const std::vector<NoteInfo>& notes) {
  if (notes.empty()) return;
  std::cout << "notes:\n";
  for (const auto& note : notes) std::cout << "  [" << note.author << "] " << note.text << "\n";
}

void print_evaluation(const EvaluationInfo& e) {
  const EvaluationSpec& r = e.result;
  std::cout << format_item_ref({ItemKind::kEvaluation, e.id}) << "  " << kernels::verdict_name(r.status) << "  (uuid " << e.uuid
            << ")\n";
  std::cout << "workload:  " << format_item_ref({ItemKind::kWorkload, e.workload_id}) << "\n";
  std::cout << "candidate: " << format_item_ref({ItemKind::kCandidate, e.candidate_id}) << "\n";
  std::cout << "device:    " << r.device << "  driver " << r.driver_version << "  CUDA " << r.cuda_version
            << "  compiler " << r.compiler_version << "\n";
  if (r.latency_ns) std::cout << "latency:   " << format_duration(*r.latency_ns);
  if (r.baseline_latency_ns) std::cout << "  (baseline " << format_duration(*r.baseline_latency_ns) << ")";
  if (r.latency_ns || r.baseline_latency_ns) std::cout << "\n";
  if (r.speedup) std::cout << "speedup:   " << format_speedup(r) << "\n";
  if (r.max_abs_error || r.max_rel_error)
    std::cout << "error:     max abs " << (r.max_abs_error ? std::to_string(*r.max_abs_error) : "n/a") << ", max rel "
              << (r.max_rel_error ? std::to_string(*r.max_rel_error) : "n/a") << "\n";
  if (r.status != Verdict::kPassed)
    std::cout << "failure:   gate '" << r.failure_gate << "', input '" << r.failure_input << "'\n"
              << r.failure_summary << "\n";
}

Result<std::unique_ptr<Store>> open_memory(const MemoryFlags& flags, bool create) {
  OpenOptions options;
  options.create_if_missing = create;
  return Store::open(default_memory_path(flags.memory_path), options);
}

// Runs `body`, turning its Status into the exit code and a one-line error.
template <typename Body>
void run(int& exit_code, Body body) {
  exit_code = finish(body());
}

void add_memory_option(CLI::App* command, MemoryFlags& flags) {
  command->add_option("--memory", flags.memory_path,
                      "Memory file (default: $AUTOKERNEL_MEMORY, else ~/.cache/autokernel/memory.db)");
}

}  // namespace

void add_memory_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<MemoryFlags>();
  CLI::App* memory = app.add_subcommand("memory", "Past optimizations: search, show, stats, export, import, gc");
  memory->require_subcommand(1);
  add_memory_option(memory, *flags);
  memory->add_flag("--json", flags->json, "Machine-readable JSON output");

  // search
  struct SearchFlags {
    std::string op, shape, dtype, arch, task;
    int k = 5;
    int per_workload = 3;
    int failures = 5;
  };
  auto search_flags = std::make_shared<SearchFlags>();
  CLI::App* search = memory->add_subcommand("search", "Best candidates for a workload and for its nearest shapes");
  search->fallthrough();
  auto* op = search->add_option("--op", search_flags->op, "Op type or fused pattern, e.g. Softmax");
  auto* shape = search->add_option("--shape", search_flags->shape, "Input shapes, e.g. 32x12x128x128 or 64x768,768x3072");
  auto* dtype = search->add_option("--dtype", search_flags->dtype, "Dtype of the first input, e.g. float16");
  auto* task = search->add_option("--task", search_flags->task, "Task directory (its task.json) instead of --op/--shape/--dtype");
  task->excludes(op)->excludes(shape)->excludes(dtype);
  search->add_option("--arch", search_flags->arch, "Device architecture, e.g. sm_90 (default: any)");
  search->add_option("--k", search_flags->k, "How many nearest workloads")->check(CLI::Range(0, 1000));
  search->add_option("--per-workload", search_flags->per_workload, "Best candidates listed per workload")
      ->check(CLI::Range(0, 100));
  search->add_option("--failures", search_flags->failures, "Failure reasons listed")->check(CLI::Range(0, 100));
  add_memory_option(search, *flags);
  search->callback([flags, search_flags, &exit_code] {
    run(exit_code, [&]() -> Status {
      Query query;
      if (!search_flags->task.empty()) {
        AK_ASSIGN_OR_RETURN(kernels::Task t, kernels::read_task(search_flags->task));
        AK_ASSIGN_OR_RETURN(query, query_for(verifier::workload_of(t)));
      } else {
        if (search_flags->op.empty() || search_flags->shape.empty() || search_flags->dtype.empty())
          return invalid_input("memory search needs --op, --shape and --dtype, or --task TASKDIR");
        query.op_type = search_flags->op;
        query.dtype = search_flags->dtype;
        AK_ASSIGN_OR_RETURN(query.shape, parse_shape(search_flags->shape));
      }
      query.arch = search_flags->arch;
      query.k = search_flags->k;
      query.per_workload = search_flags->per_workload;
      query.failure_limit = search_flags->failures;
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, false));
      AK_ASSIGN_OR_RETURN(SearchResult result, store->search(query));
      if (flags->json)
        std::cout << to_json(result) << "\n";
      else
        print_search(query, result, store->path());
      return Status::ok();
    });
  });

  // show
  auto show_id = std::make_shared<std::string>();
  CLI::App* show = memory->add_subcommand("show", "A workload (W12), candidate (C7 or hash prefix) or evaluation (E3)");
  show->fallthrough();
  show->add_option("ID", *show_id, "W<id>, C<id>, E<id> or a candidate hash prefix")->required();
  add_memory_option(show, *flags);
  show->callback([flags, show_id, &exit_code] {
    run(exit_code, [&]() -> Status {
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, false));
      AK_ASSIGN_OR_RETURN(ItemRef ref, store->resolve(*show_id));
      if (ref.kind == ItemKind::kWorkload) {
        AK_ASSIGN_OR_RETURN(WorkloadDetail detail, store->workload_detail(ref.id));
        if (flags->json) {
          std::cout << to_json(detail) << "\n";
          return Status::ok();
        }
        const WorkloadInfo& w = detail.workload;
        std::cout << workload_line(w) << "\n";
        std::cout << "op " << w.op_type << ", dtypes " << (w.dtypes.empty() ? "" : w.dtypes[0]);
        for (size_t i = 1; i < w.dtypes.size(); ++i) std::cout << "," << w.dtypes[i];
        std::cout << ", attributes " << w.attributes_json << (w.layout.empty() ? "" : ", layout " + w.layout)
                  << "\nkey " << w.key << "\n";
        for (const auto& [model, node] : w.sources) std::cout << "from " << model << (node.empty() ? "" : " " + node) << "\n";
        std::cout << "best verified candidates:" << (detail.best.empty() ? " none" : "") << "\n";
        for (const auto& hit : detail.best) std::cout << "  " << hit_line(hit, w.id) << "\n";
        std::cout << "evaluations (" << detail.evaluation_count << ", newest first):\n";
        for (const auto& e : detail.evaluations) print_evaluation_line(e);
        print_notes(detail.notes);
      } else if (ref.kind == ItemKind::kCandidate) {
        AK_ASSIGN_OR_RETURN(CandidateDetail detail, store->candidate_detail(ref.id));
        if (flags->json) {
          std::cout << to_json(detail) << "\n";
          return Status::ok();
        }
        const CandidateInfo& c = detail.candidate;
        std::cout << format_item_ref({ItemKind::kCandidate, c.id}) << "  " << c.hash << "\n";
        std::cout << "language " << c.language << ", generator " << c.generator << ", parameters " << c.parameters_json
                  << "\n";
        if (!c.parent_hash.empty()) std::cout << "parent " << c.parent_hash << "\n";
        for (const auto& child : detail.children) std::cout << "child  " << child << "\n";
        std::cout << "evaluations (" << detail.evaluation_count << ", newest first; each verifies only its workload):\n";
        for (const auto& e : detail.evaluations) print_evaluation_line(e);
        print_notes(detail.notes);
        std::cout << "--- source ---\n" << c.source << (c.source.empty() || c.source.back() == '\n' ? "" : "\n");
      } else {
        AK_ASSIGN_OR_RETURN(EvaluationInfo evaluation, store->evaluation(ref.id));
        if (flags->json)
          std::cout << to_json(evaluation) << "\n";
        else
          print_evaluation(evaluation);
      }
      return Status::ok();
    });
  });

  // stats
  CLI::App* stats = memory->add_subcommand("stats", "Counts, statuses, op classes and file size");
  stats->fallthrough();
  add_memory_option(stats, *flags);
  stats->callback([flags, &exit_code] {
    run(exit_code, [&]() -> Status {
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, false));
      AK_ASSIGN_OR_RETURN(Stats s, store->stats());
      if (flags->json) {
        std::cout << to_json(s) << "\n";
        return Status::ok();
      }
      std::cout << "memory: " << s.path.string() << " (schema version " << s.schema_version << ", "
                << s.file_size_bytes / 1024 << " KiB + WAL " << s.wal_size_bytes / 1024 << " KiB)\n";
      std::cout << s.workloads << " workloads, " << s.candidates << " candidates, " << s.evaluations
                << " evaluations, " << s.notes << " notes\n";
      std::cout << "evaluations by status:\n";
      for (const auto& [status, count] : s.evaluations_by_status) std::cout << "  " << status << " " << count << "\n";
      std::cout << "workloads by op/dtype:\n";
      for (const auto& [op_class, count] : s.workloads_by_op) std::cout << "  " << op_class << " " << count << "\n";
      return Status::ok();
    });
  });

  // export
  auto export_path = std::make_shared<std::string>();
  CLI::App* export_command = memory->add_subcommand("export", "Write every record as JSONL (docs/memory.md)");
  export_command->fallthrough();
  export_command->add_option("FILE", *export_path, "Output .jsonl file, or - for stdout")->required();
  add_memory_option(export_command, *flags);
  export_command->callback([flags, export_path, &exit_code] {
    run(exit_code, [&]() -> Status {
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, false));
      if (*export_path == "-") return store->export_jsonl(std::cout);
      // Written beside the target and renamed, so a failed export leaves no half file.
      const std::string temporary = *export_path + ".tmp" + std::to_string(::getpid());
      {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) return invalid_input("cannot write " + *export_path);
        Status status = store->export_jsonl(out);
        if (!status.is_ok()) {
          std::remove(temporary.c_str());
          return status;
        }
      }
      if (std::rename(temporary.c_str(), export_path->c_str()) != 0) {
        std::remove(temporary.c_str());
        return failed("cannot rename the export to " + *export_path);
      }
      AK_ASSIGN_OR_RETURN(Stats s, store->stats());
      std::cerr << "exported " << s.workloads << " workloads, " << s.candidates << " candidates, " << s.evaluations
                << " evaluations, " << s.notes << " notes to " << *export_path << "\n";
      return Status::ok();
    });
  });

  // import
  auto import_path = std::make_shared<std::string>();
  CLI::App* import_command =
      memory->add_subcommand("import", "Add the records of a JSONL export (all or nothing; already present ones are skipped)");
  import_command->fallthrough();
  import_command->add_option("FILE", *import_path, "Input .jsonl file, or - for stdin")->required();
  add_memory_option(import_command, *flags);
  import_command->callback([flags, import_path, &exit_code] {
    run(exit_code, [&]() -> Status {
      std::ifstream file;
      std::istream* in = &std::cin;
      if (*import_path != "-") {
        file.open(*import_path, std::ios::binary);
        if (!file) return invalid_input("cannot read " + *import_path);
        in = &file;
      }
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, true));
      AK_ASSIGN_OR_RETURN(ImportReport report, store->import_jsonl(*in, *import_path == "-" ? "stdin" : *import_path));
      if (flags->json) {
        std::cout << to_json(report) << "\n";
      } else {
        std::cout << "imported " << report.lines << " lines into " << store->path().string() << ": "
                  << report.workloads_added << " new workloads, " << report.candidates_added << " new candidates, "
                  << report.evaluations_added << " new evaluations (" << report.evaluations_present
                  << " already present), " << report.notes_added << " new notes\n";
      }
      return Status::ok();
    });
  });

  // gc
  auto gc_options = std::make_shared<GcOptions>();
  CLI::App* gc = memory->add_subcommand("gc", "Remove unreferenced workloads and candidates, then compact the file");
  gc->fallthrough();
  gc->add_flag("--dry-run", gc_options->dry_run, "Count what would be removed; change nothing");
  auto no_vacuum = std::make_shared<bool>(false);
  gc->add_flag("--no-vacuum", *no_vacuum, "Skip rewriting the file");
  add_memory_option(gc, *flags);
  gc->callback([flags, gc_options, no_vacuum, &exit_code] {
    run(exit_code, [&]() -> Status {
      gc_options->vacuum = !*no_vacuum;
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, false));
      AK_ASSIGN_OR_RETURN(GcReport report, store->gc(*gc_options));
      if (flags->json) {
        std::cout << to_json(report) << "\n";
      } else {
        std::cout << (gc_options->dry_run ? "would remove " : "removed ") << report.workloads_removed
                  << " workloads and " << report.candidates_removed << " candidates; " << report.size_before_bytes / 1024
                  << " KiB -> " << report.size_after_bytes / 1024 << " KiB\n";
      }
      return Status::ok();
    });
  });

  // note
  struct NoteFlags {
    std::string id, text, author;
  };
  auto note_flags = std::make_shared<NoteFlags>();
  CLI::App* note = memory->add_subcommand("note", "Attach a free-form note to a workload or a candidate");
  note->fallthrough();
  note->add_option("ID", note_flags->id, "W<id>, C<id> or a candidate hash prefix")->required();
  note->add_option("TEXT", note_flags->text, "The note")->required();
  note->add_option("--author", note_flags->author, "Who writes it (default: $USER)");
  add_memory_option(note, *flags);
  note->callback([flags, note_flags, &exit_code] {
    run(exit_code, [&]() -> Status {
      AK_ASSIGN_OR_RETURN(auto store, open_memory(*flags, false));
      AK_ASSIGN_OR_RETURN(ItemRef ref, store->resolve(note_flags->id));
      std::string author = note_flags->author;
      if (author.empty()) {
        const char* user = std::getenv("USER");
        author = user != nullptr ? user : "";
      }
      AK_ASSIGN_OR_RETURN(int64_t id, store->add_note(ref, note_flags->text, author));
      std::cout << "note " << id << " added to " << format_item_ref(ref) << "\n";
      return Status::ok();
    });
  });
}

}  // namespace ak::cli
